"""What the rebuild's memory does with many small events (issue 16, rebuildmem28): a log of `--support` support
interventions (a deadline week's), `--lika` LIKA self-assessments of a realistic size (40 ratings, no comments) and
`--lika-max` at the event size limit (`max_event_bytes`: ratings with long comments), rebuilt by the `Rebuilder` as the
command drives it (`feed_records` fetch by fetch, decoder processes, `drain`, `finish`, `commit`) against a fresh
migrated database of an embedded PostgreSQL, in a process of its own per run: its peak RSS (VmHWM: the rebuild's
process only; the log is read from a file fetch by fetch, as from the broker, not held), the decoders' and the
seconds. No broker: the read is the file's.

Every run once per source tree (`--variant name=DIR`: DIR's `services/reporting/src` and `packages/kit/src` first on
the path; e.g. `git archive <commit>` unpacked into a temporary folder for "before"), on the same log.

    .venv/bin/python bench/rebuild_small.py --support 50000 200000 --lika 2000 --lika-max 200 \
        --variant before=/tmp/before --variant after=. --out bench/results/rebuildmem28.json
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import struct
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from uuid import uuid5

ROOT = Path(__file__).resolve().parents[1]
NS = uuid.UUID("6f1d2c1e-28a0-4e55-9d59-3f1a1a7c2828")
T0 = datetime(2026, 9, 1, 8, tzinfo=UTC)
ORGANISERS = [f"{2100 + n}" for n in range(20)]
#: records per fetch handed to `feed_records` (a broker fetch's size is about this)
FETCH = 5_000
_HEAD = struct.Struct(">HHI")


def make_log(path: Path, support: int, lika: int, lika_max: int, max_bytes: int) -> dict:
    """The log as records (topic, key, value) in a file: the LIKA events spread among the support events."""
    from styrkedja_contracts import message_key, new_event, topic_for_event_type
    from styrkedja_contracts.events.lika import LikaSelfAssessmentPublishedV1
    from styrkedja_contracts.events.support import SupportInterventionRecordedV1

    def support_event(n: int):  # noqa: ANN202
        organiser = ORGANISERS[n % len(ORGANISERS)]
        return new_event(SupportInterventionRecordedV1(
            intervention_id=uuid5(NS, f"i-{n}"), revision=1, organiser_id=organiser,
            school_unit_code=f"{10_000_000 + n % 2_000:08d}", group_id=f"{7 + n % 3}A", student_id=f"s-{n}",
            subject_code=("GRGRMAT01", "GRGRSVE01", "GRGRENG01")[n % 3], kind="extra_adjustment", status="decided",
            start_date=date(2026, 9, 1), decided_by_role="teacher", decided_on=date(2026, 9, 1), recorded_at=T0 + timedelta(seconds=n)), source="/bench")

    def lika_event(n: int, comment: int, ratings: int):  # noqa: ANN202
        return new_event(LikaSelfAssessmentPublishedV1(
            self_assessment_id=uuid5(NS, f"sa-{n}"), organiser_id=ORGANISERS[n % len(ORGANISERS)],
            school_unit_code=f"{20_000_000 + n:08d}", school_form="grundskola", respondent_role="rektor",
            catalogue_version="2026.1",
            ratings=tuple({"indicator_id": f"L{i}", "area": "ledning", "rating": "ACHIEVED",
                           **({"comment": "x" * comment} if comment else {})} for i in range(ratings)),
            published_at=T0), source="/bench")

    biggest = lika_event(0, 2000, 1).to_bytes()
    per_rating = len(lika_event(0, 2000, 2).to_bytes()) - len(biggest)
    max_ratings = max(1, (max_bytes - len(biggest)) // per_rating)  # the most that stays within the limit
    total = support + lika + lika_max
    sizes = {"support": 0, "lika": 0, "lika_max": 0}
    every = max(1, total // max(1, lika + lika_max))
    made = {"support": 0, "lika": 0, "lika_max": 0}
    with path.open("wb") as out:
        for n in range(total):
            want_lika = n % every == every - 1 and made["lika"] + made["lika_max"] < lika + lika_max
            if want_lika and made["lika_max"] < lika_max and (made["lika"] >= lika or n % 2):
                kind, event = "lika_max", lika_event(100_000 + made["lika_max"], 2000, max_ratings)
            elif want_lika and made["lika"] < lika:
                kind, event = "lika", lika_event(made["lika"], 0, 40)
            elif made["support"] < support:
                kind, event = "support", support_event(made["support"])
            elif made["lika"] < lika:
                kind, event = "lika", lika_event(made["lika"], 0, 40)
            else:
                kind, event = "lika_max", lika_event(100_000 + made["lika_max"], 2000, max_ratings)
            made[kind] += 1
            value, key, topic = event.to_bytes(), message_key(event), topic_for_event_type(event.type).name.encode()
            assert len(value) <= max_bytes, (kind, len(value))
            sizes[kind] = max(sizes[kind], len(value))
            out.write(_HEAD.pack(len(topic), len(key), len(value)) + topic + key + value)
    return {"events": total, **{f"{k}_events": v for k, v in made.items()},
            **{f"{k}_bytes_max": v for k, v in sizes.items()}, "log_bytes": path.stat().st_size}


def read_fetches(path: Path):  # noqa: ANN201
    """The file's records fetch by fetch (`ConsumerRecord`s, offsets per topic): at most a fetch in memory."""
    from aiokafka import ConsumerRecord

    offsets: dict[str, int] = {}
    fetch: list = []
    with path.open("rb") as log:
        while head := log.read(_HEAD.size):
            t, k, v = _HEAD.unpack(head)
            topic, key, value = log.read(t).decode(), log.read(k), log.read(v)
            offset = offsets.get(topic, 0)
            offsets[topic] = offset + 1
            fetch.append(ConsumerRecord(topic, 0, offset, 0, 0, key, value, None, len(key), len(value), []))
            if len(fetch) >= FETCH:
                yield fetch
                fetch = []
    if fetch:
        yield fetch


def run_child(url: str, path: Path, decoders: int, max_bytes: int) -> dict:
    """In this (fresh) process: the rebuild of the file's log, as `rebuild.command._run` drives it."""
    import multiprocessing
    import resource
    from concurrent.futures import ProcessPoolExecutor

    from styrkedja_kit.db import Database
    from styrkedja_reporting.main import handler_registry
    from styrkedja_reporting.rebuild.bulk import Rebuilder, peak_rss_mb
    from styrkedja_reporting.rebuild.command import _quiet_collector

    _quiet_collector()
    pool = ProcessPoolExecutor(decoders, mp_context=multiprocessing.get_context("fork")) if decoders else None

    async def rebuild() -> dict:
        db = Database(url)
        rebuilder = Rebuilder(db, group_id="bench-rebuild-small", handles=handler_registry(live_alerts=False).handles)
        started = time.perf_counter()
        next_offsets: dict = {}
        try:
            await rebuilder.begin()
            rebuilder.begin_decoders(pool, max_bytes, window=max(4, 2 * decoders))
            for fetch in read_fetches(path):
                for record in fetch:
                    next_offsets[(record.topic, 0)] = record.offset + 1
                await rebuilder.feed_records(fetch)
            await rebuilder.drain()
            read = time.perf_counter() - started
            rss_read = peak_rss_mb()
            report = await rebuilder.finish(next_offsets)
            await rebuilder.commit()
        finally:
            await rebuilder.close()
            await db.dispose()
        return {"seconds": round(time.perf_counter() - started, 2), "read_seconds": round(read, 2),
                "peak_rss_mb": peak_rss_mb(), "peak_rss_mb_after_read": rss_read, "applied": report.applied,
                "failed": len(report.failed), "dead": len(rebuilder.dead),
                "stages": {k: report.stages[k] for k in ("staging", "claim", "directory", "support", "lika",
                                                         "handlers", "compliance", "swap") if k in report.stages},
                "stage_peak_rss_mb": report.peak_rss_mb, "small_held": report.counts.get("small_held")}

    try:
        out = asyncio.run(rebuild())
    finally:
        if pool is not None:
            pool.shutdown()
    out["decoders_max_rss_mb"] = round(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024, 1)
    return out


def child(url: str, path: Path, folder: str, decoders: int, max_bytes: int) -> dict:
    env = dict(os.environ)
    if folder:
        env["PYTHONPATH"] = os.pathsep.join([str(Path(folder) / "services" / "reporting" / "src"),
                                             str(Path(folder) / "packages" / "kit" / "src"), env.get("PYTHONPATH", "")])
    done = subprocess.run([sys.executable, __file__, "--child", url, "--log", str(path), "--decoders", str(decoders),
                           "--max-bytes", str(max_bytes)], env=env, check=True, capture_output=True, text=True)
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--support", type=int, nargs="+", default=[50_000])
    parser.add_argument("--lika", type=int, default=2_000, help="LIKA self-assessments of a realistic size")
    parser.add_argument("--lika-max", type=int, default=200, help="LIKA self-assessments at the event size limit")
    parser.add_argument("--max-bytes", type=int, default=256_000, help="max_event_bytes (the settings' default)")
    parser.add_argument("--decoders", type=int, default=2)
    parser.add_argument("--variant", action="append", default=[], help="name=DIR: a source tree to measure")
    parser.add_argument("--rounds", type=int, default=1)
    parser.add_argument("--out", type=Path, default=None)
    parser.add_argument("--child", help=argparse.SUPPRESS)
    parser.add_argument("--log", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(run_child(args.child, args.log, args.decoders, args.max_bytes)))
        return 0
    from styrkedja_devstack.postgres import EmbeddedPostgres, ensure_database
    from styrkedja_kit.migrations import upgrade

    variants = dict(v.split("=", 1) for v in args.variant) or {"this": ""}
    state = Path(tempfile.mkdtemp(prefix="rebuild-small-"))
    pg = EmbeddedPostgres(state / "pgdata").start()
    report: dict = {"what": __doc__.splitlines()[0], "command": " ".join(sys.argv), "variants": variants,
                    "at": datetime.now(UTC).isoformat(timespec="seconds"), "cpus": os.cpu_count(), "sizes": []}
    try:
        for support in args.support:
            path = state / f"log-{support}.bin"
            made = time.perf_counter()
            size = make_log(path, support, args.lika, args.lika_max, args.max_bytes)
            size["make_seconds"] = round(time.perf_counter() - made, 1)
            print(json.dumps(size), flush=True)
            runs: dict = {v: [] for v in variants}
            for _ in range(args.rounds):
                for variant, folder in variants.items():
                    name = f"small_{uuid.uuid4().hex[:8]}"
                    ensure_database(pg.server_url(), name)
                    url = f"postgresql+asyncpg://{pg.server_url().removeprefix('postgresql://')}/{name}"
                    upgrade("styrkedja_reporting", url)
                    load = os.getloadavg()
                    result = child(url, path, folder, args.decoders, args.max_bytes)
                    result["load_average_before"] = [round(x, 2) for x in load]
                    result["load_average_after"] = [round(x, 2) for x in os.getloadavg()]
                    runs[variant].append(result)
                    print(variant, json.dumps(result), flush=True)
            size["runs"] = runs
            report["sizes"].append(size)
            path.unlink()
    finally:
        pg.stop()
    if args.out:
        args.out.write_text(json.dumps(report, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

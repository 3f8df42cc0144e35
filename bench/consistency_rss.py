"""What reporting's consistency check (`ops.queries.consistency_of`, GET /v1/admin/consistency) costs in RSS:
a reporting database filled with `bench/speed.py`'s data (`deadline_week.TermData`, `--organisers` organisers,
64 results per student) through the consumer's transaction (`ConsumerLoop._apply`, no broker), then the check
run in a fresh process per measurement, in one snapshot as the route does. Per measurement: the process's RSS
before the check (imports done, a connection open), its peak (VmHWM, reset as it starts) during the check, the RSS after it
(before and after a `malloc_trim(0)`: what glibc kept), the seconds, and the answer.

Each comparison of the check is measured alone too (`--parts`), and every measurement runs once per source tree
(`--variant name=DIR`: DIR's `services/reporting/src` and `packages/kit/src` first on the path; e.g. `git archive
main` unpacked into a temporary folder for "before"), interleaved round by round on the same databases.

    .venv/bin/python bench/consistency_rss.py --students 500 2000 [--variant before=/tmp/x] [--rounds 2] \
        [--out bench/results/mem26.json]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

#: the comparisons of `consistency_of`, each measurable alone ("all": the whole check, as the route)
PARTS = ("all", "results", "compliance", "figures", "rosters", "support")


async def _part(session, part: str):  # noqa: ANN001, ANN202
    from styrkedja_reporting.compliance.handlers import mismatches as compliance
    from styrkedja_reporting.directory.rosters import mismatches as rosters
    from styrkedja_reporting.figures import tables as figures
    from styrkedja_reporting.ops.queries import consistency_of
    from styrkedja_reporting.results.tables import ASSESSMENTS, FORECASTS
    from styrkedja_reporting.support.handlers import mismatches as support

    if part == "all":
        return (await consistency_of(session)).model_dump()
    if part == "results":
        return [await ASSESSMENTS.mismatches(session), await FORECASTS.mismatches(session)]
    return await {"compliance": compliance, "figures": figures.mismatches, "rosters": rosters,
                  "support": support}[part](session)


def rss_mb() -> float:
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


def peak_mb(reset: bool = False) -> float:
    """The process's peak RSS (VmHWM); `reset`: from now (`ru_maxrss` would include the parent's, kept over exec)."""
    if reset:
        Path("/proc/self/clear_refs").write_text("5")
    status = Path("/proc/self/status").read_text()
    return int(status.split("VmHWM:")[1].split()[0]) / 1024


async def check(url: str, part: str, traced: bool = False) -> dict:
    """In this (fresh) process: the check's RSS before, peak, after, after a trim. `traced`: with tracemalloc
    (RSS then includes its overhead), the Python memory still allocated after the check and where it grew most."""
    import ctypes
    import gc

    from sqlalchemy import text

    import styrkedja_reporting.figures.recompute  # noqa: F401  (imported by the check as it runs)
    import styrkedja_reporting.main  # noqa: F401  (every module a worker has loaded)
    import styrkedja_reporting.ops.queries  # noqa: F401
    from styrkedja_kit.db import Database

    db = Database(url)
    async with db.sessions() as session:  # the connection and its statement cache as a worker has them
        await session.execute(text("SELECT 1"))
    gc.collect()
    if traced:
        import tracemalloc

        tracemalloc.start(8)
        first = tracemalloc.take_snapshot()
    before = rss_mb()
    peak_mb(reset=True)
    started = time.perf_counter()
    async with db.snapshot() as session:
        answer = await _part(session, part)
    seconds = time.perf_counter() - started
    peak = peak_mb()
    after = rss_mb()
    gc.collect()
    ctypes.CDLL(None).malloc_trim(0)
    trimmed = rss_mb()
    found: dict = {}
    if traced:
        current, peak_traced = tracemalloc.get_traced_memory()
        grew = tracemalloc.take_snapshot().compare_to(first, "traceback")[:8]
        found = {"traced_mb_after": round(current / 2**20, 1), "traced_mb_peak": round(peak_traced / 2**20, 1),
                 "grew_most": [{"kb": round(g.size_diff / 1024), "count": g.count_diff,
                                "at": [str(f) for f in g.traceback[-4:]]} for g in grew]}
    await db.dispose()
    return {**found, "rss_mb_before": round(before, 1), "rss_mb_peak": round(peak, 1),
            "peak_above_before_mb": round(peak - before, 1), "rss_mb_after": round(after, 1),
            "rss_mb_after_trim": round(trimmed, 1), "seconds": round(seconds, 2), "answer": answer}


async def fill(url: str, students: int, organisers: int) -> dict:
    """The directory and every result applied through the consumer's transaction, batches of 5,000."""
    sys.path.insert(0, str(ROOT / "bench"))
    from apply import delivered
    from figures_read import TOPICS
    from rss25 import term_events

    from styrkedja_kit.consumer import ConsumerLoop
    from styrkedja_kit.db import Database
    from styrkedja_kit.settings import ServiceSettings
    from styrkedja_reporting.main import handler_registry
    from styrkedja_reporting.persistence import metadata

    directory, events = term_events(students, organisers)
    db = Database(url)
    async with db.engine.begin() as conn:
        await conn.run_sync(metadata.create_all)
    registry = handler_registry()
    loop = ConsumerLoop(ServiceSettings(database_url=url, kafka_bootstrap_servers="127.0.0.1:9",
                                        client_id="consistency-rss"),
                        db, group_id=f"rss-{uuid.uuid4().hex[:6]}", topics=sorted(set(TOPICS.values())),
                        handler=registry, applied_table=metadata.tables["consumer_applied_events"],
                        offsets_table=metadata.tables["consumer_offsets"], handles=registry.handles)
    started = time.perf_counter()
    for start in range(0, len(directory), 1000):
        await loop._apply(delivered(directory[start:start + 1000], 10_000_000 + start), {})
    for start in range(0, len(events), 5000):
        await loop._apply(delivered(events[start:start + 5000], 20_000_000 + start), {})
    async with db.engine.connect() as conn:
        await conn.exec_driver_sql("ANALYZE")
    await db.dispose()
    return {"students": students, "organisers": organisers, "results": len(events),
            "fill_seconds": round(time.perf_counter() - started, 1)}


def child(url: str, part: str, variant_dir: str | None, traced: bool = False) -> dict:
    env = dict(os.environ)
    if variant_dir:
        env["PYTHONPATH"] = os.pathsep.join(
            [str(Path(variant_dir) / "services" / "reporting" / "src"), str(Path(variant_dir) / "packages" / "kit" / "src"),
             env.get("PYTHONPATH", "")])
    out = subprocess.run([sys.executable, __file__, "--check", url, "--part", part, *(["--traced"] if traced else [])],
                         env=env, check=True,
                         capture_output=True, text=True).stdout
    return json.loads(out.strip().splitlines()[-1])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--students", type=int, nargs="+", default=[500, 2000])
    parser.add_argument("--organisers", type=int, default=12)
    parser.add_argument("--variant", action="append", default=[],
                        help="name=DIR: a source tree to measure (default: this checkout only, as 'this')")
    parser.add_argument("--parts", nargs="+", default=list(PARTS), choices=PARTS)
    parser.add_argument("--rounds", type=int, default=1)
    parser.add_argument("--out", type=Path, default=None)
    parser.add_argument("--traced", action="store_true", help="tracemalloc in the check's process (RSS inflated)")
    parser.add_argument("--check", help=argparse.SUPPRESS)
    parser.add_argument("--part", default="all", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.check:
        print(json.dumps(asyncio.run(check(args.check, args.part, args.traced)), default=str))
        return 0
    from styrkedja_devstack.postgres import EmbeddedPostgres, ensure_database

    variants = dict(v.split("=", 1) for v in args.variant) or {"this": ""}
    state = Path(tempfile.mkdtemp(prefix="consistency-rss-"))
    pg = EmbeddedPostgres(state / "pgdata").start()
    report: dict = {"what": __doc__.splitlines()[0], "command": " ".join(sys.argv), "variants": variants,
                    "at": datetime.now(UTC).isoformat(timespec="seconds"), "sizes": []}
    try:
        for students in args.students:
            name = f"rss_{students}"
            ensure_database(pg.server_url(), name)
            url = f"postgresql+asyncpg://{pg.server_url().removeprefix('postgresql://')}/{name}"
            size = asyncio.run(fill(url, students, args.organisers))
            print(json.dumps(size), flush=True)
            runs: dict = {v: {p: [] for p in args.parts} for v in variants}
            for _ in range(args.rounds):
                for part in args.parts:
                    for variant, folder in variants.items():
                        result = child(url, part, folder, args.traced)
                        runs[variant][part].append(result)
                        print(variant, part, {k: v for k, v in result.items() if k != "answer"}, flush=True)
            answers = {v: [r["answer"] for p in args.parts for r in runs[v][p]] for v in variants}
            size["same_answer_every_variant"] = len({json.dumps(a, sort_keys=True) for a in answers.values()}) == 1
            size["answer_all"] = next(iter(runs.values()))["all"][0]["answer"] if "all" in args.parts else None
            for variant in runs.values():
                for results in variant.values():
                    for r in results:
                        r.pop("answer")
            size["runs"] = runs
            report["sizes"].append(size)
    finally:
        pg.stop()
        shutil.rmtree(state, ignore_errors=True)
    print(json.dumps(report, indent=1))
    if args.out:
        args.out.write_text(json.dumps(report, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())

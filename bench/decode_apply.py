"""The Python side of reporting's live apply per event (issue 16, decode18): the kit consumer's batch as a reporting
worker runs it once the client has handed the records out — `_decode_into` (decode, judge, `Delivered`) and
`_apply_decoded` (the claim, every handler of reporting's registry, the offsets, the metrics) — over raw records of the
national shape, in a fresh process per run, into a fresh database of one embedded PostgreSQL (no broker: the fetch,
aiokafka's own record parsing, is not in it; nor is anything the rebuild does).

The records: `--organisers` municipalities (`apply_workers.organiser_ids`, balanced: two per partition at 12) of
`--students` students each (`deadline_week`'s classes, 16 subjects × 4 rounds, year 9's forecasts and term grades),
their class lists interleaved (`apply_workers.interleaved`), each event as its outbox sends it (`CloudEvent.to_bytes`,
its organiser key, on its topic's partition by the producers' partitioner, the record's timestamp 2 s after the event's
time); `--share i/n`: the partitions worker i of n consuming workers holds (default 0/2: one of the two consumers the
system runs). The directory is applied first, then `--warm` batches, both untimed; then every batch of `--batch` records
(grouped per partition as a fetch hands them out) is timed: process CPU of `_decode_into` (with the collector paused, as
the loop decodes a batch beside the transaction of the one before) and of `_apply_decoded` apart,
the collector's CPU (`gc.callbacks`), and the PostgreSQL server's CPU (every server process; `apply.postgres_cpu_seconds`).

`--decode-only`: no database, the decode alone (the collector paused, as beside a transaction), the best of `--passes`
passes over all the records per run: the cleaner figure for a change of the decode on a shared machine.

`--before TREE` alternates this checkout ("after") with the code in TREE ("before": a tree holding
`packages/contracts/src`, `packages/kit/src` and `services/reporting/src`, e.g. `git archive main packages services |
tar -x -C TREE`), by `PYTHONPATH`, each run in its own process; pairs alternate their order. The last run of each side
checks every cell against the recomputation (exit status 1 if any differ). `--cprofile FILE`: one run of this checkout
with cProfile (process CPU as its clock) over the timed batches (pstats file, and the top functions printed); a FILE
ending in `.txt` takes pyinstrument's sampled call tree instead (less distortion of many small calls).

    .venv/bin/python bench/decode_apply.py [--before /tmp/before-tree] [--pairs 3] [--organisers 12] [--students 100] \\
        [--share 0/2] [--batch 5000] [--out bench/results/decode18.json]
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import os
import pickle
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "bench"))
SOURCES = ("packages/contracts/src", "packages/kit/src", "services/reporting/src")

# (topic, partition, offset, timestamp ms, key, value)
Raw = tuple[str, int, int, int, bytes, bytes]


def corpus(organisers: int, students: int, seed: int, share: tuple[int, int]) -> dict[str, Any]:
    """The directory's values and the share's result records (`Raw`), in the order the topics hold them."""
    from apply_workers import TOPIC_OF, interleaved, organiser_data, organiser_ids, partition_of

    ids = organiser_ids(organisers, True)
    index, of = share
    directory: list[bytes] = []
    per_organiser = []
    for n, organiser in enumerate(ids):
        own_directory, events = organiser_data(organiser, n, students, seed)
        directory += [e.to_bytes() for e in own_directory]
        if partition_of(organiser) % of == index:
            per_organiser.append(events)
    offsets: dict[tuple[str, int], int] = {}
    records: list[Raw] = []
    for e in interleaved(per_organiser):
        topic = TOPIC_OF[e.type.split(".")[2]]
        p = partition_of(e.data.organiser_id)
        offset = offsets.get((topic, p), 0)
        offsets[(topic, p)] = offset + 1
        records.append((topic, p, offset, int(e.time.timestamp() * 1000) + 2_000, e.partition_key(), e.to_bytes()))
    return {"organisers": ids, "directory": directory, "records": records}


class _Producer:
    """The dead-letter producer's stand-in: counts what would be sent (none in this data)."""

    def __init__(self) -> None:
        self.sent = 0

    async def send(self, topic: str, **_: Any) -> asyncio.Future[None]:
        self.sent += 1
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        future.set_result(None)
        return future


def _fetches(records: list[Raw], batch: int) -> list[dict[Any, list[Any]]]:
    """The records as the client hands them out: per batch, per partition in offset order."""
    from aiokafka import ConsumerRecord, TopicPartition

    out = []
    for start in range(0, len(records), batch):
        fetch: dict[Any, list[Any]] = {}
        for topic, p, offset, timestamp, key, value in records[start:start + batch]:
            fetch.setdefault(TopicPartition(topic, p), []).append(ConsumerRecord(
                topic, p, offset, timestamp, 0, key, value, None, len(key), len(value), ()))
        out.append(fetch)
    return out


async def _decode_child(args: argparse.Namespace) -> dict[str, Any]:
    """`--decode-only`: the consumer's decode of every batch (`_decode_into`, `_decoded`; the collector paused, as
    beside a transaction), `--passes` times over the same records; the best pass's process CPU per event (the
    passes a neighbour's burst slowed are left out)."""
    import styrkedja_contracts
    import styrkedja_kit
    from styrkedja_kit import consumer as kit_consumer
    from styrkedja_kit.consumer import ConsumerLoop
    from styrkedja_kit.settings import ServiceSettings
    from styrkedja_reporting.main import handler_registry
    from styrkedja_reporting.persistence import metadata

    data = pickle.loads(Path(args.data).read_bytes())  # noqa: ASYNC240 - before anything runs beside it
    registry = handler_registry()
    loop = ConsumerLoop(ServiceSettings(database_url="postgresql+asyncpg://127.0.0.1:9/none",
                                        kafka_bootstrap_servers="127.0.0.1:9", client_id="decode-only"),
                        None, group_id="decode-only", topics=sorted({r[0] for r in data["records"]}),  # type: ignore[arg-type]
                        handler=registry, applied_table=metadata.tables["consumer_applied_events"],
                        offsets_table=metadata.tables["consumer_offsets"], handles=registry.handles)
    fetched = _fetches(data["records"], args.batch)
    passes = []
    events = 0
    for _ in range(args.passes + 1):  # the first untimed (imports, caches)
        kept = []
        cpu = time.process_time()
        for batch in fetched:
            decoded = kit_consumer._Decoded(loop._rebalances)
            with kit_consumer.collector_paused():
                await loop._decode_into(decoded, batch, kit_consumer.DECODE_SLICE)
                kept.append(loop._decoded(decoded))
        passes.append(time.process_time() - cpu)
        events = sum(d.records_count for d in kept)
        del kept
        gc.collect()
    best = min(passes[1:])
    return {"events": events, "passes": len(passes) - 1, "decode_us_per_event": round(best * 1e6 / events, 2),
            "decode_us_per_event_median_pass": round(statistics.median(passes[1:]) * 1e6 / events, 2),
            "sources": [str(Path(m.__file__).parent) for m in (styrkedja_contracts, styrkedja_kit)]}


async def _child(args: argparse.Namespace) -> dict[str, Any]:
    from apply import postgres_cpu_seconds, recomputation
    from sqlalchemy import text

    import styrkedja_contracts
    import styrkedja_kit
    import styrkedja_reporting
    from styrkedja_contracts import decode_event
    from styrkedja_kit import consumer as kit_consumer
    from styrkedja_kit.consumer import ConsumerLoop, Delivered
    from styrkedja_kit.db import Database
    from styrkedja_kit.settings import ServiceSettings
    from styrkedja_reporting.main import handler_registry
    from styrkedja_reporting.persistence import metadata

    data = pickle.loads(Path(args.data).read_bytes())  # noqa: ASYNC240 - before anything runs beside it
    url = args.url
    db = Database(url)
    async with db.engine.begin() as conn:
        await conn.run_sync(metadata.create_all)
    registry = handler_registry()
    by_handler: dict[str, list[float]] = {}
    if args.by_handler:  # each handler's Python CPU, its backend's CPU and its statements (`profile_apply`'s)
        import profile_apply

        profile_apply.per_handler(registry, by_handler)
    topics = sorted({r[0] for r in data["records"]})
    loop = ConsumerLoop(ServiceSettings(database_url=url, kafka_bootstrap_servers="127.0.0.1:9", client_id="decode-apply"),
                        db, group_id=f"decode-apply-{uuid.uuid4().hex[:6]}", topics=topics, handler=registry,
                        applied_table=metadata.tables["consumer_applied_events"],
                        offsets_table=metadata.tables["consumer_offsets"], handles=registry.handles)
    directory = [decode_event(value) for value in data["directory"]]
    for start in range(0, len(directory), 2000):
        await loop._apply([Delivered(e, "setup", 0, 10_000_000 + start + n)
                           for n, e in enumerate(directory[start:start + 2000])], {})

    fetched = _fetches(data["records"], args.batch)
    producer = _Producer()
    gc_time = [0.0, 0.0]

    def gc_timed(phase: str, info: dict[str, Any]) -> None:
        if phase == "start":
            gc_time[1] = time.process_time()
        else:
            gc_time[0] += time.process_time() - gc_time[1]

    decode_cpu = apply_cpu = 0.0
    events = 0
    profile = None
    async with loop.holding_connection():
        for n, batch in enumerate(fetched):
            timed = n >= args.warm
            if timed and n == args.warm:
                gc.callbacks.append(gc_timed)
                if args.by_handler:
                    profile_apply._TIMED.append(True)
                pg, started = postgres_cpu_seconds(Path(args.pgdata)), time.perf_counter()
                if args.cprofile and args.cprofile.suffix == ".txt":  # pyinstrument's tree (sampled: less distortion)
                    from pyinstrument import Profiler

                    profile = Profiler(interval=0.0005, async_mode="disabled")
                    profile.start()
                elif args.cprofile:
                    import cProfile

                    profile = cProfile.Profile(time.process_time)  # CPU, not the wall clock of a shared machine
                    profile.enable()
            at = time.process_time()
            decoded = kit_consumer._Decoded(loop._rebalances)
            # as the loop decodes a batch while the one before is in its transaction: the collector paused
            with kit_consumer.collector_paused():
                await loop._decode_into(decoded, batch, kit_consumer.DECODE_SLICE)
                decoded = loop._decoded(decoded)
            middle = time.process_time()
            await loop._apply_decoded(decoded, producer)
            end = time.process_time()
            if timed:
                decode_cpu += middle - at
                apply_cpu += end - middle
                events += decoded.records_count
    if profile is not None and args.cprofile.suffix == ".txt":
        profile.stop()
        args.cprofile.write_text(profile.output_text(unicode=True, show_all=False))
    elif profile is not None:
        profile.disable()
        profile.dump_stats(args.cprofile)
    seconds = time.perf_counter() - started
    pg = postgres_cpu_seconds(Path(args.pgdata)) - pg
    gc.callbacks.remove(gc_timed)
    out = {"events": events, "batches": len(fetched) - args.warm, "seconds": round(seconds, 2),
           "python_us_per_event": round((decode_cpu + apply_cpu) * 1e6 / events, 1),
           "decode_us_per_event": round(decode_cpu * 1e6 / events, 1),
           "apply_us_per_event": round(apply_cpu * 1e6 / events, 1),
           "gc_us_per_event": round(gc_time[0] * 1e6 / events, 1),
           "postgres_us_per_event": round(pg * 1e6 / events, 1),
           "dead_lettered": producer.sent, "applied": loop.applied_count,
           "sources": [str(Path(m.__file__).parent) for m in (styrkedja_contracts, styrkedja_kit, styrkedja_reporting)]}
    if by_handler:
        out["by_handler_us_per_event"] = {name: {"python": round(py * 1e6 / events, 1), "postgres": round(pg * 1e6 / events, 1),
                                                 "statements_per_batch": round(n / out["batches"], 1)}
                                          for name, (py, pg, n) in by_handler.items()}
    async with db.engine.connect() as conn:  # how many alerts the batches wrote (each pays the alerts' indexes)
        out["alerts"] = (await conn.execute(text("SELECT count(*) FROM alerts"))).scalar_one()
    if args.verify:
        out["recomputation_mismatches"] = await recomputation(db, "styrkedja_reporting")
    await db.dispose()
    return out


def run_child(side: str, tree: Path | None, data: Path, pg: Any, args: argparse.Namespace, verify: bool,
              cprofile: Path | None = None) -> dict[str, Any]:
    from styrkedja_devstack.postgres import ensure_database

    url = "none"
    if not args.decode_only:
        name = f"decode_apply_{uuid.uuid4().hex[:8]}"
        ensure_database(pg.server_url(), name)
        url = f"postgresql+asyncpg://{pg.server_url().removeprefix('postgresql://')}/{name}"
    env = dict(os.environ)
    if tree is not None:
        env["PYTHONPATH"] = os.pathsep.join([str(tree / s) for s in SOURCES] + [env.get("PYTHONPATH", "")])
    command = [sys.executable, str(Path(__file__).resolve()), "--child", "--data", str(data), "--url", url,
               "--pgdata", str(pg.data_dir), "--batch", str(args.batch), "--warm", str(args.warm)]
    if args.by_handler:
        command.append("--by-handler")
    if args.decode_only:
        command += ["--decode-only", "--passes", str(args.passes)]
    if verify:
        command.append("--verify")
    if cprofile is not None:
        command += ["--cprofile", str(cprofile)]
    load = os.getloadavg()[0]
    done = subprocess.run(command, env=env, check=True, capture_output=True, text=True)
    out: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    out |= {"side": side, "load_1min": [round(load, 2), round(os.getloadavg()[0], 2)]}
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--data", default=None, help=argparse.SUPPRESS)
    parser.add_argument("--url", default=None, help=argparse.SUPPRESS)
    parser.add_argument("--pgdata", default=None, help=argparse.SUPPRESS)
    parser.add_argument("--verify", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--cprofile", type=Path, default=None, metavar="FILE")
    parser.add_argument("--by-handler", action="store_true",
                        help="each registered handler's Python and backend CPU per event (in the runs' JSON)")
    parser.add_argument("--before", type=Path, default=None, metavar="TREE")
    parser.add_argument("--decode-only", action="store_true",
                        help="no database: the consumer's decode alone, best of --passes per run")
    parser.add_argument("--passes", type=int, default=5)
    parser.add_argument("--pairs", type=int, default=3)
    parser.add_argument("--organisers", type=int, default=12)
    parser.add_argument("--students", type=int, default=100, help="per organiser")
    parser.add_argument("--share", default="0/2", help="i/n: the partitions worker i of n consuming workers holds")
    parser.add_argument("--batch", type=int, default=5_000)
    parser.add_argument("--warm", type=int, default=1, help="batches applied untimed after the directory")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--out", type=Path, default=None)
    parser.add_argument("--note", default=None)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(asyncio.run(_decode_child(args) if args.decode_only else _child(args))))
        return 0

    from styrkedja_devstack.postgres import EmbeddedPostgres

    index, of = (int(n) for n in args.share.split("/"))
    state = Path(tempfile.mkdtemp(prefix="styrkedja-decode-apply-"))
    state.chmod(0o755)
    data = state / "corpus.pickle"
    made = corpus(args.organisers, args.students, args.seed, (index, of))
    data.write_bytes(pickle.dumps(made))
    pg = EmbeddedPostgres(state / "pgdata")
    if not args.decode_only:
        pg.start()
    results: dict[str, Any] = {
        "when": datetime.now(UTC).isoformat(timespec="seconds"), "cpus": os.cpu_count(),
        "organisers": args.organisers, "students_per_organiser": args.students, "share": args.share,
        "records": len(made["records"]), "batch": args.batch, "warm_batches": args.warm,
        "before": str(args.before) if args.before else None, "note": args.note, "runs": []}
    try:
        if args.cprofile is not None:
            run = run_child("after", None, data, pg, args, verify=False, cprofile=args.cprofile)
            print(json.dumps(run), flush=True)
            if args.cprofile.suffix == ".txt":
                print(args.cprofile.read_text())
            else:
                import pstats

                pstats.Stats(str(args.cprofile)).sort_stats("tottime").print_stats(45)
            return 0
        sides: list[tuple[str, Path | None]] = [("after", None)]
        if args.before is not None:
            sides.insert(0, ("before", args.before))
        for n in range(args.pairs):
            order = sides if n % 2 == 0 else sides[::-1]
            for side, tree in order:
                run = run_child(side, tree, data, pg, args, verify=n == args.pairs - 1 and not args.decode_only)
                run["pair"] = n + 1
                results["runs"].append(run)
                print(json.dumps(run), flush=True)
    finally:
        if not args.decode_only:
            pg.stop()
        shutil.rmtree(state, ignore_errors=True)
    keys: tuple[str, ...] = ("python_us_per_event", "decode_us_per_event", "apply_us_per_event", "gc_us_per_event",
                             "postgres_us_per_event")
    if args.decode_only:
        keys = ("decode_us_per_event", "decode_us_per_event_median_pass")
    results["median"] = {side: {k: statistics.median(r[k] for r in results["runs"] if r["side"] == side) for k in keys}
                         for side, _ in sides}
    if args.before is not None:
        pairs = [(next(r for r in results["runs"] if r["pair"] == n + 1 and r["side"] == "before"),
                  next(r for r in results["runs"] if r["pair"] == n + 1 and r["side"] == "after"))
                 for n in range(args.pairs)]
        results["after_over_before_pairs"] = {k: [round(a[k] / b[k], 3) for b, a in pairs] for k in keys}
        results["after_over_before_median"] = {k: statistics.median(v)
                                               for k, v in results["after_over_before_pairs"].items()}
    mismatches = [r for r in results["runs"] if r.get("recomputation_mismatches")
                  and any(r["recomputation_mismatches"].values())]
    results["cells_equal_recomputation"] = not mismatches
    print(json.dumps({k: results[k] for k in ("median", "cells_equal_recomputation")}
                     | {"ratios": results.get("after_over_before_median")}, indent=2))
    if args.out is not None:
        args.out.write_text(json.dumps(results, indent=2) + "\n")
    return 0 if not mismatches else 1


if __name__ == "__main__":
    sys.exit(main())

"""Reporting apply through the whole consumer, the kit's `ConsumerLoop` of a git ref ("before") against
this checkout's ("after"), alternated in one run on one broker and one PostgreSQL: a wall-clock figure
(the consumer's overlap of fetching/decoding with the transaction cannot show in CPU per event).

The events (`bench/apply.py`'s school data: assessments, revisions, retractions, forecasts,
withdrawals of two organisers) are produced to the topics once, untimed. Each run is a fresh database
with the directory applied (untimed) and a new consumer group that catches up from the start of the
topics: timed from its partitions' assignment to the last event applied, with the CPU seconds of this
process and of the PostgreSQL server and the load average. "before" loads the ref's
`styrkedja_kit/consumer.py` as a module of this checkout's kit (the rest of the kit and reporting are
this checkout's, so only the consumer loop differs). The pairs alternate their order (a busy moment of
the shared machine hits both sides); the summary is the median of the per-pair ratios. The last run
of each side has its cells checked against the recomputation (exit status 1 if any differ).

    .venv/bin/python bench/apply_overlap.py [--events 30000] [--pairs 4] [--max-records 5000] \\
        [--before-ref main] [--broker embedded|kafka] [--out bench/results/apply9.json]
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import importlib.util
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from types import ModuleType

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "bench"))

import apply as apply_bench  # noqa: E402

from styrkedja_devstack.stack import Infrastructure  # noqa: E402
from styrkedja_kit import consumer as after_consumer  # noqa: E402
from styrkedja_kit import metrics  # noqa: E402
from styrkedja_kit.kafka import ensure_topics, registry_topics  # noqa: E402


def consumer_of(ref: str, into: Path) -> ModuleType:
    """`styrkedja_kit/consumer.py` of `ref`, importable beside this checkout's (its relative imports
    resolve to this checkout's kit)."""
    source = subprocess.run(["git", "-C", str(ROOT), "show", f"{ref}:packages/kit/src/styrkedja_kit/consumer.py"],
                            check=True, capture_output=True).stdout
    path = into / "consumer_before.py"
    path.write_bytes(source)
    spec = importlib.util.spec_from_file_location("styrkedja_kit._consumer_before", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


collections: list[tuple[float, int]] = []  # CPU seconds and generation of each collection in the timed part
_collecting = [0.0]


def collected(phase: str, info: dict) -> None:
    if phase == "start":
        _collecting[0] = time.process_time()
    else:
        collections.append((time.process_time() - _collecting[0], info["generation"]))


async def run_once(module: ModuleType, label: str, infra: Infrastructure, directory: list, events: list,
                   max_records: int, check: bool) -> dict:
    apply_bench.ConsumerLoop = module.ConsumerLoop  # `prepare` builds the loop of this module
    loop, db, _ = await apply_bench.prepare(label, "styrkedja_reporting", infra, directory, 1000,
                                            {"consumer_max_records": max_records})
    await ensure_topics(loop.settings, registry_topics([loop.group_id]))
    data_dir = infra.postgres.data_dir if infra.postgres else None
    load = os.getloadavg()[0]
    runner = asyncio.create_task(loop.run())
    try:
        while not loop.assigned and loop.applied_count == 0:
            await asyncio.sleep(0.001)
            pg_cpu, cpu = apply_bench.postgres_cpu_seconds(data_dir), time.process_time()
        collections.clear()
        gc.callbacks.append(collected)
        started = time.perf_counter()
        first = loop.applied_count
        while loop.applied_count < len(events):
            await asyncio.sleep(0.005)
        seconds = time.perf_counter() - started
        gc.callbacks.remove(collected)
        cpu = time.process_time() - cpu
        pg_cpu = apply_bench.postgres_cpu_seconds(data_dir) - pg_cpu
    finally:
        loop.stop()
        await runner
    timed = len(events) - first
    import psutil

    rss_mb = psutil.Process().memory_info().rss / 2**20
    batches = next((sample.value for metric in metrics.CONSUMER_BATCH_SECONDS.collect() for sample in metric.samples
                    if sample.name.endswith("_count") and sample.labels.get("group") == loop.group_id), None)
    out = {"label": label, "events": timed, "seconds": round(seconds, 2), "events_per_s": round(timed / seconds),
           "batches": batches, "cpu_seconds_python": round(cpu, 2), "cpu_seconds_postgres": round(pg_cpu, 2),
           "load_1min_at_start": round(load, 2), "load_1min_at_end": round(os.getloadavg()[0], 2),
           # the cyclic collector's CPU (gc.callbacks) over the timed part, per batch, and its full collections
           "gc_cpu_ms_per_batch": round(sum(s for s, _ in collections) * 1000 / batches, 1) if batches else None,
           "gc_collections": len(collections), "gc_full_collections": sum(g == 2 for _, g in collections),
           "rss_mb_at_end": round(rss_mb, 1)}
    if check:
        out["recomputation_mismatches"] = await apply_bench.recomputation(db, "styrkedja_reporting")
    await db.dispose()
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=30_000)
    parser.add_argument("--pairs", type=int, default=4)
    parser.add_argument("--max-records", type=int, default=5_000)
    parser.add_argument("--before-ref", default="main")
    parser.add_argument("--broker", choices=("embedded", "kafka"), default=None)
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results" / "apply9.json")
    parser.add_argument("--note", default="")
    args = parser.parse_args()
    state = Path(tempfile.mkdtemp(prefix="styrkedja-bench-overlap-"))
    state.chmod(0o755)
    infra = Infrastructure.start(state, broker_kind=args.broker)
    try:
        before = consumer_of(args.before_ref, state)
        directory, events = apply_bench.school_data(7, args.events)
        asyncio.run(apply_bench.publish(infra, events))
        # as the reporting service does at its start (`main.freeze_the_start`): what lives as long as the
        # process out of the collector's sight, for both sides alike
        from styrkedja_reporting.main import freeze_the_start

        freeze_the_start()
        sides = {"before": before, "after": after_consumer}
        pairs = []
        for n in range(args.pairs):
            order = ("before", "after") if n % 2 == 0 else ("after", "before")
            pair = {}
            for label in order:
                pair[label] = asyncio.run(run_once(sides[label], label, infra, directory, events, args.max_records,
                                                   check=n == args.pairs - 1))
                print(f"pair {n + 1} {label}: {pair[label]}", flush=True)
            pair["ratio"] = round(pair["after"]["events_per_s"] / pair["before"]["events_per_s"], 3)
            pairs.append(pair)
        summary = {
            side: {"events_per_s_median": statistics.median(p[side]["events_per_s"] for p in pairs),
                   "python_cpu_s_median": statistics.median(p[side]["cpu_seconds_python"] for p in pairs),
                   "postgres_cpu_s_median": statistics.median(p[side]["cpu_seconds_postgres"] for p in pairs),
                   "gc_cpu_ms_per_batch_median": statistics.median(p[side]["gc_cpu_ms_per_batch"] for p in pairs),
                   "rss_mb_max": max(p[side]["rss_mb_at_end"] for p in pairs)}
            for side in ("before", "after")}
        mismatches = {side: pairs[-1][side].get("recomputation_mismatches", {}) for side in ("before", "after")}
        results = {"when": datetime.now(UTC).isoformat(timespec="seconds"), "cpus": os.cpu_count(),
                   "broker": infra.broker_kind, "before_ref": args.before_ref,
                   "after": subprocess.run(["git", "-C", str(ROOT), "rev-parse", "--short", "HEAD"],
                                           capture_output=True, text=True).stdout.strip(),
                   "events": args.events, "max_records": args.max_records, "note": args.note,
                   "ratio_median": statistics.median(p["ratio"] for p in pairs),
                   "ratios": [p["ratio"] for p in pairs], "summary": summary,
                   "cells_equal_recomputation": all(not any(m.values()) for m in mismatches.values()),
                   "pairs": pairs}
        return apply_bench.written(args.out, results, details="pairs")
    finally:
        infra.stop()
        shutil.rmtree(state, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())

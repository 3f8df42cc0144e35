"""Reporting's consumer loop (this checkout's) catching up on `--events` events in one long run, its process's
RSS sampled every second: whether memory stays flat with the collector paused inside each batch's
transaction (`styrkedja_kit.consumer.collector_paused`), i.e. no reference cycles pile up that only a full
collection frees. The events are produced first and dropped from this process before the run; the
reporting service's start freeze (`main.freeze_the_start`) is done as the service does. Prints and writes
the samples, the first and last quarter's median RSS, the collector's collections per generation and what a
full collection at the end still finds unreachable.

    .venv/bin/python bench/apply_rss.py [--events 120000] [--max-records 5000] [--out bench/results/apply11-rss.json]
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import os
import shutil
import statistics
import sys
import tempfile
import time
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "bench"))

import apply as apply_bench  # noqa: E402

from styrkedja_devstack.stack import Infrastructure  # noqa: E402
from styrkedja_kit.kafka import ensure_topics, registry_topics  # noqa: E402


async def run(infra: Infrastructure, directory: list, events: int, max_records: int) -> dict:
    import psutil

    loop, db, _ = await apply_bench.prepare("rss", "styrkedja_reporting", infra, directory, 1000,
                                            {"consumer_max_records": max_records})
    await ensure_topics(loop.settings, registry_topics([loop.group_id]))
    generations: Counter[int] = Counter()

    def collected(phase: str, info: dict) -> None:
        if phase == "start":
            generations[info["generation"]] += 1

    process = psutil.Process()
    samples: list[tuple[float, int, float]] = []  # seconds, applied, RSS MB
    gc.callbacks.append(collected)
    runner = asyncio.create_task(loop.run())
    started = time.perf_counter()
    try:
        while loop.applied_count < events:
            await asyncio.sleep(1)
            samples.append((round(time.perf_counter() - started, 1), loop.applied_count,
                             round(process.memory_info().rss / 2**20, 1)))
    finally:
        loop.stop()
        await runner
        gc.callbacks.remove(collected)
    seconds = time.perf_counter() - started
    unreachable = gc.collect()
    await db.dispose()
    quarter = max(1, len(samples) // 4)
    return {"events": events, "seconds": round(seconds, 1), "events_per_s": round(events / seconds),
            "rss_mb_first_quarter_median": statistics.median(s[2] for s in samples[:quarter]),
            "rss_mb_last_quarter_median": statistics.median(s[2] for s in samples[-quarter:]),
            "rss_mb_max": max(s[2] for s in samples), "collections_by_generation": dict(sorted(generations.items())),
            "unreachable_at_end": unreachable, "samples": samples}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=120_000)
    parser.add_argument("--max-records", type=int, default=5_000)
    parser.add_argument("--broker", choices=("embedded", "kafka"), default=None)
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results" / "apply11-rss.json")
    args = parser.parse_args()
    state = Path(tempfile.mkdtemp(prefix="styrkedja-bench-rss-"))
    state.chmod(0o755)
    infra = Infrastructure.start(state, broker_kind=args.broker)
    try:
        directory, events = apply_bench.school_data(7, args.events)
        asyncio.run(apply_bench.publish(infra, events))
        count = len(events)
        del events
        from styrkedja_reporting.main import freeze_the_start

        freeze_the_start()
        load = os.getloadavg()[0]
        results = asyncio.run(run(infra, directory, count, args.max_records))
        results |= {"when": datetime.now(UTC).isoformat(timespec="seconds"), "broker": infra.broker_kind,
                    "load_1min": [round(load, 2), round(os.getloadavg()[0], 2)], "max_records": args.max_records}
        args.out.write_text(json.dumps(results, indent=2) + "\n")
        print(json.dumps({k: v for k, v in results.items() if k != "samples"}, indent=2))
        return 0
    finally:
        infra.stop()
        shutil.rmtree(state, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())

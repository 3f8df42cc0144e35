"""What grows in a reporting worker with the data (issue 16's ≤ 250 MB RSS at 100,000 students): reporting's
consumer loop (this checkout's, in-process, `apply_rss.run`'s way: events produced to the broker first and dropped
from this process, then `ConsumerLoop.run` catching up) over `bench/speed.py`'s data (`deadline_week.TermData`,
the national shape: `--organisers` organisers, 64 results per student in deadline-week order), with

* RSS sampled every second (the events list is gone before the run; with `--tracemalloc` RSS includes its
  overhead, so compare RSS between runs without it),
* `--tracemalloc`: snapshots at the first quarter's end and at the end of the run, the top allocations by
  file:line that grew between them,
* at the end: `gc.get_objects()` counts by type (the top ones), every `functools.lru_cache`/`cache` in reporting,
  kit and contracts (`cache_info()`: entries against the bound), asyncpg's prepared statement caches per pooled
  connection, and the RSS before and after `malloc_trim(0)` (what glibc holds free but unreturned).

    .venv/bin/python bench/rss25.py --students 1000 [--organisers 12] [--tracemalloc] [--out bench/results/x.json]
"""

from __future__ import annotations

import argparse
import asyncio
import ctypes
import gc
import json
import multiprocessing
import os
import shutil
import statistics
import sys
import tempfile
import time
import tracemalloc
import uuid
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path
from types import SimpleNamespace

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "bench"))
sys.path.insert(0, str(ROOT / "tests"))

import apply as apply_bench  # noqa: E402
from deadline_week import RESULTS_PER_STUDENT, TermData  # noqa: E402

from styrkedja_contracts import AssessmentPublishedV1, OrganisationUnitUpsertedV1, new_event  # noqa: E402
from styrkedja_devstack.stack import Infrastructure  # noqa: E402
from styrkedja_kit.kafka import ensure_topics, registry_topics  # noqa: E402

T0 = datetime(2026, 11, 2, 8, tzinfo=UTC)


def term_events(students: int, organisers: int) -> tuple[list, list]:
    """(directory events, result events) of `TermData`: the directory as reporting's write API gets it, the
    results as the assessment service publishes them."""
    data = TermData(seed=16, students=students, organiser_count=organisers)
    directory = [new_event(OrganisationUnitUpsertedV1(**change["data"]), source="/b")
                 for change in data.directory_changes(T0)]
    results = [new_event(AssessmentPublishedV1(assessment_id=uuid.uuid4(), revision=1, published_at=T0, **body),
                         source="/b")
               for body in data.new_assessments(students * RESULTS_PER_STUDENT)]
    return directory, results


def produce(bootstrap: str, students: int, organisers: int) -> tuple[list, int]:
    """(directory events, how many result events were produced to the broker at `bootstrap`)."""
    directory, events = term_events(students, organisers)
    asyncio.run(apply_bench.publish(SimpleNamespace(kafka_bootstrap_servers=bootstrap), events))  # type: ignore[arg-type]
    return directory, len(events)


def lru_caches() -> dict[str, dict]:
    """Every module-level functools cache in reporting, kit and contracts: entries and bound."""
    found, seen = {}, set()
    for name, module in sorted(sys.modules.items()):
        if not name.startswith(("styrkedja_reporting", "styrkedja_kit", "styrkedja_contracts")):
            continue
        for attr, value in list(vars(module).items()):
            info = getattr(value, "cache_info", None) if callable(value) and hasattr(value, "cache_clear") else None
            if callable(info) and id(value) not in seen and type(value).__module__ == "functools":
                seen.add(id(value))
                i = info()
                if i.currsize:
                    found[f"{name}.{attr}"] = {"entries": i.currsize, "bound": i.maxsize, "hits": i.hits,
                                               "misses": i.misses}
    return found


def statement_caches() -> list[int]:
    """asyncpg's prepared statements per open connection (its LRU statement cache)."""
    import asyncpg

    return [len(o._stmt_cache) for o in gc.get_objects()
            if isinstance(o, asyncpg.Connection) and not o.is_closed()]


def rss_mb() -> float:
    import psutil

    return round(psutil.Process().memory_info().rss / 2**20, 1)


def timed_releases() -> dict:
    """`consumer.release_memory` (where this checkout has it) wrapped: its calls that released, and their time."""
    from styrkedja_kit import consumer

    spent = {"releases": 0, "seconds": 0.0, "trim_seconds": 0.0}
    release = getattr(consumer, "release_memory", None)
    if release is None:
        return spent
    trim = consumer._malloc_trim

    def timed_trim(pad: int) -> int:
        started = time.perf_counter()
        try:
            return trim(pad)
        finally:
            spent["trim_seconds"] += time.perf_counter() - started

    consumer._malloc_trim = timed_trim  # type: ignore[attr-defined]

    def timed(records: int) -> bool:
        started = time.perf_counter()
        released = release(records)
        if released:
            spent["releases"] += 1
            spent["seconds"] += time.perf_counter() - started
        return released

    consumer.release_memory = timed  # type: ignore[attr-defined]
    return spent


async def run(infra: Infrastructure, directory: list, events: int, max_records: int, traced: bool) -> dict:
    releases = timed_releases()
    loop, db, _ = await apply_bench.prepare("rss25", "styrkedja_reporting", infra, directory, 1000,
                                            {"consumer_max_records": max_records})
    await ensure_topics(loop.settings, registry_topics([loop.group_id]))
    samples: list[tuple[float, int, float]] = []  # seconds, applied, RSS MB
    types_before: Counter[str] = Counter()
    first = None
    runner = asyncio.create_task(loop.run())
    started = time.perf_counter()
    try:
        while loop.applied_count < events:
            await asyncio.sleep(1)
            samples.append((round(time.perf_counter() - started, 1), loop.applied_count, rss_mb()))
            if first is None and loop.applied_count >= events // 4:
                first = {"applied": loop.applied_count, "rss_mb": samples[-1][2],
                         "caches": lru_caches()}
                types_before = Counter(type(o).__name__ for o in gc.get_objects())
                first["snapshot"] = tracemalloc.take_snapshot() if traced else None
    finally:
        loop.stop()
        await runner
    seconds = time.perf_counter() - started
    end: dict = {"rss_mb": rss_mb(), "releases": releases["releases"],
                 "release_ms_each": round(1000 * releases["seconds"] / max(1, releases["releases"]), 1),
                 "release_trim_ms_each": round(1000 * releases["trim_seconds"] / max(1, releases["releases"]), 1),
                 "release_share_of_run": round(releases["seconds"] / seconds, 4)}
    snapshot = tracemalloc.take_snapshot() if traced else None
    types_after = Counter(type(o).__name__ for o in gc.get_objects())
    end |= {"caches": lru_caches(), "statement_cache_per_connection": statement_caches(),
            "consumer_state": {name: len(value) for name, value in vars(loop).items()
                               if isinstance(value, (dict, set, list))},
            "gc_objects": sum(types_after.values()),
            "gc_types_grown_since_first_quarter": dict(
                (types_after - types_before).most_common(15))}
    if traced and first is not None and snapshot is not None:
        grown = snapshot.compare_to(first.pop("snapshot"), "lineno")
        end["tracemalloc_grown_since_first_quarter"] = [
            {"where": f"{s.traceback[0].filename.split('site-packages/')[-1].split('/src/')[-1]}:"
                      f"{s.traceback[0].lineno}", "kb": round(s.size_diff / 1024), "blocks": s.count_diff}
            for s in grown[:25]]
        end["tracemalloc_total_mb"] = round(sum(s.size for s in snapshot.statistics("filename")) / 2**20, 1)
    elif first is not None:
        first.pop("snapshot", None)
    gc.set_debug(gc.DEBUG_SAVEALL)  # what a full collection finds unreachable, kept to be counted
    end["unreachable_at_end"] = gc.collect()
    gc.set_debug(0)
    end["unreachable_types"] = dict(Counter(type(o).__qualname__ for o in gc.garbage).most_common(20))
    end["unreachable_sample"] = [repr(o)[:160] for o in gc.garbage
                                 if type(o).__name__ in ("function", "cell", "frame", "coroutine", "Task", "Future")][:20]
    gc.garbage.clear()
    gc.collect()
    end["rss_mb_after_gc"] = rss_mb()
    try:
        ctypes.CDLL("libc.so.6").malloc_trim(0)
        end["rss_mb_after_malloc_trim"] = rss_mb()
    except OSError:
        pass
    await db.dispose()
    quarter = max(1, len(samples) // 4)
    return {"events": events, "seconds": round(seconds, 1), "events_per_s": round(events / seconds),
            "rss_mb_first_quarter_median": statistics.median(s[2] for s in samples[:quarter]),
            "rss_mb_last_quarter_median": statistics.median(s[2] for s in samples[-quarter:]),
            "rss_mb_max": max(s[2] for s in samples), "first_quarter": first, "end": end, "samples": samples}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--students", type=int, default=1000)
    parser.add_argument("--organisers", type=int, default=12)
    parser.add_argument("--max-records", type=int, default=5_000)
    parser.add_argument("--tracemalloc", action="store_true")
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args()
    state = Path(tempfile.mkdtemp(prefix="styrkedja-bench-rss25-"))
    state.chmod(0o755)
    infra = Infrastructure.start(state)
    try:
        # made and produced in a child process: none of the events' memory (nor the heap they leave
        # fragmented) is in this process's RSS
        context = multiprocessing.get_context("fork")
        with context.Pool(1) as pool:
            directory, count = pool.apply(produce, (infra.kafka_bootstrap_servers, args.students, args.organisers))
        gc.collect()
        from styrkedja_reporting.main import freeze_the_start

        freeze_the_start()
        before = rss_mb()
        if args.tracemalloc:
            tracemalloc.start(1)
        results = asyncio.run(run(infra, directory, count, args.max_records, args.tracemalloc))
        results = {"students": args.students, "organisers": args.organisers, "tracemalloc": args.tracemalloc,
                   "rss_mb_before_run": before, "malloc_arena_max": os.environ.get("MALLOC_ARENA_MAX"),
                   "when": datetime.now(UTC).isoformat(timespec="seconds"),
                   "load_1min": round(os.getloadavg()[0], 2)} | results
        print(json.dumps({k: v for k, v in results.items() if k != "samples"}, indent=1))
        if args.out:
            args.out.write_text(json.dumps(results, indent=1) + "\n")
        return 0
    finally:
        infra.stop()
        shutil.rmtree(state, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())

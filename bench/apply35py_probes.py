"""Issue 16, apply35py: two probes of reporting apply's Python, around `profile_apply.py` (its deadline week, in
this process, no profiler):

- `--probe gc`: after each batch's transaction, before the collector is on again (`collector_paused`), the tracked
  objects per generation, one young collection timed, and what it found unreachable by type (`gc.DEBUG_SAVEALL`);
- `--probe statements`: this process's CPU per SQL statement (asyncpg's prepared statements: encoding the
  parameters, decoding the rows; the wait for the server is not CPU), summed over the run (warm-up and directory
  included), with the number of array elements sent.

    .venv/bin/python bench/apply35py_probes.py --probe gc [--students 600]
"""

from __future__ import annotations

import argparse
import collections
import contextlib
import gc
import sys
import time
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "bench"))


def probe_gc(found: list[dict]) -> None:
    import styrkedja_kit.consumer as consumer

    paused = consumer.collector_paused

    @contextlib.contextmanager
    def probed() -> Iterator[None]:
        with paused():
            yield
            tracked = [len(gc.get_objects(generation)) for generation in range(3)]
            gc.set_debug(gc.DEBUG_SAVEALL)
            started = time.process_time()
            unreachable = gc.collect(0)
            ms = (time.process_time() - started) * 1000
            gc.set_debug(0)
            kinds = collections.Counter(type(o).__qualname__ for o in gc.garbage).most_common(6)
            gc.garbage.clear()
            found.append({"tracked": tracked, "unreachable": unreachable, "young_collection_ms": round(ms, 1),
                          "kinds": kinds})

    consumer.collector_paused = probed


def probe_statements(spent: dict[str, list[float]]) -> None:
    import asyncpg.prepared_stmt as prepared

    for name in ("fetch", "fetchrow", "fetchval"):
        original = getattr(prepared.PreparedStatement, name)

        async def timed(self, *args, __original=original, **kwargs):  # noqa: ANN001, ANN002, ANN003, ANN202
            started = time.process_time()
            try:
                return await __original(self, *args, **kwargs)
            finally:
                entry = spent.setdefault(" ".join(self.get_query().split())[:150], [0.0, 0, 0])
                entry[0] += time.process_time() - started
                entry[1] += 1
                entry[2] += sum(len(a) for a in args if isinstance(a, list | tuple))

        setattr(prepared.PreparedStatement, name, timed)


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--probe", choices=("gc", "statements"), required=True)
    parser.add_argument("--students", type=int, default=600)
    args = parser.parse_args()
    found: list[dict] = []
    spent: dict[str, list[float]] = {}
    if args.probe == "gc":
        probe_gc(found)
    else:
        probe_statements(spent)
    import profile_apply

    sys.argv = ["profile_apply.py", "--data", "deadline-week", "--students", str(args.students), "--batch", "5000",
                "--warm", "1", "--no-profile", "--label", "apply35py-probe"]
    try:
        return profile_apply.main()
    finally:
        for entry in found:
            print(entry)
        for query, (seconds, calls, elements) in sorted(spent.items(), key=lambda kv: -kv[1][0])[:14]:
            print(f"{seconds * 1000:8.1f} ms {calls:5d}x {elements:8d} elements  {query}")


if __name__ == "__main__":
    sys.exit(main())

"""Bounded inflation of compressed record batches (hostile inputs, round 8): what it costs, what it saves.

1. CPU on normal batches: a fetched batch of `--events` example events (compact JSON, as the outboxes write
   them, each with its own id) in one v2 record batch per codec, read as the fetcher reads it (`MemoryRecords` → every record), with
   aiokafka's own decoders ("before") and the kit's bounded ones ("after"), alternated pass by pass in the same
   process; the median CPU time (process_time) per batch of each side.
2. Peak RSS reading one 200 MB bomb (zeros) per codec, each side in a fresh process (ru_maxrss grows only).

    .venv/bin/python bench/inflation.py            # → bench/results/inflation.json
"""

from __future__ import annotations

import argparse
import json
import os
import random
import resource
import statistics
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Any

CODECS = {"gzip": 1, "snappy": 2, "lz4": 3, "zstd": 4}
DECODERS = ("gzip_decode", "snappy_decode", "lz4_decode", "zstd_decode")


def use(side: str) -> None:
    """Put aiokafka's own decoders ("before") or the kit's bounded ones ("after") where the record batches look."""
    import aiokafka.codec as codec
    import aiokafka.record._crecords.default_records as c_default

    from styrkedja_kit import kafka
    for name in DECODERS:
        setattr(c_default, name, getattr(codec, name) if side == "before" else kafka._BOUNDED_DECODERS[name])


def normal_batch(codec: int, events: int) -> bytes:
    from aiokafka.record.default_records import DefaultRecordBatchBuilder

    from styrkedja_contracts import REGISTRY, example_bytes
    types = sorted(REGISTRY.models)
    builder = DefaultRecordBatchBuilder(2, codec, 0, -1, -1, -1, 64 << 20)
    for n in range(events):
        document = json.loads(example_bytes(types[n % len(types)]))
        document["id"] = str(uuid.UUID(int=random.getrandbits(128)))  # unique, as the outboxes write them
        value = json.dumps(document, separators=(",", ":")).encode()
        builder.append(n, 1_700_000_000_000, b"2999", value, [])
    return bytes(builder.build())


def read_all(data: bytes) -> int:
    from aiokafka.record.memory_records import MemoryRecords
    records = MemoryRecords(data)
    count = 0
    while records.has_next():
        batch = records.next_batch()
        count += sum(1 for _ in batch)
    return count


def cpu(events: int, passes: int, reads: int) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for name, codec in CODECS.items():
        data = normal_batch(codec, events)
        times: dict[str, list[float]] = {"before": [], "after": []}
        for n in range(passes):
            for side in (("before", "after") if n % 2 == 0 else ("after", "before")):
                use(side)
                started = time.process_time()
                for _ in range(reads):
                    assert read_all(data) == events
                times[side].append((time.process_time() - started) / reads * 1e6)
        before, after = statistics.median(times["before"]), statistics.median(times["after"])
        out[name] = {"compressed_bytes": len(data), "before_us_per_batch": round(before, 1),
                     "after_us_per_batch": round(after, 1), "after_over_before": round(after / before, 3)}
        print(f"{name:7s} {len(data):7d} B  before {before:8.1f} µs  after {after:8.1f} µs  ({after / before:.3f})")
    return out


def peak_rss(side: str, codec: str) -> None:
    """In a fresh process: ru_maxrss growth (MB) reading one 200 MB bomb, printed."""
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "packages/kit/tests"))
    import test_undecodable_batches as t
    data = bytes(t.bomb(0, CODECS[codec], 200 * 1024 * 1024))
    use(side)
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    started = time.process_time()
    got = t.read(data)
    print(json.dumps({"grown_mb": (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before) // 1024,
                      "cpu_s": round(time.process_time() - started, 3), "bomb_bytes": len(data),
                      "undecodable": isinstance(got[0].value, t.UndecodableBatch)}))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--events", type=int, default=200)
    parser.add_argument("--passes", type=int, default=21)
    parser.add_argument("--reads", type=int, default=50)
    parser.add_argument("--peak-rss", nargs=2, metavar=("SIDE", "CODEC"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.peak_rss:
        peak_rss(*args.peak_rss)
        return
    result: dict[str, Any] = {"load_average": os.getloadavg(), "events_per_batch": args.events,
                              "cpu": cpu(args.events, args.passes, args.reads), "bomb_200mb": {}}
    for codec in ("gzip", "lz4", "zstd"):  # snappy inflates at most ~21:1 and states its length first
        for side in ("before", "after"):
            done = subprocess.run([sys.executable, __file__, "--peak-rss", side, codec], capture_output=True,
                                  text=True, check=True)
            result["bomb_200mb"][f"{codec}_{side}"] = json.loads(done.stdout)
            print(codec, side, done.stdout.strip())
    result["load_average_after"] = os.getloadavg()
    path = Path(__file__).parent / "results" / "inflation.json"
    path.write_text(json.dumps(result, indent=2) + "\n")
    print("→", path)


if __name__ == "__main__":
    main()

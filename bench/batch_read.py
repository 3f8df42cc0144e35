"""What reading a batch record by record where aiokafka cannot (round 16, `record_batches`) costs a normal fetch.

The normal path changed in two small ways: the kit's `MemoryRecords` keeps the fetch's bytes and notes where each
batch ends (one int read per batch), and each v2 batch's record offsets are checked to ascend within the batch
(one pass over the offsets). Here a fetch of `--batches` v2 batches of `--events` example events each (compact
JSON, as the outboxes write them, each with its own id; uncompressed and zstd), read as the fetcher reads it
(`fetcher.PartitionRecords` over `fetcher.MemoryRecords`: every record as a ConsumerRecord), with the kit's reader
before this change ("before": kafka.py as committed at `--before`, loaded beside the current one) and after it
("after"), alternated pass by pass in the same process; the median CPU time (process_time) per record of each
side. For scale: the consumer's decode of one event is ~15-30 µs (bench/results/decode*.json).

    .venv/bin/python bench/batch_read.py            # → bench/results/batch_read.json
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]


def sides(before: str) -> dict[str, tuple[Any, Any]]:
    """(MemoryRecords, PartitionRecords) the fetcher would use, per side."""
    from aiokafka.consumer import fetcher
    from aiokafka.record.memory_records import MemoryRecords

    from styrkedja_kit import kafka
    after = (fetcher.MemoryRecords, fetcher.PartitionRecords)
    source = subprocess.run(["git", "show", f"{before}:packages/kit/src/styrkedja_kit/kafka.py"], cwd=ROOT,
                            capture_output=True, text=True, check=True).stdout
    with tempfile.NamedTemporaryFile("w", suffix=".py", delete=False) as file:
        file.write(source)
    fetcher.PartitionRecords = fetcher.PartitionRecords.__mro__[1]  # aiokafka's own, for the old module to wrap
    spec = importlib.util.spec_from_file_location("styrkedja_kit.kafka_before", file.name)
    assert spec is not None and spec.loader is not None
    old = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = old  # its dataclasses look their module up
    spec.loader.exec_module(old)  # it replaces fetcher.PartitionRecords with its own
    os.unlink(file.name)
    assert kafka._CheckedRecords is not old._CheckedRecords
    return {"before": (MemoryRecords, old._PartitionRecords), "after": after}


def fetch_bytes(codec: int, batches: int, events: int) -> bytes:
    import struct

    from aiokafka.record.default_records import DefaultRecordBatchBuilder

    from styrkedja_contracts import REGISTRY, example_bytes
    types = sorted(REGISTRY.models)
    out = b""
    for b in range(batches):
        builder = DefaultRecordBatchBuilder(2, codec, 0, -1, -1, -1, 64 << 20)
        for n in range(events):
            document = json.loads(example_bytes(types[(b * events + n) % len(types)]))
            document["id"] = str(uuid.UUID(int=random.getrandbits(128)))
            value = json.dumps(document, separators=(",", ":")).encode()
            builder.append(n, 1_700_000_000_000, b"2999", value, [])
        raw = builder.build()
        struct.pack_into(">q", raw, 0, b * events)
        out += bytes(raw)
    return out


def read(side: tuple[Any, Any], data: bytes) -> int:
    from aiokafka import TopicPartition
    from aiokafka.consumer import fetcher
    memory_records, partition_records = side
    records = partition_records(TopicPartition("t", 0), memory_records(data), None, 0, None, None, True,
                                fetcher.READ_COMMITTED)
    return sum(1 for _ in records)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--before", default="c6cb8ca")
    parser.add_argument("--batches", type=int, default=50)
    parser.add_argument("--events", type=int, default=20)
    parser.add_argument("--passes", type=int, default=21)
    parser.add_argument("--reads", type=int, default=20)
    args = parser.parse_args()
    random.seed(16)
    both = sides(args.before)
    result: dict[str, Any] = {"load_average": os.getloadavg(), "before": args.before, "batches": args.batches,
                              "events_per_batch": args.events, "passes": args.passes, "cpu": {}}
    total = args.batches * args.events
    for name, codec in (("none", 0), ("zstd", 4)):
        data = fetch_bytes(codec, args.batches, args.events)
        times: dict[str, list[float]] = {"before": [], "after": []}
        for n in range(args.passes):
            for side in (("before", "after") if n % 2 == 0 else ("after", "before")):
                started = time.process_time()
                for _ in range(args.reads):
                    assert read(both[side], data) == total
                times[side].append((time.process_time() - started) / args.reads / total * 1e6)
        before, after = statistics.median(times["before"]), statistics.median(times["after"])
        result["cpu"][name] = {"fetch_bytes": len(data), "before_us_per_record": round(before, 3),
                               "after_us_per_record": round(after, 3), "after_minus_before_us": round(after - before, 3),
                               "after_over_before": round(after / before, 3)}
        print(f"{name:5s} {len(data):8d} B  before {before:.3f} µs/record  after {after:.3f} µs/record  "
              f"({after / before:.3f})")
    result["load_average_after"] = os.getloadavg()
    path = Path(__file__).parent / "results" / "batch_read.json"
    path.write_text(json.dumps(result, indent=2) + "\n")
    print("→", path)


if __name__ == "__main__":
    sys.exit(main())

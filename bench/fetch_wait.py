"""The consumer's client-side wait (issue 16, POST → visible): acknowledged on the broker → taken by the loop.

No PostgreSQL and no services: a producer writes ~1,000 events/s (a batch of 100 every 100 ms, keys of a few
organisers, as the latency stage's background load) and, between them, one probe record at a time; a consumer
subscribed to every topic reporting reads (30 partitions, most of them idle) runs the kit's loop shape —
`getmany`, then `fill_batch` with what the client holds, then an "apply" that sleeps as long as a batch of
reporting's takes (`--apply-ms` + `--apply-us-per-event` × events; sleeping, so it costs no CPU) — and stamps
when the probe's record was handed out and when its batch began. Consumer settings and the loop's shape
(`plain`: the next batch fetched after this one; `eager`: its records taken from the client while this one is
applied, as `ConsumerLoop._loop` does) are compared in
alternated rounds in one run, each round with a fresh group reading from the end:

  fetch_max_wait_ms  how long the broker may hold a fetch that finds no data (the kit's 25 ms)
  isolation          read_committed (the kit's) against read_uncommitted (the last stable offset's cost)

    .venv/bin/python bench/fetch_wait.py --broker kafka [--rounds 3] [--seconds 20] [--out FILE]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import shutil
import statistics
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "bench"))

from speed import pct, tree_cpu_seconds  # noqa: E402

from styrkedja_contracts import TOPICS  # noqa: E402
from styrkedja_devstack.stack import start_broker  # noqa: E402
from styrkedja_kit.consumer import fill_batch, prefetch_without_backoff  # noqa: E402
from styrkedja_kit.kafka import ensure_topics, make_consumer, make_producer, registry_topics  # noqa: E402
from styrkedja_kit.settings import ServiceSettings  # noqa: E402

TOPIC = "styrkedja.assessments"
ORGANISERS = [b"2100", b"2101", b"2102", b"2103"]


async def one_round(settings: ServiceSettings, topics: list[str], *, fetch_max_wait_ms: int, isolation: str, eager: bool,
                    seconds: float, rate: int, apply_ms: float, apply_us_per_event: float,
                    apply_cpu_share: float = 0.0) -> dict:
    consumer = make_consumer(settings, f"fetch-wait-{uuid.uuid4().hex[:6]}", group_id=f"fetch-wait-{uuid.uuid4().hex}",
                             enable_auto_commit=False, auto_offset_reset="latest", isolation_level=isolation,
                             max_partition_fetch_bytes=4 * 1024 * 1024, fetch_max_wait_ms=fetch_max_wait_ms)
    consumer.subscribe(topics)
    producer = make_producer(settings, "fetch-wait-producer")
    await consumer.start()
    prefetch_without_backoff(consumer)
    await producer.start()
    acked: dict[bytes, float] = {}  # probe value → acknowledged (monotonic)
    taken: dict[bytes, float] = {}
    apply_start: dict[bytes, float] = {}
    batches: list[int] = []
    stop = asyncio.Event()

    async def background() -> None:
        while not stop.is_set():
            tick = time.monotonic()
            futures = [await producer.send(TOPIC, key=random.choice(ORGANISERS), value=b"x" * 700)
                       for _ in range(max(1, rate // 10))]
            await asyncio.gather(*futures)
            await asyncio.sleep(max(0.0, 0.1 - (time.monotonic() - tick)))

    async def probes() -> None:
        await asyncio.sleep(1.0)  # the group has its partitions
        while not stop.is_set():
            value = b"probe-" + uuid.uuid4().hex.encode()
            await producer.send_and_wait(TOPIC, key=random.choice(ORGANISERS), value=value)
            acked[value] = time.monotonic()
            await asyncio.sleep(random.uniform(0.05, 0.25))

    async def stamp(records: dict) -> None:
        at = time.monotonic()
        for tp_records in records.values():
            for record in tp_records:
                if record.value.startswith(b"probe-"):
                    taken[record.value] = at

    async def fetch(busy: asyncio.Future[None] | None = None) -> dict:
        batch = await consumer.getmany(timeout_ms=200, max_records=5000)
        if batch:
            await stamp(batch)
            await fill_batch(consumer, batch, 5000, 0.25, busy=busy, taken=stamp)
        return batch

    async def loop() -> None:
        ahead: asyncio.Task[dict] | None = None
        while not stop.is_set():
            batch = await ahead if ahead is not None else await fetch()
            ahead = None
            if not batch:
                continue
            busy: asyncio.Future[None] | None = None
            if eager:  # the next batch taken from the client while this one is applied (the fetcher refetches)
                busy = asyncio.get_running_loop().create_future()
                ahead = asyncio.create_task(fetch(busy))
            events = sum(len(r) for r in batch.values())
            started = time.monotonic()
            for tp_records in batch.values():
                for record in tp_records:
                    if record.value.startswith(b"probe-"):
                        apply_start[record.value] = started
            batches.append(events)
            await apply(events)
            if busy is not None:
                busy.set_result(None)
        if ahead is not None:
            ahead.cancel()

    async def apply(events: int) -> None:
        """A batch's transaction: `apply_cpu_share` of it this process's own work (spinning in slices of 1 ms on
        the event loop, as the handlers' Python between statements), the rest waiting for "PostgreSQL"."""
        seconds = (apply_ms + apply_us_per_event * events / 1000) / 1000
        if not apply_cpu_share:
            await asyncio.sleep(seconds)
            return
        slices = max(1, round(seconds / 0.002))
        for _ in range(slices):
            spin_until = time.thread_time() + seconds / slices * apply_cpu_share
            while time.thread_time() < spin_until:
                pass
            await asyncio.sleep(seconds / slices * (1 - apply_cpu_share))

    cpu_before = time.process_time()
    tasks = [asyncio.create_task(c()) for c in (background, probes, loop)]
    await asyncio.sleep(seconds)
    stop.set()
    await asyncio.gather(*tasks, return_exceptions=True)
    cpu = time.process_time() - cpu_before
    await producer.stop()
    await consumer.stop()
    both = [v for v in acked if v in taken and v in apply_start]
    waits = [(taken[v] - acked[v]) * 1000 for v in both]
    to_apply = [(apply_start[v] - acked[v]) * 1000 for v in both]
    return {"fetch_max_wait_ms": fetch_max_wait_ms, "isolation": isolation, "eager": eager, "probes": len(both),
            "acked_to_taken_ms": {"p50": round(statistics.median(waits), 1), "p90": round(pct(waits, 0.9), 1),
                                  "p99": round(pct(waits, 0.99), 1), "mean": round(statistics.fmean(waits), 1)},
            "acked_to_apply_start_ms": {"p50": round(statistics.median(to_apply), 1),
                                        "p90": round(pct(to_apply, 0.9), 1),
                                        "mean": round(statistics.fmean(to_apply), 1)},
            "batches": len(batches), "events_per_batch": round(statistics.fmean(batches), 1) if batches else 0,
            "bench_cpu_cores": round(cpu / seconds, 3)}


async def run(bootstrap: str, broker_pid: int | None, args: argparse.Namespace) -> list[dict]:
    settings = ServiceSettings(kafka_bootstrap_servers=bootstrap)
    wanted = registry_topics(["reporting"])
    await ensure_topics(settings, wanted)
    topics = [t.name for t in TOPICS.values() if "reporting" in t.consumers]  # as reporting subscribes
    configs = [(int(w), iso, mode == "eager") for w in args.fetch_max_wait.split(",")
               for iso in args.isolation.split(",") for mode in args.modes.split(",")]
    out = []
    for n in range(args.rounds):
        for fetch_max_wait_ms, isolation, eager in (configs if n % 2 == 0 else configs[::-1]):
            broker_cpu = tree_cpu_seconds(broker_pid) if broker_pid else None
            result = await one_round(settings, topics, fetch_max_wait_ms=fetch_max_wait_ms, isolation=isolation,
                                     eager=eager,
                                     seconds=args.seconds, rate=args.rate, apply_ms=args.apply_ms,
                                     apply_us_per_event=args.apply_us_per_event,
                                     apply_cpu_share=args.apply_cpu_share)
            if broker_pid:
                result["broker_cpu_cores"] = round((tree_cpu_seconds(broker_pid) - broker_cpu) / args.seconds, 3)
            result["round"], result["load_average"] = n, os.getloadavg()[0]
            print(json.dumps(result), flush=True)
            out.append(result)
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--broker", choices=("embedded", "kafka"), default="kafka")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--seconds", type=float, default=20)
    parser.add_argument("--rate", type=int, default=1000)
    parser.add_argument("--fetch-max-wait", default="25,5,100")
    parser.add_argument("--isolation", default="read_committed,read_uncommitted")
    parser.add_argument("--modes", default="plain,eager",
                        help="plain: the next batch fetched after the apply; eager: taken from the client during it")
    parser.add_argument("--apply-ms", type=float, default=20, help="a batch's fixed cost (reporting: ~20 ms)")
    parser.add_argument("--apply-us-per-event", type=float, default=500)
    parser.add_argument("--apply-cpu-share", type=float, default=0.0,
                        help="the share of a batch's time spent on this process's CPU (0: all of it waiting)")
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args()
    state = Path(tempfile.mkdtemp(prefix="styrkedja-fetch-wait-"))
    broker = start_broker(args.broker, state, None)
    try:
        pid = broker.process.pid if broker.process else None
        results = asyncio.run(run(broker.bootstrap_servers, pid, args))
    finally:
        broker.stop()
        shutil.rmtree(state, ignore_errors=True)
    summary: dict[str, dict] = {}
    for r in results:
        key = f"{'eager' if r['eager'] else 'plain'} {r['isolation']} fetch_max_wait_ms={r['fetch_max_wait_ms']}"
        summary.setdefault(key, {"acked_to_taken_p50_ms": [], "acked_to_apply_start_p50_ms": [],
                                 "broker_cpu_cores": []})
        summary[key]["acked_to_taken_p50_ms"].append(r["acked_to_taken_ms"]["p50"])
        summary[key]["acked_to_apply_start_p50_ms"].append(r["acked_to_apply_start_ms"]["p50"])
        summary[key]["broker_cpu_cores"].append(r.get("broker_cpu_cores"))
    for key, values in summary.items():
        print(f"{key:45} acked→taken p50 {values['acked_to_taken_p50_ms']}  acked→apply start p50 "
              f"{values['acked_to_apply_start_p50_ms']}  broker cores {values['broker_cpu_cores']}")
    if args.out:
        args.out.write_text(json.dumps({"date": datetime.now(UTC).isoformat(timespec="seconds"), "broker": args.broker,
                                        "args": {k: str(v) for k, v in vars(args).items()}, "rounds": results,
                                        "summary": summary}, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

"""Soak: a steady stream of assessments for a few minutes on each broker, sampling the broker's memory.

The embedded broker (Tansu) keeps every record in memory with no retention, so its resident memory
grows in a straight line with the stream (measured before: ~72 MiB/min at 1,000 items/s). Apache
Kafka keeps its logs on disk and its heap is capped, so its memory levels off. This measures both in
one run, checks reporting is exact afterwards, and writes bench/results/soak.json.

    .venv/bin/python bench/soak.py [--minutes 3] [--rate 1000] [--brokers embedded,kafka]
"""

from __future__ import annotations

import argparse
import json
import platform
import shutil
import signal
import sys
import tempfile
import threading
import time
from datetime import UTC, datetime
from pathlib import Path

import httpx
import psutil

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))
sys.path.insert(0, str(ROOT / "bench"))

from ingest import start_services  # noqa: E402

from styrkedja_devstack.apache_kafka import missing_requirements  # noqa: E402
from styrkedja_devstack.stack import Infrastructure  # noqa: E402
from support import Mittkoping, Tokens, ingest, wait_until_exact  # noqa: E402


def rss_mib(pid: int) -> float:
    process = psutil.Process(pid)
    return sum(p.memory_info().rss for p in [process, *process.children(recursive=True)]) / 2**20


def slope_mib_per_min(samples: list[tuple[float, float]]) -> float:
    """Least-squares slope of memory over time."""
    n = len(samples)
    if n < 2:
        return 0.0
    mean_t = sum(t for t, _ in samples) / n
    mean_m = sum(m for _, m in samples) / n
    var = sum((t - mean_t) ** 2 for t, _ in samples)
    return sum((t - mean_t) * (m - mean_m) for t, m in samples) / var * 60 if var else 0.0


def soak(kind: str, minutes: float, rate: float) -> dict:
    state = Path(tempfile.mkdtemp(prefix=f"styrkedja-soak-{kind}-"))
    state.chmod(0o755)
    infra = Infrastructure.start(state, broker_kind=kind)
    processes = {}
    try:
        assert infra.broker is not None and infra.broker.process is not None
        pid = infra.broker.process.pid
        tokens = Tokens.start(state)
        processes = start_services(infra, ("assessment", "reporting"), state / "logs", tokens=tokens)
        a_url, r_url = processes["assessment"].url, processes["reporting"].url
        ingest(a_url, Mittkoping(seed=1), new=500, revisions=0, retractions=0, duplicates=0,
               tokens=tokens)  # warm up
        samples: list[tuple[float, float]] = []
        stop = threading.Event()
        started = time.monotonic()

        def sample() -> None:
            while not stop.is_set():
                samples.append((time.monotonic() - started, rss_mib(pid)))
                stop.wait(5)

        sampler = threading.Thread(target=sample)
        sampler.start()
        datasets, posted = [], 0
        try:
            while time.monotonic() - started < minutes * 60:
                data = Mittkoping(seed=len(datasets))
                datasets.append(data)

                def pace(report, before=posted) -> None:
                    # hold the stream at `rate` items/s: sleep off any lead over the schedule
                    ahead = (before + report.posted) / rate - (time.monotonic() - started)
                    if ahead > 0:
                        time.sleep(ahead)

                report = ingest(a_url, data, new=5000, revisions=0, retractions=0, duplicates=0, batch_size=250,
                                between_batches=pace, tokens=tokens)
                posted += report.posted
                print(f"  {kind}: {posted} items, {time.monotonic() - started:.0f} s, "
                      f"broker {samples[-1][1] if samples else 0:.0f} MiB", flush=True)
        finally:
            stop.set()
            sampler.join()
        elapsed = time.monotonic() - started
        # caught up when the newest data set is exact; then a sample of the others (each check is a few
        # requests against a table of the whole soak) and the live aggregates-vs-facts check
        exact_after = wait_until_exact(r_url, datasets[-1], timeout=600, tokens=tokens)
        checked = [datasets[0], datasets[len(datasets) // 2], *datasets[-3:-1]]
        for data in checked:
            wait_until_exact(r_url, data, timeout=60, tokens=tokens)
        consistent = httpx.get(r_url + "/v1/admin/consistency", headers=tokens.ops(),
                               timeout=300).json()["consistent"]
        second_half = [s for s in samples if s[0] >= elapsed / 2]
        return {
            "broker": infra.notes[-1], "seconds": round(elapsed), "items": posted,
            "rate_per_s": round(posted / elapsed), "reporting_exact_after_s": round(exact_after, 2),
            "data_sets_checked_against_recomputation": len(checked) + 1, "data_sets": len(datasets),
            "aggregates_equal_recomputation": consistent,
            "broker_rss_mib": {"start": round(samples[0][1]), "end": round(samples[-1][1]),
                               "max": round(max(m for _, m in samples))},
            "broker_rss_growth_mib_per_min": round(slope_mib_per_min(samples), 1),
            "broker_rss_growth_mib_per_min_second_half": round(slope_mib_per_min(second_half), 1),
            "samples_s_mib": [(round(t), round(m)) for t, m in samples],
        }
    finally:
        for process in processes.values():
            process.stop()
        infra.stop()
        shutil.rmtree(state, ignore_errors=True)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=3.0)
    parser.add_argument("--rate", type=float, default=1000.0, help="items per second offered")
    parser.add_argument("--brokers", default="embedded,kafka")
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results" / "soak.json")
    args = parser.parse_args()
    # a SIGTERM unwinds like Ctrl-C, so the services, PostgreSQL and the broker are stopped too
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    results: dict = {"when": datetime.now(UTC).isoformat(timespec="seconds"),
                     "machine": {"python": platform.python_version(), "cpus": psutil.cpu_count()},
                     "minutes": args.minutes, "offered_rate_per_s": args.rate, "brokers": {}}
    for kind in [k.strip() for k in args.brokers.split(",") if k.strip()]:
        if kind == "kafka" and (missing := missing_requirements()):
            print(f"skipping Apache Kafka: {missing}", flush=True)
            continue
        print(f"soak on {kind} for {args.minutes} min at {args.rate:.0f}/s ...", flush=True)
        results["brokers"][kind] = soak(kind, args.minutes, args.rate)
        summary = {k: v for k, v in results["brokers"][kind].items() if k != "samples_s_mib"}
        print(json.dumps(summary, indent=2), flush=True)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(results, indent=2) + "\n")
    print(f"written to {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

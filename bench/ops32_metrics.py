"""What serving each worker's process and GC figures costs, and what dead workers' files cost a scrape (ops32).

1. `metrics.WorkerProcess.write()` — prometheus_client's process and GC collectors read and their 15 values set in the
   workers' files — as each worker runs it every `PROCESS_WRITE_SECONDS`: the best of 5 runs of 1,000 writes.
2. One scrape of the workers' directory (`MultiProcessCollector` + `generate_latest`) with two running workers' files
   and 0, 10, 100, 500 dead workers' counter and histogram files beside them (each a copy of a worker's own: reporting's
   metrics imported and touched, as a running service touches them): the best of 5 runs of 20 scrapes, each run's
   median. A dead worker's files stay until the next start of uvicorn (`workers_metrics.forget_dead_workers`).

    .venv/bin/python bench/ops32_metrics.py [--out bench/results/ops32_metrics.json]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

#: run in a process of its own, PROMETHEUS_MULTIPROC_DIR set before prometheus_client is imported
WORKER = """
import timeit
import styrkedja_reporting.main  # noqa: every metric the service defines
from styrkedja_kit import metrics
for group in ("reporting", "reporting-compliance"):
    metrics.CONSUMER_BATCH_SECONDS.labels(group).observe(0.05)
    for topic in ("styrkedja.assessments", "styrkedja.forecasts", "styrkedja.directory"):
        metrics.CONSUMER_APPLIED.labels(group, topic).inc()
        metrics.CONSUMER_DUPLICATES.labels(group, topic).inc()
        metrics.CONSUMER_LAG.labels(group, topic, "0").set(3)
metrics.OUTBOX_PUBLISHED.labels("reporting", "styrkedja.alerts").inc()
process = metrics.WorkerProcess()
process.write()
print(min(timeit.repeat(process.write, number=1000, repeat=5)) / 1000 * 1e6)
"""


def scrape_ms(directory: str) -> float:
    from prometheus_client import CollectorRegistry, generate_latest
    from prometheus_client.multiprocess import MultiProcessCollector

    registry = CollectorRegistry()
    MultiProcessCollector(registry, directory)  # type: ignore[no-untyped-call]
    runs = []
    for _ in range(5):
        times = []
        for _ in range(20):
            started = time.perf_counter()
            generate_latest(registry)
            times.append(time.perf_counter() - started)
        runs.append(statistics.median(times))
    return round(min(runs) * 1000, 3)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args()
    load = os.getloadavg()[0]
    out: dict = {"when": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), "cpus": os.cpu_count()}
    with tempfile.TemporaryDirectory() as workers, tempfile.TemporaryDirectory() as scraped:
        for _ in range(2):  # two running workers' files
            done = subprocess.run([sys.executable, "-c", WORKER], env={**os.environ, "PROMETHEUS_MULTIPROC_DIR": workers},
                                  check=True, capture_output=True, text=True)
            out.setdefault("worker_process_write_us", []).append(round(float(done.stdout.strip()), 1))
        files = sorted(os.listdir(workers))
        out["worker_files"] = {name: {"bytes": os.stat(os.path.join(workers, name)).st_size,
                                      "allocated_bytes": os.stat(os.path.join(workers, name)).st_blocks * 512}
                               for name in files}
        for name in files:
            shutil.copy(os.path.join(workers, name), scraped)
        dead_files = [n for n in files if n.startswith(("counter_", "histogram_"))][:2]  # one worker's pair
        out["scrape_ms_by_dead_workers"] = {}
        made = 0
        for dead in (0, 10, 100, 500):
            for n in range(made, dead):
                for name in dead_files:
                    kind = name.split("_", 1)[0]
                    shutil.copy(os.path.join(workers, name), os.path.join(scraped, f"{kind}_{9_000_000 + n}.db"))
            made = dead
            out["scrape_ms_by_dead_workers"][str(dead)] = scrape_ms(scraped)
    out["load_1min"] = [round(load, 2), round(os.getloadavg()[0], 2)]
    print(json.dumps(out, indent=2))
    if args.out:
        args.out.write_text(json.dumps(out, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())

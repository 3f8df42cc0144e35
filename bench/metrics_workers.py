"""What the multiprocess mode of the metrics costs (round 31, metrics31): one `Counter.inc()` / `Gauge.set()` in memory
(one process) against the same in a spawned worker writing to the shared files (`workers_metrics`), and one scrape of
`metrics.registry()` (every worker's files read and merged) against one of the in-memory registry, with reporting's
metrics imported and touched as a running service touches them.

    .venv/bin/python bench/metrics_workers.py [--out bench/results/metrics31.json]

Each figure: the best of 5 runs of `N` calls (the machine is shared: the best is the least disturbed); the load
average is written with them.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import tempfile
from pathlib import Path

N = 200_000
SCRAPES = 200

#: run in a process of its own (`exec`: nothing of the kit imported before it is a child, when that matters)
MEASURE = """
import os, timeit
if worker:
    os.environ["STYRKEDJA_METRICS_DIR"] = base
import styrkedja_reporting.main  # noqa: every metric the service defines
from prometheus_client import generate_latest
from styrkedja_kit import metrics
from styrkedja_reporting.access.answers import HITS, KEPT_BYTES
lag = metrics.CONSUMER_LAG.labels("reporting", "styrkedja.assessments", "0")
for partition in range(12):  # the series a consuming worker has
    metrics.CONSUMER_LAG.labels("reporting", "styrkedja.assessments", str(partition)).set(partition)
    metrics.CONSUMER_APPLIED.labels("reporting", "styrkedja.assessments").inc()
    metrics.CONSUMER_BATCH_SECONDS.labels("reporting").observe(0.01)
best = lambda f, n: min(timeit.repeat(f, number=n, repeat=5)) / n * 1e9
found = {"counter_inc_ns": best(HITS.inc, n), "gauge_set_ns": best(lambda: KEPT_BYTES.set(123456), n),
         "labelled_gauge_set_ns": best(lambda: lag.set(7), n),
         "scrape_ms": best(lambda: generate_latest(metrics.registry()), scrapes) / 1e6,
         "multiprocess": metrics.multiprocess_dir() is not None,
         "scrape_bytes": len(generate_latest(metrics.registry()))}
answers.put(found)
"""


class _Answer:
    def put(self, found: dict[str, float]) -> None:
        self.found = found


def measure(worker: bool, base: str) -> dict[str, float]:
    """In a spawned process (as uvicorn's workers are) sharing the files, or (`worker` False) in this one: a process
    no supervisor started keeps its metrics in memory."""
    if not worker:
        answer = _Answer()
        exec(MEASURE, {"base": base, "answers": answer, "worker": False, "n": N, "scrapes": SCRAPES})
        return answer.found
    context = multiprocessing.get_context("spawn")
    answers = context.Queue()
    env = {"base": base, "answers": answers, "worker": True, "n": N, "scrapes": SCRAPES}
    child = context.Process(target=exec, args=(MEASURE, env))
    child.start()
    found: dict[str, float] = answers.get(timeout=600)
    child.join(60)
    return found


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--out", default="bench/results/metrics31.json")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as base:
        load_before = os.getloadavg()
        # two workers' files, as compose's `WEB_CONCURRENCY: "2"`: the second's scrape reads the first's too (the
        # first has ended by then: its counters are read, its live gauges forgotten)
        first = measure(True, base)
        second = measure(True, base)
        one = measure(False, base)
        load_after = os.getloadavg()
    result = {"calls": N, "scrapes": SCRAPES, "one_process": one, "worker_first": first,
              "worker_second_of_two": second, "load_average_before": load_before, "load_average_after": load_after,
              "cpus": os.cpu_count()}
    Path(args.out).write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()

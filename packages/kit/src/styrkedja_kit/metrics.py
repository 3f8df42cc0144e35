"""Prometheus metrics of the shared runtime, labelled by service (defined once per process).

Under uvicorn's `--workers N` every worker's values are in `PROMETHEUS_MULTIPROC_DIR` (`workers_metrics`) and a scrape
reads `registry()`: counters and histograms are summed over the workers (a dead worker's counts stay in the sum: a
counter never goes back); each gauge says how its workers' values combine (`multiprocess_mode`, ignored in one
process): `livemostrecent` where one worker at a time measures one thing (the relay's leader the backlog, a
partition's one consumer its lag: the newest measurement, of a worker still running, is the current one — a worker
that measured before a rebalance or a leader change keeps its old value, which `max` or `sum` would count),
`livesum` where each worker holds its own share (cache bytes). A gauge of a worker that died leaves the scrape.

prometheus_client's `process_*` and `python_gc_*` are collectors that read the process answering the scrape, which in
multiprocess mode no registry of the workers' files includes: under `--workers` they were not served at all. Each worker
writes its own (`WorkerProcess`) as `liveall` gauges, the names and values its collectors tell, with a `pid` label: one
series per running worker, gone when it dies — as one process's are when it is replaced (a new pid is a new series, so
`rate()` of a `_total` sees no reset). The `pid` says which process, not whose data (the labels' rule, round 30o).
"""

from __future__ import annotations

import os
import threading
from collections.abc import Iterable

from prometheus_client import (
    GC_COLLECTOR,
    PLATFORM_COLLECTOR,
    PROCESS_COLLECTOR,
    REGISTRY,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
)
from prometheus_client.metrics_core import Metric
from prometheus_client.multiprocess import MultiProcessCollector, mark_process_dead

from .workers_metrics import ENV, forget_dead_workers

OUTBOX_BACKLOG = Gauge("styrkedja_outbox_backlog", "Outbox rows not yet published", ["service"],
                       multiprocess_mode="livemostrecent")
OUTBOX_OLDEST_AGE = Gauge("styrkedja_outbox_oldest_age_seconds", "Age of the oldest unpublished outbox row",
                          ["service"], multiprocess_mode="livemostrecent")
OUTBOX_PUBLISHED = Counter("styrkedja_outbox_published_total", "Outbox rows published", ["service", "topic"])
OUTBOX_PUBLISH_ERRORS = Counter("styrkedja_outbox_publish_errors_total", "Failed publish attempts", ["service"])
OUTBOX_BROKER_LOSS = Counter("styrkedja_outbox_broker_loss_total",
                             "Times the relay found the broker had lost a topic's log and republished",
                             ["service", "topic"])
CONSUMER_APPLIED = Counter("styrkedja_consumer_events_applied_total", "Events applied", ["group", "topic"])
CONSUMER_DUPLICATES = Counter("styrkedja_consumer_duplicates_total", "Re-delivered events skipped",
                              ["group", "topic"])
CONSUMER_DEAD_LETTERED = Counter("styrkedja_consumer_dead_lettered_total", "Events sent to the dead-letter topic",
                                 ["group", "topic", "reason"])
CONSUMER_PREFETCH_DISCARDED = Counter("styrkedja_consumer_prefetch_discarded_total",
                                      "Batches fetched ahead across a rebalance, read again instead", ["group"])
CONSUMER_BATCH_SECONDS = Histogram("styrkedja_consumer_batch_seconds", "Time to apply one batch", ["group"])
CONSUMER_CONFLICT_RETRIES = Counter("styrkedja_consumer_conflict_retries_total",
                                    "Batches run again after PostgreSQL ended them for a concurrent transaction "
                                    "(a deadlock, a serialization failure)", ["group"])
CONSUMER_REWINDS = Counter("styrkedja_consumer_rewinds_total",
                           "Partitions re-read from the beginning after broker state loss", ["group", "topic"])
CONSUMER_LOG_GAPS = Counter("styrkedja_consumer_log_gaps_total",
                            "Partitions whose log did not hold the group's offset (`consumer.log_gap`): `replaced` (the "
                            "offset beyond the log's end: read again from its start), `truncated` (before its start: "
                            "records lost)", ["group", "topic", "kind"])
CONSUMER_RECORDS_LOST = Counter("styrkedja_consumer_log_records_lost_total",
                                "Records between the group's offset and the start of a truncated log (retention "
                                "deleted them before they were applied)", ["group", "topic"])
CONSUMER_STARTS = Counter("styrkedja_consumer_partition_starts_total",
                          "Partitions taken without an offset of their group in the database, by where they were "
                          "read from (`consumer.start_position`)", ["group", "topic", "source"])
CONSUMER_LAG = Gauge("styrkedja_consumer_lag_events", "Events on the partition not yet applied (as of the last fetch)",
                     ["group", "topic", "partition"], multiprocess_mode="livemostrecent")
CONSUMER_UNHANDLED = Counter("styrkedja_consumer_unhandled_total",
                             "Events of a type no handler applies: skipped, not recorded as applied",
                             ["group", "type"])


def multiprocess_dir() -> str | None:
    """The workers' shared directory, or None: one process, its metrics in memory."""
    return os.environ.get(ENV) or None


class _Workers(MultiProcessCollector):
    """Every worker's files, the dead workers' `live*` gauges forgotten first (uvicorn tells no one of a death)."""

    def __init__(self, registry: CollectorRegistry, path: str) -> None:
        super().__init__(registry, path)  # type: ignore[no-untyped-call]  # prometheus_client's own is untyped
        self.path = path

    def collect(self) -> Iterable[Metric]:
        forget_dead_workers(self.path)
        if _process is not None:  # the answering worker's own figures as of now; the others' as of their last write
            _process.write()
        found: Iterable[Metric] = super().collect()  # type: ignore[no-untyped-call]
        return found


_registry: CollectorRegistry | None = None


def registry() -> CollectorRegistry:
    """What a scrape reads: the process's own registry, or (sibling workers) a registry of every worker's files —
    never both, which would tell this worker's series twice. Custom collectors (reporting's answer cache once) tell one
    process's values: the kit's and the services' metrics are Counters, Gauges and Histograms."""
    global _registry
    path = multiprocess_dir()
    if path is None:
        return REGISTRY
    if _registry is None:
        _registry = CollectorRegistry()
        _Workers(_registry, path)  # registers itself
        _registry.register(PLATFORM_COLLECTOR)  # python_info: the same in every worker (one image)
    return _registry


#: how often each worker writes its process and GC figures (`WorkerProcess`): a scrape tells another worker's as of at
#: most this long ago. One write reads /proc/self (3 files) and gc.get_stats() and sets 15 values.
PROCESS_WRITE_SECONDS = 1.0


class WorkerProcess:
    """One worker's `process_*` and `python_gc_*` written to the workers' directory, as prometheus_client's own
    collectors tell them, by a thread of its own every `PROCESS_WRITE_SECONDS`: a worker busy on its event loop (a
    long apply, a heap walk) still writes them, and needs no scrape to. Not from `gc.callbacks` at each collection:
    the values' writes take prometheus_client's one lock, which a collection started inside a write would wait for
    forever (it is not reentrant)."""

    def __init__(self, seconds: float = PROCESS_WRITE_SECONDS) -> None:
        self.seconds = seconds
        self.gauges: dict[str, Gauge] = {}
        self.stopped = threading.Event()
        self.thread = threading.Thread(target=self._run, name="metrics-process", daemon=True)

    def write(self) -> None:
        for collector in (PROCESS_COLLECTOR, GC_COLLECTOR):
            for metric in collector.collect():
                for sample in metric.samples:
                    gauge = self.gauges.get(sample.name)
                    if gauge is None:  # in no registry: the workers' files are what a scrape reads
                        gauge = self.gauges[sample.name] = Gauge(
                            sample.name, metric.documentation, sorted(sample.labels), registry=None,
                            multiprocess_mode="liveall")
                    (gauge.labels(**sample.labels) if sample.labels else gauge).set(sample.value)

    def _run(self) -> None:
        while not self.stopped.wait(self.seconds):
            self.write()

    def start(self) -> None:
        self.write()  # at once: a scrape right after the start tells this worker
        self.thread.start()

    def stop(self) -> None:
        self.stopped.set()
        if self.thread.is_alive():
            self.thread.join()


_process: WorkerProcess | None = None


def start_worker_process() -> None:
    """A worker of several: its process and GC figures written from now on (one process: its registry's collectors
    tell them, nothing to write)."""
    global _process
    if multiprocess_dir() is not None and _process is None:
        _process = WorkerProcess()
        _process.start()


def leave() -> None:
    """A worker stopping: its `live*` gauges leave the scrape at once (its counters stay in the sum)."""
    global _process
    if _process is not None:
        _process.stop()
        _process = None
    path = multiprocess_dir()
    if path is not None:
        mark_process_dead(os.getpid(), path)  # type: ignore[no-untyped-call]  # prometheus_client's own is untyped

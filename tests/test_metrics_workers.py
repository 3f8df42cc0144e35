"""/metrics of a service under uvicorn's `--workers 2` tells every worker's counters (round 31, metrics31).

Before, each worker kept its own: the metrics listener (bound by the first worker) told that worker's reads alone, and
`/metrics` on the app port whichever worker took the connection. Now each worker writes its values to the supervisor's
directory (kit `workers_metrics`) and any scrape reads all of them. Prometheus's semantics for a worker killed and
replaced: its counters stay in the sum (a counter never goes back, so no reset is seen and nothing is counted twice: the
new worker starts its own at zero); its `livesum`/`livemostrecent` gauges leave the scrape (its cache is gone with it).
No time is asserted: the waits below are for conditions, bounded only so that a broken run ends."""

from __future__ import annotations

import os
import random
import re
import signal
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest
from test_hostile_round30o import LABELS_ALLOWED

from stacks import start_at_log_end
from styrkedja_devstack.postgres import free_port
from styrkedja_devstack.pytest_plugin import migrated_database
from styrkedja_devstack.services import SERVICES, ServiceProcess
from styrkedja_kit.workers_metrics import process_start
from support import organisation_number

pytestmark = [pytest.mark.integration]

ORG = organisation_number(random.Random(31))
READS = ("styrkedja_read_answers_hits_total", "styrkedja_read_answers_misses_total")


@pytest.fixture
def reporting(infrastructure, token_issuer, tmp_path):
    if infrastructure.broker_kind != "embedded":
        pytest.skip("the metrics do not depend on the broker: run once, on the embedded one")
    run = uuid.uuid4().hex[:8]
    spec = next(s for s in SERVICES if s.name == "reporting")
    url = migrated_database(infrastructure, spec.package, f"metrics31_{run}")
    group = f"reporting-metrics31-{run}"
    process = ServiceProcess(spec, database_url=url, kafka_bootstrap_servers=infrastructure.kafka_bootstrap_servers,
                             port=free_port(), log_dir=tmp_path / "logs", workers=2,
                             extra_env={"STYRKEDJA_CONSUMER_GROUP": group, "STYRKEDJA_AUTH_ISSUER": token_issuer.url,
                                        "STYRKEDJA_METRICS_DIR": str(tmp_path / "metrics"),
                                        "STYRKEDJA_METRICS_PORT": str(free_port()), "STYRKEDJA_LOG_LEVEL": "WARNING"})
    start_at_log_end(infrastructure.kafka_bootstrap_servers, group, url)
    try:
        yield process.start()
    finally:
        process.stop()


def _values(text: str, *names: str) -> float:
    return sum(float(line.rpartition(" ")[2]) for line in text.splitlines()
               if line.partition("{")[0].partition(" ")[0] in names)


def _scrape(url: str) -> str:
    response = httpx.get(url, timeout=30)
    assert response.status_code == 200, response.text
    return response.text


def _worker_files(directory: Path) -> dict[int, Path]:
    """Each worker's counter file (made at its import: reporting's answer counters have no labels), by its pid."""
    return {int(found[1]): path for path in directory.glob("counter_*.db")
            if (found := re.fullmatch(r"counter_(\d+)\.db", path.name))}


def _reads_of(path: Path) -> float:
    from prometheus_client.multiprocess import MultiProcessCollector

    return sum(sample.value for metric in MultiProcessCollector.merge([str(path)])
               for sample in metric.samples if sample.name in READS)


def _until(what: str, check, tries: int = 600):
    for _ in range(tries):
        found = check()
        if found:
            return found
        time.sleep(0.1)
    raise AssertionError(f"never: {what}")


def test_one_scrape_counts_the_reads_of_both_workers_and_a_replaced_worker_loses_none(reporting, token_issuer,
                                                                                       tmp_path):
    """Reads answered by both of reporting's workers (each saw some: their own files say so) are all in one scrape —
    hits + misses of the answer cache = the reads sent — on the app port (any worker answers it) and on the metrics
    listener alike. Then a worker SIGKILLed and replaced by uvicorn: the total is unchanged, the dead worker's gauges
    left the scrape, and further reads add to it. Failed on the old code: a scrape told one worker's reads."""
    reporting.wait_ready(120)
    headers = {"Authorization": "Bearer " + token_issuer.mint(roles=["organiser_admin"], organisers=[ORG])}
    directory = tmp_path / "metrics" / f"{reporting.process.pid}-{process_start(reporting.process.pid)}"
    workers = _until("both workers' files", lambda: len(_worker_files(directory)) == 2 and _worker_files(directory))
    metrics_port = reporting.env["STYRKEDJA_METRICS_PORT"]
    listener = f"http://127.0.0.1:{metrics_port}/metrics"

    def read(_: int) -> None:
        with httpx.Client(timeout=60) as client:  # a connection each: the kernel hands it to either worker
            response = client.get(reporting.url + "/v1/alerts", params={"organiser_id": ORG}, headers=headers)
            assert response.status_code == 200, response.text

    sent = 0
    with ThreadPoolExecutor(8) as pool:
        for _ in range(50):  # until each worker answered some (concurrent connections spread over both)
            list(pool.map(read, range(32)))
            sent += 32
            if all(_reads_of(path) > 0 for path in workers.values()):
                break
        assert all(_reads_of(path) > 0 for path in workers.values()), {pid: _reads_of(p) for pid, p in workers.items()}
    # every scrape, by whichever worker, tells the whole: N reads sent → N counted
    for _ in range(6):
        assert _values(_scrape(reporting.url + "/metrics"), *READS) == sent
    assert _values(_scrape(listener), *READS) == sent
    # the guard of round 30o holds for the workers' scrape too: no label but those allowed; a `pid` (which process, not
    # whose data) on each worker's own process and GC figures alone (and python_info's, prometheus_client's own, as in one
    # process) — the kit's gauges combine the workers' values
    names = {name for line in _scrape(listener).splitlines() if not line.startswith(("#", "process_", "python_"))
             for name in re.findall(r'[{,]([a-z_]+)="', line)}
    assert names and names <= LABELS_ALLOWED | {"le"}, names
    # ops32: each worker's process and GC figures, on either port (prometheus_client's collectors tell the process that
    # answers, and no registry of the workers' files had them: none were served)
    for url in (reporting.url + "/metrics", listener):
        assert _per_worker(_scrape(url)) == set(workers), url

    dead = min(workers)
    os.kill(dead, signal.SIGKILL)
    # (a bound only: on a loaded machine a new worker took over 60 s to import)
    replaced = _until("a new worker", lambda: set(_worker_files(directory)) - set(workers), tries=1800)
    _until("the new worker serving", lambda: _ready(reporting.url) and _answers(listener))
    text = _scrape(reporting.url + "/metrics")
    assert _values(text, *READS) == sent  # the dead worker's counts stay: nothing lost, nothing twice
    assert not list(directory.glob(f"gauge_live*_{dead}.db"))  # its cache is gone: so are its gauges
    kept = _values(text, "styrkedja_read_answers_kept_bytes")
    live = [pid for pid in (*workers, *replaced) if pid != dead]
    assert kept == _live_kept_bytes(directory, live) > 0
    assert _per_worker(text) <= set(live)  # the dead worker's figures left with it
    # the new one's come with its start (the ready probe above may have been answered by the other)
    _until("the new worker's figures", lambda: _per_worker(_scrape(listener)) == set(live))

    with ThreadPoolExecutor(8) as pool:
        list(pool.map(read, range(32)))
    assert _values(_scrape(reporting.url + "/metrics"), *READS) == sent + 32
    assert _values(_scrape(listener), *READS) == sent + 32


#: each worker's figures: one series per running worker (`pid`), as prometheus_client's collectors name them
PER_WORKER = ("process_cpu_seconds_total", "process_resident_memory_bytes", "process_open_fds",
              "process_start_time_seconds", 'python_gc_collections_total{generation="2"',
              'python_gc_objects_collected_total{generation="0"')


def _per_worker(text: str) -> set[int]:
    """The pids whose every figure of `PER_WORKER` the scrape tells (each once)."""
    found: dict[str, list[int]] = {name: [] for name in PER_WORKER}
    for line in text.splitlines():
        for name in PER_WORKER:
            if line.startswith(name + ("," if "{" in name else "{")) and (pid := re.search(r'pid="(\d+)"', line)):
                found[name].append(int(pid[1]))
    pids = {pid for pids in found.values() for pid in pids}
    assert all(sorted(pids) == sorted(each) for each in found.values()), found
    return pids


def _ready(url: str) -> bool:
    try:
        return httpx.get(url + "/readyz", timeout=10).status_code == 200
    except httpx.HTTPError:
        return False


def _answers(url: str) -> bool:
    try:
        return httpx.get(url, timeout=10).status_code == 200
    except httpx.HTTPError:
        return False


def _live_kept_bytes(directory: Path, pids: list[int]) -> float:
    from prometheus_client.multiprocess import MultiProcessCollector

    files = [str(path) for pid in pids for path in directory.glob(f"gauge_livesum_{pid}.db")]
    return sum(sample.value for metric in MultiProcessCollector.merge(files)
               for sample in metric.samples if sample.name == "styrkedja_read_answers_kept_bytes")

"""`styrkedja run` starts the reading and bulk-writing services with several uvicorn workers."""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterator
from pathlib import Path

import psutil
import pytest

from styrkedja_devstack.issuer import DevIssuer
from styrkedja_devstack.postgres import free_port
from styrkedja_devstack.services import DASHBOARD, RUN_WORKERS, ServiceProcess, dashboard_env, run_workers


def test_run_gives_the_readers_one_worker_the_bulk_writers_two_and_the_variable_overrides():
    assert run_workers("reporting", {}) == 1
    assert run_workers("assessment", {}) == 2  # the bulk writers: bench/results/write6.json
    assert run_workers("forecast", {}) == 2
    assert run_workers("lika", {}) == RUN_WORKERS["lika"]
    assert run_workers("reporting", {"STYRKEDJA_WORKERS_REPORTING": "4"}) == 4
    assert run_workers("reporting", {"STYRKEDJA_WORKERS_REPORTING": " "}) == 1
    for bad in ("0", "-1", "two", "65"):
        with pytest.raises(ValueError, match="STYRKEDJA_WORKERS_REPORTING"):
            run_workers("reporting", {"STYRKEDJA_WORKERS_REPORTING": bad})


@contextlib.contextmanager
def _dashboard_of_two_workers(tmp_path: Path) -> Iterator[tuple[psutil.Process, list[psutil.Process]]]:
    """The dashboard (no database, no broker) under uvicorn with two workers, ready: its supervisor and workers."""
    issuer = DevIssuer(tmp_path, port=None).start()
    port = free_port()
    process = ServiceProcess(DASHBOARD, database_url="", kafka_bootstrap_servers="", port=port, workers=2,
                             log_dir=tmp_path / "logs",
                             extra_env=dashboard_env(issuer_url=issuer.url, reporting_url="http://127.0.0.1:9",
                                                     lika_url="http://127.0.0.1:9", port=port))
    try:
        process.start()
        process.wait_ready(60)
        assert process.process is not None
        supervisor = psutil.Process(process.process.pid)
        yield supervisor, _workers(supervisor)
    finally:
        process.stop()
        issuer.stop()


def _workers(supervisor: psutil.Process) -> list[psutil.Process]:
    return [p for p in supervisor.children(recursive=True) if "spawn_main" in " ".join(p.cmdline())]


def test_a_service_with_two_workers_answers_from_two_processes_and_stops_whole(tmp_path):
    with _dashboard_of_two_workers(tmp_path) as (_, workers):
        assert len(workers) == 2, [p.cmdline() for p in workers]
    assert not any(p.is_running() and p.status() != psutil.STATUS_ZOMBIE for p in workers)
    assert not any(p.is_running() and p.status() != psutil.STATUS_ZOMBIE for p in workers)


def test_the_worker_health_check_waits_longer_than_a_consumer_session():
    """uvicorn's supervisor kills a worker that does not answer its health check in time: the devstack and every
    image give it `WORKER_HEALTHCHECK_TIMEOUT_S`, well above the group's session, so a stalled worker loses its
    partitions (a rebalance) long before it is killed (its requests lost)."""
    from styrkedja_devstack.services import WORKER_HEALTHCHECK_TIMEOUT_S
    from styrkedja_kit.kafka import (
        SESSION_SHARED_WITHOUT_STATIC_MEMBERSHIP_MS,
        SESSION_WITH_STATIC_MEMBERSHIP_MS,
        SESSION_WITHOUT_STATIC_MEMBERSHIP_MS,
    )

    sessions = (SESSION_SHARED_WITHOUT_STATIC_MEMBERSHIP_MS, SESSION_WITH_STATIC_MEMBERSHIP_MS,
                SESSION_WITHOUT_STATIC_MEMBERSHIP_MS)
    assert 5 * max(sessions) <= WORKER_HEALTHCHECK_TIMEOUT_S * 1000
    root = Path(__file__).resolve().parents[3]
    dockerfiles = sorted((root / "services").glob("*/Dockerfile"))
    assert len(dockerfiles) == 5
    for dockerfile in dockerfiles:
        assert f'"--timeout-worker-healthcheck", "{WORKER_HEALTHCHECK_TIMEOUT_S}"' in dockerfile.read_text(), dockerfile


def test_a_worker_that_stops_answering_for_longer_than_uvicorns_default_is_not_replaced(tmp_path):
    """A worker stopped (SIGSTOP: its health-check thread cannot answer, as when it holds the GIL or gets no CPU)
    for 8 s, longer than uvicorn's default 5 s, is the same process after it goes on: not killed and replaced."""
    with _dashboard_of_two_workers(tmp_path) as (supervisor, workers):
        assert len(workers) == 2
        stopped = workers[0]
        stopped.suspend()
        try:
            time.sleep(8)
        finally:
            with contextlib.suppress(psutil.NoSuchProcess):  # killed meanwhile: the assertions below say so
                stopped.resume()
        time.sleep(1)
        assert stopped.is_running() and stopped.status() != psutil.STATUS_ZOMBIE
        assert {p.pid for p in _workers(supervisor)} == {w.pid for w in workers}
        assert "died" not in (tmp_path / "logs" / "dashboard.log").read_text()

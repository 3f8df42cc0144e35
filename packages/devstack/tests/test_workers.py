"""`styrkedja run` starts the reading and bulk-writing services with several uvicorn workers."""

from __future__ import annotations

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


def test_a_service_with_two_workers_answers_from_two_processes_and_stops_whole(tmp_path):
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
        workers = [p for p in psutil.Process(process.process.pid).children(recursive=True)
                   if "spawn_main" in " ".join(p.cmdline())]
        assert len(workers) == 2, [p.cmdline() for p in workers]
    finally:
        process.stop()
        issuer.stop()
    assert not any(p.is_running() and p.status() != psutil.STATUS_ZOMBIE for p in workers)

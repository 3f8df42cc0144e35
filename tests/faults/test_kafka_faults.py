"""Fault tests on Apache Kafka (KRaft, durable logs): the broker SIGKILLed and restarted mid-stream,
the broker frozen with SIGSTOP for 30 s, and — on both brokers — reporting's PostgreSQL restarted
mid-stream. Producers and consumers recover by themselves and every cell equals a recomputation."""

from __future__ import annotations

import shutil
import tempfile
import threading
import time
import uuid
from pathlib import Path

import httpx
import pytest

from stacks import start_at_log_end
from styrkedja_devstack.postgres import EmbeddedPostgres, free_port
from styrkedja_devstack.pytest_plugin import migrated_database
from styrkedja_devstack.services import SERVICES, ServiceProcess, database_url
from styrkedja_kit.migrations import upgrade
from support import Mittkoping, Tokens, ingest, wait_until_exact

# an ingest, a wait of up to 180 s for reporting, then its recomputation (up to 120 s): the session's 240 s
# cut a failing run off before `wait_until_exact` said what reporting's consumer was doing (a passing run
# takes no longer for it)
pytestmark = [pytest.mark.integration, pytest.mark.e2e, pytest.mark.timeout(480)]

FAST_RECOVERY = {
    "STYRKEDJA_CONSUMER_SESSION_TIMEOUT_MS": "6000",
    "STYRKEDJA_CONSUMER_HEARTBEAT_INTERVAL_MS": "1000",
    "STYRKEDJA_OUTBOX_LOSS_CHECK_INTERVAL_SECONDS": "1",
    "STYRKEDJA_LOG_LEVEL": "WARNING",
}


@pytest.fixture
def apache_kafka(infrastructure):
    if infrastructure.broker_kind != "kafka":
        pytest.skip("Apache Kafka only: the embedded broker's restart loses every log (see test_crashes)")
    return infrastructure.broker


def consistent(reporting_url: str, tokens: Tokens) -> bool:
    """Reporting's own check that every cell equals a recomputation: a whole recomputation, which takes
    more than httpx's default 5 s on a loaded machine (two of five runs timed out reading its answer)."""
    return bool(httpx.get(reporting_url + "/v1/admin/consistency", headers=tokens.ops(), timeout=120).json()["consistent"])


def broker_loss_reported(stack_url: str) -> bool:
    return "styrkedja_outbox_broker_loss_total{" in httpx.get(stack_url + "/metrics").text


def in_background(action) -> tuple[threading.Thread, list]:
    errors: list = []

    def run() -> None:
        try:
            action()
        except BaseException as exc:  # re-raised by the test
            errors.append(exc)

    thread = threading.Thread(target=run)
    thread.start()
    return thread, errors


def test_kafka_sigkilled_and_restarted_mid_stream_loses_and_doubles_nothing(apache_kafka, stack):
    data = Mittkoping(seed=21)
    restarts = []

    def kill_and_restart() -> None:
        time.sleep(2.0)  # mid-stream: the first batches are on the broker, more are being written
        apache_kafka.restart(kill=True)  # SIGKILL, then the same node, ports and log folder again
        restarts.append(time.monotonic())

    thread, errors = in_background(kill_and_restart)
    try:
        ingest(stack.url("assessment"), data, new=4000, revisions=600, retractions=200, duplicates=200,
               batch_size=200, tokens=stack.tokens)
    finally:
        thread.join()
    assert not errors, errors
    assert restarts, "the broker must really have been killed mid-stream"
    wait_until_exact(stack.url("reporting"), data, timeout=180, tokens=stack.tokens)
    assert consistent(stack.url("reporting"), stack.tokens)
    # the logs survived, so the relay had no reason to republish whole topics
    assert not broker_loss_reported(stack.url("assessment")), "a durable broker was taken for one that lost its logs"


def test_kafka_frozen_with_sigstop_for_30_seconds_then_resumed(apache_kafka, stack):
    data = Mittkoping(seed=22)
    paused = []

    def freeze() -> None:
        time.sleep(1.0)
        apache_kafka.pause()
        paused.append(time.monotonic())
        try:
            time.sleep(30)
        finally:
            apache_kafka.resume()

    thread, errors = in_background(freeze)
    try:
        # the write API keeps taking assessments: they wait in the outbox while the broker is frozen
        ingest(stack.url("assessment"), data, new=3000, revisions=400, retractions=100, duplicates=100,
               batch_size=200, tokens=stack.tokens)
    finally:
        thread.join()
    assert not errors, errors
    assert paused
    wait_until_exact(stack.url("reporting"), data, timeout=180, tokens=stack.tokens)
    assert consistent(stack.url("reporting"), stack.tokens)
    assert not broker_loss_reported(stack.url("assessment"))


@pytest.fixture
def stack_with_own_reporting_postgres(infrastructure, token_issuer, tmp_path):
    """The four services, reporting on a PostgreSQL server of its own that the test may restart."""
    folder = Path(tempfile.mkdtemp(prefix="styrkedja-test-reporting-pg-"))
    folder.chmod(0o755)
    reporting_pg = EmbeddedPostgres(folder / "pgdata").start()
    run = uuid.uuid4().hex[:8]
    processes = {}
    try:
        for spec in SERVICES:
            if spec.name == "reporting":
                reporting_pg.create_database(f"e2e_reporting_{run}")
                url = database_url(reporting_pg.server_url(), f"e2e_reporting_{run}")
                upgrade(spec.package, url)
            else:
                url = migrated_database(infrastructure, spec.package, f"e2e_{spec.name}_{run}")
            processes[spec.name] = ServiceProcess(
                spec, database_url=url, kafka_bootstrap_servers=infrastructure.kafka_bootstrap_servers,
                port=free_port(), log_dir=tmp_path / "logs",
                extra_env={**FAST_RECOVERY, "STYRKEDJA_CONSUMER_GROUP": f"reporting-{run}",
                           "STYRKEDJA_AUTH_ISSUER": token_issuer.url})
        start_at_log_end(infrastructure.kafka_bootstrap_servers, f"reporting-{run}",
                         processes["reporting"].env["STYRKEDJA_DATABASE_URL"])
        for process in processes.values():
            process.start()
        for process in processes.values():
            process.wait_ready(90)
        yield processes, reporting_pg, Tokens(token_issuer)
    finally:
        for process in processes.values():  # SIGTERM to all at once: the graceful shutdowns overlap
            process.terminate()
        for process in processes.values():
            process.stop()
        reporting_pg.stop()
        shutil.rmtree(folder, ignore_errors=True)


def test_reporting_postgres_restarted_mid_stream_stays_exact(stack_with_own_reporting_postgres):
    processes, reporting_pg, tokens = stack_with_own_reporting_postgres
    data = Mittkoping(seed=23)
    restarted = []

    def restart_postgres() -> None:
        time.sleep(2.0)
        reporting_pg.stop()  # fast shutdown: open transactions are rolled back, connections cut
        time.sleep(3.0)
        reporting_pg.start()
        restarted.append(time.monotonic())

    thread, errors = in_background(restart_postgres)
    try:
        ingest(processes["assessment"].url, data, new=4000, revisions=600, retractions=200, duplicates=200,
               batch_size=200, tokens=tokens)
    finally:
        thread.join()
    assert not errors, errors
    assert restarted
    wait_until_exact(processes["reporting"].url, data, timeout=180, tokens=tokens)
    assert consistent(processes["reporting"].url, tokens)

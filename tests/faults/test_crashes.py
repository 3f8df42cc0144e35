"""Fault tests: SIGKILL of the reporting process in the middle of the stream, and a broker that
restarts empty (the embedded broker keeps topics in memory only). Figures must stay exact."""

from __future__ import annotations

import signal
import time

import httpx
import pytest

from stacks import running_stack
from support import Mittkoping, ingest, killed_meanwhile, wait_until_exact

pytestmark = [pytest.mark.integration, pytest.mark.e2e]


def test_reporting_killed_with_sigkill_mid_stream_stays_exact(stack):
    data = Mittkoping(seed=3)
    # kill while events are being applied, wait a moment, start again; three times
    with killed_meanwhile(stack.processes["reporting"], (2.0, 2.0, 2.0), down=0.5, ready_timeout=60) as kills:
        report = ingest(stack.url("assessment"), data, new=5000, revisions=800, retractions=300, duplicates=300,
                        batch_size=250, tokens=stack.tokens)
    assert len(kills) == 3, "the reporting process must really have been killed mid-stream"
    wait_until_exact(stack.url("reporting"), data, tokens=stack.tokens)
    assert httpx.get(stack.url("reporting") + "/v1/admin/consistency", timeout=120, headers=stack.tokens.ops()).json()["consistent"]
    print(f"\n{report.posted} items, reporting SIGKILLed {len(kills)} times, figures exact")


@pytest.fixture
def embedded_broker(infrastructure):
    """Skips before the stack starts (a fixture listed ahead of `stack`), not after."""
    if infrastructure.broker_kind != "embedded":
        pytest.skip("only the embedded broker restarts empty (Apache Kafka's logs survive: see test_kafka_faults)")
    return infrastructure.broker


def test_broker_restarting_empty_loses_nothing(embedded_broker, stack, infrastructure):
    try:
        _restarted_empty(stack, infrastructure)
    finally:  # the session's broker as the tests after this one count on it: every registry topic, its partitions
        infrastructure.ensure_topics(repair=True)


def _restarted_empty(stack, infrastructure) -> None:
    data = Mittkoping(seed=4)
    reporting = stack.processes["reporting"]
    ingest(stack.url("assessment"), data, new=1000, revisions=0, retractions=0, duplicates=0, tokens=stack.tokens)
    reporting.kill()
    # published to the broker but not yet consumed by anyone when the broker goes
    ingest(stack.url("assessment"), data, new=1000, revisions=0, retractions=0, duplicates=0, tokens=stack.tokens)
    time.sleep(1.0)
    infrastructure.broker.restart()  # every topic, message and group offset is gone
    reporting.start()
    ingest(stack.url("assessment"), data, new=1000, revisions=300, retractions=100, duplicates=100, tokens=stack.tokens)
    wait_until_exact(stack.url("reporting"), data, tokens=stack.tokens)
    assert httpx.get(stack.url("reporting") + "/v1/admin/consistency", timeout=120, headers=stack.tokens.ops()).json()["consistent"]
    metrics = httpx.get(stack.url("assessment") + "/metrics").text
    assert 'styrkedja_outbox_broker_loss_total{service="assessment",topic="styrkedja.assessments"}' in metrics


@pytest.fixture
def reporting_alone(infrastructure, token_issuer, tmp_path):
    """Reporting's process by itself (consumer and all), not the four: the other three play no part here."""
    with running_stack(infrastructure, token_issuer, tmp_path / "logs", services=("reporting",)) as own:
        yield own


def test_sigterm_stops_a_service_cleanly(reporting_alone):
    stack = reporting_alone
    reporting = stack.processes["reporting"]
    started = time.monotonic()
    reporting.stop(timeout=30)
    # uvicorn re-raises SIGTERM after its graceful shutdown, so the exit status is -15, not 0 or -9
    assert reporting.process.returncode in (0, -signal.SIGTERM)
    assert time.monotonic() - started < 25, "a clean stop must not wait for the kill timeout"
    log = (stack.log_dir / "reporting.log").read_text()
    assert "Application shutdown complete" in log  # the lifespan ran to its end: consumer and pool closed

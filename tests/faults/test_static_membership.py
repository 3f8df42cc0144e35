"""Static membership on Apache Kafka: reporting SIGKILLed and started again with the same
`group.instance.id` gets its partitions back from the coordinator without a new rebalance (the same
group generation, the same partitions), and its /readyz tells the membership, the lag and how fresh
the applied events are. No timing is asserted: the session is long (45 s), so a member that had to
wait for a rebalance would show it as a new generation, however fast the machine.
(The embedded broker has no static membership: it gets a 1 s session instead, see
`styrkedja_kit.kafka.group_timing`, and `bench/restart.py` measures both.)"""

from __future__ import annotations

import asyncio
import time
import uuid
from datetime import UTC, date, datetime

import httpx
import pytest

from stacks import start_at_log_end
from styrkedja_contracts import AssessmentPublishedV1, new_event
from styrkedja_devstack.postgres import free_port
from styrkedja_devstack.pytest_plugin import migrated_database
from styrkedja_devstack.services import SERVICES, ServiceProcess
from support import Mittkoping

pytestmark = [pytest.mark.integration, pytest.mark.e2e]

INSTANCE = "reporting-static-0"


@pytest.fixture
def reporting(infrastructure, token_issuer, tmp_path):
    if infrastructure.broker_kind != "kafka":
        pytest.skip("Apache Kafka only: the embedded broker has no static membership")
    run = uuid.uuid4().hex[:8]
    spec = next(s for s in SERVICES if s.name == "reporting")
    url = migrated_database(infrastructure, spec.package, f"e2e_static_{run}")
    process = ServiceProcess(spec, database_url=url, kafka_bootstrap_servers=infrastructure.kafka_bootstrap_servers,
                             port=free_port(), log_dir=tmp_path / "logs",
                             extra_env={"STYRKEDJA_CONSUMER_GROUP": f"reporting-static-{run}",
                                        "STYRKEDJA_CONSUMER_GROUP_INSTANCE_ID": INSTANCE,
                                        "STYRKEDJA_CONSUMER_SESSION_TIMEOUT_MS": "45000",
                                        "STYRKEDJA_CONSUMER_HEARTBEAT_INTERVAL_MS": "1000",
                                        "STYRKEDJA_AUTH_ISSUER": token_issuer.url,  # only the probes are open
                                        "STYRKEDJA_LOG_LEVEL": "WARNING"})
    start_at_log_end(infrastructure.kafka_bootstrap_servers, f"reporting-static-{run}", url)  # not before
    try:
        yield process
    finally:
        process.stop()


def consumer_status(process: ServiceProcess, until, what: str, headers: dict[str, str], timeout: float = 90) -> dict:
    """The consumer's part of /readyz (told to an `ops` token alone: round 30o), once `until(status)` holds."""
    deadline = time.monotonic() + timeout
    status: dict = {}
    while time.monotonic() < deadline:
        response = httpx.get(process.url + "/readyz", headers=headers, timeout=5)
        if response.status_code == 200:
            (status,) = response.json()["consumers"]
            if until(status):
                return status
        time.sleep(0.2)
    raise AssertionError(f"reporting's consumer never showed {what}: {status}")


def send(bootstrap: str, events) -> None:
    from aiokafka import AIOKafkaProducer

    async def run() -> None:
        producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all")
        await producer.start()
        try:
            for event in events:
                await producer.send("styrkedja.assessments", key=event.partition_key(), value=event.to_bytes())
            await producer.flush()
        finally:
            await producer.stop()

    asyncio.run(run())


def test_a_static_member_restarted_after_sigkill_gets_its_partitions_back_without_a_rebalance(
        reporting, infrastructure, token_issuer):
    ops = {"Authorization": f"Bearer {token_issuer.mint(roles=['ops'])}"}
    reporting.start()
    reporting.wait_ready(90)
    before = consumer_status(reporting, lambda s: s["lag"] != "unknown", "a known lag", ops)
    assert before["assigned"] and before["partitions"] > 0 and before["generation"] >= 1
    assert before["group_instance_id"] == INSTANCE
    assert before["lag"] == 0  # caught up (a shared broker may hold other tests' events: applied, or none)

    reporting.kill()  # no LeaveGroup: the coordinator still counts the old member in
    reporting.start()
    reporting.wait_ready(90)
    after = consumer_status(reporting, lambda s: s["lag"] != "unknown", "a known lag", ops)
    assert after["generation"] == before["generation"], "a new generation: the group rebalanced"
    assert after["partitions"] == before["partitions"]

    data = Mittkoping(seed=41)
    events = [new_event(AssessmentPublishedV1(
        assessment_id=uuid.uuid4(), revision=1, **{k: v for k, v in body.items() if k != "assessed_on"},
        assessed_on=date.fromisoformat(body["assessed_on"]), published_at=datetime.now(UTC)),
        source="/test/static-membership") for body in data.new_assessments(20)]
    send(infrastructure.kafka_bootstrap_servers, events)
    fresh = consumer_status(reporting, lambda s: s["applied_since_start"] >= len(events) and s["lag"] == 0,
                            "the new events applied", ops)
    assert fresh["newest_applied_event_time"] == max(e.time for e in events).isoformat()
    assert fresh["generation"] == before["generation"]

"""What the broker can do is asked, not assumed from its name; the topic repair deletes nothing unless
enabled; consumer lag is unknown where end offsets do not count records."""

from __future__ import annotations

import asyncio
import math
import uuid

import pytest
from aiokafka.admin import NewTopic

from styrkedja_kit.consumer import consumer_lag
from styrkedja_kit.kafka import (
    BrokerCapabilities,
    broker_capabilities,
    ensure_topics,
    group_timing,
    make_admin,
    make_producer,
)
from styrkedja_kit.settings import ServiceSettings


def test_lag_is_the_distance_to_a_trusted_end_offset():
    assert consumer_lag(150, 100, exact_offsets=True) == 50
    assert consumer_lag(100, 100, exact_offsets=True) == 0


def test_lag_is_unknown_where_the_broker_end_offsets_do_not_count_records():
    assert math.isnan(consumer_lag(1, 0, exact_offsets=False))  # Tansu: 100 records in one batch "end" at 1
    assert math.isnan(consumer_lag(1, 100, exact_offsets=True)), "an end below our own position is a lie"


KAFKA = BrokerCapabilities(idempotent_producer=True, exact_offsets=True, static_membership=True)
TANSU = BrokerCapabilities(idempotent_producer=False, exact_offsets=False, static_membership=False)


def test_the_group_session_follows_the_broker_unless_set():
    assert group_timing(ServiceSettings(), KAFKA) == (6_000, 1_500)
    # a restarted member waits out the dead one's session on a broker without static membership
    assert group_timing(ServiceSettings(), TANSU) == (1_000, 250)
    given = ServiceSettings(consumer_session_timeout_ms=3_000, consumer_heartbeat_interval_ms=500)
    assert group_timing(given, TANSU) == group_timing(given, KAFKA) == (3_000, 500)
    assert group_timing(ServiceSettings(consumer_heartbeat_interval_ms=5_000), TANSU) == (1_000, 999)
    # several sibling workers consume: a longer session there, so that a busy member is not evicted by another's join
    assert group_timing(ServiceSettings(consumer_workers=2), TANSU) == (6_000, 1_500)
    assert group_timing(ServiceSettings(consumer_workers=2), KAFKA) == (6_000, 1_500)


def test_repair_of_auto_created_topics_is_off_unless_enabled(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.delenv("STYRKEDJA_KAFKA_REPAIR_AUTO_CREATED_TOPICS", raising=False)
    assert ServiceSettings().kafka_repair_auto_created_topics is False


@pytest.mark.integration
async def test_idempotent_producer_exactly_where_the_broker_grants_producer_ids(infrastructure):
    settings = ServiceSettings(kafka_bootstrap_servers=infrastructure.kafka_bootstrap_servers)
    capabilities = await broker_capabilities(settings, refresh=True)
    if infrastructure.broker_kind == "embedded":
        assert not capabilities.idempotent_producer and not capabilities.exact_offsets
        assert not capabilities.static_membership and not capabilities.durable_logs
    elif infrastructure.broker_kind == "kafka":
        assert capabilities.idempotent_producer and capabilities.exact_offsets and capabilities.static_membership
        assert capabilities.durable_logs, "the relay's loss check must never run against Apache Kafka"
    producer = make_producer(settings, "caps-test", idempotent=capabilities.idempotent_producer)
    await producer.start()  # an idempotent producer fails here on a broker without InitProducerId
    try:
        topic = f"caps-{uuid.uuid4().hex[:8]}"
        await ensure_topics(settings, [(topic, 2)])
        metadata = await producer.send_and_wait(topic, b"v", key=b"k")
        assert metadata.offset == 0
    finally:
        await producer.stop()


@pytest.mark.integration
async def test_a_misshapen_topic_is_left_alone_when_repair_is_off(infrastructure):
    settings = ServiceSettings(kafka_bootstrap_servers=infrastructure.kafka_bootstrap_servers)
    topic = f"shape-{uuid.uuid4().hex[:8]}"
    admin = make_admin(settings, "shape-test")
    await admin.start()
    try:
        await admin.create_topics([NewTopic(topic, num_partitions=1, replication_factor=1)])
        await ensure_topics(settings, [(topic, 3)], recreate_misshapen=False)
        for _ in range(100):  # Apache Kafka may describe a topic just made without its partitions for a moment
            (described,) = await admin.describe_topics([topic])
            if described["partitions"]:
                break
            await asyncio.sleep(0.1)
        assert len(described["partitions"]) == 1, "an operator's topic is never deleted without the setting"
    finally:
        await admin.close()


@pytest.mark.integration
async def test_the_repair_holds_when_a_producer_auto_creates_the_topic_between_delete_and_create(
        infrastructure, monkeypatch: pytest.MonkeyPatch):
    if infrastructure.broker_kind != "embedded":
        pytest.skip("the repair is the embedded devstack's (never on Apache Kafka: test above)")
    from styrkedja_kit import kafka

    settings = ServiceSettings(kafka_bootstrap_servers=infrastructure.kafka_bootstrap_servers)
    topic = f"race-{uuid.uuid4().hex[:8]}"
    admin = make_admin(settings, "race-test")
    await admin.start()
    real_create = kafka._create_topics
    raced = []

    async def create_after_a_racing_producer(admin_client, topics, config):
        if not raced:  # the first create finds the topic there already, in the broker's own shape
            raced.append(topic)
            await admin.create_topics([NewTopic(topic, num_partitions=1, replication_factor=1)])
        return await real_create(admin_client, topics, config)

    monkeypatch.setattr(kafka, "_create_topics", create_after_a_racing_producer)
    try:
        await admin.create_topics([NewTopic(topic, num_partitions=1, replication_factor=1)])
        await ensure_topics(settings, [(topic, 3)], recreate_misshapen=True)
        (described,) = await admin.describe_topics([topic])
        assert raced and len(described["partitions"]) == 3, "the shape is checked again after the create"
    finally:
        await admin.close()

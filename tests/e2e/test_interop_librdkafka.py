"""Other clients: a librdkafka producer (the confluent-kafka wheel) writes raw CloudEvents into the
topics, and reporting applies them exactly like the outbox's.

The partitioner question: the outbox (aiokafka) and Java clients hash the key with murmur2;
librdkafka's default (`consistent_random`) uses CRC32, so the same organiser lands on another
partition. Producers must set `partitioner=murmur2_random` to keep one organiser on one partition
(and so one writer, in order). Reporting stays exact even when one does not, because it keeps only
the newest revision of each assessment whatever order revisions arrive in — which the second test
proves by sending the newer revision by CRC32 before the older one by murmur2."""

from __future__ import annotations

import uuid
import zlib
from datetime import UTC, date, datetime

import httpx
import pytest
from aiokafka.partitioner import DefaultPartitioner

from styrkedja_contracts import AssessmentPublishedV1, new_event
from support import Mittkoping, wait_until_exact

confluent_kafka = pytest.importorskip("confluent_kafka")

pytestmark = [pytest.mark.integration, pytest.mark.e2e]

TOPIC = "styrkedja.assessments"


def partitions_of(bootstrap: str) -> int:
    from confluent_kafka.admin import AdminClient

    admin = AdminClient({"bootstrap.servers": bootstrap})
    return len(admin.list_topics(TOPIC, timeout=20).topics[TOPIC].partitions)


def murmur2_partition(key: bytes, partitions: int) -> int:
    return DefaultPartitioner()(key, list(range(partitions)), list(range(partitions)))


def published(assessment_id: str, revision: int, body: dict):
    fields = {k: v for k, v in body.items() if k != "assessed_on"}
    return new_event(AssessmentPublishedV1(
        assessment_id=uuid.UUID(assessment_id), revision=revision, **fields,
        assessed_on=date.fromisoformat(body["assessed_on"]), published_at=datetime.now(UTC)),
        source="/interop/librdkafka")


def librdkafka_send(bootstrap: str, events, partitioner: str) -> dict[bytes, set[int]]:
    """Produce with librdkafka; returns the partitions each key was delivered to."""
    producer = confluent_kafka.Producer({"bootstrap.servers": bootstrap, "partitioner": partitioner,
                                         "acks": "all", "linger.ms": 5})
    delivered: dict[bytes, set[int]] = {}
    failures = []

    def on_delivery(error, message) -> None:
        if error is not None:
            failures.append(error)
        else:
            delivered.setdefault(message.key(), set()).add(message.partition())

    for event in events:
        producer.produce(TOPIC, key=event.partition_key(), value=event.to_bytes(), on_delivery=on_delivery)
        producer.poll(0)
    assert producer.flush(60) == 0, "librdkafka could not deliver everything"
    assert not failures, failures
    return delivered


def aiokafka_send(bootstrap: str, events) -> None:
    import asyncio

    from aiokafka import AIOKafkaProducer

    async def send() -> None:
        producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all")
        await producer.start()
        try:
            for event in events:
                await producer.send(TOPIC, key=event.partition_key(), value=event.to_bytes())
            await producer.flush()
        finally:
            await producer.stop()

    asyncio.run(send())


def test_raw_cloudevents_from_librdkafka_with_murmur2_are_applied_like_the_outboxs(stack, infrastructure):
    bootstrap = infrastructure.kafka_bootstrap_servers
    data = Mittkoping(seed=31)
    events = []
    for body in data.new_assessments(600):
        assessment_id = str(uuid.uuid4())
        data.final[assessment_id] = body
        events.append(published(assessment_id, 1, body))
    for assessment_id in data.rng.sample(list(data.final), 150):  # newer revisions
        body = data.revise(assessment_id)
        body = {k: v for k, v in body.items() if k != "assessment_id"}
        data.final[assessment_id] = body
        events.append(published(assessment_id, 2, body))
    events += events[:50]  # a client that sends again: applied once
    delivered = librdkafka_send(bootstrap, events, partitioner="murmur2_random")
    partitions = partitions_of(bootstrap)
    for key, where in delivered.items():
        assert where == {murmur2_partition(key, partitions)}, "murmur2_random must match the outbox's partitioner"
    wait_until_exact(stack.url("reporting"), data, timeout=120, tokens=stack.tokens)
    assert httpx.get(stack.url("reporting") + "/v1/admin/consistency", timeout=120, headers=stack.tokens.ops()).json()["consistent"]


def test_reporting_stays_exact_when_a_producer_uses_librdkafkas_default_partitioner(stack, infrastructure):
    bootstrap = infrastructure.kafka_bootstrap_servers
    partitions = partitions_of(bootstrap)

    def crc32_partition(key: bytes) -> int:  # librdkafka's consistent_random for a non-empty key
        return zlib.crc32(key) % partitions

    for _ in range(100):  # organisers that the two partitioners put on different partitions
        data = Mittkoping(seed=32)
        if all(crc32_partition(o.encode()) != murmur2_partition(o.encode(), partitions) for o in data.organisers):
            break
    bodies = {str(uuid.uuid4()): body for body in data.new_assessments(400)}
    first = {i: published(i, 1, b) for i, b in bodies.items()}
    newer = {}
    for assessment_id in data.rng.sample(list(bodies), 200):
        data.final[assessment_id] = bodies[assessment_id]
        body = {k: v for k, v in data.revise(assessment_id).items() if k != "assessment_id"}
        newer[assessment_id] = published(assessment_id, 2, body)
        bodies[assessment_id] = body
    data.final.update(bodies)
    # the NEWER revisions first, by CRC32 (librdkafka's default) ...
    delivered = librdkafka_send(bootstrap, list(newer.values()), partitioner="consistent_random")
    moved = [key for key, where in delivered.items() if where != {murmur2_partition(key, partitions)}]
    # ... then every first revision by murmur2 (the outbox's client): older ones arrive after newer ones
    aiokafka_send(bootstrap, list(first.values()))
    assert len(moved) == 2, "each organiser's events must really have been split over two partitions"
    wait_until_exact(stack.url("reporting"), data, timeout=120, tokens=stack.tokens)
    assert httpx.get(stack.url("reporting") + "/v1/admin/consistency", timeout=120, headers=stack.tokens.ops()).json()["consistent"]

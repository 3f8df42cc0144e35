"""The harness's start at the log end (`stacks.start_at_log_end`): a new reporting consumer group of a
fresh stack skips what earlier tests left on the shared topics, and never an event published after it
was placed: on each broker (Tansu's end offsets are not Apache Kafka's)."""

from __future__ import annotations

import asyncio
import uuid

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from sqlalchemy import MetaData, select

from stacks import start_at_log_end
from styrkedja_contracts import TOPICS
from styrkedja_devstack.pytest_plugin import migrated_database
from styrkedja_devstack.testing import async_engine
from styrkedja_kit.consumer import define_consumer_tables

pytestmark = pytest.mark.integration

TOPIC = "styrkedja.assessments"


async def _ensure_topic(bootstrap: str) -> None:
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        if TOPIC not in set(await admin.list_topics()):
            await admin.create_topics([NewTopic(TOPIC, TOPICS[TOPIC].partitions, 1)])  # errors answered, not raised
    finally:
        await admin.close()


async def _produce(bootstrap: str, key: bytes, batches: int, size: int) -> list[tuple[int, int]]:
    """`batches` record batches of `size` records each under one key; (partition, offset) of each record."""
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, linger_ms=50)
    await producer.start()
    try:
        placed = []
        for _ in range(batches):
            futures = [await producer.send(TOPIC, b'{"foreign": true}', key=key) for _ in range(size)]
            placed += [(m.partition, m.offset) for m in await asyncio.gather(*futures)]
        return placed
    finally:
        await producer.stop()


async def _read_from(bootstrap: str, tp: TopicPartition, offset: int) -> list[int]:
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False, group_id=None)
    await consumer.start()
    try:
        consumer.assign([tp])
        consumer.seek(tp, offset)
        offsets: list[int] = []
        empty = 0
        while empty < 3:
            batch = await consumer.getmany(tp, timeout_ms=1000)
            empty = 0 if batch else empty + 1
            offsets += [r.offset for r in batch.get(tp, [])]
        return offsets
    finally:
        await consumer.stop()


async def _committed(bootstrap: str, group: str, partitions: list[TopicPartition]) -> dict[TopicPartition, int | None]:
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False, group_id=group)
    await consumer.start()
    try:
        consumer.assign(partitions)
        return {tp: await consumer.committed(tp) for tp in partitions}
    finally:
        await consumer.stop()


async def _stored(database_url: str, group: str) -> dict[TopicPartition, int]:
    _, offsets = define_consumer_tables(MetaData())
    async with async_engine(database_url) as engine, engine.connect() as conn:
        rows = (await conn.execute(select(offsets).where(offsets.c.group_id == group))).all()
    return {TopicPartition(r.topic, r.partition): r.next_offset for r in rows}


def test_a_new_group_starts_at_the_log_end_and_misses_nothing_published_after(infrastructure):
    bootstrap = infrastructure.kafka_bootstrap_servers
    key = f"2{uuid.uuid4().int % 10**9:09d}".encode()
    asyncio.run(_ensure_topic(bootstrap))
    foreign = asyncio.run(_produce(bootstrap, key, batches=3, size=40))  # what "earlier tests" left
    partition = foreign[0][0]
    tp = TopicPartition(TOPIC, partition)
    database = migrated_database(infrastructure, "styrkedja_reporting")
    group = f"reporting-seeded-{uuid.uuid4().hex[:8]}"

    skipped = start_at_log_end(bootstrap, group, database)

    stored = asyncio.run(_stored(database, group))
    assert skipped == sum(stored.values()) and skipped > 0
    assert stored[tp] > foreign[0][1], "the foreign events before the last batch are skipped"
    assert stored[tp] <= foreign[-1][1] + 1, "placed beyond the end of the log: the next event would be skipped"
    # the broker's marker says the same, so a consumer that distrusts a missing marker does not rewind
    assert asyncio.run(_committed(bootstrap, group, list(stored))) == stored
    mine = asyncio.run(_produce(bootstrap, key, batches=1, size=5))  # the stack's own, after
    assert all(p == partition for p, _ in mine)
    assert stored[tp] <= min(o for _, o in mine), "an event published after the start would be skipped"
    read = asyncio.run(_read_from(bootstrap, tp, stored[tp]))
    assert {o for _, o in mine} <= set(read)
    with pytest.raises(RuntimeError, match="not new"):  # a group that has offsets is never moved
        start_at_log_end(bootstrap, group, database)

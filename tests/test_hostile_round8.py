"""Hostile inputs, eighth round: compression bombs, transaction markers at a partition's end, tombstones.

- Compression bombs (tested in packages/kit/tests/test_undecodable_batches.py): aiokafka inflated a whole record
  batch in memory with no limit (200 MB of zeros is 6 KB of zstd); now at most `max_inflated_batch_bytes`, and a
  batch beyond it is an `undecodable_batch` naming the limit. Here: the consumer dead-letters one and goes on.
- A partition whose last entry is a transaction's marker (a transactional producer: the Java client, librdkafka):
  the rebuild's `read_log` waited for its last record's offset + 1 to reach the end offset, which the marker's
  offset holds, and never finished; the live consumer's lag stayed 1 after it.
- A tombstone's dead letter said "not UTF-8 JSON"; now it says it is a tombstone (an empty value).
"""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import pytest
from aiokafka import AIOKafkaProducer, TopicPartition
from test_hostile_events import applied_ids, encoded, fresh_reporting, good, read_dead_letters, reporting_loop
from test_hostile_round7 import librdkafka_produce

from styrkedja_contracts import dead_letter_topic
from styrkedja_kit import kafka
from styrkedja_kit.db import Database
from styrkedja_kit.kafka import broker_capabilities, ensure_topics, registry_topics
from styrkedja_reporting.rebuild.log import read_log
from styrkedja_reporting.settings import ReportingSettings

confluent_kafka = pytest.importorskip("confluent_kafka")

TOPIC, PUBLISHED = "styrkedja.assessments", "se.styrkedja.assessment.published.v1"


def in_transactions(bootstrap: str, partition: int, transactions: list[tuple[list[bytes], bool]]) -> list[int]:
    """Each (values, commit) in a transaction of its own on `partition`, committed or aborted; the offsets of
    the records (each transaction ends with its marker, at the offset after its last record)."""
    producer = confluent_kafka.Producer({"bootstrap.servers": bootstrap, "transactional.id": f"t-{uuid.uuid4()}",
                                         "linger.ms": 0})
    producer.init_transactions(60)
    offsets: list[int] = []
    for values, commit in transactions:
        producer.begin_transaction()
        for value in values:
            producer.produce(TOPIC, key=b"2999", value=value, partition=partition,
                             on_delivery=lambda e, m: offsets.append(m.offset()))
        producer.flush(60)
        (producer.commit_transaction if commit else producer.abort_transaction)(60)
    return offsets


async def transactional_broker(settings: ReportingSettings) -> None:
    if not (await broker_capabilities(settings)).idempotent_producer:
        pytest.skip("the embedded broker grants no producer id: no transactions there")


@pytest.mark.integration
async def test_the_rebuild_reads_to_the_end_of_partitions_ending_with_a_commit_or_an_abort_marker(infrastructure):
    """Failed on the old code: `read_log` never returned (the wait below timed out)."""
    bootstrap = infrastructure.kafka_bootstrap_servers
    settings = ReportingSettings(kafka_bootstrap_servers=bootstrap)
    await transactional_broker(settings)
    await ensure_topics(settings, registry_topics())
    committed, aborted = [good(PUBLISHED) for _ in range(3)], [good(PUBLISHED) for _ in range(2)]
    ends_with_commit = in_transactions(bootstrap, 0, [([encoded(committed[0]), encoded(committed[1])], True)])
    ends_with_abort = in_transactions(bootstrap, 1, [([encoded(committed[2])], True),
                                                     ([encoded(d) for d in aborted], False)])
    log = await asyncio.wait_for(read_log(settings, [TOPIC], client_id="round8-rebuild"), 60)
    read = {item.event.id for item in log.items}
    assert {uuid.UUID(d["id"]) for d in committed} <= read
    assert not {uuid.UUID(d["id"]) for d in aborted} & read
    # the live consumer takes over past each marker (the offset after it), not at the marker
    assert log.next_offsets[(TOPIC, 0)] == ends_with_commit[-1] + 2
    assert log.next_offsets[(TOPIC, 1)] == ends_with_abort[-1] + 2
    # the bulk rebuild's read: the records as runs of tuples made from the fetched batches (`on_raw`), the same ones
    runs: list[Any] = []

    async def taken(records: list[Any]) -> None:
        runs.extend(records)

    raw = await asyncio.wait_for(read_log(settings, [TOPIC], client_id="round8-rebuild-runs", on_raw=taken), 60)
    values = {value for _, _, _, value, *_ in runs}
    assert {encoded(d) for d in committed} <= values and not {encoded(d) for d in aborted} & values
    assert {(t, p, o) for t, p, o, *_ in runs} == ({(item.topic, item.partition, item.offset) for item in log.items}
                                                 | {(r.topic, r.partition, r.offset) for r, _, _ in log.dead})
    assert raw.next_offsets == log.next_offsets and raw.records == log.records


async def feed(bootstrap: str, partition: int, stop: asyncio.Event) -> int:
    """An event on `partition` every 20 ms until `stop`: a busy consumer, whose fetches are never all empty."""
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all")
    await producer.start()
    sent = 0
    try:
        while not stop.is_set():
            await producer.send_and_wait(TOPIC, encoded(good(PUBLISHED)), key=b"2999", partition=partition)
            sent += 1
            await asyncio.sleep(0.02)
    finally:
        await producer.stop()
    return sent


@pytest.mark.integration
async def test_a_busy_consumer_shows_no_lag_after_a_transaction_marker_and_dead_letters_a_tombstone_as_one(
        infrastructure):
    """Failed on the old code: once a transaction's events were applied, its partition's lag stayed 1 (its
    marker) as long as the consumer's fetches brought records from another partition (only a fetch empty on
    every partition looked at the position); the tombstone's dead letter said "message is not UTF-8 JSON"."""
    settings = await fresh_reporting(infrastructure, "round8")
    bootstrap, group, database_url = settings.kafka_bootstrap_servers, settings.consumer_group, settings.database_url
    tombstone = librdkafka_produce(bootstrap, [(b"2999", None)])[0]
    transactional = (await broker_capabilities(settings)).idempotent_producer
    database = Database(database_url, pool_size=3)
    loop = reporting_loop(settings, database, [TOPIC])
    task = asyncio.create_task(loop.run())
    stop = asyncio.Event()
    feeder = asyncio.create_task(feed(bootstrap, 2, stop))
    committed = [good(PUBLISHED) for _ in range(2)]
    wanted = {uuid.UUID(d["id"]) for d in committed}
    lags: list[Any] = []
    try:
        dead = await read_dead_letters(bootstrap, dead_letter_topic(group), {tombstone}, timeout=90)
        if transactional:  # the embedded broker grants no producer id: no transactions there
            await asyncio.to_thread(in_transactions, bootstrap, 0, [([encoded(d) for d in committed], True)])
            applied = await applied_ids(database, group, wanted, pause=0.25)
            assert wanted <= applied, f"not applied: {wanted - applied}"
            await asyncio.sleep(0.5)  # the lag is set after the batch's transaction
            for _ in range(20):
                lags.append(loop.lags.get(TopicPartition(TOPIC, 0)))
                await asyncio.sleep(0.1)
        assert not task.done(), "the consumer loop stopped"
    finally:
        stop.set()
        sent = await feeder
        loop.stop()
        await task
        await database.dispose()
    [(_, headers, _)] = [letter for letter in dead if letter[0] == tombstone]
    assert headers["dlq.reason"] == "undecodable"
    assert "message is empty: a tombstone" in headers["dlq.message"] and "JSON" not in headers["dlq.message"]
    if transactional:
        assert sent > 50
        assert lags == [0] * len(lags), lags


@pytest.mark.integration
async def test_a_batch_inflating_beyond_the_limit_is_dead_lettered_naming_it_and_consumer_and_rebuild_go_on(
        infrastructure, monkeypatch):
    """A zstd batch of librdkafka that inflates beyond `max_inflated_batch_bytes` (here 100 kB: 300 kB of zeros,
    a few hundred bytes compressed) is one `undecodable_batch` dead letter naming the limit; the event after it
    is applied, and the rebuild's read passes it too. The old client inflated any batch whole (a 200 MB bomb:
    400 MB more in every consumer, at each restart)."""
    monkeypatch.setattr(kafka._inflation, "limit", kafka._inflation.limit)  # the settings below set it: put back
    settings = await fresh_reporting(infrastructure, "round8", max_inflated_batch_bytes=100_000)
    bootstrap, group, database_url = settings.kafka_bootstrap_servers, settings.consumer_group, settings.database_url
    [bomb] = librdkafka_produce(bootstrap, [(b"2999", b"\0" * 300_000)], **{"compression.type": "zstd"})
    after = good(PUBLISHED)
    librdkafka_produce(bootstrap, [(b"2999", encoded(after))], **{"compression.type": "zstd"})
    database = Database(database_url, pool_size=3)
    loop = reporting_loop(settings, database, [TOPIC])
    task = asyncio.create_task(loop.run())
    applied: set[uuid.UUID] = set()
    try:
        dead = await read_dead_letters(bootstrap, dead_letter_topic(group), {bomb}, timeout=90)
        applied = await applied_ids(database, group, {uuid.UUID(after["id"])}, pause=0.25)
        assert not task.done(), "the consumer loop stopped"
    finally:
        loop.stop()
        await task
        await database.dispose()
    assert uuid.UUID(after["id"]) in applied
    [(_, headers, _)] = [letter for letter in dead if letter[0] == bomb]
    assert headers["dlq.reason"] == "undecodable_batch"
    assert headers["dlq.message"].startswith(f"the record batch at offsets {bomb[2]}..{bomb[2]} (compression zstd)")
    assert "more than 100000 bytes, the limit (max_inflated_batch_bytes)" in headers["dlq.message"]
    log = await asyncio.wait_for(read_log(settings, [TOPIC], client_id="round8-bomb"), 120)
    assert uuid.UUID(after["id"]) in {item.event.id for item in log.items}
    assert bomb[2] in {record.offset for record, _, _ in log.dead if record.partition == 0}

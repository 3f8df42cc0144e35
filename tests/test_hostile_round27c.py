"""Hostile events, round 27c: large but valid input, and the dead letters of large bad input, on both brokers.

- The rebuild kept every record that does not decode, whole, until it committed (its dead letters go out then): a
  hostile producer's big bad records made its memory grow with the log. A big one is now kept without its bytes and
  read again for its dead letter, which holds what the live consumer's holds.
- A dead-letter topic that takes less than a dead letter may hold (`max.message.bytes` 100,000, set by ops): a bad
  record of 300 kB (`oversized`) between good events. Its dead letter (cut to 960,000 bytes) was refused by the broker,
  the batch's offsets were never stored, and the consumer restarted on the same record for ever: the good event after
  it was never applied. Now the letter is sent again cut shorter (`dlq.truncated`, `dlq.digest`, where it lies).
  The embedded Tansu may not hold a topic to its `max.message.bytes`: there the letter goes out as before.

The unit-level tests are beside the code: packages/kit/tests/test_dead_letter_size.py, test_consumer_batch_bytes.py
(a batch bounded by its records' bytes), services/reporting/tests/integration/test_rebuild_dead_bytes.py. The
statements past 32,767 parameters (compliance windows, LIKA batches, duplicates' digests) are round 27b's
(services/reporting/tests/integration/test_large_inputs_round27b.py).
"""

from __future__ import annotations

import asyncio
import uuid

import pytest
from aiokafka import AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from test_hostile_events import applied_ids, encoded, good, read_dead_letters, reporting_loop

from stacks import start_at_log_end
from styrkedja_contracts import dead_letter_topic
from styrkedja_kit.consumer import record_digest
from styrkedja_kit.db import Database
from styrkedja_kit.kafka import TOPIC_CONFIG, ensure_topics, registry_topics
from styrkedja_kit.migrations import upgrade
from styrkedja_reporting.rebuild import command
from styrkedja_reporting.rebuild.bulk import DEAD_KEPT_BYTES, Rebuilder
from styrkedja_reporting.rebuild.command import run
from styrkedja_reporting.settings import ReportingSettings

#: what ops gave the dead-letter topic (below the 960,000 bytes a dead letter may hold)
SMALL_TOPIC_BYTES = 100_000


@pytest.mark.integration
async def test_a_big_bad_record_is_dead_lettered_on_a_topic_that_takes_less_and_the_pipeline_goes_on(infrastructure):
    bootstrap = infrastructure.kafka_bootstrap_servers
    topic, event_type = "styrkedja.assessments", "se.styrkedja.assessment.published.v1"
    database_url = infrastructure.create_database(f"t_round27c_{uuid.uuid4().hex[:8]}")
    upgrade("styrkedja_reporting", database_url)
    group = f"reporting-round27c-{uuid.uuid4().hex[:8]}"
    start_at_log_end(bootstrap, group, database_url)
    settings = ReportingSettings(database_url=database_url, kafka_bootstrap_servers=bootstrap, consumer_group=group,
                                 outbox_enabled=False, consumer_poll_timeout_ms=100,
                                 consumer_session_timeout_ms=6000, consumer_heartbeat_interval_ms=1000)
    await ensure_topics(settings, registry_topics())
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:  # the dead-letter topic as ops made it, before the consumer's first start
        await admin.create_topics([NewTopic(dead_letter_topic(group), num_partitions=1, replication_factor=1,
                                            topic_configs={**TOPIC_CONFIG,
                                                           "max.message.bytes": str(SMALL_TOPIC_BYTES)})])
    finally:
        await admin.close()
    before, after = good(event_type), good(event_type)
    big = good(event_type)
    big["data"]["note"] = "x" * 300_000  # over `max_event_bytes` (256,000): oversized, under the topic's 1 MiB
    big_value = encoded(big)
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, max_request_size=8 * 1024 * 1024)
    await producer.start()
    try:
        placed = [await (await producer.send(topic, value=value, key=b"2999", partition=0))
                  for value in (encoded(before), big_value, encoded(after))]
    finally:
        await producer.stop()
    where = [(p.topic, p.partition, p.offset) for p in placed]

    database = Database(database_url, pool_size=3)
    loop = reporting_loop(settings, database, [topic])
    task = asyncio.create_task(loop.run())
    applied: set[uuid.UUID] = set()
    wanted = {uuid.UUID(before["id"]), uuid.UUID(after["id"])}
    try:
        dead = await read_dead_letters(bootstrap, dead_letter_topic(group), {where[1]}, timeout=60)
        applied = await applied_ids(database, group, wanted)
    finally:
        loop.stop()
        await task
        await database.dispose()
    letters = [(headers, value) for place, headers, value in dead if place == where[1]]
    assert letters, "the big record's dead letter never went out: the consumer stood on it"
    assert wanted <= applied, "the good event after the big bad record was not applied"
    headers, value = letters[0]
    assert headers["dlq.reason"] == "oversized" and big_value.startswith(value)
    if infrastructure.broker_kind != "embedded":  # the broker holds the topic to its limit: the letter was cut under it
        assert len(value) + len(b"2999") <= SMALL_TOPIC_BYTES
        assert int(headers["dlq.truncated"]) == len(big_value) - len(value) > 0
        assert headers["dlq.digest"] == record_digest(big_value).hex()
    else:  # the embedded broker takes it whole (it does not hold a topic to its max.message.bytes)
        assert value == big_value and "dlq.truncated" not in headers


@pytest.mark.integration
async def test_the_rebuild_dead_letters_a_big_bad_record_it_kept_without_its_bytes_whole(infrastructure, monkeypatch):
    kept: list[int] = []

    class Watched(Rebuilder):
        async def drain(self) -> None:  # the read done: what the rebuild holds of the dead records until its commit
            await super().drain()
            kept.extend(len(record.value or b"") + len(record.key or b"") for record, _, _ in self.dead)

    monkeypatch.setattr(command, "Rebuilder", Watched)
    bootstrap = infrastructure.kafka_bootstrap_servers
    topic, event_type = "styrkedja.assessments", "se.styrkedja.assessment.published.v1"
    database_url = infrastructure.create_database(f"t_round27c_rb_{uuid.uuid4().hex[:8]}")
    upgrade("styrkedja_reporting", database_url)
    settings = ReportingSettings(database_url=database_url, kafka_bootstrap_servers=bootstrap, outbox_enabled=False,
                                 consumer_group=f"reporting-round27c-rb-{uuid.uuid4().hex[:8]}")
    await ensure_topics(settings, registry_topics())
    big = good(event_type)
    big["data"]["note"] = "y" * 400_000  # oversized: kept without its bytes by the rebuild (over DEAD_KEPT_BYTES)
    big_value = encoded(big)
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, max_request_size=8 * 1024 * 1024)
    await producer.start()
    try:
        placed = await (await producer.send(topic, value=big_value, key=b"2999", partition=0))
    finally:
        await producer.stop()
    where = (placed.topic, placed.partition, placed.offset)
    summary = await run(settings, say=lambda line: None, decoders=0)
    assert summary["undecodable"] >= 1
    assert kept and max(kept) <= DEAD_KEPT_BYTES  # the big record was held whole (400 kB) until the commit
    dead = await read_dead_letters(bootstrap, dead_letter_topic(settings.consumer_group), {where}, timeout=60)
    letters = [(headers, value) for place, headers, value in dead if place == where]
    assert len(letters) == 1, letters
    headers, value = letters[0]
    assert headers["dlq.reason"] == "oversized" and value == big_value and "dlq.truncated" not in headers

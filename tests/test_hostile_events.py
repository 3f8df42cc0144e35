"""Hostile events produced by others straight onto every topic reporting reads, on a real broker,
consumed by reporting's own consumer loop and handlers: not JSON, JSON that is not an object,
wrong specversion, type or version, an event on another entity's topic, missing, oversized and
wrong-typed fields, NaN, dates out of range, a personal identity number inside, the same id with
other content, a tombstone. Each goes to the dead-letter topic with its rule (once per record: a
batch read again after a rebalance may send its dead letters again, naming the same record), none
repeats a personal identity number there, and every good event around them is applied.

(Forecast, assessment and lika consume no topic: reporting is the only consumer, see the topic
registry.)"""

from __future__ import annotations

import asyncio
import json
import uuid
from collections import Counter
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, ConsumerRecord, TopicPartition
from sqlalchemy import select

from stacks import start_at_log_end
from styrkedja_contracts import TOPICS, contains_personal_identity_number, dead_letter_topic
from styrkedja_contracts.examples import example_bytes
from styrkedja_devstack.pytest_plugin import migrated_database
from styrkedja_devstack.testing import RecordingProducer
from styrkedja_kit.consumer import ConsumerLoop
from styrkedja_kit.db import Database
from styrkedja_kit.kafka import ensure_topics, registry_topics
from styrkedja_kit.migrations import upgrade
from styrkedja_kit.settings import ServiceSettings
from styrkedja_reporting.main import handler_registry
from styrkedja_reporting.persistence import metadata
from styrkedja_reporting.settings import ReportingSettings

pytestmark = [pytest.mark.integration]

REPORTING_TOPICS = {name: topic for name, topic in TOPICS.items() if "reporting" in topic.consumers}
PIN = "19121212-1212"


def good(event_type: str) -> dict[str, Any]:
    document = json.loads(example_bytes(event_type))
    document["id"] = str(uuid.uuid4())
    return document


def encoded(document: dict[str, Any]) -> bytes:
    return json.dumps(document, ensure_ascii=False).encode()


def _first(data: dict[str, Any], wanted: type, skip: tuple[str, ...] = ()) -> str:
    return next(k for k, v in data.items() if isinstance(v, wanted) and not isinstance(v, bool) and k not in skip)


def _date_field(data: dict[str, Any]) -> str | None:
    return next((k for k, v in data.items() if isinstance(v, str) and len(v) == 10 and v[4] == "-" and v[7] == "-"),
                None)


def hostile(topic: str, base: dict[str, Any], other_topic_type: str) -> dict[str, tuple[bytes | None, str]]:
    """Per kind of attack: the record's value and the dead-letter reason it must get."""
    def changed(**envelope: Any) -> dict[str, Any]:
        return {**base, "id": str(uuid.uuid4()), **envelope}

    def with_data(**data: Any) -> bytes:
        return encoded(changed(data={**base["data"], **data}))

    text_field = _first(base["data"], str, skip=("organiser_id", "school_unit_code"))
    without = dict(base["data"])
    without.pop("organiser_id")
    out: dict[str, tuple[bytes | None, str]] = {
        "not JSON": (b"\x00not json {", "undecodable"),
        "not UTF-8": (b'{"specversion": "1.0", "id": "\xff"}', "undecodable"),
        "JSON, not an object": (b"[1, 2, 3]", "undecodable"),
        "a JSON string": (b'"' + encoded(base).replace(b'"', b'\\"') + b'"', "undecodable"),
        "empty": (b"", "undecodable"),
        "tombstone": (None, "undecodable"),
        "deep nesting": (b"[" * 200_000 + b"]" * 200_000, "oversized"),
        "deep nesting within the size limit": (b'{"a":' * 20_000 + b"1" + b"}" * 20_000, "undecodable"),
        "wrong specversion": (encoded(changed(specversion="0.3")), "invalid_envelope"),
        "no specversion": (encoded({k: v for k, v in changed().items() if k != "specversion"}), "invalid_envelope"),
        "unknown version": (encoded(changed(type=base["type"][:-1] + "99")), "unknown_type"),
        "unknown type": (encoded(changed(type="se.styrkedja.nothing.happened.v1")), "unknown_type"),
        "not our type at all": (encoded(changed(type="com.example.order.created")), "invalid_envelope"),
        "id not a UUID": (encoded(changed(id="12345")), "invalid_envelope"),
        "id a number": (encoded({**changed(), "id": 12345}), "invalid_envelope"),
        "time out of range": (encoded(changed(time="10000-01-01T00:00:00Z")), "invalid_envelope"),
        "time without a zone": (encoded(changed(time="2026-11-16T15:42:08")), "invalid_envelope"),
        # failed on the old code: applied, and reporting's clock (the newest event time) stood in 2199 for good
        "time far ahead of its record": (encoded(changed(time="2199-01-01T00:00:00+00:00")), "time_in_future"),
        # failed on the old code: applied, or the handler failed on them (a batch halved to find them)
        "time on the first day": (encoded(changed(time="0001-01-01T00:00:00+00:00")), "invalid_envelope"),
        "time on the last day": (encoded(changed(time="9999-12-31T23:59:59+00:00")), "invalid_envelope"),
        "time a day ahead of UTC's end": (encoded(changed(time="9999-12-31T23:59:59-12:00")), "invalid_envelope"),
        "no data": (encoded({k: v for k, v in changed().items() if k != "data"}), "invalid_envelope"),
        "data not an object": (encoded(changed(data=[1, 2])), "invalid_envelope"),
        "missing organiser_id": (encoded(changed(data=without)), "invalid_data"),
        "organiser_id a number": (with_data(organiser_id=2999), "invalid_data"),
        "organiser_id a list": (with_data(organiser_id=["2999"]), "invalid_data"),
        "text field huge": (with_data(**{text_field: "x" * 300_000}), "oversized"),
        "NUL in text": (with_data(**{text_field: "a\x00b"}), "invalid_data"),
        "lone surrogate": (encoded(changed()).replace(b'"specversion"', b'"x": "\\ud800", "specversion"'),
                           "invalid_envelope"),
        "NaN": (encoded(changed(data={**base["data"], "organiser_id": float("nan")})), "invalid_data"),
        "personal identity number in data": (with_data(**{text_field: f"x {PIN}"}), "invalid_data"),
        "personal identity number in subject": (encoded(changed(subject=PIN)), "invalid_data"),
        # round 6: the envelope's text attributes obey the text rule (no handler reads `subject`)
        "bidirectional override in subject": (encoded(changed(subject="7A\u202eelev")), "invalid_envelope"),
        "control character in subject": (encoded(changed(subject="7A\x1b[2J")), "invalid_envelope"),
        "line break in subject": (encoded(changed(subject="7A\nforged log line")), "invalid_envelope"),
        "bidirectional isolate in source": (encoded(changed(source="/assessment\u2066")), "invalid_envelope"),
        # round 36: `source` a URI-reference of ASCII (RFC 3986), `subject` a label that shows what it holds
        "a letter of Latin-1 in source (plain text)": (encoded(changed(source="/bedömning")), "invalid_envelope"),
        "a Cyrillic look-alike in source": (encoded(changed(source="/\u0430ssessment")), "invalid_envelope"),
        "a personal identity number percent-encoded in source": (
            encoded(changed(source="/elev/%31%39%31%32%31%32%31%32%2D%31%32%31%32")), "invalid_envelope"),
        "zero-width space in subject": (encoded(changed(subject="7A\u200belev")), "invalid_envelope"),
        "line separator in subject": (encoded(changed(subject="7A\u2028forged log line")), "invalid_envelope"),
        "private use in subject": (encoded(changed(subject="7A\ue000")), "invalid_envelope"),
        "a word of Latin and Cyrillic letters in subject": (encoded(changed(subject="ass\u0435ssment")),
                                                            "invalid_envelope"),
        "personal identity number as a key": (with_data(**{PIN: "x"}), "invalid_data"),
        "personal identity number, full-width": (with_data(**{text_field: "\uff11\uff19\uff11\uff12\uff11\uff12"
                                                                           "\uff11\uff12-\uff11\uff12\uff11\uff12"}),
                                                  "invalid_data"),
        "unknown field in data": (with_data(surprise=1), "invalid_data"),
        "an event of another topic": (encoded({**good(other_topic_type), "id": str(uuid.uuid4())}), "wrong_topic"),
    }
    integer_field = next((k for k, v in base["data"].items() if isinstance(v, int) and not isinstance(v, bool)),
                         None)
    if integer_field:
        out["integer out of range"] = (with_data(**{integer_field: 2**63}), "invalid_data")
        out["integer as text"] = (with_data(**{integer_field: str(base["data"][integer_field])}), "invalid_data")
    date_field = _date_field(base["data"])
    if date_field:
        out["date not a date"] = (with_data(**{date_field: "2026-02-30"}), "invalid_data")
        out["date far out of range"] = (with_data(**{date_field: "+10000-01-01"}), "invalid_data")
    return out


def at_the_edges(base: dict[str, Any]) -> dict[str, bytes]:
    """Valid by the contract, absurd in fact: a data date on the first or last representable day
    (no contract rule bounds them yet). Each is applied or dead-lettered (`handler_failed` at worst),
    and the loop goes on with the rest."""
    def changed(**envelope: Any) -> dict[str, Any]:
        return {**base, "id": str(uuid.uuid4()), **envelope}

    out: dict[str, bytes] = {}
    date_field = _date_field(base["data"])
    if date_field:
        for day in ("0001-01-01", "9999-12-31"):
            out[f"{date_field} {day}"] = encoded(changed(data={**base["data"], date_field: day}))
    return out


async def produce(bootstrap: str, records: list[tuple[str, bytes | None]]) -> list[tuple[str, int, int]]:
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, max_request_size=8 * 1024 * 1024)
    await producer.start()
    try:
        sent = [await producer.send(topic, value=value, key=b"2999") for topic, value in records]
        return [(m.topic, m.partition, m.offset) for m in await asyncio.gather(*sent)]
    finally:
        await producer.stop()


async def read_dead_letters(bootstrap: str, topic: str, want: set[tuple[str, int, int]], timeout: float = 120
                            ) -> list[Any]:
    consumer = AIOKafkaConsumer(topic, bootstrap_servers=bootstrap, auto_offset_reset="earliest",
                                enable_auto_commit=False)
    await consumer.start()
    found: list[Any] = []
    seen: set[tuple[str, int, int]] = set()
    try:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while not want <= seen and loop.time() < deadline:
            for batch in (await consumer.getmany(timeout_ms=300)).values():
                for record in batch:
                    headers = {k: v.decode() for k, v in record.headers}
                    where = (headers["dlq.topic"], int(headers["dlq.partition"]), int(headers["dlq.offset"]))
                    found.append((where, headers, record.value))
                    seen.add(where)
        await asyncio.sleep(2)  # and anything dead-lettered twice after the last wanted one
        for batch in (await consumer.getmany(timeout_ms=500)).values():
            for record in batch:
                headers = {k: v.decode() for k, v in record.headers}
                found.append(((headers["dlq.topic"], int(headers["dlq.partition"]), int(headers["dlq.offset"])),
                              headers, record.value))
    finally:
        await consumer.stop()
    return found


async def test_hostile_events_on_every_topic_reporting_reads_are_dead_lettered_with_their_rule_the_rest_applied(
        infrastructure):
    bootstrap = infrastructure.kafka_bootstrap_servers
    database_url = migrated_database(infrastructure, "styrkedja_reporting", f"t_hostile_events_{uuid.uuid4().hex[:8]}")
    group = f"reporting-hostile-{uuid.uuid4().hex[:8]}"
    start_at_log_end(bootstrap, group, database_url)
    settings = ReportingSettings(database_url=database_url, kafka_bootstrap_servers=bootstrap, consumer_group=group,
                                 outbox_enabled=False, consumer_poll_timeout_ms=100,
                                 consumer_session_timeout_ms=6000, consumer_heartbeat_interval_ms=1000)
    # first the good events (the organisation's first: the others are placed by it), then per topic
    # the hostile ones between two more good ones
    order = sorted(REPORTING_TOPICS.values(), key=lambda t: t.name != "styrkedja.organisation")
    good_events: list[dict[str, Any]] = []
    records: list[tuple[str, bytes | None]] = []
    kinds: list[tuple[str, str, str] | None] = []  # per record: (topic, attack, reason), None for a good one
    registry = handler_registry()
    for topic in order:
        for event_type in topic.event_types:
            if not registry.handles(event_type):  # skipped, not recorded as applied (a later handler takes it)
                continue
            good_events.append(good(event_type))
            records.append((topic.name, encoded(good_events[-1])))
            kinds.append(None)
    for topic in order:
        handled = [t for t in topic.event_types if registry.handles(t)]
        base = good(handled[0])
        other = next(t for t in order if t.name != topic.name).event_types[0]
        # the same id with other content: the first is applied, the second is not that event
        twin = good(handled[0])
        changed_twin = {**twin, "time": "2026-11-16T16:00:00+01:00", "subject": "something-else"}
        records += [(topic.name, encoded(twin)), (topic.name, encoded(changed_twin))]
        good_events.append(twin)
        kinds += [None, (topic.name, "same id, other content", "conflicting_duplicate")]
        for attack, (value, reason) in hostile(topic.name, base, other).items():
            records.append((topic.name, value))
            kinds.append((topic.name, attack, reason))
        for attack, value in at_the_edges(base).items():
            records.append((topic.name, value))
            kinds.append((topic.name, attack, "edge"))
        after = good(handled[-1])
        good_events.append(after)
        records.append((topic.name, encoded(after)))
        kinds.append(None)
    # run alone on Apache Kafka (no auto-creation there) nothing has made the topics yet
    await ensure_topics(ServiceSettings(kafka_bootstrap_servers=bootstrap), registry_topics(["reporting"]))
    placed = await produce(bootstrap, records)
    expected = {where: kind for where, kind in zip(placed, kinds, strict=True) if kind is not None and kind[2] != "edge"}
    edges = {where: kind for where, kind in zip(placed, kinds, strict=True) if kind is not None and kind[2] == "edge"}

    database = Database(database_url, pool_size=3)
    loop = ConsumerLoop(settings, database, group_id=group, topics=[t.name for t in order], handler=registry,
                        applied_table=metadata.tables["consumer_applied_events"],
                        offsets_table=metadata.tables["consumer_offsets"], handles=registry.handles)
    task = asyncio.create_task(loop.run())
    try:
        dead = await read_dead_letters(bootstrap, dead_letter_topic(group), set(expected))
        applied = await applied_ids(database, group, set())  # read once: what it applied by the dead letters' end
    finally:
        loop.stop()
        await task
        await database.dispose()

    wrong = []
    counts = Counter(where for where, _, _ in dead)
    for where, (topic, attack, _reason) in expected.items():
        # once per record: a batch read again (a rebalance between its dead letters and its commit)
        # sends its dead letters again, told apart by the record they name (dlq.topic/partition/offset)
        if counts[where] == 0:
            wrong.append(f"{topic} {attack}: not dead-lettered")
    ours = set(placed)  # on the embedded broker a few records of earlier tests may be read again (see
    for where, headers, value in dead:  # start_at_log_end) and rightly dead-lettered: not judged here
        if where in edges or where not in ours:
            continue  # applied or not, as long as the rest goes on
        if where not in expected:
            wrong.append(f"{where} dead-lettered but not hostile: {headers.get('dlq.reason')} "
                         f"{headers.get('dlq.message', '')[:200]}")
            continue
        topic, attack, reason = expected[where]
        if headers["dlq.reason"] != reason:
            wrong.append(f"{topic} {attack}: reason {headers['dlq.reason']} ({headers['dlq.message'][:150]}), "
                         f"not {reason}")
        text = (value or b"").decode("utf-8", "replace") + " ".join(headers.values())
        if contains_personal_identity_number(text):
            wrong.append(f"{topic} {attack}: the dead letter repeats a personal identity number")
    edge_reasons = {where: headers["dlq.reason"] for where, headers, _ in dead if where in edges}
    print("at the edges:", sorted(f"{topic} {attack}: {edge_reasons.get(where, 'applied')}"
                                  for where, (topic, attack, _) in edges.items()))
    missing = [e["type"] for e in good_events if uuid.UUID(e["id"]) not in applied]
    if missing:
        wrong.append(f"good events not applied: {missing}")
    assert not wrong, "\n".join(wrong)


def _record(topic: str, offset: int, value: bytes) -> ConsumerRecord:
    return ConsumerRecord(topic, 0, offset, 0, 0, b"2999", value, None, 4, len(value), ())


@pytest.mark.postgres_only
async def test_another_event_under_an_applied_id_is_dead_lettered_in_a_later_batch_too(infrastructure):
    """Batch 1 applies an event; batch 2 brings its exact re-delivery (an ordinary duplicate: nothing
    happens) and another event under the same id (dead-lettered: the first counts), then a restart
    of the loop meets both again. Failed on the old code: the other event passed for a duplicate."""
    database_url = migrated_database(infrastructure, "styrkedja_reporting", f"t_hostile_twins_{uuid.uuid4().hex[:8]}")
    settings = ReportingSettings(database_url=database_url, kafka_bootstrap_servers="unused:9092",
                                 outbox_enabled=False, consumer_enabled=False)
    database = Database(database_url, pool_size=2)
    registry = handler_registry()
    topic = "styrkedja.organisation"
    first = good("se.styrkedja.organisation.unit_upserted.v1")
    other = {**first, "data": {**first["data"], "name": "Ett annat namn"}}
    foreign = good("se.styrkedja.assessment.published.v1")

    def loop() -> ConsumerLoop:
        return ConsumerLoop(settings, database, group_id="hostile-twins", topics=[topic], handler=registry,
                            applied_table=metadata.tables["consumer_applied_events"],
                            offsets_table=metadata.tables["consumer_offsets"], handles=registry.handles)

    producer = RecordingProducer()
    partition = TopicPartition(topic, 0)
    try:
        one = loop()
        await one.process({partition: [_record(topic, 0, encoded(first))]}, producer)
        assert one.applied_count == 1 and producer.sent == []
        # the other first in its batch: still the applied one counts, its re-delivery is no conflict
        later = [_record(topic, 1, encoded(other)), _record(topic, 2, encoded(foreign)),
                 _record(topic, 3, encoded(first))]
        await one.process({partition: later}, producer)
        await loop().process({partition: later}, producer)  # a restart reads them again
        assert one.applied_count == 1
        reasons = [(headers["dlq.offset"], headers["dlq.reason"]) for _, _, headers in producer.sent]
        assert reasons == [(b"2", b"wrong_topic"), (b"1", b"conflicting_duplicate")] * 2, reasons
        # both in one batch, neither applied before: the first counts, the other is dead-lettered
        producer.sent.clear()
        twin = good("se.styrkedja.organisation.unit_upserted.v1")
        twin_other = {**twin, "time": "2026-08-15T06:30:05+02:00"}
        await one.process({partition: [_record(topic, 4, encoded(twin)), _record(topic, 5, encoded(twin_other)),
                                       _record(topic, 6, encoded(twin))]}, producer)
        assert one.applied_count == 2
        assert [(h["dlq.offset"], h["dlq.reason"]) for _, _, h in producer.sent] == [(b"5", b"conflicting_duplicate")]
        async with database.sessions() as session:
            names = (await session.execute(select(metadata.tables["directory_units"].c.name).where(
                metadata.tables["directory_units"].c.unit_id == first["data"]["unit_id"]))).scalars().all()
        assert names == [first["data"]["name"]]
    finally:
        await database.dispose()


def _record_at(topic: str, offset: int, value: bytes, timestamp_ms: int) -> ConsumerRecord:
    return ConsumerRecord(topic, 0, offset, timestamp_ms, 0, b"2999", value, None, 4, len(value), ())


@pytest.mark.postgres_only
async def test_an_event_dated_after_its_record_is_dead_lettered_and_moves_no_clock(infrastructure):
    """Reporting's clock for freshness and alerts is the newest applied event time. An event whose
    `time` lies hours after its record's timestamp (a producer's clock, or a hostile one) would have
    set it in 2199 for good. Failed on the old code: applied, freshness said 2199."""
    database_url = infrastructure.create_database(f"t_hostile_future_{uuid.uuid4().hex[:8]}")
    upgrade("styrkedja_reporting", database_url)
    settings = ReportingSettings(database_url=database_url, kafka_bootstrap_servers="unused:9092",
                                 outbox_enabled=False, consumer_enabled=False)
    database = Database(database_url, pool_size=2)
    registry = handler_registry()
    topic = "styrkedja.organisation"
    sent_ms = 1_795_000_000_000  # 2026-11-18T...Z
    sent = datetime.fromtimestamp(sent_ms / 1000, UTC)
    skewed = {**good("se.styrkedja.organisation.unit_upserted.v1"),
              "time": (sent + timedelta(minutes=50)).isoformat()}  # a clock skew: applied
    ahead = {**good("se.styrkedja.organisation.unit_upserted.v1"), "time": "2199-01-01T00:00:00+00:00"}
    unstamped = {**good("se.styrkedja.organisation.unit_upserted.v1"),
                 "time": (sent + timedelta(days=3)).isoformat()}  # no timestamp to judge by: applied
    producer = RecordingProducer()
    try:
        loop = ConsumerLoop(settings, database, group_id="hostile-future", topics=[topic], handler=registry,
                            applied_table=metadata.tables["consumer_applied_events"],
                            offsets_table=metadata.tables["consumer_offsets"], handles=registry.handles)
        await loop.process({TopicPartition(topic, 0): [
            _record_at(topic, 0, encoded(skewed), sent_ms), _record_at(topic, 1, encoded(ahead), sent_ms),
            _record_at(topic, 2, encoded(unstamped), -1)]}, producer)
        assert loop.applied_count == 2
        assert [(h["dlq.offset"], h["dlq.reason"]) for _, _, h in producer.sent] == [(b"1", b"time_in_future")]
        async with database.sessions() as session:
            newest = (await session.execute(select(metadata.tables["freshness"].c.newest_event_time))).scalars().all()
        assert newest and max(newest) == sent + timedelta(days=3)
    finally:
        await database.dispose()


# -- a reporting consumer of the test's own (the tests of hostile records, rounds 7 and 8) -------------------


async def fresh_reporting(infrastructure: Any, name: str, **options: Any) -> ReportingSettings:
    """Reporting settings on a migrated database and a consumer group of the test's own, its topics made and
    the group started where they end (`stacks.start_at_log_end`): it sees only the records the test sends."""
    bootstrap = infrastructure.kafka_bootstrap_servers
    database_url = infrastructure.create_database(f"t_{name}_{uuid.uuid4().hex[:8]}")
    upgrade("styrkedja_reporting", database_url)
    group = f"reporting-{name}-{uuid.uuid4().hex[:8]}"
    settings = ReportingSettings(database_url=database_url, kafka_bootstrap_servers=bootstrap, consumer_group=group,
                                 outbox_enabled=False, consumer_poll_timeout_ms=100,
                                 consumer_session_timeout_ms=6000, consumer_heartbeat_interval_ms=1000, **options)
    await ensure_topics(settings, registry_topics([group]))
    start_at_log_end(bootstrap, group, database_url)
    return settings


def reporting_loop(settings: ReportingSettings, database: Database, topics: list[str]) -> ConsumerLoop:
    """Reporting's consumer loop with every handler, in this process."""
    registry = handler_registry()
    return ConsumerLoop(settings, database, group_id=settings.consumer_group, topics=topics, handler=registry,
                        applied_table=metadata.tables["consumer_applied_events"],
                        offsets_table=metadata.tables["consumer_offsets"], handles=registry.handles)


async def dead_letters_and_applied(settings: ReportingSettings, topic: str, dead: set[tuple[str, int, int]],
                                   wanted: set[uuid.UUID], *, timeout: float = 180
                                   ) -> tuple[list[Any], set[uuid.UUID]]:
    """Reporting's loop on `topic` run until the records at `dead` (topic, partition, offset) are read back from the
    group's dead-letter topic and `wanted` applied (or the waits run out): (the dead letters, the ids applied)."""
    database = Database(settings.database_url, pool_size=3)
    loop = reporting_loop(settings, database, [topic])
    task = asyncio.create_task(loop.run())
    try:
        letters = await read_dead_letters(settings.kafka_bootstrap_servers, dead_letter_topic(settings.consumer_group),
                                          dead, timeout=timeout)
        return letters, await applied_ids(database, settings.consumer_group, wanted)
    finally:
        loop.stop()
        await task
        await database.dispose()


async def applied_ids(database: Database, group: str, wanted: set[uuid.UUID], *, tries: int = 120,
                      pause: float = 0.5) -> set[uuid.UUID]:
    """The ids the group applied, read again until `wanted` are among them or the tries run out."""
    table = metadata.tables["consumer_applied_events"]
    applied: set[uuid.UUID] = set()
    for _ in range(tries):
        async with database.sessions() as session:
            applied = set((await session.execute(select(table.c.event_id).where(table.c.group_id == group))).scalars())
        if wanted <= applied:
            break
        await asyncio.sleep(pause)
    return applied

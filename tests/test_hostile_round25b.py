"""Hostile inputs, round 25 (b): records other producers write straight to Kafka — what a dead letter keeps of them.

Found and fixed (each test failed on the old code, as said at it):
- A record whose value (or key) is not UTF-8 went to the dead-letter topic with a personal identity number in it
  whenever the number was in another encoding: UTF-16 or UTF-32 (a client set to another charset; with a byte order
  mark or without), or a legacy encoding's dash between the digits (cp1252's en dash 0x96, Latin-1's soft hyphen
  0xAD). `redact_record_bytes` read the bytes as UTF-8 only: a NUL-padded digit or U+FFFD between the digits hid the
  number from the detector, and the bytes were kept as they came. Now each reading a reader of the dead-letter topic
  may take (UTF-16 and UTF-32 of either byte order, the bytes without NULs and with each byte UTF-8 cannot read as a
  dash) is redacted in turn, until none holds a number (the kit's consumer). Likewise a number in JSON escapes
  (`\\u0031\\u0039…`) in a value `json.loads` does not take (cut short, a trailing comma): the escapes were read
  only in valid JSON. Here as a function, through the live
  loop on every topic, and on both brokers, produced by aiokafka in gzip, lz4 and zstd batches mixing good records.
- A LIKA event's school unit was judged by the directory as it stood when the event was applied: the live consumer
  and the rebuild (which applies the whole directory first) kept and refused different events, and showed different
  compilations. Now whose the unit is decides the read (services/reporting/tests/integration/
  test_lika_ownership_order.py).
- A time with a UTC offset PostgreSQL cannot read as text (beyond ±15:59; RFC 3339 and the contracts take up to
  ±23:59: `2026-10-21T04:00:00+16:00`) failed every batch whose handler sends times as text (`staging.json_rows`:
  the assessments' compliance round reports) — the event dead-lettered as `handler_failed`, lost — and stopped the
  rebuild's COPY text. Now such a time goes in UTC (`staging.timestamptz_text`), here for every event type live;
  the rebuild in services/reporting/tests/integration/test_rebuild_time_offsets.py.
- A forecast's `submitted_on` (compared with results' `assessed_on` by the forecast-against-outcome figures) was the
  day of `submitted_at` in the offset the event was written with: the same instant from another producer (`+01:00`,
  `+16:00`) was another day. Now its UTC day (the forecast service writes UTC: its events read as before), live and
  in the rebuild's direct lines (`results.rules.submitted_day`; its day in Sweden since round 28t).
- An event another producer wrote straight to Kafka in bytes that begin as the contracts' form does
  (`{"specversion":"1.0","id":"…`, as the Java and Go CloudEvents SDKs write, then another key order) kept its bytes'
  digest under its id, as if the outbox had written it: each later re-send in another form (indented, the contracts'
  own) was dead-lettered as `conflicting_duplicate`, live and in the rebuild. Now the outbox relay says so in a record
  header (`styrkedja_kit.kafka.CONTRACTS_FORM_HEADER`) and only such a record keeps its bytes' digest; every other
  record keeps its contracts' form's (the kit's `content_digests`), in the live consumer, the rebuild's log reader and
  its decoder processes alike. Here and in packages/kit/tests/test_outbox_consumer.py (the relay's header, both
  brokers).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import re
import uuid
from datetime import datetime, timedelta, timezone
from typing import Any

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from sqlalchemy import select, text
from test_hostile_events import REPORTING_TOPICS, encoded, good
from test_hostile_round3 import _loop, _record, _unit_names
from test_hostile_round4 import rebuild_takes_one_event_and_one_conflict

from stacks import start_at_log_end
from styrkedja_contracts import (
    CloudEvent,
    contains_personal_identity_number,
    dead_letter_topic,
    decode_event,
    topic_for_event_type,
)
from styrkedja_devstack.pytest_plugin import migrated_database
from styrkedja_devstack.testing import RecordingProducer
from styrkedja_kit.consumer import LEGACY_ORGANISER, LEGACY_TOPIC, ConsumerLoop, record_digest, redact_record_bytes
from styrkedja_kit.db import Database
from styrkedja_kit.kafka import CONTRACTS_FORM_HEADER, ensure_topics, registry_topics
from styrkedja_kit.settings import ServiceSettings
from styrkedja_reporting.main import handler_registry
from styrkedja_reporting.persistence import metadata
from styrkedja_reporting.settings import ReportingSettings
from support import other_form

PIN = "19121212-1212"
#: every reading of a dead letter's bytes that a reader might take
READINGS = ("utf-8", "utf-16-le", "utf-16-be", "utf-32-le", "utf-32-be", "cp1252", "latin-1")


def holds_a_number(raw: bytes | None) -> bool:
    """Whether any reading of `raw` holds a personal identity number (a byte a reading cannot read as a dash too)."""
    if not raw:
        return False
    texts = [raw.decode(encoding, errors="replace") for encoding in READINGS]
    texts += [text.replace("\x00", "").replace("\ufffd", "-") for text in texts]
    texts += [re.sub(r"\\u([0-9A-Fa-f]{4})", lambda found: chr(int(found.group(1), 16)), text) for text in texts]
    return any(contains_personal_identity_number(text) for text in texts)


def _spelled(text: str) -> dict[str, bytes]:
    return {
        "utf-16 with a byte order mark": text.encode("utf-16"),
        "utf-16-le": text.encode("utf-16-le"),
        "utf-16-be": text.encode("utf-16-be"),
        "utf-32 with a byte order mark": text.encode("utf-32"),
        "utf-32-be": text.encode("utf-32-be"),
        "utf-16-le after a byte": b"x" + text.encode("utf-16-le"),
        "cp1252 en dash": text.replace("-", "\u2013").encode("cp1252"),
        "latin-1 soft hyphen": text.replace("-", "\u00ad").encode("latin-1"),
        "an undecodable byte as the dash": text.replace("-", "\x00").encode().replace(b"\x00", b"\xff"),
        "utf-16 with an en dash": text.replace("-", "\u2013").encode("utf-16"),
    }


def _escaped(text: str) -> str:
    """`text` with its digits and dashes as JSON escapes (`\\u0031`)."""
    return "".join(f"\\u{ord(ch):04x}" if ch.isdigit() or ch == "-" else ch for ch in text)


DOCUMENT = '{"specversion": "1.0", "data": {"student_id": "' + PIN + '"}}'
VALUES = {**_spelled(DOCUMENT),
          # JSON a reader decodes escape by escape, but `json.loads` does not take (cut short; a NaN and a comma)
          "escaped digits, cut short": _escaped(DOCUMENT)[:-1].encode(),
          "escaped digits, a trailing comma": _escaped(DOCUMENT)[:-2].encode() + b", }}"}
KEYS = {**_spelled(PIN), "escaped digits": _escaped(PIN).encode()}


@pytest.mark.parametrize("raw", list(VALUES.values()), ids=list(VALUES))
def test_a_number_in_another_encoding_is_redacted_from_a_dead_letter(raw: bytes) -> None:
    """Failed on the old code for each: the bytes came back as they were, the number in them, `dlq.redacted` 0."""
    assert holds_a_number(raw)
    redacted, count = redact_record_bytes(raw)
    assert count >= 1 and not holds_a_number(redacted), redacted


@pytest.mark.parametrize("raw", [b'{"ok": "29990011"}', '{"a": "x"}'.encode("utf-16"), b"\xff\xfe 2999-0011",
                                 "Sk\u00f6la 212000-1234".encode("cp1252")])
def test_bytes_without_a_number_in_any_reading_are_kept_as_they_are(raw: bytes) -> None:
    assert redact_record_bytes(raw) == (raw, 0)


class _KeyRecordingProducer:
    """`RecordingProducer` with the key: (topic, key, value, headers)."""

    def __init__(self) -> None:
        self.sent: list[tuple[str, bytes | None, bytes, dict[str, bytes]]] = []

    async def send(self, topic: str, value: bytes, key: bytes | None = None,
                   headers: list[tuple[str, bytes]] | None = None) -> asyncio.Future[None]:
        self.sent.append((topic, key, value, dict(headers or [])))
        done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        done.set_result(None)
        return done


@pytest.mark.integration
@pytest.mark.postgres_only
async def test_a_record_in_another_encoding_is_dead_lettered_without_its_number_on_every_topic(infrastructure):
    """Live, on each topic reporting reads: records whose value and key hold a personal identity number in another
    encoding than UTF-8 are dead-lettered (`undecodable`, `key_mismatch`) without it, saying how many were taken out;
    the good event beside them is applied. Failed on the old code: each dead letter kept the number."""
    loop, database = _loop(migrated_database(infrastructure, "styrkedja_reporting"), "hostile25b-encodings")
    producer: Any = _KeyRecordingProducer()
    keys = KEYS
    try:
        for topic, event_type in (("styrkedja.assessments", "se.styrkedja.assessment.published.v1"),
                                  ("styrkedja.forecasts", "se.styrkedja.forecast.submitted.v1"),
                                  ("styrkedja.support", "se.styrkedja.support.intervention_recorded.v1"),
                                  ("styrkedja.lika", "se.styrkedja.lika.self_assessment_published.v1"),
                                  ("styrkedja.organisation", "se.styrkedja.organisation.unit_upserted.v1")):
            fine = good(event_type)
            records = [_record(topic, n, value, b"2999") for n, value in enumerate(VALUES.values())]
            # a good event under a key holding a number in another encoding: the key is not its organiser's
            records += [_record(topic, len(records) + n, encoded(good(event_type)), key)
                        for n, key in enumerate(keys.values())]
            records.append(_record(topic, len(records), encoded(fine), b"2999"))
            before = loop.applied_count
            await loop.process({TopicPartition(topic, 0): records}, producer)
            assert loop.applied_count == before + 1, topic
        assert len(producer.sent) == 5 * (len(VALUES) + len(keys))
        for _, key, value, headers in producer.sent:
            assert headers["dlq.reason"] in (b"undecodable", b"key_mismatch")
            assert not holds_a_number(key) and not holds_a_number(value), (key, value[:80])
            assert int(headers["dlq.redacted"]) >= 1
    finally:
        await database.dispose()


def _compressions() -> list[str]:
    """The codecs this client can write (aiokafka's `codec`): gzip, lz4 and zstd where it has them."""
    from aiokafka import codec

    return [name for name, has in (("gzip", codec.has_gzip), ("lz4", codec.has_lz4), ("zstd", codec.has_zstd))
            if has()]


@pytest.mark.integration
async def test_records_in_another_encoding_produced_to_every_topic_leave_no_number_in_the_dead_letters(
        infrastructure):
    """On the broker, produced by aiokafka straight to each topic reporting reads, in compressed batches (one codec a
    topic, in turn), each batch mixing the hostile records with good events: the dead letters name every hostile
    record and hold no personal identity number in any reading; the good events are applied. Failed on the old
    code: every dead letter of a value or key in another encoding kept the number."""
    bootstrap = infrastructure.kafka_bootstrap_servers
    database_url = migrated_database(infrastructure, "styrkedja_reporting", f"t_hostile25b_{uuid.uuid4().hex[:8]}")
    group = f"reporting-hostile25b-{uuid.uuid4().hex[:8]}"
    start_at_log_end(bootstrap, group, database_url)
    settings = ReportingSettings(database_url=database_url, kafka_bootstrap_servers=bootstrap, consumer_group=group,
                                 outbox_enabled=False, consumer_poll_timeout_ms=100,
                                 consumer_session_timeout_ms=6000, consumer_heartbeat_interval_ms=1000)
    await ensure_topics(ServiceSettings(kafka_bootstrap_servers=bootstrap), registry_topics(["reporting"]))
    registry = handler_registry()
    topics = sorted(REPORTING_TOPICS, key=lambda name: name != "styrkedja.organisation")
    codecs = _compressions()
    hostile: set[tuple[str, int, int]] = set()
    good_ids: set[uuid.UUID] = set()
    for n, topic in enumerate(topics):
        event_type = next(t for t in REPORTING_TOPICS[topic].event_types if registry.handles(t))
        batch: list[tuple[bytes | None, bytes]] = [(value, b"2999") for value in VALUES.values()]
        batch += [(encoded(good(event_type)), key) for key in KEYS.values()]
        fine = [good(event_type) for _ in range(2)]
        good_ids |= {uuid.UUID(document["id"]) for document in fine}
        records = [(encoded(fine[0]), b"2999"), *batch, (encoded(fine[1]), b"2999")]
        producer = AIOKafkaProducer(bootstrap_servers=bootstrap, compression_type=codecs[n % len(codecs)],
                                    linger_ms=50)
        await producer.start()
        try:
            sent = await asyncio.gather(*[await producer.send(topic, value=value, key=key) for value, key in records])
        finally:
            await producer.stop()
        hostile |= {(m.topic, m.partition, m.offset) for m in sent[1:-1]}

    database = Database(database_url, pool_size=3)
    loop = ConsumerLoop(settings, database, group_id=group, topics=topics, handler=registry,
                        applied_table=metadata.tables["consumer_applied_events"],
                        offsets_table=metadata.tables["consumer_offsets"], handles=registry.handles)
    task = asyncio.create_task(loop.run())
    dead: dict[tuple[str, int, int], tuple[bytes | None, bytes | None, dict[str, bytes]]] = {}
    consumer = AIOKafkaConsumer(dead_letter_topic(group), bootstrap_servers=bootstrap, auto_offset_reset="earliest",
                                enable_auto_commit=False)
    try:
        await consumer.start()
        deadline = asyncio.get_running_loop().time() + 120
        while not hostile <= set(dead) and asyncio.get_running_loop().time() < deadline:
            for got in (await consumer.getmany(timeout_ms=300)).values():
                for record in got:
                    headers = dict(record.headers)
                    where = (headers["dlq.topic"].decode(), int(headers["dlq.partition"]), int(headers["dlq.offset"]))
                    dead[where] = (record.key, record.value, headers)
        applied_table = metadata.tables["consumer_applied_events"]
        deadline = asyncio.get_running_loop().time() + 60
        applied: set[uuid.UUID] = set()
        while not good_ids <= applied and asyncio.get_running_loop().time() < deadline:
            async with database.sessions() as session:
                applied = set((await session.execute(select(applied_table.c.event_id).where(
                    applied_table.c.group_id == group))).scalars())
            await asyncio.sleep(0.2)
    finally:
        await consumer.stop()
        loop.stop()
        await task
        await database.dispose()
    assert hostile <= set(dead), sorted(hostile - set(dead))
    assert good_ids <= applied
    for where in hostile:
        key, value, headers = dead[where]
        assert headers["dlq.reason"] in (b"undecodable", b"key_mismatch"), (where, headers)
        assert not holds_a_number(key) and not holds_a_number(value), (where, key, (value or b"")[:80])


def _far_offset(document: dict[str, Any], hours: int) -> dict[str, Any]:
    """`document` with its `time` and every date-time of its data (at any depth) at the same instants, written with a
    UTC offset of `hours` (RFC 3339 takes up to ±23:59)."""
    zone = timezone(timedelta(hours=hours))

    def moved(value: Any) -> Any:
        if isinstance(value, dict):
            return {k: moved(v) for k, v in value.items()}
        if isinstance(value, list):
            return [moved(v) for v in value]
        if isinstance(value, str) and len(value) > 19 and value[10:11] == "T":
            with contextlib.suppress(ValueError):
                return datetime.fromisoformat(value).astimezone(zone).isoformat()
        return value

    return {**document, "time": moved(document["time"]), "data": moved(document["data"])}


@pytest.mark.integration
@pytest.mark.postgres_only
@pytest.mark.parametrize("hours", [16, -20, 23])
async def test_every_event_type_with_a_far_utc_offset_is_applied_live(infrastructure, hours):
    """Every event type reporting applies, its times written with an offset PostgreSQL does not read as text (the same
    instants): applied, nothing dead-lettered. Failed on the old code: each type whose handler sends a time as text
    (`staging.json_rows`: compliance's round reports) dead-lettered as `handler_failed`."""
    loop, database = _loop(migrated_database(infrastructure, "styrkedja_reporting"), f"hostile25b-offsets{hours}")
    producer: Any = _KeyRecordingProducer()
    registry = handler_registry()
    try:
        for topic in sorted(REPORTING_TOPICS, key=lambda name: name != "styrkedja.organisation"):
            handled = [t for t in REPORTING_TOPICS[topic].event_types if registry.handles(t)]
            records = [_record(topic, n, encoded(_far_offset(good(event_type), hours)), b"2999")
                       for n, event_type in enumerate(handled)]
            before = loop.applied_count
            await loop.process({TopicPartition(topic, 0): records}, producer)
            assert loop.applied_count == before + len(handled), (topic, [h for *_, h in producer.sent])
        assert producer.sent == []
    finally:
        await database.dispose()


@pytest.mark.parametrize("hours", [1, 2, 16, -11, -20, 23])
def test_a_forecasts_day_is_the_same_whatever_offset_its_time_is_written_with(hours: int) -> None:
    """The same instant written with another UTC offset (23:30 UTC on the 23rd ahead of UTC, 00:30 on the 24th behind
    it): the same `submitted_on`, its day in Sweden since round 28t (both instants are on the 24th there, CEST), live
    (`fact_of`) and in the rebuild's direct COPY line. Failed on the old code for each: the day in the event's own
    offset."""
    from styrkedja_contracts import decode_event
    from styrkedja_reporting.rebuild.bulk import decoded_and_staged
    from styrkedja_reporting.results.handlers import fact_of

    day = "2026-10-24"
    document = good("se.styrkedja.forecast.submitted.v1")
    document["data"]["submitted_at"] = "2026-10-23T23:30:00+00:00" if hours > 0 else "2026-10-24T00:30:00+00:00"
    document["time"] = document["data"]["submitted_at"]
    moved = _far_offset(document, hours)
    assert moved["data"]["submitted_at"][:10] != ("2026-10-23" if hours > 0 else "2026-10-24")
    for value in (encoded(document), encoded(moved)):
        assert fact_of(decode_event(value)).submitted_on.isoformat() == day
        staged = decoded_and_staged([("styrkedja.forecasts", 0, 0, value, -1, b"2999")], 0, 1_000_000, as_text=True)
        assert staged.read == 1 and staged.texts["forecasts"].decode().rstrip("\n").endswith("\t" + day)


UNIT = "se.styrkedja.organisation.unit_upserted.v1"
#: how the contracts' form of an event begins (`CloudEvent.to_bytes`)
OWN_BEGINNING = b'{"specversion":"1.0","id":"'


def sdk_form(document: dict[str, Any]) -> bytes:
    """The event as the Java and Go CloudEvents SDKs write it: `specversion` and `id` first and compact, as the
    contracts' form begins, then the other attributes in another order."""
    rest = dict(document)
    head = json.dumps({"specversion": rest.pop("specversion"), "id": rest.pop("id")}, separators=(",", ":"))
    return f"{head[:-1]},{json.dumps({k: rest[k] for k in reversed(list(rest))}, separators=(',', ':'))[1:]}".encode()


def _contracts_form_of(event_type: str) -> dict[str, Any]:
    document = json.loads(decode_event(encoded(good(event_type))).to_bytes())
    assert sdk_form(document).startswith(OWN_BEGINNING) and sdk_form(document) != encoded_contracts(document)
    return document


def encoded_contracts(document: dict[str, Any]) -> bytes:
    return decode_event(encoded(document)).to_bytes()


@pytest.mark.integration
@pytest.mark.postgres_only
async def test_an_event_another_producer_began_as_the_contracts_do_is_a_duplicate_in_every_form_after(infrastructure):
    """Failed on the old code: the first record (`sdk_form`) kept its bytes' digest, and the re-sends in the contracts'
    form and indented were dead-lettered as `conflicting_duplicate`s (in a later batch and in the same batch). Another
    content under the id is still a conflict, and the first counts."""
    loop, database = _loop(migrated_database(infrastructure, "styrkedja_reporting"), "hostile25b-sdk")
    topic, partition = "styrkedja.organisation", TopicPartition("styrkedja.organisation", 0)
    document, twin = _contracts_form_of(UNIT), _contracts_form_of(UNIT)
    changed = {**document, "data": {**document["data"], "name": "Ett annat namn"}}
    producer = RecordingProducer()
    try:
        await loop.process({partition: [_record(topic, 0, sdk_form(document), b"2999")]}, producer)
        await loop.process({partition: [_record(topic, 1, sdk_form(document), b"2999"),
                                        _record(topic, 2, encoded_contracts(document), b"2999"),
                                        _record(topic, 3, other_form(document), b"2999"),
                                        _record(topic, 4, encoded(changed), b"2999")]}, producer)
        await loop.process({partition: [_record(topic, 5, sdk_form(twin), b"2999"),
                                        _record(topic, 6, other_form(twin), b"2999"),
                                        _record(topic, 7, encoded_contracts(twin), b"2999")]}, producer)
        assert [(h["dlq.offset"], h["dlq.reason"]) for _, _, h in producer.sent] == [(b"4", b"conflicting_duplicate")]
        assert loop.applied_count == 2
        assert await _unit_names(database, document["data"]["unit_id"]) == [document["data"]["name"]]
    finally:
        await database.dispose()


@pytest.mark.integration
@pytest.mark.postgres_only
async def test_a_record_in_the_contracts_form_from_before_the_header_is_a_duplicate_when_delivered_again(
        infrastructure):
    """Ids applied before the relay's header kept their record's bytes' digest (of a record that began as the
    contracts' form: the outbox's, or another producer's that began so). The same bytes delivered again, without the
    header as then, are a duplicate; so is the contracts' form of an id that kept the contracts' form's bytes. (A
    guard: it passed on the old code too; it fails where a record without the header is judged by its contracts'
    form alone, not by its bytes' digest as well.)"""
    loop, database = _loop(migrated_database(infrastructure, "styrkedja_reporting"), "hostile25b-legacy")
    topic, partition = "styrkedja.organisation", TopicPartition("styrkedja.organisation", 0)
    sdk, ours = _contracts_form_of(UNIT), _contracts_form_of(UNIT)
    producer = RecordingProducer()
    try:
        async with database.sessions.begin() as session:
            for document, value in ((sdk, sdk_form(sdk)), (ours, encoded_contracts(ours))):
                # a claim of its organiser's and topic's, and one from before those (of unknown topic too)
                for organiser, claim_topic in (("2999", topic), (LEGACY_ORGANISER, LEGACY_TOPIC)):
                    await session.execute(text(
                        "INSERT INTO consumer_applied_events (event_id, organiser_id, topic, group_id, digest) "
                        "VALUES (:e, :o, :t, :g, :d)"), {"e": uuid.UUID(document["id"]), "o": organiser,
                                                         "t": claim_topic, "g": f"old-{organiser}",
                                                         "d": record_digest(value)})
        await loop.process({partition: [_record(topic, 0, sdk_form(sdk), b"2999"),
                                        _record(topic, 1, encoded_contracts(ours), b"2999")]}, producer)
        assert producer.sent == [] and loop.applied_count == 0
    finally:
        await database.dispose()


@pytest.mark.integration
async def test_the_rebuild_judges_an_event_another_producer_began_as_the_contracts_do_as_the_live_consumer_does(
        infrastructure):
    """Failed on the old code: the rebuild's decoders kept the first record's bytes' digest too (`sdk_form`), and its
    re-sends indented and in the contracts' form went to its dead-letter topic as `conflicting_duplicate`s. Another
    content under the id is still a conflict, and the first counts."""
    await rebuild_takes_one_event_and_one_conflict(
        infrastructure, "hostile25b-sdk", lambda first, document, changed: [
            sdk_form(document), other_form(document), encoded_contracts(document), sdk_form(document),
            encoded(changed)])


def test_the_rebuilds_decoders_keep_the_bytes_digest_only_of_a_record_that_says_it_is_in_the_contracts_form(
        monkeypatch) -> None:
    """The digest an id keeps, in the rebuild's decoders (a fact's direct COPY line and a small event's item), as
    live: of the contracts' form for another producer's record that begins as the contracts' form does, of the bytes
    for a record with the relay's header, which costs no `to_bytes`. Failed on the old code: the first record's bytes'
    digest."""
    from styrkedja_reporting.rebuild.bulk import decoded_and_staged

    fact = _contracts_form_of("se.styrkedja.assessment.published.v1")
    unit = _contracts_form_of(UNIT)
    fact_key = fact["data"]["organiser_id"].encode()
    facts = topic_for_event_type(fact["type"]).name
    headers = [CONTRACTS_FORM_HEADER]
    for as_text in (True, False):
        staged = decoded_and_staged([(facts, 0, 0, sdk_form(fact), -1, fact_key, None),
                                     ("styrkedja.organisation", 0, 1, sdk_form(unit), -1, b"2999", None)],
                                    0, 1_000_000, as_text=as_text)
        assert staged.read == 2 and staged.small[0][1].digest == record_digest(encoded_contracts(unit))
        fact_digest = record_digest(encoded_contracts(fact))
        if as_text:
            assert fact_digest.hex() in staged.texts["assessments"].decode()
        else:  # the row's head: (seq, id, type, topic, time, partition, offset, digest)
            assert staged.assessments[0][7] == fact_digest

    serialised: list[str] = []
    to_bytes = CloudEvent.to_bytes

    def counted(self: CloudEvent) -> bytes:
        serialised.append(self.type)
        return to_bytes(self)

    ours = [encoded_contracts(fact), encoded_contracts(unit)]
    monkeypatch.setattr(CloudEvent, "to_bytes", counted)
    staged = decoded_and_staged([(facts, 0, 0, ours[0], -1, fact_key, headers),
                                 ("styrkedja.organisation", 0, 1, ours[1], -1, b"2999", headers)], 0, 1_000_000,
                                as_text=True)
    assert staged.read == 2 and serialised == []
    assert record_digest(ours[0]).hex() in staged.texts["assessments"].decode()
    assert staged.small[0][1].digest == record_digest(ours[1])

"""The rebuild and the live consumer judge every record alike (issue 16, rebuild16).

The rebuild read no headers: a record in CloudEvents' binary content mode (`ce_*` headers, the data alone in its
value) was dead-lettered there as `invalid_envelope` ("specversion: Field required"), live as `content_mode`. Now the
decoders get each record's headers and a refused value is judged by the contracts' `kafka_binding.refusal`, as live
(headers read for refused values only). Here every hostile class of `test_hostile_events.hostile` and of round 15
(duplicate keys, BOM, UTF-16, trailing text, NaN, huge numbers, personnummer, unknown versions, other content modes,
wrong topics, keys, times), each with and without headers of each mode, goes through the live consumer's batch and
through the rebuild's decoders (in the process, and as a decoder process answers: COPY text by the direct way): the
same records dead-lettered, with the same reason and message, and the same records read."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime
from typing import Any

import pytest
from aiokafka import ConsumerRecord, TopicPartition
from test_hostile_events import encoded, good, hostile
from test_hostile_round3 import _loop

from styrkedja_contracts import decode_event, message_key
from styrkedja_contracts.identifiers import redact_personal_identity_numbers
from styrkedja_devstack.pytest_plugin import migrated_database
from styrkedja_devstack.testing import RecordingProducer
from styrkedja_reporting.rebuild.bulk import decoded_and_staged, raw_records

PUBLISHED = "se.styrkedja.assessment.published.v1"
SUBMITTED = "se.styrkedja.forecast.submitted.v1"
BINARY = (("ce_specversion", b"1.0"), ("ce_id", str(uuid.uuid4()).encode()), ("ce_source", b"/vklass"),
          ("ce_type", PUBLISHED.encode()), ("content-type", b"application/json"))
MODES = {
    "none": (),
    "structured": (("content-type", b"application/cloudevents+json; charset=utf-8"),),
    "binary": BINARY,
    "batch": (("content-type", b"application/cloudevents-batch+json"),),
    "avro": (("content-type", b"application/avro"),),
    "latin-1": (("content-type", b"application/cloudevents+json; charset=latin-1"),),
}
RECORD_TIME = int(datetime(2026, 12, 1, tzinfo=UTC).timestamp() * 1000)


def _syntax(base: dict[str, Any]) -> dict[str, bytes]:
    """Round 15's syntax classes on a fact event."""
    text = json.dumps({**base, "id": str(uuid.uuid4())}, ensure_ascii=False, separators=(",", ":"))
    return {"key twice in data": text.replace('"data":{', '"data":{"organiser_id":"0180",', 1).encode(),
            "type twice": text.replace('"type":', '"type":"se.styrkedja.x.y.v1","type":', 1).encode(),
            "BOM": b"\xef\xbb\xbf" + text.encode(), "UTF-16": text.encode("utf-16"),
            "trailing text": text.encode() + b" x", "a number spelt 1e400": text.replace(
                '"revision":', '"revision":1e400,"x":', 1).encode(),
            "compact and good": text.encode(), "escaped and good": json.dumps({**base, "id": str(uuid.uuid4())}).encode(),
            "data alone (binary mode's value)": json.dumps(base["data"]).encode(),
            "a batch of one": json.dumps([base]).encode()}


def _records() -> list[tuple[str, ConsumerRecord]]:
    out: list[tuple[str, ConsumerRecord]] = []
    for event_type, topic, other in ((PUBLISHED, "styrkedja.assessments", SUBMITTED),
                                     (SUBMITTED, "styrkedja.forecasts", PUBLISHED)):
        base = good(event_type)
        key = message_key(decode_event(encoded(base)))
        values: dict[str, bytes | None] = {name: value for name, (value, _) in hostile(topic, base, other).items()}
        values.update(_syntax(base))
        for name, value in values.items():
            for headers in MODES.values():
                for record_key in (key, b"0180") if name == "compact and good" else (key,):
                    offset = sum(1 for t, _ in out if t == topic)
                    fresh = value
                    if value and name in ("compact and good", "escaped and good"):  # not a duplicate
                        fresh = json.dumps({**json.loads(value), "id": str(uuid.uuid4())},
                                           ensure_ascii=name == "escaped and good").encode()
                    out.append((topic, ConsumerRecord(topic, 0, offset, RECORD_TIME, 0, record_key, fresh, None,
                                                      len(record_key or b""), len(fresh or b""), list(headers))))
    return out


def _redacted(message: str) -> str:
    return redact_personal_identity_numbers(message[:2000])[0]  # as the kit's dead letter carries it


@pytest.mark.integration
@pytest.mark.postgres_only
async def test_every_hostile_record_gets_the_same_verdict_live_and_in_the_rebuild(infrastructure):
    loop, database = _loop(migrated_database(infrastructure, "styrkedja_reporting"), "rebuild16-like-live")
    records = _records()
    by_topic: dict[TopicPartition, list[ConsumerRecord]] = {}
    for topic, record in records:
        by_topic.setdefault(TopicPartition(topic, 0), []).append(record)
    producer = RecordingProducer()
    try:
        await loop.process(by_topic, producer)
        live = sorted((h["dlq.topic"].decode(), int(h["dlq.offset"]), h["dlq.reason"].decode(),
                       h["dlq.message"].decode()) for _, _, h in producer.sent)
        for as_text in (False, True):
            rebuilt = []
            read = 0
            for tp, tp_records in by_topic.items():
                staged = decoded_and_staged(raw_records(tp_records), 0, loop.settings.max_event_bytes, as_text)
                rebuilt += [(tp.topic, tp_records[i].offset, reason, _redacted(message))
                            for i, reason, message in staged.dead]
                read += staged.read
            assert sorted(rebuilt) == live, as_text
            assert read == len(records) - len(live)
        reasons = {(offset, reason) for topic, offset, reason, _ in live if topic == "styrkedja.assessments"}
        modes = [reason for topic, _, reason, message in live if message.startswith("ce_* headers: binary")]
        assert len(modes) >= 40 and set(modes) == {"content_mode"}  # every refused value with ce_* headers
        assert {reason for _, reason in reasons} >= {"undecodable", "oversized", "invalid_envelope", "invalid_data",
                                                     "unknown_type", "duplicate_key", "wrong_topic", "key_mismatch",
                                                     "time_in_future", "content_mode"}
    finally:
        await database.dispose()

"""Hostile inputs, fifteenth round: events as other producers really send them straight to Kafka.

- A key given twice in one object of an event (`{"type": "x", "type": "se.styrkedja..."}`, an
  `organiser_id` twice in `data`) was read by its last value, as `json.loads` and pydantic-core read it;
  another reader (a producer's log, a gateway, a Java consumer taking the first) saw another event. Now
  `duplicate_key` naming the key's path, in the decode (the fast path counts key tokens against the
  fields it set, the ordinary steps the keys they parsed; the pairs decide only where the counts differ).
- A record in CloudEvents' binary content mode (`ce_*` headers, the data alone in the value) or batch mode
  was dead-lettered as `invalid_envelope: specversion: Field required; id: ...`, which sends a producer
  looking at its payload. Now `content_mode`, naming the mode and the rule (structured JSON only). The value
  decides whether an event is read: a structured event is applied whatever headers it carries; the headers
  are read for a refused value only, live and in the rebuild alike (round 16).
- Already right, held here: `specversion` other than "1.0", extension attributes, `datacontenttype` other
  than JSON, `data_base64`, a relative or foreign `dataschema`, an empty `source`, an `id` that is no UUID,
  a leap second, a BOM, UTF-16, trailing text, an oversized record, an empty or other organiser's key, a
  record timestamp far in the past or future, thousands of headers, header values that are not UTF-8.
- A header *key* that is not UTF-8 failed aiokafka's read of the whole record batch, which the kit then
  dead-lettered once as `undecodable_batch`, its good records not applied (an xfail here until round 16). Now
  the batch is read again record by record; the record is read, the key's bad bytes replaced.
"""

from __future__ import annotations

import base64
import json
import struct
import uuid
from typing import Any

import pytest
from aiokafka import TopicPartition
from aiokafka.record.default_records import DefaultRecordBatch, DefaultRecordBatchBuilder
from aiokafka.record.util import calc_crc32c
from test_hostile_events import encoded, good
from test_hostile_round3 import PIN, UNIT, _loop, _record, _unit_names

from styrkedja_contracts import DEFAULT_MAX_BYTES, ContractError, decode_event
from styrkedja_contracts.identifiers import contains_personal_identity_number
from styrkedja_contracts.kafka_binding import content_mode_refusal
from styrkedja_devstack.pytest_plugin import migrated_database
from styrkedja_devstack.testing import RecordingProducer
from styrkedja_kit.consumer import unfit
from styrkedja_kit.kafka import _read_batch

TOPIC = "styrkedja.organisation"


def _refusal(raw: bytes) -> tuple[str, tuple[str, ...]] | None:
    try:
        decode_event(raw)
    except ContractError as error:
        return error.reason, error.fields
    return None


def _unit(n: int, **envelope: Any) -> dict[str, Any]:
    document = good(UNIT)
    document["data"] = {**document["data"], "unit_id": f"15{n:06d}", "name": f"Enhet {n}"}
    return {**document, **envelope}


def _compact(document: dict[str, Any]) -> str:
    return json.dumps(document, separators=(",", ":"))


# -- the decode: a key given twice ------------------------------------------------------------------


def test_a_key_given_twice_is_refused_naming_its_path_at_any_depth_and_in_any_spacing():
    """Failed on the old code: all of these were accepted, each read by its last value."""
    text = _compact(_unit(0))
    organiser = text.replace('"data":{', '"data":{"organiser_id":"0180",', 1)
    cases = {
        "type": text.replace('"type":', '"type":"se.styrkedja.nothing.here.v1","type":', 1),
        "id": text.replace('"id":', f'"id":"{uuid.uuid4()}","id":', 1),
        "data.organiser_id": organiser,
        "data.name": text.replace('"name":"Enhet 0"', '"name":"Enhet 0","name":"Enhet 0"', 1),  # the same value
        "data.unit_id": text.replace('"unit_id":', '"unit_id" :\n"x",\t"unit_id"\r\n: ', 1),  # blanks around
        "data": text.replace('"data":{', '"data":7,"data":{', 1),
        "subject": text.replace('"subject":', '"subject":"Bj\\u00f6rk","subject":', 1),  # not plain: ordinary path
    }
    for path, raw in cases.items():
        refusal = _refusal(raw.encode())
        assert refusal == ("duplicate_key", (path,)), (path, refusal)
    with pytest.raises(ContractError) as caught:
        decode_event(organiser.encode())
    assert str(caught.value).startswith("duplicate_key: data.organiser_id: the key is given twice")
    # the pretty-printed form and keys in other objects are not twice
    assert _refusal(json.dumps(_unit(1), indent=2).encode()) is None
    assert _refusal(json.dumps({**_unit(2), "subject": ":not a key"}).encode()) is None


def test_a_key_given_twice_that_holds_a_personal_identity_number_is_refused_as_one():
    """The personnummer scan comes first: a refusal never names a key it has not scanned."""
    text = _compact(_unit(3))
    raw = text.replace('"data":{', f'"data":{{"{PIN}":1,"{PIN}":2,', 1).encode()
    refusal = _refusal(raw)
    assert refusal is not None and refusal[0] == "invalid_data"
    with pytest.raises(ContractError) as caught:
        decode_event(raw)
    assert not contains_personal_identity_number(str(caught.value))


# -- the decode: what was already right -------------------------------------------------------------


def _variants() -> dict[str, tuple[bytes, str, str]]:
    """name → (value, reason, the field its refusal names first ("" where it names none))."""
    document = _unit(4)
    data_alone = json.dumps(document["data"]).encode()
    without_data = {k: v for k, v in document.items() if k != "data"}
    raw = encoded(document)
    return {
        "binary mode's value (the data alone)": (data_alone, "invalid_envelope", "specversion"),
        "specversion 1.0.0": (encoded({**document, "specversion": "1.0.0"}), "invalid_envelope", "specversion"),
        "specversion as a number": (encoded({**document, "specversion": 1.0}), "invalid_envelope", "specversion"),
        "extension in upper case": (encoded({**document, "Traceparent": "00"}), "invalid_envelope", "Traceparent"),
        "extension of 21 characters": (encoded({**document, "a" * 21: "x"}), "invalid_envelope", "a" * 21),
        "a leap second": (encoded({**document, "time": "2016-12-31T23:59:60Z"}), "invalid_envelope", "time"),
        "datacontenttype text/plain": (encoded({**document, "datacontenttype": "text/plain"}), "invalid_envelope",
                                       "datacontenttype"),
        "datacontenttype with a charset": (encoded({**document, "datacontenttype": "application/json; charset=utf-8"}),
                                           "invalid_envelope", "datacontenttype"),
        "data_base64 instead of data": (encoded({**without_data, "data_base64": base64.b64encode(data_alone).decode()}),
                                        "invalid_envelope", "data"),
        "a relative dataschema": (encoded({**document, "dataschema": "/events/x.json"}), "invalid_envelope",
                                  "dataschema"),
        "a foreign dataschema": (encoded({**document, "dataschema": "https://example.org/x.json"}), "invalid_envelope",
                                 "dataschema"),
        "an empty source": (encoded({**document, "source": ""}), "invalid_envelope", "source"),
        "a source with a blank": (encoded({**document, "source": "/a b"}), "invalid_envelope", "source"),
        "an id that is no UUID": (encoded({**document, "id": "evt-42"}), "invalid_envelope", "id"),
        "a byte order mark": (b"\xef\xbb\xbf" + raw, "undecodable", ""),
        "UTF-16": (raw.decode().encode("utf-16"), "undecodable", ""),
        "UTF-16 without a BOM": (raw.decode().encode("utf-16-le"), "undecodable", ""),
        "trailing text": (raw + b" garbage", "undecodable", ""),
        "two events in one value": (raw + raw, "undecodable", ""),
        "larger than the limit": (encoded({**document, "subject": "x" * DEFAULT_MAX_BYTES}), "oversized", ""),
    }


def test_cloudevents_attribute_and_encoding_edge_cases_are_refused_naming_the_field():
    for name, (raw, reason, field) in _variants().items():
        refusal = _refusal(raw)
        assert refusal is not None, name
        assert refusal[0] == reason and (refusal[1][:1] == ((field,) if field else ())), (name, refusal)


def test_the_spellings_rfc3339_and_uuids_allow_are_read_as_one_event():
    """Lower-case `t`/`z` are RFC 3339 (§5.6); an id in upper case is the same UUID (consumers deduplicate on the
    value, and `same_content` on the re-written event). Only the 36-character form is a UUID to the published schema
    (`format: uuid`): without hyphens, as a URN or in braces the id is refused, naming it (round 23b; round 15 read
    them as the same id, which a consumer validating by the schema refused)."""
    document = _unit(5)
    event_id = uuid.UUID(document["id"])
    assert decode_event(encoded({**document, "time": "2026-08-14t04:30:05z"})).time.isoformat() == \
        "2026-08-14T04:30:05+00:00"
    assert decode_event(encoded({**document, "id": str(event_id).upper()})).id == event_id
    for spelling in (event_id.hex, f"urn:uuid:{event_id}", f"{{{event_id}}}"):
        with pytest.raises(ContractError, match="id: Input should be a UUID in its 36-character form"):
            decode_event(encoded({**document, "id": spelling}))


def test_an_empty_key_or_another_organisers_key_is_a_key_mismatch():
    event = decode_event(encoded(_unit(6)))
    verdicts = {key: unfit(event, TOPIC, None, key=key) for key in (b"", None, b"0180", b"2999 ", b"\xff", b"2999")}
    assert {key: verdict and verdict[0] for key, verdict in verdicts.items()} == {
        b"": "key_mismatch", None: "key_mismatch", b"0180": "key_mismatch", b"2999 ": "key_mismatch",
        b"\xff": "key_mismatch", b"2999": None}


# -- the Kafka binding: content modes ---------------------------------------------------------------


def test_headers_that_say_another_content_mode_are_named_and_the_structured_mode_is_not():
    accepted = [(), None, [("content-type", b"application/cloudevents+json")],
                [("Content-Type", b"application/cloudevents+json; charset=utf-8")],
                [("content-type", b"Application/CloudEvents+JSON;charset=\"UTF-8\"")],
                [("content-type", b"application/cloudevents+json"), ("content-type", b"application/cloudevents+json")],
                [(b"\xff\xfe", b"x"), ("traceparent", b"00-abc"), ("\x00", b"\xff")],
                [(f"h{i}", b"x") for i in range(5000)]]
    for headers in accepted:
        assert content_mode_refusal(headers) is None, headers
    refused = {
        "ce_* headers: binary content mode": [("ce_specversion", b"1.0"), ("content-type", b"application/json")],
        "ce_* headers: binary": [("CE_ID", b"1")],
        "content-type: batch content mode": [("content-type", b"application/cloudevents-batch+json")],
        "content-type: another media type": [("content-type", b"application/avro")],
        "content-type: charset must be utf-8": [("content-type", b"application/cloudevents+json; charset=utf-16")],
        "content-type: not UTF-8": [("content-type", b"\xff")],
        "content-type: given more than once": [("content-type", b"application/cloudevents+json"),
                                               ("content-type", b"application/json")],
    }
    for start, headers in refused.items():
        refusal = content_mode_refusal(headers)
        assert refusal is not None and refusal.startswith(start), (headers, refusal)
        assert "structured JSON mode only" in refusal
    assert not contains_personal_identity_number(
        content_mode_refusal([("content-type", f"application/{PIN}".encode())]) or "")


# -- the consumer: one batch of everything ----------------------------------------------------------


@pytest.mark.integration
@pytest.mark.postgres_only
async def test_a_batch_of_records_as_other_producers_send_them_applies_the_good_and_names_each_rule(infrastructure):
    """Good events with and without headers in one batch with every kind of record above: the good ones
    applied, each other one dead-lettered once with its rule, no personnummer in a dead letter, the offsets
    past the batch. Failed on the old code: the binary and batch records were `invalid_envelope`
    (specversion missing), the key given twice was applied as `0180`'s unit."""
    loop, database = _loop(migrated_database(infrastructure, "styrkedja_reporting"), "hostile15-modes")
    goods = [_unit(10 + n) for n in range(4)]
    binary = _unit(20)
    twice = _compact(_unit(21)).replace('"data":{', '"data":{"name":"Enhet ' + PIN + '",', 1).encode()
    twice_key = _compact(_unit(22)).replace('"data":{', '"data":{"organiser_id":"0180",', 1).encode()
    ce_headers = (("ce_specversion", b"1.0"), ("ce_id", str(uuid.uuid4()).encode()), ("ce_source", b"/vklass"),
                  ("ce_type", UNIT.encode()), ("content-type", b"application/json"))
    records = [
        (encoded(goods[0]), ()),
        (json.dumps({**binary["data"], "note": PIN}).encode(), ce_headers),  # binary mode, a personnummer in it
        (encoded(goods[1]), (("content-type", b"application/cloudevents+json; charset=utf-8"),)),
        (json.dumps([_unit(23)]).encode(), (("content-type", b"application/cloudevents-batch+json"),)),
        (b"\x00\x01avro", (("content-type", b"application/avro"),)),
        (twice, ()),
        (twice_key, ()),
        (b"\xef\xbb\xbf" + encoded(_unit(24)), ()),
        (encoded(goods[2]), ce_headers),  # a structured event: the value decides, as in the rebuild
        (encoded(_unit(25)).decode().encode("utf-16"), ()),
        (encoded(goods[3]), tuple((f"h{i}", b"\xff" * 10) for i in range(2000))),
    ]
    producer = RecordingProducer()
    try:
        await loop.process({TopicPartition(TOPIC, 0): [
            _record(TOPIC, offset, value, b"2999", headers) for offset, (value, headers) in enumerate(records)]},
            producer)
        assert loop.applied_count == 4
        assert await _unit_names(database, *(d["data"]["unit_id"] for d in goods)) == [f"Enhet {10 + n}"
                                                                                          for n in range(4)]
        dead = [(h["dlq.offset"], h["dlq.reason"], h["dlq.message"]) for _, _, h in producer.sent]
        assert [(offset, reason) for offset, reason, _ in dead] == [
            (b"1", b"content_mode"), (b"3", b"content_mode"), (b"4", b"content_mode"), (b"5", b"duplicate_key"),
            (b"6", b"duplicate_key"), (b"7", b"undecodable"), (b"9", b"undecodable")]
        messages = {offset: message.decode() for offset, _, message in dead}
        assert messages[b"1"].startswith("ce_* headers: binary content mode not accepted: structured JSON mode only")
        assert messages[b"3"].startswith("content-type: batch content mode not accepted")
        assert messages[b"5"].startswith("duplicate_key: data.name: the key is given twice")
        assert messages[b"6"].startswith("duplicate_key: data.organiser_id: the key is given twice")
        for key, value, sent in producer.sent:
            key_text = key.decode("utf-8", "replace") if isinstance(key, bytes) else str(key or "")
            assert not contains_personal_identity_number(key_text + (value or b"").decode("utf-8", "replace"))
            assert not any(contains_personal_identity_number(v.decode("utf-8", "replace")) for v in sent.values())
        assert await _unit_names(database, "15000022") == []
    finally:
        await database.dispose()


def test_a_producers_record_timestamp_far_in_the_past_or_future_moves_no_clock():
    """A record's CreateTime is the producer's: before 2000 (0, -1: none set) it is not judged; far in the
    future it cannot make an event late; an event dated over an hour after its record is `time_in_future`."""
    event = decode_event(encoded(_unit(7)))
    sent_ms = int(event.time.timestamp() * 1000)
    for timestamp in (-1, 0, 631_152_000_000, sent_ms, 7_226_582_400_000):  # 1990, as written, 2199
        assert unfit(event, TOPIC, timestamp, key=b"2999") is None, timestamp
    verdict = unfit(event, TOPIC, sent_ms - 3_600_001, key=b"2999")
    assert verdict is not None and verdict[0] == "time_in_future" and verdict[1].startswith("time: ")


def _batch_with_a_header_key_not_utf8() -> bytes:
    """Three records in one uncompressed batch, the middle one with a header key of bytes that are not UTF-8
    (Kafka's protocol says String; librdkafka and the Java client send whatever bytes they are given)."""
    builder = DefaultRecordBatchBuilder(magic=2, compression_type=0, is_transactional=0, producer_id=-1,
                                        producer_epoch=-1, base_sequence=-1, batch_size=100_000)
    for offset, headers in enumerate(([], [("KEYZ", b"v")], [])):
        builder.append(offset, timestamp=1, key=b"2999", value=f'{{"n":{offset}}}'.encode(), headers=headers)
    raw = bytearray(builder.build())
    raw[raw.index(b"KEYZ")] = 0xFF
    struct.pack_into(">I", raw, 17, calc_crc32c(bytes(raw[21:])))  # the batch's CRC over its bytes from attributes
    return bytes(raw)


def test_a_header_key_that_is_not_utf8_costs_nothing_and_its_batch_is_read():
    """Was left open here (an xfail): aiokafka decodes header keys as UTF-8 while it reads a batch, and the kit
    dead-lettered the whole batch as `undecodable_batch`, its good records not applied. Now the kit reads such a
    batch again from its bytes record by record (`styrkedja_kit.record_batches`, packages/kit/tests/
    test_record_batches.py for the faults that do cost a record), the key's bad byte replaced as the Java client
    replaces it: the value decides whether a record is an event, never its headers."""
    raw = _batch_with_a_header_key_not_utf8()
    read = list(_read_batch(DefaultRecordBatch(raw), lambda batch: raw))
    assert [record.value for record in read] == [b'{"n":0}', b'{"n":1}', b'{"n":2}']
    assert [record.offset for record in read] == [0, 1, 2]
    assert read[1].headers == [("\ufffdEYZ", b"v")]

"""The rebuild's decoders make a fact event's COPY line straight from what `decode_event`'s fast path validated
(`decode_plain`, `bulk._DIRECT`), without the CloudEvent, the fact and the row tuple. Differential: for generated
valid and hostile records — values drawn at the rules' edges, fields dropped, retyped, given twice, personnummer,
escapes, NaN, huge numbers, BOM, trailing text, UTF-16, wrong topics and keys, events dated after their record, other
content modes in the headers — the direct path gives the same staging text, line for line in log order, the same
other events and the same dead letters (index, reason, message) as the way every event went before: `decode_event`,
the live consumer's `unfit` and `refusal`, `_stage_fact`, `copy_text`."""

from __future__ import annotations

import json
import os
import uuid
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from styrkedja_contracts import decode_event, example_bytes, forecast_id_for, topic_for_event_type
from styrkedja_reporting.rebuild import bulk
from styrkedja_reporting.rebuild.bulk import copy_text, decoded_and_staged

FACT_TYPES = tuple(bulk._DIRECT)
OTHER = "se.styrkedja.organisation.unit_upserted.v1"
PIN = "19121212-1212"
EXAMPLES = {t: json.loads(decode_event(example_bytes(t)).to_bytes()) for t in (*FACT_TYPES, OTHER)}
LETTERS = "abcXYZ09 -+_/.:åäöÉ–😀\t\\\"\n"
HOSTILE = st.one_of(st.none(), st.booleans(), st.integers(-2**64, 2**64), st.floats(allow_nan=True),
                    st.sampled_from(["", PIN, f"x {PIN}", "1e400", "NaN", "2026-02-30", "\x00", "\u202e", "ＡＢ"]),
                    st.text(alphabet=LETTERS, max_size=12), st.lists(st.integers(), max_size=2),
                    st.dictionaries(st.sampled_from(["k", PIN]), st.integers(), max_size=1))
EDGE_TIMES = ["1900-01-01T00:30:00+01:00", "1900-01-02T00:00:00Z", "2199-12-30T00:00:00Z", "2199-12-31T23:59:59Z",
              "2026-11-16T15:42:07.123456+01:00", "2026-11-16T15:42:07.1Z", "2026-11-16T15:42:07-11:30",
              "2026-11-16T15:42:07", "2026-11-16", "1700000000", "2026-11-16T25:00:00Z"]
HEADERS = [None, [("content-type", b"application/cloudevents+json; charset=utf-8")],
           [("ce_specversion", b"1.0"), ("ce_type", b"x")], [("content-type", b"application/cloudevents-batch+json")],
           [("content-type", b"application/avro")], [("content-type", b"\xff")]]
RECORD_TIME = int(datetime(2026, 11, 25, tzinfo=UTC).timestamp() * 1000)
# the strategies `_event` draws from, made once: made anew for every event, hypothesis worked out their properties
# (and compiled the regex) again each time, most of the test's time (measured); the values drawn are the same
IDS = st.from_regex(r"\A[A-Za-z0-9._:-]{1,64}\Z")
ZONES = st.sampled_from([UTC, timezone(timedelta(hours=-11)), timezone(timedelta(hours=13, minutes=45))])
TIMES = st.one_of(st.datetimes(datetime(2026, 11, 1), datetime(2026, 11, 26), timezones=ZONES),
                  st.datetimes(datetime(1899, 12, 30), datetime(2200, 1, 2), timezones=ZONES)).map(datetime.isoformat)
MOMENTS = st.one_of(TIMES, st.sampled_from(EDGE_TIMES))
SMALL_NUMBERS = st.one_of(st.integers(1, 4), st.integers(-1, 10))
CRITERIA = st.lists(st.text(alphabet=LETTERS, min_size=1, max_size=20), max_size=2)


def _event(data: st.DataObject) -> dict[str, Any]:
    doc = json.loads(json.dumps(EXAMPLES[data.draw(st.sampled_from([*FACT_TYPES, *FACT_TYPES, OTHER]), label="type")]))
    body = doc["data"]
    doc["id"] = str(uuid.UUID(int=data.draw(st.integers(0, 2**128 - 1), label="id")))
    for key in ("assessment_id", "forecast_id"):
        if key in body:
            body[key] = data.draw(st.sampled_from([str(uuid.uuid4()), str(uuid.uuid4()).upper(), uuid.uuid4().hex,
                                                   "{" + str(uuid.uuid4()) + "}"]), label=key)
    for key in ("group_id", "student_id", "teacher_id"):
        if key in body:
            body[key] = data.draw(IDS, label=key)
    body["organiser_id"] = data.draw(st.sampled_from(["2999", "0180", "212000-1234", "2120001234"]), label="organiser")
    doc["time"] = data.draw(MOMENTS, label="time")
    for key in [k for k in body if k.endswith("_at")]:
        body[key] = data.draw(MOMENTS, label=key)
    for key in ("revision", "year", "round"):
        if key in body:
            body[key] = data.draw(SMALL_NUMBERS, label=key)
    if "late" in body:
        body["late"] = data.draw(st.booleans(), label="late")
    if "forecast_id" in body:  # a forecast event (submitted, withdrawn): its id is its key's, in the spelling drawn
        key = forecast_id_for(*(body[k] for k in ("organiser_id", "student_id", "subject_code", "school_year", "term")))
        drawn = body["forecast_id"]
        body["forecast_id"] = ("{" + str(key) + "}" if drawn.startswith("{") else key.hex if len(drawn) == 32
                               else str(key).upper() if drawn.isupper() else str(key))
    if "assessed_on" in body:  # in its school year or not (`within_school_year`): both ways judge alike
        body["assessed_on"] = data.draw(st.sampled_from([body["assessed_on"]] * 3 + ["2031-10-01", "2026-06-30"]),
                                        label="assessed_on")
    if "value" in body and body.get("scale") == "AF":
        body["value"] = data.draw(st.sampled_from("ABCDEF"), label="value")
        body["unmet_criteria"] = data.draw(CRITERIA, label="criteria")
    for _ in range(data.draw(st.sampled_from([0, 0, 0, 1, 2]), label="mutations")):
        where = data.draw(st.sampled_from(["envelope", "data"]), label="where")
        target = doc if where == "envelope" else body
        key = data.draw(st.sampled_from(sorted(target)), label="key")
        action = data.draw(st.sampled_from(["replace", "drop", "extra", "text"]), label="action")
        if action == "replace" and key != "data":
            target[key] = data.draw(HOSTILE, label="value")
        elif action == "drop":
            target.pop(key)
        elif action == "extra":
            target[data.draw(st.sampled_from(["surprise", PIN, "k\u00e5"]), label="extra")] = 1
        elif action == "text" and isinstance(target[key], str):
            target[key] += data.draw(st.sampled_from([" –", "\t", PIN, "\\", "é"]), label="text")
    return doc


def _serialised(doc: dict[str, Any], data: st.DataObject) -> bytes:
    style = data.draw(st.sampled_from(["compact"] * 8 + ["pretty", "ascii", "twice", "bom", "trailing", "utf16"]),
                      label="style")
    if style == "pretty":
        return json.dumps(doc, ensure_ascii=False, indent=2).encode("utf-8", "surrogatepass")
    if style == "ascii":
        return json.dumps(doc).encode()
    text = json.dumps(doc, ensure_ascii=False, separators=(",", ":"))
    if style == "twice" and isinstance(doc.get("data"), dict) and doc["data"]:
        key = next(iter(doc["data"]))
        text = text.replace('"data":{', '"data":{"' + key + '":' + json.dumps(doc["data"][key]) + ",", 1)
    raw = text.encode("utf-8", "surrogatepass")
    if style == "bom":
        return b"\xef\xbb\xbf" + raw
    if style == "trailing":
        return raw + b" x"
    if style == "utf16":
        return text.encode("utf-16", "surrogatepass")
    return raw


def _record(data: st.DataObject, offset: int) -> tuple[Any, ...]:
    doc = _event(data)
    raw = _serialised(doc, data)
    kind = doc.get("type") if isinstance(doc.get("type"), str) else OTHER
    try:
        topic = topic_for_event_type(kind).name
    except KeyError:
        topic = "styrkedja.assessments"
    organiser = doc["data"].get("organiser_id") if isinstance(doc.get("data"), dict) else None
    topic = data.draw(st.sampled_from([topic] * 6 + ["styrkedja.forecasts", "styrkedja.organisation"]),
                      label="topic")
    key = data.draw(st.sampled_from([str(organiser).encode()] * 6 + [b"0180", None]), label="key")
    timestamp = data.draw(st.sampled_from([RECORD_TIME, RECORD_TIME, -1, None, 946_684_800_000]), label="timestamp")
    value = data.draw(st.sampled_from([raw] * 12 + [b"", raw * 400]), label="value")
    return (topic, 0, offset, value, timestamp, key, data.draw(st.sampled_from(HEADERS), label="headers"))


def _old_way(raw: list[tuple[Any, ...]], base: int, max_bytes: int) -> tuple[Any, ...]:
    staged = bulk._decoded_and_staged(raw, base, max_bytes)
    assert staged is not None
    texts = {name: copy_text(rows) for name in ("assessments", "forecasts") if (rows := getattr(staged, name))}
    return staged.read, staged.dead, [(seq, item.event, item.digest) for seq, item in staged.small], texts


def _direct_way(raw: list[tuple[Any, ...]], base: int, max_bytes: int) -> tuple[Any, ...]:
    staged = decoded_and_staged(raw, base, max_bytes, as_text=True)
    assert not staged.assessments and not staged.forecasts
    assert staged.text_rows == sum(text.count(b"\n") for text in staged.texts.values())
    return staged.read, staged.dead, [(seq, item.event, item.digest) for seq, item in staged.small], staged.texts


@settings(max_examples=int(os.environ.get("STYRKEDJA_DECODE_EXAMPLES", "300")), derandomize=True, deadline=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(st.data())
def test_the_direct_lines_are_the_rows_of_the_decode_as_it_was(data: st.DataObject) -> None:
    raw = [_record(data, offset) for offset in range(data.draw(st.integers(1, 6), label="records"))]
    base = data.draw(st.integers(0, 2**40), label="base")
    assert _direct_way(raw, base, 64_000) == _old_way(raw, base, 64_000)


def test_most_generated_fact_events_take_the_direct_way_and_equal_the_old_one() -> None:
    """Realistic records (every fact type, compact as the outboxes write them): all accepted, all by the direct way
    but those whose text has escapes or characters beyond Latin-1 (they take `decode_event`), the same text."""
    raw = []
    for n in range(400):
        doc = json.loads(json.dumps(EXAMPLES[FACT_TYPES[n % 4]]))
        doc["id"] = str(uuid.UUID(int=n * 7919 + 1))
        doc["data"]["student_id"] = f"stu-{n:06x}"
        if "forecast_id" in doc["data"]:  # a forecast event: its id is its key's (`derived_from_key`)
            doc["data"]["forecast_id"] = str(forecast_id_for(*(doc["data"][k] for k in (
                "organiser_id", "student_id", "subject_code", "school_year", "term"))))
        if n % 9 == 0 and "unmet_criteria" in doc["data"]:
            doc["data"]["unmet_criteria"] = ["Eleven kan – med stöd."]  # an en dash: not plain text
        value = json.dumps(doc, ensure_ascii=False, separators=(",", ":")).encode()
        raw.append((topic_for_event_type(doc["type"]).name, 0, n, value, RECORD_TIME, b"2999", None))
    taken = 0
    original = bulk._DIRECT

    class Counting(dict):
        def get(self, key: Any, default: Any = None) -> Any:
            nonlocal taken
            taken += 1
            return original.get(key, default)

    bulk._DIRECT = Counting(original)
    try:
        direct = _direct_way(raw, 0, 256_000)
    finally:
        bulk._DIRECT = original
    assert direct == _old_way(raw, 0, 256_000)
    assert direct[0] == 400 and not direct[1] and sum(t.count(b"\n") for t in direct[3].values()) == 400
    assert 370 <= taken < 400


def test_a_line_its_maker_did_not_make_sends_the_piece_the_old_way(monkeypatch) -> None:
    """The guard: a direct line whose tabs, newlines or backslashes are not the maker's own (never from plain JSON)
    makes the piece go again the old way, which escapes the values."""
    doc = EXAMPLES[FACT_TYPES[0]]
    raw = [("styrkedja.assessments", 0, 0, json.dumps(doc, ensure_ascii=False, separators=(",", ":")).encode(),
            RECORD_TIME, b"2999", None)]
    table, make, escapes = bulk._DIRECT[FACT_TYPES[0]]
    monkeypatch.setitem(bulk._DIRECT, FACT_TYPES[0], (table, lambda *a: make(*a).replace("2999", "29\\99", 1),
                                                      escapes))
    assert bulk._decoded_and_staged(raw, 0, 256_000, direct=True) is None
    assert decoded_and_staged(raw, 0, 256_000, as_text=True).texts == _old_way(raw, 0, 256_000)[3]


def test_a_fact_dated_ahead_of_its_record_in_its_data_is_dead_by_the_direct_way_too() -> None:
    """`published_at` an hour and more after its record (a producer's clock ahead, round 28t): `time_in_future` by
    the decode as it was and by the direct lines alike — the direct way judges the decode's shadow, whose fields
    carry no `datetime_as_text` (the rule is by the event type's model: it once took such a fact, live dead-lettered)."""
    value = (b'{"specversion":"1.0","id":"00000000-0000-0000-0000-000000000001","source":"/assessment",'
             b'"type":"se.styrkedja.assessment.published.v1","time":"2000-01-01T00:00:00+00:00",'
             b'"subject":"3b0e6f0a-9c4d-4f7e-8a21-5d6c7e8f9a01","datacontenttype":"application/json",'
             b'"data":{"assessment_id":"88c3eb5f-71df-4e2e-bd79-f788bbc4e019","revision":1,"organiser_id":"2999",'
             b'"school_unit_code":"29990011","group_id":"g","student_id":"s","teacher_id":"t","gender":"female",'
             b'"year":1,"subject_code":"GRGRMAT01","kind":"assessment","scale":"AF","value":"A","unmet_criteria":[],'
             b'"school_year":"2026/27","term":"HT","round":1,"assessed_on":"2026-11-13",'
             b'"published_at":"2026-11-01T00:00:00+00:00"}}')
    raw = [("styrkedja.assessments", 0, 0, value, 946_684_800_000, b"2999", None)]
    direct, old = _direct_way(raw, 0, 64_000), _old_way(raw, 0, 64_000)
    assert direct == old
    assert [reason for _, reason, _ in direct[1]] == ["time_in_future"]

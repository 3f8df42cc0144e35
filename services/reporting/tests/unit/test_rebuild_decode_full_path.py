"""A rebuild decoder's records in the outbox relay's form (compact, its `styrkedja-form` header: the digest of the
record's bytes), as the held log holds them — runs of events sharing one moment, `time` equal to the data's moment,
one instant written in two offsets — mutated by hypothesis (fields dropped, values of the wrong type, huge numbers,
hostile strings: personnummer in several spellings, bidirectional controls, escapes, another `dataschema`) give the
same staging text, the same other events and the same dead letters (index, reason, message) by the decoder's path
(`decoded_and_staged(..., as_text=True)`: `decode_plain`, its compiled shadow and the shadow, the direct lines, the time
memo) as by the full path: `decode_event` the ordinary way (no shadow: `Envelope` and the data model validated in full),
the live consumer's `unfit` and `content_digest`, `_stage_fact` and `copy_text` with every time made by
`timestamptz_text` (no memo). decode37 cut steps out of the first, decode38 compiled it; this holds it to the second."""

from __future__ import annotations

import json
import os
import uuid
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from styrkedja_contracts import decode_event, envelope, example_bytes, forecast_id_for
from styrkedja_contracts.compiled import CompiledEvent
from styrkedja_kit.kafka import CONTRACTS_FORM_HEADER
from styrkedja_reporting.rebuild import bulk

PUBLISHED, RETRACTED, SUBMITTED, WITHDRAWN = tuple(bulk._DIRECT)
TOPICS = {PUBLISHED: "styrkedja.assessments", RETRACTED: "styrkedja.assessments", SUBMITTED: "styrkedja.forecasts",
          WITHDRAWN: "styrkedja.forecasts"}
EXAMPLES = {t: json.loads(decode_event(example_bytes(t)).to_bytes()) for t in TOPICS}
FORM = (CONTRACTS_FORM_HEADER,)  # as the fetcher hands them out (`raw_records` shares one object)
RECORD_MS = 1_796_542_727_028  # 2026-12-06T07:38:47Z: after every moment below, by less than the rule's hour
#: one instant in two offsets (each its own text), another instant, and the same instant with microseconds
MOMENTS = ["2026-12-06T07:36:19.147539Z", "2026-12-06T08:36:19.147539+01:00", "2026-12-06T07:36:22Z",
           "2026-12-06T07:36:19.147539+00:00", "2026-12-06T09:36:19Z"]  # the last: over an hour after the record
PIN_SPELLINGS = ["19121212-1212", "121212-1212", "121212+1212", "1212121212", "19121212 1212", "121212 - 1212",
                 "１９１２１２１２-１２１２", "19121212\u20131212", "20121212_1212"]
HOSTILE = st.one_of(
    st.none(), st.booleans(), st.integers(-2**70, 2**70), st.sampled_from([2**31, -2**31 - 1, 10**30, 1e400, 0.5]),
    st.sampled_from([*PIN_SPELLINGS, f"stu-{PIN_SPELLINGS[0]}", "\u202estu", "stu\u2066x", "a\\u202eb", "\u200b",
                     "", " ", "2120001234", "212000-1234", "x" * 70, "Ω", "é", "\\", '"', "\t"]),
    st.lists(st.sampled_from(["x", PIN_SPELLINGS[1], "\u202e"]), max_size=2),
    st.dictionaries(st.sampled_from(["k", PIN_SPELLINGS[0]]), st.integers(), max_size=1))
RAW_TEXT = st.sampled_from([  # text put into the record's bytes as it is (not through json.dumps)
    '"' + PIN_SPELLINGS[0] + '"', '"\\u202e"', '"\\u0031\\u0039121212-1212"', "1e999", "-0", "01", "NaN",
    '"2026-12-06T07:36:19Z"', '"a" , "b":1'])
DATASCHEMAS = ["https://schemas.styrkedja.se/events/se.styrkedja.assessment.retracted.v1.json",
               "http://schemas.styrkedja.se/events/se.styrkedja.assessment.published.v1.json",
               "https://schemas.styrkedja.se/events/se.styrkedja.assessment.published.v1.json ", None]


def _document(data: st.DataObject, n: int, moment: str) -> dict[str, Any]:
    event_type = data.draw(st.sampled_from([PUBLISHED] * 6 + [RETRACTED, SUBMITTED, WITHDRAWN]), label="type")
    doc = json.loads(json.dumps(EXAMPLES[event_type]))
    body = doc["data"]
    doc["id"] = str(uuid.UUID(int=n * 7919 + 11))
    doc["time"] = moment
    for key in [k for k in body if k.endswith("_at")]:
        body[key] = moment  # the write path's: `time` is the data's moment
    body["organiser_id"] = data.draw(st.sampled_from(["218523-2212", "2999", "212635-7936"]), label="organiser")
    body["student_id"] = f"stu-joiblt-{n:04d}"
    if "assessment_id" in body:
        body["assessment_id"] = doc["subject"] = str(uuid.UUID(int=n * 104_729 + 3))
    if "forecast_id" in body:  # a forecast's id is its key's (`derived_from_key`)
        body["forecast_id"] = doc["subject"] = str(forecast_id_for(*(body[k] for k in (
            "organiser_id", "student_id", "subject_code", "school_year", "term"))))
    if event_type == PUBLISHED:
        body["value"] = data.draw(st.sampled_from("ABCDEF"), label="value")
        body["unmet_criteria"] = ["Eleven kan lösa enkla problem."] if body["value"] == "F" else []
        body["year"] = data.draw(st.sampled_from([9, 6, 3]), label="year")
    return doc


def _mutated(doc: dict[str, Any], data: st.DataObject) -> bytes:
    raw_text: tuple[str, str] | None = None
    for _ in range(data.draw(st.sampled_from([0, 0, 0, 1, 1, 2]), label="mutations")):
        where = data.draw(st.sampled_from(["envelope", "data", "data"]), label="where")
        target = doc if where == "envelope" or not isinstance(doc.get("data"), dict) else doc["data"]
        if not target:
            continue
        key = data.draw(st.sampled_from(sorted(target)), label="key")
        action = data.draw(st.sampled_from(["replace", "drop", "extra", "append", "dataschema", "raw"]), label="do")
        if action == "replace" and key != "data":
            target[key] = data.draw(HOSTILE, label="value")
        elif action == "drop":
            target.pop(key)
        elif action == "extra":
            target[data.draw(st.sampled_from(["surprise", PIN_SPELLINGS[0], "k\u202e"]), label="extra")] = 1
        elif action == "append" and isinstance(target[key], str):
            target[key] += data.draw(st.sampled_from([" ", PIN_SPELLINGS[3], "\u202e", "\u00a0", "Ω", "%41"]),
                                     label="appended")
        elif action == "dataschema":
            doc["dataschema"] = data.draw(st.sampled_from(DATASCHEMAS), label="dataschema")
        elif action == "raw" and key != "data":
            target[key] = "@@RAW@@"
            raw_text = ('"@@RAW@@"', data.draw(RAW_TEXT, label="raw"))
    text = json.dumps(doc, ensure_ascii=False, separators=(",", ":"))
    if raw_text is not None:
        text = text.replace(*raw_text, 1)
    return text.encode("utf-8", "surrogatepass")


def _records(data: st.DataObject) -> list[tuple[Any, ...]]:
    records = []
    moment = MOMENTS[0]
    for n in range(data.draw(st.integers(1, 8), label="records")):
        if data.draw(st.integers(0, 3), label="next moment") == 0:  # runs of events of one moment, as the log's
            moment = data.draw(st.sampled_from(MOMENTS), label="moment")
        doc = _document(data, n, moment)
        value = _mutated(doc, data)
        body = doc.get("data") if isinstance(doc.get("data"), dict) else {}
        topic = TOPICS.get(doc.get("type"), "styrkedja.assessments")  # type: ignore[arg-type]
        key = data.draw(st.sampled_from([str(body.get("organiser_id")).encode()] * 8 + [b"2120001234", b"0180"]),
                        label="key")
        headers = data.draw(st.sampled_from([FORM] * 6 + [None, [CONTRACTS_FORM_HEADER]]), label="headers")
        records.append((topic, n % 6, 1_000 + n, value, RECORD_MS, key, headers))
    return records


def _decoder_path(raw: list[tuple[Any, ...]], base: int) -> tuple[Any, ...]:
    staged = bulk.decoded_and_staged(raw, base, 256_000, as_text=True)
    assert not staged.assessments and not staged.forecasts
    return staged.read, staged.dead, [(seq, item.event, item.digest) for seq, item in staged.small], staged.texts


def _full_path(raw: list[tuple[Any, ...]], base: int) -> tuple[Any, ...]:
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(envelope, "decode_plain", lambda *_, **__: None)  # no fast path in `decode_event`
        patch.setattr(envelope, "_decode_newest", lambda *_: None)  # nor the shadow of the parsed document
        patch.setattr(bulk, "_moment", lambda _: None)  # every time's text and `timestamp()` made anew
        bulk._RECENT[:] = [None, None, None, None]
        staged = bulk._decoded_and_staged(raw, base, 256_000)
        assert staged is not None
        texts = {name: bulk.copy_text(rows) for name in ("assessments", "forecasts") if (rows := getattr(staged, name))}
    return staged.read, staged.dead, [(seq, item.event, item.digest) for seq, item in staged.small], texts


@settings(max_examples=int(os.environ.get("STYRKEDJA_DECODE_EXAMPLES", "300")), derandomize=True, deadline=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(st.data())
def test_the_decoders_path_decides_as_the_full_path(data: st.DataObject) -> None:
    raw = _records(data)
    base = data.draw(st.integers(0, 2**40), label="base")
    assert _decoder_path(raw, base) == _full_path(raw, base)


def test_unmutated_records_take_the_decoders_path_and_equal_the_full_path(monkeypatch: pytest.MonkeyPatch) -> None:
    """The held log's form, no mutation: every record read and a line of each, by the decoder's path (`decode_plain`
    took them all: none by `decode_event`) and the full path alike."""
    raw = []
    for n in range(200):
        doc = json.loads(json.dumps(EXAMPLES[PUBLISHED]))
        doc["id"] = str(uuid.UUID(int=n + 1))
        doc["time"] = doc["data"]["published_at"] = MOMENTS[n // 50 % 4]
        doc["data"]["value"], doc["data"]["unmet_criteria"] = "E", []
        doc["data"]["organiser_id"] = "218523-2212"
        raw.append(("styrkedja.assessments", n % 6, n, json.dumps(doc, separators=(",", ":")).encode(), RECORD_MS,
                    b"218523-2212", FORM))
    calls = {"decode_event": 0, "compiled": 0}
    original, plain = bulk.decode_event, bulk.decode_plain

    def counting(*args: Any, **kwargs: Any) -> Any:
        calls["decode_event"] += 1
        return original(*args, **kwargs)

    def compiled(*args: Any, **kwargs: Any) -> Any:
        shadow = plain(*args, **kwargs)
        calls["compiled"] += isinstance(shadow, CompiledEvent)
        return shadow

    with monkeypatch.context() as patch:
        patch.setattr(bulk, "decode_event", counting)
        patch.setattr(bulk, "decode_plain", compiled)
        decoded = _decoder_path(raw, 0)
    assert calls["decode_event"] == 0
    assert calls["compiled"] == 200  # the compiled shadow took them all (`styrkedja_contracts.compiled`)
    assert decoded == _full_path(raw, 0)
    assert decoded[0] == 200 and not decoded[1] and decoded[3]["assessments"].count(b"\n") == 200
    # one instant in two offsets keeps each its own text
    assert b"\t2026-12-06T08:36:19.147539+01:00\t" in decoded[3]["assessments"]
    assert b"\t2026-12-06T07:36:19.147539+00:00\t" in decoded[3]["assessments"]

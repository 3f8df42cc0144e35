"""The compiled shadow of the bulk events (`styrkedja_contracts.compiled`, issue 16 decode38): whatever it accepts the
shadow accepts, and the ordinary way (no fast path at all), with the same event — values, their types, the fields set
at both levels; and it takes the bulk events as producers write them. Differential, by hypothesis, on the bulk types'
events mutated where msgspec's reading could differ from pydantic-core's: numbers (huge, floats, `true`, text), wrong
types, texts breaking a pattern, UUIDs in other spellings, dates and times in other forms or out of bounds, duplicate
keys, other `dataschema`s, fields dropped or added, and the hostile texts the plain check sends the ordinary way (nine
personnummer spellings, bidirectional and zero-width characters, escapes). `test_a_wider_compiled_shadow_is_caught`
shows the check fails where a compiled shadow is wider than the shadow."""

from __future__ import annotations

import json
import os
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from typing import Annotated, Any

import msgspec
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import TypeAdapter

from styrkedja_contracts import ContractError, compiled, decode_event, example_bytes, forecast_id_for, schema_uri
from styrkedja_contracts import envelope as envelope_module
from styrkedja_contracts.compiled import COMPILED_TYPES, CompiledEvent, compiled_decoder, compiled_event
from styrkedja_contracts.envelope import cloud_event_of, decode_plain
from styrkedja_contracts.identifiers import plain_json_without_pin

#: the bulk types' events as the contracts write them (compact, every field given)
DOCS = {t: json.loads(decode_event(example_bytes(t)).to_bytes()) for t in COMPILED_TYPES}
PIN_SPELLINGS = ["19121212-1212", "121212-1212", "121212+1212", "1212121212", "19121212 1212", "121212 - 1212",
                 "１９１２１２１２-１２１２", "19121212\u20131212", "20121212_1212"]


def _shadows() -> Any:
    return envelope_module._SHADOWS if envelope_module._SHADOWS is not None else envelope_module._shadows_once()


def _the_compiled() -> Callable[[bytes], Any]:
    _shadows()
    made = envelope_module._COMPILED
    assert made is not None
    return made


def strict(event: Any) -> tuple[Any, ...]:
    """Everything that makes two CloudEvents equal or tells them apart (as `test_decode_equivalence.strict_outcome`)."""
    return (type(event), type(event.data), event.model_dump(), event.model_fields_set, event.data.model_fields_set,
            event.model_dump(mode="json"), repr(event))


def shadow_of(raw: bytes) -> Any:
    """`decode_plain` without the compiled shadows: the pydantic-core shadow's verdict."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(envelope_module, "_COMPILED", None)
        return decode_plain(raw)


def ordinary(raw: bytes) -> Any:
    """`decode_event` the ordinary way (no fast path, no shadow): the event, or the refusal."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(envelope_module, "decode_plain", lambda *_, **__: None)
        patch.setattr(envelope_module, "_decode_newest", lambda *_: None)
        try:
            return decode_event(raw)
        except ContractError as error:
            return error


def assert_compiled_decides_as_the_shadow(raw: bytes, compiled_decode: Callable[[bytes], Any]) -> bool:
    """Where `compiled_decode` (asked only of plain text without a personnummer, as `decode_plain` asks it) accepts
    `raw`, the shadow and the ordinary way accept it too, with the same event; True where it accepted."""
    fast = compiled_decode(raw) if plain_json_without_pin(raw) else None
    if fast is None:
        return False
    assert isinstance(fast, CompiledEvent)
    shadow = shadow_of(raw)
    assert shadow is not None, raw[:400]  # the compiled shadow took what the shadow refuses
    full = ordinary(raw)
    assert not isinstance(full, ContractError), (raw[:400], full)  # ... or what the ordinary way refuses
    assert strict(cloud_event_of(fast)) == strict(cloud_event_of(shadow)) == strict(full), raw[:400]
    return True


def assert_same(raw: bytes) -> bool:
    """The compiled shadow as above, and `decode_plain` (which asks it first) and `decode_event` as the ordinary way."""
    taken = assert_compiled_decides_as_the_shadow(raw, _the_compiled())
    fast = decode_plain(raw)
    full = ordinary(raw)
    try:
        event = decode_event(raw)
    except ContractError as error:
        assert fast is None
        assert isinstance(full, ContractError)
        assert (type(error), error.reason, str(error), error.fields) == \
            (type(full), full.reason, str(full), full.fields), raw[:400]
        return taken
    assert not isinstance(full, ContractError), raw[:400]
    assert strict(event) == strict(full), raw[:400]
    if fast is not None:
        assert strict(cloud_event_of(fast)) == strict(full)
    return taken


def test_the_bulk_types_are_compiled_and_take_their_events() -> None:
    _, shadows = _shadows()
    for event_type, doc in DOCS.items():
        assert compiled_event(shadows[event_type], schema_uri(event_type)) is not None, event_type
        raw = json.dumps(doc, ensure_ascii=False, separators=(",", ":")).encode()
        assert isinstance(decode_plain(raw), CompiledEvent), event_type
        assert assert_same(raw)
        # without the optional fields (their defaults), and pretty-printed
        bare = {k: v for k, v in doc.items() if k not in ("subject", "datacontenttype", "dataschema")}
        bare["data"] = {k: v for k, v in doc["data"].items() if k not in ("unmet_criteria", "reason")}
        raw = json.dumps(bare, ensure_ascii=False).encode()
        assert assert_same(raw) == (not isinstance(ordinary(raw), ContractError))
        assert assert_same(json.dumps(doc, indent=2, ensure_ascii=False).encode())


def test_the_compiled_struct_holds_every_field_of_the_shadow() -> None:
    _, shadows = _shadows()
    for event_type in COMPILED_TYPES:
        shadow = shadows[event_type]
        struct, _ = compiled_event(shadow, schema_uri(event_type))  # type: ignore[misc]
        fields = {field.name: field for field in msgspec.structs.fields(struct)}
        assert set(fields) == set(shadow.validator.model_fields) - {"type"}
        data = {field.name: field for field in msgspec.structs.fields(fields["data"].type)}
        assert set(data) == set(shadow.validator.model_fields["data"].annotation.model_fields)
        for struct_fields, model in ((fields, shadow.validator), (data, shadow.validator.model_fields["data"].annotation)):
            for name, field in struct_fields.items():  # required as the shadow's, or read as absent (counted, given
                # the shadow's default)
                assert field.required == model.model_fields[name].is_required(), (event_type, name)
                assert field.required or field.default is msgspec.UNSET
        config = struct.__struct_config__
        assert config.forbid_unknown_fields and config.tag == event_type and config.tag_field == "type"
        assert fields["data"].type.__struct_config__.forbid_unknown_fields


def _variants(event_type: str) -> Iterator[bytes]:
    """A bulk event edited where msgspec's reading could differ from the shadow's, field by field."""
    doc = DOCS[event_type]
    text = json.dumps(doc, ensure_ascii=False, separators=(",", ":"))
    yield text.encode()
    for where in ("envelope", "data"):
        target_keys = [k for k in doc if k != "data"] if where == "envelope" else list(doc["data"])
        for key in target_keys:
            for value in VALUES:
                edited = json.loads(text)
                (edited if where == "envelope" else edited["data"])[key] = value
                yield json.dumps(edited, ensure_ascii=False, separators=(",", ":")).encode("utf-8", "surrogatepass")
            edited = json.loads(text)
            (edited if where == "envelope" else edited["data"]).pop(key)
            yield json.dumps(edited, ensure_ascii=False, separators=(",", ":")).encode()
    for before, after in SYNTAX:
        yield text.replace(before, after, 1).encode("utf-8", "surrogatepass")
    for dataschema in (schema_uri(event_type).replace("https", "http"), schema_uri(COMPILED_TYPES[0]),
                       schema_uri(event_type) + " ", schema_uri(event_type).replace(".v1", ".v2"), None):
        yield json.dumps({**doc, "dataschema": dataschema}, ensure_ascii=False, separators=(",", ":")).encode()
    for extra in ({"x": 1}, {"type": event_type}, {"data": doc["data"]}):
        yield json.dumps(doc, ensure_ascii=False, separators=(",", ":")).encode()[:-1] + b',' + \
            json.dumps(extra, separators=(",", ":")).encode()[1:]  # a key given twice
        yield json.dumps({**doc, "data": {**doc["data"], "x": 1}}, ensure_ascii=False, separators=(",", ":")).encode()


VALUES: tuple[Any, ...] = (
    None, True, 0, 1, -1, 2, 4, 9, 10, 2**31 - 1, 2**31, -(2**31) - 1, 10**30, 1.0, 1.5, [], {}, ["x"], "", " ",
    "1", "x" * 33, "x" * 65, "x" * 257, "x" * 513, "F", "E", "A", "AF", "af", "THREE_LEVEL", "NOT_REACHED",
    "ACCEPTABLE", "HT", "ht", "female", "assessment", "term_grade", "GRGRMAT01", "grgrmat01", "GRSAMAT01", "2026/27",
    "2026/28", "1989/90", "2100/01", "2999", "0180", "212000-1234", "2120001234", "162120001234", "21200-01234",
    "29990011", "2999001", "２９９９", "9A", "9 A", "stu:x.y_z-1", "stu/x", "stu x", "Åsa", "é",
    "3b0e6f0a-9c4d-4f7e-8a21-5d6c7e8f9a01", "3B0E6F0A-9C4D-4F7E-8A21-5D6C7E8F9A01", "3b0e6f0a9c4d4f7e8a215d6c7e8f9a01",
    "{3b0e6f0a-9c4d-4f7e-8a21-5d6c7e8f9a01}", "urn:uuid:3b0e6f0a-9c4d-4f7e-8a21-5d6c7e8f9a01", "not-a-uuid",
    "2026-11-16", "2026-11-16T15:42:07Z", "2026-11-16t15:42:07.123456789z", "2026-11-16T15:42:07+05:45",
    "2026-11-16T15:42:07", "2026-11-16 15:42:07Z", "2026-11-16T15:42:07+0100", "2026-11-16T15:42Z",
    "2026-11-16T23:59:60Z", "2026-11-16T15:42:07-00:00", "1899-12-31T23:30:00-01:00", "1900-01-01T00:30:00+01:00",
    "1999-12-31T23:59:59Z", "2000-01-01T00:00:00Z", "2199-12-31T23:59:59Z", "2199-12-30T00:00:00Z",
    "2199-12-31T23:30:00-01:00", "1899-12-31", "1900-01-01", "2199-12-31", "2200-01-01", "2026-02-30", "20261116",
    "1700000000", "/assessment", "/a%41", "/a%zz", "a b", "/bedömning", "https://x.example/y?z=1#f",
    *PIN_SPELLINGS, "stu-" + PIN_SPELLINGS[1], "a\u202eb", "a\u200bb", "a\u00a0b", "a\\b", "a\x00b", "a\tb", "\ud800")
SYNTAX: tuple[tuple[str, str], ...] = (
    ('"revision":', '"revision" :'), ('":', '" :'), (",", " ,\n"), ('"revision":', '"revision":"1","revision":'),
    ('"data":{', '"data":{"revision":1,'), ('"id":', '"id":"not-a-uuid","id":'), ("{", "\ufeff{"), ("}", "},"),
    ('"specversion":"1.0"', '"specversion":1.0'), ('"specversion":"1.0"', '"specversion":"1.0","specversion":"1.0"'),
    ('"source":"', '"source":":'), ('"source":"', '"source":"\\u002f'), (':1,', ':1.0,'), (':1,', ':1e0,'),
    (':1,', ':01,'), (':1,', ':-0,'), (':1,', ':+1,'), (':1,', ':1 ,'), (':1,', ':true,'), (':1,', ':NaN,'),
    (':1,', ':1e400,'), (':1,', ':' + "1" * 40 + ','), ('"2', '"\t2'), ('"2', '"\x002'), ('"2', '"\x7f2'),
    ('"2', '"\\u00322'))


@pytest.mark.parametrize("event_type", COMPILED_TYPES)
def test_the_compiled_shadow_decides_as_the_shadow_field_by_field(event_type: str) -> None:
    taken = Counter(assert_same(raw) for raw in _variants(event_type))
    assert taken[True] >= 10 and taken[False] >= 100, taken


HOSTILE = st.one_of(
    st.none(), st.booleans(), st.integers(-2**70, 2**70), st.sampled_from([2**31, -2**31 - 1, 10**30, 0.5, 1.0]),
    st.sampled_from(VALUES), st.text(alphabet="09aA-_:./ %Zz+T\u00e9", max_size=40),
    st.lists(st.sampled_from(["x", " ", "", PIN_SPELLINGS[1], "Eleven kan – något."]), max_size=3))


def _document(data: st.DataObject) -> dict[str, Any]:
    event_type = data.draw(st.sampled_from(COMPILED_TYPES), label="type")
    doc = json.loads(json.dumps(DOCS[event_type]))
    body = doc["data"]
    doc["id"] = str(uuid.UUID(int=data.draw(st.integers(0, 2**128 - 1), label="id")))
    body["student_id"] = data.draw(st.from_regex(r"\A[A-Za-z0-9._:-]{1,64}\Z"), label="student")
    body["organiser_id"] = data.draw(st.sampled_from(["2999", "0180", "212000-1234", "2120001234"]), label="organiser")
    if "forecast_id" in body:
        body["forecast_id"] = str(forecast_id_for(*(body[k] for k in (
            "organiser_id", "student_id", "subject_code", "school_year", "term"))))
    for _ in range(data.draw(st.integers(0, 3), label="mutations")):
        target = doc if data.draw(st.booleans(), label="envelope") else body
        key = data.draw(st.sampled_from(sorted(target)), label="key")
        action = data.draw(st.sampled_from(["replace", "replace", "drop", "extra", "append"]), label="do")
        if action == "replace" and key != "data":
            target[key] = data.draw(HOSTILE, label="value")
        elif action == "drop" and key != "data":
            target.pop(key)
        elif action == "extra":
            target[data.draw(st.sampled_from(["x", key + " ", PIN_SPELLINGS[0]]), label="extra")] = 1
        elif action == "append" and isinstance(target[key], str):
            target[key] += data.draw(st.sampled_from(["", " ", "x", "0", "Z", "%41", "\u00e9", *PIN_SPELLINGS]),
                                     label="appended")
    return doc


@settings(max_examples=int(os.environ.get("STYRKEDJA_DECODE_EXAMPLES", "300")), derandomize=True, deadline=None,
          suppress_health_check=[HealthCheck.too_slow])
@given(st.data())
def test_the_compiled_shadow_decides_as_the_shadow_on_mutated_events(data: st.DataObject) -> None:
    doc = _document(data)
    text = json.dumps(doc, ensure_ascii=False, separators=(",", ":"))
    syntax = data.draw(st.sampled_from([("", ""), ("", ""), *SYNTAX]), label="syntax")
    if syntax[0]:
        text = text.replace(*syntax, 1)
    assert_same(text.encode("utf-8", "surrogatepass"))


def test_a_wider_compiled_shadow_is_caught(monkeypatch: pytest.MonkeyPatch) -> None:
    """The check above fails where a compiled shadow accepts what the shadow refuses: here one made with an integer's
    upper bound left out (a year 10, a round 5)."""
    _, shadows = _shadows()
    doc = json.loads(json.dumps(DOCS[COMPILED_TYPES[0]]))
    doc["data"]["year"] = 10
    raw = json.dumps(doc, ensure_ascii=False, separators=(",", ":")).encode()
    assert plain_json_without_pin(raw)
    assert not assert_same(raw)  # the real one: refused everywhere
    original = compiled._int_bounds

    def wider(metadata: Any) -> Any:
        bounds = original(metadata)
        return None if bounds is None else {**bounds, "le": 2**31 - 1}

    monkeypatch.setattr(compiled, "_int_bounds", wider)
    too_wide = compiled_decoder(shadows, schema_uri)
    assert too_wide is not None
    with pytest.raises(AssertionError):
        assert_compiled_decides_as_the_shadow(raw, too_wide)


def test_a_text_field_is_remembered_only_where_the_shadow_takes_it(monkeypatch: pytest.MonkeyPatch) -> None:
    """The memo of a text field's verdicts holds the shadow's values of the texts it took, no refusal, and starts again
    at `MEMO_SIZE` texts."""
    _, shadows = _shadows()
    event_type = COMPILED_TYPES[0]
    decode = compiled_decoder({event_type: shadows[event_type]}, schema_uri)
    assert decode is not None
    doc = json.loads(json.dumps(DOCS[event_type]))
    for time in ("2026-11-16T15:42:07+01:00", "1999-12-31T23:59:59Z", "2026-11-16T15:42:07+01:00"):
        doc["time"] = time
        raw = json.dumps(doc, ensure_ascii=False, separators=(",", ":")).encode()
        event = decode(raw)
        assert (event is None) == (time.startswith("1999"))
        if event is not None:
            assert event.time == shadow_of(raw).time and event.time.tzinfo == shadow_of(raw).time.tzinfo
    memo: dict[str, Any] = {}
    monkeypatch.setattr(compiled, "MEMO_SIZE", 2)
    field = shadows[event_type].validator.model_fields["time"]
    check = TypeAdapter(Annotated[(field.annotation, *field.metadata)]).validator.validate_python
    assert compiled._miss(memo, check, "1999-12-31T23:59:59Z") is None and not memo
    first = compiled._miss(memo, check, "2026-11-16T15:42:07Z")
    assert memo == {"2026-11-16T15:42:07Z": first}
    compiled._miss(memo, check, "2026-11-16T15:42:08Z")
    compiled._miss(memo, check, "2026-11-16T15:42:09Z")
    assert list(memo) == ["2026-11-16T15:42:09Z"]


def test_a_percent_encoded_source_goes_to_the_shadow() -> None:
    doc = json.loads(json.dumps(DOCS[COMPILED_TYPES[0]]))
    doc["source"] = "/a%41"
    raw = json.dumps(doc, ensure_ascii=False, separators=(",", ":")).encode()
    assert _the_compiled()(raw) is None
    shadow = decode_plain(raw)
    assert shadow is not None and not isinstance(shadow, CompiledEvent)

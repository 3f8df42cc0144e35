"""The write path's events of checked values (`writes.Checked`): the same bytes as a validated
`CloudEvent.to_bytes()` but for id and time, for every event type; and what is refused."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, date, datetime

import pytest
from pydantic import BaseModel

from styrkedja_contracts import decode_event, forecast_id_for, new_event
from styrkedja_contracts.events import ALL_EVENT_MODELS, AssessmentPublishedV1, ForecastSubmittedV1
from styrkedja_contracts.examples import example_bytes
from styrkedja_kit.inputs import InputModel
from styrkedja_kit.writes import Checked, checked_outbox_row, encode_checked, event_outbox_row

SOURCE = "/styrkedja/test"
AT = datetime(2026, 11, 2, 9, 30, 1, 123456, tzinfo=UTC)


@pytest.mark.parametrize("model", ALL_EVENT_MODELS, ids=lambda m: m.event_type)
def test_every_event_type_encodes_as_the_validated_event_does(model) -> None:
    event = decode_event(example_bytes(model.event_type))
    subject = event.subject or str(uuid.uuid4())
    validated = new_event(event.data, source=SOURCE, subject=subject, event_id=event.id, time=event.time)
    values = event.data.model_dump(mode="json")  # JSON-ready values, as a service's request gives them
    checked = encode_checked(Checked(model, values), source=SOURCE, subject=subject, event_id=event.id,
                             time=event.time)
    assert checked == validated.to_bytes()
    assert checked_outbox_row(Checked(model, values), source=SOURCE, subject=subject, event_id=event.id,
                              time=event.time) == event_outbox_row(validated)


def test_python_typed_values_encode_as_the_model_does() -> None:
    """What the services hand over: the request's JSON-mode content plus ids, revision, times and flags."""
    record_id, event_id = uuid.uuid4(), uuid.uuid4()
    assessment = {"assessment_id": record_id, "revision": 3, "organiser_id": "212000-1234",
                  "school_unit_code": "12345678", "group_id": "7A", "student_id": "s-1", "teacher_id": "t-1",
                  "gender": "female", "year": 7, "subject_code": "GRGRMAT01", "kind": "assessment", "scale": "AF",
                  "value": "F", "unmet_criteria": ["Eleven för ”enkla” resonemang åäö"], "school_year": "2026/27",
                  "term": "HT", "round": 1, "assessed_on": "2026-10-01", "published_at": AT}
    forecast = {"forecast_id": forecast_id_for("2999", "s-1", "GRGRMAT01", "2026/27", "VT"), "revision": 1,
                "organiser_id": "2999", "school_unit_code": "12345678",
                "group_id": "7A", "student_id": "s-1", "teacher_id": "t-1", "gender": "unknown", "year": 0,
                "subject_code": "GRGRMAT01", "school_year": "2026/27", "term": "VT", "value": "ACCEPTABLE",
                "submitted_at": AT, "window_deadline": date(2027, 4, 2), "late": False}
    for model, values in ((AssessmentPublishedV1, assessment), (ForecastSubmittedV1, forecast)):
        expected = new_event(model(**values), source=SOURCE, subject=str(record_id), event_id=event_id,
                             time=AT).to_bytes()
        reordered = dict(reversed(values.items()))  # the model's order, whatever the values' order
        assert encode_checked(Checked(model, reordered), source=SOURCE, subject=str(record_id),
                              event_id=event_id, time=AT) == expected
        assert decode_event(expected).data == model(**values)


def test_a_record_id_subject_encodes_as_its_text() -> None:
    """The write path hands the record id over as a UUID (encoded by pydantic-core, no `str` call per
    event): the same bytes as the validated event with the id's text as its subject."""
    event = decode_event(example_bytes(ForecastSubmittedV1.event_type))
    record_id = uuid.uuid4()
    validated = new_event(event.data, source=SOURCE, subject=str(record_id), event_id=event.id, time=event.time)
    values = event.data.model_dump(mode="json")
    row = checked_outbox_row(Checked(ForecastSubmittedV1, values), source=SOURCE, subject=record_id,
                             event_id=event.id, time=event.time)
    assert row == event_outbox_row(validated)


def test_missing_extra_or_unregistered_is_refused() -> None:
    values = decode_event(example_bytes(ForecastSubmittedV1.event_type)).data.model_dump(mode="json")
    kwargs = {"source": SOURCE, "subject": "s", "event_id": uuid.uuid4(), "time": AT}
    with pytest.raises(ValueError, match="fields"):
        encode_checked(Checked(ForecastSubmittedV1, values | {"extra": 1}), **kwargs)
    with pytest.raises(ValueError, match="fields"):
        encode_checked(Checked(ForecastSubmittedV1, {k: v for k, v in values.items() if k != "late"}), **kwargs)
    with pytest.raises(KeyError):
        encode_checked(Checked(ForecastSubmittedV1, {k if k != "late" else "early": v for k, v in values.items()}),
                       **kwargs)

    class Unregistered(ForecastSubmittedV1):
        pass

    with pytest.raises(TypeError, match="registered"):
        encode_checked(Checked(Unregistered, values), **kwargs)


class Item(InputModel):
    text: str
    number: int = 0


class Batch(InputModel):
    items: list[Item]
    note: str = ""


def test_a_batch_checks_each_item_once_and_still_names_every_bad_one() -> None:
    from pydantic import ValidationError

    with pytest.raises(ValidationError) as caught:
        Batch.model_validate({"items": [{"text": "ok"}, {"text": "19121212-1212"}, {"text": "a\x00b"},
                                        {"text": "ok", "number": 2**31}], "note": "gäller 121212-1212"})
    assert {(".".join(map(str, e["loc"])), e["type"]) for e in caught.value.errors()} == {
        ("items.1.text", "no_personal_identity_number"), ("items.2.text", "no_control_characters"),
        ("items.3.number", "less_than_equal"), ("note", "no_personal_identity_number")}
    assert isinstance(Batch.model_validate({"items": [{"text": "ok"}]}).items[0], BaseModel)


def test_checked_payload_decodes_by_the_contract() -> None:
    values = json.loads(example_bytes(AssessmentPublishedV1.event_type))["data"]
    payload = encode_checked(Checked(AssessmentPublishedV1, values), source=SOURCE, subject=str(uuid.uuid4()),
                             event_id=uuid.uuid4(), time=AT)
    assert decode_event(payload).data == AssessmentPublishedV1.model_validate(values)


def test_a_field_whose_type_checks_its_text_is_checked_once_and_every_other_still_is() -> None:
    from typing import Annotated

    from pydantic import Field, ValidationError

    from styrkedja_contracts.identifiers import SafeText, StudentId

    class Body(InputModel):
        student_id: StudentId
        note: SafeText = ""
        plain: str = ""
        bounded: Annotated[int, Field(ge=0, le=9)] = 0
        unbounded: int = 0

    assert Body.__rules_held_by_type__ == {"student_id", "note", "bounded"}
    for field, value in (("student_id", "19121212-1212"), ("note", "gäller 121212-1212"),
                         ("plain", "gäller 121212-1212"), ("plain", "a\x00b")):
        with pytest.raises(ValidationError) as caught:
            Body.model_validate({"student_id": "s-1", field: value})
        assert [e["loc"] for e in caught.value.errors()] == [(field,)]
    with pytest.raises(ValidationError) as caught:
        Body.model_validate({"student_id": "s-1", "unbounded": 2**31, "bounded": 10})
    assert {(e["loc"], e["type"]) for e in caught.value.errors()} == {(("unbounded",), "less_than_equal"),
                                                                      (("bounded",), "less_than_equal")}


def test_json_columns_given_as_json_text_are_not_encoded_again() -> None:
    from styrkedja_kit.sets import JsonText, _json_values, json_text

    content = {"b": [1, "två"], "a": None}
    encoded = json_text(content)
    assert isinstance(encoded, JsonText) and json.loads(encoded) == content
    assert _json_values([encoded, content, None, "text"]) == [encoded, encoded, None, '"text"']
    assert _json_values([encoded])[0] is encoded


def test_random_uuids_are_version_4_as_uuid4_makes_them() -> None:
    from styrkedja_kit.writes import random_uuids

    made = random_uuids(2000)
    assert len(set(made)) == 2000 and random_uuids(0) == []
    assert all(u.version == 4 and u.variant == uuid.RFC_4122 for u in made)
    assert all(uuid.UUID(str(u)) == u for u in made[:10])
    # made without `UUID.__init__` (`_uuid_of`): the same object as `UUID(int=…)` in every way the services use
    import copy
    import pickle
    for u in made[:10]:
        same = uuid.UUID(int=u.int)
        assert (type(u), u, hash(u), str(u), repr(u), u.bytes, u.hex, u.is_safe) == (
            uuid.UUID, same, hash(same), str(same), repr(same), same.bytes, same.hex, same.is_safe)
        assert pickle.loads(pickle.dumps(u)) == u and copy.deepcopy(u) == u and sorted([u, same]) == [u, same]
    # every one of the 122 random bits varies (none stuck at 0 or 1 by the masks)
    ones = 0
    for u in made:
        ones |= u.int
    zeros = 0
    for u in made:
        zeros |= ~u.int & (2**128 - 1)
    fixed = (0xF000 << 64) | (0xC000 << 48)
    assert ones | fixed == zeros | fixed == 2**128 - 1

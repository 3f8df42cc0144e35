"""`InputModel` applies the value rules only to fields whose type does not already hold them (a Python
call per field saved): it must accept and refuse exactly what a body whose every field is checked
again (the old `field_validator("*")`) does, with the same errors (field and rule), over generated
strings including every personnummer spelling, control characters and non-ASCII digits."""

from __future__ import annotations

import copy
import importlib
from datetime import date
from enum import StrEnum
from typing import Annotated, Any, Literal
from uuid import UUID

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, ValidationError, create_model, field_validator

from styrkedja_contracts.events.base import enforce_value_rules
from styrkedja_contracts.identifiers import (
    GroupId,
    OrganiserId,
    SafeText,
    SchoolUnitCode,
    SchoolYear,
    StudentId,
    check_text,
    luhn_check_digit,
)
from styrkedja_contracts.subjects import KnownSubjectCode
from styrkedja_kit.inputs import InputModel, Revision, StrictInt


class Colour(StrEnum):
    red = "red"
    blue = "blue"


class ItemIn(InputModel):
    """Every shape of field a request body has."""

    item_id: UUID | None = None
    revision: Revision | None = None
    organiser_id: OrganiserId
    school_unit_code: SchoolUnitCode
    group_id: GroupId
    student_id: StudentId
    subject_code: KnownSubjectCode
    school_year: SchoolYear
    year: Annotated[StrictInt, Field(ge=0, le=9)]
    count: StrictInt = 0  # unbounded by its type: checked by InputModel
    colour: Colour = Colour.red
    level: Literal["LOW", "HIGH"] = "LOW"
    value: str = Field("x", min_length=1, max_length=32)  # plain text: checked by InputModel
    notes: list[Annotated[SafeText, Field(max_length=500)]] = Field(default_factory=list)
    comment: Annotated[SafeText, Field(max_length=500)] | None = None
    extra: dict[str, Any] = Field(default_factory=dict)  # anything: walked by InputModel
    on: date | None = None


class BatchIn(InputModel):
    items: list[ItemIn] = Field(min_length=1, max_length=10)


class _EveryField(BaseModel):
    """The reference: every field checked again after its type, as before."""

    model_config = ConfigDict(extra="forbid")

    @field_validator("*", mode="after")
    @classmethod
    def _value_rules(cls, value: Any) -> Any:
        return enforce_value_rules(value)


def reference(model: type[InputModel]) -> type[BaseModel]:
    fields: dict[str, Any] = {}
    for name, field in model.model_fields.items():
        plain = copy.copy(field)
        plain.metadata = [m for m in field.metadata if getattr(m, "func", None) is not enforce_value_rules]
        fields[name] = (field.annotation, plain)
    return create_model(f"Every{model.__name__}", __base__=_EveryField, **fields)


def outcome(model: type[BaseModel], body: Any) -> tuple[str, Any]:
    try:
        return "accepted", model.model_validate(body).model_dump(mode="json")
    except ValidationError as error:
        return "refused", sorted((str(e["loc"]), e["type"]) for e in error.errors())


def pin(century: str, date_part: str, serial: str, separator: str) -> str:
    return f"{century}{date_part}{separator}{serial}{luhn_check_digit(date_part + serial)}"


#: personnummer and samordningsnummer in every spelling: separators, centuries, digits of other scripts
PINS = st.builds(
    pin,
    st.sampled_from(["", "19", "20"]),
    st.builds(lambda y, m, d: f"{y:02d}{m:02d}{d:02d}", st.integers(0, 99), st.integers(1, 12),
              st.one_of(st.integers(1, 28), st.integers(61, 88))),
    st.integers(0, 999).map(lambda n: f"{n:03d}"),
    st.sampled_from(["", "-", "+", " ", " - ", "\u2013", "\u2212", "\u00a0", "\u00ad", "\u200b-", "\t", "\uff0d"]),
)
FULL_WIDTH = str.maketrans("0123456789", "\uff10\uff11\uff12\uff13\uff14\uff15\uff16\uff17\uff18\uff19")
ARABIC = str.maketrans("0123456789", "\u0660\u0661\u0662\u0663\u0664\u0665\u0666\u0667\u0668\u0669")
TEXT = st.one_of(
    PINS,
    PINS.map(lambda p: p.translate(FULL_WIDTH)),
    PINS.map(lambda p: p.translate(ARABIC)),
    st.builds(lambda a, p, b: f"{a}{p}{b}", st.text(max_size=5), PINS, st.text(max_size=5)),
    st.sampled_from(["2999", "212000-1234", "2120001234", "12345678", "2026/27", "2026/28", "GRGRMAT01",
                     "GRGRXXX99", "s-1", "7A", "LOW", "HIGH", "red", "\u0662\u0669\u0669\u0669", "\uff12\uff19\uff19\uff19",
                     "1234567\u0668", "a\x00b", "a\x7fb", "\ud800", "tab\tok", "", "x" * 70]),
    st.text(alphabet=st.characters(codec="utf-8"), max_size=20),
    st.text(alphabet="0123456789-+/ .:_AZaz\x01", max_size=14),
)
VALUES = st.one_of(TEXT, st.none(), st.integers(-2**40, 2**40), st.booleans(), st.lists(TEXT, max_size=3),
                   st.dictionaries(TEXT, TEXT, max_size=2))
VALID = {"organiser_id": "2999", "school_unit_code": "12345678", "group_id": "7A", "student_id": "s-1",
         "subject_code": "GRGRMAT01", "school_year": "2026/27", "year": 7}
FIELDS = sorted(ItemIn.model_fields)


@st.composite
def bodies(draw: st.DrawFn) -> dict[str, Any]:
    body: dict[str, Any] = dict(VALID)
    for name in draw(st.lists(st.sampled_from(FIELDS), min_size=1, max_size=4, unique=True)):
        body[name] = draw(st.one_of(TEXT, VALUES) if name != "notes" else st.lists(TEXT, max_size=3))
    return body


def test_the_fields_checked_by_input_model_are_those_whose_type_does_not_hold_the_rules() -> None:
    assert set(ItemIn.model_fields) - ItemIn.__rules_held_by_type__ == {"count", "value", "extra"}
    assert BatchIn.__rules_held_by_type__ == {"items"}


@settings(max_examples=600, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(body=bodies())
def test_an_item_is_accepted_and_refused_exactly_as_when_every_field_is_checked(body: dict[str, Any]) -> None:
    assert outcome(ItemIn, body) == outcome(reference(ItemIn), body)


_REFERENCES: dict[type[InputModel], type[BaseModel]] = {}


def _reference(model: type[InputModel]) -> type[BaseModel]:
    if model not in _REFERENCES:
        _REFERENCES[model] = reference(model)
    return _REFERENCES[model]


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(items=st.lists(bodies(), min_size=1, max_size=3))
def test_a_batch_is_accepted_and_refused_exactly_as_when_every_field_is_checked(items: list[dict[str, Any]]) -> None:
    assert outcome(BatchIn, {"items": items}) == outcome(_reference(BatchIn), {"items": items})


@settings(max_examples=1500, deadline=None)
@given(text=TEXT)
def test_what_a_text_rules_held_type_accepts_obeys_the_text_rules(text: str) -> None:
    for kind in (SchoolUnitCode, SchoolYear):
        try:
            TypeAdapter(kind).validate_python(text)
        except ValidationError:
            continue
        assert check_text(text) == text


SERVICE_MODELS = [("styrkedja_assessment.assessments.schemas", "AssessmentIn"),
                  ("styrkedja_forecast.forecasts.schemas", "ForecastIn"),
                  ("styrkedja_assessment.assessments.schemas", "RetractIn"),
                  ("styrkedja_forecast.forecasts.schemas", "WithdrawIn")]


@pytest.mark.parametrize(("module", "name"), SERVICE_MODELS)
def test_the_services_bulk_bodies_refuse_as_when_every_field_is_checked(module: str, name: str) -> None:
    """The services' own request bodies, every field replaced in turn by every kind of bad text."""
    model = getattr(pytest.importorskip(module), name)
    every = _reference(model)
    base = {"organiser_id": "2999", "school_unit_code": "12345678", "group_id": "7A", "student_id": "s-1",
            "teacher_id": "t-1", "gender": "female", "year": 7, "subject_code": "GRGRMAT01", "kind": "assessment",
            "scale": "AF", "value": "F", "unmet_criteria": ["läsa"], "school_year": "2026/27", "term": "HT",
            "round": 1, "assessed_on": "2026-10-01"}
    if name == "ForecastIn":
        base = {k: v for k, v in base.items() if k not in ("kind", "scale", "unmet_criteria", "round", "assessed_on")}
        base["value"] = "ACCEPTABLE"
    if name in ("RetractIn", "WithdrawIn"):
        base = {}
    importlib.import_module(module)
    bad = ["19121212-1212", "121212\u20131212", "\uff11\uff12\uff11\uff12\uff11\uff12\uff11\uff12\uff11\uff12",
           "a\x00b", "\ud800", "\u0662\u0669\u0669\u0669", "", 2**40, None, ["19121212-1212"]]
    assert outcome(model, base) == outcome(every, base)
    for field in model.model_fields:
        for value in bad:
            body = {**base, field: value}
            assert outcome(model, body) == outcome(every, body), (field, value)


@settings(max_examples=1500, deadline=None)
@given(value=st.one_of(TEXT, VALUES, st.text(min_size=250, max_size=300)))
def test_the_identifier_types_text_check_refuses_exactly_what_check_text_does(value: Any) -> None:
    """`_reject_pin` answers a short clean string from the cache without calling `check_text`."""
    from pydantic_core import PydanticCustomError

    from styrkedja_contracts.identifiers import _reject_pin

    def result(check: Any) -> Any:
        try:
            return "ok", check(value)
        except PydanticCustomError as error:
            return "refused", error.type

    expected = result(check_text) if isinstance(value, str) else ("ok", value)
    assert result(_reject_pin) == expected


@settings(max_examples=1500, deadline=None)
@given(value=st.one_of(TEXT, VALUES, st.from_regex(r"\A(16)?[0-9]{6}-?[0-9]{4}\Z"), st.text(min_size=250, max_size=300)))
def test_the_organiser_ids_one_validator_is_its_spelling_then_check_text(value: Any) -> None:
    """`_canonical_organiser` (cached) refuses exactly what `check_text` refuses of the kept spelling, and
    keeps what `canonical_organiser_id` gives."""
    from pydantic_core import PydanticCustomError

    from styrkedja_contracts.identifiers import _canonical_organiser, canonical_organiser_id

    def result(check: Any) -> Any:
        try:
            return "ok", check(value)
        except PydanticCustomError as error:
            return "refused", error.type

    if not isinstance(value, str):
        expected = ("ok", value)
    else:
        expected = result(lambda v: check_text(canonical_organiser_id(v) if len(v) <= 13 else v))
    assert result(_canonical_organiser) == expected

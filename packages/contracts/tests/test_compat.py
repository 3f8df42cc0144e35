"""compare_schemas: each breaking and each compatible kind of change."""

from __future__ import annotations

import copy
from enum import StrEnum
from typing import Any, Literal

import pytest
from pydantic import BaseModel, ConfigDict, Field

from styrkedja_contracts import EVENT_MODELS, compare_schemas
from styrkedja_contracts.export import generate_schemas


class Colour(StrEnum):
    red = "red"
    blue = "blue"


class Item(BaseModel):
    model_config = ConfigDict(extra="forbid")
    code: str = Field(max_length=10)


class Base(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str = Field(min_length=1, max_length=50)
    count: int = Field(ge=0, le=100)
    colour: Colour
    note: str | None = None
    items: list[Item] = []


BASE = Base.model_json_schema()


def schema(**fields: Any) -> dict[str, Any]:
    """Schema of a model like Base with some fields replaced/added (None = removed)."""
    annotations = dict(Base.__annotations__)
    namespace: dict[str, Any] = {"model_config": ConfigDict(extra="forbid"), "__module__": __name__}
    defaults = dict(Base.model_fields.items())
    for name, spec in fields.items():
        if spec is None:
            annotations.pop(name)
            defaults.pop(name)
        else:
            annotations[name], namespace[name] = spec
            defaults.pop(name, None)
    for name, info in defaults.items():
        namespace[name] = info
    namespace["__annotations__"] = annotations
    return type("Base", (BaseModel,), namespace).model_json_schema()


def test_identical_is_compatible() -> None:
    assert compare_schemas(BASE, copy.deepcopy(BASE)) == []
    assert schema() == BASE


def test_every_published_schema_is_compatible_with_itself() -> None:
    for name, s in generate_schemas().items():
        assert compare_schemas(s, copy.deepcopy(s)) == [], name
    assert len(EVENT_MODELS) == 19


# ---- compatible changes -------------------------------------------------------

@pytest.mark.parametrize(
    "change",
    [
        pytest.param({"extra": (str | None, None)}, id="optional field added"),
        pytest.param({"extra": (int, 3)}, id="field with default added"),
        pytest.param({"colour": (Literal["red", "blue", "green"], ...)}, id="enum value added"),
        pytest.param({"name": (str, Field(min_length=0, max_length=80))}, id="length widened"),
        pytest.param({"count": (int, Field(ge=-5))}, id="bounds widened / removed"),
        pytest.param({"count": (float, Field(ge=0, le=100))}, id="integer widened to number"),
        pytest.param({"count": (int | str, Field(default=0))}, id="type alternative added, now optional"),
        pytest.param({"note": (str | None, Field(default=None, description="docs only"))}, id="description"),
    ],
)
def test_compatible(change: dict[str, Any]) -> None:
    assert compare_schemas(BASE, schema(**change)) == []


def test_required_field_made_optional_is_compatible() -> None:
    assert compare_schemas(BASE, schema(name=(str, Field(default="x", min_length=1, max_length=50)))) == []


def test_additional_properties_allowed_is_compatible() -> None:
    new = copy.deepcopy(BASE)
    new["additionalProperties"] = True
    assert compare_schemas(BASE, new) == []


# ---- breaking changes ---------------------------------------------------------

NARROWED = "constraint narrowed"

BREAKING: list[tuple[str, dict[str, Any], str]] = [
    ("field removed", {"note": None}, "note: field removed"),
    ("new required field", {"extra": (str, ...)}, "extra: new required field"),
    ("optional -> required", {"note": (str, ...)}, "note: optional field became required"),
    ("type changed", {"count": (str, ...)}, "count: type changed from integer to string"),
    ("enum value removed", {"colour": (Literal["red"], ...)}, "colour: enum value removed: blue"),
    ("minLength raised", {"name": (str, Field(min_length=2, max_length=50))}, f"name: {NARROWED}: minLength"),
    ("maxLength lowered", {"name": (str, Field(min_length=1, max_length=9))}, f"name: {NARROWED}: maxLength"),
    ("minimum raised", {"count": (int, Field(ge=1, le=100))}, f"count: {NARROWED}: minimum"),
    ("maximum lowered", {"count": (int, Field(ge=0, le=9))}, f"count: {NARROWED}: maximum"),
    (
        "pattern added",
        {"name": (str, Field(min_length=1, max_length=50, pattern="^[a-z]+$"))},
        f"name: {NARROWED}: pattern",
    ),
    (
        "nullable field narrowed",
        {"note": (str | None, Field(default=None, max_length=5))},
        f"note: {NARROWED}: maxLength",
    ),
    ("nullable type changed", {"note": (int | None, None)}, "note: type changed"),
    ("null no longer accepted", {"note": (str, "")}, "note: type changed"),
    ("enum added to free string", {"name": (Literal["a", "b"], ...)}, f"name: {NARROWED}: enum/const added"),
    ("array item type changed", {"items": (list[str], [])}, "items[]: type changed"),
]


@pytest.mark.parametrize(("change", "expected"), [pytest.param(c, e, id=i) for i, c, e in BREAKING])
def test_breaking(change: dict[str, Any], expected: str) -> None:
    problems = compare_schemas(BASE, schema(**change))
    assert problems, "expected an incompatibility"
    assert any(p.startswith(expected) for p in problems), problems


def test_nested_model_changes_via_refs() -> None:
    new = copy.deepcopy(BASE)
    new["$defs"]["Item"]["properties"]["code"]["maxLength"] = 5
    assert compare_schemas(BASE, new) == ["items[].code: constraint narrowed: maxLength 10 -> 5"]
    new = copy.deepcopy(BASE)
    del new["$defs"]["Item"]["properties"]["code"]
    new["$defs"]["Item"]["required"] = []
    assert compare_schemas(BASE, new) == ["items[].code: field removed"]


def test_additional_properties_forbidden_is_breaking() -> None:
    old = copy.deepcopy(BASE)
    old.pop("additionalProperties")
    assert any("additional properties no longer allowed" in p for p in compare_schemas(old, BASE))


def test_format_and_unique_items_and_root_type() -> None:
    old = {"type": "object", "properties": {"d": {"type": "string"}, "l": {"type": "array"}}}
    new = {"type": "object", "properties": {"d": {"type": "string", "format": "date"},
                                            "l": {"type": "array", "uniqueItems": True}}}
    problems = compare_schemas(old, new)
    assert any(p.startswith("d: constraint narrowed: format") for p in problems)
    assert any(p.startswith("l: constraint narrowed: uniqueItems") for p in problems)
    assert compare_schemas({"type": "object"}, {"type": "array"}) == [
        "<root>: type changed from object to array"
    ]

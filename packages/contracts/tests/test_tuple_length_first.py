"""A tuple longer than its `max_length`, one of its items broken, is refused `too_long` (`events.base.add_length_first`):
pydantic's tuple judged the items first and named the broken one alone (round 33, left from round 32)."""

from __future__ import annotations

import json
from typing import Any

import pytest
from pydantic import BaseModel, Field, ValidationError

from styrkedja_contracts import REGISTRY, ContractError, decode_event
from styrkedja_contracts import envelope as envelope_module
from styrkedja_contracts.events.base import ContractModel, LongestFirst, add_length_first
from styrkedja_contracts.examples import example_bytes

#: (event type, the path to a tuple in its data, its most, an item that breaks it)
TUPLES: list[tuple[str, tuple[str | int, ...], int, Any]] = [
    ("se.styrkedja.assessment.published.v1", ("unmet_criteria",), 100, {"code": 5}),
    ("se.styrkedja.calendar.changed.v1", ("calendar", "forecast_windows"), 2, {"term": "VT", "iso_week": "x"}),
    ("se.styrkedja.calendar.changed.v1", ("calendar", "round_deadlines"), 4, {"round": "x"}),
    ("se.styrkedja.lika.self_assessment_published.v1", ("ratings",), 500, {"surprise": 1}),
    ("se.styrkedja.lika.action_plan_changed.v1", ("items",), 1000, {"surprise": 1}),
    ("se.styrkedja.lika.action_plan_changed.v1", ("items", 0, "tags"), 20, 5),
    ("se.styrkedja.plan.published.v1", ("criteria_codes",), 200, 5),
]


def _with_tuple(document: dict[str, Any], path: tuple[str | int, ...], most: int, broken: Any) -> dict[str, Any]:
    data = json.loads(json.dumps(document["data"]))
    holder: Any = data
    for part in path[:-1]:
        holder = holder[part]
    items = list(holder.get(path[-1]) or [])
    good = items[0] if items else ({"round": 1, "term": "HT", "iso_week": 40} if path[-1] == "round_deadlines"
                                   else "T")
    holder[path[-1]] = [good] * most + [broken]
    return {**document, "data": data}


@pytest.mark.parametrize("plain", [True, False], ids=["fast path", "ordinary path"])
@pytest.mark.parametrize("case", range(len(TUPLES)))
def test_an_event_s_tuple_too_long_with_a_broken_item_is_refused_too_long(case: int, plain: bool) -> None:
    """Failed before: `invalid_data` naming the broken item (`ratings.500.surprise`), not the tuple's length."""
    event_type, path, most, broken = TUPLES[case]
    document = _with_tuple(json.loads(example_bytes(event_type)), path, most, broken)
    value = json.dumps(document, ensure_ascii=False)
    if not plain:  # an escape: the ordinary decode, never the fast path
        value = value.replace('"specversion": "1.0"', '"specversion": "1\\u002e0"', 1)
    with pytest.raises(ContractError) as caught:
        decode_event(value.encode(), max_bytes=10_000_000)
    assert caught.value.reason == "invalid_data", caught.value.message
    where = "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in path)[1:]  # `items[0].tags`
    assert f"{where}: List should have at most {most} items, not {most + 1}" in caught.value.message, (
        caught.value.message)


def test_a_tuple_within_its_most_names_its_broken_item_as_before() -> None:
    class Held(ContractModel):
        names: tuple[int, ...] = Field(max_length=2)

    with pytest.raises(ValidationError) as caught:
        Held.model_validate({"names": [1, "x"]})
    assert [(e["loc"], e["type"]) for e in caught.value.errors()] == [(("names", 1), "int_parsing")]
    with pytest.raises(ValidationError) as caught:
        Held.model_validate({"names": [1, "x", 3], "surprise": 1})
    assert sorted((e["loc"], e["type"]) for e in caught.value.errors()) == [
        (("names",), "too_long"), (("surprise",), "extra_forbidden")]  # the other fields judged as ever


def test_only_tuples_with_a_most_get_the_rule_and_once() -> None:
    class Any_(BaseModel):
        bounded: tuple[int, ...] = Field(max_length=3)
        optional: tuple[int, ...] | None = Field(None, max_length=3)
        unbounded: tuple[int, ...] = ()
        pair: tuple[int, int] = (1, 2)
        listed: list[int] = Field(default_factory=list, max_length=3)

    fields = Any_.model_fields
    assert add_length_first(fields) is True
    assert add_length_first(fields) is False  # once
    got = {name for name, field in fields.items()
           if any(isinstance(getattr(m, "func", None), LongestFirst) for m in field.metadata)}
    assert got == {"bounded", "optional"}


def test_the_events_with_a_tuple_keep_their_shadow() -> None:
    """The rule is left out of the fast path's shadow (the tuple's `max_length` refuses the same lists): the events
    with a tuple and a shadow kept it (the calendar's and LIKA's, with nested models, never had one). Failed with the
    rule alone: the shadow builder gave up on a validator it did not know, and an assessment's decode took 80 µs
    instead of 20 (a 2-core machine at load 4.5)."""
    for event_type in ("se.styrkedja.assessment.published.v1", "se.styrkedja.plan.published.v1"):
        assert envelope_module._shadow_event(REGISTRY.models[event_type]) is not None, event_type

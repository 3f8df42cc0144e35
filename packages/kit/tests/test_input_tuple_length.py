"""A request body's tuple longer than its `max_length`, one item broken: `too_long`, as its list says (round 33)."""

from __future__ import annotations

import pytest
from pydantic import Field, ValidationError

from styrkedja_kit.inputs import InputModel


class Body(InputModel):
    weeks: tuple[int, ...] = Field(max_length=2)
    days: list[int] = Field(default_factory=list, max_length=2)
    note: str | None = None


def _errors(body: dict) -> list[tuple[tuple, str]]:
    with pytest.raises(ValidationError) as caught:
        Body.model_validate(body)
    return sorted((e["loc"], e["type"]) for e in caught.value.errors())


def test_a_tuple_says_too_long_as_a_list_does():
    """Failed before: the tuple's `int_parsing` at `weeks.2` alone, where the list said `too_long`."""
    assert _errors({"weeks": [1, 2, "x"], "days": [1, 2, "x"]}) == [(("days",), "too_long"), (("weeks",), "too_long")]


def test_within_its_most_the_broken_item_is_named_and_the_rest_judged():
    assert _errors({"weeks": [1, "x"], "note": 5}) == [(("note",), "string_type"), (("weeks", 1), "int_parsing")]
    assert Body.model_validate({"weeks": [1, 2]}).weeks == (1, 2)

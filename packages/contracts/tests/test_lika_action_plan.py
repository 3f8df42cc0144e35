"""The action plan event of LIKA: whole plan, unique activities, no personnummer anywhere."""

from __future__ import annotations

import json

import pytest
from pydantic import ValidationError

from styrkedja_contracts import decode_event, example_bytes
from styrkedja_contracts.events.lika import LikaActionPlanChangedV1

TYPE = "se.styrkedja.lika.action_plan_changed.v1"


def data(**overrides) -> dict:
    return json.loads(example_bytes(TYPE))["data"] | overrides


def test_the_example_decodes():
    event = decode_event(example_bytes(TYPE))
    assert isinstance(event.data, LikaActionPlanChangedV1)
    assert event.data.revision == 2 and [i.status.value for i in event.data.items] == ["in_progress", "planned"]


def test_an_activity_appears_once():
    items = data()["items"]
    with pytest.raises(ValidationError, match="more than once"):
        LikaActionPlanChangedV1.model_validate(data(items=[items[0], items[0]]))


@pytest.mark.parametrize("field", ["owner", "title"])
def test_no_personal_identity_number_in_an_item(field):
    items = data()["items"]
    items[0] = items[0] | {field: "Ansvarig 19900101-0017"}
    with pytest.raises(ValidationError):
        LikaActionPlanChangedV1.model_validate(data(items=items))


@pytest.mark.parametrize(("field", "value"), [("priority", 4), ("status", "finished"), ("position", 0)])
def test_item_rules(field, value):
    items = data()["items"]
    items[0] = items[0] | {field: value}
    with pytest.raises(ValidationError):
        LikaActionPlanChangedV1.model_validate(data(items=items))


@pytest.mark.parametrize(("tags", "says"), [
    (["n" * 41], "a tag has 1–40 characters"),
    (["x" * 100_000], "a tag has 1–40 characters"),
    (["natverk", "natverk"], "a tag is given more than once"),
    (["natverk", " natverk "], "a tag is given more than once"),  # one tag in its name form
    (["IT", "it"], "a tag is given more than once"),  # one tag in any case, as the LIKA door folds it (round 29r)
    (["Nätverk", "NÄTVERK"], "a tag is given more than once"),
])
def test_a_tag_is_held_to_what_the_lika_service_keeps(tags, says):
    """Failed on the old code: the LIKA door refuses a tag over 40 characters and a tag given twice
    (`unique_tags`), the event took both from another producer (a 100,000-character cell in every to-do export).
    Round 29r: the door folds case ("IT" is "it"), the event told them apart; the refusal names its rule."""
    items = data()["items"]
    items[0] = items[0] | {"tags": tags}
    with pytest.raises(ValidationError, match=says) as caught:
        LikaActionPlanChangedV1.model_validate(data(items=items))
    assert caught.value.errors()[0]["type"] == ("tag_length" if "characters" in says else "unique_tags")
    items[0] = items[0] | {"tags": ["n" * 40, "Natverk", "IT"]}  # 40 characters, and two tags
    LikaActionPlanChangedV1.model_validate(data(items=items))

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

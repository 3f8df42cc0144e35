"""The alert events: stable ids, one period, counts only, on their own topic."""

from __future__ import annotations

import json

import pytest
from pydantic import ValidationError

from styrkedja_contracts import decode_event, example_bytes, topic_for_event_type
from styrkedja_contracts.events.alert import AlertRaisedV1, AlertResolvedV1, alert_id_for, period_key

RAISED = "se.styrkedja.alert.raised.v1"
RESOLVED = "se.styrkedja.alert.resolved.v1"


def data(event_type: str = RAISED, **overrides) -> dict:
    return json.loads(example_bytes(event_type))["data"] | overrides


def test_the_examples_decode_with_their_stable_id():
    raised, resolved = decode_event(example_bytes(RAISED)).data, decode_event(example_bytes(RESOLVED)).data
    assert isinstance(raised, AlertRaisedV1) and isinstance(resolved, AlertResolvedV1)
    expected = alert_id_for("2999", "school_unit", "29990011", "GRGRMAT01", 9, "2026/27:VT", "pass_share_drop")
    assert raised.alert_id == resolved.alert_id == expected
    assert topic_for_event_type(RAISED).name == topic_for_event_type(RESOLVED).name == "styrkedja.alerts"


def test_the_id_is_stable_and_differs_per_part_of_the_key():
    base = ("2999", "school_unit", "29990011", "GRGRMAT01", 9, "2026/27:VT", "pass_share_drop")
    assert alert_id_for(*base) == alert_id_for(*base)
    variants = {alert_id_for(*base[:i], other, *base[i + 1:])
                for i, other in enumerate(("1480", "group", "29990012", "GRGRENG01", 8, "2026/27:HT", "below_forecast"))}
    assert len(variants) == 7 and alert_id_for(*base) not in variants
    assert alert_id_for(*base[:3], None, None, *base[5:]) != alert_id_for(*base)


def test_period_key():
    assert period_key("2026/27", term="VT") == "2026/27:VT"
    assert period_key("2026/27", round_=2) == "2026/27:R2"
    for bad in ({}, {"term": "VT", "round_": 2}):
        with pytest.raises(ValueError):
            period_key("2026/27", **bad)


@pytest.mark.parametrize("overrides", [
    {"term": None},  # neither term nor round
    {"round": 2},  # both
    {"level": "nation"},
    {"rule": "mood"},
    {"episode": 0},
    {"unit_id": "19900101-0017"},
    {"figures": {"students": -1}},
    {"figures": {"students": 12, "share": 1.5}},
    {"student_id": "s1"},  # no student ever leaves in an alert
])
def test_alert_rules(overrides):
    with pytest.raises(ValidationError):
        AlertRaisedV1.model_validate(data(**overrides))


def test_a_round_alert_and_the_resolved_reason():
    ok = AlertRaisedV1.model_validate(data(term=None, round=2))
    assert ok.round == 2
    with pytest.raises(ValidationError):
        AlertResolvedV1.model_validate(data(RESOLVED, reason="forgotten"))

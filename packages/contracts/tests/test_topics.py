from __future__ import annotations

import dataclasses
import json
from typing import Any

import pytest

from styrkedja_contracts import (
    EVENT_MODELS,
    TOPICS,
    Topic,
    dead_letter_topic,
    decode_event,
    example_bytes,
    forecast_id_for,
    key_mismatch,
    message_key,
    topic_for_event_type,
)


def test_topics() -> None:
    assert set(TOPICS) == {
        "styrkedja.assessments",
        "styrkedja.forecasts",
        "styrkedja.lika",
        "styrkedja.support",
        "styrkedja.organisation",
        "styrkedja.alerts",
    }
    assessments = TOPICS["styrkedja.assessments"]
    assert assessments.producers == ("assessment",)
    assert assessments.consumers == ("reporting",)
    for topic in TOPICS.values():
        assert topic.key == "organiser_id"
        assert topic.partitions == 6
        # reporting reads every topic but the one it produces for other systems
        assert ("reporting" in topic.consumers) is (topic.name != "styrkedja.alerts")
    assert TOPICS["styrkedja.alerts"].producers == ("reporting",)
    with pytest.raises(dataclasses.FrozenInstanceError):
        assessments.partitions = 12  # type: ignore[misc]


def test_every_event_type_has_exactly_one_topic() -> None:
    for event_type in EVENT_MODELS:
        owners = [t for t in TOPICS.values() if event_type in t.event_types]
        assert len(owners) == 1
        assert topic_for_event_type(event_type) is owners[0]


def test_topic_for_event_type() -> None:
    assert topic_for_event_type("se.styrkedja.assessment.retracted.v1").name == "styrkedja.assessments"
    assert topic_for_event_type("se.styrkedja.forecast.withdrawn.v1").name == "styrkedja.forecasts"
    assert topic_for_event_type("se.styrkedja.support.intervention_changed.v1").name == "styrkedja.support"
    assert topic_for_event_type("se.styrkedja.organisation.unit_upserted.v1").name == "styrkedja.organisation"
    # a future version of a known entity.verb stays on the same topic (ordering per entity)
    assert topic_for_event_type("se.styrkedja.assessment.published.v2").name == "styrkedja.assessments"
    assert topic_for_event_type("se.styrkedja.alert.raised.v1").name == "styrkedja.alerts"
    assert topic_for_event_type("se.styrkedja.alert.resolved.v1").name == "styrkedja.alerts"
    assert topic_for_event_type("se.styrkedja.calendar.changed.v1").name == "styrkedja.forecasts"
    for bad in ("se.styrkedja.alert.acknowledged.v1", "nonsense"):
        with pytest.raises(KeyError):
            topic_for_event_type(bad)


def test_dead_letter_topic() -> None:
    assert dead_letter_topic("reporting") == "styrkedja.dlq.reporting"
    assert dead_letter_topic("reporting-assessments") == "styrkedja.dlq.reporting-assessments"
    for bad in ("", "has space", "a/b", "reporting\n"):
        with pytest.raises(ValueError):
            dead_letter_topic(bad)


@pytest.mark.parametrize("group", ["reporting-19121212-1212", "elev_19121212_1212", "191212121212", "19121212.1212",
                                   "reporting-121212-1212", "x.19121272-1219"])
def test_a_consumer_group_holding_a_personal_identity_number_names_no_dead_letter_topic(group: str) -> None:
    """The topic's name would keep the number on the broker (every listing, ACL, metric and log line naming it), as
    long as the topic lives. Failed on the old code: `styrkedja.dlq.reporting-19121212-1212` was made."""
    with pytest.raises(ValueError, match="no_personal_identity_number") as caught:
        dead_letter_topic(group)
    assert "1212" not in str(caught.value) and "REDACTED" in str(caught.value)


def test_a_group_refused_for_its_characters_is_not_repeated_with_its_number() -> None:
    with pytest.raises(ValueError) as caught:
        dead_letter_topic("elev 19121212-1212")
    assert "1212" not in str(caught.value)


def test_topic_defaults() -> None:
    t = Topic(name="x")
    assert (t.key, t.partitions, t.producers, t.consumers, t.event_types) == ("organiser_id", 6, (), (), ())


def test_every_event_model_has_the_field_its_topic_is_keyed_by() -> None:
    """The topic registry's `key` is a field of every event its topic carries (a model without it
    could not be produced in order, and every record of it would be a `key_mismatch`)."""
    for event_type, model in EVENT_MODELS.items():
        topic = topic_for_event_type(event_type)
        assert topic.key in model.model_fields, (event_type, topic.key)
        assert model.model_fields[topic.key].is_required(), (event_type, topic.key)


@pytest.mark.parametrize("event_type", sorted(EVENT_MODELS))
def test_each_example_is_keyed_by_its_topics_key_and_another_key_is_a_mismatch(event_type: str) -> None:
    event = decode_event(example_bytes(event_type))
    topic = topic_for_event_type(event_type)
    expected = str(getattr(event.data, topic.key)).encode()
    assert message_key(event) == topic.message_key(event) == event.partition_key() == expected
    assert key_mismatch(event, expected) is None
    other = dict(json.loads(example_bytes(event_type)))
    other["data"] = _of_organiser(other["data"], topic.key, "2998")  # the body of another organiser, this one's key
    for key, body in ((b"2998", event), (None, event), (b"", event), (expected + b" ", event),
                      (expected, decode_event(json.dumps(other).encode()))):
        why = key_mismatch(body, key)
        assert why is not None and f"data.{topic.key}" in why and topic.name in why, (key, why)
        assert "2998" not in why and expected.decode() not in why  # names the rule, repeats no value


def _of_organiser(data: dict[str, Any], key: str, organiser: str) -> dict[str, Any]:
    """`data` of `organiser` (as `key`); a forecast's id that organiser's as spelt (`derived_from_key`: its producer
    derived it from the organiser as it spelt it)."""
    data = {**data, key: organiser}
    if "forecast_id" in data:  # a forecast event: submitted or withdrawn, each holds the id rule
        data["forecast_id"] = str(forecast_id_for(*(data[k] for k in (
            "organiser_id", "student_id", "subject_code", "school_year", "term"))))
    return data


@pytest.mark.parametrize("event_type", sorted(EVENT_MODELS))
def test_an_event_stored_in_another_spelling_decodes_to_the_canonical_organiser(event_type: str) -> None:
    """An event written when organiser ids were kept as given (`2120001234`), keyed so, decodes to the
    canonical id and is no key mismatch: a rebuild folds it into the same organiser's aggregates."""
    topic = topic_for_event_type(event_type)
    old = dict(json.loads(example_bytes(event_type)))
    for spelling in ("2120001234", "212000-1234", "162120001234"):
        old["data"] = _of_organiser(old["data"], topic.key, spelling)
        event = decode_event(json.dumps(old).encode())
        assert getattr(event.data, topic.key) == "212000-1234"
        assert message_key(event) == event.partition_key() == b"212000-1234"
        assert key_mismatch(event, spelling.encode()) is None
        assert key_mismatch(event, b"212000-1234") is None
        assert key_mismatch(event, b"2120001235") is not None  # another organiser's partition still is one
        assert key_mismatch(event, b"2120001234\n") is not None

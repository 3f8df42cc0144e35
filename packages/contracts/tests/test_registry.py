"""The upcaster mechanism, proven with a test-only v0 of assessment.published."""

from __future__ import annotations

import json
from typing import Any

import pytest

from styrkedja_contracts import (
    REGISTRY,
    UPCASTERS,
    AssessmentPublishedV1,
    EventRegistry,
    UnknownEventTypeError,
    decode_event,
    example_bytes,
    parse_event_type,
    schema_uri,
)
from styrkedja_contracts.events import ALL_EVENT_MODELS

V0 = "se.styrkedja.assessment.published.v0"
V1 = AssessmentPublishedV1.event_type


def v0_doc() -> dict[str, Any]:
    """The v1 example rewritten as an imaginary v0: 'grade' instead of 'value', no 'scale'."""
    doc = json.loads(example_bytes(V1))
    data = doc["data"]
    data["grade"] = data.pop("value")
    del data["scale"]
    doc["type"] = V0
    doc["dataschema"] = schema_uri(V0)
    return doc


def upcast_v0(data: dict[str, Any]) -> dict[str, Any]:
    data["value"] = data.pop("grade")
    data["scale"] = "AF"
    return data


def test_parse_event_type() -> None:
    assert parse_event_type(V1) == ("assessment.published", 1)
    assert parse_event_type("se.styrkedja.lika.self_assessment_published.v12") == (
        "lika.self_assessment_published",
        12,
    )
    with pytest.raises(UnknownEventTypeError):
        parse_event_type("se.other.assessment.published.v1")


def test_v0_unknown_without_upcaster() -> None:
    with pytest.raises(UnknownEventTypeError, match="no upcaster"):
        decode_event(json.dumps(v0_doc()))


def test_temporary_upcaster_on_default_registry() -> None:
    with REGISTRY.temporary_upcaster(V0, upcast_v0):
        assert V0 in UPCASTERS
        event = decode_event(json.dumps(v0_doc()))
    assert V0 not in UPCASTERS
    assert event.type == V1
    assert event.dataschema == schema_uri(V1)
    assert isinstance(event.data, AssessmentPublishedV1)
    assert event.data == decode_event(example_bytes(V1)).data


class AssessmentPublishedV2(AssessmentPublishedV1):
    """Test-only v2: adds a required 'source_system' field."""

    event_type = "se.styrkedja.assessment.published.v2"
    source_system: str


def upcast_v1(data: dict[str, Any]) -> dict[str, Any]:
    return {**data, "source_system": "unknown"}


def test_chained_upcasters_in_own_registry() -> None:
    registry = EventRegistry([*ALL_EVENT_MODELS, AssessmentPublishedV2])
    registry.register_upcaster(V0, upcast_v0)
    registry.register_upcaster(V1, upcast_v1)
    v2 = AssessmentPublishedV2.event_type

    from_v0 = decode_event(json.dumps(v0_doc()), registry=registry)
    from_v1 = decode_event(example_bytes(V1), registry=registry)
    for event in (from_v0, from_v1):
        assert event.type == v2
        assert event.dataschema == schema_uri(v2)
        assert isinstance(event.data, AssessmentPublishedV2)
        assert event.data.source_system == "unknown"
    assert from_v0.data == from_v1.data
    assert registry.latest_type(V0) == v2
    # the default registry is untouched
    assert V0 not in UPCASTERS and V1 not in UPCASTERS
    assert decode_event(example_bytes(V1)).type == V1


def test_missing_link_in_chain_is_unknown_type() -> None:
    registry = EventRegistry([*ALL_EVENT_MODELS, AssessmentPublishedV2])
    registry.register_upcaster(V0, upcast_v0)  # but no v1 -> v2
    with pytest.raises(UnknownEventTypeError, match="no upcaster from se.styrkedja.assessment.published.v1"):
        decode_event(json.dumps(v0_doc()), registry=registry)


def test_failing_upcaster_is_invalid_data() -> None:
    def broken(data: dict[str, Any]) -> dict[str, Any]:
        raise KeyError("grade")

    with REGISTRY.temporary_upcaster(V0, broken), pytest.raises(Exception) as exc:
        decode_event(json.dumps(v0_doc()))
    assert getattr(exc.value, "reason", None) == "invalid_data"


def test_upcast_result_still_validated() -> None:
    # the upcaster forgets to rename the field
    with REGISTRY.temporary_upcaster(V0, lambda d: d), pytest.raises(Exception) as exc:  # noqa: B017
        decode_event(json.dumps(v0_doc()))
    assert exc.value.reason == "invalid_data"  # type: ignore[attr-defined]
    assert "data.value" in str(exc.value)


def test_latest_type_and_duplicate_registration() -> None:
    assert REGISTRY.latest_type(V0) == V1
    with pytest.raises(UnknownEventTypeError):
        REGISTRY.latest_type("se.styrkedja.assessment.published.v2")
    registry = EventRegistry(ALL_EVENT_MODELS)
    registry.register(AssessmentPublishedV1)  # same model again is fine

    class Impostor(AssessmentPublishedV1):
        pass

    with pytest.raises(ValueError, match="already registered"):
        registry.register(Impostor)

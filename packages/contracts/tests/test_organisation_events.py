"""The directory events: memberships, teaching assignments, duties and removals."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from styrkedja_contracts import (
    GroupMembershipUpsertedV1,
    OrganisationEntityRemovedV1,
    TeachingAssignmentUpsertedV1,
    decode_event,
    example_bytes,
)

MEMBERSHIP = {"membership_id": "m-1", "organiser_id": "2999", "school_unit_code": "29990011", "group_id": "7A",
              "student_id": "8f14e45f-ceea-467f-a0e6-1b2c3d4e5f60", "start_date": "2026-08-17",
              "updated_at": "2026-08-14T06:30:00+02:00"}


def test_membership_dates_in_order() -> None:
    assert GroupMembershipUpsertedV1(**MEMBERSHIP).end_date is None
    with pytest.raises(ValidationError, match="end_date: must not be before start_date") as refused:
        GroupMembershipUpsertedV1(**{**MEMBERSHIP, "end_date": "2026-08-01"})
    assert refused.value.errors()[0]["type"] == "end_not_before_start"


def test_membership_rejects_a_personal_identity_number_as_student_id() -> None:
    with pytest.raises(ValidationError, match="personal identity number"):
        GroupMembershipUpsertedV1(**{**MEMBERSHIP, "student_id": "19121212-1212"})


@pytest.mark.parametrize("changes, message, rule", [
    ({"entity": "unit"}, "unit_type: is required", "unit_type_required"),
    ({"entity": "membership", "unit_type": "group"}, "unit_type: is only allowed", "unit_type_only_for_unit"),
    ({"entity": "unit", "unit_type": "group"}, "school_unit_code: is required", "school_unit_code_required"),
])
def test_removal_rules(changes, message, rule) -> None:
    """Each a rule of its own (round 32: pydantic's `value_error`, which no document named)."""
    base = {"entity_id": "x", "organiser_id": "2999", "removed_at": "2027-01-01T00:00:00Z"}
    with pytest.raises(ValidationError, match=message) as refused:
        OrganisationEntityRemovedV1(**{**base, **changes})
    assert refused.value.errors()[0]["type"] == rule


def test_examples_decode() -> None:
    for event_type in (GroupMembershipUpsertedV1.event_type, TeachingAssignmentUpsertedV1.event_type,
                       OrganisationEntityRemovedV1.event_type):
        assert decode_event(example_bytes(event_type)).type == event_type


def test_a_units_name_is_kept_in_unicode_nfc_however_it_was_typed() -> None:
    """"Å" as one character or as "A" and a combining ring is one name, in an event decoded from the topic and in a
    model made from a request alike; the length rule counts the stored (NFC) form."""
    import json
    import unicodedata

    from styrkedja_contracts import OrganisationUnitUpsertedV1

    doc = json.loads(example_bytes(OrganisationUnitUpsertedV1.event_type))
    doc["data"]["name"] = unicodedata.normalize("NFD", "Åby skola Ö")
    name = decode_event(json.dumps(doc, ensure_ascii=False)).data.name  # type: ignore[attr-defined]
    assert name == "Åby skola Ö" and unicodedata.is_normalized("NFC", name)
    made = OrganisationUnitUpsertedV1.model_validate({**doc["data"], "name": "A\u030a" * 200})
    assert made.name == "Å" * 200  # 400 characters as sent, 200 as stored: within the rule
    with pytest.raises(ValidationError, match="no_control_characters|control"):
        OrganisationUnitUpsertedV1.model_validate({**doc["data"], "name": "A\u202e"})

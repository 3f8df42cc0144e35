"""Stödinsatser: only counts of support interventions ever leave the support service."""

from __future__ import annotations

from enum import StrEnum
from typing import ClassVar

from pydantic import Field

from ..identifiers import GroupId, OrganiserId, SchoolUnitCode, SchoolYear, Term
from .base import EventData, Int4, Timestamp

__all__ = ["InterventionKind", "SupportInterventionChangedV1"]


class InterventionKind(StrEnum):
    """extra anpassning, särskilt stöd, utredning, åtgärdsprogram."""

    extra_adjustment = "extra_adjustment"
    special_support = "special_support"
    investigation = "investigation"
    action_programme = "action_programme"


class SupportInterventionChangedV1(EventData):
    """The number of active interventions of one kind changed for a school unit (or group).

    Never names a student. ``as_of_revision`` grows monotonically per
    (school unit, group, kind, school year, term); a count with a lower
    revision than one already applied is stale.
    """

    event_type: ClassVar[str] = "se.styrkedja.support.intervention_changed.v1"

    organiser_id: OrganiserId
    school_unit_code: SchoolUnitCode
    group_id: GroupId | None = None
    kind: InterventionKind
    school_year: SchoolYear
    term: Term
    active_count: Int4 = Field(ge=0)
    as_of_revision: Int4 = Field(ge=1)
    changed_at: Timestamp

"""Planeringar: plan metadata a platform publishes per group, subject and term. Only the
metadata needed to count coverage travels (no title, no link, no content)."""

from __future__ import annotations

from datetime import date
from typing import Annotated, ClassVar
from uuid import UUID

from pydantic import Field

from ..identifiers import GroupId, OrganiserId, SchoolUnitCode, SchoolYear, SubjectCode, Term
from ..subjects import KnownSubjectCode
from .base import EventData, Int4, Revision, Timestamp

__all__ = ["PlanPublishedV1", "PlanRetractedV1"]

CriterionCode = Annotated[SubjectCode, Field(description="A knowledge criteria code (ASCII).")]


class PlanPublishedV1(EventData):
    """A plan (planering) for one group and subject in one term is published."""

    event_type: ClassVar[str] = "se.styrkedja.plan.published.v1"

    plan_id: UUID
    revision: Revision
    organiser_id: OrganiserId
    school_unit_code: SchoolUnitCode
    group_id: GroupId
    subject_code: KnownSubjectCode
    school_year: SchoolYear
    term: Term
    criteria_codes: tuple[CriterionCode, ...] = Field(default=(), max_length=200)
    published_on: date
    recorded_at: Timestamp


class PlanRetractedV1(EventData):
    """A plan is retracted (unpublished): it no longer counts for coverage."""

    event_type: ClassVar[str] = "se.styrkedja.plan.retracted.v1"

    plan_id: UUID
    revision: Int4 = Field(ge=2, description="The retraction's own revision, above the retracted one.")
    organiser_id: OrganiserId
    school_unit_code: SchoolUnitCode
    group_id: GroupId
    subject_code: KnownSubjectCode
    school_year: SchoolYear
    term: Term
    retracted_at: Timestamp

"""Planeringar: plan metadata a platform publishes per group, subject and term. Only the
metadata needed to count coverage travels (no title, no link, no content)."""

from __future__ import annotations

from datetime import date
from typing import Annotated, ClassVar
from uuid import UUID

from pydantic import Field, model_validator

from ..identifiers import GroupId, OrganiserId, SchoolUnitCode, SchoolYear, SubjectCode, Term, school_year_bounds
from ..subjects import KnownSubjectCode
from .base import EventData, Int4, Revision, Timestamp
from .rules import Broken, refuse

__all__ = ["PUBLISHED_WITHIN_SCHOOL_YEAR", "PlanPublishedV1", "PlanRetractedV1", "plan_broken",
           "published_after_school_year"]

#: a plan is published in (or before) its school year, not after it ended: the assessment service's door and the event
#: alike (an event published after its year was applied by reporting, round 28t)
PUBLISHED_WITHIN_SCHOOL_YEAR = "published_within_school_year"


def published_after_school_year(school_year: str) -> str:
    """The words of `PUBLISHED_WITHIN_SCHOOL_YEAR`: the same at the door (naming the field) and in a dead letter (after
    the field's name)."""
    return f"published after school year {school_year} ended ({school_year_bounds(school_year)[1].isoformat()})"

def plan_broken(school_year: str, published_on: date) -> list[Broken]:
    """Every item rule of a published plan, the assessment service's door (`plans.service.check_plan`) and the event
    alike: published in (or before) its school year, not after it ended (`school_year_bounds`: the contracts' one
    school-year rule). A criteria code given twice the door refuses (`UniqueItems`) and the event takes: its list is a
    set (`door_rules.NOT_HELD`, `unique`)."""
    if published_on > school_year_bounds(school_year)[1]:
        return [Broken("published_on", PUBLISHED_WITHIN_SCHOOL_YEAR, published_after_school_year(school_year))]
    return []


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

    @model_validator(mode="after")
    def _check_rules(self) -> PlanPublishedV1:
        refuse(plan_broken(self.school_year, self.published_on))
        return self


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

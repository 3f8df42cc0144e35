"""Bedömningar: published assessments (bedömning, skriftligt omdöme, terminsbetyg) and retractions."""

from __future__ import annotations

from datetime import date
from enum import StrEnum
from typing import Annotated, ClassVar
from uuid import UUID

from pydantic import Field, model_validator
from pydantic_core import PydanticCustomError

from ..identifiers import (
    SCHOOL_YEAR_RULE,
    Gender,
    GroupId,
    OrganiserId,
    SafeText,
    SchoolUnitCode,
    SchoolYear,
    StudentId,
    TeacherId,
    Term,
    school_year_bounds,
    within_school_year,
)
from ..scales import Scale, is_valid_value, reaches_pass, scale_values
from ..subjects import KnownSubjectCode
from .base import EventData, Int4, Revision, Round, Timestamp, Year

__all__ = ["AssessmentKind", "AssessmentPublishedV1", "AssessmentRetractedV1", "Criterion",
           "assessed_outside_school_year"]

Criterion = Annotated[SafeText, Field(min_length=1, max_length=500)]
"""An unmet knowledge criterion (kunskapskrav) named by a result below the pass level."""


class AssessmentKind(StrEnum):
    """assessment = bedömning, written_report = skriftligt omdöme, term_grade = terminsbetyg."""

    assessment = "assessment"
    written_report = "written_report"
    term_grade = "term_grade"


class AssessmentPublishedV1(EventData):
    """A published assessment of one student (elev) in one subject (ämne).

    ``value`` must be a value on ``scale``. A value below the pass level
    (F, NOT_REACHED) must name the unmet knowledge criteria (kunskapskrav /
    kriterier) in ``unmet_criteria``. A term grade (terminsbetyg) is on the
    A–F scale. ``assessed_on`` lies in ``school_year`` (1 July – 30 June): a
    date years ahead would keep its school unit's freshness green.
    Revisions are numbered per ``assessment_id``; only the newest counts.
    """

    event_type: ClassVar[str] = "se.styrkedja.assessment.published.v1"

    assessment_id: UUID
    revision: Revision
    organiser_id: OrganiserId
    school_unit_code: SchoolUnitCode
    group_id: GroupId
    student_id: StudentId
    teacher_id: TeacherId
    gender: Gender
    year: Year
    subject_code: KnownSubjectCode
    kind: AssessmentKind
    scale: Scale
    value: str = Field(min_length=1, max_length=32, description="A value on `scale` (A–F or THREE_LEVEL).")
    unmet_criteria: tuple[Criterion, ...] = Field(
        default=(), max_length=100, description="Unmet knowledge criteria; required when below pass."
    )
    school_year: SchoolYear
    term: Term
    round: Round
    assessed_on: date
    published_at: Timestamp

    @model_validator(mode="after")
    def _check_value(self) -> AssessmentPublishedV1:
        if not is_valid_value(self.scale, self.value):
            allowed = ", ".join(scale_values(self.scale))
            raise ValueError(f"value {self.value!r} is not on scale {self.scale.value} (allowed: {allowed})")
        if self.kind is AssessmentKind.term_grade and self.scale is not Scale.AF:
            raise ValueError("a term_grade must be on the AF scale")
        if not reaches_pass(self.scale, self.value) and not self.unmet_criteria:
            raise ValueError(
                f"unmet_criteria must name at least one criterion when value {self.value!r} is below pass"
            )
        if not within_school_year(self.assessed_on, self.school_year):
            # a model's rule has no field in its error's location: the words name it
            raise PydanticCustomError(SCHOOL_YEAR_RULE, "assessed_on " + assessed_outside_school_year(self.school_year))
        return self


def assessed_outside_school_year(school_year: str) -> str:
    """The words of `SCHOOL_YEAR_RULE` for an assessment's `assessed_on`: the same at the HTTP door (a problem naming
    the field) and in a dead letter (after the field's name)."""
    start, end = school_year_bounds(school_year)
    return f"must lie in school year {school_year} ({start.isoformat()} – {end.isoformat()})"


class AssessmentRetractedV1(EventData):
    """An assessment is retracted (återkallad): it no longer counts.

    ``revision`` is the retraction's own revision number, higher than the
    revision it retracts (so it is at least 2).
    """

    event_type: ClassVar[str] = "se.styrkedja.assessment.retracted.v1"

    assessment_id: UUID
    revision: Int4 = Field(ge=2, description="The retraction's own revision, above the retracted one.")
    organiser_id: OrganiserId
    school_unit_code: SchoolUnitCode
    group_id: GroupId
    student_id: StudentId
    subject_code: KnownSubjectCode
    school_year: SchoolYear
    term: Term
    round: Round
    retracted_at: Timestamp
    reason: SafeText | None = Field(default=None, max_length=500)

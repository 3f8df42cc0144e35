"""HTTP request and response bodies. Identifier types come from the contracts package, so the
same rules (no personal identity numbers, skolenhetskod format, …) hold at the door."""

from __future__ import annotations

from datetime import date
from typing import Annotated
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field, field_validator

from styrkedja_contracts.events.assessment import AssessmentKind
from styrkedja_contracts.identifiers import (
    PIN_ERROR,
    Gender,
    GroupId,
    OrganiserId,
    SchoolUnitCode,
    SchoolYear,
    StudentId,
    SubjectCode,
    TeacherId,
    Term,
    contains_personal_identity_number,
)
from styrkedja_contracts.scales import Scale

Criterion = Annotated[str, Field(min_length=1, max_length=500)]
#: Revisions are stored as PostgreSQL `integer`: a higher one must be a 422, not a database error.
MAX_REVISION = 2**31 - 1


class AssessmentIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    assessment_id: UUID | None = Field(None, description="Omit for a new assessment; give it to revise one.")
    revision: int | None = Field(None, ge=1, le=MAX_REVISION,
                                 description="Omit to take the next revision number.")
    organiser_id: OrganiserId
    school_unit_code: SchoolUnitCode
    group_id: GroupId
    student_id: StudentId
    teacher_id: TeacherId
    gender: Gender
    year: int = Field(ge=0, le=9)
    subject_code: SubjectCode
    kind: AssessmentKind
    scale: Scale
    value: str = Field(min_length=1, max_length=32)
    unmet_criteria: list[Criterion] = Field(default_factory=list, max_length=100)
    school_year: SchoolYear
    term: Term
    round: int = Field(ge=1, le=4)
    assessed_on: date

    @field_validator("unmet_criteria")
    @classmethod
    def _no_identity_numbers(cls, value: list[str]) -> list[str]:
        for text in value:
            if contains_personal_identity_number(text):
                raise ValueError(PIN_ERROR)
        return value


class AssessmentBatchIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    items: list[AssessmentIn] = Field(min_length=1, max_length=1000)


class RetractIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    revision: int | None = Field(None, ge=2, le=MAX_REVISION)
    reason: str | None = Field(None, max_length=500)

    @field_validator("reason")
    @classmethod
    def _no_identity_numbers(cls, value: str | None) -> str | None:
        if value and contains_personal_identity_number(value):
            raise ValueError(PIN_ERROR)
        return value


class AssessmentOut(BaseModel):
    assessment_id: UUID
    revision: int
    retracted: bool
    status: str = Field(description="`stored` (a new revision) or `unchanged` (the same request again)")


class BatchOut(BaseModel):
    items: list[AssessmentOut]
    stored: int
    unchanged: int

"""HTTP request and response bodies. Identifier types come from the contracts package, so the
same rules (no personal identity numbers, skolenhetskod format, …) hold at the door."""

from __future__ import annotations

from datetime import date
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field, field_validator
from pydantic_core import PydanticCustomError

from styrkedja_contracts.events.forecast import ForecastValue
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

#: revisions are stored as PostgreSQL integers
MAX_REVISION = 2**31 - 1


class ForecastIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    forecast_id: UUID | None = Field(
        None, description="Optional: the id is derived from organiser + student + subject + school year + term; "
                          "if given it must be that id.")
    revision: int | None = Field(None, ge=1, le=MAX_REVISION, description="Omit to take the next revision number.")
    organiser_id: OrganiserId
    school_unit_code: SchoolUnitCode
    group_id: GroupId
    student_id: StudentId
    teacher_id: TeacherId
    gender: Gender
    year: int = Field(ge=0, le=9)
    subject_code: SubjectCode
    school_year: SchoolYear
    term: Term
    value: ForecastValue = Field(description="A value on the THREE_LEVEL scale.")

    @field_validator("subject_code")
    @classmethod
    def _no_identity_number(cls, value: str) -> str:
        # SubjectCode allows 12 digits, which can be a personnummer; the event would refuse it.
        if contains_personal_identity_number(value):
            raise PydanticCustomError("no_personal_identity_number", PIN_ERROR)
        return value


class ForecastBatchIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    items: list[ForecastIn] = Field(min_length=1, max_length=1000)


class WithdrawIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    revision: int | None = Field(None, ge=2, le=MAX_REVISION, description="Omit to take the next revision number.")


class ForecastOut(BaseModel):
    forecast_id: UUID
    revision: int
    withdrawn: bool
    late: bool = Field(description="Received after the reporting window's deadline (accepted all the same).")
    window_deadline: date = Field(description="The last on-time day of the reporting window (grace included).")
    status: str = Field(description="`stored` (a new revision) or `unchanged` (the same request again)")


class BatchOut(BaseModel):
    items: list[ForecastOut]
    stored: int
    unchanged: int

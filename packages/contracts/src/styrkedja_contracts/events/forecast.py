"""Prognoser: a teacher's forecast per student, subject and term on the three-level scale."""

from __future__ import annotations

import uuid
from datetime import date
from typing import ClassVar, Literal
from uuid import UUID

from pydantic import Field

from ..identifiers import (
    Gender,
    GroupId,
    OrganiserId,
    SchoolUnitCode,
    SchoolYear,
    StudentId,
    TeacherId,
    Term,
)
from ..subjects import KnownSubjectCode
from .base import EventData, Int4, Revision, StrictBool, Timestamp, Year

__all__ = [
    "ForecastValue",
    "ForecastSubmittedV1",
    "ForecastWithdrawnV1",
    "FORECAST_NAMESPACE",
    "forecast_id_for",
]

ForecastValue = Literal["NOT_REACHED", "ACCEPTABLE", "MORE_THAN_ACCEPTABLE"]
"""A value on ``Scale.THREE_LEVEL``."""

FORECAST_NAMESPACE = UUID("6f1c2a7e-4b8d-5e3f-9a10-2d7c5b8e4f01")


def forecast_id_for(
    organiser_id: str, student_id: str, subject_code: str, school_year: str, term: str
) -> UUID:
    """The stable forecast id (UUIDv5) for organiser + student + subject + school year + term."""
    name = "|".join((organiser_id, student_id, subject_code, school_year, str(term)))
    return uuid.uuid5(FORECAST_NAMESPACE, name)


class ForecastSubmittedV1(EventData):
    """A forecast (prognos) is submitted or revised.

    ``forecast_id`` is stable per organiser + student + subject + school year
    + term (see ``forecast_id_for``); ``revision`` grows with each change.
    ``late`` flags a submission after the reporting window; late forecasts
    are accepted, never dropped.
    """

    event_type: ClassVar[str] = "se.styrkedja.forecast.submitted.v1"

    forecast_id: UUID
    revision: Revision
    organiser_id: OrganiserId
    school_unit_code: SchoolUnitCode
    group_id: GroupId
    student_id: StudentId
    teacher_id: TeacherId
    gender: Gender
    year: Year
    subject_code: KnownSubjectCode
    school_year: SchoolYear
    term: Term
    value: ForecastValue = Field(description="A value on the THREE_LEVEL scale.")
    submitted_at: Timestamp
    window_deadline: date
    late: StrictBool


class ForecastWithdrawnV1(EventData):
    """A forecast is withdrawn; ``revision`` is above the withdrawn submission's revision."""

    event_type: ClassVar[str] = "se.styrkedja.forecast.withdrawn.v1"

    forecast_id: UUID
    revision: Int4 = Field(ge=2, description="The withdrawal's own revision, above the withdrawn one.")
    organiser_id: OrganiserId
    school_unit_code: SchoolUnitCode
    group_id: GroupId
    student_id: StudentId
    subject_code: KnownSubjectCode
    school_year: SchoolYear
    term: Term
    withdrawn_at: Timestamp

"""Prognoser: a teacher's forecast per student, subject and term on the three-level scale."""

from __future__ import annotations

import hashlib
import uuid
from datetime import date
from typing import ClassVar, Literal
from uuid import UUID

from pydantic import Field, model_validator

from ..identifiers import (
    Gender,
    GroupId,
    OrganiserId,
    SchoolUnitCode,
    SchoolYear,
    StudentId,
    TeacherId,
    Term,
    canonical_organiser_id,
    is_organisation_number,
)
from ..subjects import KnownSubjectCode
from .base import EventData, Int4, Revision, StrictBool, Timestamp, Year
from .rules import Broken, refuse

__all__ = [
    "ForecastValue",
    "ForecastSubmittedV1",
    "ForecastWithdrawnV1",
    "FORECAST_NAMESPACE",
    "forecast_id_broken",
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


#: the rule that a forecast's id is the one of its key (`forecast_id_for`)
DERIVED_FROM_KEY = "derived_from_key"


def _spellings(organiser_id: str) -> tuple[str, ...]:
    """The spellings of an organisation number the services kept before one was (identity1: `2120001234`,
    `162120001234`, `16212000-1234`), beside its one spelling; a kommunkod has one."""
    if not is_organisation_number(organiser_id):
        return ()
    kept = canonical_organiser_id(organiser_id)
    digits = kept.replace("-", "")
    return tuple(s for s in (kept, digits, "16" + digits, "16" + kept) if s != organiser_id)


#: the bits `uuid.uuid5` sets of the first 16 bytes of the digest: its version (5) and its variant (RFC 4122)
_KEEP = ~((0xF000 << 64) | (0xC000 << 48))
_SET = (0x5000 << 64) | (0x8000 << 48)


def _is_id_of(forecast_id: UUID, organiser_id: str, student_id: str, subject_code: str, school_year: str,
              term: str) -> bool:
    """`forecast_id == forecast_id_for(...)`, compared as integers: a third of `uuid5`'s time, which builds a UUID
    (the decode of every forecast event asks it; a test holds the two equal)."""
    name = "|".join((organiser_id, student_id, subject_code, school_year, term))
    digest = hashlib.sha1(FORECAST_NAMESPACE.bytes + name.encode(), usedforsecurity=False).digest()
    return (int.from_bytes(digest[:16]) & _KEEP) | _SET == forecast_id.int


def forecast_id_broken(forecast_id: UUID, organiser_id: str, student_id: str, subject_code: str, school_year: str,
                       term: str, *, earlier_spellings: bool = False) -> list[Broken]:
    """`derived_from_key` when `forecast_id` is not `forecast_id_for` the key: the forecast door
    (`forecasts.service._check`) and every forecast event carrying the id and its key (`ForecastSubmittedV1`,
    `ForecastWithdrawnV1`) alike. Reporting keys a forecast by its id,
    so another producer's second id for one student, subject and term counted twice (round 29r's gap, mended).

    `earlier_spellings` (the event's): the id may be derived from a spelling of the organiser kept before identity1
    (`2120001234` for `212000-1234`): the forecast service's events on the topics carry those ids, which stay the
    forecasts' ids (its migration 0005), and a replay must read them. The door derives from the one spelling only.
    The words name the id of the one spelling, never the id sent."""
    term = str(term)  # as `forecast_id_for` joins it
    if _is_id_of(forecast_id, organiser_id, student_id, subject_code, school_year, term):
        return []
    if earlier_spellings and any(_is_id_of(forecast_id, spelling, student_id, subject_code, school_year, term)
                                 for spelling in _spellings(organiser_id)):
        return []
    derived = forecast_id_for(organiser_id, student_id, subject_code, school_year, term)
    return [Broken("forecast_id", DERIVED_FROM_KEY,
                   f"the forecast of this organiser, student, subject, school year and term is {derived}; "
                   "omit forecast_id or send that one")]


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

    @model_validator(mode="after")
    def _check_rules(self) -> ForecastSubmittedV1:
        # the door's id rule: one forecast per organiser, student, subject, school year and term, counted once
        refuse(forecast_id_broken(self.forecast_id, self.organiser_id, self.student_id, self.subject_code,
                                  self.school_year, self.term.value, earlier_spellings=True))
        return self


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

    @model_validator(mode="after")
    def _check_rules(self) -> ForecastWithdrawnV1:
        # the submission's id rule: a withdrawal under a second id for one student, subject and term took back a
        # forecast reporting never had, or (its key another forecast's) moved the other's counts (round 30a)
        refuse(forecast_id_broken(self.forecast_id, self.organiser_id, self.student_id, self.subject_code,
                                  self.school_year, self.term.value, earlier_spellings=True))
        return self

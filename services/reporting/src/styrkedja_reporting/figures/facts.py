"""The fact shapes the figures are computed from. Small and frozen; the wiring maps reporting's
stored facts (newest revision, retracted/withdrawn = absent) onto them.

`units` is the placement of a fact in the chain — every (level, unit id) it counts in, e.g.
`(("group", "12345678:7A"), ("school_unit", "12345678"), ("area", "A1"), ("organiser", "2120000000"),
("nation", "SE"))` — given by the directory, so the figures need not know the levels.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from enum import StrEnum

from styrkedja_contracts.identifiers import Gender
from styrkedja_contracts.scales import Scale, reaches_pass

from .periods import RoundPeriod, SchoolYear, Term, TermPeriod

Unit = tuple[str, str]  # (level, unit id)


class ResultKind(StrEnum):
    assessment = "assessment"  # bedömning
    written_report = "written_report"  # skriftligt omdöme
    term_grade = "term_grade"  # terminsbetyg


@dataclass(frozen=True)
class Result:
    """One student's current result in one subject: an assessment, written report or term grade."""

    result_id: str
    student_id: str
    subject_code: str
    year: int  # årskurs
    gender: Gender
    units: tuple[Unit, ...]
    school_year: SchoolYear
    term: Term
    round: int | None  # publication round 1–4 within the school year; term grades may have none
    kind: ResultKind
    scale: Scale
    value: str
    assessed_on: date  # the date the result was set (for freshness and for "later than a forecast")

    @property
    def reaches(self) -> bool:
        return reaches_pass(self.scale, self.value)

    @property
    def term_period(self) -> TermPeriod:
        return TermPeriod(self.school_year, self.term)

    @property
    def round_period(self) -> RoundPeriod | None:
        return RoundPeriod(self.school_year, self.round) if self.round is not None else None


@dataclass(frozen=True)
class Forecast:
    """One student's current forecast (prognos) in one subject for one term, on the three-level scale."""

    forecast_id: str
    student_id: str
    subject_code: str
    year: int
    gender: Gender
    units: tuple[Unit, ...]
    school_year: SchoolYear
    term: Term
    value: str
    submitted_on: date

    @property
    def reaches(self) -> bool:
        return reaches_pass(Scale.THREE_LEVEL, self.value)

    @property
    def term_period(self) -> TermPeriod:
        return TermPeriod(self.school_year, self.term)

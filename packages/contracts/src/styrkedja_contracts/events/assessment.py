"""Bedömningar: published assessments (bedömning, skriftligt omdöme, terminsbetyg) and retractions."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from enum import StrEnum
from functools import cache, lru_cache
from typing import Annotated, ClassVar
from uuid import UUID

from pydantic import Field, model_validator

from ..identifiers import (
    BLANK_RULE,
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
from ..scales import Scale, is_valid_value, off_scale_words, reaches_pass
from ..subjects import KnownSubjectCode, subject_list
from .base import EventData, Int4, Revision, Round, Timestamp, Year
from .rules import BLANK_WORDS, Broken, blank_broken, refuse, says_nothing

__all__ = ["AssessmentKind", "AssessmentPublishedV1", "AssessmentRetractedV1", "Criterion", "FIRST_GRADED_YEAR",
           "SPECIAL_SCHOOL_FORM", "assessed_outside_school_year", "assessment_broken", "graded_year_broken",
           "result_broken", "special_school"]

Criterion = Annotated[SafeText, Field(min_length=1, max_length=500)]
"""An unmet knowledge criterion (kunskapskrav) named by a result below the pass level."""


class AssessmentKind(StrEnum):
    """assessment = bedömning, written_report = skriftligt omdöme, term_grade = terminsbetyg."""

    assessment = "assessment"
    written_report = "written_report"
    term_grade = "term_grade"


#: The school form whose subjects are graded on the scale's special-school variant (`scale_values(special_school=True)`).
SPECIAL_SCHOOL_FORM = "anpassad_grundskola"

#: The first year (årskurs) with grades (skollagen 10 kap. 13 §: betyg from year 6; in the anpassad grundskola only on
#: request, from year 6 too).
FIRST_GRADED_YEAR = 6


@cache
def _special_school_codes() -> frozenset[str]:
    # one set look-up per event (the decode of every assessment asks it), the shipped list read once
    return frozenset(code for code, subject in subject_list().subjects.items()
                     if subject.school_form == SPECIAL_SCHOOL_FORM)


def special_school(subject_code: str) -> bool:
    """Whether results in this subject are on the anpassad grundskola's scale (A–E): its school form on the list."""
    return subject_code in _special_school_codes()


def result_broken(kind: str, scale: Scale, value: str, names_criteria: bool, *,
                  special_school: bool = False) -> list[Broken]:
    """The rules of a result's value, in the door's order (a value off its scale breaks no other: there is no pass
    level to judge it by):

    - `value_on_scale`: a value of its scale; in a subject of the anpassad grundskola (`special_school`) on its
      variant, A–E, which gives no F (an F there was counted below pass, a grade the school form does not give);
    - `term_grade_on_af_scale`: a term grade is on the A–F scale;
    - `criteria_required_below_pass`: a value below the pass level names at least one unmet criterion."""
    if not is_valid_value(scale, value, special_school=special_school):
        return [Broken("value", "value_on_scale", off_scale_words(scale, special_school=special_school))]
    found: list[Broken] = []
    if kind == "term_grade" and scale is not Scale.AF:
        found.append(Broken("scale", "term_grade_on_af_scale", "a term grade must be on the AF scale"))
    if not names_criteria and not reaches_pass(scale, value):
        found.append(Broken("unmet_criteria", "criteria_required_below_pass",
                            f"value {value!r} is below the pass level: name at least one unmet criterion"))
    return found


def graded_year_broken(kind: str, year: int) -> list[Broken]:
    """`term_grade_from_year_6`: a term grade is of a year with grades (a term grade of year 3 was stored and counted
    among the unit's grades)."""
    if kind == "term_grade" and year < FIRST_GRADED_YEAR:
        return [Broken("year", "term_grade_from_year_6",
                       f"grades are given from year {FIRST_GRADED_YEAR}: a term grade of year {year} is none "
                       "(an assessment or written report of the year is)")]
    return []


def assessment_broken(kind: str, scale: Scale, value: str, unmet_criteria: Sequence[str], year: int,
                      subject_code: str, assessed_on: date, school_year: str) -> list[Broken]:
    """Every item rule of a published assessment: the assessment service's door (`assessments.rules`, and its body's
    `says_something` for the criteria) and the event (`AssessmentPublishedV1`) alike — the result's
    (`result_broken`), the graded year's (`graded_year_broken`), each unmet criterion saying something (`not_blank`:
    a criterion of spaces met the rule that a result below pass names one) and `within_school_year` (`assessed_on` in
    its school year). Round 29r: the event held neither the year of a term grade, nor the anpassad grundskola's scale
    without F, nor a blank criterion, and reporting counted such a grade. A criterion given twice the event takes: its
    list is a set (`door_rules.NOT_HELD`, `unique`)."""
    found = result_broken(kind, scale, value, bool(unmet_criteria), special_school=special_school(subject_code))
    if unmet_criteria:
        found += blank_broken("unmet_criteria", unmet_criteria)
    if kind == "term_grade":
        found += graded_year_broken(kind, year)
    if not within_school_year(assessed_on, school_year):
        found.append(Broken("assessed_on", SCHOOL_YEAR_RULE, assessed_outside_school_year(school_year)))
    return found


class AssessmentPublishedV1(EventData):
    """A published assessment of one student (elev) in one subject (ämne).

    ``value`` must be a value on ``scale``. A value below the pass level
    (F, NOT_REACHED) must name the unmet knowledge criteria (kunskapskrav /
    kriterier) in ``unmet_criteria``. A term grade (terminsbetyg) is on the
    A–F scale, of year 6 or later. In a subject of the anpassad grundskola the A–F scale gives no F. ``assessed_on``
    lies in ``school_year`` (1 July – 30 June): a
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
    def _check_rules(self) -> AssessmentPublishedV1:
        # the door's item rules, every one, in its words (`assessment_broken`), remembered per distinct values. The
        # kind's text as the member's `_value_`: what `.value` returns, without `enum`'s descriptor in Python (~0.35
        # µs of the rebuild decoder's per event, bench/README.md decode37)
        args = (self.kind._value_, self.scale, self.value, self.unmet_criteria, self.year, self.subject_code,
                self.assessed_on, self.school_year)
        try:
            broken: Sequence[Broken] = _assessment_broken_remembered(*args)
        except TypeError:  # a value that cannot be a key (a list where the model holds a tuple): judged as it is
            broken = assessment_broken(*args)
        refuse(broken)
        return self


@lru_cache(maxsize=4_096, typed=True)
def _assessment_broken_remembered(kind: str, scale: Scale, value: str, unmet_criteria: tuple[str, ...], year: int,
                                  subject_code: str, assessed_on: date, school_year: str) -> tuple[Broken, ...]:
    """`assessment_broken`, a pure function of these values (the subject list is the shipped one), remembered: every
    published assessment's decode asks it (~1.1 µs), and a log's events hold few distinct sets of them (456 in 19,711
    of the term shape's: value, criteria, subject, year, date, bench/README.md decode36). `typed`: a value equal to
    another of another type is another key (`Scale.AF` and "AF" are equal, but `result_broken` tells them apart by
    identity)."""
    return tuple(assessment_broken(kind, scale, value, unmet_criteria, year, subject_code, assessed_on, school_year))


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

    @model_validator(mode="after")
    def _check_rules(self) -> AssessmentRetractedV1:
        # the door's `SaidText` (round 29r: the event took a reason of spaces, which says nothing)
        if self.reason is not None and says_nothing(self.reason):
            refuse([Broken("reason", BLANK_RULE, BLANK_WORDS)])
        return self

"""Elever i riskzonen: students at risk of not reaching the pass level. Pure, per student.

A student is at risk in a term when

* their results are below the pass level in `min_subjects` or more subjects (default 3) in that
  term — per subject the result that counts is the student's current one in the term: the term
  grade if there is one, otherwise the newest (date, then round, then id, as for forecast against
  outcome); or
* they are in year 9 and their forecast for the term says "not reached" (`NOT_REACHED`) in a core
  subject: Swedish or Swedish as a second language, English, mathematics.

Both reasons are listed, so the principal sees why. Student level: the list is for the student's
principal and teachers (scoped), never shown above school-unit level (the read path enforces it).

The apply path re-evaluates only the students a batch touched: a student's facts in one term are a
handful (≈ 16 subjects), so the rule is a function of those facts, not additive cell state.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from styrkedja_kit.rules import RuleViolation

from ..figures.facts import Forecast, Result, ResultKind
from ..figures.periods import TermPeriod
from ..figures.subjects import CORE

CORE_YEAR = 9
NOT_REACHED = "NOT_REACHED"


@dataclass(frozen=True)
class AtRiskRule:
    """Configuration (per organiser; default 3 subjects)."""

    min_subjects: int = 3

    def __post_init__(self) -> None:
        if not 1 <= self.min_subjects <= 30:
            raise RuleViolation("min_subjects", "range", "min_subjects must be 1–30")


@dataclass(frozen=True)
class AtRisk:
    student_id: str
    period: TermPeriod
    subjects_below_pass: tuple[str, ...]  # sorted subject codes whose current result is below pass (all)
    core_forecasts_not_reached: tuple[str, ...]  # sorted core subject codes forecast NOT_REACHED (year 9)
    below_pass_in_many: bool  # reason 1: at least `min_subjects` subjects below pass


def current_results(results: Iterable[Result]) -> dict[str, Result]:
    """Per subject, the result that counts: term grade first, then the newest."""
    best: dict[str, Result] = {}
    for r in results:
        held = best.get(r.subject_code)
        if held is None or _rank(r) > _rank(held):
            best[r.subject_code] = r
    return best


def _rank(r: Result) -> tuple[bool, object, int, str]:
    return r.kind is ResultKind.term_grade, r.assessed_on, r.round or 0, r.result_id


def _is_core(subject_code: str) -> bool:
    return any(subject_code in group for group in CORE)


def at_risk(student_id: str, period: TermPeriod, results: Iterable[Result], forecasts: Iterable[Forecast],
            rule: AtRiskRule = AtRiskRule()) -> AtRisk | None:
    """The student's risk in `period` from their current results and forecasts (facts of other
    students or terms are ignored); None when not at risk."""
    mine = [r for r in results if r.student_id == student_id and r.term_period == period]
    below = sorted(code for code, r in current_results(mine).items() if not r.reaches)
    core = sorted({f.subject_code for f in forecasts
                   if f.student_id == student_id and f.term_period == period and f.year == CORE_YEAR
                   and _is_core(f.subject_code) and f.value == NOT_REACHED})
    many = len(below) >= rule.min_subjects
    if not many and not core:
        return None
    return AtRisk(student_id, period, tuple(below), tuple(core), many)

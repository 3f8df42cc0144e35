"""Meritvärde, måluppfyllelse i alla ämnen and behörighet, from term grades (terminsbetyg).

The rules are data in `subjects.py` (with their sources). Per student and term:

* final grades: per subject the newest term grade (by date, then result id);
* merit value (year 9): the 16 best grades outside the språkval language, plus the best språkval
  grade as a 17th — equal to "16 best, plus the språkval language where it raises the sum",
  since it can never do better inside the 16 than on top of them;
  fewer than 16 subjects: the sum of those there are;
* all pass (years 6–9): a pass in every subject the student has a term grade in;
* eligibility (year 9): per rule in `ELIGIBILITY_RULES`.

**State.** Per `MeritCell` (unit × year × gender × term) a `MeritTally` of counts and a sum of
merit values in half points (A–F points are multiples of 0.5, so the sum is an exact integer).
A student contributes to the cells of their *newest* grade's units — a student who changed group
mid-term counts once, in the group they were graded in last. When any of a student's term grades
in a term changes, the apply path recomputes that student's contribution (≤ ~20 facts) and adds
`merit_delta(old grades, new grades)`. Mean merit value = half points / 2 / students.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import NamedTuple

from styrkedja_contracts.identifiers import Gender
from styrkedja_contracts.scales import Scale, merit_points, reaches_pass

from .facts import Result, ResultKind, Unit
from .pass_share import DECIMALS
from .periods import TermPeriod
from .state import Tally, delta_between
from .subjects import (
    ALL_PASS_YEARS,
    ELIGIBILITY_RULES,
    MERIT_BEST_SUBJECTS,
    MERIT_YEAR,
    EligibilityRule,
    is_language_choice,
)


class MeritCell(NamedTuple):
    unit: Unit
    year: int
    gender: Gender
    period: TermPeriod


@dataclass(frozen=True)
class MeritTally(Tally):
    graded_students: int = 0  # years 6–9, at least one term grade
    all_pass: int = 0  # … with a pass in every graded subject
    merit_students: int = 0  # year 9, at least one term grade
    merit_half_points: int = 0  # sum of their merit values × 2
    eligible_vocational: int = 0
    eligible_preparatory_ek_hu_sa: int = 0
    eligible_preparatory_na_te: int = 0
    eligible_preparatory_es: int = 0


_FIELDS = {f.name for f in dataclasses.fields(MeritTally)}
if missing := {f"eligible_{rule}" for rule in ELIGIBILITY_RULES} - _FIELDS:  # rules are data, the tally must follow
    raise RuntimeError(f"MeritTally has no counter for {sorted(missing)}")


def final_grades(results: Iterable[Result]) -> dict[str, Result]:
    """Per subject the newest A–F term grade (other kinds and scales are not grades)."""
    grades: dict[str, Result] = {}
    for r in results:
        if r.kind is not ResultKind.term_grade or r.scale is not Scale.AF:
            continue
        current = grades.get(r.subject_code)
        if current is None or (r.assessed_on, r.result_id) > (current.assessed_on, current.result_id):
            grades[r.subject_code] = r
    return grades


def merit_value(grades: Mapping[str, str]) -> float:
    """`grades`: subject code → A–F."""
    languages = [merit_points(v) for s, v in grades.items() if is_language_choice(s)]
    others = sorted((merit_points(v) for s, v in grades.items() if not is_language_choice(s)), reverse=True)
    return sum(others[:MERIT_BEST_SUBJECTS]) + max(languages, default=0.0)


def passes_all(grades: Mapping[str, str]) -> bool:
    return bool(grades) and all(reaches_pass(Scale.AF, v) for v in grades.values())


def is_eligible(rule: EligibilityRule, grades: Mapping[str, str]) -> bool:
    passed = {s for s, v in grades.items() if reaches_pass(Scale.AF, v)}
    core_subjects = frozenset().union(*rule.core)
    others = passed - core_subjects
    return (all(group & passed for group in rule.core) and len(others) >= rule.other_subjects
            and rule.required_among_others <= others)


def student_tally(year: int, grades: Mapping[str, str]) -> MeritTally:
    counts: dict[str, int] = {}
    if grades and year in ALL_PASS_YEARS:
        counts.update(graded_students=1, all_pass=int(passes_all(grades)))
    if grades and year == MERIT_YEAR:
        counts.update(merit_students=1, merit_half_points=int(merit_value(grades) * 2))
        counts.update({f"eligible_{name}": int(is_eligible(rule, grades)) for name, rule in ELIGIBILITY_RULES.items()})
    return MeritTally(**counts)


def merit_contribution(student_term: Iterable[Result]) -> dict[MeritCell, MeritTally]:
    """The contribution of one student's term grades in one term."""
    results = list(student_term)
    if len({(r.student_id, r.school_year, r.term) for r in results}) > 1:
        raise ValueError("merit_contribution takes one student's grades in one term")
    grades = final_grades(results)
    if not grades:
        return {}
    newest = max(grades.values(), key=lambda r: (r.assessed_on, r.result_id))
    tally = student_tally(newest.year, {s: r.value for s, r in grades.items()})
    if tally.is_zero():
        return {}
    return {MeritCell(unit, newest.year, Gender(newest.gender), newest.term_period): tally for unit in newest.units}


def merit_delta(old: Iterable[Result], new: Iterable[Result]) -> dict[MeritCell, MeritTally]:
    return delta_between(merit_contribution(old), merit_contribution(new))


@dataclass(frozen=True)
class MeritFigures:
    merit_students: int
    mean_merit_value: float | None
    graded_students: int
    all_pass: int
    share_all_pass: float | None
    eligible: dict[str, int]
    share_eligible: dict[str, float | None]


def _share(part: int, whole: int) -> float | None:
    return round(part / whole, DECIMALS) if whole else None


def merit_figures(tally: MeritTally | None) -> MeritFigures:
    t = tally or MeritTally()
    eligible = {name: int(getattr(t, f"eligible_{name}")) for name in ELIGIBILITY_RULES}
    return MeritFigures(
        merit_students=t.merit_students,
        mean_merit_value=round(t.merit_half_points / 2 / t.merit_students, 2) if t.merit_students else None,
        graded_students=t.graded_students,
        all_pass=t.all_pass,
        share_all_pass=_share(t.all_pass, t.graded_students),
        eligible=eligible,
        share_eligible={name: _share(n, t.merit_students) for name, n in eligible.items()},
    )

"""The teacher rule of group-level merit as a pure rule of `access.guard` (`merit_set_elsewhere`): a group's merit
cell rests on its students' every newest term grade, so it is withheld from a reader who does not read every group
those were set in. It was a loop over query functions inside `figures/routes.py`; these cases judge it on hand-made
grades, no database."""

from __future__ import annotations

from datetime import date

from styrkedja_contracts.identifiers import Gender
from styrkedja_contracts.scales import Scale
from styrkedja_kit.auth import GroupRef, Principal, Role
from styrkedja_reporting.access.guard import merit_set_elsewhere
from styrkedja_reporting.figures.facts import Result, ResultKind
from styrkedja_reporting.figures.periods import SchoolYear, Term

ORG, CODE = "2999", "11111111"
GROUP = f"{CODE}/9A"


def _grade(student: str, subject: str, group: str, on: date, value: str = "C") -> tuple[Result, tuple[str, str, str]]:
    units = (("group", f"{CODE}/{group}"), ("school_unit", CODE), ("organiser", ORG))
    result = Result(f"{student}-{subject}", student, subject, 9, Gender.female, units, SchoolYear.parse("2026/27"),
                    Term.VT, None, ResultKind.term_grade, Scale.AF, value, on)
    return result, (ORG, CODE, group)


def _judged(reader: Principal, *grades: tuple[Result, tuple[str, str, str]]) -> set[tuple[str, int]]:
    by_student: dict[str, list[Result]] = {}
    for result, _ in grades:
        by_student.setdefault(result.student_id, []).append(result)
    return merit_set_elsewhere(reader, GROUP, by_student, {r.result_id: place for r, place in grades})


TEACHER = Principal("t1", frozenset({Role.TEACHER}), frozenset({ORG}), groups=frozenset({GroupRef(CODE, "9A")}))


def test_a_cell_resting_on_a_grade_set_in_another_group_is_withheld_from_the_teacher_of_one() -> None:
    # s1's newest grade is set in 9A (the cell is 9A's), its Swedish grade in 9B: another teacher's
    assert _judged(TEACHER, _grade("s1", "GRGRMAT01", "9A", date(2027, 6, 1)),
                   _grade("s1", "GRGRSVE01", "9B", date(2027, 5, 1))) == {(GROUP, 9)}


def test_a_cell_of_grades_set_in_the_teachers_own_group_alone_is_shown() -> None:
    assert _judged(TEACHER, _grade("s1", "GRGRMAT01", "9A", date(2027, 6, 1)),
                   _grade("s1", "GRGRSVE01", "9A", date(2027, 5, 1))) == set()


def test_a_student_whose_newest_grade_is_set_elsewhere_is_not_the_groups_cell() -> None:
    # the newest in 9B: s1 counts in 9B's cell, not in 9A's, so 9A's cell does not rest on it
    assert _judged(TEACHER, _grade("s1", "GRGRMAT01", "9A", date(2027, 5, 1)),
                   _grade("s1", "GRGRSVE01", "9B", date(2027, 6, 1))) == set()


def test_a_reader_of_every_group_is_shown_the_cell() -> None:
    principal = Principal("p1", frozenset({Role.PRINCIPAL}), frozenset({ORG}), school_units=frozenset({CODE}))
    assert _judged(principal, _grade("s1", "GRGRMAT01", "9A", date(2027, 6, 1)),
                   _grade("s1", "GRGRSVE01", "9B", date(2027, 5, 1))) == set()

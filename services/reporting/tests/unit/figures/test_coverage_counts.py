"""The distinct-student counts behind coverage, moved per level from a student's group cells."""

from __future__ import annotations

from styrkedja_reporting.figures.coverage_counts import distinct_deltas, level_units

PLACEMENT = {"11111111": "north", "22222222": "north", "33333333": None}
KEY = ("2999", "s-1", "GRGRMAT01", 8, "2026/27", "HT")


def cell(level: str, unit: str) -> tuple:
    return (level, unit, "2999", "GRGRMAT01", 8, "2026/27", "HT")


def test_a_first_result_counts_the_student_once_at_every_level():
    got = distinct_deltas({KEY: {"11111111/8A"}}, {KEY: {"11111111/8A"}}, {}, PLACEMENT)
    assert got == {cell("group", "11111111/8A"): 1, cell("school_unit", "11111111"): 1, cell("area", "north"): 1,
                   cell("organiser", "2999"): 1}  # the nation's: the organiser level's (no cells of its own)


def test_a_student_changing_group_mid_term_counts_once_in_the_school_unit():
    # already in 8A, now also a result in 8B of the same school: only the group 8B gains a student
    got = distinct_deltas({KEY: {"11111111/8A", "11111111/8B"}}, {KEY: {"11111111/8B"}}, {}, PLACEMENT)
    assert +got == {cell("group", "11111111/8B"): 1}


def test_a_move_to_another_school_of_the_same_area_moves_the_school_units_only():
    got = distinct_deltas({KEY: {"22222222/8A"}}, {KEY: {"22222222/8A"}}, {KEY: {"11111111/8A"}}, PLACEMENT)
    assert {k: v for k, v in got.items() if v} == {
        cell("group", "22222222/8A"): 1, cell("school_unit", "22222222"): 1,
        cell("group", "11111111/8A"): -1, cell("school_unit", "11111111"): -1}


def test_the_last_result_retracted_removes_the_student_everywhere_and_an_unplaced_school_has_no_area():
    got = distinct_deltas({}, {}, {KEY: {"33333333/8A"}}, PLACEMENT)
    assert got == {cell("group", "33333333/8A"): -1, cell("school_unit", "33333333"): -1,
                   cell("organiser", "2999"): -1}
    assert ("area", "north") not in level_units("2999", ["33333333/8A"], PLACEMENT)

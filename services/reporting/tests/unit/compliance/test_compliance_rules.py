"""Compliance on a hand-made window: some teachers missing, some late, one who left the group
mid-window, one group × subject left without a teacher, one assignment that starts after the window."""

from datetime import UTC, date, datetime

import pytest

from styrkedja_contracts.calendar import Window, forecast_window
from styrkedja_reporting.compliance.rules import (
    Assignment,
    CellKind,
    ComplianceCell,
    ComplianceTally,
    ItemStatus,
    Report,
    Roster,
    WindowKey,
    WindowKind,
    counts,
    item_contribution,
    item_delta,
    item_for,
    items,
    organiser_view,
    rows,
)
from styrkedja_reporting.figures.state import apply, total

KEY = WindowKey(WindowKind.forecast, "2999", "2026/27:HT")
WINDOW = forecast_window("2026/27", "HT")  # Mon 19 Oct … Fri 23 Oct 2026, Stockholm
U1, U2 = "29990011", "29990022"
MAT, ENG, BIO = "GRGRMAT01", "GRGRENG01", "GRGRBIO01"

ROSTERS = [Roster(U1, "9A", frozenset({"s1", "s2", "s3", "s4"})), Roster(U1, "9B", frozenset({"s5", "s6"})),
           Roster(U2, "7C", frozenset({"s7"}))]
ASSIGNMENTS = [
    Assignment(U1, "9A", MAT, "t-mat"),
    Assignment(U1, "9A", ENG, "t-left", ends_on=date(2026, 10, 21)),  # left the group mid-window
    Assignment(U1, "9A", ENG, "t-new", starts_on=date(2026, 10, 22)),  # … and the successor
    Assignment(U1, "9A", BIO, "t-gone", ends_on=date(2026, 10, 20)),  # left, nobody took over
    Assignment(U1, "9B", MAT, "t-mat"),
    Assignment(U1, "9B", ENG, "t-later", starts_on=date(2026, 11, 2)),  # after the window: not expected
    Assignment(U2, "7C", MAT, "t-7c", ends_on=date(2026, 10, 1)),  # ended before the window: not expected
]


def at(day: int, hour_utc: int = 10) -> datetime:
    return datetime(2026, 10, day, hour_utc, tzinfo=UTC)


REPORTS = [
    Report("s1", MAT, at(20)),
    Report("s2", MAT, at(23, 21)),  # 23:00 local on the deadline: on time
    Report("s3", MAT, at(23, 22)),  # 00:00 local on the 24th: late
    Report("s1", ENG, datetime(2026, 9, 1, tzinfo=UTC)),  # early is on time
    Report("s2", ENG, at(26)),  # late
    Report("s5", MAT, at(27)),  # late
    Report("s1", BIO, at(22)),
    Report("s7", MAT, at(22)),  # not expected: counted nowhere
]


def ledger():
    return total(item_contribution(i) for i in items(KEY, WINDOW, ROSTERS, ASSIGNMENTS, REPORTS))


def test_items_and_their_status():
    found = {(i.group_id, i.subject_code, i.student_id): i for i in items(KEY, WINDOW, ROSTERS, ASSIGNMENTS, REPORTS)}
    assert len(found) == 4 * 3 + 2  # 9A: MAT, ENG, BIO × 4; 9B: MAT × 2
    assert found["9A", MAT, "s1"].status is ItemStatus.on_time
    assert found["9A", MAT, "s2"].status is ItemStatus.on_time
    assert found["9A", MAT, "s3"].status is ItemStatus.late
    assert found["9A", MAT, "s4"].status is ItemStatus.missing
    assert found["9A", ENG, "s1"].teachers == ("t-new",)  # the teacher who left is not responsible
    assert found["9A", BIO, "s2"].teachers == ()  # unassigned
    assert ("9B", ENG, "s5") not in found and ("7C", MAT, "s7") not in found


def test_unit_group_and_teacher_counts():
    state = ledger()
    unit = counts(state[ComplianceCell(KEY, CellKind.school_unit, U1)])
    assert (unit.expected, unit.on_time, unit.late, unit.missing) == (14, 4, 3, 7)
    assert unit.share_reported == 0.5 and unit.share_on_time == round(4 / 14, 4)
    assert ComplianceCell(KEY, CellKind.school_unit, U2) not in state  # nothing expected there
    teachers = {r.cell.teacher_id: r.counts for r in rows(state, KEY, CellKind.teacher)}
    assert set(teachers) == {"t-mat", "t-new"}  # t-left and t-gone are on no list
    assert (teachers["t-mat"].expected, teachers["t-mat"].on_time, teachers["t-mat"].late,
            teachers["t-mat"].missing) == (6, 2, 2, 2)
    assert (teachers["t-new"].expected, teachers["t-new"].reported, teachers["t-new"].missing) == (4, 2, 2)
    unassigned = rows(state, KEY, CellKind.unassigned)
    assert [(r.cell.group_id, r.cell.subject_code, r.counts.missing) for r in unassigned] == [("9A", BIO, 3)]


def test_the_principals_list_is_most_missing_first_and_filtered():
    state = ledger()
    missing = rows(state, KEY, CellKind.teacher_group_subject, school_units=[U1], only_missing=True)
    assert [(r.cell.teacher_id, r.cell.group_id, r.cell.subject_code, r.counts.missing) for r in missing] == [
        ("t-new", "9A", ENG, 2), ("t-mat", "9A", MAT, 1), ("t-mat", "9B", MAT, 1)]
    assert rows(state, KEY, CellKind.teacher, school_units=[U2]) == []
    groups = rows(state, KEY, CellKind.group)
    assert [(r.cell.group_id, r.counts.expected, r.counts.missing) for r in groups] == [("9A", 12, 6), ("9B", 2, 1)]


def test_the_organiser_view_has_a_share_per_unit():
    view = organiser_view(ledger(), KEY)
    assert [(r.cell.school_unit_code, r.counts.share_reported) for r in view] == [(U1, 0.5)]
    assert organiser_view(ledger(), WindowKey(WindowKind.forecast, "2999", "2026/27:VT")) == []


def test_counts_of_an_empty_cell():
    empty = counts(None)
    assert (empty.expected, empty.missing, empty.share_reported, empty.share_on_time) == (0, 0, None, None)
    assert counts(ComplianceTally(expected=3, late=3)).share_on_time == 0.0


def test_a_late_report_turns_missing_into_late_never_back():
    missing = item_for(KEY, WINDOW, U1, "9A", MAT, "s4", ASSIGNMENTS, None)
    late = item_for(KEY, WINDOW, U1, "9A", MAT, "s4", ASSIGNMENTS, Report("s4", MAT, at(30)))
    assert missing is not None and late is not None and late.status is ItemStatus.late
    state = ledger()
    apply(state, item_delta(missing, late))
    unit = counts(state[ComplianceCell(KEY, CellKind.school_unit, U1)])
    assert (unit.late, unit.missing) == (4, 6)
    apply(state, item_delta(late, missing))  # the forecast withdrawn again
    assert state == ledger()


def test_a_report_of_another_student_is_refused():
    with pytest.raises(ValueError):
        item_for(KEY, WINDOW, U1, "9A", MAT, "s4", ASSIGNMENTS, Report("s1", MAT, at(20)))


def test_an_assessment_round_without_a_deadline_is_never_late():
    round_key = WindowKey(WindowKind.assessment_round, "2999", "2026/27:R1")
    open_round = Window(date(2026, 8, 17), date(2026, 10, 23), "Europe/Stockholm")
    item = item_for(round_key, open_round, U1, "9A", MAT, "s1", ASSIGNMENTS, Report("s1", MAT, at(20)))
    assert item is not None and item.status is ItemStatus.on_time

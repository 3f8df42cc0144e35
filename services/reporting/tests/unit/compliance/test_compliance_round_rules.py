"""Assessment rounds with a deadline, on hand-made data: the boundaries (exactly at the deadline,
the last grace day, a second later, across the end of summer time), who answers for an item on the
deadline day, and which time counts for an assessment (`fold_round_report`: a correction keeps the
run's first time, a retraction ends the run, an older revision changes nothing, a replay nothing)."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime
from itertools import permutations
from zoneinfo import ZoneInfo

import pytest

from styrkedja_contracts.calendar import round_window
from styrkedja_contracts.events.calendar import ReportingCalendar, RoundDeadline
from styrkedja_reporting.compliance.rules import (
    Assignment,
    ItemStatus,
    Report,
    RoundReport,
    WindowKey,
    WindowKind,
    fold_round_report,
    item_for,
    parse_round_period,
    round_period,
)

STOCKHOLM = ZoneInfo("Europe/Stockholm")
U, MAT = "29990011", "GRGRMAT01"
KEY = WindowKey(WindowKind.assessment_round, "2999", round_period("2026/27", 2))


def calendar(grace: int) -> ReportingCalendar:
    return ReportingCalendar(round_deadlines=(RoundDeadline(round=2, term="HT", iso_week=43),), grace_days=grace)


ASSIGNED = (Assignment(U, "9A", MAT, "t-1"),)


def status(received_at: datetime, grace: int = 0, assignments=ASSIGNED) -> ItemStatus:
    window = round_window("2026/27", 2, calendar(grace))
    assert window is not None
    item = item_for(KEY, window, U, "9A", MAT, "s-1", assignments, Report("s-1", MAT, received_at))
    assert item is not None
    return item.status


def test_the_period_of_a_round():
    assert round_period("2026/27", 2) == "2026/27:R2" and parse_round_period("2026/27:R2") == ("2026/27", 2)


@pytest.mark.parametrize(("received", "grace", "expected"), [
    (datetime(2026, 10, 23, 23, 59, 59, tzinfo=STOCKHOLM), 0, ItemStatus.on_time),  # Friday, last second
    (datetime(2026, 10, 24, 0, 0, 0, tzinfo=STOCKHOLM), 0, ItemStatus.late),  # Saturday, first second
    (datetime(2026, 10, 24, 0, 0, 0, tzinfo=STOCKHOLM), 2, ItemStatus.on_time),  # within the grace days
    # the last grace day is Sunday 25 October, when summer time ends: 23:59:59 CET is 22:59:59 UTC
    (datetime(2026, 10, 25, 22, 59, 59, tzinfo=UTC), 2, ItemStatus.on_time),
    (datetime(2026, 10, 25, 23, 0, 0, tzinfo=UTC), 2, ItemStatus.late),  # after the grace days
    (datetime(2026, 9, 1, tzinfo=UTC), 2, ItemStatus.on_time),  # before the window opens: early is on time
])
def test_exactly_at_the_deadline_and_after_the_grace_days(received, grace, expected):
    assert status(received, grace) is expected


def test_a_round_without_a_deadline_has_no_window():
    assert round_window("2026/27", 3, calendar(0)) is None


def test_who_answers_is_decided_on_the_deadline_day_grace_included():
    window = round_window("2026/27", 2, calendar(2))  # deadline Sunday 25 October
    assert window is not None and window.deadline == date(2026, 10, 25)
    left_on_friday = Assignment(U, "9A", MAT, "t-left", ends_on=date(2026, 10, 23))
    on_the_deadline = Assignment(U, "9A", MAT, "t-last", ends_on=date(2026, 10, 25))
    starts_after = Assignment(U, "9A", MAT, "t-next", starts_on=date(2026, 10, 26))
    item = item_for(KEY, window, U, "9A", MAT, "s-1", [left_on_friday, on_the_deadline, starts_after], None)
    assert item is not None and item.teachers == ("t-last",) and item.status is ItemStatus.missing
    # only the one who left: still expected (it overlapped the window), nobody answers for it
    item = item_for(KEY, window, U, "9A", MAT, "s-1", [left_on_friday], None)
    assert item is not None and item.teachers == ()
    # an assignment that starts the day after the deadline creates nothing
    assert item_for(KEY, window, U, "9A", MAT, "s-1", [starts_after], None) is None


def at(day: int) -> datetime:
    return datetime(2026, 10, day, 10, tzinfo=STOCKHOLM)


def revision(n: int, when: datetime, retracted: bool = False) -> RoundReport:
    return RoundReport("a-1", n, retracted, "2999", U, "9A", "s-1", MAT, "2026/27", 2, when)


def fold(*revisions: RoundReport) -> RoundReport | None:
    state = None
    for r in revisions:
        state = fold_round_report(state, r)
    return state


def test_a_correction_keeps_the_first_time_of_its_run():
    state = fold(revision(1, at(20)), revision(2, at(30)))
    assert state is not None and (state.revision, state.received_at, state.retracted) == (2, at(20), False)


def test_a_retraction_ends_the_run_and_a_new_publication_starts_one():
    state = fold(revision(1, at(20)), revision(2, at(22), retracted=True))
    # a retracted report counts nowhere: it keeps the retraction's own time (not the run's, at(20): see the twins)
    assert state is not None and state.retracted and state.received_at == at(22)
    state = fold_round_report(state, revision(3, at(28)))
    assert (state.revision, state.retracted, state.received_at) == (3, False, at(28))


def test_an_older_revision_or_a_replay_changes_nothing():
    newest = fold(revision(1, at(20)), revision(2, at(30)))
    assert fold_round_report(newest, revision(1, at(20))) == newest  # older, arriving late
    assert fold_round_report(newest, revision(2, at(30))) == newest  # the same again (a replay)
    retracted = fold(revision(2, at(22), retracted=True))
    assert fold_round_report(retracted, revision(1, at(20))) == retracted  # retraction seen first: stays retracted


def test_out_of_order_across_a_retraction_is_judged_as_one_run():
    # a documented limit: revision 3 arriving before the retraction (2) it follows continues the run of
    # revision 1 (the retraction, older by then, changes nothing). Events of one organiser are in order on
    # their partition, so this needs a producer that sent them out of order.
    state = fold(revision(1, at(20)), revision(3, at(28)), revision(2, at(22), retracted=True))
    assert state is not None and (state.revision, state.retracted, state.received_at) == (3, False, at(20))


TWINS = {  # two events of one assessment and revision with other content: a producer keying one organiser in two
    # spellings puts them on two partitions, consumed in either order
    "another time": (revision(2, at(20)), revision(2, at(26))),
    "another place and time": (revision(2, at(26)), replace(revision(2, at(20)), group_id="9B")),
    "a publication and a retraction": (revision(2, at(20)), revision(2, at(22), retracted=True)),
    "two retractions": (revision(2, at(22), retracted=True), replace(revision(2, at(21), retracted=True),
                                                                     group_id="9B")),
}


@pytest.mark.parametrize("before", [None, revision(1, at(18)), revision(1, at(18), retracted=True)],
                         ids=["first", "in a run", "after a retraction"])
@pytest.mark.parametrize("twins", list(TWINS.values()), ids=list(TWINS))
def test_twins_of_one_revision_come_out_the_same_in_either_order(twins, before):
    """Failed on the old code: the first to arrive stood (`incoming.revision <= state.revision`), so the live consumer
    and the rebuild, taking the two partitions in other orders, kept another place, another time (on time or late),
    reported or retracted. Now: a retraction wins, with its own place and time; of two publications the greater
    place and the run's earliest time; of two retractions the greater."""
    states = {fold(*([before] if before else []), *order) for order in permutations(twins)}
    assert len(states) == 1, states
    (state,) = states
    first, second = twins
    if first.retracted or second.retracted:
        winner = max(twins, key=lambda r: (r.retracted, r.group_id, r.received_at))
        assert state == winner
    else:
        run = [before.received_at] if before is not None and not before.retracted else []
        assert state.group_id == max(first.group_id, second.group_id) and not state.retracted
        assert state.received_at == min([*run, first.received_at, second.received_at])


def test_a_twin_arriving_after_a_later_correction_changes_nothing():
    """A documented limit, as for any older revision: revision 2's twin arriving after revision 3 is older by then.
    Three twins of one revision in any order come out the same."""
    state = fold(revision(2, at(20)), revision(3, at(28)), revision(2, at(19)))
    assert state is not None and (state.revision, state.received_at) == (3, at(20))
    three = (revision(2, at(21)), replace(revision(2, at(25)), group_id="9C"), revision(2, at(20)))
    assert len({fold(*order) for order in permutations(three)}) == 1

"""Compliance kept by deltas equals a recomputation: rosters changing, teachers joining and leaving
mid-window, forecasts submitted, revised, withdrawn and submitted late — in any order (invariant 3).

The apply path re-derives only the items a change can touch (as here in `touched`): a roster change
touches that student's items in the group, an assignment change the group × subject's items, a
report the student × subject's items in every group the student is in."""

from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from styrkedja_contracts.calendar import forecast_window
from styrkedja_reporting.compliance.rules import (
    Assignment,
    Item,
    Report,
    Roster,
    WindowKey,
    WindowKind,
    item_contribution,
    item_delta,
    item_for,
    items,
)
from styrkedja_reporting.figures.state import apply, total

KEY = WindowKey(WindowKind.forecast, "2999", "2026/27:HT")
WINDOW = forecast_window("2026/27", "HT")  # 19–23 Oct 2026
GROUPS = {"9A": "29990011", "9B": "29990011", "7C": "29990022"}
STUDENTS = ["s1", "s2", "s3", "s4"]
SUBJECTS = ["GRGRMAT01", "GRGRENG01"]
TEACHERS = ["t1", "t2", "t3"]
DATES = [None, date(2026, 9, 1), date(2026, 10, 19), date(2026, 10, 21), date(2026, 10, 23), date(2026, 10, 24),
         date(2026, 11, 10)]


@dataclass
class Facts:
    rosters: dict[str, set[str]] = field(default_factory=lambda: {g: set() for g in GROUPS})
    assignments: set[Assignment] = field(default_factory=set)
    reports: dict[tuple[str, str], datetime] = field(default_factory=dict)

    def copy(self) -> "Facts":
        return Facts({g: set(s) for g, s in self.rosters.items()}, set(self.assignments), dict(self.reports))

    def item(self, group: str, subject: str, student: str) -> Item | None:
        if student not in self.rosters[group]:
            return None
        received = self.reports.get((student, subject))
        report = None if received is None else Report(student, subject, received)
        return item_for(KEY, WINDOW, GROUPS[group], group, subject, student, self.assignments, report)

    def recomputed(self):
        rosters = [Roster(GROUPS[g], g, frozenset(s)) for g, s in self.rosters.items()]
        reports = [Report(st_, su, t) for (st_, su), t in self.reports.items()]
        return total(item_contribution(i) for i in items(KEY, WINDOW, rosters, self.assignments, reports))




def assignment(group: str, subject: str, teacher: str, starts_on: date | None, ends_on: date | None) -> Assignment:
    if starts_on and ends_on and starts_on > ends_on:
        starts_on, ends_on = ends_on, starts_on
    return Assignment(GROUPS[group], group, subject, teacher, starts_on, ends_on)


assignments = st.builds(assignment, st.sampled_from(list(GROUPS)), st.sampled_from(SUBJECTS),
                        st.sampled_from(TEACHERS), st.sampled_from(DATES), st.sampled_from(DATES))
times = st.integers(0, 24 * 50).map(lambda h: datetime(2026, 10, 1, tzinfo=UTC) + timedelta(hours=h))
changes = st.one_of(
    st.tuples(st.just("roster"), st.sampled_from(list(GROUPS)), st.sampled_from(STUDENTS), st.booleans()),
    st.tuples(st.just("assignment"), assignments, st.booleans()),
    st.tuples(st.just("report"), st.sampled_from(STUDENTS), st.sampled_from(SUBJECTS), st.none() | times),
)


def change(facts: Facts, step) -> tuple[Facts, set[tuple[str, str, str]]]:
    """The facts after one change, and the items it touches."""
    new = facts.copy()
    kind = step[0]
    if kind == "roster":
        _, group, student, member = step
        (new.rosters[group].add if member else new.rosters[group].discard)(student)
        subjects = {a.subject_code for a in facts.assignments if a.group_id == group}
        return new, {(group, s, student) for s in subjects}
    if kind == "assignment":
        _, assignment, present = step
        (new.assignments.add if present else new.assignments.discard)(assignment)
        g, s = assignment.group_id, assignment.subject_code
        return new, {(g, s, student) for student in facts.rosters[g]}
    _, student, subject, received = step
    if received is None:
        new.reports.pop((student, subject), None)  # withdrawn
    else:
        new.reports[(student, subject)] = received  # submitted (again)
    return new, {(g, subject, student) for g, members in facts.rosters.items() if student in members}


@settings(max_examples=300, deadline=None)
@given(st.lists(changes, min_size=1, max_size=40), st.randoms(use_true_random=False))
def test_deltas_in_any_order_equal_a_recomputation(steps, rng):
    facts, ledger, deltas = Facts(), {}, []
    for step in steps:
        new, touched = change(facts, step)
        for key in touched:
            delta = item_delta(facts.item(*key), new.item(*key))
            apply(ledger, delta)
            deltas.append(delta)
        facts = new
        assert ledger == facts.recomputed()
    rng.shuffle(deltas)
    shuffled: dict = {}
    for delta in deltas:
        apply(shuffled, delta)
    assert shuffled == ledger


def test_a_teacher_leaving_mid_window_moves_the_items_to_the_successor():
    facts = Facts()
    facts.rosters["9A"] = {"s1", "s2"}
    leaving = Assignment(GROUPS["9A"], "9A", "GRGRMAT01", "t1")
    facts.assignments = {leaving}
    state, ledger = facts, facts.recomputed()
    successor = Assignment(GROUPS["9A"], "9A", "GRGRMAT01", "t2", starts_on=date(2026, 10, 22))
    for step in (("assignment", leaving, False), ("assignment", replace(leaving, ends_on=date(2026, 10, 21)), True),
                 ("assignment", successor, True)):
        new, keys = change(state, step)
        for key in keys:
            apply(ledger, item_delta(state.item(*key), new.item(*key)))
        state = new
    assert ledger == state.recomputed()
    assert {cell.teacher_id for cell in ledger if cell.teacher_id} == {"t2"}

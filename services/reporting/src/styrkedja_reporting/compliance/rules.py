"""Compliance per reporting window: expected vs reported, as additive state with deltas. Pure.

**Window.** A forecast window (school year × term) or an assessment round with a deadline, both
from the organiser's årshjul (`styrkedja_contracts.calendar`): `opens` … `deadline` (grace
included), judged in the organiser's time zone — the very rule of the forecast service's late flag.

**Expected** = the directory's teaching assignments (group × subject × teacher) × the group's
roster: one *item* per group × subject × student, when at least one assignment of that group and
subject overlaps the window. **Reported** = a current (newest, not withdrawn) forecast — or, for a
round, assessment — of that student and subject in the window; any teacher's report counts (there
is one forecast per student × subject × term). An item is `missing`, `on_time` or `late`; late
counts as reported-late, **never** as missing.

**Whose item.** The teachers responsible for an item are those whose assignment of the group and
subject is active on the deadline day. A teacher who left the group mid-window (assignment ended
before the deadline) is no longer responsible — their successor is — and is not on the list; the
item itself stays expected. If nobody is assigned on the deadline, the item is `unassigned` (the
principal's list shows it, no teacher is blamed).

**Which time counts for a report.** `Report.received_at` is the time the student × subject was
first reported in its current run: a correction after the deadline of an on-time forecast does
not make it late; a forecast withdrawn and submitted again after the deadline is late. (The wiring
keeps that time with the newest revision.)

**State.** Per `ComplianceCell` a `ComplianceTally` (expected / on_time / late; missing = expected −
on_time − late). One item contributes to its school unit, group, group × subject, and per
responsible teacher to the teacher and teacher × group × subject cells (or to `unassigned`). When
a roster, an assignment or a report changes, the apply path re-derives the touched items
(`item_for`) and adds `item_delta(old, new)`; deltas commute, so any order of changes equals a
recomputation (`total(item_contribution(i) for i in items(...))`).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from datetime import date, datetime
from enum import StrEnum
from typing import NamedTuple
from uuid import UUID

from styrkedja_contracts.calendar import Timeliness, Window, timeliness

from ..figures.pass_share import DECIMALS
from ..figures.state import Tally, delta_between


class WindowKind(StrEnum):
    forecast = "forecast"  # prognosfönster
    assessment_round = "assessment_round"  # omgång med sista dag


@dataclass(frozen=True)
class WindowKey:
    """Which window: kind + organiser + canonical period (`2026/27:VT`, `2026/27:R2`)."""

    kind: WindowKind
    organiser_id: str
    period: str


@dataclass(frozen=True)
class Assignment:
    """A teaching assignment (undervisningsuppdrag) from the directory; dates inclusive, None = open."""

    school_unit_code: str
    group_id: str
    subject_code: str
    teacher_id: str
    starts_on: date | None = None
    ends_on: date | None = None

    def overlaps(self, window: Window) -> bool:
        return ((self.starts_on is None or self.starts_on <= window.deadline)
                and (self.ends_on is None or self.ends_on >= window.opens))

    def active_on(self, day: date) -> bool:
        return (self.starts_on is None or self.starts_on <= day) and (self.ends_on is None or self.ends_on >= day)


@dataclass(frozen=True)
class Report:
    """A current forecast (or assessment) of one student and subject in the window."""

    student_id: str
    subject_code: str
    received_at: datetime  # first reported in the current run (see the module docstring)


class ItemStatus(StrEnum):
    missing = "missing"
    on_time = "on_time"
    late = "late"


@dataclass(frozen=True)
class Item:
    """One expected report: group × subject × student, its responsible teachers and status."""

    window: WindowKey
    school_unit_code: str
    group_id: str
    subject_code: str
    student_id: str
    teachers: tuple[str, ...]  # sorted; () = unassigned on the deadline
    status: ItemStatus


def round_period(school_year: str, round_: int) -> str:
    """The canonical period of an assessment round window: `2026/27:R2`."""
    return f"{school_year}:R{round_}"


def parse_round_period(period: str) -> tuple[str, int]:
    school_year, _, round_ = period.partition(":R")
    return school_year, int(round_)


@dataclass(frozen=True)
class RoundReport:
    """What compliance keeps of one assessment (by id) for the assessment-round lists: its newest
    revision, whether that retracts it, and when its current run was first reported.

    `received_at` follows the rule above: a newer published revision keeps the time of the run it
    continues (a correction after the deadline of an on-time assessment stays on time); after a
    retraction, a new publication starts a new run (its own time). Older revisions change nothing.
    A retracted report counts nowhere: its place and time are the retraction's own."""

    assessment_id: str
    revision: int
    retracted: bool
    organiser_id: str
    school_unit_code: str
    group_id: str
    student_id: str
    subject_code: str
    school_year: str
    round: int
    received_at: datetime


def fold_round_report(state: RoundReport | None, incoming: RoundReport) -> RoundReport:
    """The state after one more revision of an assessment (`incoming.retracted` = a retraction).

    Two events of one revision (`_twin`) are decided by their content, not by which came first: a producer keying
    one organiser under two spellings puts an assessment's events on two partitions, which the live consumer and
    the rebuild interleave each as they come (as `results.rules.fold` decides the fact)."""
    if state is not None and incoming.revision < state.revision:
        return state  # an older revision arriving late: only the newest counts
    if state is not None and incoming.revision == state.revision:
        return _twin(state, incoming)
    if incoming.retracted:
        return incoming  # the run ends; the retraction's own place and time (see `_twin`)
    if state is not None and not state.retracted:  # the same run: its first time
        return replace(incoming, received_at=min(state.received_at, incoming.received_at))
    return incoming


def _twin(state: RoundReport, incoming: RoundReport) -> RoundReport:
    """Of one revision, the state and another event (the same again changes nothing), whatever their order.

    * A retraction wins (as the fact's: `results.rules.tie_order`), with its own place and time — which is why a
      retraction keeps its own rather than the run's it ends: kept, the outcome would depend on which twin came
      first (a publication's place was the state's then) — and of two retractions the greater (`round_tie_order`).
    * Two publications are one run: the greater place (`round_tie_order`) and the earlier time. "First reported"
      is the earliest time the run has, the later-arriving twin's when it was earlier: the run's time is the least
      of its publications' (a correction's is later than its run's first in any log in order: the same time then)."""
    if incoming == state:
        return state
    if state.retracted or incoming.retracted:
        return incoming if round_tie_order(incoming) > round_tie_order(state) else state
    place = incoming if round_tie_order(incoming) > round_tie_order(state) else state
    return replace(place, received_at=min(state.received_at, incoming.received_at))


def round_tie_order(report: RoundReport) -> tuple[object, ...]:
    """What decides between two reports of one assessment and revision: a retraction first (false before true), then
    the place, field by field, then the time — text by code point, as the rebuild's SQL compares (`COLLATE "C"`,
    `rebuild.compliance`)."""
    return (report.retracted, report.school_unit_code, report.group_id, report.student_id, report.subject_code,
            report.school_year, report.round, report.received_at)


@dataclass(frozen=True)
class ForecastRun:
    """What compliance keeps of one forecast (by id within its organiser) for the forecast lists: its newest
    revision, the newest revision withdrawing it, and the newest revision submitted on time — by the forecast
    service's own flag, which judges each revision by that revision's own time (what the flag means, kept).

    The current run is the submissions above the newest withdrawal; it is on time when one of them was: an
    on-time forecast corrected after the deadline stays on time, as an assessment's run keeps its first time
    (`fold_round_report`); withdrawn, then handed in again late, is late (a new run, as an assessment retracted
    and published again). Three maxima: the same whatever order the revisions arrive in (`fold_forecast_run`) —
    a correction arriving before what it corrects, twins of one revision (a withdrawal wins its revision: it is
    not above itself), a replay. None = no such revision seen."""

    forecast_id: UUID
    organiser_id: str
    revision: int
    withdrawn_revision: int | None
    on_time_revision: int | None

    @property
    def withdrawn(self) -> bool:
        return self.withdrawn_revision == self.revision

    @property
    def late(self) -> bool:
        """Late: a current run with no submission on time (a withdrawn forecast counts nowhere: not late)."""
        return not self.withdrawn and (self.on_time_revision or 0) <= (self.withdrawn_revision or 0)


def forecast_event_run(forecast_id: UUID, organiser_id: str, revision: int, withdrawn: bool,
                       late: bool) -> ForecastRun:
    """One forecast event as a run of its own (a submission flagged `late` or not, or a withdrawal)."""
    return ForecastRun(forecast_id, organiser_id, revision, revision if withdrawn else None,
                       None if withdrawn or late else revision)


def _greatest(a: int | None, b: int | None) -> int | None:
    return b if a is None else a if b is None else max(a, b)


def fold_forecast_run(state: ForecastRun | None, incoming: ForecastRun) -> ForecastRun:
    """The state after one more event (or state) of a forecast: each revision the greatest of the two (associative
    and commutative: any order, any batching, the rebuild's `max` the same)."""
    if state is None:
        return incoming
    return replace(state, revision=max(state.revision, incoming.revision),
                   withdrawn_revision=_greatest(state.withdrawn_revision, incoming.withdrawn_revision),
                   on_time_revision=_greatest(state.on_time_revision, incoming.on_time_revision))


def item_for(window_key: WindowKey, window: Window, school_unit_code: str, group_id: str, subject_code: str,
             student_id: str, assignments: Iterable[Assignment], report: Report | None) -> Item | None:
    """The item of one student in a group × subject, from that group × subject's assignments and
    the student's report (None = not reported); None when not expected (no assignment overlaps)."""
    mine = [a for a in assignments if a.group_id == group_id and a.subject_code == subject_code]
    if not any(a.overlaps(window) for a in mine):
        return None
    teachers = tuple(sorted({a.teacher_id for a in mine if a.active_on(window.deadline)}))
    if report is None:
        status = ItemStatus.missing
    else:
        if (report.student_id, report.subject_code) != (student_id, subject_code):
            raise ValueError("the report belongs to another student or subject")
        status = ItemStatus.late if timeliness(report.received_at, window) is Timeliness.late else ItemStatus.on_time
    return Item(window_key, school_unit_code, group_id, subject_code, student_id, teachers, status)


@dataclass(frozen=True)
class Roster:
    """A group and its students (elevgrupp) at the time of evaluation."""

    school_unit_code: str
    group_id: str
    student_ids: frozenset[str]


def items(window_key: WindowKey, window: Window, rosters: Iterable[Roster], assignments: Iterable[Assignment],
          reports: Iterable[Report]) -> list[Item]:
    """Recomputation of every item of a window from the facts."""
    assignments = list(assignments)
    by_student_subject = {(r.student_id, r.subject_code): r for r in reports}
    result = []
    for roster in rosters:
        subjects = sorted({a.subject_code for a in assignments if a.group_id == roster.group_id})
        for subject in subjects:
            for student in sorted(roster.student_ids):
                item = item_for(window_key, window, roster.school_unit_code, roster.group_id, subject, student,
                                assignments, by_student_subject.get((student, subject)))
                if item is not None:
                    result.append(item)
    return result


# --- additive state -----------------------------------------------------------------------------

class CellKind(StrEnum):
    school_unit = "school_unit"
    group = "group"
    group_subject = "group_subject"
    teacher = "teacher"
    teacher_group_subject = "teacher_group_subject"
    unassigned = "unassigned"  # group × subject with nobody assigned on the deadline


class ComplianceCell(NamedTuple):
    window: WindowKey
    kind: CellKind
    school_unit_code: str
    group_id: str | None = None
    subject_code: str | None = None
    teacher_id: str | None = None


@dataclass(frozen=True)
class ComplianceTally(Tally):
    expected: int = 0
    on_time: int = 0
    late: int = 0

    @property
    def reported(self) -> int:
        return self.on_time + self.late

    @property
    def missing(self) -> int:
        return self.expected - self.reported


def item_contribution(item: Item | None) -> dict[ComplianceCell, ComplianceTally]:
    if item is None:
        return {}
    tally = ComplianceTally(expected=1, on_time=int(item.status is ItemStatus.on_time),
                            late=int(item.status is ItemStatus.late))
    w, unit, group, subject = item.window, item.school_unit_code, item.group_id, item.subject_code
    cells = [ComplianceCell(w, CellKind.school_unit, unit), ComplianceCell(w, CellKind.group, unit, group),
             ComplianceCell(w, CellKind.group_subject, unit, group, subject)]
    for teacher in item.teachers:
        cells += [ComplianceCell(w, CellKind.teacher, unit, teacher_id=teacher),
                  ComplianceCell(w, CellKind.teacher_group_subject, unit, group, subject, teacher)]
    if not item.teachers:
        cells.append(ComplianceCell(w, CellKind.unassigned, unit, group, subject))
    return dict.fromkeys(cells, tally)


def item_delta(old: Item | None, new: Item | None) -> dict[ComplianceCell, ComplianceTally]:
    """Change in state when one item goes from `old` to `new` (None = not expected)."""
    return delta_between(item_contribution(old), item_contribution(new))


# --- reading the lists ----------------------------------------------------------------------------

@dataclass(frozen=True)
class Counts:
    expected: int
    reported: int  # on time + late
    on_time: int
    late: int
    missing: int
    share_reported: float | None  # (on time + late) ÷ expected; None when nothing is expected
    share_on_time: float | None


def counts(tally: ComplianceTally | None) -> Counts:
    t = tally or ComplianceTally()

    def share(n: int) -> float | None:
        return round(n / t.expected, DECIMALS) if t.expected else None

    return Counts(t.expected, t.reported, t.on_time, t.late, t.missing, share(t.reported), share(t.on_time))


@dataclass(frozen=True)
class Row:
    cell: ComplianceCell
    counts: Counts


def rows(ledger: Mapping[ComplianceCell, ComplianceTally], window: WindowKey, kind: CellKind,
         school_units: Iterable[str] | None = None, only_missing: bool = False) -> list[Row]:
    """One list (per school unit, group, teacher, …) of a window, most missing first; `school_units`
    limits it to a principal's units (scope is the read path's; this only filters)."""
    units = None if school_units is None else set(school_units)
    found = [Row(cell, counts(tally)) for cell, tally in ledger.items()
             if cell.window == window and cell.kind is kind and (units is None or cell.school_unit_code in units)]
    if only_missing:
        found = [r for r in found if r.counts.missing > 0]
    return sorted(found, key=lambda r: (-r.counts.missing, tuple(str(p) for p in r.cell[1:])))


def organiser_view(ledger: Mapping[ComplianceCell, ComplianceTally], window: WindowKey) -> list[Row]:
    """Per school unit: counts and share reported (the organiser's view)."""
    return rows(ledger, window, CellKind.school_unit)

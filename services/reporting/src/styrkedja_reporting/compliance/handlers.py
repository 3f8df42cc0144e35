"""Compliance kept incrementally as forecasts, assessments, rosters, teaching assignments and calendars arrive.

**Per batch, only the affected items** — one expected report = (school unit, group, subject,
student) with its responsible teachers — are re-derived, set-based: one statement per window kind
for every window the batch touches (`syncing.sync_windows`) derives them from the directory and the
reports, compares them with the stored items, upserts the changed ones, deletes the gone ones and
adds their deltas to the cells (`rules.item_contribution` in SQL: old −1, new +1) — nothing per item
or per window in Python. Which items a batch affects:

* a forecast (submitted or withdrawn) → its student × subject, in its own forecast window, and
  the student × subject (and window) its previous revision named (`results.batch_changes`);
* an assessment (published or retracted) of a round with a deadline → its student × subject, in
  that round's window, before and after the revision (the fact before and after, its first-reported
  time its `received_at`: `results.batch_changes`);
* a membership (upsert or removal) → every item of its student, and of the student it named
  before the batch (`note_members_before`, registered before the directory), in every tracked
  window (a student who changed groups leaves the old group's items and enters the new one's);
* a teaching assignment (upsert or removal) → its group × subject, and the group × subject it
  counted for before (`compliance_assignment_scope`), in every tracked window;
* a calendar change that changes the stored calendar → each of the organiser's windows whose dates it
  moves re-dated and re-derived whole, a round it drops dropped, a round with reports it gives a deadline
  tracked (`_redate`); the windows it keeps are left as they are. A window tracked for the first time
  is derived whole — both as a set, all of the batch's at once (`opening`).

The directory and the results are applied first in the same transaction (registration order,
`main.py`), so the derivation reads the batch's own changes. Replay changes nothing (a derivation is
a function of the current state, and the facts fold revisions idempotently); SIGKILL
loses nothing (one transaction per batch).

**The check** (`mismatches`, in `/v1/admin/consistency`): every tracked window derived from scratch
with the pure `rules.items` in Python — an implementation independent of the SQL above — and
compared with the stored items and cells.

Which time counts for a report: a forecast fact carries the forecast service's `late` flag (same
`styrkedja_contracts.calendar` rule, decided at write time, each revision by its own time); its status
comes from its current run (`compliance_forecast_runs`, `rules.ForecastRun`: on time when a submission
above its newest withdrawal was — a correction after the deadline stays on time); an
assessment's lateness is judged here from the time its current run was first published against
the round's deadline (grace included, the organiser's time zone). Several reports of one student
× subject: on time wins. Roster = memberships active on the window's deadline.
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import func, select, text, tuple_
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncSession

from styrkedja_contracts import (
    AssessmentPublishedV1,
    AssessmentRetractedV1,
    ForecastSubmittedV1,
    ForecastWithdrawnV1,
    GroupMembershipUpsertedV1,
    OrganisationEntityRemovedV1,
    TeachingAssignmentUpsertedV1,
)
from styrkedja_contracts.calendar import DEFAULT_CALENDAR, Window, forecast_window, round_window
from styrkedja_contracts.events.calendar import CalendarChangedV1, ReportingCalendar
from styrkedja_kit.consumer import Delivered
from styrkedja_kit.sets import any_of, rows_in

from ..directory.tables import memberships, teaching_assignments
from ..figures.state import total
from ..results.handlers import batch_changes
from ..results.tables import assessment_facts, forecast_facts
from .opening import derive_opened, open_windows
from .rules import (
    Assignment,
    CellKind,
    ComplianceCell,
    ComplianceTally,
    ForecastRun,
    Item,
    ItemStatus,
    Report,
    Roster,
    WindowKey,
    WindowKind,
    fold_forecast_run,
    forecast_event_run,
    item_contribution,
    items,
    parse_round_period,
    round_period,
)
from .syncing import sync_windows
from .tables import (
    compliance_assignment_scope,
    compliance_calendars,
    compliance_cells,
    compliance_forecast_runs,
    compliance_items,
    compliance_windows,
)

EVENT_TYPES = (ForecastSubmittedV1.event_type, ForecastWithdrawnV1.event_type,
               AssessmentPublishedV1.event_type, AssessmentRetractedV1.event_type,
               GroupMembershipUpsertedV1.event_type, TeachingAssignmentUpsertedV1.event_type,
               OrganisationEntityRemovedV1.event_type, CalendarChangedV1.event_type)
# `note_members_before` runs before the directory, on the membership changes
MEMBERSHIP_TYPES = (GroupMembershipUpsertedV1.event_type, OrganisationEntityRemovedV1.event_type)
_MEMBERS_BEFORE = "styrkedja.compliance.members_before"
_PUBLISHED, _RETRACTED = AssessmentPublishedV1.event_type, AssessmentRetractedV1.event_type

Group = tuple[str, str]  # (school unit code, group id): group ids are scoped by school unit
ItemKey = tuple[str, str, str, str]  # school unit, group, subject, student


def calendar_upsert(data: Any) -> Any:
    """A calendar event's upsert: only the newest revision counts, whatever order the events came in; of two calendars
    of one revision (a producer at fault: another spelling of the organiser in the key puts them on two partitions)
    the greater by PostgreSQL's jsonb order, so the live consumer in either order and the rebuild (which runs this
    same statement, `rebuild.compliance`) keep the same one. The first to arrive was kept before."""
    stmt = pg_insert(compliance_calendars).values(organiser_id=data.organiser_id, revision=data.revision,
                                                  calendar=data.calendar.model_dump(mode="json"))
    kept = compliance_calendars.c
    return stmt.on_conflict_do_update(
        index_elements=["organiser_id"], set_={"revision": stmt.excluded.revision, "calendar": stmt.excluded.calendar},
        where=(kept.revision < stmt.excluded.revision)
        | ((kept.revision == stmt.excluded.revision) & (kept.calendar < stmt.excluded.calendar)))


#: `calendar_upsert` of a batch's calendar events in one statement: per organiser the one it keeps of them (the newest
#: revision, of one revision the greater calendar), then the same condition against the stored one; returns the
#: organisers whose calendar it changed (a replay, or an older revision arriving late, changes none)
_SAVE_CALENDARS = text(
    f"INSERT INTO {compliance_calendars.name} AS kept (organiser_id, revision, calendar) "
    "SELECT DISTINCT ON (o) o, r, CAST(c AS jsonb) FROM unnest(CAST(:organisers AS text[]), CAST(:revisions AS int[]), "
    "CAST(:calendars AS text[])) AS x(o, r, c) ORDER BY o, r DESC, CAST(c AS jsonb) DESC "
    "ON CONFLICT (organiser_id) DO UPDATE SET revision = EXCLUDED.revision, calendar = EXCLUDED.calendar "
    "WHERE kept.revision < EXCLUDED.revision "
    "OR (kept.revision = EXCLUDED.revision AND kept.calendar < EXCLUDED.calendar) RETURNING organiser_id")


async def _save_calendars(session: AsyncSession, events: Sequence[Any]) -> list[str]:
    """The batch's `calendar.changed.v1` stored (`_SAVE_CALENDARS`: one statement, not one per event); returns the
    organisers whose calendar changed."""
    if not events:
        return []
    return sorted((await session.execute(_SAVE_CALENDARS, {
        "organisers": [e.organiser_id for e in events], "revisions": [e.revision for e in events],
        "calendars": [json.dumps(e.calendar.model_dump(mode="json")) for e in events]})).scalars())


async def calendar_of(session: AsyncSession, organiser_id: str) -> ReportingCalendar:
    row = (await session.execute(select(compliance_calendars.c.calendar).where(
        compliance_calendars.c.organiser_id == organiser_id))).scalar_one_or_none()
    return DEFAULT_CALENDAR if row is None else ReportingCalendar.model_validate(row)


async def calendars_of(session: AsyncSession, organisers: Iterable[str]) -> dict[str, ReportingCalendar]:
    """`calendar_of` of each of these organisers, in one statement (the rebuild's: a statement per organiser was
    a round trip each, hundreds of organisers)."""
    wanted = set(organisers)
    c = compliance_calendars.c
    stored = {org: ReportingCalendar.model_validate(calendar) for org, calendar in (await session.execute(
        select(c.organiser_id, c.calendar).where(any_of(c.organiser_id, wanted)))).all()}
    return {org: stored.get(org, DEFAULT_CALENDAR) for org in sorted(wanted)}


def window_for(key: WindowKey, calendar: ReportingCalendar) -> Window | None:
    """The window's dates by the calendar; None for a round the calendar sets no deadline for."""
    if key.kind is WindowKind.assessment_round:
        school_year, round_ = parse_round_period(key.period)
        return round_window(school_year, round_, calendar)
    school_year, term = key.period.split(":")
    return forecast_window(school_year, term, calendar)


async def tracked_windows(session: AsyncSession, organiser_id: str) -> list[tuple[WindowKey, Window]]:
    w = compliance_windows.c
    rows = (await session.execute(select(compliance_windows).where(w.organiser_id == organiser_id)
                                  .order_by(w.kind, w.period))).all()
    return [(WindowKey(WindowKind(r.kind), r.organiser_id, r.period), Window(r.opens, r.deadline, r.timezone))
            for r in rows]


async def tracked_windows_of(session: AsyncSession, organisers: Sequence[str]
                             ) -> dict[str, dict[WindowKey, Window]]:
    """`tracked_windows` of several organisers, in one statement."""
    w = compliance_windows.c
    out: dict[str, dict[WindowKey, Window]] = {}
    for r in (await session.execute(select(compliance_windows).where(any_of(w.organiser_id, organisers)))).all():
        out.setdefault(r.organiser_id, {})[WindowKey(WindowKind(r.kind), r.organiser_id, r.period)] = Window(
            r.opens, r.deadline, r.timezone)
    return out


# --- the recomputation (pure rules over everything; the consistency check's side) -----------------

def _received_at(late: bool, window: Window) -> datetime:
    """A moment standing for the forecast service's verdict (see the module docstring)."""
    day = window.deadline + timedelta(days=1) if late else window.opens
    return datetime.combine(day, time(12), ZoneInfo(window.timezone))


def _active(start: date | None, end: date | None, day: date) -> bool:
    return (start is None or start <= day) and (end is None or end >= day)


async def _reports(session: AsyncSession, key: WindowKey, window: Window) -> list[Report]:
    if key.kind is WindowKind.assessment_round:
        school_year, round_ = parse_round_period(key.period)
        r = assessment_facts.c  # a fact's `received_at`: its run's first time (`results.rules.run_time`)
        found = (await session.execute(select(r.student_id, r.subject_code, r.received_at).where(
            r.organiser_id == key.organiser_id, r.school_year == school_year, r.round == round_,
            ~r.retracted, r.received_at.is_not(None)))).all()
        # several assessments of one student × subject: on time wins (the earliest time decides)
        earliest: dict[tuple[str, str], datetime] = {}
        for student, subject, at in found:
            earliest[(student, subject)] = min(at, earliest.get((student, subject), at))
        return [Report(s, x, at) for (s, x), at in earliest.items()]
    school_year, term = key.period.split(":")
    f, run = forecast_facts.c, compliance_forecast_runs.c
    late_of: dict[tuple[str, str], bool] = {}
    # the run's flag (a fact with no run kept, from before migration 0029's fill: its own flag)
    for student, subject, late in (await session.execute(
            select(f.student_id, f.subject_code, func.coalesce(run.late, f.late)).select_from(
                forecast_facts.outerjoin(compliance_forecast_runs, (run.forecast_id == f.forecast_id)
                                         & (run.organiser_id == f.organiser_id))).where(
            f.organiser_id == key.organiser_id, f.school_year == school_year, f.term == term, ~f.withdrawn))).all():
        late_of[(student, subject)] = late_of.get((student, subject), True) and late  # on time wins
    return [Report(s, x, _received_at(late, window)) for (s, x), late in late_of.items()]


async def derive(session: AsyncSession, organiser_id: str, windows: Sequence[tuple[WindowKey, Window]]
                 ) -> dict[WindowKey, dict[ItemKey, Item]]:
    """Every item of `windows` from the directory and the reports now, with the pure rules."""
    m, a = memberships.c, teaching_assignments.c
    member_rows = (await session.execute(select(m.school_unit_code, m.group_id, m.student_id, m.start_date,
                                                m.end_date).where(
        m.organiser_id == organiser_id, ~m.removed, m.group_id.is_not(None), m.student_id.is_not(None)))).all()
    assignment_rows = (await session.execute(select(a.school_unit_code, a.group_id, a.subject_code, a.teacher_id,
                                                    a.start_date, a.end_date).where(
        a.organiser_id == organiser_id, ~a.removed, a.group_id.is_not(None), a.subject_code.is_not(None),
        a.teacher_id.is_not(None)))).all()
    by_group: dict[Group, list[Assignment]] = defaultdict(list)
    for r in assignment_rows:
        by_group[(r.school_unit_code, r.group_id)].append(Assignment(*r))
    out: dict[WindowKey, dict[ItemKey, Item]] = {}
    for key, window in windows:
        reports = await _reports(session, key, window)
        rosters: dict[Group, set[str]] = defaultdict(set)
        for member in member_rows:
            if _active(member.start_date, member.end_date, window.deadline):
                rosters[(member.school_unit_code, member.group_id)].add(member.student_id)
        found: dict[ItemKey, Item] = {}
        # one group at a time: `items` matches assignments by group id, which is unique only per school unit
        for (code, group), members in sorted(rosters.items()):
            for item in items(key, window, [Roster(code, group, frozenset(members))], by_group.get((code, group), []),
                              reports):
                found[(item.school_unit_code, item.group_id, item.subject_code, item.student_id)] = item
        out[key] = found
    return out


# --- the incremental apply: set-based, only the affected items --------------------------------------

@dataclass
class Touched:
    """What one batch touched in one organiser (see the module docstring)."""

    pairs: dict[str, set[tuple[str, str]]] = field(default_factory=lambda: defaultdict(set))  # period → pairs
    students: set[str] = field(default_factory=set)  # every window
    group_subjects: set[tuple[str, str, str]] = field(default_factory=set)  # every window
    fresh: set[WindowKey] = field(default_factory=set)  # tracked for the first time or re-dated: derived whole
    calendar: bool = False  # the batch changed the organiser's calendar: its windows re-dated where it moves them


# the stored run and the batch's folded (`rules.fold_forecast_run`: each revision the greatest, NULL none — as
# PostgreSQL's greatest() ignores NULLs), and `ForecastRun.late` of the result; a replay writes no row version
_RUN_REVISIONS = ("revision", "withdrawn_revision", "on_time_revision")
_RUN_GREATEST = {c: f"greatest(r.{c}, EXCLUDED.{c})" for c in _RUN_REVISIONS}
_SAVE_FORECAST_RUNS = text(
    f"INSERT INTO {compliance_forecast_runs.name} AS r (forecast_id, organiser_id, {', '.join(_RUN_REVISIONS)}, late) "
    "SELECT * FROM unnest(CAST(:ids AS uuid[]), CAST(:organisers AS text[]), CAST(:revisions AS int[]), "
    "CAST(:withdrawn AS int[]), CAST(:on_time AS int[]), CAST(:late AS boolean[])) "
    "ON CONFLICT (forecast_id, organiser_id) DO UPDATE SET "
    + ", ".join(f"{c} = {g}" for c, g in _RUN_GREATEST.items())
    + f", late = {_RUN_GREATEST['withdrawn_revision']} IS DISTINCT FROM {_RUN_GREATEST['revision']} AND "
    f"coalesce({_RUN_GREATEST['on_time_revision']}, 0) <= coalesce({_RUN_GREATEST['withdrawn_revision']}, 0) "
    "WHERE (r.revision, r.withdrawn_revision, r.on_time_revision) IS DISTINCT FROM "
    f"({', '.join(_RUN_GREATEST.values())})")


async def _fold_forecast_runs(session: AsyncSession, incoming: Sequence[ForecastRun]) -> None:
    """Fold the batch's forecast events into `compliance_forecast_runs` (`rules.fold_forecast_run`): per forecast
    the batch's maxima, then the stored ones in one statement — no read: maxima fold in any order (the organisers'
    fact writers' lock is held already). The items they touch are the batch's forecast pairs (`apply_compliance`)."""
    if not incoming:
        return
    folded: dict[tuple[Any, str], ForecastRun] = {}
    for run in incoming:
        key = (run.forecast_id, run.organiser_id)
        folded[key] = fold_forecast_run(folded.get(key), run)
    runs = [folded[key] for key in sorted(folded, key=lambda k: (str(k[0]), k[1]))]  # one lock order
    await session.execute(_SAVE_FORECAST_RUNS, {
        "ids": [r.forecast_id for r in runs], "organisers": [r.organiser_id for r in runs],
        "revisions": [r.revision for r in runs], "withdrawn": [r.withdrawn_revision for r in runs],
        "on_time": [r.on_time_revision for r in runs], "late": [r.late for r in runs]})


async def note_members_before(session: AsyncSession, batch: Sequence[Delivered]) -> None:
    """Registered *before* the directory: the student each of the batch's memberships names now
    (before the batch), so that a membership whose student changes re-derives the old student's
    items too (`apply_compliance` takes them from the session, once)."""
    ids: set[tuple[str, str]] = set()
    for item in batch:
        data: Any = item.event.data
        if item.event.type == GroupMembershipUpsertedV1.event_type:
            ids.add((data.organiser_id, data.membership_id))
        elif item.event.type == OrganisationEntityRemovedV1.event_type and data.entity == "membership":
            ids.add((data.organiser_id, data.entity_id))
    found: set[tuple[str, str]] = set()
    if ids:
        m = memberships.c
        found = {(organiser, student) for organiser, student in (await session.execute(
            select(m.organiser_id, m.student_id).where(rows_in((m.organiser_id, m.membership_id), ids)))).all()
            if student is not None}
    session.info[_MEMBERS_BEFORE] = found


def _moved_from(session: AsyncSession, forecasts: bool, touched: dict[str, Touched]) -> None:
    """What the batch's revisions and memberships named before it: a forecast revised to another
    student, subject or term re-derives the old student × subject in the old window too (the results
    hand over the (old, new) facts); a membership changed to another student re-derives the old
    student's items (`note_members_before`). Assessments: `_rounds_touched`. `forecasts`:
    whether the batch has forecast events (else `batch_changes` is not this batch's)."""
    for old, _new in batch_changes(session).forecasts if forecasts else ():  # the results ran on this batch
        if old is not None:
            touched[old.organiser_id].pairs[f"{old.school_year}:{old.term}"].add((old.student_id, old.subject_code))
    for organiser, student in sorted(session.info.pop(_MEMBERS_BEFORE, set())):
        touched[organiser].students.add(student)


def _rounds_touched(session: AsyncSession, touched: dict[str, Touched]) -> None:
    """The student × subject of each round an assessment the batch changed named, before and after (the results
    ran on this batch: `batch_changes`). Its round state is the fact itself — the newest revision, its retraction,
    place and the time its run was first reported (`results.rules.run_time`); no row of compliance's own per
    assessment (it was `compliance_round_reports`, migration 0037)."""
    periods: dict[tuple[str, int], str] = {}  # a batch's thousands of reports name a few rounds
    for old, new in batch_changes(session).assessments:
        for fact in (old, new) if old is not None else (new,):
            key = (fact.school_year, fact.round)
            period = periods.get(key) or periods.setdefault(key, round_period(*key))
            touched[fact.organiser_id].pairs[period].add((fact.student_id, fact.subject_code))


async def apply_compliance(session: AsyncSession, batch: Sequence[Delivered]) -> None:
    touched: dict[str, Touched] = defaultdict(Touched)
    assessed = False  # the batch has assessment events
    removed: dict[str, list[tuple[str, str]]] = defaultdict(list)  # entity → (organiser, id)
    assignments: set[tuple[str, str]] = set()  # (organiser, assignment id)
    forecast_periods: set[tuple[str, str]] = set()
    runs: list[ForecastRun] = []
    calendar_events: list[Any] = []
    for item in batch:
        data: Any = item.event.data
        kind = item.event.type
        # the assessments first: thousands per batch, the rest a handful
        if kind in (_PUBLISHED, _RETRACTED):
            assessed = True  # which: the results' changes (`_rounds_touched`)
        elif kind == CalendarChangedV1.event_type:
            calendar_events.append(data)
        elif kind == OrganisationEntityRemovedV1.event_type:
            if data.entity in ("membership", "teaching_assignment"):
                removed[data.entity].append((data.organiser_id, data.entity_id))
        elif kind in (ForecastSubmittedV1.event_type, ForecastWithdrawnV1.event_type):
            period = f"{data.school_year}:{data.term}"
            touched[data.organiser_id].pairs[period].add((data.student_id, data.subject_code))
            withdrawn = kind == ForecastWithdrawnV1.event_type
            runs.append(forecast_event_run(data.forecast_id, data.organiser_id, data.revision, withdrawn,
                                           not withdrawn and data.late))
            forecast_periods.add((data.organiser_id, period))
        elif kind == GroupMembershipUpsertedV1.event_type:
            touched[data.organiser_id].students.add(data.student_id)
        elif kind == TeachingAssignmentUpsertedV1.event_type:
            assignments.add((data.organiser_id, data.assignment_id))
    # stored before any calendar is read; an organiser whose calendar it changed has its windows re-dated below
    for organiser in await _save_calendars(session, calendar_events):
        touched[organiser].calendar = True
    # (after the batch's own: what `touched` holds is sets and flags, the same in any order) the forecasts' revisions
    # by whether the batch has forecasts, seen in the pass above: no pass of its own over the batch
    _moved_from(session, bool(forecast_periods), touched)
    await _fold_forecast_runs(session, runs)
    if assessed:
        _rounds_touched(session, touched)
    if removed["membership"]:  # the tombstone keeps the student
        m = memberships.c
        for organiser, student in (await session.execute(select(m.organiser_id, m.student_id).where(
                rows_in((m.organiser_id, m.membership_id), removed["membership"])))).all():
            if student is not None:
                touched[organiser].students.add(student)
    assignments |= set(removed["teaching_assignment"])
    await _assignment_scopes(session, sorted(assignments), touched)
    if not touched:
        return
    # the touched organisers' windows in one statement; one already tracked is neither dated nor
    # inserted again (a small batch used to pay a calendar read and an insert per window)
    # and their calendars in the same statement (this batch's calendar changes are stored already): a batch
    # of results in rounds the calendar sets no deadline for used to read the calendar every time
    tracked, calendars = await _windows_and_calendars(session, sorted(touched))
    # windows tracked from the first report of the organiser × period (rounds: when the calendar
    # sets a deadline for the round); the new ones opened together and derived whole as a set (`opening`)
    candidates = [WindowKey(WindowKind.forecast, organiser, period) for organiser, period in sorted(forecast_periods)]
    candidates += [WindowKey(WindowKind.assessment_round, organiser, period) for organiser, t in sorted(touched.items())
                   for period in sorted(t.pairs) if ":R" in period]
    await _open(session, candidates, touched, tracked, calendars)
    # the windows a changed calendar re-dates (or drops, or gives a deadline) derived whole, as a set
    await _redate(session, sorted(o for o, t in touched.items() if t.calendar), touched, tracked, calendars)
    # every other window the batch touches, as a set (a new or re-dated one: derived whole already); a window it
    # does not touch has nothing to do
    work: list[tuple[Touched, WindowKey, Window]] = [
        (t, key, window) for organiser, t in sorted(touched.items()) for key, window in tracked.get(organiser, {}).items()
        if key not in t.fresh and (t.pairs.get(key.period) or t.group_subjects or t.students)]
    await sync_windows(session, work)


_WINDOWS_AND_CALENDARS = text(
    f"SELECT o.id, (SELECT c.calendar FROM {compliance_calendars.name} c WHERE c.organiser_id = o.id) AS calendar, "
    f"w.kind, w.period, w.opens, w.deadline, w.timezone FROM unnest(CAST(:organisers AS text[])) AS o(id) "
    f"LEFT JOIN {compliance_windows.name} w ON w.organiser_id = o.id").columns(calendar=JSONB)


Windows = tuple[dict[str, dict[WindowKey, Window]], dict[str, ReportingCalendar]]


async def _windows_and_calendars(session: AsyncSession, organisers: Sequence[str], read: Windows | None = None
                                 ) -> Windows:
    """`tracked_windows_of` and each organiser's calendar (`calendar_of`), in one statement; those of `read`
    (read already) are not read again."""
    windows: Windows = read if read is not None else ({}, {})
    missing = [o for o in organisers if o not in windows[1]]
    if missing:
        _windows_from((await session.execute(_WINDOWS_AND_CALENDARS, {"organisers": missing})).all(), windows)
    return windows


def _windows_from(rows: Iterable[Sequence[Any]], windows: Windows) -> None:
    """`_WINDOWS_AND_CALENDARS`' rows into `windows`."""
    tracked, calendars = windows
    for organiser, calendar, kind, period, opens, deadline, timezone in rows:
        if organiser not in calendars:
            calendars[organiser] = (DEFAULT_CALENDAR if calendar is None
                                    else ReportingCalendar.model_validate(calendar))
        if kind is not None:
            tracked.setdefault(organiser, {})[WindowKey(WindowKind(kind), organiser, period)] = Window(
                opens, deadline, timezone)


async def _assignment_scopes(session: AsyncSession, ids: Sequence[tuple[str, str]],
                             touched: dict[str, Touched]) -> None:
    """The group × subject of each assignment now (the directory, this batch applied) and before
    (what compliance last saw); the mirror is brought up to date."""
    if not ids:
        return
    a, s = teaching_assignments.c, compliance_assignment_scope.c
    now = (await session.execute(select(a.organiser_id, a.assignment_id, a.school_unit_code, a.group_id,
                                        a.subject_code).where(rows_in((a.organiser_id, a.assignment_id), ids)))).all()
    before = (await session.execute(select(s.organiser_id, s.school_unit_code, s.group_id, s.subject_code).where(
        rows_in((s.organiser_id, s.assignment_id), ids)))).all()
    for organiser, code, group, subject in before:
        touched[organiser].group_subjects.add((code, group, subject))
    mirror = []
    for organiser, aid, code, group, subject in now:
        if code is not None and group is not None and subject is not None:
            touched[organiser].group_subjects.add((code, group, subject))
            mirror.append({"organiser_id": organiser, "assignment_id": aid, "school_unit_code": code,
                           "group_id": group, "subject_code": subject})
    if mirror:
        stmt = pg_insert(compliance_assignment_scope)  # executemany: no parameter limit per batch
        scope = ("school_unit_code", "group_id", "subject_code")
        # an assignment re-sent with the same group × subject (most directory syncs) writes no row version
        await session.execute(stmt.on_conflict_do_update(
            index_elements=["organiser_id", "assignment_id"], set_={c: stmt.excluded[c] for c in scope},
            where=tuple_(*(compliance_assignment_scope.c[c] for c in scope)).is_distinct_from(
                tuple_(*(stmt.excluded[c] for c in scope)))),
            sorted(mirror, key=lambda r: tuple(r.values())))


async def _open(session: AsyncSession, candidates: Sequence[WindowKey], touched: dict[str, Touched],
                tracked: dict[str, dict[WindowKey, Window]], calendars: dict[str, ReportingCalendar]) -> None:
    """Start tracking the `candidates` not tracked yet (a round only when the calendar sets its deadline), all in
    one statement (`opening.open_windows`), and derive the new ones whole in one more (`opening.derive_opened`):
    a statement or two per window was 90 s for a batch opening 5,960 (issue 16). A new one is noted in its
    organiser's `Touched.fresh` and in `tracked`; it is dated by the calendar as this batch left it."""
    wanted: dict[WindowKey, Window] = {}
    for key in candidates:
        if key in tracked.get(key.organiser_id, {}) or key in wanted:
            continue
        calendar = calendars.get(key.organiser_id)
        if calendar is None:
            calendar = calendars[key.organiser_id] = await calendar_of(session, key.organiser_id)
        window = window_for(key, calendar)
        if window is not None:
            wanted[key] = window
    opened = await open_windows(session, wanted)
    for key in opened:
        touched[key.organiser_id].fresh.add(key)
        tracked.setdefault(key.organiser_id, {})[key] = wanted[key]
    await derive_opened(session, [(key, wanted[key]) for key in opened])


_ROUNDS_REPORTED = text(f"SELECT DISTINCT organiser_id, school_year, round FROM {assessment_facts.name} "
                        "WHERE organiser_id = ANY(CAST(:organisers AS text[]))")
#: windows' lists, cells and the windows themselves, cleared: a window re-dated is derived again, one dropped goes
_CLEAR_WINDOWS = [text(f"DELETE FROM {table.name} t USING unnest(CAST(:organisers AS text[]), CAST(:kinds AS text[]), "
                       "CAST(:periods AS text[])) AS w(o, k, p) "
                       "WHERE t.organiser_id = w.o AND t.kind = w.k AND t.period = w.p")
                  for table in (compliance_items, compliance_cells, compliance_windows)]


async def _redate(session: AsyncSession, organisers: Sequence[str], touched: dict[str, Touched],
                  tracked: dict[str, dict[WindowKey, Window]], calendars: dict[str, ReportingCalendar]) -> None:
    """The calendar of `organisers` changed in this batch (`tracked`: their windows as stored, this batch's new ones
    dated by the new calendar; `calendars`: as this batch left them). Only what the change alters is derived
    again: a window whose dates (or time zone) it moves — cleared, opened and derived whole with the new dates —,
    a round it no longer sets a deadline for — dropped with its lists —, a round with reports it now sets one for
    — tracked and derived (`opening`). A window whose dates stay keeps its rows (they are a function of the
    directory, the reports and the dates), and is synced as any other if the batch touches it. As a set, whatever
    the number of organisers and windows: a few statements (issue 16; an organiser's every window cleared and
    derived again on every calendar event, a replay of the same calendar too, was the whole organiser's rows
    rewritten each time)."""
    if not organisers:
        return
    wanted: dict[WindowKey, Window] = {}
    cleared: list[WindowKey] = []
    for organiser in organisers:
        calendar = calendars.get(organiser)
        if calendar is None:
            calendar = calendars[organiser] = await calendar_of(session, organiser)
        for key, stored in sorted(tracked.get(organiser, {}).items(), key=lambda kw: (kw[0].kind.value, kw[0].period)):
            window = window_for(key, calendar)
            if window != stored:
                cleared.append(key)
                if window is not None:
                    wanted[key] = window
    for organiser, school_year, round_ in (await session.execute(_ROUNDS_REPORTED,
                                                                 {"organisers": list(organisers)})).all():
        key = WindowKey(WindowKind.assessment_round, organiser, round_period(school_year, round_))
        if key not in tracked.get(organiser, {}) and (window := window_for(key, calendars[organiser])) is not None:
            wanted[key] = window
    if cleared:
        keys = sorted(cleared, key=lambda k: (k.organiser_id, k.kind.value, k.period))  # one lock order
        arrays = {"organisers": [k.organiser_id for k in keys], "kinds": [k.kind.value for k in keys],
                  "periods": [k.period for k in keys]}
        for statement in _CLEAR_WINDOWS:
            await session.execute(statement, arrays)
        for key in cleared:
            del tracked[key.organiser_id][key]
    await open_windows(session, wanted)
    await derive_opened(session, wanted.items())
    for key, window in wanted.items():
        tracked.setdefault(key.organiser_id, {})[key] = window
        touched[key.organiser_id].fresh.add(key)


# --- the consistency check ---------------------------------------------------------------------------

def _of_window(table: Any, key: WindowKey | None) -> Any:
    query = select(table)
    if key is None:
        return query
    return query.where(table.c.organiser_id == key.organiser_id, table.c.kind == key.kind.value,
                       table.c.period == key.period)


async def stored_cells(session: AsyncSession, key: WindowKey | None = None) -> dict[ComplianceCell, ComplianceTally]:
    """The materialised cells (of one window `key`, or all)."""
    out = {}
    for r in (await session.execute(_of_window(compliance_cells, key))).all():
        window = WindowKey(WindowKind(r.kind), r.organiser_id, r.period)
        cell = ComplianceCell(window, CellKind(r.cell_kind), r.school_unit_code, r.group_id or None,
                              r.subject_code or None, r.teacher_id or None)
        out[cell] = ComplianceTally(r.expected, r.on_time, r.late)
    return out


async def stored_items(session: AsyncSession, key: WindowKey | None = None) -> set[Item]:
    """The materialised items (of one window `key`, or all)."""
    return {Item(WindowKey(WindowKind(r.kind), r.organiser_id, r.period), r.school_unit_code, r.group_id,
                 r.subject_code, r.student_id, tuple(r.teachers), ItemStatus(r.status))
            for r in (await session.execute(_of_window(compliance_items, key))).all()}


async def recompute_items(session: AsyncSession) -> set[Item]:
    """Every item of every tracked window from scratch, with the pure rules (dates by the calendar now)."""
    organisers = sorted(set((await session.execute(select(compliance_windows.c.organiser_id))).scalars()))
    found: set[Item] = set()
    for organiser in organisers:
        calendar = await calendar_of(session, organiser)
        windows = [(key, w) for key, _ in await tracked_windows(session, organiser)
                   if (w := window_for(key, calendar)) is not None]
        for derived in (await derive(session, organiser, windows)).values():
            found |= set(derived.values())
    return found


async def recompute(session: AsyncSession) -> dict[ComplianceCell, ComplianceTally]:
    """Every cell from scratch, from the directory and the reports (the consistency check's side)."""
    return total(item_contribution(i) for i in sorted(await recompute_items(session), key=_item_order))


def _item_order(item: Item) -> tuple[str, ...]:
    return (item.window.kind.value, item.window.period, item.school_unit_code, item.group_id, item.subject_code,
            item.student_id)


async def mismatches(session: AsyncSession) -> int:
    """Cells and items that differ from a recomputation (`compliance_cell_mismatches` counts both), window by
    window: every cell and item belongs to one window (organiser, kind, period), so the counts add up, and in
    memory are one window's items (recomputed and stored), never every window's (bounded: a worker runs it).
    The windows: every tracked one, and any that still has a stored cell or item (those count as extra)."""
    keys = sorted({WindowKey(WindowKind(kind), organiser, period) for organiser, kind, period in (
        await session.execute(text(
            f"SELECT organiser_id, kind, period FROM {compliance_windows.name} UNION "
            f"SELECT DISTINCT organiser_id, kind, period FROM {compliance_items.name} UNION "
            f"SELECT DISTINCT organiser_id, kind, period FROM {compliance_cells.name}"))).all()},
        key=lambda k: (k.organiser_id, k.kind.value, k.period))
    found = 0
    recomputed: dict[str, dict[WindowKey, Window]] = {}  # per organiser: its tracked windows by its calendar now
    for key in keys:
        if key.organiser_id not in recomputed:
            calendar = await calendar_of(session, key.organiser_id)
            recomputed = {key.organiser_id: {  # (one organiser's at a time: the keys are in organiser order)
                tracked: w for tracked, _ in await tracked_windows(session, key.organiser_id)
                if (w := window_for(tracked, calendar)) is not None}}
        window = recomputed[key.organiser_id].get(key)
        fresh_items = set() if window is None else set((await derive(session, key.organiser_id, [(key, window)]))[key]
                                                      .values())
        fresh = total(item_contribution(i) for i in fresh_items)
        stored = await stored_cells(session, key)
        found += sum(1 for cell in set(stored) | set(fresh) if stored.get(cell) != fresh.get(cell))
        found += len(await stored_items(session, key) ^ fresh_items)
    return found

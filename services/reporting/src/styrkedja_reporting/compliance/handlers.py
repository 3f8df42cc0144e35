"""Compliance kept by deltas as forecasts, rosters, teaching assignments and calendars arrive.

Per batch: the groups the batch touched (a forecast: the groups its student is in, and its own
group; a membership or an assignment: its group; a removal: the group the removed row had) are
re-derived in every tracked window of their organiser with the pure `rules.items`, compared with
the stored items, and `rules.item_delta` of each changed item is added to the cells — in the
transaction of the batch, after the directory and the results (registration order, `main.py`).
A calendar change, or a window tracked for the first time, re-derives the organiser's windows
whole (rare). `recompute` is the same derivation over everything: what the consistency check
compares the cells with.

Which time counts for a report: reporting's forecast facts carry the forecast service's `late`
flag (decided at write time by the same `styrkedja_contracts.calendar`), not the arrival time, so
the status is taken from it: late → reported-late, else on time. Roster = memberships active on
the window's deadline (a student who changed groups mid-window is expected in the new group).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import and_, delete, select, tuple_
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncSession

from styrkedja_contracts import (
    ForecastSubmittedV1,
    ForecastWithdrawnV1,
    GroupMembershipUpsertedV1,
    OrganisationEntityRemovedV1,
    TeachingAssignmentUpsertedV1,
)
from styrkedja_contracts.calendar import DEFAULT_CALENDAR, Window, forecast_window
from styrkedja_contracts.events.calendar import CalendarChangedV1, ReportingCalendar
from styrkedja_kit.consumer import Delivered

from ..directory.tables import memberships, teaching_assignments
from ..figures.state import total
from ..results.tables import forecast_facts
from .rules import (
    Assignment,
    CellKind,
    ComplianceCell,
    ComplianceTally,
    Item,
    ItemStatus,
    Report,
    Roster,
    WindowKey,
    WindowKind,
    item_contribution,
    item_delta,
    items,
)
from .tables import compliance_calendars, compliance_cells, compliance_items, compliance_windows

EVENT_TYPES = (ForecastSubmittedV1.event_type, ForecastWithdrawnV1.event_type,
               GroupMembershipUpsertedV1.event_type, TeachingAssignmentUpsertedV1.event_type,
               OrganisationEntityRemovedV1.event_type, CalendarChangedV1.event_type)

Group = tuple[str, str]  # (school unit code, group id): group ids are scoped by school unit
ItemKey = tuple[str, str, str, str]  # school unit, group, subject, student


async def calendar_of(session: AsyncSession, organiser_id: str) -> ReportingCalendar:
    row = (await session.execute(select(compliance_calendars.c.calendar).where(
        compliance_calendars.c.organiser_id == organiser_id))).scalar_one_or_none()
    return DEFAULT_CALENDAR if row is None else ReportingCalendar.model_validate(row)


def window_for(key: WindowKey, calendar: ReportingCalendar) -> Window:
    school_year, term = key.period.split(":")
    return forecast_window(school_year, term, calendar)


async def tracked_windows(session: AsyncSession, organiser_id: str) -> list[tuple[WindowKey, Window]]:
    w = compliance_windows.c
    rows = (await session.execute(select(compliance_windows).where(w.organiser_id == organiser_id)
                                  .order_by(w.kind, w.period))).all()
    return [(WindowKey(WindowKind(r.kind), r.organiser_id, r.period), Window(r.opens, r.deadline, r.timezone))
            for r in rows]


def _received_at(late: bool, window: Window) -> datetime:
    """A moment standing for the forecast service's verdict (see the module docstring)."""
    day = window.deadline + timedelta(days=1) if late else window.opens
    return datetime.combine(day, time(12), ZoneInfo(window.timezone))


def _active(start: date | None, end: date | None, day: date) -> bool:
    return (start is None or start <= day) and (end is None or end >= day)


def _in_groups(columns: Sequence[Any], groups: set[Group] | None):
    return True if groups is None else tuple_(*columns).in_(sorted(groups))


async def derive(session: AsyncSession, organiser_id: str, windows: Sequence[tuple[WindowKey, Window]],
                 groups: set[Group] | None) -> dict[WindowKey, dict[ItemKey, Item]]:
    """Every item of `windows` in `groups` (None = all) from the directory and the facts now."""
    m, a, f = memberships.c, teaching_assignments.c, forecast_facts.c
    member_rows = (await session.execute(select(m.school_unit_code, m.group_id, m.student_id, m.start_date,
                                                m.end_date).where(
        m.organiser_id == organiser_id, ~m.removed, m.group_id.is_not(None), m.student_id.is_not(None),
        _in_groups((m.school_unit_code, m.group_id), groups)))).all()
    assignment_rows = (await session.execute(select(a.school_unit_code, a.group_id, a.subject_code, a.teacher_id,
                                                    a.start_date, a.end_date).where(
        a.organiser_id == organiser_id, ~a.removed, a.group_id.is_not(None), a.subject_code.is_not(None),
        a.teacher_id.is_not(None), _in_groups((a.school_unit_code, a.group_id), groups)))).all()
    by_group: dict[Group, list[Assignment]] = defaultdict(list)
    for r in assignment_rows:
        by_group[(r.school_unit_code, r.group_id)].append(Assignment(*r))
    students = sorted({r.student_id for r in member_rows})
    out: dict[WindowKey, dict[ItemKey, Item]] = {}
    for key, window in windows:
        school_year, term = key.period.split(":")
        late_of: dict[tuple[str, str], bool] = {}
        for student, subject, late in (await session.execute(select(f.student_id, f.subject_code, f.late).where(
                f.organiser_id == organiser_id, f.school_year == school_year, f.term == term, ~f.withdrawn,
                f.student_id.in_(students)))).all():
            late_of[(student, subject)] = late_of.get((student, subject), True) and late  # on time wins
        reports = [Report(s, x, _received_at(late, window)) for (s, x), late in late_of.items()]
        rosters: dict[Group, set[str]] = defaultdict(set)
        for member in member_rows:
            if _active(member.start_date, member.end_date, window.deadline):
                rosters[(member.school_unit_code, member.group_id)].add(member.student_id)
        found: dict[ItemKey, Item] = {}
        # one group at a time: `items` matches assignments by group id, which is unique only per school
        # unit, and looks at the group's own assignments only (not the whole unit's, per item)
        for (code, group), members in sorted(rosters.items()):
            for item in items(key, window, [Roster(code, group, frozenset(members))], by_group.get((code, group), []),
                              reports):
                found[(item.school_unit_code, item.group_id, item.subject_code, item.student_id)] = item
        out[key] = found
    return out


async def stored_items(session: AsyncSession, key: WindowKey, groups: set[Group] | None) -> dict[ItemKey, Item]:
    c = compliance_items.c
    rows = (await session.execute(select(compliance_items).where(
        c.organiser_id == key.organiser_id, c.kind == key.kind.value, c.period == key.period,
        _in_groups((c.school_unit_code, c.group_id), groups)))).all()
    return {(r.school_unit_code, r.group_id, r.subject_code, r.student_id): Item(
        key, r.school_unit_code, r.group_id, r.subject_code, r.student_id, tuple(r.teachers), ItemStatus(r.status))
        for r in rows}


def _cell_row(cell: ComplianceCell) -> dict[str, str]:
    return {"organiser_id": cell.window.organiser_id, "kind": cell.window.kind.value, "period": cell.window.period,
            "cell_kind": cell.kind.value, "school_unit_code": cell.school_unit_code,
            "group_id": cell.group_id or "", "subject_code": cell.subject_code or "",
            "teacher_id": cell.teacher_id or ""}


async def rederive(session: AsyncSession, organiser_id: str, windows: Sequence[tuple[WindowKey, Window]],
                   groups: set[Group] | None) -> int:
    """Bring the stored items and cells of `groups` in `windows` to what the facts say now; returns
    the number of items that changed."""
    derived = await derive(session, organiser_id, windows, groups)
    change: dict[ComplianceCell, ComplianceTally] = {}
    upserts, removals = [], []
    for key, _ in windows:
        before, after = await stored_items(session, key, groups), derived[key]
        for item_key in sorted(set(before) | set(after)):
            old, new = before.get(item_key), after.get(item_key)
            if old == new:
                continue
            for cell, tally in item_delta(old, new).items():
                change[cell] = change[cell] + tally if cell in change else tally
            if new is None:
                removals.append((key, item_key))
            else:
                upserts.append({"organiser_id": key.organiser_id, "kind": key.kind.value, "period": key.period,
                                "school_unit_code": new.school_unit_code, "group_id": new.group_id,
                                "subject_code": new.subject_code, "student_id": new.student_id,
                                "teachers": list(new.teachers), "status": new.status.value})
    c = compliance_items.c
    for key, (unit, group, subject, student) in removals:
        await session.execute(delete(compliance_items).where(
            c.organiser_id == key.organiser_id, c.kind == key.kind.value, c.period == key.period,
            c.school_unit_code == unit, c.group_id == group, c.subject_code == subject, c.student_id == student))
    if upserts:
        stmt = pg_insert(compliance_items).values(upserts)
        await session.execute(stmt.on_conflict_do_update(
            index_elements=[col.name for col in compliance_items.primary_key],
            set_={"teachers": stmt.excluded.teachers, "status": stmt.excluded.status}))
    await add_to_cells(session, change)
    return len(upserts) + len(removals)


async def add_to_cells(session: AsyncSession, change: dict[ComplianceCell, ComplianceTally]) -> None:
    rows = sorted(({**_cell_row(cell), "expected": t.expected, "on_time": t.on_time, "late": t.late}
                   for cell, t in change.items() if not t.is_zero()), key=lambda r: tuple(r.values()))
    if not rows:
        return
    cc = compliance_cells.c
    stmt = pg_insert(compliance_cells).values(rows)
    await session.execute(stmt.on_conflict_do_update(
        index_elements=[col.name for col in compliance_cells.primary_key],
        set_={"expected": cc.expected + stmt.excluded.expected, "on_time": cc.on_time + stmt.excluded.on_time,
              "late": cc.late + stmt.excluded.late}))
    keys = [tuple(r[col.name] for col in compliance_cells.primary_key) for r in rows]
    await session.execute(delete(compliance_cells).where(
        tuple_(*compliance_cells.primary_key.columns).in_(keys),
        and_(cc.expected == 0, cc.on_time == 0, cc.late == 0)))


async def _groups_of_students(session: AsyncSession, organiser_id: str, students: Iterable[str]) -> set[Group]:
    m = memberships.c
    rows = (await session.execute(select(m.school_unit_code, m.group_id).where(
        m.organiser_id == organiser_id, m.student_id.in_(sorted(set(students))), m.group_id.is_not(None)))).all()
    return {(r[0], r[1]) for r in rows}


async def apply_compliance(session: AsyncSession, batch: Sequence[Delivered]) -> None:
    # a directory change touches its group in every tracked window; a forecast only in its own window
    touched: dict[str, set[Group]] = defaultdict(set)
    reported: dict[tuple[str, str], set[Group]] = defaultdict(set)  # (organiser, period) → groups
    students: dict[tuple[str, str], set[str]] = defaultdict(set)
    whole: set[str] = set()  # organisers whose windows are re-derived whole
    removed: dict[str, list[str]] = defaultdict(list)
    for item in batch:
        data: Any = item.event.data
        kind = item.event.type
        if kind == CalendarChangedV1.event_type:
            stmt = pg_insert(compliance_calendars).values(organiser_id=data.organiser_id, revision=data.revision,
                                                          calendar=data.calendar.model_dump(mode="json"))
            # only the newest revision counts, whatever order the events came in
            await session.execute(stmt.on_conflict_do_update(
                index_elements=["organiser_id"], set_={"revision": stmt.excluded.revision,
                                                       "calendar": stmt.excluded.calendar},
                where=compliance_calendars.c.revision < stmt.excluded.revision))
            whole.add(data.organiser_id)
        elif kind == OrganisationEntityRemovedV1.event_type:
            if data.entity in ("membership", "teaching_assignment"):
                removed[data.entity].append(data.entity_id)
        elif kind in (ForecastSubmittedV1.event_type, ForecastWithdrawnV1.event_type):
            period = (data.organiser_id, f"{data.school_year}:{data.term}")
            reported[period].add((data.school_unit_code, data.group_id))
            students[period].add(data.student_id)
        else:
            touched[data.organiser_id].add((data.school_unit_code, data.group_id))
    for entity, table, id_column in (("membership", memberships, "membership_id"),
                                     ("teaching_assignment", teaching_assignments, "assignment_id")):
        if removed[entity]:
            rows = (await session.execute(select(table.c.organiser_id, table.c.school_unit_code, table.c.group_id)
                                          .where(table.c[id_column].in_(sorted(removed[entity]))))).all()
            for organiser, code, group in rows:
                if group is not None:
                    touched[organiser].add((code, group))
    for organiser, period_key in sorted(reported):
        if await _track(session, organiser, period_key):
            whole.add(organiser)
    for organiser in sorted(whole):
        calendar = await calendar_of(session, organiser)
        windows = [(key, window_for(key, calendar)) for key, _ in await tracked_windows(session, organiser)]
        for key, window in windows:
            await session.execute(compliance_windows.update().where(
                compliance_windows.c.organiser_id == organiser, compliance_windows.c.kind == key.kind.value,
                compliance_windows.c.period == key.period).values(
                opens=window.opens, deadline=window.deadline, timezone=window.timezone))
        await rederive(session, organiser, windows, None)
    for organiser in sorted(set(touched) - whole):
        windows = await tracked_windows(session, organiser)
        if windows:
            await rederive(session, organiser, windows, touched[organiser])
    for (organiser, period_key), reported_groups in sorted(reported.items()):
        if organiser in whole:
            continue
        groups = reported_groups | await _groups_of_students(session, organiser, students[(organiser, period_key)])
        groups -= touched.get(organiser, set())  # re-derived above, in every window
        windows = [w for w in await tracked_windows(session, organiser) if w[0].period == period_key]
        if groups and windows:
            await rederive(session, organiser, windows, groups)


async def _track(session: AsyncSession, organiser_id: str, period: str) -> bool:
    """Start tracking a forecast window; True when it was new."""
    key = WindowKey(WindowKind.forecast, organiser_id, period)
    window = window_for(key, await calendar_of(session, organiser_id))
    stmt = pg_insert(compliance_windows).values(organiser_id=organiser_id, kind=key.kind.value, period=period,
                                                opens=window.opens, deadline=window.deadline,
                                                timezone=window.timezone).on_conflict_do_nothing()
    return bool((await session.execute(stmt)).rowcount)  # type: ignore[attr-defined]


async def stored_cells(session: AsyncSession) -> dict[ComplianceCell, ComplianceTally]:
    out = {}
    for r in (await session.execute(select(compliance_cells))).all():
        window = WindowKey(WindowKind(r.kind), r.organiser_id, r.period)
        cell = ComplianceCell(window, CellKind(r.cell_kind), r.school_unit_code, r.group_id or None,
                              r.subject_code or None, r.teacher_id or None)
        out[cell] = ComplianceTally(r.expected, r.on_time, r.late)
    return out


async def recompute(session: AsyncSession) -> dict[ComplianceCell, ComplianceTally]:
    """Every cell from scratch, from the directory and the facts (the consistency check's side)."""
    organisers = sorted(set((await session.execute(select(compliance_windows.c.organiser_id))).scalars()))
    contributions = []
    for organiser in organisers:
        calendar = await calendar_of(session, organiser)
        windows = [(key, window_for(key, calendar)) for key, _ in await tracked_windows(session, organiser)]
        for found in (await derive(session, organiser, windows, None)).values():
            contributions += [item_contribution(i) for i in found.values()]
    return total(contributions)


async def mismatches(session: AsyncSession) -> int:
    stored, fresh = await stored_cells(session), await recompute(session)
    return sum(1 for cell in set(stored) | set(fresh) if stored.get(cell) != fresh.get(cell))



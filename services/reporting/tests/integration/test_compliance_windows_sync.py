"""Issue 16: a live batch touching hundreds of compliance windows tracked ALREADY (revisions, withdrawals, students
and teaching assignments moved between groups, teachers replaced), and calendars changed in a later batch — synced as sets (`compliance.syncing`, `handlers._redate`). Live rows equal the rebuild's
of the same log, a batch applied again changes nothing, and the work is a few statements per batch, not one or more
per window. `WINDOWS_SYNC_ORGANISERS` sets the size (2 or 3 windows an organiser; the apply's seconds are printed,
no timed assertion: `bench/compliance_windows.py` measures)."""

from __future__ import annotations

import os
import time
from collections import Counter
from datetime import date, timedelta
from typing import Any

import pytest
from sqlalchemy import event, text

from styrkedja_contracts import ForecastWithdrawnV1, forecast_id_for, new_event
from styrkedja_contracts.events.calendar import CalendarChangedV1, ReportingCalendar, RoundDeadline
from styrkedja_contracts.events.forecast import ForecastSubmittedV1
from styrkedja_contracts.events.organisation import GroupMembershipUpsertedV1, TeachingAssignmentUpsertedV1
from styrkedja_kit.db import Database
from styrkedja_reporting.compliance import handlers
from styrkedja_reporting.main import handler_registry
from styrkedja_reporting.rebuild.bulk import rebuild

from .test_batch_split import delivered
from .test_compliance_windows_opening import ENGLISH, MATHS, T0, TABLES, _directory, _org, _reports, _rows, _unit

pytestmark = [pytest.mark.integration, pytest.mark.postgres_only]

ORGANISERS = int(os.environ.get("WINDOWS_SYNC_ORGANISERS", "240"))


def _forecast(n: int, term: str, s: int, revision: int, *, late: bool) -> Any:
    """The forecast of student `s-{n}-{s}` in mathematics, `term`, at `revision`."""
    return new_event(ForecastSubmittedV1(
        forecast_id=forecast_id_for(_org(n), f"s-{n}-{s}", MATHS, "2026/27", term),
        revision=revision, organiser_id=_org(n), school_unit_code=_unit(n),
        group_id="7A", student_id=f"s-{n}-{s}", teacher_id=f"t-{n}", gender="female", year=7, subject_code=MATHS,
        value="ACCEPTABLE", school_year="2026/27", term=term, submitted_at=T0 + timedelta(days=61),
        window_deadline=date(2026, 10, 23), late=late), source="/t")


def _changes(n: int) -> list[Any]:
    """One organiser's changes to its open windows (every one of them touched)."""
    org, unit, later = _org(n), _unit(n), T0 + timedelta(days=1)
    out = [_forecast(n, "HT", 0, 2, late=True),  # on time, corrected late: stays on time (its run)
           _forecast(n, "HT", 1, 2, late=False)]  # late, then on time
    # a VT forecast withdrawn: its window's item re-derived. (It moved to the other term's window before; a forecast's
    # id is its term's now, `derived_from_key`, so a revision naming another term is dead-lettered, never applied.)
    withdrawn = f"s-{n}-{1 if n % 3 == 0 else 0}"
    out.append(new_event(ForecastWithdrawnV1(
        forecast_id=forecast_id_for(org, withdrawn, MATHS, "2026/27", "VT"),
        revision=2, organiser_id=org, school_unit_code=unit, group_id="7A",
        student_id=withdrawn, subject_code=MATHS, school_year="2026/27", term="VT", withdrawn_at=later),
        source="/t"))
    # a student moves to another group, where English is taught (by a new assignment, or by 7A's moved there: 7A's
    # English items and cells go)
    out.append(new_event(GroupMembershipUpsertedV1(
        membership_id="m-2", organiser_id=org, school_unit_code=unit, group_id="7B", student_id=f"s-{n}-2",
        start_date=date(2026, 8, 17), updated_at=later), source="/t"))
    moved = n % 2 == 1
    out.append(new_event(TeachingAssignmentUpsertedV1(
        assignment_id=f"a-{ENGLISH}" if moved else "a-7B", organiser_id=org, school_unit_code=unit, group_id="7B",
        teacher_id=f"t-{n}-e", subject_code=ENGLISH, start_date=None, end_date=None, updated_at=later), source="/t"))
    if n % 4 == 0:  # maths' teacher replaced before every deadline: the items' teachers change
        out.append(new_event(TeachingAssignmentUpsertedV1(
            assignment_id=f"a-{MATHS}", organiser_id=org, school_unit_code=unit, group_id="7A",
            teacher_id=f"t-{n}-new", subject_code=MATHS, start_date=None, end_date=None, updated_at=later),
            source="/t"))
    return out


def _calendar(n: int) -> list[Any]:
    """A new calendar for most organisers: even ones' round 1 a week later (its window re-dated), every fourth
    without round deadlines (its round dropped), every fifth with grace days (every window re-dated), odd ones a
    deadline for round 1, which they have no assessments of (nothing to track)."""
    if n % 7 == 6:
        return []
    rounds = () if n % 4 == 2 else (RoundDeadline(round=1, term="HT", iso_week=43 if n % 2 == 0 else 44,
                                                  deadline_weekday=4),)
    return [new_event(CalendarChangedV1(organiser_id=_org(n), revision=2, calendar=ReportingCalendar(
        round_deadlines=rounds, grace_days=2 if n % 5 == 0 else 0), changed_at=T0 + timedelta(days=2)), source="/t")]


class Statements:
    """The statements `apply_compliance` runs (counted while it runs)."""

    def __init__(self, db: Database, monkeypatch: pytest.MonkeyPatch) -> None:
        self.seen: list[str] = []
        self.inside = False
        original = handlers.apply_compliance

        async def counted(session: Any, batch: Any) -> None:
            self.inside = True
            try:
                await original(session, batch)
            finally:
                self.inside = False

        monkeypatch.setattr(handlers, "apply_compliance", counted)
        event.listen(db.engine.sync_engine, "before_cursor_execute", self.count)

    def count(self, conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        if self.inside:
            self.seen.append(statement)

    def take(self) -> list[str]:
        out, self.seen = self.seen, []
        return out


async def _apply(db: Database, handler: Any, batch: list, statements: Statements, label: str) -> list[str]:
    started = time.perf_counter()
    async with db.sessions.begin() as session:
        await handler(session, batch)
    seen = statements.take()
    print(f"\n{label}: {len(batch)} events, {time.perf_counter() - started:.2f} s, {len(seen)} compliance statements")
    return seen


async def _versions(db: Database) -> dict[tuple[str, ...], str]:
    """Each item's row version (xmin): which rows a batch wrote."""
    async with db.sessions() as session:
        return {tuple(r[:-1]): str(r[-1]) for r in (await session.execute(text(
            "SELECT organiser_id, kind, period, school_unit_code, group_id, subject_code, student_id, "
            "CAST(xmin AS text) FROM compliance_items"))).all()}


def _same_as_rebuilt(found: dict[str, Counter], again: dict[str, Counter]) -> None:
    for table in TABLES:
        if table == "compliance_calendars":  # changed_at: when it was stored
            assert {r[:3] for r in again[table]} == {r[:3] for r in found[table]}
            continue
        assert again[table] == found[table], (table, again[table] - found[table], found[table] - again[table])


@pytest.mark.parametrize("calendars", ["none", "in the batch"])
async def test_a_batch_touching_hundreds_of_open_windows_keeps_the_rebuild_s_rows_in_a_few_statements(
        fresh_database, monkeypatch, calendars):
    """The changes alone, or with calendars changed in the same batch (windows re-dated or dropped beside the
    changes synced in the windows they keep)."""
    events = delivered([e for n in range(ORGANISERS) for e in _directory(n)]
                       + [e for n in range(ORGANISERS) for e in _reports(n)]
                       + [e for n in range(ORGANISERS) for e in _changes(n)
                          + (_calendar(n) if calendars == "in the batch" else [])])
    opened = sum(len(_directory(n)) + len(_reports(n)) for n in range(ORGANISERS))
    live, rebuilt = Database(fresh_database("styrkedja_reporting")), Database(fresh_database("styrkedja_reporting"))
    try:
        statements = Statements(live, monkeypatch)  # before the registry takes the handler
        handler = handler_registry(live_alerts=False)
        async with live.sessions.begin() as session:
            await handler(session, events[:opened])
        statements.take()
        before = await _rows(live)
        changes = events[opened:]
        seen = await _apply(live, handler, changes, statements, f"changes in the open windows of {ORGANISERS} organisers")
        assert seen  # counted: the check below can fail
        found = await _rows(live)
        if calendars == "none":  # none new: every window the batch touches was open already
            assert found["compliance_windows"] == before["compliance_windows"]
            assert len(found["compliance_windows"]) == 2 * ORGANISERS + (ORGANISERS + 1) // 2
        else:
            assert found["compliance_windows"] != before["compliance_windows"]
        # the windows synced as a set (failed before: a statement per window, 600 for 240 organisers)
        assert len(seen) < 30, Counter(s.split()[0] for s in seen)
        assert found["compliance_items"] != before["compliance_items"]
        statuses = Counter(row[-1] for row in found["compliance_items"].elements())
        assert set(statuses) == {"on_time", "late", "missing"}, statuses
        groups = Counter(row[4] for row in found["compliance_items"].elements())
        assert set(groups) == {"7A", "7B"}, groups  # the moves: a student's items followed them to 7B

        # the same batch again: nothing written, nothing moves
        versions = await _versions(live)
        await _apply(live, handler, changes, statements, "the same batch again")
        assert await _rows(live) == found
        assert await _versions(live) == versions

        await rebuild(rebuilt, events, group_id="reporting-windows-sync", next_offsets={}, handles=handler.handles)
        _same_as_rebuilt(found, await _rows(rebuilt))
    finally:
        await live.dispose()
        await rebuilt.dispose()


async def test_calendars_changed_in_a_later_batch_re_derive_only_the_windows_they_move(fresh_database, monkeypatch):
    """A calendar re-dates, drops or keeps each window of its organiser: the kept windows' items are not written
    again (failed before: every window of the organiser cleared and derived again, on every calendar event), the
    others' rows are the rebuild's; the same calendars again write nothing."""
    directory = [e for n in range(ORGANISERS) for e in _directory(n)]
    reports = [e for n in range(ORGANISERS) for e in _reports(n)]
    calendars = [e for n in range(ORGANISERS) for e in _calendar(n)]
    events = delivered(directory + reports + calendars)
    live, rebuilt = Database(fresh_database("styrkedja_reporting")), Database(fresh_database("styrkedja_reporting"))
    try:
        statements = Statements(live, monkeypatch)  # before the registry takes the handler
        handler = handler_registry(live_alerts=False)
        async with live.sessions.begin() as session:
            await handler(session, events[:len(directory) + len(reports)])
        statements.take()
        before, versions = await _rows(live), await _versions(live)
        batch = events[len(directory) + len(reports):]
        seen = await _apply(live, handler, batch, statements, f"calendars of {len(calendars)} organisers")
        assert seen and len(seen) < 30, Counter(s.split()[0] for s in seen)  # was an upsert per calendar
        found, after = await _rows(live), await _versions(live)
        rounds = [Counter(row[1] for row in rows["compliance_windows"].elements())["assessment_round"]
                  for rows in (before, found)]
        assert 0 < rounds[1] < rounds[0], rounds  # some rounds dropped with their lists, the others kept
        # a window whose dates the calendar keeps keeps its rows as they were written; a re-dated one is new
        graced = {_org(n) for n in range(ORGANISERS) if n % 5 == 0 and n % 7 != 6}
        kept = {key for key in versions if key[0] not in graced and key[1] == "forecast"}
        assert kept and all(after[key] == versions[key] for key in kept)
        moved = {key for key in versions if key[0] in graced}
        assert moved and all(after.get(key) != versions[key] for key in moved)

        await _apply(live, handler, batch, statements, "the same calendars again")
        assert await _rows(live) == found
        assert await _versions(live) == after

        await rebuild(rebuilt, events, group_id="reporting-windows-calendars", next_offsets={},
                      handles=handler.handles)
        _same_as_rebuilt(found, await _rows(rebuilt))
    finally:
        await live.dispose()
        await rebuilt.dispose()

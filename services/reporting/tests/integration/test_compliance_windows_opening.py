"""Issue 16: a live batch that opens thousands of compliance windows at once (forecasts of many organisers, both
terms, and assessments of rounds their calendars give a deadline). The live apply and the rebuild of the same log
keep the same windows, items and cells; the batch applied again changes nothing. `WINDOWS_OPENING_ORGANISERS`
sets the size (the time of the batch's apply is printed: no timed assertion here, bench/ measures)."""

from __future__ import annotations

import os
import time
from collections import Counter
from datetime import UTC, date, datetime, timedelta
from uuid import UUID, uuid5

import pytest
from sqlalchemy import event, text

from styrkedja_contracts import AssessmentPublishedV1, forecast_id_for, new_event
from styrkedja_contracts.events.calendar import CalendarChangedV1, ReportingCalendar, RoundDeadline
from styrkedja_contracts.events.forecast import ForecastSubmittedV1
from styrkedja_contracts.events.organisation import GroupMembershipUpsertedV1, TeachingAssignmentUpsertedV1
from styrkedja_kit.db import Database
from styrkedja_reporting.main import handler_registry
from styrkedja_reporting.rebuild.bulk import rebuild

from .test_batch_split import delivered

pytestmark = [pytest.mark.integration, pytest.mark.postgres_only]

NS = UUID("9a0c51b5-27c0-4d6e-8f27-0f0f27272727")
T0 = datetime(2026, 8, 20, 8, tzinfo=UTC)
ORGANISERS = int(os.environ.get("WINDOWS_OPENING_ORGANISERS", "1000"))
MATHS, ENGLISH = "GRGRMAT01", "GRGRENG01"
TABLES = ("compliance_windows", "compliance_items", "compliance_cells", "compliance_forecast_runs",
          "compliance_assignment_scope", "compliance_calendars")


def _org(n: int) -> str:
    return f"{5000 + n}"


def _unit(n: int) -> str:
    return f"{20_000_000 + n:08d}"


def _directory(n: int) -> list:
    org, unit = _org(n), _unit(n)
    members = [new_event(GroupMembershipUpsertedV1(
        membership_id=f"m-{s}", organiser_id=org, school_unit_code=unit, group_id="7A", student_id=f"s-{n}-{s}",
        start_date=date(2026, 8, 17), updated_at=T0), source="/t") for s in range(3)]
    teachers = [new_event(TeachingAssignmentUpsertedV1(
        assignment_id=f"a-{subject}", organiser_id=org, school_unit_code=unit, group_id="7A", teacher_id=teacher,
        subject_code=subject, start_date=None, end_date=None, updated_at=T0), source="/t")
        for subject, teacher in ((MATHS, f"t-{n}"), (ENGLISH, f"t-{n}-e"))]
    calendar = [new_event(CalendarChangedV1(
        organiser_id=org, revision=1, calendar=ReportingCalendar(round_deadlines=(
            RoundDeadline(round=1, term="HT", iso_week=42, deadline_weekday=4),)), changed_at=T0), source="/t")] if n % 2 == 0 else []
    return members + teachers + calendar


def _reports(n: int) -> list:
    """Forecasts of both terms (one late, English missing) and, for even organisers, round 1's assessments (the
    calendar gives it a deadline) — 2 or 3 new windows an organiser."""
    org, unit = _org(n), _unit(n)
    out = [new_event(ForecastSubmittedV1(
        forecast_id=forecast_id_for(org, f"s-{n}-{s}", MATHS, "2026/27", term),
        revision=1, organiser_id=org, school_unit_code=unit,
        group_id="7A", student_id=f"s-{n}-{s}", teacher_id=f"t-{n}", gender="female", year=7, subject_code=MATHS,
        value="ACCEPTABLE", school_year="2026/27", term=term, submitted_at=T0 + timedelta(days=60),
        window_deadline=date(2026, 10, 23), late=s == 1), source="/t")
        for term in ("HT", "VT") for s in range(2)]
    if n % 2 == 0:
        out += [new_event(AssessmentPublishedV1(
            assessment_id=uuid5(NS, f"a-{n}-{s}"), revision=1, organiser_id=org, school_unit_code=unit,
            group_id="7A", student_id=f"s-{n}-{s}", teacher_id=f"t-{n}", gender="male", year=7,
            subject_code=ENGLISH, kind="assessment", scale="AF", value="C", school_year="2026/27", term="HT",
            round=1, assessed_on=date(2026, 10, 13), published_at=datetime(2026, 10, 13 + 7 * s, 9, tzinfo=UTC)), source="/t") for s in range(2)]
    return out


async def _rows(db: Database) -> dict[str, Counter]:
    async with db.sessions() as session:
        return {table: Counter(tuple(str(v) for v in row) for row in (await session.execute(text(
            f"SELECT * FROM {table}"))).all()) for table in TABLES}


@pytest.mark.parametrize("calendars", ["before", "in the batch"])
async def test_a_batch_opening_thousands_of_windows_keeps_the_rebuild_s_rows_and_a_replay_changes_nothing(
        fresh_database, calendars):
    """The calendars before the batch (its windows new: `opening`), or in it (the windows of its organisers
    re-dated where the calendar moves them: `handlers._redate`)."""
    directory = [e for n in range(ORGANISERS) for e in _directory(n)]
    reports = [e for n in range(ORGANISERS) for e in _reports(n)]
    if calendars == "in the batch":
        reports = [e for e in directory if e.type == CalendarChangedV1.event_type] + reports
        directory = [e for e in directory if e.type != CalendarChangedV1.event_type]
    live, rebuilt = Database(fresh_database("styrkedja_reporting")), Database(fresh_database("styrkedja_reporting"))
    try:
        handler = handler_registry(live_alerts=False)
        batch = delivered(directory + reports)
        async with live.sessions.begin() as session:
            await handler(session, batch[:len(directory)])
        statements: list[str] = []

        def count(conn, cursor, statement, *args) -> None:
            statements.append(statement)

        event.listen(live.engine.sync_engine, "before_cursor_execute", count)
        started = time.perf_counter()
        async with live.sessions.begin() as session:
            await handler(session, batch[len(directory):])
        event.remove(live.engine.sync_engine, "before_cursor_execute", count)
        print(f"\nlive apply of {len(reports)} reports opening windows of {ORGANISERS} organisers: "
              f"{time.perf_counter() - started:.2f} s, {len(statements)} statements")
        found = await _rows(live)
        windows = Counter(row[1] for row in found["compliance_windows"].elements())
        assert windows == {"forecast": 2 * ORGANISERS, "assessment_round": (ORGANISERS + 1) // 2}
        # the windows opened as a set: a few statements for the batch, not one or more per window (failed before:
        # an insert, a whole-window statement and an ANALYZE each: 2,515 statements for 500 windows; with the
        # calendars in the batch, an organiser's windows derived whole one by one: 2,022 for 200 organisers)
        # (each calendar event is its own upsert still: one an organiser, not one a window)
        per_window = [s for s in statements if not s.startswith("INSERT INTO compliance_calendars")]
        assert len(per_window) < 60, Counter(s.split()[0] for s in per_window)
        statuses = Counter(row[-1] for row in found["compliance_items"].elements())
        assert set(statuses) == {"on_time", "late", "missing"}, statuses

        started = time.perf_counter()
        async with live.sessions.begin() as session:  # the same batch again: nothing moves
            await handler(session, batch[len(directory):])
        print(f"the same batch again: {time.perf_counter() - started:.2f} s")
        assert await _rows(live) == found

        await rebuild(rebuilt, batch, group_id="reporting-windows-opening", next_offsets={},
                      handles=handler.handles)
        again = await _rows(rebuilt)
        for table in TABLES:
            if table == "compliance_calendars":  # changed_at: when it was stored
                assert {r[:3] for r in again[table]} == {r[:3] for r in found[table]}
                continue
            assert again[table] == found[table], (table, again[table] - found[table], found[table] - again[table])
    finally:
        await live.dispose()
        await rebuilt.dispose()

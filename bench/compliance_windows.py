"""Compliance's live apply of batches that touch many ALREADY-OPEN windows, and of calendar changes of many organisers
(issue 16, windows28): reporting's handler registry applied in-process to its own embedded PostgreSQL, no broker.

Per organiser one school unit, group 7A of `--students` students (3 by default), two subjects; even organisers'
calendars give round 1 a deadline: forecasts of both terms and round 1's assessments (of every student but the last)
open 2 or 3 windows an organiser (`--windows N`: about N windows, N ÷ 2.5 organisers). Then, each as one consumer batch, timed, with its statements counted:

* `open`: the reports opening the windows (session 27's set opening);
* `replay`: the same batch again (every window touched, nothing changes);
* `revise`: every forecast revised (its late flag turned), the last student's assessment in round 1, the last student
  moved to group 7B and English's assignment there — every window touched, its items changed;
* `calendar`: a new calendar revision for every organiser (even: round 1's deadline a week later, odd: the same
  dates), and `calendar-replay`: the same batch again.

`compliance.*` is `apply_compliance` alone (its seconds and statements); `batch.*` the whole registry. After each
batch a digest of `compliance_items` and `compliance_cells`: before and after a change the same rows.

    python bench/compliance_windows.py --windows 500 --windows 6000 [--students 3] [--out results.json --label after]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import tempfile
import time
from collections import Counter
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any
from uuid import UUID, uuid5

from sqlalchemy import event, text

from styrkedja_contracts import AssessmentPublishedV1, forecast_id_for, new_event, topic_for_event_type
from styrkedja_contracts.events.calendar import CalendarChangedV1, ReportingCalendar, RoundDeadline
from styrkedja_contracts.events.forecast import ForecastSubmittedV1
from styrkedja_contracts.events.organisation import GroupMembershipUpsertedV1, TeachingAssignmentUpsertedV1
from styrkedja_devstack.postgres import EmbeddedPostgres
from styrkedja_devstack.services import database_url
from styrkedja_kit.consumer import Delivered
from styrkedja_kit.db import Database
from styrkedja_kit.migrations import upgrade
from styrkedja_reporting.compliance import handlers as compliance

NS = UUID("9a0c51b5-28c0-4d6e-8f28-0f0f28282828")
T0 = datetime(2026, 8, 20, 8, tzinfo=UTC)
MATHS, ENGLISH = "GRGRMAT01", "GRGRENG01"


def _org(n: int) -> str:
    return f"{5000 + n}"


def _unit(n: int) -> str:
    return f"{20_000_000 + n:08d}"


def _calendar(n: int, revision: int, week: int) -> Any:
    return new_event(CalendarChangedV1(organiser_id=_org(n), revision=revision, calendar=ReportingCalendar(
        round_deadlines=(RoundDeadline(round=1, term="HT", iso_week=week, deadline_weekday=4),)), changed_at=T0),
        source="/b")


STUDENTS = 3


def _directory(n: int) -> list[Any]:
    org, unit = _org(n), _unit(n)
    members = [new_event(GroupMembershipUpsertedV1(
        membership_id=f"m-{s}", organiser_id=org, school_unit_code=unit, group_id="7A", student_id=f"s-{n}-{s}",
        start_date=date(2026, 8, 17), updated_at=T0), source="/b") for s in range(STUDENTS)]
    teachers = [new_event(TeachingAssignmentUpsertedV1(
        assignment_id=f"a-{subject}", organiser_id=org, school_unit_code=unit, group_id="7A", teacher_id=teacher,
        subject_code=subject, start_date=None, end_date=None, updated_at=T0), source="/b")
        for subject, teacher in ((MATHS, f"t-{n}"), (ENGLISH, f"t-{n}-e"))]
    return members + teachers + ([_calendar(n, 1, 42)] if n % 2 == 0 else [])


def _forecast(n: int, term: str, s: int, revision: int, late: bool) -> Any:
    return new_event(ForecastSubmittedV1(
        forecast_id=forecast_id_for(_org(n), f"s-{n}-{s}", MATHS, "2026/27", term),
        revision=revision, organiser_id=_org(n), school_unit_code=_unit(n),
        group_id="7A", student_id=f"s-{n}-{s}", teacher_id=f"t-{n}", gender="female", year=7, subject_code=MATHS,
        value="ACCEPTABLE", school_year="2026/27", term=term, submitted_at=T0 + timedelta(days=60 + revision),
        window_deadline=date(2026, 10, 23), late=late), source="/b")


def _assessment(n: int, s: int, group: str = "7A") -> Any:
    return new_event(AssessmentPublishedV1(
        assessment_id=uuid5(NS, f"a-{n}-{s}"), revision=1, organiser_id=_org(n), school_unit_code=_unit(n),
        group_id=group, student_id=f"s-{n}-{s}", teacher_id=f"t-{n}", gender="male", year=7,
        subject_code=ENGLISH, kind="assessment", scale="AF", value="C", school_year="2026/27", term="HT",
        round=1, assessed_on=date(2026, 10, 13), published_at=datetime(2026, 10, 13 + 7 * min(s, 2), 9, tzinfo=UTC)),
        source="/b")


def _reports(n: int) -> list[Any]:
    out = [_forecast(n, term, s, 1, s % 2 == 1) for term in ("HT", "VT") for s in range(STUDENTS - 1)]
    return out + ([_assessment(n, s) for s in range(STUDENTS - 1)] if n % 2 == 0 else [])


def _revisions(n: int) -> list[Any]:
    org, unit = _org(n), _unit(n)
    last = STUDENTS - 1
    out = [_forecast(n, term, s, 2, s % 2 != 1) for term in ("HT", "VT") for s in range(last)]
    out.append(new_event(GroupMembershipUpsertedV1(  # the last student moves to 7B, where English is taught
        membership_id=f"m-{last}", organiser_id=org, school_unit_code=unit, group_id="7B", student_id=f"s-{n}-{last}",
        start_date=date(2026, 8, 17), updated_at=T0 + timedelta(days=1)), source="/b"))
    out.append(new_event(TeachingAssignmentUpsertedV1(
        assignment_id="a-7B", organiser_id=org, school_unit_code=unit, group_id="7B", teacher_id=f"t-{n}-e",
        subject_code=ENGLISH, start_date=None, end_date=None, updated_at=T0 + timedelta(days=1)), source="/b"))
    return out + ([_assessment(n, last, "7B")] if n % 2 == 0 else [])


def delivered(events: list[Any]) -> list[Delivered]:
    offsets: Counter[str] = Counter()
    out = []
    for e in events:
        topic = topic_for_event_type(e.type).name
        out.append(Delivered(e, topic, 0, offsets[topic]))
        offsets[topic] += 1
    return out


async def _digest(db: Database) -> dict[str, Any]:
    out: dict[str, Any] = {}
    async with db.sessions() as session:
        for table in ("compliance_windows", "compliance_items", "compliance_cells"):
            count, digest = (await session.execute(text(
                f"SELECT count(*), md5(string_agg(CAST(t AS text), '|' ORDER BY CAST(t AS text))) FROM {table} t"))
            ).one()
            out[table] = {"rows": count, "md5": digest}
    return out


async def measure(url: str, windows: int) -> dict[str, Any]:
    from styrkedja_reporting.main import handler_registry  # after the timing wrapper is in place

    organisers = max(1, round(windows / 2.5))
    db = Database(url)
    spent: dict[str, float] = {}
    statements: list[str] = []
    inside = [False]
    original = compliance.apply_compliance

    async def timed(session: Any, batch: Any) -> None:
        started = time.perf_counter()
        inside[0] = True
        try:
            await original(session, batch)
        finally:
            inside[0] = False
            spent["s"] = spent.get("s", 0.0) + time.perf_counter() - started

    def count(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        statements.append(("C " if inside[0] else "- ") + statement)

    compliance.apply_compliance = timed
    try:
        handler = handler_registry(live_alerts=False)
    finally:
        compliance.apply_compliance = original
    event.listen(db.engine.sync_engine, "before_cursor_execute", count)
    out: dict[str, Any] = {"windows_asked": windows, "organisers": organisers, "students": STUDENTS}
    try:
        async with db.sessions.begin() as session:
            await handler(session, delivered([e for n in range(organisers) for e in _directory(n)]))
        reports = delivered([e for n in range(organisers) for e in _reports(n)])
        revisions = delivered([e for n in range(organisers) for e in _revisions(n)])
        calendars = delivered([_calendar(n, 2, 43 if n % 2 == 0 else 42) for n in range(organisers)])
        for label, batch in (("open", reports), ("replay", reports), ("revise", revisions),
                             ("calendar", calendars), ("calendar-replay", calendars)):
            spent.clear()
            statements.clear()
            load = os.getloadavg()[0]
            started = time.perf_counter()
            async with db.sessions.begin() as session:
                await handler(session, batch)
            total = time.perf_counter() - started
            ours = [s[2:] for s in statements if s.startswith("C ")]
            out[label] = {"events": len(batch), "batch.s": round(total, 3), "batch.statements": len(statements),
                          "compliance.s": round(spent.get("s", 0.0), 3), "compliance.statements": len(ours),
                          "compliance.by_verb": dict(Counter(s.split()[0] for s in ours)),
                          "load_before": round(load, 2), "load_after": round(os.getloadavg()[0], 2),
                          "digest": await _digest(db)}
            print(json.dumps({"windows": windows, "students": STUDENTS, "batch": label, **{k: v for k, v in out[label].items()
                                                                     if k != "digest"}}), flush=True)
        async with db.sessions() as session:
            out["windows"] = (await session.execute(text("SELECT count(*) FROM compliance_windows"))).scalar_one()
    finally:
        event.remove(db.engine.sync_engine, "before_cursor_execute", count)
        await db.dispose()
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--windows", type=int, action="append", required=True)
    parser.add_argument("--label", default="run")
    parser.add_argument("--students", type=int, default=3, help="students an organiser (at least 3)")
    parser.add_argument("--out", type=Path, default=None, help="append {label, runs} to this JSON list")
    args = parser.parse_args()
    global STUDENTS
    STUDENTS = max(3, args.students)
    runs = []
    with tempfile.TemporaryDirectory(prefix="styrkedja-windows-") as folder:
        server = EmbeddedPostgres(Path(folder) / "pg", durable=False).start()
        try:
            for n, windows in enumerate(args.windows):
                name = f"bench_windows_{n}"
                server.create_database(name)
                url = database_url(server.server_url(), name)
                upgrade("styrkedja_reporting", url)
                runs.append(asyncio.run(measure(url, windows)))
        finally:
            server.stop()
    if args.out:
        kept = json.loads(args.out.read_text()) if args.out.exists() else []
        kept.append({"label": args.label, "date": datetime.now(UTC).isoformat(timespec="seconds"),
                     "cores": os.cpu_count(), "runs": runs})
        args.out.write_text(json.dumps(kept, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())

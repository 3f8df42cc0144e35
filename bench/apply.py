"""Reporting apply benchmark: how many events per second the consumer's transaction applies
(claim the event ids + the handler + the offsets, as `ConsumerLoop._apply`), in-process against
an embedded PostgreSQL, for the reporting code of a git ref ("before") and of this checkout
("after") in the same run on the same machine, so the two figures compare.

The events are decoded up front (decoding is the same for both and not part of applying):
new assessments and forecasts, later revisions and retractions/withdrawals, in batches of the
consumer's size (1,000). "after" also has the directory applied first (not timed), so the
area level is live.

    .venv/bin/python bench/apply.py [--events 30000] [--before-ref e1215bb] [--rounds 2]

`--rosters` adds rosters and teaching assignments to the directory (every student of an organiser in
one of its 80 groups, 4 subjects × one teacher per group) and a calendar with deadlines for rounds 1
and 2, so that compliance has expected reports to keep (forecast window and assessment rounds).
"""

from __future__ import annotations

import argparse
import asyncio
import importlib
import json
import platform
import random
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

from styrkedja_contracts import (  # noqa: E402
    AssessmentPublishedV1,
    AssessmentRetractedV1,
    ForecastSubmittedV1,
    ForecastWithdrawnV1,
    GroupMembershipUpsertedV1,
    OrganisationUnitUpsertedV1,
    TeachingAssignmentUpsertedV1,
    new_event,
)
from styrkedja_contracts.events.calendar import CalendarChangedV1, ReportingCalendar, RoundDeadline  # noqa: E402
from styrkedja_devstack.postgres import EmbeddedPostgres, ensure_database  # noqa: E402
from styrkedja_kit.consumer import ConsumerLoop, Delivered  # noqa: E402
from styrkedja_kit.db import Database  # noqa: E402
from styrkedja_kit.settings import ServiceSettings  # noqa: E402

T0 = datetime(2026, 9, 1, 8, tzinfo=UTC)
TOPICS = {"assessment": "styrkedja.assessments", "forecast": "styrkedja.forecasts",
          "organisation": "styrkedja.organisation", "calendar": "styrkedja.forecasts"}


def school_data(seed: int, n: int) -> tuple[list, list]:
    """(directory events, result events): 2 organisers × 10 schools × 8 groups; `n` result events."""
    rng = random.Random(seed)
    directory, places = [], []
    for organiser in ("2999", "3001"):
        directory.append(new_event(OrganisationUnitUpsertedV1(
            unit_type="organiser", unit_id=organiser, organiser_id=organiser, name="H", updated_at=T0), source="/b"))
        for area in ("north", "south"):
            directory.append(new_event(OrganisationUnitUpsertedV1(
                unit_type="area", unit_id=f"{organiser}-{area}", organiser_id=organiser, parent_id=organiser,
                name=area, updated_at=T0), source="/b"))
        for s in range(10):
            code = f"{organiser}{s:04d}"
            directory.append(new_event(OrganisationUnitUpsertedV1(
                unit_type="school_unit", unit_id=f"su-{code}", organiser_id=organiser,
                parent_id=f"{organiser}-{('north', 'south')[s % 2]}", name=code, school_unit_code=code,
                updated_at=T0), source="/b"))
            places += [(organiser, code, f"{year}{letter}") for year in (6, 7, 8, 9) for letter in "AB"]
    events, live_a, live_f = [], [], []
    subjects = ("GRGRMAT01", "GRGRSVE01", "GRGRENG01", "GRGRBIO01")
    while len(events) < n:
        roll = rng.random()
        if roll < 0.6 or not live_a:
            organiser, code, group = rng.choice(places)
            aid = uuid.UUID(int=rng.getrandbits(128))
            body = dict(organiser_id=organiser, school_unit_code=code, group_id=group,
                        student_id=f"s-{rng.randrange(6000)}", teacher_id="t-1",
                        gender=rng.choice(["female", "male", "unknown"]), year=int(group[0]),
                        subject_code=rng.choice(subjects), kind="assessment", scale="AF",
                        school_year="2026/27", term="HT", round=rng.randint(1, 2), assessed_on=date(2026, 10, 1))
            value = rng.choice("ABCDEF")
            events.append(new_event(AssessmentPublishedV1(
                assessment_id=aid, revision=1, value=value, unmet_criteria=("K1",) if value == "F" else (),
                published_at=T0, **body), source="/b"))
            live_a.append([aid, 1, body])
        elif roll < 0.75:
            item = rng.choice(live_a)
            item[1] += 1
            value = rng.choice("ABCDE")
            events.append(new_event(AssessmentPublishedV1(
                assessment_id=item[0], revision=item[1], value=value, published_at=T0 + timedelta(minutes=item[1]),
                **item[2]), source="/b"))
        elif roll < 0.8:
            item = live_a.pop(rng.randrange(len(live_a)))
            b = item[2]
            events.append(new_event(AssessmentRetractedV1(
                assessment_id=item[0], revision=item[1] + 1, organiser_id=b["organiser_id"],
                school_unit_code=b["school_unit_code"], group_id=b["group_id"], student_id=b["student_id"],
                subject_code=b["subject_code"], school_year="2026/27", term="HT", round=b["round"],
                retracted_at=T0 + timedelta(hours=1)), source="/b"))
        elif roll < 0.97 or not live_f:
            organiser, code, group = rng.choice(places)
            fid = uuid.UUID(int=rng.getrandbits(128))
            body = dict(organiser_id=organiser, school_unit_code=code, group_id=group,
                        student_id=f"s-{rng.randrange(6000)}", teacher_id="t-1",
                        gender=rng.choice(["female", "male"]), year=int(group[0]),
                        subject_code=rng.choice(subjects), school_year="2026/27", term="VT")
            events.append(new_event(ForecastSubmittedV1(
                forecast_id=fid, revision=1, value=rng.choice(["NOT_REACHED", "ACCEPTABLE", "MORE_THAN_ACCEPTABLE"]),
                submitted_at=T0, window_deadline=date(2027, 4, 2), late=False, **body), source="/b"))
            live_f.append([fid, 1, body])
        else:
            item = live_f.pop(rng.randrange(len(live_f)))
            b = item[2]
            events.append(new_event(ForecastWithdrawnV1(
                forecast_id=item[0], revision=2, organiser_id=b["organiser_id"],
                school_unit_code=b["school_unit_code"], group_id=b["group_id"], student_id=b["student_id"],
                subject_code=b["subject_code"], school_year="2026/27", term="VT",
                withdrawn_at=T0 + timedelta(hours=1)), source="/b"))
    return directory, events


def rosters(directory: list, students: int = 6000, round_deadlines: bool = True) -> list:
    """Memberships, teaching assignments and a round calendar for `school_data`'s schools (`--rosters`)."""
    out = []
    calendar = ReportingCalendar(round_deadlines=(RoundDeadline(round=1, term="HT", iso_week=40),
                                                  RoundDeadline(round=2, term="HT", iso_week=45))
                                 if round_deadlines else ())
    codes: dict[str, list[str]] = {}
    for e in directory:
        if e.data.unit_type == "school_unit":
            codes.setdefault(e.data.organiser_id, []).append(e.data.school_unit_code)
    for organiser, units in codes.items():
        out.append(new_event(CalendarChangedV1(organiser_id=organiser, revision=1, calendar=calendar, changed_at=T0),
                             source="/b"))
        places = [(code, f"{year}{letter}") for code in units for year in (6, 7, 8, 9) for letter in "AB"]
        for code, group in places:
            for subject in ("GRGRMAT01", "GRGRSVE01", "GRGRENG01", "GRGRBIO01"):
                out.append(new_event(TeachingAssignmentUpsertedV1(
                    assignment_id=f"a-{code}-{group}-{subject}", organiser_id=organiser, school_unit_code=code,
                    group_id=group, teacher_id=f"t-{code}-{group}-{subject[-5:]}", subject_code=subject,
                    updated_at=T0), source="/b"))
        for n in range(students):
            code, group = places[n % len(places)]
            out.append(new_event(GroupMembershipUpsertedV1(
                membership_id=f"m-{organiser}-{n}", organiser_id=organiser, school_unit_code=code, group_id=group,
                student_id=f"s-{n}", start_date=date(2026, 8, 17), updated_at=T0), source="/b"))
    return out


def delivered(events: list, start: int = 0) -> list[Delivered]:
    return [Delivered(e, TOPICS[e.type.split(".")[2]], 0, start + n) for n, e in enumerate(events)]


async def measure(label: str, package: str, server_url: str, directory: list, events: list, batch: int) -> dict:
    module = importlib.import_module(f"{package}.persistence")
    metadata = module.metadata
    try:  # since the reshape by capability: a handler registry in main
        handler = importlib.import_module(f"{package}.main").handler_registry()
        handles = handler.handles
    except (ImportError, AttributeError):
        handler = importlib.import_module(f"{package}.service").apply_batch
        handles = None
    name = f"bench_apply_{label}_{uuid.uuid4().hex[:6]}"
    ensure_database(server_url, name)
    url = f"postgresql+asyncpg://{server_url.removeprefix('postgresql://')}/{name}"
    db = Database(url)
    async with db.engine.begin() as conn:
        await conn.run_sync(metadata.create_all)
    loop = ConsumerLoop(ServiceSettings(database_url=url), db, group_id="bench", topics=[], handler=handler,
                        applied_table=metadata.tables["consumer_applied_events"],
                        offsets_table=metadata.tables["consumer_offsets"], handles=handles)
    from aiokafka import TopicPartition
    if directory and handles is not None:
        for start in range(0, len(directory), batch):
            await loop._apply(delivered(directory[start:start + batch], 10_000_000 + start), {})
    items = delivered(events)
    started = time.perf_counter()
    for start in range(0, len(items), batch):
        chunk = items[start:start + batch]
        await loop._apply(chunk, {TopicPartition(t, 0): chunk[-1].offset + 1 for t in {i.topic for i in chunk}})
    seconds = time.perf_counter() - started
    async with db.sessions() as session:
        from sqlalchemy import text
        cells = (await session.execute(text("SELECT count(*) FROM assessment_aggregates"))).scalar_one()
        expected = (await session.execute(text("SELECT count(*) FROM compliance_items"))).scalar_one()
    await db.dispose()
    return {"events": len(items), "seconds": round(seconds, 2), "events_per_s": round(len(items) / seconds),
            "assessment_cells": cells, "compliance_items": expected}


def old_package(ref: str, into: Path) -> str:
    """The reporting package of `ref`, importable as `reporting_before` (copied, renamed)."""
    archive = subprocess.run(["git", "-C", str(ROOT), "archive", ref, "services/reporting/src/styrkedja_reporting"],
                             check=True, capture_output=True).stdout
    subprocess.run(["tar", "-x", "-C", str(into)], input=archive, check=True)
    target = into / "reporting_before"
    shutil.move(str(into / "services/reporting/src/styrkedja_reporting"), target)
    sys.path.insert(0, str(into))
    return "reporting_before"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=30_000)
    parser.add_argument("--batch", type=int, default=1_000)
    parser.add_argument("--before-ref", default="e1215bb")
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results" / "apply.json")
    parser.add_argument("--rosters", action="store_true", help="rosters, assignments, round deadlines (compliance)")
    parser.add_argument("--roster-students", type=int, default=6000, help="rostered students per organiser")
    parser.add_argument("--no-round-deadlines", action="store_true", help="compliance of the forecast window only")
    parser.add_argument("--only", choices=("before", "after"), default=None, help="measure one side only")
    parser.add_argument("--note", default=None, help="what before and after are (written to the results)")
    args = parser.parse_args()
    state = Path(tempfile.mkdtemp(prefix="styrkedja-bench-apply-"))
    state.chmod(0o755)
    pg = EmbeddedPostgres(state / "pgdata").start()
    try:
        before = old_package(args.before_ref, state)
        directory, events = school_data(7, args.events)
        if args.rosters:
            directory += rosters(directory, args.roster_students, not args.no_round_deadlines)
        results: dict = {"when": datetime.now(UTC).isoformat(timespec="seconds"),
                         "machine": {"python": platform.python_version(), "cpus": __import__("os").cpu_count()},
                         "before_ref": args.before_ref, "batch": args.batch, "rounds": []}
        for n in range(args.rounds):  # alternate, so a busy moment of the machine hits both
            row = {}
            for label, package in (("before", before), ("after", "styrkedja_reporting")):
                if args.only not in (None, label):
                    continue
                row[label] = asyncio.run(measure(label, package, pg.server_url(), directory, events, args.batch))
                print(f"round {n + 1} {label}: {row[label]}", flush=True)
            results["rounds"].append(row)
        for label in ("before", "after"):
            if args.only in (None, label):
                results[f"{label}_best_events_per_s"] = max(r[label]["events_per_s"] for r in results["rounds"])
        results["note"] = args.note or ("before: three levels (group, school unit, organiser), executemany; after: six levels "
                           "(student, group, school unit, area, organiser, nation), one unnest statement per table")
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(results, indent=2) + "\n")
        print(json.dumps({k: v for k, v in results.items() if k != "rounds"}, indent=2))
        return 0
    finally:
        pg.stop()
        shutil.rmtree(state, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())

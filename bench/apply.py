"""Reporting apply benchmark: how many events per second the consumer's transaction applies
(claim the event ids + the handler + the offsets, as `ConsumerLoop._apply`), in-process against
an embedded PostgreSQL, for the reporting code of a git ref ("before") and of this checkout
("after") in the same run on the same machine, so the two figures compare.

The events are decoded up front (decoding is the same for both and not part of applying):
new assessments and forecasts, later revisions and retractions/withdrawals, in batches of
`--batch` (`--before-batch` for "before"). Both have the directory applied first (not timed), so
the area level is live.

In the same run: raw consume from the same broker (`speed.raw_consume`, before and after the
measurements), and with `--from-broker N` the whole consumer of this checkout catching up from the
broker (events produced to the topics first, untimed; fetch, decode, batches filled up to N without
waiting, apply). At the end the cells of "after" (and of the broker run) are checked against a
recomputation from the facts (results, figures, support, compliance, rosters: as
`/v1/admin/consistency`); the exit status is 1 if any differ. CPU seconds of this process and of the
PostgreSQL server are reported beside the wall time (the machine is shared: CPU per event moves less).

    .venv/bin/python bench/apply.py [--events 30000] [--before-ref e1215bb] [--rounds 2] \\
        [--batch 10000 --before-batch 1000] [--from-broker 10000] [--profile out.txt]

`--rosters` adds rosters and teaching assignments to the directory (every student of an organiser in
one of its 80 groups, 4 subjects × one teacher per group) and a calendar with deadlines for rounds 1
and 2, so that compliance has expected reports to keep (forecast window and assessment rounds).
"""

from __future__ import annotations

import argparse
import asyncio
import importlib
import json
import os
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
sys.path.insert(0, str(ROOT / "bench"))

from styrkedja_contracts import (  # noqa: E402
    AssessmentPublishedV1,
    AssessmentRetractedV1,
    ForecastSubmittedV1,
    ForecastWithdrawnV1,
    GroupMembershipUpsertedV1,
    OrganisationUnitUpsertedV1,
    TeachingAssignmentUpsertedV1,
    forecast_id_for,
    new_event,
)
from styrkedja_contracts.events.calendar import CalendarChangedV1, ReportingCalendar, RoundDeadline  # noqa: E402
from styrkedja_devstack.stack import Infrastructure  # noqa: E402
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
    revisions: dict[tuple[str, str, str], int] = {}  # a forecast's newest revision by its key
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
            rng.getrandbits(128)  # the id drawn once (the log's other events as they were); now the key's
            body = dict(organiser_id=organiser, school_unit_code=code, group_id=group,
                        student_id=f"s-{rng.randrange(6000)}", teacher_id="t-1",
                        gender=rng.choice(["female", "male"]), year=int(group[0]),
                        subject_code=rng.choice(subjects), school_year="2026/27", term="VT")
            key = (organiser, body["student_id"], body["subject_code"])
            fid = forecast_id_for(*key, "2026/27", "VT")
            revisions[key] = revision = revisions.get(key, 0) + 1  # a key drawn again: its forecast's next revision
            events.append(new_event(ForecastSubmittedV1(
                forecast_id=fid, revision=revision,
                value=rng.choice(["NOT_REACHED", "ACCEPTABLE", "MORE_THAN_ACCEPTABLE"]),
                submitted_at=T0, window_deadline=date(2027, 4, 2), late=False, **body), source="/b"))
            live_f.append([fid, revision, body])
        else:
            item = live_f.pop(rng.randrange(len(live_f)))
            b = item[2]
            key = (b["organiser_id"], b["student_id"], b["subject_code"])
            revisions[key] += 1
            events.append(new_event(ForecastWithdrawnV1(
                forecast_id=item[0], revision=revisions[key], organiser_id=b["organiser_id"],
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


def postgres_cpu_seconds(data_dir: Path | None) -> float:
    """CPU seconds used so far by the PostgreSQL server's processes (the postmaster's children)."""
    import psutil

    if data_dir is None or not (data_dir / "postmaster.pid").exists():
        return float("nan")
    server = psutil.Process(int((data_dir / "postmaster.pid").read_text().split()[0]))
    total = 0.0
    for process in [server, *server.children(recursive=True)]:
        try:
            times = process.cpu_times()
            total += times.user + times.system
        except psutil.Error:
            pass
    return total


async def prepare(label: str, package: str, infra: Infrastructure, directory: list, batch: int,
                  settings: dict | None = None) -> tuple[ConsumerLoop, Database, object]:
    """A fresh database with `package`'s tables and the directory applied (not timed)."""
    module = importlib.import_module(f"{package}.persistence")
    metadata = module.metadata
    try:  # since the reshape by capability: a handler registry in main
        handler = importlib.import_module(f"{package}.main").handler_registry()
        handles = handler.handles
    except (ImportError, AttributeError):
        handler = importlib.import_module(f"{package}.service").apply_batch
        handles = None
    url = infra.create_database(f"bench_apply_{label}_{uuid.uuid4().hex[:6]}")
    db = Database(url)
    async with db.engine.begin() as conn:
        await conn.run_sync(metadata.create_all)
    loop = ConsumerLoop(ServiceSettings(database_url=url, kafka_bootstrap_servers=infra.kafka_bootstrap_servers,
                                        client_id=f"bench-apply-{label}", **(settings or {})),
                        db, group_id=f"bench-{uuid.uuid4().hex[:6]}", topics=sorted(set(TOPICS.values())),
                        handler=handler, applied_table=metadata.tables["consumer_applied_events"],
                        offsets_table=metadata.tables["consumer_offsets"], handles=handles)
    if directory and handles is not None:
        for start in range(0, len(directory), batch):
            await loop._apply(delivered(directory[start:start + batch], 10_000_000 + start), {})
    return loop, db, package


async def counts(db: Database) -> dict:
    from sqlalchemy import text

    async with db.sessions() as session:
        return {"assessment_cells": (await session.execute(text("SELECT count(*) FROM assessment_aggregates"))
                                     ).scalar_one(),
                "compliance_items": (await session.execute(text("SELECT count(*) FROM compliance_items"))).scalar_one()}


async def recomputation(db: Database, package: str) -> dict:
    """Every materialised cell against the same figure recomputed from the facts (as GET
    /v1/admin/consistency): mismatches per table, all zero when nothing was lost or counted twice."""
    results = importlib.import_module(f"{package}.results.tables")
    figures = importlib.import_module(f"{package}.figures.tables")
    support = importlib.import_module(f"{package}.support.handlers")
    compliance = importlib.import_module(f"{package}.compliance.handlers")
    rosters = importlib.import_module(f"{package}.directory.rosters")
    async with db.sessions() as session:
        found = {"assessments": sum((await results.ASSESSMENTS.mismatches(session)).values()),
                 "forecasts": sum((await results.FORECASTS.mismatches(session)).values()),
                 "compliance": await compliance.mismatches(session),
                 "rosters": sum((await rosters.mismatches(session)).values())}
        found |= {f"figure_{name}": sum(levels.values()) for name, levels in (await figures.mismatches(session)).items()}
        found |= {f"support_{name}": sum(levels.values()) for name, levels in (await support.mismatches(session)).items()}
    return found


async def measure(label: str, package: str, infra: Infrastructure, directory: list, events: list, batch: int,
                  check: bool) -> dict:
    """In-process: `ConsumerLoop._apply` (claim ids + every handler + offsets, one transaction) over
    decoded events in batches of `batch`."""
    from aiokafka import TopicPartition

    loop, db, _ = await prepare(label, package, infra, directory, batch)
    from sqlalchemy import event
    from sqlalchemy.engine import Engine

    items = delivered(events)
    statements = [0]

    def count(*_: object) -> None:
        statements[0] += 1

    per_batch: list[tuple[float, int]] = []  # (ms, statements) of each batch
    event.listen(Engine, "before_cursor_execute", count)
    _TIMED.append(True)
    pg_cpu, cpu = postgres_cpu_seconds(infra.postgres.data_dir if infra.postgres else None), time.process_time()
    started = time.perf_counter()
    try:
        for start in range(0, len(items), batch):
            chunk = items[start:start + batch]
            at, statements[0] = time.perf_counter(), 0
            await loop._apply(chunk, {TopicPartition(t, 0): chunk[-1].offset + 1 for t in {i.topic for i in chunk}})
            per_batch.append(((time.perf_counter() - at) * 1000, statements[0]))
    finally:
        event.remove(Engine, "before_cursor_execute", count)
        _TIMED.clear()
    seconds = time.perf_counter() - started
    cpu = time.process_time() - cpu
    pg_cpu = postgres_cpu_seconds(infra.postgres.data_dir if infra.postgres else None) - pg_cpu
    ms = sorted(m for m, _ in per_batch)
    out = {"events": len(items), "batch": batch, "seconds": round(seconds, 2),
           "events_per_s": round(len(items) / seconds), **await counts(db),
           "cpu_seconds_python": round(cpu, 2), "cpu_seconds_postgres": round(pg_cpu, 2),
           "events_per_cpu_second": round(len(items) / (cpu + pg_cpu)) if pg_cpu == pg_cpu else None,
           "cpu_ms_per_batch": round((cpu + pg_cpu) * 1000 / len(per_batch), 1) if pg_cpu == pg_cpu else None,
           "ms_per_batch_p50": round(ms[len(ms) // 2], 1), "ms_per_batch_p90": round(ms[len(ms) * 9 // 10], 1),
           "statements_per_batch_mean": round(sum(n for _, n in per_batch) / len(per_batch), 1),
           "statements_per_batch_max": max(n for _, n in per_batch)}
    if check:
        out["recomputation_mismatches"] = await recomputation(db, package)
    await db.dispose()
    return out


_PUBLISHED: list[int] = []
_TIMED: list[bool] = []  # non-empty while `measure` times the batches (the profile's statements)


async def publish(infra: Infrastructure, events: list) -> None:
    from aiokafka import AIOKafkaProducer

    producer = AIOKafkaProducer(bootstrap_servers=infra.kafka_bootstrap_servers, linger_ms=20,
                                max_batch_size=512 * 1024)
    await producer.start()
    try:
        futures = [await producer.send(TOPICS[e.type.split(".")[2]], e.to_bytes(), key=e.data.organiser_id.encode())
                   for e in events]
        await asyncio.gather(*futures)
    finally:
        await producer.stop()


async def measure_from_broker(infra: Infrastructure, directory: list, events: list, max_records: int,
                              check: bool) -> dict:
    """The whole consumer: the events are on the topics first (keyed by organiser, produced untimed),
    then a `ConsumerLoop` (fetch, decode, batches of up to `max_records` filled without waiting,
    apply exactly once) is timed from its partitions' assignment to the last event applied."""
    from styrkedja_kit.kafka import ensure_topics, registry_topics

    loop, db, _ = await prepare("broker", "styrkedja_reporting", infra, directory, 1000,
                                {"consumer_max_records": max_records})
    await ensure_topics(loop.settings, registry_topics([loop.group_id]))
    if not _PUBLISHED:  # once per run: a later round's new group reads the same records
        await publish(infra, events)
        _PUBLISHED.append(len(events))
    runner = asyncio.create_task(loop.run())
    try:
        while not loop.assigned and loop.applied_count == 0:
            await asyncio.sleep(0.001)
        started = time.perf_counter()  # the group has handed out the partitions: fetching starts
        first = loop.applied_count  # 0 unless a batch was applied within the last millisecond
        while loop.applied_count < len(events):
            await asyncio.sleep(0.01)
        seconds = time.perf_counter() - started
    finally:
        loop.stop()
        await runner
    out = {"events": len(events), "timed_events": len(events) - first, "max_records": max_records,
           "seconds": round(seconds, 2), "events_per_s": round((len(events) - first) / seconds), **await counts(db)}
    if check:
        out["recomputation_mismatches"] = await recomputation(db, "styrkedja_reporting")
    await db.dispose()
    return out


def profiled(out: Path, run):  # noqa: ANN001, ANN201
    """`run()` under pyinstrument, with the wall time per SQL statement summed (top 20), to `out`."""
    from pyinstrument import Profiler
    from sqlalchemy import event
    from sqlalchemy.engine import Engine

    spent: dict[str, list[float]] = {}

    def before(conn, cursor, statement, parameters, context, executemany) -> None:  # noqa: ANN001
        conn.info.setdefault("started", []).append(time.perf_counter())

    def after(conn, cursor, statement, parameters, context, executemany) -> None:  # noqa: ANN001
        started = conn.info["started"].pop()
        if not _TIMED:
            return  # the untimed setup (directory, rosters) and the recomputation are left out
        entry = spent.setdefault(" ".join(statement.split())[:110], [0.0, 0])
        entry[0] += time.perf_counter() - started
        entry[1] += 1

    event.listen(Engine, "before_cursor_execute", before)
    event.listen(Engine, "after_cursor_execute", after)
    profiler = Profiler(async_mode="enabled")
    try:
        with profiler:
            result = run()
    finally:
        event.remove(Engine, "before_cursor_execute", before)
        event.remove(Engine, "after_cursor_execute", after)
    ranked = sorted(spent.items(), key=lambda kv: -kv[1][0])[:20]
    top = "".join(f"{seconds:8.2f} s {n:6d}x  {sql}\n" for sql, (seconds, n) in ranked)
    top += "\nthe most frequent statements:\n" + "".join(
        f"{seconds:8.2f} s {n:6d}x  {sql}\n" for sql, (seconds, n) in sorted(spent.items(), key=lambda kv: -kv[1][1])[:25])
    out.write_text(f"{result}\n{top}\n" + profiler.output_text(unicode=True, show_all=False))
    print(f"profile: {out}", flush=True)
    return result


def old_package(ref: str, into: Path) -> str:
    """The reporting package of `ref`, importable as `reporting_before` (copied, renamed)."""
    archive = subprocess.run(["git", "-C", str(ROOT), "archive", ref, "services/reporting/src/styrkedja_reporting"],
                             check=True, capture_output=True).stdout
    subprocess.run(["tar", "-x", "-C", str(into)], input=archive, check=True)
    target = into / "reporting_before"
    shutil.move(str(into / "services/reporting/src/styrkedja_reporting"), target)
    sys.path.insert(0, str(into))
    return "reporting_before"


def written(out: Path, results: dict, details: str) -> int:
    """Write a run's results as JSON, print them without their bulky `details` key, and give the exit
    status: 1 where the cells did not equal the recomputation."""
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(results, indent=2) + "\n")
    print(json.dumps({k: v for k, v in results.items() if k != details}, indent=2))
    return 0 if results["cells_equal_recomputation"] else 1


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=30_000)
    parser.add_argument("--batch", type=int, default=1_000, help="batch of the in-process measurement (after)")
    parser.add_argument("--before-batch", type=int, default=None, help="batch for 'before' (default: --batch)")
    parser.add_argument("--after-batch", type=int, default=None,
                        help="also measure 'after' at this batch (e.g. the before's, to tell code from batching)")
    parser.add_argument("--before-ref", default="e1215bb")
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results" / "apply.json")
    parser.add_argument("--rosters", action="store_true", help="rosters, assignments, round deadlines (compliance)")
    parser.add_argument("--roster-students", type=int, default=6000, help="rostered students per organiser")
    parser.add_argument("--no-round-deadlines", action="store_true", help="compliance of the forecast window only")
    parser.add_argument("--only", choices=("before", "after"), default=None, help="measure one side only")
    parser.add_argument("--broker", choices=("embedded", "kafka"), default=None)
    parser.add_argument("--from-broker", type=int, default=0, metavar="MAX_RECORDS",
                        help="also time the whole consumer catching up from the broker, batches up to MAX_RECORDS")
    parser.add_argument("--raw-messages", type=int, default=100_000, help="raw consume probe (0: none)")
    parser.add_argument("--profile", type=Path, default=None, help="profile the 'after' runs (pyinstrument) into this file")
    parser.add_argument("--note", default=None, help="what before and after are (written to the results)")
    args = parser.parse_args()
    state = Path(tempfile.mkdtemp(prefix="styrkedja-bench-apply-"))
    state.chmod(0o755)
    infra = Infrastructure.start(state, broker_kind=args.broker)
    try:
        before = old_package(args.before_ref, state) if args.only != "after" else None
        directory, events = school_data(7, args.events)
        if args.rosters:
            directory += rosters(directory, args.roster_students, not args.no_round_deadlines)
        results: dict = {"when": datetime.now(UTC).isoformat(timespec="seconds"),
                         "machine": {"python": platform.python_version(), "cpus": os.cpu_count(),
                                     "load_1min_at_start": round(os.getloadavg()[0], 2)},
                         "broker": infra.broker_kind, "before_ref": args.before_ref, "batch": args.batch,
                         "rounds": []}
        raw = []
        if args.raw_messages:
            from speed import raw_consume  # the same probe as `make bench`

            raw.append(asyncio.run(raw_consume(infra.kafka_bootstrap_servers, args.raw_messages)))
            print(f"raw consume: {raw[-1]:,.0f} messages/s", flush=True)
        for n in range(args.rounds):  # alternate, so a busy moment of the machine hits both
            row: dict = {}
            sides = [("before", before, args.before_batch or args.batch)]
            sides += [("after" if size == args.batch else f"after_batch_{size}", "styrkedja_reporting", size)
                      for size in dict.fromkeys((args.after_batch, args.batch)) if size]
            for label, package, size in sides:
                if args.only not in (None, label.split("_")[0]) or package is None:
                    continue

                def run(label: str = label, package: str = package, size: int = size,
                        last: bool = n == args.rounds - 1) -> dict:
                    return asyncio.run(measure(label, package, infra, directory, events, size,
                                               check=label == "after" and last))

                row[label] = profiled(args.profile, run) if args.profile and label == "after" else run()
                print(f"round {n + 1} {label}: {row[label]}", flush=True)
            if args.from_broker and args.only != "before":
                row["after_from_broker"] = asyncio.run(measure_from_broker(infra, directory, events, args.from_broker,
                                                                           check=n == args.rounds - 1))
                print(f"round {n + 1} after, from the broker: {row['after_from_broker']}", flush=True)
            results["rounds"].append(row)
        if args.raw_messages:
            raw.append(asyncio.run(raw_consume(infra.kafka_bootstrap_servers, args.raw_messages)))
            print(f"raw consume: {raw[-1]:,.0f} messages/s", flush=True)
            results["raw_consume_per_s"] = [round(r) for r in raw]
        for label in ("before", f"after_batch_{args.after_batch}", "after", "after_from_broker"):
            found = [r[label]["events_per_s"] for r in results["rounds"] if label in r]
            if found:
                results[f"{label}_best_events_per_s"] = max(found)
                if raw:
                    results[f"{label}_ratio_to_raw_consume"] = round(max(found) / (sum(raw) / len(raw)), 4)
        last = results["rounds"][-1] if results["rounds"] else {}
        mismatches = {label: last[label]["recomputation_mismatches"] for label in ("after", "after_from_broker")
                      if label in last and "recomputation_mismatches" in last[label]}
        results["cells_equal_recomputation"] = all(not any(m.values()) for m in mismatches.values())
        results["machine"]["load_1min_at_end"] = round(os.getloadavg()[0], 2)
        results["note"] = args.note or ("before: three levels (group, school unit, organiser), executemany; after: six levels "
                           "(student, group, school unit, area, organiser, nation), one unnest statement per table")
        return written(args.out, results, details="rounds")
    finally:
        infra.stop()
        shutil.rmtree(state, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())

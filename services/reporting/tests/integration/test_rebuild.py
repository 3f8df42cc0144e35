"""Issue 16: the bulk rebuild (`styrkedja_reporting.rebuild`) makes the same database as the incremental
apply of the same log, table for table and row for row — every derived table, not only the results'.

The log is `test_batch_split`'s (a school unit moving between areas mid-stream, revisions crossing the pass
level, retractions before what they retract, term grades, support for one subject or all) plus forecasts
with revisions and withdrawals, group memberships and teaching assignments (compliance), re-deliveries of
events, events of a type nobody handles, and an event a handler refuses (left out and handed back for the dead-letter
topic). After a rebuild of the first part, the consumer's own
transaction applies the rest (with re-deliveries of rebuilt events): again the same database as the
incremental apply of the whole log — no double count, no gap."""

from __future__ import annotations

import asyncio
import enum
import random
from collections import Counter
from datetime import UTC, date, datetime, timedelta
from uuid import uuid4, uuid5

import asyncpg
import pytest
from aiokafka import ConsumerRecord
from sqlalchemy import text

from styrkedja_contracts import (
    AssessmentPublishedV1,
    AssessmentRetractedV1,
    forecast_id_for,
    message_key,
    new_event,
    topic_for_event_type,
)
from styrkedja_contracts.events.calendar import CalendarChangedV1, ReportingCalendar, RoundDeadline
from styrkedja_contracts.events.forecast import ForecastSubmittedV1, ForecastWithdrawnV1
from styrkedja_contracts.events.lika import LikaSelfAssessmentPublishedV1
from styrkedja_contracts.events.organisation import (
    GroupMembershipUpsertedV1,
    OrganisationEntityRemovedV1,
    TeachingAssignmentUpsertedV1,
)
from styrkedja_kit.consumer import Refused
from styrkedja_kit.db import Database
from styrkedja_reporting.lika import handlers as lika_handlers
from styrkedja_reporting.main import handler_registry
from styrkedja_reporting.metadata import metadata
from styrkedja_reporting.rebuild import bulk
from styrkedja_reporting.rebuild.bulk import APPLIED, OFFSETS, Rebuilder, copy_text, derived_tables, rebuild

from .test_batch_split import (
    CODES,
    NORTH,
    NS,
    ORG,
    SOUTH,
    SUBJECTS,
    T0,
    _result,
    _retraction,
    check,
    delivered,
    in_batches,
    loop_on,
    make_log,
)

pytestmark = [pytest.mark.integration, pytest.mark.postgres_only]

GROUP = "reporting-batch-split"  # loop_on's group
#: set by the database at apply time (now()), not by the log
VOLATILE = {"applied_at", "updated_at", "changed_at"}


def _extras(seed: int) -> list:
    rnd = random.Random(seed)
    out: list = []
    for i in range(30):
        student, group, code = f"s-{i}", ("7A", "7B")[i % 2], CODES[i % 3]
        out.append(new_event(GroupMembershipUpsertedV1(
            membership_id=f"m-{student}", organiser_id=ORG, school_unit_code=code, group_id=group, student_id=student,
            start_date=date(2026, 8, 17), updated_at=T0), source="/t"))
        for subject in SUBJECTS[:2]:
            fid = forecast_id_for(ORG, student, subject, "2026/27", "HT")
            revisions = rnd.randint(1, 2)
            for revision in range(1, revisions + 1):
                out.append(new_event(ForecastSubmittedV1(
                    forecast_id=fid, revision=revision, organiser_id=ORG, school_unit_code=code, group_id=group,
                    student_id=student, teacher_id="t-x", gender=rnd.choice(("female", "male")), year=7,
                    subject_code=subject, value=rnd.choice(("ACCEPTABLE", "NOT_REACHED", "MORE_THAN_ACCEPTABLE")),
                    school_year="2026/27", term="HT", submitted_at=T0 + timedelta(days=20, minutes=revision),
                    window_deadline=date(2026, 10, 23), late=rnd.random() < 0.2), source="/t"))
            if rnd.random() < 0.2:
                out.append(new_event(ForecastWithdrawnV1(
                    forecast_id=fid, revision=revisions + 1, organiser_id=ORG, school_unit_code=code, group_id=group,
                    student_id=student, subject_code=subject, school_year="2026/27", term="HT",
                    withdrawn_at=T0 + timedelta(days=21)), source="/t"))
    for n, code in enumerate(CODES):
        for group in ("7A", "7B"):
            out.append(new_event(TeachingAssignmentUpsertedV1(
                assignment_id=f"a-{code}-{group}", organiser_id=ORG, school_unit_code=code, group_id=group,
                teacher_id=f"t-{n}", subject_code=SUBJECTS[0], updated_at=T0), source="/t"))
    return out


def _lika_of_another_organiser():
    return new_event(LikaSelfAssessmentPublishedV1(
        self_assessment_id=uuid5(NS, "lika-1"), organiser_id="2999", school_unit_code=CODES[0],
        school_form="grundskola", respondent_role="rektor", catalogue_version="2026.1",
        ratings=({"indicator_id": "L1", "area": "ledning", "rating": "ACHIEVED"},), published_at=T0), source="/t")


def _calendar(revision: int, *rounds: tuple[int, int]):
    """The organiser's calendar: round → ISO week of its deadline (HT, Thursday, one grace day: a Friday)."""
    return new_event(CalendarChangedV1(organiser_id=ORG, revision=revision, changed_at=T0, calendar=ReportingCalendar(
        grace_days=1, round_deadlines=tuple(RoundDeadline(round=r, term="HT", iso_week=week, deadline_weekday=4)
                                            for r, week in rounds))), source="/t")


def _moves() -> list:
    """Mid-log: a student changes groups, another leaves; an assignment changes subject, another is removed."""
    later = T0 + timedelta(days=2)
    return [
        new_event(GroupMembershipUpsertedV1(membership_id="m-s-4", organiser_id=ORG, school_unit_code=CODES[1],
                                            group_id="7B", student_id="s-4", start_date=date(2026, 8, 17),
                                            updated_at=later), source="/t"),
        new_event(OrganisationEntityRemovedV1(entity="membership", entity_id="m-s-9", organiser_id=ORG,
                                              removed_at=later), source="/t"),
        new_event(TeachingAssignmentUpsertedV1(assignment_id=f"a-{CODES[0]}-7A", organiser_id=ORG,
                                               school_unit_code=CODES[0], group_id="7A", teacher_id="t-0",
                                               subject_code=SUBJECTS[1], updated_at=later), source="/t"),
        new_event(OrganisationEntityRemovedV1(entity="teaching_assignment", entity_id=f"a-{CODES[2]}-7B",
                                              organiser_id=ORG, removed_at=later), source="/t"),
        # ends inside round 2's window (21-25 Sep): its items there have nobody responsible (unassigned)
        new_event(TeachingAssignmentUpsertedV1(assignment_id=f"a-{CODES[1]}-7A-eng", organiser_id=ORG,
                                               school_unit_code=CODES[1], group_id="7A", teacher_id="t-9",
                                               subject_code=SUBJECTS[2], start_date=date(2026, 8, 17),
                                               end_date=date(2026, 9, 23), updated_at=later), source="/t"),
        # on round 2's roster (deadline 25 Sep), not on round 1's (2 Oct)
        new_event(GroupMembershipUpsertedV1(membership_id="m-s-10", organiser_id=ORG, school_unit_code=CODES[1],
                                            group_id="7A", student_id="s-10", start_date=date(2026, 8, 17),
                                            end_date=date(2026, 9, 30), updated_at=later), source="/t"),
    ]


def _runs() -> list:
    """One assessment in two runs: published, corrected (the same run: its first time counts), retracted, published
    again after round 1's deadline and corrected (a new run: late, its own first time)."""
    aid, place = uuid5(NS, "runs-s-3"), dict(student="s-3", code=CODES[0], group="7B", subject=SUBJECTS[1], round_=1)
    at = [T0, T0 + timedelta(days=1), None, T0 + timedelta(days=5), T0 + timedelta(days=6)]
    out = []
    for revision, moment in enumerate(at[:2] + at[3:], start=1):
        event = _result(aid, revision + (revision > 2), "C", **place)
        out.append(new_event(event.data.model_copy(update={"published_at": moment}), source="/t"))
    return out[:2] + [_retraction(aid, 3, **place)] + out[2:]


def full_log(seed: int = 16) -> list:
    """Compliance's cases too: round deadlines set a quarter in (round 1 in week 39: the results are late), changed
    three quarters in (round 1 in week 40: on time; round 2 in week 39: late), an older calendar revision after
    that (ignored); a membership moved and one removed, an assignment moved and one removed half-way."""
    log = make_log(seed)
    directory, rest = log[:6], log[6:]
    extras = _extras(seed)
    rest = rest + extras
    random.Random(seed).shuffle(rest)
    n = len(rest)
    rest = (rest[:n // 4] + [_calendar(1, (1, 39))] + rest[n // 4:n // 2] + _moves() + _runs() + rest[n // 2:3 * n // 4]
            + [_calendar(3, (1, 40), (2, 39))] + rest[3 * n // 4:] + [_calendar(2, (2, 40))])
    return directory + [e for e in extras if e.type == GroupMembershipUpsertedV1.event_type] + rest


async def database_rows(db: Database) -> dict[str, Counter]:
    out: dict[str, Counter] = {}
    async with db.sessions() as session:
        for name in (*derived_tables(), APPLIED, OFFSETS):
            cols = [c.name for c in metadata.tables[name].columns if c.name not in VOLATILE]
            columns = ", ".join(f'"{c}"' for c in cols)
            found = (await session.execute(text(f"SELECT {columns} FROM {name}"))).all()
            out[name] = Counter(tuple(str(v) for v in row) for row in found)
    return out


async def schema_of(db: Database) -> list:
    async with db.sessions() as session:
        indexes = (await session.execute(text(
            "SELECT tablename, indexname, indexdef FROM pg_indexes WHERE schemaname = current_schema() "
            "ORDER BY 1, 2"))).all()
        constraints = (await session.execute(text(
            "SELECT conrelid::regclass::text, conname, contype, pg_get_constraintdef(oid) FROM pg_constraint "
            "WHERE connamespace = to_regnamespace(current_schema()) ORDER BY 1, 2"))).all()
        # the tables' storage options: the rebuild's autovacuum off (`QUIET_AUTOVACUUM`) must not outlive its swap
        options = (await session.execute(text(
            "SELECT relname, reloptions FROM pg_class WHERE relnamespace = to_regnamespace(current_schema()) "
            "AND relkind = 'r' AND reloptions IS NOT NULL ORDER BY 1"))).all()
    assert any(row[0] == "figure_students" for row in indexes)
    return [tuple(r) for r in (*indexes, *constraints, *options)]


async def rebuilt(settings, db: Database, events: list, next_offsets=None, overlap: bool = False,
                  connections: int | None = None):
    handles = handler_registry(live_alerts=False).handles
    return await rebuild(db, delivered(events), group_id=GROUP, next_offsets=next_offsets or {},
                         handles=handles, chunk=37, overlap=overlap, connections=connections)


@pytest.fixture
def database_urls(fresh_database) -> dict[str, str]:
    return {way: fresh_database("styrkedja_reporting") for way in ("incremental", "rebuild", "rebuild then live")}


async def test_the_rebuild_equals_the_incremental_apply_in_every_table(settings, database_urls):
    log = full_log()
    # re-deliveries, and one event of a type no handler applies
    redelivered = log + random.Random(3).sample(log[6:], 40)
    dbs = {way: Database(url) for way, url in database_urls.items()}
    try:
        await in_batches(loop_on(settings, dbs["incremental"]), redelivered, 25)

        report = await rebuilt(settings, dbs["rebuild"], redelivered, {("t", 0): len(redelivered)}, connections=2)
        unique = len({event.id for event in log})
        assert report.duplicates == len(redelivered) - unique >= 40 and report.failed == []
        assert report.applied == unique
        assert {"directory", "facts", "levels", "figures", "compliance", "alerts"} <= set(report.stages)
        # the work after the read on two connections: the first two jobs were taken at once, side by side
        (first, a), (second, b) = sorted(report.timeline.items(), key=lambda item: item[1])[:2]
        assert {first, second} == {"facts.assessment_facts", "handlers"} and b[0] < a[1], report.timeline

        half = len(log) * 6 // 10
        await rebuilt(settings, dbs["rebuild then live"], log[:half])
        # the live consumer's transaction goes on: the rest, and rebuilt events delivered again
        await in_batches(loop_on(settings, dbs["rebuild then live"]), log[half - 30:] + log[:20], 25)

        reference = await database_rows(dbs["incremental"])
        # the log reaches what it should: every capability has rows
        for table in ("assessment_aggregates", "forecast_aggregates", "figure_pass", "figure_forecasts",
                      "figure_merit", "support_below_pass", "support_students", "compliance_items",
                      "compliance_cells", "directory_roster_sizes", "school_unit_placements"):
            assert reference[table], table
        # compliance's cases: windows of both kinds, items late, on time and missing, a calendar that counts
        windows = {(row[1], row[2]) for row in reference["compliance_windows"]}
        assert windows == {("forecast", "2026/27:HT"), ("assessment_round", "2026/27:R1"),
                           ("assessment_round", "2026/27:R2")}, windows
        statuses = Counter((row[1], row[-1]) for row in reference["compliance_items"].elements())
        assert {("assessment_round", s) for s in ("late", "on_time", "missing")} <= set(statuses), statuses
        assert [row[1] for row in reference["compliance_calendars"]] == ["3"]
        assert {row[3] for row in reference["compliance_cells"]} >= {"unassigned", "teacher_group_subject"}
        for way in ("rebuild", "rebuild then live"):
            await check(dbs[way], log)
            found = await database_rows(dbs[way])
            for table, expected in reference.items():
                if table == OFFSETS:
                    continue
                assert found[table] == expected, (way, table, found[table] - expected, expected - found[table])
        # the indexes and keys the rebuild dropped for its load are there again, as the migrations made them
        assert await schema_of(dbs["rebuild"]) == await schema_of(dbs["incremental"])
        # figure_students filled in its key's order (its key then built from a sorted heap: `bulk._figure`), the
        # levels too (`_level`)
        for table in ("figure_students", "support_below_pass", "assessment_aggregates"):
            assert await physical_order_is_key_order(dbs["rebuild"], table), table
        offsets = await database_rows(dbs["rebuild"])
        assert list(offsets[OFFSETS]) == [(GROUP, "t", "0", str(len(redelivered)))]
    finally:
        for db in dbs.values():
            await db.dispose()


async def test_a_refused_event_is_left_out_and_handed_back_and_a_second_rebuild_changes_nothing(settings,
                                                                                                database_urls,
                                                                                                monkeypatch):
    log = full_log()
    refused = _lika_of_another_organiser()
    # a handler's refusal (the kit's `Refused`) of this one event: no handler of reporting's refuses an event of the
    # log today (LIKA's ownership is judged at the read since round 25b: test_lika_ownership_order)
    apply_lika = lika_handlers.apply_lika

    async def refusing(session, batch):
        if any(item.event.id == refused.id for item in batch):
            raise Refused("refused_for_the_test", "refused by the test's handler")
        await apply_lika(session, batch)

    monkeypatch.setattr(lika_handlers, "apply_lika", refusing)
    db = Database(database_urls["rebuild"])
    try:
        report = await rebuilt(settings, db, log[:20] + [refused] + log[20:])
        assert [f.item.event.id for f in report.failed] == [refused.id]
        assert report.failed[0].reason == "refused_for_the_test"
        first = await database_rows(db)
        assert str(refused.id) not in {row[0] for row in first[APPLIED]}
        # over an existing database: emptied first, the same again (each chunk's COPY overlapped this time)
        await rebuilt(settings, db, log, overlap=True)
        assert await database_rows(db) == first
    finally:
        await db.dispose()


def test_the_rebuild_keeps_what_is_not_derived_from_the_log():
    kept = set(metadata.tables) - set(derived_tables()) - {APPLIED, OFFSETS}
    assert kept == {"alerts", "alert_comments", "alert_thresholds", "directory_published", "access_audit", "outbox",
                    "outbox_partition_marks", "directory_idempotency_keys"}


@pytest.mark.parametrize("figure_slice", [None, 37], ids=["one-slice", "sliced-by-student"])
async def test_equal_revisions_are_decided_by_content_whatever_the_order_live_or_rebuilt(settings, database_urls,
                                                                                        figure_slice, monkeypatch):
    """A forecast sent twice under one revision with another value (another event id), a calendar with another
    deadline, an assessment with another time or retracted under its own revision: as another producer keying one organiser in two spellings (`2120001234`, `212000-1234`) puts them on two partitions, consumed in either
    order. Failed on the old code: the first to arrive won (`results.rules.fold`, and the rebuild's SQL in log order),
    so the live apply of the twins in the other order kept the other value (and calendar: other windows); now the
    greater by `tie_order` (the value, here) wins in both orders and in the rebuild (`rebuild.bulk.tie_order_sql`), the
    calendar the greater in jsonb order (`compliance.handlers.calendar_upsert`), the assessment's round state (its
    fact, rounds33) the retraction, else the earliest time of its run (`results.rules.run_time`; the first to arrive
    made it on time or late, reported or retracted). Sliced: forecast against
    outcome, merit and below-pass computed a slice of the students at a time add up to the same rows."""
    if figure_slice:
        monkeypatch.setattr(bulk, "FIGURE_SLICE", figure_slice)
    log = full_log()
    changed = {"ACCEPTABLE": "NOT_REACHED", "NOT_REACHED": "MORE_THAN_ACCEPTABLE", "MORE_THAN_ACCEPTABLE": "ACCEPTABLE"}
    first_order: list = []
    other_order: list = []
    twins: list = []
    calendar_twins = 0
    round_twins: list = []  # (publication, twin): another time across round 1's deadline, or a retraction
    assessments = [e for e in log if e.type in (AssessmentPublishedV1.event_type, AssessmentRetractedV1.event_type)]
    per_assessment = Counter(str(e.data.assessment_id) for e in assessments)
    newest: dict[str, int] = {}
    kinds: Counter = Counter()  # twins made: a retraction (True), another time (False)
    for e in assessments:
        newest[str(e.data.assessment_id)] = max(newest.get(str(e.data.assessment_id), 0), e.data.revision)
    for event in log:
        if event.type == ForecastSubmittedV1.event_type and len(twins) < 12:
            twin = new_event(event.data.model_copy(update={"value": changed[event.data.value]}), source="/t")
            twins.append((event, twin))
            first_order += [event, twin]
            other_order += [twin, event]
        elif event.type == AssessmentPublishedV1.event_type and (
                kinds[False] < 8 and per_assessment[str(event.data.assessment_id)] == 1
                or kinds[True] < 4 and 2 <= event.data.revision == newest[str(event.data.assessment_id)]):
            data = event.data
            kinds[per_assessment[str(data.assessment_id)] > 1] += 1
            if per_assessment[str(data.assessment_id)] > 1:  # a retraction of the same (its newest) revision
                twin = new_event(AssessmentRetractedV1(
                    **data.model_dump(include={"assessment_id", "revision", "organiser_id", "school_unit_code",
                                               "group_id", "student_id", "subject_code", "school_year", "term",
                                               "round"}), retracted_at=data.published_at + timedelta(hours=1)),
                    source="/t")
            else:  # ten days later or earlier: on time one way, late the other (round 1 due in week 40)
                shift = timedelta(days=10 if kinds[False] % 2 else -10)
                twin = new_event(data.model_copy(update={"published_at": data.published_at + shift}), source="/t")
            round_twins.append((event, twin))
            first_order += [event, twin]
            other_order += [twin, event]
        elif event.type == CalendarChangedV1.event_type and event.data.revision == 3:  # round 1 due a week later
            twin = _calendar(3, (1, 41), (2, 39))
            calendar_twins += 1
            first_order += [event, twin]
            other_order += [twin, event]
        else:
            first_order.append(event)
            other_order.append(event)
    assert len(twins) == 12 and calendar_twins == 1 and kinds == {True: 4, False: 8}
    ways = {"incremental": "incremental", "other order": "rebuild then live", "rebuild": "rebuild"}
    dbs = {way: Database(database_urls[url]) for way, url in ways.items()}
    try:
        await in_batches(loop_on(settings, dbs["incremental"]), first_order, 25)
        await in_batches(loop_on(settings, dbs["other order"]), other_order, 25)
        await rebuilt(settings, dbs["rebuild"], first_order)
        reference = await database_rows(dbs["incremental"])
        for way in ("other order", "rebuild"):
            found = await database_rows(dbs[way])
            for table, expected in reference.items():
                if table != OFFSETS:
                    assert found[table] == expected, (way, table, found[table] - expected, expected - found[table])
        async with dbs["rebuild"].sessions() as session:  # of each twin the greater value counted
            values = {str(fid): value for fid, value in (await session.execute(text(
                "SELECT forecast_id, value FROM forecast_facts"))).all()}
        per_id = Counter(str(e.data.forecast_id) for e in first_order if e.type in (
            ForecastSubmittedV1.event_type, ForecastWithdrawnV1.event_type))
        alone = [(e, t) for e, t in twins if per_id[str(e.data.forecast_id)] == 2]  # the twins are all there is of it
        assert alone and all(values[str(e.data.forecast_id)] == max(e.data.value, t.data.value) for e, t in alone)
        assert any(e.data.value < t.data.value for e, t in alone) and any(e.data.value > t.data.value
                                                                          for e, t in alone)
        async with dbs["other order"].sessions() as session:  # of each round twin: the retraction, else the earlier time
            reports = {aid: (retracted, at) for aid, retracted, at in (await session.execute(text(
                "SELECT CAST(assessment_id AS text), retracted, received_at FROM assessment_facts"))).all()}
        retractions = [(e, t) for e, t in round_twins if t.type == AssessmentRetractedV1.event_type]
        alone = [(e, t) for e, t in round_twins if t.type == AssessmentPublishedV1.event_type]
        assert len(retractions) == 4 and len(alone) == 8
        for event, twin in retractions:  # the newest revision of the assessment: its state
            assert reports[str(event.data.assessment_id)] == (True, twin.data.retracted_at), (event, twin)
        for event, twin in alone:  # the twins are all there is of the assessment
            retracted, at = reports[str(event.data.assessment_id)]
            assert not retracted and at == min(event.data.published_at, twin.data.published_at), (event, twin)
    finally:
        for db in dbs.values():
            await db.dispose()


async def rebuilt_from_records(db: Database, events: list, *, as_text: bool):
    """The log as the broker hands it (each event's bytes on its topic under its key, offsets per topic), decoded
    and staged by `feed_records` in fetches of 50: the facts' rows as COPY text (a decoder process's answer) or as
    tuples (decoded here)."""
    offsets: Counter = Counter()
    records = []
    for event in events:
        topic, value = topic_for_event_type(event.type).name, event.to_bytes()
        records.append(ConsumerRecord(topic, 0, offsets[topic], 0, 0, message_key(event), value, None, 0, len(value),
                                      []))
        offsets[topic] += 1
    rebuilder = Rebuilder(db, group_id=GROUP, handles=handler_registry(live_alerts=False).handles, chunk=37)
    try:
        await rebuilder.begin()
        rebuilder.as_text = as_text
        for start in range(0, len(records), 50):
            await rebuilder.feed_records(records[start:start + 50])
        await rebuilder.drain()
        report = await rebuilder.finish({(t, 0): n for t, n in offsets.items()})
        await rebuilder.commit()
        return report
    finally:
        await rebuilder.close()


async def test_the_rebuild_from_records_with_the_facts_as_copy_text_equals_the_incremental_apply(settings,
                                                                                               database_urls):
    """A decoder process hands the facts' staging rows back as COPY text (`copy_text`): the same database as the
    incremental apply, table for table (the applied ids carry the records' digests here: compared by id)."""
    log = full_log()
    redelivered = log + random.Random(5).sample(log[6:], 30)
    dbs = {way: Database(url) for way, url in database_urls.items() if way != "rebuild then live"}
    try:
        await in_batches(loop_on(settings, dbs["incremental"]), redelivered, 25)
        report = await rebuilt_from_records(dbs["rebuild"], redelivered, as_text=True)
        assert report.failed == [] and report.applied == len({event.id for event in log})
        assert report.counts["staging"] > 0
        reference, found = await database_rows(dbs["incremental"]), await database_rows(dbs["rebuild"])
        for table, expected in reference.items():
            if table == APPLIED:
                assert {row[0] for row in found[table]} == {row[0] for row in expected}
            elif table != OFFSETS:
                assert found[table] == expected, (table, found[table] - expected, expected - found[table])
    finally:
        for db in dbs.values():
            await db.dispose()


class _Kind(enum.StrEnum):
    TERM_GRADE = "term_grade"


async def test_copy_text_stores_what_a_binary_copy_of_the_same_rows_stores(database_urls):
    """Every type a staging row holds, and text that needs escaping (tab, newline, carriage return, backslash,
    `\\N`), an enum's value, NULLs: the COPY text of the rows and the binary COPY of the tuples store the same."""
    when = datetime(2026, 3, 1, 10, 0, 0, 123456, tzinfo=UTC)
    rows = [(1, uuid4(), "a\tb\nc\rd\\e \\N", when, date(2026, 3, 1), b"\x00\\\t\xff", True, _Kind.TERM_GRADE),
            (2, uuid4(), "\\N", when.astimezone(), None, None, False, "vanlig text: åäö"),
            (3, uuid4(), "", when, date(2026, 12, 31), b"", False, "N")]
    columns = ("n", "u", "t", "at", "d", "b", "f", "k")
    db = Database(database_urls["rebuild"])
    try:
        async with db.sessions.begin() as session:
            for table in ("by_text", "by_binary"):
                await session.execute(text(f"CREATE TEMPORARY TABLE {table} (n integer, u uuid, t text, at timestamptz, "
                                           "d date, b bytea, f boolean, k text)"))
            await bulk._copy_text_in(session, "by_text", columns, copy_text(rows))
            await bulk.copy_records(session, "by_binary", columns, [(*r[:7], str(r[7])) for r in rows])
            by_text = (await session.execute(text("SELECT * FROM by_text ORDER BY n"))).all()
            by_binary = (await session.execute(text("SELECT * FROM by_binary ORDER BY n"))).all()
        assert by_text == by_binary and len(by_text) == 3
        assert by_text[0][2] == rows[0][2] and by_text[0][5] == rows[0][5] and by_text[0][7] == "term_grade"
        with pytest.raises(TypeError):  # a naive time: its reading would depend on the session's zone
            copy_text([(datetime(2026, 3, 1),)])
        with pytest.raises(TypeError):
            copy_text([(1.5,)])
    finally:
        await db.dispose()


async def every_row(db: Database) -> dict[str, list]:
    """Every row of every table the rebuild replaces or writes, every column (the times set at apply too)."""
    async with db.sessions() as session:
        return {name: sorted(tuple(str(v) for v in row) for row in (await session.execute(text(
            f'SELECT * FROM "{name}"'))).all()) for name in (*derived_tables(), APPLIED, OFFSETS)}


async def shadow_schemas(db: Database) -> list[str]:
    async with db.sessions() as session:
        return list((await session.execute(text(
            "SELECT nspname FROM pg_namespace WHERE starts_with(nspname, :p)"), {"p": bulk.SHADOW_PREFIX})).scalars())


async def test_a_rebuild_stopped_half_way_leaves_the_live_tables_as_they_were(settings, database_urls, monkeypatch):
    """The rebuild makes its tables in a schema of its own and swaps them in by ONE transaction at the end: meanwhile
    the live tables are read as they were, without waiting; one that fails while its jobs run (facts, levels and
    indexes already committed there) leaves every live table and row as it was and drops its schema; what a killed
    one left behind, the next drops; two at once are refused."""
    log = full_log()
    db = Database(database_urls["rebuild"])
    try:
        await rebuilt(settings, db, log[:len(log) // 2])
        before = await every_row(db)
        assert before["assessment_facts"] and before[APPLIED]
        async with db.sessions.begin() as session:  # a rebuild whose process was killed left its schema
            await session.execute(text(f"CREATE SCHEMA {bulk.SHADOW_PREFIX}killed"))
            await session.execute(text(f"CREATE TABLE {bulk.SHADOW_PREFIX}killed.figure_pass (x integer)"))
        real = bulk._figure
        seen: list[int] = []

        async def stopped(session, name):
            if name == "pass":  # (it fills figure_students too)
                # meanwhile the live tables are readable at once (no lock held on them: the old design's TRUNCATE
                # held an exclusive one until its commit) and as they were
                async with db.sessions() as reader:
                    await reader.execute(text("LOCK TABLE assessment_facts, figure_students, consumer_applied_events "
                                              "IN ACCESS SHARE MODE NOWAIT"))
                    seen.append((await reader.execute(text("SELECT count(*) FROM assessment_facts"))).scalar_one())
                raise RuntimeError("stopped half-way")
            await real(session, name)

        monkeypatch.setattr(bulk, "_figure", stopped)
        with pytest.raises(RuntimeError, match="stopped half-way"):
            await rebuilt(settings, db, log, connections=2)
        assert await every_row(db) == before
        assert seen == [len(before["assessment_facts"])]
        assert await shadow_schemas(db) == []  # its own dropped, and the killed one's

        monkeypatch.setattr(bulk, "_figure", real)
        holder = Rebuilder(db, group_id=GROUP, handles=handler_registry(live_alerts=False).handles)
        await holder.begin()
        try:
            with pytest.raises(RuntimeError, match="another rebuild"):
                await rebuilt(settings, db, log)
        finally:
            await holder.close()
        assert await every_row(db) == before and await shadow_schemas(db) == []
        # a reader's connection with statements prepared on the old tables (the read API's, asyncpg's cache) goes on
        # after the swap: the server plans them again on the tables now under those names
        reader = await asyncpg.connect(db.asyncpg_dsn)
        try:
            counting = await reader.prepare("SELECT count(*) FROM assessment_facts")
            assert await counting.fetchval() == len(before["assessment_facts"])
            report = await rebuilt(settings, db, log, connections=3)
            assert report.applied == len({e.id for e in log}) and await shadow_schemas(db) == []
            after = await every_row(db)
            assert await counting.fetchval() == len(after["assessment_facts"]) > len(before["assessment_facts"])
        finally:
            await reader.close()
    finally:
        await db.dispose()


def _two_groups_log() -> list:
    """Students with results in two groups of one school unit in the same cell (subject, year, term): the group
    level counts them in each group, the school unit, area and organiser levels once. s-g0 in 7A and 7B of CODES[0]
    (both rounds: one HT cell); s-g1 in 7A and 7B of CODES[1] in round 1, then in 7A of CODES[2] in round 2 (two
    school units of two areas too); s-g3 in 7B of CODES[0] and of CODES[1] (two school units of one area); s-g2 in
    one group (the ordinary case beside them); s-g4 in 7A of CODES[2] in the first subject and 7B of CODES[2] in the
    second (several groups, but one per cell: the roll-up looks at its rows again and must take nothing off). No move:
    CODES[0] and CODES[1] in the north, CODES[2] in the south."""
    directory = make_log(16)[:6]
    places = {"s-g0": [(CODES[0], "7A", 1, 0), (CODES[0], "7B", 1, 0), (CODES[0], "7B", 2, 0)],
              "s-g1": [(CODES[1], "7A", 1, 0), (CODES[1], "7B", 1, 0), (CODES[2], "7A", 2, 0)],
              "s-g2": [(CODES[0], "7A", 1, 0), (CODES[0], "7A", 2, 0)],
              "s-g3": [(CODES[0], "7B", 2, 0), (CODES[1], "7B", 2, 0)],
              "s-g4": [(CODES[2], "7A", 1, 0), (CODES[2], "7B", 1, 1)]}
    out: list = []
    for student, at in places.items():
        for n, (code, group, round_, subject) in enumerate(at):
            aid = uuid5(NS, f"two-groups-{student}-{n}")
            out.append(_result(aid, 1, "FCA"[n % 3], student=student, code=code, group=group,
                               subject=SUBJECTS[subject], round_=round_))
    return directory + out


async def test_a_student_in_two_groups_of_one_school_unit_is_counted_once_above_the_group_by_the_roll_up(
        settings, database_urls):
    """The rebuild's pass figure rolls the group level's rows up (`figures.tables._rolled_up_pass`): a student in two
    groups of one school unit is two group rows, one student of the school unit, its area and organiser — the cells
    of the live apply, row for row."""
    log = _two_groups_log()
    dbs = {way: Database(url) for way, url in database_urls.items() if way != "rebuild then live"}
    try:
        await in_batches(loop_on(settings, dbs["incremental"]), log, 4)
        await rebuilt(settings, dbs["rebuild"], log, connections=2)
        reference, found = await database_rows(dbs["incremental"]), await database_rows(dbs["rebuild"])
        for table, expected in reference.items():
            if table != OFFSETS:
                assert found[table] == expected, (table, found[table] - expected, expected - found[table])
        await check(dbs["rebuild"], log)
        async with dbs["rebuild"].sessions() as session:
            students = {(level, unit): n for level, unit, n in (await session.execute(text(
                "SELECT level, unit_id, students FROM figure_pass WHERE period = 'HT' AND subject_code = :s"),
                {"s": SUBJECTS[0]})).all()}
            second = {(level, unit): n for level, unit, n in (await session.execute(text(
                "SELECT level, unit_id, students FROM figure_pass WHERE period = 'HT' AND subject_code = :s"),
                {"s": SUBJECTS[1]})).all()}
    finally:
        for db in dbs.values():
            await db.dispose()
    assert students[("group", f"{CODES[0]}/7A")] == 2 and students[("group", f"{CODES[0]}/7B")] == 2
    assert students[("group", f"{CODES[1]}/7A")] == 1 and students[("group", f"{CODES[1]}/7B")] == 2
    assert students[("group", f"{CODES[2]}/7A")] == 2  # s-g1 and s-g4
    # s-g0 once in CODES[0] (with s-g2 and s-g3), s-g1 once in each of its school units, s-g3 likewise
    assert students[("school_unit", CODES[0])] == 3
    assert students[("school_unit", CODES[1])] == 2 and students[("school_unit", CODES[2])] == 2
    assert students[("area", NORTH)] == 4 and students[("area", SOUTH)] == 2
    assert students[("organiser", ORG)] == 5 and ("nation", "SE") not in students  # the nation's: the organiser's
    # s-g4 alone in the second subject: one student at every level
    assert second == {("group", f"{CODES[2]}/7B"): 1, ("school_unit", CODES[2]): 1, ("area", SOUTH): 1,
                      ("organiser", ORG): 1}


def _same_day_log() -> list:
    """Results of two rounds of one term in one group, assessed on the same day (s-d0 round 1, s-d1 round 2), and an
    older one (s-d2): the term's cells have that day as their newest with both results on it; each round's cell one."""
    directory = make_log(16)[:6]
    day = date(2026, 10, 5)
    out: list = []
    for n, (student, round_, on) in enumerate((("s-d0", 1, day), ("s-d1", 2, day),
                                               ("s-d2", 1, day - timedelta(days=7)))):
        event = _result(uuid5(NS, f"same-day-{student}"), 1, "CAE"[n], student=student, code=CODES[0], group="7A",
                        subject=SUBJECTS[0], round_=round_)
        out.append(event.model_copy(update={"data": event.data.model_copy(update={"assessed_on": on})}))
    return directory + out


async def test_results_of_two_rounds_on_one_day_are_both_the_term_s_newest_in_the_roll_up(settings, database_urls):
    """The rebuild's pass figure counts the results per group cell, term, round and day before it makes each such row
    one per period kind (`figures.tables._rolled_up_pass`, `gd`): rows of two rounds that meet in one term cell and
    day are summed — the cells of the live apply, row for row."""
    log = _same_day_log()
    dbs = {way: Database(url) for way, url in database_urls.items() if way != "rebuild then live"}
    try:
        await in_batches(loop_on(settings, dbs["incremental"]), log, 2)
        await rebuilt(settings, dbs["rebuild"], log, connections=2)
        reference, found = await database_rows(dbs["incremental"]), await database_rows(dbs["rebuild"])
        for table, expected in reference.items():
            if table != OFFSETS:
                assert found[table] == expected, (table, found[table] - expected, expected - found[table])
        async with dbs["rebuild"].sessions() as session:
            newest = {(level, period): (on, n) for level, period, on, n in (await session.execute(text(
                "SELECT level, period, newest, newest_count FROM figure_pass"))).all()}
    finally:
        for db in dbs.values():
            await db.dispose()
    for level in ("group", "school_unit", "organiser"):  # the nation has no cells (its reads: the organiser's)
        assert newest[(level, "HT")] == (date(2026, 10, 5), 2), level
        assert newest[(level, "R1")] == newest[(level, "R2")] == (date(2026, 10, 5), 1), level


async def organiser_runs(db: Database, table: str) -> tuple[int, int]:
    """The runs of one organiser's rows in `table`'s heap order, and its organisers: equal when the heap holds the
    organisers one after the other."""
    async with db.sessions() as session:
        stored = (await session.execute(text(f"SELECT organiser_id FROM {table} ORDER BY ctid"))).scalars().all()
    return sum(1 for i, o in enumerate(stored) if i == 0 or stored[i - 1] != o), len(set(stored))


async def physical_order_is_key_order(db: Database, table: str) -> bool:
    key = ", ".join(c.name for c in metadata.tables[table].primary_key.columns)
    async with db.sessions() as session:
        stored = (await session.execute(text(f"SELECT {key} FROM {table} ORDER BY ctid"))).all()
        ordered = (await session.execute(text(f"SELECT {key} FROM {table} ORDER BY {key}"))).all()
    assert len(stored) > 20, table  # enough rows for a hash aggregate's order not to be the key's by chance
    return stored == ordered


async def test_the_one_key_sorts_as_the_primary_key_columns_do(database_urls):
    """`bulk._key_order`: one text whose byte order is the key columns' order — prefixes of one another, the separator
    bytes around chr(1), letters beyond ASCII, integers of every sign and width (as text '10' < '9')."""
    table = metadata.tables["figure_students"]
    texts = ["", "a", "a/", "a/b", "ab", "a b", "a\x02", "a~", "å", "Ö", "Z", "29990011/7a", "29990011/7ab", "2999001/1"]
    years = [-2147483648, -10, -9, 0, 9, 10, 2147483647]
    rng = random.Random(16)
    columns = [c.name for c in table.primary_key.columns]
    # each key column's values by its name and type (the key's column order is the table's: migration 0020)
    choices = [["group", "groups", "grou"] if name == "level" else years if name == "year" else texts
               for name in columns]
    rows = {tuple(rng.choice(values) for values in choices) for _ in range(3000)}
    db = Database(database_urls["rebuild"])
    try:
        async with db.sessions.begin() as session:
            assert await bulk._byte_order(session)  # the test server's C.UTF-8: else the rebuild does not order
            await session.execute(text("CREATE TEMPORARY TABLE k (LIKE figure_students)"))
            await bulk.copy_records(session, "k", (*columns, "count"), [(*row, 1) for row in rows])
            by_columns = (await session.execute(text(f"SELECT {', '.join(columns)} FROM k ORDER BY "
                                                     f"{', '.join(columns)}"))).all()
            by_key = (await session.execute(text(f"SELECT {', '.join(columns)} FROM k ORDER BY "
                                                 f"{bulk._key_order(list(table.primary_key.columns))}"))).all()
        assert len(by_columns) == len(rows) and by_key == by_columns
    finally:
        await db.dispose()


async def test_every_job_after_the_read_gets_the_rebuild_s_memory_setting(settings, database_urls, monkeypatch):
    """Every job after the read runs with `work_mem` and `maintenance_work_mem` of `memory_kb()` (the bench's
    STYRKEDJA_REBUILD_WORK_MEM_MB reaches them: how rebuild10 compared 256 MB with more); the summary says it."""
    log = full_log()
    db = Database(database_urls["rebuild"])
    seen: list[tuple[str, str]] = []
    real_figure = bulk._figure

    async def figure(session, name):
        seen.append(tuple((await session.execute(text(
            "SELECT current_setting('work_mem'), current_setting('maintenance_work_mem')"))).one()))
        await real_figure(session, name)

    monkeypatch.setenv("STYRKEDJA_REBUILD_WORK_MEM_MB", "321")
    monkeypatch.setattr(bulk, "_figure", figure)
    try:
        report = await rebuilt(settings, db, log, connections=2)
    finally:
        await db.dispose()
    assert seen and all(s == ("321MB", "321MB") for s in seen), seen
    assert report.counts["work_mem_kb"] == 321 * 1024


async def test_autovacuum_leaves_the_rebuild_s_tables_alone_until_the_swap_and_the_live_ones_after_it(
        settings, database_urls, monkeypatch):
    """The staging tables (dropped at the end) and the shadow tables are made with autovacuum off: it vacuumed and
    analysed them on the cores the jobs after the read need (`QUIET_AUTOVACUUM`). The swap gives the live tables their
    own setting again (none), and a table whose live definition sets autovacuum keeps that setting."""
    log = full_log()
    db = Database(database_urls["rebuild"])
    seen: list[dict[str, str | None]] = []
    real_figure = bulk._figure

    async def figure(session, name):
        seen.append(dict((await session.execute(text(
            "SELECT c.relname, array_to_string(c.reloptions, ',') FROM pg_class c JOIN pg_namespace n ON n.oid = "
            "c.relnamespace WHERE starts_with(n.nspname, :p) AND c.relkind = 'r'"), {"p": bulk.SHADOW_PREFIX})).all()))
        await real_figure(session, name)

    monkeypatch.setattr(bulk, "_figure", figure)

    async def live_options() -> dict[str, str | None]:
        async with db.sessions() as session:
            return dict((await session.execute(text(
                "SELECT relname, array_to_string(reloptions, ',') FROM pg_class WHERE relnamespace = "
                "to_regnamespace(current_schema()) AND relkind = 'r'"))).all())

    try:
        async with db.sessions.begin() as session:  # a live table with a setting of its own
            await session.execute(text("ALTER TABLE figure_pass SET (autovacuum_enabled = true, fillfactor = 90)"))
        before = await live_options()
        await rebuilt(settings, db, log, connections=2)
        after = await live_options()
    finally:
        await db.dispose()
    shadow = seen[0]
    assert {"rebuild_assessments", "rebuild_forecasts", "rebuild_small_ids", "figure_students", APPLIED} <= set(shadow)
    for table, options in shadow.items():
        own = before.get(table)  # the live table's (fillfactor on some), autovacuum off after them
        expected = own if table == "figure_pass" else ",".join(filter(None, (own, "autovacuum_enabled=false")))
        assert options == expected, (table, options)
    assert after == before and after["figure_pass"] == "autovacuum_enabled=true,fillfactor=90"


async def test_compliance_items_are_joined_to_their_reports_by_hash_not_by_a_nested_loop(settings, database_urls,
                                                                                         monkeypatch, tmp_path):
    """The rebuild's items statement joins every window's roster × group subjects to the reports: its CTEs have no
    statistics and their five-column join is estimated at one row, so with nested loops allowed the reports were
    scanned once per item (items × reports: not done in 460 s on the full demo; bench/compliance_items.py). It runs
    with `enable_nestloop` off, and the setting is back as it was after compliance's stage."""
    plans = tmp_path / "plans.txt"
    monkeypatch.setenv("STYRKEDJA_REBUILD_EXPLAIN", str(plans))
    real = bulk.rebuild_compliance
    after: list[str] = []

    async def compliance(session, **kwargs):
        n = await real(session, **kwargs)
        after.append((await session.execute(text("SELECT current_setting('enable_nestloop')"))).scalar_one())
        return n

    monkeypatch.setattr(bulk, "rebuild_compliance", compliance)
    db = Database(database_urls["rebuild"])
    try:
        await rebuilt(settings, db, full_log(), connections=2)
        async with db.sessions() as session:
            assert (await session.execute(text("SELECT count(*) FROM compliance_items"))).scalar_one() > 0
    finally:
        await db.dispose()
    plan = plans.read_text().split("-- compliance.items\n")[1].split("\n-- ")[0]
    assert "Insert on compliance_items" in plan and "Hash" in plan, plan
    assert "Nested Loop" not in plan, plan
    assert after == ["on"]


async def test_the_pass_figure_joins_its_cells_by_hash_not_by_a_nested_loop(settings, database_urls, monkeypatch,
                                                                            tmp_path):
    """figures.pass joins its counters, students and newest days on the seven-column cell; the first join is
    estimated at one row, and with nested loops allowed the newest days were joined to every cell by a loop over all
    cells (cells × cells: 254 PostgreSQL CPU seconds of a 567 s rebuild at 402k events of make bench's term shape,
    bench/README.md "benchshape"). It runs with `enable_nestloop` off (only a lateral join, two rows a fact, may still
    loop), and the setting is back as it was after the statement."""
    plans = tmp_path / "plans.txt"
    monkeypatch.setenv("STYRKEDJA_REBUILD_EXPLAIN", str(plans))
    real = bulk._figure
    after: dict[str, str] = {}

    async def figure(session, name):
        await real(session, name)
        after[name] = (await session.execute(text("SELECT current_setting('enable_nestloop')"))).scalar_one()

    monkeypatch.setattr(bulk, "_figure", figure)
    db = Database(database_urls["rebuild"])
    try:
        await rebuilt(settings, db, full_log(), connections=2)
        async with db.sessions() as session:
            assert (await session.execute(text("SELECT count(*) FROM figure_pass"))).scalar_one() > 0
    finally:
        await db.dispose()
    plan = plans.read_text().split("-- figures.pass\n")[1].split("\n-- ")[0]
    loops = [line for line in plan.splitlines() if "Nested Loop" in line]
    # the one loop left is each fact made two rows (CROSS JOIN LATERAL of its term and its round)
    assert all("Left Join" not in line and "Semi" not in line for line in loops), plan
    assert "Join Filter" not in plan, plan
    assert after["pass"] == "on"


async def test_a_rebuild_cancelled_mid_statement_drops_its_schema_and_stops_the_statement(settings, database_urls,
                                                                                         monkeypatch):
    """What SIGTERM now does to `styrkedja rebuild reporting` (`command.cancelled_on_sigterm`), and Ctrl-C did: the
    work cancelled while a job's statement runs. The statement is stopped in its backend, the rebuild's schema
    dropped, the live tables as they were (the full demo's compliance statement ran on and left its schema)."""
    log = full_log()
    db = Database(database_urls["rebuild"])

    async def long_statement(session, name):
        await session.execute(text("SELECT pg_sleep(60)"))

    async def sleeping() -> int:
        async with db.sessions() as session:
            return int((await session.execute(text(
                "SELECT count(*) FROM pg_stat_activity WHERE query = 'SELECT pg_sleep(60)' AND state = 'active'"
            ))).scalar_one())

    try:
        await rebuilt(settings, db, log[:len(log) // 2])
        before = await every_row(db)
        monkeypatch.setattr(bulk, "_figure", long_statement)
        work = asyncio.create_task(rebuilt(settings, db, log, connections=2))
        for _ in range(300):
            if await sleeping():
                break
            await asyncio.sleep(0.1)
        assert await sleeping() >= 1 and not work.done()
        work.cancel()
        with pytest.raises(asyncio.CancelledError):
            await asyncio.wait_for(work, 30)
        assert await sleeping() == 0
        assert await shadow_schemas(db) == []
        assert await every_row(db) == before
    finally:
        await db.dispose()

"""Issue 16: the bulk rebuild (`styrkedja_reporting.rebuild`) makes the same database as the incremental
apply of the same log, table for table and row for row — every derived table, not only the results'.

The log is `test_batch_split`'s (a school unit moving between areas mid-stream, revisions crossing the pass
level, retractions before what they retract, term grades, support for one subject or all) plus forecasts
with revisions and withdrawals, group memberships and teaching assignments (compliance), re-deliveries of
events, events of a type nobody handles, and a LIKA self-assessment for another organiser's school unit (refused:
left out and handed back for the dead-letter topic). After a rebuild of the first part, the consumer's own
transaction applies the rest (with re-deliveries of rebuilt events): again the same database as the
incremental apply of the whole log — no double count, no gap."""

from __future__ import annotations

import random
from collections import Counter
from datetime import date, timedelta
from uuid import uuid5

import pytest
from sqlalchemy import text

from styrkedja_contracts import new_event
from styrkedja_contracts.events.forecast import ForecastSubmittedV1, ForecastWithdrawnV1
from styrkedja_contracts.events.lika import LikaSelfAssessmentPublishedV1
from styrkedja_contracts.events.organisation import GroupMembershipUpsertedV1, TeachingAssignmentUpsertedV1
from styrkedja_kit.db import Database
from styrkedja_reporting.main import handler_registry
from styrkedja_reporting.metadata import metadata
from styrkedja_reporting.rebuild.bulk import APPLIED, OFFSETS, derived_tables, rebuild

from .test_batch_split import CODES, NS, ORG, SUBJECTS, T0, check, delivered, in_batches, loop_on, make_log

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
            fid = uuid5(NS, f"f-{student}-{subject}")
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


def full_log(seed: int = 16) -> list:
    log = make_log(seed)
    directory, rest = log[:6], log[6:]
    extras = _extras(seed)
    rest = rest + extras
    random.Random(seed).shuffle(rest)
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


async def rebuilt(settings, db: Database, events: list, next_offsets=None):
    handles = handler_registry(live_alerts=False).handles
    async with db.sessions.begin() as session:
        return await rebuild(session, delivered(events), group_id=GROUP, next_offsets=next_offsets or {},
                             handles=handles, chunk=37)


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

        report = await rebuilt(settings, dbs["rebuild"], redelivered, {("t", 0): len(redelivered)})
        unique = len({event.id for event in log})
        assert report.duplicates == len(redelivered) - unique >= 40 and report.failed == []
        assert report.applied == unique
        assert {"directory", "facts", "levels", "figures", "compliance", "alerts"} <= set(report.stages)

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
        for way in ("rebuild", "rebuild then live"):
            await check(dbs[way], log)
            found = await database_rows(dbs[way])
            for table, expected in reference.items():
                if table == OFFSETS:
                    continue
                assert found[table] == expected, (way, table, found[table] - expected, expected - found[table])
        offsets = await database_rows(dbs["rebuild"])
        assert list(offsets[OFFSETS]) == [(GROUP, "t", "0", str(len(redelivered)))]
    finally:
        for db in dbs.values():
            await db.dispose()


async def test_a_refused_event_is_left_out_and_handed_back_and_a_second_rebuild_changes_nothing(settings,
                                                                                                database_urls):
    log = full_log()
    refused = _lika_of_another_organiser()
    db = Database(database_urls["rebuild"])
    try:
        # the directory places CODES[0] under ORG (make_log's first events)
        report = await rebuilt(settings, db, log[:20] + [refused] + log[20:])
        assert [f.item.event.id for f in report.failed] == [refused.id]
        assert report.failed[0].reason == "school_unit_of_another_organiser"
        first = await database_rows(db)
        assert str(refused.id) not in {row[0] for row in first[APPLIED]}
        await rebuilt(settings, db, log)  # over an existing database: emptied first, the same again
        assert await database_rows(db) == first
    finally:
        await db.dispose()


def test_the_rebuild_keeps_what_is_not_derived_from_the_log():
    kept = set(metadata.tables) - set(derived_tables()) - {APPLIED, OFFSETS}
    assert kept == {"alerts", "alert_comments", "alert_thresholds", "directory_published", "access_audit", "outbox",
                    "outbox_partition_marks"}

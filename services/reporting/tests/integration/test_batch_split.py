"""Issue 16 / invariant 1: the size and split of consumer batches never changes what reporting counts.

One event log (a directory with a school unit moving between areas mid-stream; assessments of the
same student × subject in two rounds, some in another school unit, term grades, revisions that cross
the pass level, retractions, one before what it retracts; support interventions for one subject or
all subjects whose revisions make them active and inactive, retractions) applied through the kit's
consumer transaction (`ConsumerLoop._apply`: the ids claimed, then the handlers) into fresh databases:

* as ONE batch (what `consumer_max_records` 10,000 makes of a backlog),
* in batches of 5 in log order, and shuffled in batches of 17 with events delivered again,
* by the halving path (`_apply_halves` over `in_time_order`, as after a failed batch),
* as a SIGKILL and a replay do it: 60 % committed in batches of 50, then the whole log again as one
  batch (the committed part are duplicates), then again shuffled in batches of 23.

Every database must equal the service's recomputation (`/v1/admin/consistency`'s functions), the same
figure recomputed here from the log alone ("below the pass level without support"), and the tables of
the one-batch database, row for row."""

from __future__ import annotations

import random
from collections import Counter
from datetime import UTC, date, datetime, timedelta
from uuid import UUID, uuid5

import pytest
from sqlalchemy import text

from styrkedja_contracts import new_event, topic_for_event_type
from styrkedja_contracts.events.assessment import AssessmentPublishedV1, AssessmentRetractedV1
from styrkedja_contracts.events.organisation import OrganisationUnitUpsertedV1
from styrkedja_contracts.events.support import SupportInterventionRecordedV1, SupportInterventionRetractedV1
from styrkedja_kit.consumer import ConsumerLoop, Delivered, in_time_order
from styrkedja_kit.db import Database
from styrkedja_reporting.main import handler_registry
from styrkedja_reporting.metadata import metadata
from styrkedja_reporting.ops.queries import consistency_of, snapshot
from styrkedja_reporting.results.tables import ASSESSMENTS
from styrkedja_reporting.support import handlers as support_handlers
from styrkedja_reporting.support import read as support_read
from styrkedja_reporting.support.handlers import mismatches
from support import decision

pytestmark = [pytest.mark.integration, pytest.mark.postgres_only]

NS = UUID("7d3c1a52-0000-4000-8000-00000000b16b")
T0 = datetime(2026, 10, 1, 8, 0, tzinfo=UTC)
ORG = "2998"
NORTH, SOUTH = "area-north", "area-south"
START_AREA = {"11111111": NORTH, "22222222": NORTH, "33333333": SOUTH}
MOVING = "22222222"  # to the south mid-stream
FINAL_AREA = {**START_AREA, MOVING: SOUTH}
CODES = tuple(START_AREA)
SUBJECTS = ("GRGRMAT01", "GRGRSVE01", "GRGRENG01")
ACTIVE = ("decided", "in_progress")
STATUSES = ("proposed", "decided", "in_progress", "evaluated", "closed")
TABLES = ("support_below_pass", "support_aggregates", "support_students", "support_facts",
          "assessment_aggregates", "assessment_facts")


# ---------------------------------------------------------------- the event log

def _unit(kind: str, unit_id: str, parent: str | None, code: str | None, at: datetime):
    return new_event(OrganisationUnitUpsertedV1(organiser_id=ORG, unit_type=kind, unit_id=unit_id, parent_id=parent,
                                                name=f"{kind} {unit_id}", school_unit_code=code, updated_at=at),
                     source="/t")


def _result(aid: UUID, revision: int, value: str, *, student: str, code: str, group: str, subject: str,
            round_: int, kind: str = "assessment"):
    return new_event(AssessmentPublishedV1(
        assessment_id=aid, revision=revision, organiser_id=ORG, school_unit_code=code, group_id=group,
        student_id=student, teacher_id="t-1", gender="female", year=7, subject_code=subject, kind=kind, scale="AF",
        value=value, unmet_criteria=("K1",) if value == "F" else (), school_year="2026/27", term="HT", round=round_,
        assessed_on=date(2026, 9, 1) + timedelta(weeks=6 * round_), published_at=T0 + timedelta(minutes=revision)),
        source="/t")


def _retraction(aid: UUID, revision: int, *, student: str, code: str, group: str, subject: str, round_: int):
    return new_event(AssessmentRetractedV1(
        assessment_id=aid, revision=revision, organiser_id=ORG, school_unit_code=code, group_id=group,
        student_id=student, subject_code=subject, school_year="2026/27", term="HT", round=round_,
        retracted_at=T0 + timedelta(minutes=revision)), source="/t")


def make_log(seed: int) -> list:
    rnd = random.Random(seed)
    directory = [_unit("organiser", ORG, None, None, T0), _unit("area", NORTH, ORG, None, T0),
                 _unit("area", SOUTH, ORG, None, T0)]
    directory += [_unit("school_unit", f"su-{code}", area, code, T0) for code, area in START_AREA.items()]
    log: list = []
    for i in range(30):
        student, group = f"s-{i}", ("7A", "7B")[i % 2]
        for subject in SUBJECTS:
            for round_ in (1, 2):
                # every fifth student changed school before round 2: the newest result is in another unit
                code = CODES[(i + (round_ == 2 and i % 5 == 0)) % 3]
                kinds = ["assessment"] + (["term_grade"] if round_ == 2 and rnd.random() < 0.3 else [])
                for kind in kinds:
                    aid = uuid5(NS, f"a-{student}-{subject}-{round_}-{kind}")
                    place = dict(student=student, code=code, group=group, subject=subject, round_=round_)
                    revisions = rnd.randint(1, 3)
                    for revision in range(1, revisions + 1):  # values that cross the pass level both ways
                        log.append(_result(aid, revision, rnd.choice("ABCEFFF"), kind=kind, **place))
                    if rnd.random() < 0.15:
                        retraction = _retraction(aid, revisions + 1, **place)
                        if rnd.random() < 0.3:  # it arrives before the assessment it retracts
                            log.insert(rnd.randrange(len(log) + 1), retraction)
                        else:
                            log.append(retraction)
        for j in range(rnd.randint(0, 2)):
            iid = uuid5(NS, f"i-{student}-{j}")
            subject = rnd.choice((*SUBJECTS, None))  # None: support in every subject
            place = dict(organiser_id=ORG, school_unit_code=CODES[i % 3], group_id=group, student_id=student,
                         subject_code=subject, kind=rnd.choice(("extra_adjustment", "special_support")))
            revisions = rnd.randint(1, 3)
            for revision in range(1, revisions + 1):
                status = rnd.choice(STATUSES)
                log.append(new_event(SupportInterventionRecordedV1(
                    intervention_id=iid, revision=revision, status=status, start_date=date(2026, 9, 1),
                    recorded_at=T0 + timedelta(minutes=revision), **place,
                    **decision(str(place["kind"]), status, date(2026, 9, 1))), source="/t"))
            if rnd.random() < 0.2:
                log.append(new_event(SupportInterventionRetractedV1(
                    intervention_id=iid, revision=revisions + 1, retracted_at=T0, **place), source="/t"))
    # interleave the two topics as a fetch may, the move half-way
    rnd.shuffle(log)
    half = len(log) // 2
    move = _unit("school_unit", f"su-{MOVING}", SOUTH, MOVING, T0 + timedelta(hours=1))
    return directory + log[:half] + [move] + log[half:]


def expected_below_pass(log: list) -> Counter:
    """Recomputed here from the log alone: (level, unit, organiser, subject, student) of every student
    whose newest result in a subject (latest round, a term grade over an assessment) is an F and who has
    no active intervention in the subject nor one for every subject, at every level (the table keeps the group's
    rows; the levels above are read from them)."""
    newest: dict = {}
    for event in log:
        data = event.data
        key = getattr(data, "assessment_id", None) or getattr(data, "intervention_id", None)
        if key is not None and (key not in newest or data.revision > newest[key][0]):
            newest[key] = (data.revision, event)
    results, supported = {}, set()
    for _, event in newest.values():
        data = event.data
        if isinstance(data, AssessmentPublishedV1):
            cell = (data.student_id, data.subject_code)
            order = (data.round, data.kind == "term_grade")
            if cell not in results or order > results[cell][0]:
                results[cell] = (order, data)
        elif isinstance(data, SupportInterventionRecordedV1) and data.status in ACTIVE:
            supported.add((data.student_id, data.subject_code))
    out: Counter = Counter()
    for (student, subject), (_, data) in results.items():
        if data.value != "F" or (student, subject) in supported or (student, None) in supported:
            continue
        for level, unit in (("group", f"{data.school_unit_code}/{data.group_id}"),
                            ("school_unit", data.school_unit_code), ("area", FINAL_AREA[data.school_unit_code]),
                            ("organiser", ORG)):  # no nation cells: its reads take the organiser's
            out[(level, unit, ORG, subject, student)] += 1
    return out


# ---------------------------------------------------------------- applying as the consumer does

def delivered(events: list) -> list[Delivered]:
    offsets: Counter = Counter()
    out = []
    for event in events:
        topic = topic_for_event_type(event.type).name
        out.append(Delivered(event, topic, 0, offsets[topic]))
        offsets[topic] += 1
    return out


def loop_on(settings, db: Database) -> ConsumerLoop:
    return ConsumerLoop(settings, db, group_id="reporting-batch-split", topics=[], handler=handler_registry(),
                        applied_table=metadata.tables["consumer_applied_events"],
                        offsets_table=metadata.tables["consumer_offsets"])


async def in_batches(loop: ConsumerLoop, events: list, size: int) -> None:
    for start in range(0, len(events), size):
        await loop._apply(delivered(events[start:start + size]), {})


async def rows(db: Database, table: str) -> Counter:
    async with db.sessions() as session:
        result = await session.execute(text(f"SELECT * FROM {table}"))
        # an assessment's `received_at` (its run's first time, `results.rules.run_time`) follows the log's order, as
        # compliance's round reports did (rounds33): the shuffled way is another log there; the rest of the fact not
        keep = [i for i, name in enumerate(result.keys()) if not (table == "assessment_facts" and name == "received_at")]
        found = result.all()
    return Counter(tuple(str(row[i]) for i in keep) for row in found)


async def check(db: Database, log: list) -> Counter:
    async with db.sessions() as session:
        found = await mismatches(session)
        assert {k: {lv: n for lv, n in levels.items() if n} for k, levels in found.items()} == {
            k: {} for k in found}, found
        assert set((await ASSESSMENTS.mismatches(session)).values()) == {0}
        below = (await session.execute(text(
            "SELECT level, unit_id, organiser_id, subject_code, student_id, count FROM support_below_pass"))).all()
        # each level's students per unit and subject as the reads take them from the group rows (the area's through
        # the school unit's placement after the move)
        read_below = {level: await support_read.units_below_pass(session, level, None)
                      for level in ("group", "school_unit", "area", "organiser")}
    expected = expected_below_pass(log)
    assert Counter({tuple(r[:5]): r[5] for r in below}) == Counter({k: n for k, n in expected.items() if k[0] == "group"})
    for level, units in read_below.items():
        per_unit: Counter = Counter()
        for (lv, unit, organiser, subject, _), n in expected.items():
            if lv == level:
                per_unit[(organiser, unit, subject)] += n
        assert {k: n for k, n in units.items() if k[2] is not None} == dict(per_unit), level
    return Counter({tuple(r[:5]): r[5] for r in below})


WAYS = ("one batch", "batches of 5", "shuffled, batches of 17", "halving", "killed and replayed")


@pytest.fixture
def database_urls(fresh_database) -> dict[str, str]:
    """A fresh migrated database for each way of applying the log (made outside the test's event loop)."""
    return {way: fresh_database("styrkedja_reporting") for way in WAYS}


async def test_one_batch_small_batches_halves_and_a_replay_after_a_kill_count_the_same(settings, database_urls):
    log = make_log(16)
    expected = expected_below_pass(log)
    # the log exercises what it should: students below the pass level with and without support, in
    # a school unit that moved, and an all-subject intervention that covers a subject
    assert any(key[0] == "area" and key[1] == SOUTH for key in expected) and len(expected) >= 25
    dbs = {way: Database(url) for way, url in database_urls.items()}
    try:
        await loop_on(settings, dbs["one batch"])._apply(delivered(log), {})

        await in_batches(loop_on(settings, dbs["batches of 5"]), log, 5)

        shuffled = list(log)
        random.Random(5).shuffle(shuffled)
        loop = loop_on(settings, dbs["shuffled, batches of 17"])
        await in_batches(loop, shuffled, 17)
        await in_batches(loop, shuffled[:120], 40)  # delivered again

        loop = loop_on(settings, dbs["halving"])
        failed: list = []
        await loop._apply_halves(in_time_order(delivered(log)), {}, failed, failed_already=True)
        assert failed == []

        loop = loop_on(settings, dbs["killed and replayed"])
        await in_batches(loop, log[:len(log) * 6 // 10], 50)
        await loop._apply(delivered(log), {})  # read again from the stored offsets' start: one big batch
        await in_batches(loop, shuffled, 23)

        reference = {table: await rows(dbs["one batch"], table) for table in TABLES}
        for name, db in dbs.items():
            assert await check(db, log) == Counter({k: n for k, n in expected.items() if k[0] == "group"}), name
            for table in TABLES:
                assert await rows(db, table) == reference[table], (name, table)
    finally:
        for db in dbs.values():
            await db.dispose()


async def test_the_consistency_check_reads_one_snapshot_while_the_consumer_commits(settings, database_urls,
                                                                                   monkeypatch):
    """`/v1/admin/consistency` reads the facts for "below the pass level without support" in one statement
    and compares the table in a later one. A batch committed in between (the consumer still applying,
    e.g. events of other organisers after a test's own are in) made exact data look inexact at READ
    COMMITTED; in the check's snapshot it is consistent."""
    log = make_log(16)
    db = Database(database_urls["one batch"])
    try:
        loop = loop_on(settings, db)
        half = len(log) // 2
        await loop._apply(delivered(log[:half]), {})
        pending = [log[half:half + half // 2], log[half + half // 2:]]
        original = support_handlers.recomputed_below_pass

        async def recomputed_then_a_batch_commits(session, **student_slice):  # (one slice at this size)
            found = await original(session, **student_slice)
            if pending:  # the consumer commits its next batch on its own connection meanwhile
                await loop._apply(delivered(pending.pop(0)), {})
            return found

        monkeypatch.setattr(support_handlers, "recomputed_below_pass", recomputed_then_a_batch_commits)
        async with db.sessions() as session:  # READ COMMITTED, as the check read before
            torn = await consistency_of(session)
        assert not torn.consistent and sum(torn.per_level["below_pass_without_support"].values()) > 0, torn
        async with snapshot(db) as session:
            whole = await consistency_of(session)
        assert not pending, "a batch must have been committed during the snapshot's check"
        assert whole.consistent, whole
        monkeypatch.undo()
        await check(db, log)  # and every batch left it exact
    finally:
        await db.dispose()

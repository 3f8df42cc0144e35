"""The directory applied for real, six exact levels, area moves, unplaced results, the handler
registry, and a rebuild from the event log — against a real PostgreSQL.

Expected figures are recomputed here from the event log alone (the newest revision of each
assessment, the newest placement of each school unit), never with the service's own functions.
"""

from __future__ import annotations

import random
from collections import Counter
from datetime import UTC, date, datetime, timedelta
from uuid import UUID, uuid5

import pytest
from sqlalchemy import func, select, text

from styrkedja_contracts import (
    AssessmentPublishedV1,
    AssessmentRetractedV1,
    GroupMembershipUpsertedV1,
    OrganisationEntityRemovedV1,
    OrganisationUnitUpsertedV1,
    TeachingAssignmentUpsertedV1,
    new_event,
)
from styrkedja_kit.consumer import ConsumerLoop, Delivered
from styrkedja_kit.db import Database
from styrkedja_reporting.main import handler_registry
from styrkedja_reporting.ops.queries import _unplaced_sql
from styrkedja_reporting.persistence import metadata
from styrkedja_reporting.registry import HandlerRegistry
from styrkedja_reporting.results.handlers import EVENT_TYPES as RESULT_TYPES
from styrkedja_reporting.results.handlers import apply_results
from styrkedja_reporting.results.read import Filters, read_cells
from styrkedja_reporting.results.tables import ASSESSMENTS
from styrkedja_reporting.settings import ReportingSettings

pytestmark = [pytest.mark.integration, pytest.mark.postgres_only]

NS = UUID("5b1f0c1e-0000-4000-8000-00000000d1d1")
T0 = datetime(2026, 9, 1, 8, 0, tzinfo=UTC)
TOPIC = {"assessment": "styrkedja.assessments", "organisation": "styrkedja.organisation",
         "forecast": "styrkedja.forecasts", "calendar": "styrkedja.forecasts"}


# ---------------------------------------------------------------- events

def unit(kind: str, unit_id: str, organiser: str, parent: str | None, *, code: str | None = None, at: int = 0,
         year: int | None = None):
    return new_event(OrganisationUnitUpsertedV1(
        unit_type=kind, unit_id=unit_id, organiser_id=organiser, parent_id=parent, name=f"{kind} {unit_id}",
        school_unit_code=code, year=year, updated_at=T0 + timedelta(minutes=at)), source="/test")


def removed_unit(kind: str, unit_id: str, organiser: str, *, code: str | None = None, at: int = 0):
    return new_event(OrganisationEntityRemovedV1(
        entity="unit", entity_id=unit_id, organiser_id=organiser, unit_type=kind, school_unit_code=code,
        removed_at=T0 + timedelta(minutes=at)), source="/test")


def membership(mid: str, organiser: str, code: str, group: str, student: str, start: date, end: date | None = None):
    return new_event(GroupMembershipUpsertedV1(
        membership_id=mid, organiser_id=organiser, school_unit_code=code, group_id=group, student_id=student,
        start_date=start, end_date=end, updated_at=T0), source="/test")


def published(aid: UUID, revision: int, value: str, organiser: str, code: str, group: str, student: str,
              subject: str = "GRGRMAT01"):
    return new_event(AssessmentPublishedV1(
        assessment_id=aid, revision=revision, organiser_id=organiser, school_unit_code=code, group_id=group,
        student_id=student, teacher_id="t-1", gender="female", year=7, subject_code=subject, kind="assessment",
        scale="AF", value=value, unmet_criteria=("Taluppfattning",) if value == "F" else (),
        school_year="2026/27", term="HT", round=1, assessed_on=date(2026, 9, 30),
        published_at=T0 + timedelta(minutes=revision)), source="/test")


def retracted(aid: UUID, revision: int, organiser: str, code: str, group: str, student: str,
              subject: str = "GRGRMAT01"):
    return new_event(AssessmentRetractedV1(
        assessment_id=aid, revision=revision, organiser_id=organiser, school_unit_code=code, group_id=group,
        student_id=student, subject_code=subject, school_year="2026/27", term="HT", round=1,
        retracted_at=T0 + timedelta(minutes=revision)), source="/test")


def directory(at: int = 0) -> list:
    """Two organisers: 2999 with areas north and south (two schools, both with a group "7A"),
    3001 with one school straight under the organiser (no area), also with a "7A"."""
    return [
        unit("organiser", "2999", "2999", None, at=at), unit("area", "north", "2999", "2999", at=at),
        unit("area", "south", "2999", "2999", at=at),
        unit("school_unit", "su-a", "2999", "north", code="11111111", at=at),
        unit("school_unit", "su-b", "2999", "south", code="22222222", at=at),
        unit("group", "7A", "2999", "su-a", code="11111111", year=7, at=at),
        unit("group", "7A", "2999", "su-b", code="22222222", year=7, at=at),
        unit("organiser", "3001", "3001", None, at=at),
        unit("school_unit", "su-c", "3001", "3001", code="33333333", at=at),
        unit("group", "7A", "3001", "su-c", code="33333333", year=7, at=at),
    ]


PLACES = [("2999", "11111111", "7A"), ("2999", "22222222", "7A"), ("3001", "33333333", "7A"),
          ("2999", "11111111", "7B")]


def assessments(rng: random.Random, n: int, tag: str) -> list:
    log = []
    for i in range(n):
        organiser, code, group = rng.choice(PLACES)
        aid, student = uuid5(NS, f"{tag}-{i}"), f"s-{tag}-{i}"
        log.append(published(aid, 1, rng.choice("ABCDEF"), organiser, code, group, student))
        if rng.random() < 0.3:
            log.append(published(aid, 2, rng.choice("ABCDEF"), organiser, code, group, student))
        if rng.random() < 0.15:
            log.append(retracted(aid, 3, organiser, code, group, student))
    return log


# ---------------------------------------------------------------- applying and recomputing

class Feeder:
    """Applies batches straight through the handler registry, as the consumer loop would."""

    def __init__(self, db: Database, handler=None) -> None:
        self.db, self.handler, self.offset = db, handler or handler_registry(), 0

    async def __call__(self, *batches) -> None:
        for batch in batches:
            delivered = []
            for event in batch:
                delivered.append(Delivered(event, TOPIC[event.type.split(".")[2]], 0, self.offset))
                self.offset += 1
            async with self.db.sessions.begin() as session:
                await self.handler(session, delivered)


def expected(log: list) -> Counter:
    """(level, unit id, value) → students, from the log alone."""
    newest: dict = {}
    areas: dict[str, tuple] = {}
    for event in log:
        data = event.data
        if event.type == OrganisationUnitUpsertedV1.event_type and data.unit_type == "school_unit":
            area = data.parent_id if data.parent_id in ("north", "south") else None
            if data.school_unit_code not in areas or data.updated_at >= areas[data.school_unit_code][0]:
                areas[data.school_unit_code] = (data.updated_at, area)
        if event.type == OrganisationEntityRemovedV1.event_type and data.unit_type == "school_unit" and (
                data.school_unit_code not in areas or data.removed_at >= areas[data.school_unit_code][0]):
                areas[data.school_unit_code] = (data.removed_at, None)
        if hasattr(data, "assessment_id") and (
                data.assessment_id not in newest or data.revision > newest[data.assessment_id].data.revision):
                newest[data.assessment_id] = event
    cells: Counter = Counter()
    for event in newest.values():
        if event.type != AssessmentPublishedV1.event_type:
            continue
        d = event.data
        area = areas.get(d.school_unit_code, (None, None))[1]
        for level, unit_id in (("group", f"{d.school_unit_code}/{d.group_id}"),
                               ("school_unit", d.school_unit_code), ("area", area),
                               ("organiser", d.organiser_id)):  # no nation cells (read from the organiser's)
            if unit_id is not None:
                cells[(level, unit_id, d.value)] += 1
    return cells


async def materialised(db: Database) -> Counter:
    """The cells as the reads take them: an area's from its school units' rows (`ASSESSMENTS.read_rows`)."""
    a = ASSESSMENTS.read_rows.c
    async with db.sessions() as session:
        rows = (await session.execute(select(a.level, a.unit_id, a.value, func.sum(a.count)).group_by(
            a.level, a.unit_id, a.value))).all()
    return Counter({(r[0], r[1], r[2]): int(r[3]) for r in rows if r[3]})


async def assert_exact(db: Database, log: list) -> None:
    async with db.sessions() as session:
        assert set((await ASSESSMENTS.mismatches(session)).values()) == {0}
        # no area rows are kept (migration 0039): an area's cells are its school units'
        assert (await session.execute(text("SELECT count(*) FROM assessment_aggregates WHERE level = 'area'"))
                ).scalar_one() == 0
    assert await materialised(db) == expected(log)


@pytest.fixture
def database_url(fresh_database) -> str:
    return fresh_database("styrkedja_reporting")


@pytest.fixture
async def database(database_url):
    database = Database(database_url)
    yield database
    await database.dispose()


# ---------------------------------------------------------------- tests

async def test_two_schools_with_a_7a_in_the_same_and_in_different_organisers(database):
    feed = Feeder(database)
    log = directory() + [published(uuid5(NS, f"x{i}"), 1, v, *place, f"s-x{i}")
                         for i, (v, place) in enumerate(zip("ABC", PLACES[:3], strict=True))]
    await feed(log)
    await assert_exact(database, log)
    got = await materialised(database)
    assert got[("group", "11111111/7A", "A")] == 1 and got[("group", "22222222/7A", "B")] == 1
    assert got[("group", "33333333/7A", "C")] == 1
    assert got[("area", "north", "A")] == 1 and got[("area", "south", "B")] == 1
    assert not any(key[0] == "area" and key[2] == "C" for key in got)  # 3001's school has no area
    async with database.sessions() as session:  # the nation's read: every organiser's cells, summed
        nation = await read_cells(session, "assessments", "nation", Filters())
    assert {(c.unit_id, c.organiser_id) for c in nation} == {("SE", None)}
    assert sum((Counter(c.distribution) for c in nation), Counter()) == {"A": 1, "B": 1, "C": 1}


async def test_a_school_moving_between_areas_takes_its_results_along(database):
    feed, rng = Feeder(database), random.Random(5)
    before = directory() + assessments(rng, 120, "before")
    await feed(*[before[i:i + 17] for i in range(0, len(before), 17)])
    await assert_exact(database, before)
    moved = [unit("school_unit", "su-a", "2999", "south", code="11111111", at=10)]
    after = assessments(rng, 60, "after")
    log = before + moved + after
    await feed(after[:20] + moved + after[20:40], after[40:])  # the move mid-batch, mid-stream
    await assert_exact(database, log)
    got = await materialised(database)
    assert not any(key[:2] == ("area", "north") for key in got)  # north has no school left
    # an older upsert arriving late changes nothing: the newest change wins
    await feed([unit("school_unit", "su-a", "2999", "north", code="11111111", at=5)])
    await assert_exact(database, log)


async def test_results_of_an_unknown_school_count_everywhere_else_and_are_placed_later(database):
    feed = Feeder(database)
    early = [published(uuid5(NS, "u1"), 1, "B", "2999", "44444444", "9C", "s-u1")]
    await feed(directory(), early)
    await assert_exact(database, directory() + early)
    assert await unplaced(database) == {("school_unit", "44444444", None): 1, ("group", "44444444", "9C"): 1}
    got = await materialised(database)
    assert got[("school_unit", "44444444", "B")] == 1 and got[("organiser", "2999", "B")] == 1
    assert not any(key[0] == "area" for key in got)
    late = [unit("school_unit", "su-d", "2999", "north", code="44444444", at=20)]
    await feed(late)
    await assert_exact(database, directory() + early + late)
    assert (await materialised(database))[("area", "north", "B")] == 1
    assert await unplaced(database) == {("group", "44444444", "9C"): 1}  # the school is placed, its group not
    removal = [removed_unit("school_unit", "su-d", "2999", code="44444444", at=30)]
    await feed(removal)
    await assert_exact(database, directory() + early + late + removal)
    assert ("area", "north", "B") not in await materialised(database)


async def test_an_event_type_without_handler_is_not_recorded_and_a_replay_applies_it(database, database_url):
    settings = ReportingSettings(database_url=database_url)
    tables = metadata.tables
    only_results = HandlerRegistry()
    only_results.register(RESULT_TYPES, apply_results)

    def loop(registry: HandlerRegistry) -> ConsumerLoop:
        return ConsumerLoop(settings, database, group_id="t", topics=[], handler=registry,
                            applied_table=tables["consumer_applied_events"],
                            offsets_table=tables["consumer_offsets"], handles=registry.handles)

    log = directory() + [published(uuid5(NS, "r1"), 1, "A", "2999", "11111111", "7A", "s-r1")]
    delivered = [Delivered(e, TOPIC[e.type.split(".")[2]], 0, n) for n, e in enumerate(log)]
    first = loop(only_results)
    assert [d.event.id for d in await first._apply(first._handled(delivered), {})] == [log[-1].id]
    async with database.sessions() as session:
        applied = set((await session.execute(text("SELECT event_id FROM consumer_applied_events"))).scalars())
        units = (await session.execute(text("SELECT count(*) FROM directory_units"))).scalar_one()
    assert applied == {log[-1].id} and units == 0  # the organisation events were skipped, not recorded
    assert ("area", "north", "A") not in await materialised(database)

    second = loop(handler_registry())  # the directory handler is added; the topic is replayed
    fresh = await second._apply(second._handled(delivered), {})
    assert {d.event.id for d in fresh} == {e.id for e in log[:-1]}
    assert (await materialised(database))[("area", "north", "A")] == 1
    await assert_exact(database, log)


async def test_rosters_and_teaching_assignments(database):
    feed = Feeder(database)
    d0, d1 = date(2026, 8, 17), date(2027, 1, 10)
    events = directory() + [
        membership("m1", "2999", "11111111", "7A", "p1", d0),
        membership("m2", "2999", "11111111", "7A", "p2", d0, date(2026, 12, 20)),  # left before d1
        membership("m3", "2999", "22222222", "7A", "p3", d0),
        membership("m4", "3001", "33333333", "7A", "p4", d0),
        new_event(TeachingAssignmentUpsertedV1(
            assignment_id="act-1", organiser_id="2999", school_unit_code="11111111", group_id="7A",
            teacher_id="t-9", subject_code="GRGRMAT01", updated_at=T0), source="/test"),
    ]
    await feed(events)
    async with database.sessions() as session:
        def sizes(level_sql: str, on: date):
            return session.execute(text(
                f"SELECT {level_sql}, count(DISTINCT student_id) FROM directory_memberships m "
                "LEFT JOIN school_unit_placements p USING (school_unit_code) "
                "WHERE NOT removed AND start_date <= :on AND (end_date IS NULL OR end_date >= :on) GROUP BY 1"),
                {"on": on})
        assert dict((await sizes("school_unit_code || '/' || group_id", d0)).all()) == {
            "11111111/7A": 2, "22222222/7A": 1, "33333333/7A": 1}
        assert dict((await sizes("p.area_id", d1)).all()) == {"north": 1, "south": 1, None: 1}
        teachers = (await session.execute(text(
            "SELECT teacher_id, group_id, subject_code FROM directory_teaching_assignments"))).all()
    assert [tuple(t) for t in teachers] == [("t-9", "7A", "GRGRMAT01")]


async def test_rebuild_drop_the_materialised_tables_replay_identical_cells(database):
    feed, rng = Feeder(database), random.Random(11)
    log = directory() + assessments(rng, 150, "a") + [
        unit("school_unit", "su-b", "2999", "north", code="22222222", at=10)] + assessments(rng, 80, "b")
    await feed(*[log[i:i + 23] for i in range(0, len(log), 23)])
    await assert_exact(database, log)
    before = await dump(database)
    async with database.sessions.begin() as session:
        await session.execute(text(
            "TRUNCATE assessment_aggregates, forecast_aggregates, assessment_facts, forecast_facts, figure_pass, "
            "figure_students, "
            "directory_units, directory_memberships, directory_teaching_assignments, directory_duties, "
            "school_unit_placements, lika_self_assessments, lika_action_plans, freshness, consumer_applied_events, consumer_offsets"))
    replay = Feeder(database)
    await replay(*[log[i:i + 200] for i in range(0, len(log), 200)])
    assert await dump(database) == before
    await assert_exact(database, log)


async def unplaced(database: Database) -> dict:
    async with database.sessions() as session:
        rows = (await session.execute(text(_unplaced_sql("assessment_facts", "retracted")),
                                      {"organiser": None})).all()
    return {(r[0], r[2], r[3]): int(r[4]) for r in rows}


async def dump(database: Database) -> list:
    async with database.sessions() as session:
        rows = (await session.execute(text("SELECT * FROM assessment_aggregates"))).all()
    return sorted((tuple(r) for r in rows), key=repr)


async def test_roster_sizes_are_materialised_and_equal_the_memberships_counted_on_every_day(database):
    """Coverage reads rosters as a lookup (`directory.rosters`): the step function kept per unit
    equals count(DISTINCT student) of the memberships current on the day — overlapping memberships
    of one student in one school, adjacent ones, a removal, a change, a school moved to another area."""
    from styrkedja_reporting.directory.rosters import LEVELS, mismatches, roster_sizes_on

    feed = Feeder(database)
    d = date(2026, 8, 17)
    batches = [directory(), [
        membership("m1", "2999", "11111111", "7A", "p1", d),
        membership("m2", "2999", "11111111", "7B", "p1", d + timedelta(days=10), d + timedelta(days=40)),  # overlaps m1
        membership("m3", "2999", "11111111", "7A", "p2", d, d + timedelta(days=20)),
        membership("m4", "2999", "11111111", "7A", "p2", d + timedelta(days=21)),  # adjacent to m3
        membership("m5", "2999", "22222222", "7A", "p3", d + timedelta(days=5), d + timedelta(days=5)),  # one day
        membership("m6", "2999", "22222222", "7A", "p4", d),
        membership("m7", "3001", "33333333", "7A", "p5", d, d + timedelta(days=60)),
    ], [
        new_event(OrganisationEntityRemovedV1(entity="membership", entity_id="m6", organiser_id="2999",
                                              removed_at=T0 + timedelta(minutes=5)), source="/test"),
        new_event(GroupMembershipUpsertedV1(
            membership_id="m7", organiser_id="3001", school_unit_code="33333333", group_id="7A", student_id="p5",
            start_date=d + timedelta(days=3), end_date=None, updated_at=T0 + timedelta(minutes=5)), source="/test"),
        unit("school_unit", "su-b", "2999", "north", code="22222222", at=10),  # moved to the north area
    ]]
    for batch in batches:
        await feed(batch)
    unit_of = {"group": "school_unit_code || '/' || group_id", "school_unit": "school_unit_code",
               "area": "p.area_id", "organiser": "m.organiser_id"}
    days = [d + timedelta(days=n) for n in (-1, 0, 2, 3, 4, 5, 6, 9, 10, 11, 20, 21, 22, 40, 41, 60, 61, 400)]
    async with database.sessions() as session:
        for organiser in ("2999", "3001"):
            for level in LEVELS:
                for day in days:
                    counted = dict((await session.execute(text(
                        f"SELECT {unit_of[level]}, count(DISTINCT student_id) FROM directory_memberships m "
                        "LEFT JOIN school_unit_placements p USING (school_unit_code) "
                        "WHERE m.organiser_id = :o AND NOT removed AND start_date <= :on "
                        "AND (end_date IS NULL OR end_date >= :on) GROUP BY 1"), {"o": organiser, "on": day})).all())
                    counted.pop(None, None)  # no area: not at area level
                    assert await roster_sizes_on(session, level, organiser, day) == counted, (organiser, level, day)
        assert await roster_sizes_on(session, "area", "2999", d + timedelta(days=5)) == {"north": 3}
        assert await roster_sizes_on(session, "group", "2999", d + timedelta(days=15)) == {
            "11111111/7A": 2, "11111111/7B": 1}
        assert set((await mismatches(session)).values()) == {0}

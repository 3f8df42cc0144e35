"""`apply_batch` against a real PostgreSQL: real CloudEvents in several batches and orders.

Invariant 2: only the newest revision counts, a retraction/withdrawal removes the contribution.
Invariant 3: the materialised aggregates equal a recomputation from the facts, and a rebuild
from the same event log (in any order and batching) gives identical aggregates.

The expected figures are recomputed here from the event log alone (not with the service's
domain functions), so a wrong fold or a wrong cell in the service cannot agree with itself.
"""

from __future__ import annotations

import random
from collections import Counter
from datetime import UTC, date, datetime, timedelta
from uuid import UUID, uuid5

import pytest
from sqlalchemy import select, text

from styrkedja_contracts import forecast_id_for, new_event
from styrkedja_contracts.events.assessment import AssessmentPublishedV1, AssessmentRetractedV1
from styrkedja_contracts.events.forecast import ForecastSubmittedV1, ForecastWithdrawnV1
from styrkedja_contracts.events.lika import LikaSelfAssessmentPublishedV1
from styrkedja_kit.consumer import Delivered
from styrkedja_kit.db import Database
from styrkedja_reporting.lika.tables import read_lika
from styrkedja_reporting.main import handler_registry
from styrkedja_reporting.results import tables as persistence
from styrkedja_reporting.results.read import Filters, read_cells

apply_batch = handler_registry()

pytestmark = [pytest.mark.integration, pytest.mark.postgres_only]

NS = UUID("5b1f0c1e-0000-4000-8000-00000000beef")
T0 = datetime(2026, 10, 1, 8, 0, tzinfo=UTC)
LEVEL_UNIT = {"group": lambda f: f"{f['school_unit_code']}/{f['group_id']}",
              "school_unit": lambda f: f["school_unit_code"], "organiser": lambda f: f["organiser_id"],
              "nation": lambda f: "SE"}  # no directory here: no school unit is placed in an area
TOPIC = {"assessment": "styrkedja.assessments", "forecast": "styrkedja.forecasts", "lika": "styrkedja.lika"}
A_DIMS = ("subject_code", "school_year", "term", "round", "kind", "scale", "year", "gender", "value")
F_DIMS = ("subject_code", "school_year", "term", "year", "gender", "value", "late")


# ---------------------------------------------------------------- events

def _place(organiser="2999", school_unit="12345678", group="7A") -> dict:
    return {"organiser_id": organiser, "school_unit_code": school_unit, "group_id": group}


def published(aid: UUID, revision: int, value: str = "C", *, student="s-1", subject="GRGRMAT01", round_=1,
              scale="AF", kind="assessment", gender="female", year=7, **place):
    below = value in ("F", "NOT_REACHED")
    return new_event(AssessmentPublishedV1(
        assessment_id=aid, revision=revision, **_place(**place), student_id=student, teacher_id="t-1",
        gender=gender, year=year, subject_code=subject, kind=kind, scale=scale, value=value,
        unmet_criteria=("Taluppfattning",) if below else (), school_year="2026/27", term="HT", round=round_,
        assessed_on=date(2026, 9, 30), published_at=T0 + timedelta(minutes=revision)), source="/test")


def retracted(aid: UUID, revision: int, *, student="s-1", subject="GRGRMAT01", round_=1, **place):
    return new_event(AssessmentRetractedV1(
        assessment_id=aid, revision=revision, **_place(**place), student_id=student, subject_code=subject,
        school_year="2026/27", term="HT", round=round_, retracted_at=T0 + timedelta(minutes=revision)),
        source="/test")


def submitted(fid: UUID, revision: int, value: str = "ACCEPTABLE", *, student="s-1", late=False,
              subject="GRGRMAT01", gender="male", year=8, **place):
    return new_event(ForecastSubmittedV1(
        forecast_id=fid, revision=revision, **_place(**place), student_id=student, teacher_id="t-1", gender=gender,
        year=year, subject_code=subject, school_year="2026/27", term="VT", value=value,
        submitted_at=T0 + timedelta(minutes=revision), window_deadline=date(2027, 4, 2), late=late), source="/test")


def withdrawn(fid: UUID, revision: int, *, student="s-1", subject="GRGRMAT01", **place):
    return new_event(ForecastWithdrawnV1(
        forecast_id=fid, revision=revision, **_place(**place), student_id=student, subject_code=subject,
        school_year="2026/27", term="VT", withdrawn_at=T0 + timedelta(minutes=revision)), source="/test")


def lika(school_unit: str, published_at: datetime, rating: str, *, organiser="2999"):
    return new_event(LikaSelfAssessmentPublishedV1(
        self_assessment_id=uuid5(NS, f"lika-{school_unit}-{published_at.isoformat()}"), organiser_id=organiser,
        school_unit_code=school_unit, school_form="grundskola", respondent_role="rektor", catalogue_version="2026.1",
        ratings=({"indicator_id": "L1", "area": "ledning", "rating": rating},), published_at=published_at),
        source="/test")


# ---------------------------------------------------------------- applying and recomputing

async def feed(db: Database, batches) -> None:
    """Each batch in its own transaction, as the consumer loop does."""
    offset = 0
    for batch in batches:
        delivered = []
        for event in batch:
            topic = TOPIC[event.type.split(".")[2]]
            delivered.append(Delivered(event, topic, 0, offset))
            offset += 1
        async with db.sessions.begin() as session:
            await apply_batch(session, delivered)


def chunks(events: list, size: int) -> list[list]:
    return [events[i:i + size] for i in range(0, len(events), size)]


def final_facts(events) -> tuple[dict, dict]:
    """The newest revision of each assessment and forecast; None when that is a removal."""
    newest: dict[UUID, tuple[int, object]] = {}
    for event in events:
        data = event.data
        key = getattr(data, "assessment_id", None) or getattr(data, "forecast_id", None)
        if key is None:
            continue
        if key not in newest or data.revision > newest[key][0]:
            newest[key] = (data.revision, event)
    assessments, forecasts = {}, {}
    for key, (_, event) in newest.items():
        counts = event.type.endswith((".published.v1", ".submitted.v1"))
        target = assessments if event.type.startswith("se.styrkedja.assessment.") else forecasts
        target[key] = event.data.model_dump(mode="json") if counts else None
    return assessments, forecasts


def expected_cells(facts: dict, dims: tuple[str, ...]) -> Counter:
    """(level, unit_id, organiser_id, *dims) → number of students, recomputed from the facts."""
    cells = Counter()
    for fact in facts.values():
        if fact is None:
            continue
        for level, unit_field in LEVEL_UNIT.items():
            if level == "nation":
                continue  # no cells of its own: its reads take the organiser level's (`read_figures` checks them)
            cells[(level, unit_field(fact), fact["organiser_id"], *(fact[d] for d in dims))] += 1
    return cells


async def aggregate_table(db: Database, table) -> Counter:
    async with db.sessions() as session:
        rows = (await session.execute(select(table))).all()
    out = Counter()
    for row in rows:
        mapping = dict(row._mapping)
        count = mapping.pop("count")
        assert count > 0, mapping  # zero cells are deleted, negative ones must never exist
        out[tuple(mapping.values())] = count
    return out


async def check_consistent(db: Database, events) -> tuple[dict, dict]:
    """(a) aggregates equal the service's own recomputation, and (b) equal ours from the log."""
    async with db.sessions() as session:
        assert set((await persistence.ASSESSMENTS.mismatches(session)).values()) == {0}
        assert set((await persistence.FORECASTS.mismatches(session)).values()) == {0}
    assessments, forecasts = final_facts(events)
    assert await aggregate_table(db, persistence.assessment_aggregates) == expected_cells(assessments, A_DIMS)
    assert await aggregate_table(db, persistence.forecast_aggregates) == expected_cells(forecasts, F_DIMS)
    return assessments, forecasts


async def read_figures(db: Database, kind, level: str, group_by: list[str]) -> dict:
    """What the read API answers: (level, group_by..., value) → count for one level."""
    split = tuple(g for g in group_by if g in ("gender", "year"))
    async with db.sessions() as session:
        cells = await read_cells(session, kind, level, Filters(split=split))
    out: Counter = Counter()
    for cell in cells:
        for value, n in cell.distribution.items():
            out[(level, *(getattr(cell, g) for g in group_by), value)] += n
    return dict(out)


def recomputed_figures(facts: dict, level: str, group_by: list[str]) -> dict:
    out = Counter()
    for fact in facts.values():
        if fact is not None:
            unit = fact["student_id"] if level == "student" else LEVEL_UNIT[level](fact)
            out[(level, *(unit if g == "unit_id" else fact[g] for g in group_by),
                 fact["value"])] += 1
    return dict(out)


# ---------------------------------------------------------------- fixtures

@pytest.fixture
def database_url(fresh_database) -> str:
    return fresh_database("styrkedja_reporting")


@pytest.fixture
def other_database_url(fresh_database) -> str:
    return fresh_database("styrkedja_reporting")


@pytest.fixture
async def db(database_url):
    database = Database(database_url)
    yield database
    await database.dispose()


@pytest.fixture
async def other_db(other_database_url):
    database = Database(other_database_url)
    yield database
    await database.dispose()


# ---------------------------------------------------------------- tests

async def test_only_the_newest_revision_counts_and_a_removal_removes_it(db):
    a1, a2, a3, a4, a5 = (uuid5(NS, f"a{i}") for i in range(1, 6))
    # each forecast's id is its key's (`derived_from_key`): s-1, s-2 and s-3 in mathematics, as `submitted` makes them
    f1, f2, f3 = (forecast_id_for("2999", f"s-{i}", "GRGRMAT01", "2026/27", "VT") for i in range(1, 4))
    # a1: the newer revision (A in 7B) arrives before the older one (F in 7A)
    a1r1, a1r2 = published(a1, 1, "F", group="7A"), published(a1, 2, "A", group="7B")
    # a2: the retraction arrives before the publication it retracts
    a2r1, a2r2 = published(a2, 1, "B", student="s-2"), retracted(a2, 2, student="s-2")
    # a3: published, later retracted
    a3r1, a3r2 = published(a3, 1, "D", student="s-3"), retracted(a3, 2, student="s-3")
    # a4: both revisions in one batch, newest first
    a4r1, a4r2 = (published(a4, 1, "E", student="s-4"),
                  published(a4, 2, "NOT_REACHED", scale="THREE_LEVEL", student="s-4"))
    # a5: published, retracted and published again; the re-publication arrives first
    a5r1, a5r2, a5r3 = (published(a5, 1, "C", student="s-5"), retracted(a5, 2, student="s-5"),
                        published(a5, 3, "B", student="s-5", school_unit="23456789", group="8A"))
    f1r1, f1r2 = submitted(f1, 1, "NOT_REACHED"), submitted(f1, 2, "MORE_THAN_ACCEPTABLE")
    f2r1, f2r2 = submitted(f2, 1, student="s-2"), withdrawn(f2, 2, student="s-2")
    f3r1, f3r2, f3r3 = (submitted(f3, 1, student="s-3"), withdrawn(f3, 2, student="s-3"),
                        submitted(f3, 3, "NOT_REACHED", student="s-3", late=True))
    batches = [
        [a1r2, a2r2, a3r1, a4r2, a4r1, a5r3, f1r2, f2r2, f3r3],
        [a1r1, a2r1, a5r1, f1r1, f3r1],
        [a3r2, a5r2, f2r1, f3r2],
    ]
    seen = []
    for batch in batches:
        await feed(db, [batch])
        seen += batch
        await check_consistent(db, seen)  # the invariant holds after every transaction, not only at the end

    assessments, forecasts = await check_consistent(db, seen)
    assert {k for k, v in assessments.items() if v} == {a1, a4, a5}
    assert {k for k, v in forecasts.items() if v} == {f1, f3}

    cells = await aggregate_table(db, persistence.assessment_aggregates)
    by_level_value = Counter()
    for key, n in cells.items():
        by_level_value[(key[0], key[1], key[-1])] += n
    assert by_level_value == Counter({
        ("group", "12345678/7B", "A"): 1, ("school_unit", "12345678", "A"): 1,
        ("organiser", "2999", "A"): 1,
        ("group", "12345678/7A", "NOT_REACHED"): 1,
        ("school_unit", "12345678", "NOT_REACHED"): 1, ("organiser", "2999", "NOT_REACHED"): 1,
        ("group", "23456789/8A", "B"): 1, ("school_unit", "23456789", "B"): 1,
        ("organiser", "2999", "B"): 1,
    })  # no F (a1's old revision), no E (a4's), nothing of the retracted a2 and a3, a5 only where it moved

    forecast_cells = await aggregate_table(db, persistence.forecast_aggregates)
    organiser = {(key[-2], key[-1]): n for key, n in forecast_cells.items() if key[0] == "organiser"}
    assert organiser == {("MORE_THAN_ACCEPTABLE", False): 1, ("NOT_REACHED", True): 1}

    async with db.sessions() as session:
        facts = {r.assessment_id: r for r in (await session.execute(select(persistence.assessment_facts))).all()}
    assert (facts[a1].revision, facts[a1].value, facts[a1].group_id) == (2, "A", "7B")
    assert (facts[a2].revision, facts[a2].retracted) == (2, True)
    assert (facts[a3].revision, facts[a3].retracted) == (2, True)
    assert (facts[a5].revision, facts[a5].retracted, facts[a5].value) == (3, False, "B")


async def test_read_figures_equal_a_recomputation(db):
    rng = random.Random(7)
    log = generated_log(rng, 60)
    await feed(db, chunks(rng.sample(log, len(log)), 13))
    assessments, forecasts = await check_consistent(db, log)
    assert sum(v is None for v in assessments.values()) > 0 and sum(v is not None for v in assessments.values()) > 20

    for level in (*LEVEL_UNIT, "student"):
        group_by = ["unit_id", "subject_code", "school_year", "term", "round", "kind", "scale", "gender"]
        assert await read_figures(db, "assessments", level, group_by) == \
            recomputed_figures(assessments, level, group_by)
        group_by = ["unit_id", "subject_code", "school_year", "term", "year"]
        assert await read_figures(db, "forecasts", level, group_by) == \
            recomputed_figures(forecasts, level, group_by)
    # the organiser level holds every counted student exactly once
    organiser = await read_figures(db, "assessments", "organiser", ["unit_id"])
    assert sum(organiser.values()) == sum(v is not None for v in assessments.values())


async def test_lika_newest_publication_per_school_unit_wins(db):
    older = lika("12345678", T0, "PLANNED")
    newer = lika("12345678", T0 + timedelta(days=30), "ACHIEVED")
    other_unit = lika("23456789", T0, "STARTED", organiser="3001")
    await feed(db, [[newer], [older, other_unit]])  # the older one arrives later
    await feed(db, [[older, newer]])                # and again: the newest still wins, either order
    await feed(db, [[newer, older]])

    async with db.sessions() as session:
        rows = {r.school_unit_code: r for r in await read_lika(session, None, None)}
        only_3001 = await read_lika(session, "3001", None)
    assert set(rows) == {"12345678", "23456789"}
    assert rows["12345678"].published_at == T0 + timedelta(days=30)
    assert rows["12345678"].self_assessment_id == newer.data.self_assessment_id
    assert rows["12345678"].ratings[0]["rating"] == "ACHIEVED"
    assert rows["23456789"].ratings[0]["rating"] == "STARTED"
    assert [r.school_unit_code for r in only_3001] == ["23456789"]


async def test_rebuild_in_another_order_and_batching_gives_identical_tables(db, other_db):
    rng = random.Random(2026)
    log = generated_log(rng, 80)
    log += [lika(unit, T0 + timedelta(days=d), rating) for unit in ("12345678", "23456789")
            for d, rating in ((1, "PLANNED"), (5, "STARTED"), (9, "ACHIEVED"))]
    first, second = rng.sample(log, len(log)), rng.sample(log, len(log))
    assert first != second
    await feed(db, chunks(first, 9))
    await feed(other_db, [second[:1], second[1:40], second[40:]])
    await check_consistent(db, log)
    await check_consistent(other_db, log)

    for table in ("assessment_aggregates", "forecast_aggregates", "assessment_facts", "forecast_facts",
                  "lika_self_assessments"):
        # an assessment's `received_at` (its run's first time, `results.rules.run_time`) follows the log's order, as
        # compliance's round reports did (rounds33): a shuffled log is another log there; the rest of the fact not
        leave_out = ("received_at",) if table == "assessment_facts" else ()
        a, b = await dump(db, table, leave_out), await dump(other_db, table, leave_out)
        assert a == b, table
        assert a, table
    assert len(await dump(db, "assessment_aggregates")) > 50


async def dump(db: Database, table: str, leave_out: tuple[str, ...] = ()) -> list[tuple]:
    async with db.sessions() as session:
        result = await session.execute(text(f"SELECT * FROM {table}"))
        keep = [i for i, name in enumerate(result.keys()) if name not in leave_out]
        return sorted((tuple(r[i] for i in keep) for r in result.all()), key=repr)


def generated_log(rng: random.Random, n: int) -> list:
    """Assessments and forecasts of `n` students in two organisers: revision chains (a student may move
    group or school), retractions, withdrawals and re-publications after them."""
    places = [("2999", "12345678", "7A"), ("2999", "12345678", "7B"), ("2999", "23456789", "8A"),
              ("3001", "34567890", "9A")]
    log = []
    for i in range(n):
        organiser = places[i % 4][0]
        student, subject = f"s-{i}", rng.choice(["GRGRMAT01", "GRGRSVE01"])
        gender, year = rng.choice(["female", "male"]), rng.choice([7, 8, 9])

        def place(organiser: str = organiser) -> dict:
            _, unit, group = rng.choice([p for p in places if p[0] == organiser])
            return {"organiser": organiser, "school_unit": unit, "group": group}

        aid, fid = uuid5(NS, f"gen-a{i}"), forecast_id_for(organiser, student, subject, "2026/27", "VT")
        revision = 0
        for _ in range(rng.randint(1, 3)):
            revision += 1
            log.append(published(aid, revision, rng.choice("ABCDEF"), student=student, subject=subject,
                                 gender=gender, year=year, **place()))
        if rng.random() < 0.3:
            revision += 1
            log.append(retracted(aid, revision, student=student, subject=subject, **place()))
            if rng.random() < 0.4:
                revision += 1
                log.append(published(aid, revision, rng.choice("ABCDEF"), student=student, subject=subject,
                                     gender=gender, year=year, **place()))
        revision = 0
        for _ in range(rng.randint(1, 2)):
            revision += 1
            log.append(submitted(fid, revision, rng.choice(["NOT_REACHED", "ACCEPTABLE", "MORE_THAN_ACCEPTABLE"]),
                                 student=student, subject=subject, gender=gender, year=year,
                                 late=rng.random() < 0.2, **place()))
        if rng.random() < 0.25:
            revision += 1
            log.append(withdrawn(fid, revision, student=student, subject=subject, **place()))
    return log


async def test_the_key_alone_serves_the_read_in_its_order_and_cells_equal_a_recomputation(db):
    """The aggregates' key leads with the read's columns (issue 16, apply12: no read index beside it, one index
    entry per new cell): an organiser's cells at a level come from the key in the order the read groups them
    (no sort), and after revisions, retractions and facts moving group and school every cell and every level's
    read (the nation's across organisers too) equals the recomputation."""
    from sqlalchemy import event

    from styrkedja_reporting.results.read import _read_cells

    rng = random.Random(12)
    log = generated_log(rng, 70)
    await feed(db, chunks(rng.sample(log, len(log)), 11))
    assessments, forecasts = await check_consistent(db, log)
    assert sum(v is None for v in assessments.values()) > 0
    for level in LEVEL_UNIT:
        group_by = ["unit_id", "subject_code", "school_year", "term", "round", "kind", "scale", "gender"]
        assert await read_figures(db, "assessments", level, group_by) == recomputed_figures(assessments, level,
                                                                                           group_by)
        assert await read_figures(db, "forecasts", level, ["unit_id", "year"]) == \
            recomputed_figures(forecasts, level, ["unit_id", "year"])

    seen: list[tuple[str, object]] = []

    def keep(conn, cursor, statement, parameters, context, executemany) -> None:  # noqa: ANN001
        if "assessment_aggregates" in statement:
            seen.append((statement, parameters))

    async with db.sessions() as session:
        event.listen(db.engine.sync_engine, "before_cursor_execute", keep)
        try:
            cells = await _read_cells(session, "assessments", "school_unit", Filters(organiser_id="2999"))
        finally:
            event.remove(db.engine.sync_engine, "before_cursor_execute", keep)
        assert cells and {c.organiser_id for c in cells} == {"2999"}
        statement, parameters = seen[-1]
        conn = await session.connection()
        # the tables are tiny: without these a scan of the heap and a sort would be as cheap
        await conn.exec_driver_sql("SET LOCAL enable_seqscan = off")
        await conn.exec_driver_sql("SET LOCAL enable_bitmapscan = off")
        plan = "\n".join(r[0] for r in (await conn.exec_driver_sql(f"EXPLAIN {statement}", parameters)).all())
    assert "assessment_aggregates_pkey" in plan, plan
    assert "Sort" not in plan, plan

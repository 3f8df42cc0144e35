"""The figures wired into reporting, against a real PostgreSQL: the materialised state at every
level equals an independent recomputation from the event log (`support.expected_figures`),
through revisions, retractions, a school moving between areas and a rebuild; the read endpoints
answer from it; and every table exports as JSON, CSV and xlsx with the same numbers."""

from __future__ import annotations

import csv
import io
import logging
import random
from datetime import date, timedelta
from uuid import uuid5

import openpyxl
import pytest
from sqlalchemy import select, text

from styrkedja_contracts import (
    AssessmentPublishedV1,
    ForecastSubmittedV1,
    ForecastWithdrawnV1,
    forecast_id_for,
    new_event,
)
from styrkedja_kit.consumer import Delivered
from styrkedja_kit.db import Database
from styrkedja_reporting.figures import tables as figures
from styrkedja_reporting.main import handler_registry
from support import expected_figures, expected_forecast_outcomes, expected_merit

from .test_directory import NS, T0, Feeder, directory, membership, retracted, unit

TOPICS = {"assessment": "styrkedja.assessments", "forecast": "styrkedja.forecasts",
          "organisation": "styrkedja.organisation"}

pytestmark = [pytest.mark.integration, pytest.mark.postgres_only]

PLACES = [("2999", "11111111", "7A"), ("2999", "22222222", "7A"), ("3001", "33333333", "7A"),
          ("2999", "11111111", "7B")]
AREAS = {"11111111": "north", "22222222": "south", "33333333": None}


def result(aid, revision: int, value: str, organiser: str, code: str, group: str, student: str, *,
           subject="GRGRMAT01", gender="female", year=7, school_year="2026/27", term="HT", round_=1,
           on=date(2026, 9, 30), kind="assessment"):
    return new_event(AssessmentPublishedV1(
        assessment_id=aid, revision=revision, organiser_id=organiser, school_unit_code=code, group_id=group,
        student_id=student, teacher_id="t-1", gender=gender, year=year, subject_code=subject, kind=kind,
        scale="AF", value=value, unmet_criteria=("Taluppfattning",) if value == "F" else (),
        school_year=school_year, term=term, round=round_, assessed_on=on,
        published_at=T0 + timedelta(minutes=revision)), source="/test")


def mixed_log(rng: random.Random, n: int, tag: str) -> list:
    """Results over two school years, both terms, four rounds, three genders, two subjects and
    years, with revisions (sometimes to another group: a student changing group) and retractions."""
    log = []
    for i in range(n):
        organiser, code, group = rng.choice(PLACES)
        aid, student = uuid5(NS, f"fig-{tag}-{i}"), f"s-{rng.randrange(40)}"
        first_year = rng.choice((2025, 2026))
        common = dict(subject=rng.choice(("GRGRMAT01", "GRGRSVE01")), gender=rng.choice(("female", "male", "unknown")),
                      year=rng.choice((8, 9)), school_year=f"{first_year}/{(first_year + 1) % 100:02d}",
                      term=rng.choice(("HT", "VT")), round_=rng.randint(1, 4))
        on = date(first_year, 9, 1) + timedelta(days=rng.randrange(250))
        log.append(result(aid, 1, rng.choice("ABCDEF"), organiser, code, group, student, on=on, **common))
        if rng.random() < 0.3:
            organiser, code, group = rng.choice([p for p in PLACES if p[0] == organiser])
            log.append(result(aid, 2, rng.choice("ABCDEF"), organiser, code, group, student,
                              on=on + timedelta(days=3), **common))
        if rng.random() < 0.15:
            log.append(retracted(aid, 3, organiser, code, group, student, subject=common["subject"]))
    return log


def final_bodies(log: list, id_field: str = "assessment_id") -> list[dict | None]:
    newest: dict = {}
    for event in log:
        aid = getattr(event.data, id_field, None)
        if aid is not None and (aid not in newest or event.data.revision > newest[aid].data.revision):
            newest[aid] = event
    return [e.data.model_dump(mode="json") if e.type.endswith((".published.v1", ".submitted.v1")) else None
            for e in newest.values()]


async def stored(db: Database) -> dict[str, dict]:
    out: dict[str, dict] = {}
    async with db.sessions() as session:
        for name, table in figures.TABLES.items():
            rows = (await session.execute(select(table.table))).all()
            got = {}
            for row in rows:
                values = tuple(int(getattr(row, v)) for v in table.values)
                key = tuple(str(x) if isinstance(x, date) else x for x in (getattr(row, k) for k in table.key))
                got[key] = values if len(values) > 1 else values[0]
            out[name] = got
        # freshness: the newest result day of each pass cell and its results (`figure_pass.newest`)
        newest = {}
        for row in (await session.execute(select(figures.figure_pass))).all():
            newest[tuple(getattr(row, k) for k in figures.CELL)] = (str(row.newest), row.newest_count)
        out["newest"] = newest
    return out


def newest_of(dates: dict) -> dict:
    """(cell, day) → results reduced to cell → (newest day, its results)."""
    out: dict = {}
    for (*cell, day), n in dates.items():
        key = tuple(cell)
        if key not in out or out[key][0] < day:
            out[key] = (day, n)
    return out


async def assert_exact(db: Database, log: list, area_of: dict) -> None:
    expected = expected_figures(final_bodies(log), area_of)
    # the stored state has no nation cells (its reads take the organiser level's: `test_figures_levels`)
    expected = {name: {k: v for k, v in part.items() if k[0] != "nation"} for name, part in expected.items()}
    got = await stored(db)
    for name in ("pass", "students"):
        assert got[name] == expected[name], name
    assert got["newest"] == newest_of(expected["dates"])
    async with db.sessions() as session:
        found = await figures.mismatches(session)
    assert all(n == 0 for levels in found.values() for n in levels.values()), found


@pytest.fixture
async def database(fresh_database):
    db = Database(fresh_database("styrkedja_reporting"))
    yield db
    await db.dispose()


async def test_figure_state_equals_a_recomputation_through_moves_and_a_rebuild(database):
    feed, rng = Feeder(database), random.Random(7)
    before = directory() + mixed_log(rng, 300, "a")
    await feed(*[before[i:i + 29] for i in range(0, len(before), 29)])
    await assert_exact(database, before, AREAS)
    moved = [unit("school_unit", "su-a", "2999", "south", code="11111111", at=10)]
    after = mixed_log(rng, 120, "b")
    log = before + after[:50] + moved + after[50:]
    await feed(after[:50] + moved + after[50:80], after[80:])  # the move mid-batch
    await assert_exact(database, log, {**AREAS, "11111111": "south"})
    assert await stored(database) != {}

    snapshot = await stored(database)
    async with database.sessions.begin() as session:
        await session.execute(text(
            "TRUNCATE assessment_aggregates, forecast_aggregates, assessment_facts, forecast_facts, figure_pass, "
            "figure_students, directory_units, directory_memberships, school_unit_placements, "
            "freshness, consumer_applied_events, consumer_offsets"))
    await Feeder(database)(*[log[i:i + 200] for i in range(0, len(log), 200)])
    assert await stored(database) == snapshot


async def test_consistency_check_finds_a_tampered_figure_cell(database):
    await Feeder(database)(directory() + mixed_log(random.Random(3), 40, "c"))
    async with database.sessions.begin() as session:
        await session.execute(text("UPDATE figure_pass SET reaching_female = reaching_female + 1 "
                                   "WHERE ctid = (SELECT ctid FROM figure_pass WHERE level = 'area' LIMIT 1)"))
        await session.execute(text("DELETE FROM figure_students WHERE ctid = "
                                   "(SELECT ctid FROM figure_students WHERE level = 'group' LIMIT 1)"))
    async with database.sessions() as session:
        found = await figures.mismatches(session)
    assert found["pass"]["area"] == 1 and found["students"]["group"] == 1
    async with database.sessions.begin() as session:  # a newest day (freshness) one day off
        await session.execute(text("UPDATE figure_pass SET newest = newest - 1 "
                                   "WHERE ctid = (SELECT ctid FROM figure_pass WHERE level = 'group' LIMIT 1)"))
    async with database.sessions() as session:
        found = await figures.mismatches(session)
    assert found["pass"]["group"] == 1


async def test_consistency_check_finds_cells_of_an_organiser_without_facts_and_one_off_in_two(database, caplog):
    """The sums' recomputation (sql30: pass's distinct students as rows per cell and student), organiser by
    organiser (order31): a cell whose organiser has no facts at all (nor any other cell) is counted in pass,
    students and the levels — the parts are the tables' organisers as well as the facts' — and a tampered cell in
    each of two organisers counts once each; the check's answer the same, its progress in the log."""
    from styrkedja_reporting.ops.queries import consistency_of
    from styrkedja_reporting.results.tables import ASSESSMENTS

    await Feeder(database)(directory() + mixed_log(random.Random(5), 60, "o"))
    async with database.sessions.begin() as session:
        organisers = (await session.execute(text(
            "SELECT DISTINCT organiser_id FROM figure_pass ORDER BY 1"))).scalars().all()
        assert len(organisers) >= 2, organisers
        for organiser in organisers[:2]:  # one group cell off in each of two organisers
            await session.execute(text(
                "UPDATE figure_pass SET assessed_male = assessed_male + 1 WHERE ctid = (SELECT ctid FROM figure_pass "
                "WHERE organiser_id = :o AND level = 'group' ORDER BY unit_id, subject_code, period LIMIT 1)"),
                {"o": organiser})
        for table, level in (("figure_pass", "school_unit"), ("figure_students", "group"),
                             ("assessment_aggregates", "school_unit")):
            # a copy of one row under an organiser that has no facts: every other column the same
            columns = (await session.execute(text(
                "SELECT string_agg(quote_ident(column_name), ', ' ORDER BY ordinal_position) FROM "
                "information_schema.columns WHERE table_name = :t AND column_name <> 'organiser_id'"),
                {"t": table})).scalar_one()
            inserted = await session.execute(text(
                f"INSERT INTO {table} (organiser_id, {columns}) SELECT 'no-such-org', {columns} FROM {table} "
                "WHERE level = :level LIMIT 1"), {"level": level})
            assert inserted.rowcount == 1, table
    async with database.sessions() as session:
        found = await figures.mismatches(session)
        levels = await ASSESSMENTS.mismatches(session)
    assert found["pass"]["group"] == 2 and found["pass"]["school_unit"] == 1, found
    assert found["students"]["group"] == 1, found
    assert levels["school_unit"] == 1, levels
    async with database.snapshot() as session:
        with caplog.at_level(logging.INFO, logger="styrkedja_reporting.consistency_parts"):
            answer = await consistency_of(session)
    assert answer.figures_per_level["pass"] == found["pass"] and answer.figures_per_level["students"] == found[
        "students"], answer
    assert answer.per_level["assessments"] == levels and answer.assessment_cell_mismatches == 1, answer
    progress = [r.getMessage() for r in caplog.records if "organisers" in r.getMessage()]
    n = len(organisers) + 1  # and the organiser without facts
    for table in ("assessment_aggregates", "forecast_aggregates", "figure_pass", "figure_students"):
        assert f"consistency check: {table}, organisers {n}/{n}" in progress, progress


async def test_freshness_goes_down_to_figure_dates_and_up_again(fresh_database):
    """Migration 0017 (figure_dates folded into figure_pass.newest) down and up again over data: the downgrade
    fills figure_dates from the facts (every cell and day), the upgrade takes each cell's newest day from it."""
    from alembic import command

    from styrkedja_kit.db import outside_event_loop
    from styrkedja_kit.migrations import alembic_config, upgrade

    url = fresh_database("styrkedja_reporting")
    db = Database(url)
    try:
        log = directory() + mixed_log(random.Random(5), 150, "m")
        await Feeder(db)(*[log[i:i + 40] for i in range(0, len(log), 40)])
        expected = expected_figures(final_bodies(log), AREAS)
        before = (await stored(db))["newest"]
        assert before == {k: v for k, v in newest_of(expected["dates"]).items() if k[0] != "nation"}  # none kept
        await db.dispose()
        outside_event_loop(command.downgrade, alembic_config("styrkedja_reporting", url), "b8e2f6a1c4d9")
        async with db.sessions() as session:
            rows = (await session.execute(text("SELECT * FROM figure_dates"))).all()
        assert {(*r[:-2], str(r[-2])): r[-1] for r in rows} == expected["dates"]
        await db.dispose()
        upgrade("styrkedja_reporting", url)
        assert (await stored(db))["newest"] == before
    finally:
        await db.dispose()


# ---------------------------------------------------------------- forecast against outcome, merit

SUBJECTS_9 = ("GRGRSVE01", "GRGRENG01", "GRGRMAT01", "GRGRBIO01", "GRGRFYS01", "GRGRKEM01", "GRGRGEO01", "GRGRHIS01",
              "GRGRREL01", "GRGRSAM01", "GRGRBIL01", "GRGRIDR01", "GRGRMUS01", "GRGRSLJ01", "GRGRHKK01", "GRGRTEK01",
              "GRGRMSP01", "GRGRMOD01")


def forecast(fid, revision: int, value: str, organiser: str, code: str, group: str, student: str, *, subject: str,
             gender: str, year: int, school_year: str, term: str, on: date):
    return new_event(ForecastSubmittedV1(
        forecast_id=forecast_id_for(organiser, student, subject, school_year, term),
        revision=revision, organiser_id=organiser, school_unit_code=code, group_id=group,
        student_id=student, teacher_id="t-1", gender=gender, year=year, subject_code=subject,
        school_year=school_year, term=term, value=value, submitted_at=T0.replace(
            year=on.year, month=on.month, day=on.day), window_deadline=on, late=False), source="/test")


def withdrawal(fid, revision: int, organiser: str, code: str, group: str, student: str, *, subject: str,
               school_year: str, term: str):
    return new_event(ForecastWithdrawnV1(
        forecast_id=forecast_id_for(organiser, student, subject, school_year, term),
        revision=revision, organiser_id=organiser, school_unit_code=code, group_id=group,
        student_id=student, subject_code=subject, school_year=school_year, term=term,
        withdrawn_at=T0 + timedelta(minutes=revision)), source="/test")


def graded_log(rng: random.Random, students: int, tag: str) -> list:
    """Year-9 (and some year-8) students with forecasts and term grades in up to 18 subjects
    (fewer than 16 for some, a språkval language, modersmål), assessments between forecast and
    grade, revisions, retractions, withdrawals, and students who change group mid-term."""
    log = []
    for n in range(students):
        organiser, code, group = rng.choice(PLACES)
        student, gender, year = f"p-{tag}-{n}", rng.choice(("female", "male", "unknown")), rng.choice((9, 9, 8))
        school_year, term = rng.choice((("2026/27", "HT"), ("2026/27", "VT")))
        subjects = rng.sample(SUBJECTS_9, rng.choice((18, 16, 12, 5)))
        for i, subject in enumerate(subjects):
            common = dict(subject=subject, school_year=school_year, term=term)
            if rng.random() < 0.7:
                fid = uuid5(NS, f"f-{tag}-{n}-{subject}")
                log.append(forecast(fid, 1, rng.choice(("NOT_REACHED", "ACCEPTABLE", "MORE_THAN_ACCEPTABLE")),
                                    organiser, code, group, student, gender=gender, year=year,
                                    on=date(2026, 10, 20), **common))
                if rng.random() < 0.1:
                    log.append(withdrawal(fid, 2, organiser, code, group, student, **common))
            if rng.random() < 0.5:
                log.append(result(uuid5(NS, f"a-{tag}-{n}-{subject}"), 1, rng.choice("ABCDEF"), organiser, code,
                                  group, student, gender=gender, year=year, round_=2,
                                  on=date(2026, 10, rng.choice((20, 25))), **common))
            # a student changing group mid-term: the last grades are set in the other group
            g_place = rng.choice([p for p in PLACES if p[0] == organiser]) if i > 10 and rng.random() < 0.3 \
                else (organiser, code, group)
            gid = uuid5(NS, f"g-{tag}-{n}-{subject}")
            value = rng.choice("ABCDEEF")
            log.append(result(gid, 1, value, *g_place, student, gender=gender, year=year, kind="term_grade",
                              round_=4, on=date(2026, 12, 1) + timedelta(days=i % 3), **common))
            if rng.random() < 0.15:
                log.append(result(gid, 2, rng.choice("ABCDEF"), *g_place, student, gender=gender, year=year,
                                  kind="term_grade", round_=4, on=date(2026, 12, 5), **common))
            if rng.random() < 0.05:
                log.append(retracted(gid, 3, *g_place, student, subject=subject))
    return log


async def feed_all(db: Database, batches) -> None:
    registry, offset = handler_registry(), 0
    for batch in batches:
        delivered = []
        for event in batch:
            delivered.append(Delivered(event, TOPICS[event.type.split(".")[2]], 0, offset))
            offset += 1
        async with db.sessions.begin() as session:
            await registry(session, delivered)


async def assert_linked_exact(db: Database, log: list, area_of: dict) -> None:
    results, forecasts = final_bodies(log), final_bodies(log, "forecast_id")
    got = await stored(db)
    stored_levels = {"forecasts": expected_forecast_outcomes(forecasts, results, area_of),  # no nation cells kept
                     "merit": expected_merit(results, area_of)}
    assert got["forecasts"] == {k: v for k, v in stored_levels["forecasts"].items() if k[0] != "nation"}
    assert got["merit"] == {k: v for k, v in stored_levels["merit"].items() if k[0] != "nation"}
    assert got["forecasts"] and got["merit"]
    async with db.sessions() as session:
        found = await figures.mismatches(session)
    assert all(n == 0 for levels in found.values() for n in levels.values()), found


async def test_forecast_outcome_and_merit_equal_a_recomputation(database):
    rng = random.Random(17)
    log = directory() + graded_log(rng, 60, "x")
    rng.shuffle(log)  # any arrival order: revisions before their first version, grades before forecasts
    directory_first = [e for e in log if "organisation" in e.type] + [e for e in log if "organisation" not in e.type]
    await feed_all(database, [directory_first[i:i + 97] for i in range(0, len(directory_first), 97)])
    await assert_linked_exact(database, directory_first, AREAS)
    moved = [unit("school_unit", "su-a", "2999", "south", code="11111111", at=10)]
    more = graded_log(rng, 20, "y")
    await feed_all(database, [more[:150] + moved + more[150:300], more[300:]])
    await assert_linked_exact(database, directory_first + more + moved, {**AREAS, "11111111": "south"})


# ---------------------------------------------------------------- the read API

def _girl_boy(aid: str, value: str, gender: str, student: str, *, code="11111111", group="7A", term="HT",
              school_year="2026/27", on=date(2026, 10, 1), round_=2):
    organiser = "3001" if code == "33333333" else "2999"
    return result(uuid5(NS, aid), 1, value, organiser, code, group, student, gender=gender, year=9,
                  term=term, school_year=school_year, on=on, round_=round_)


@pytest.fixture
async def fed(settings):
    database = Database(settings.database_url)
    log = directory() + [
        # HT 2026/27, round 2: 2999 north 7A: girls A, F; boys C; unknown E; south 7A: boy F
        _girl_boy("g1", "A", "female", "s-1"), _girl_boy("g2", "F", "female", "s-2"),
        _girl_boy("b1", "C", "male", "s-3"), _girl_boy("u1", "E", "unknown", "s-4"),
        _girl_boy("b2", "F", "male", "s-5", code="22222222"),
        # VT 2025/26 (the previous term), round 4 of 2025/26: 2999 north: 1 of 2 reach
        _girl_boy("p1", "B", "female", "s-1", term="VT", school_year="2025/26", on=date(2026, 3, 1), round_=4),
        _girl_boy("p2", "F", "male", "s-3", term="VT", school_year="2025/26", on=date(2026, 3, 1), round_=4),
        membership("m1", "2999", "11111111", "7A", "s-1", date(2026, 8, 17)),
        membership("m2", "2999", "11111111", "7A", "s-2", date(2026, 8, 17)),
        membership("m3", "2999", "11111111", "7A", "s-3", date(2026, 8, 17)),
        membership("m4", "2999", "11111111", "7A", "s-4", date(2026, 8, 17)),
        membership("m5", "2999", "11111111", "7A", "s-6", date(2026, 8, 17)),
    ]
    await Feeder(database)(log)
    yield log
    await database.dispose()


Q = {"level": "area", "organiser_id": "2999", "school_year": "2026/27", "term": "HT", "subject_code": "GRGRMAT01"}


def rows(response) -> dict:
    assert response.status_code == 200, response.text
    return {r["unit_id"]: r for r in response.json()["rows"]}


async def test_trend_gender_gap_freshness_coverage_and_drill_down(client, fed):
    trend = rows(await client.get("/v1/figures/trend", params={**Q, "compare": "previous_term"}))
    north = trend["north"]
    assert (north["assessed"], north["reaching"], north["share"]) == (4, 3, 0.75)
    assert (north["previous_assessed"], north["previous_reaching"], north["change"]) == (2, 1, 0.25)
    assert trend["south"]["share"] == 0.0 and trend["south"]["previous_share"] is None

    by_round = rows(await client.get("/v1/figures/trend", params={
        **{k: v for k, v in Q.items() if k != "term"}, "round": 1, "compare": "previous_round"}))
    assert by_round["north"]["assessed"] == 0 and by_round["north"]["previous_assessed"] == 2  # round 4 of 2025/26

    history = (await client.get("/v1/figures/history", params={**Q, "periods": 3})).json()["rows"]
    north_history = [(r["period"], r["assessed"], r["share"]) for r in history if r["unit_id"] == "north"]
    assert north_history == [("2025/26 HT", 0, None), ("2025/26 VT", 2, 0.5), ("2026/27 HT", 4, 0.75)]

    gap = rows(await client.get("/v1/figures/gender-gap", params=Q))["north"]
    assert (gap["girls_share"], gap["boys_share"], gap["gap"], gap["assessed"]) == (0.5, 1.0, -0.5, 4)
    assert rows(await client.get("/v1/figures/gender-gap", params=Q))["south"]["gap"] is None  # no girls there

    fresh = rows(await client.get("/v1/figures/freshness", params={**Q, "today": "2027-03-01"}))
    assert fresh["north"]["newest"] == "2026-10-01" and fresh["north"]["band"] == "yellow"
    assert rows(await client.get("/v1/figures/freshness", params={**Q, "today": "2026-11-01"}))["north"]["band"] \
        == "green"
    assert rows(await client.get("/v1/figures/freshness", params={**Q, "today": "2027-09-01"}))["north"]["band"] \
        == "red"

    cover = rows(await client.get("/v1/figures/coverage", params={**Q, "level": "group", "on": "2026-09-01"}))
    assert (cover["11111111/7A"]["with_result"], cover["11111111/7A"]["roster_size"]) == (4, 5)
    assert cover["11111111/7A"]["share"] == 0.8 and cover["11111111/7A"]["roster"] == "known"
    assert cover["22222222/7A"]["roster"] == "unknown" and cover["22222222/7A"]["share"] is None

    down = rows(await client.get("/v1/figures/drill-down", params={**Q, "level": "organiser", "unit_id": "2999"}))
    assert set(down) == {"north", "south"} and down["north"]["assessed"] == 4
    units = rows(await client.get("/v1/figures/drill-down", params={**Q, "unit_id": "north"}))
    assert set(units) == {"11111111"}
    groups = rows(await client.get("/v1/figures/drill-down", params={**Q, "level": "school_unit",
                                                                      "unit_id": "11111111"}))
    assert set(groups) == {"11111111/7A"}
    students = (await client.get("/v1/figures/drill-down", params={**Q, "level": "group",
                                                                    "unit_id": "11111111/7A"})).json()["rows"]
    assert {(s["student_id"], s["value"]) for s in students} == {("s-1", "A"), ("s-2", "F"), ("s-3", "C"),
                                                                 ("s-4", "E")}


async def test_bad_figure_requests_are_problems_naming_the_field(client, fed):
    both = await client.get("/v1/figures/trend", params={**Q, "round": 2})
    assert both.status_code == 422 and both.json()["errors"][0]["field"] == "term"
    wrong = await client.get("/v1/figures/trend", params={**Q, "compare": "previous_round"})
    assert wrong.status_code == 422 and wrong.json()["errors"][0]["field"] == "compare"
    fmt = await client.get("/v1/figures/trend", params={**Q, "format": "pdf"})
    assert fmt.status_code == 422 and fmt.json()["errors"][0]["field"] == "format"
    drill = await client.get("/v1/figures/drill-down", params=Q)
    assert drill.status_code == 422 and drill.json()["errors"][0]["field"] == "unit_id"


@pytest.mark.parametrize("path,params", [
    ("/v1/figures/gender-gap", Q),
    ("/v1/figures/trend", Q),
    ("/v1/results/assessments", {"level": "group", "organiser_id": "2999"}),
])
async def test_csv_and_xlsx_hold_the_json_numbers(client, fed, path, params):
    json_response = await client.get(path, params=params)
    assert json_response.status_code == 200
    body = json_response.json()
    json_rows = body["rows"] if isinstance(body, dict) else body
    assert json_rows

    csv_response = await client.get(path, params={**params, "format": "csv"})
    assert csv_response.headers["content-type"] == "text/csv; charset=utf-8"
    assert csv_response.content.startswith("\ufeff".encode())
    assert ".csv" in csv_response.headers["content-disposition"]
    table = list(csv.reader(io.StringIO(csv_response.content.decode("utf-8-sig")), delimiter=";"))

    xlsx_response = await client.get(path, headers={"Accept": "application/vnd.openxmlformats-officedocument."
                                                              "spreadsheetml.sheet"}, params=params)
    assert xlsx_response.status_code == 200
    sheet = openpyxl.load_workbook(io.BytesIO(xlsx_response.content)).active
    cells = [[c.value for c in row] for row in sheet.iter_rows()]
    assert sheet.freeze_panes == "A2"
    assert cells[0] == table[0] and len(cells) == len(table) == len(json_rows) + 1

    numbers = ("assessed", "reaching", "share", "girls_share", "boys_share", "gap", "reaching_pass",
               "share_reaching_pass", "change")
    headers = table[0]
    keys = list(json_rows[0])
    for json_row, csv_row, xlsx_row in zip(json_rows, table[1:], cells[1:], strict=True):
        for key in numbers:
            if key not in json_row:
                continue
            index = keys.index(key) if isinstance(body, dict) else _results_column(key)
            value = json_row[key]
            parsed = None if csv_row[index] == "" else float(csv_row[index].replace(",", "."))
            assert parsed == (None if value is None else float(value)), (key, headers[index])
            assert xlsx_row[index] == value or (xlsx_row[index] is None and value is None), key


def _results_column(key: str) -> int:
    from styrkedja_reporting.results.routes import COLUMNS
    return [c.key for c in COLUMNS].index(key)


async def test_forecast_outcome_and_merit_endpoints_at_every_level(client, settings):
    database = Database(settings.database_url)
    log = directory() + graded_log(random.Random(23), 40, "api")
    await feed_all(database, [log[i:i + 150] for i in range(0, len(log), 150)])
    await database.dispose()
    results, forecasts = final_bodies(log), final_bodies(log, "forecast_id")
    outcomes, merit = expected_forecast_outcomes(forecasts, results, AREAS), expected_merit(results, AREAS)
    for level in ("group", "school_unit", "area", "organiser", "nation"):
        for term in ("HT", "VT"):
            params = {"level": level, "school_year": "2026/27", "term": term}
            got = (await client.get("/v1/figures/forecast-outcome", params=params)).json()["rows"]
            want: dict = {}
            for (lv, unit_id, _, subject, year, _, _sy, t_), counts in outcomes.items():
                if lv == level and t_ == term:
                    key = (unit_id, subject, year)
                    want[key] = [a + b for a, b in zip(want.get(key, [0] * 4), counts, strict=True)]
            assert {(r["unit_id"], r["subject_code"], r["year"]): [
                r["held"], r["said_reaches_did_not"], r["said_not_reached_did"], r["no_outcome"]] for r in got} == want

            rows_ = (await client.get("/v1/figures/merit", params=params)).json()["rows"]
            want_merit: dict = {}
            for (lv, unit_id, _, year, _, _sy, t_), counts in merit.items():
                if lv == level and t_ == term:
                    want_merit[(unit_id, year)] = [a + b for a, b in zip(want_merit.get((unit_id, year), [0] * 8),
                                                                         counts, strict=True)]
            got_merit = {(r["unit_id"], r["year"]): r for r in rows_}
            assert set(got_merit) == set(want_merit)
            for key, counts in want_merit.items():
                r = got_merit[key]
                assert (r["graded_students"], r["all_pass"], r["merit_students"]) == tuple(counts[:3])
                assert r["eligible_vocational"] == counts[4] and r["eligible_preparatory_na_te"] == counts[6]
                if counts[2]:
                    assert r["mean_merit_value"] == round(counts[3] / 2 / counts[2], 2)
    bad = await client.get("/v1/figures/merit", params={"level": "organiser", "school_year": "2026/27", "round": 2})
    assert bad.status_code == 422 and bad.json()["errors"][0]["field"] == "round"


async def test_forecast_outcome_and_merit_drill_down_to_the_students(client, settings):
    """Every cell lists its children one level down for forecast against outcome and merit too;
    under a group, the students (pseudonymous ids) add up to the group's cell."""
    database = Database(settings.database_url)
    log = directory() + graded_log(random.Random(29), 40, "dd")
    await feed_all(database, [log[i:i + 150] for i in range(0, len(log), 150)])
    await database.dispose()
    results, forecasts = final_bodies(log), final_bodies(log, "forecast_id")
    outcomes, merit = expected_forecast_outcomes(forecasts, results, AREAS), expected_merit(results, AREAS)
    verdicts = ("held", "said_reaches_did_not", "said_not_reached_did", "no_outcome")
    parents = [("organiser", "2999", "area"), ("area", "north", "school_unit"), ("school_unit", "11111111", "group"),
               ("nation", None, "organiser")]
    for term in ("HT", "VT"):
        base = {"school_year": "2026/27", "term": term}
        for level, unit_id, child in parents:
            params = {**base, "level": level, **({"unit_id": unit_id} if unit_id else {})}
            got = (await client.get("/v1/figures/drill-down", params={**params, "figure": "forecast-outcome"})).json()
            want: dict = {}
            for (lv, u, org, subject, year, _, _, t_), counts in outcomes.items():
                inside = (lv == child and t_ == term and (level == "nation" or org == "2999")
                          and (level != "area" or u in {c for c, a in AREAS.items() if a == unit_id})
                          and (level != "school_unit" or u.startswith(f"{unit_id}/")))
                if inside:
                    want[(u, subject, year)] = [a + b for a, b in zip(want.get((u, subject, year), [0] * 4), counts, strict=True)]
            assert {(r["unit_id"], r["subject_code"], r["year"]): [r[v] for v in verdicts]
                    for r in got["rows"]} == want, (level, term)
            assert all(r["level"] == child and r["parent_id"] == (unit_id or "SE") for r in got["rows"])

            got_m = (await client.get("/v1/figures/drill-down", params={**params, "figure": "merit"})).json()["rows"]
            want_m: dict = {}
            for (lv, u, org, year, _, _, t_), counts in merit.items():
                inside = (lv == child and t_ == term and (level == "nation" or org == "2999")
                          and (level != "area" or u in {c for c, a in AREAS.items() if a == unit_id})
                          and (level != "school_unit" or u.startswith(f"{unit_id}/")))
                if inside:
                    want_m[(u, year)] = [a + b for a, b in zip(want_m.get((u, year), [0] * 8), counts, strict=True)]
            assert {(r["unit_id"], r["year"]): [r["graded_students"], r["all_pass"], r["merit_students"]]
                    for r in got_m} == {k: v[:3] for k, v in want_m.items()}, (level, term)

        for group in ("11111111/7A", "11111111/7B", "33333333/7A"):
            params = {**base, "level": "group", "unit_id": group}
            students = (await client.get("/v1/figures/drill-down", params={**params, "figure": "forecast-outcome"}))
            assert students.status_code == 200, students.text
            tally = [0] * 4
            for r in students.json()["rows"]:
                tally[verdicts.index(r["verdict"])] += 1
                assert r["group"] == group and r["student_id"].startswith("p-dd-")
            want_g = [0] * 4
            for (lv, u, _, _, _, _, _, t_), counts in outcomes.items():
                if lv == "group" and u == group and t_ == term:
                    want_g = [a + b for a, b in zip(want_g, counts, strict=True)]
            assert tally == want_g, (group, term)

            listed = (await client.get("/v1/figures/drill-down", params={**params, "figure": "merit"})).json()["rows"]
            want_n = [0, 0, 0]
            for (lv, u, _, _, _, _, t_), counts in merit.items():
                if lv == "group" and u == group and t_ == term:
                    want_n = [a + b for a, b in zip(want_n, counts[:3], strict=True)]
            assert [len(listed), sum(r["all_pass"] == "ja" for r in listed),
                    sum(r["merit_value"] is not None for r in listed)] == want_n, (group, term)
            half_points = sum(int(r["merit_value"] * 2) for r in listed if r["merit_value"] is not None)
            assert half_points == sum(c[3] for (lv, u, _, _, _, _, t_), c in merit.items()
                                      if lv == "group" and u == group and t_ == term)
    bad = await client.get("/v1/figures/drill-down", params={"level": "organiser", "unit_id": "2999",
                                                             "school_year": "2026/27", "round": 2, "figure": "merit"})
    assert bad.status_code == 422 and bad.json()["errors"][0]["field"] == "round"


async def test_an_answer_is_kept_per_state_and_given_afresh_after_a_batch(client, settings, fed):
    """Organiser/area answers are kept per state version (`figures.routes._ANSWERS`): the same read
    again is the same answer from the cache (freshness headers set anew); a new batch changes the
    version, so the next read is computed from the new state — a kept answer is never stale."""
    from styrkedja_reporting.figures import routes

    params = {**Q, "compare": "previous_term", "format": "csv"}
    first = await client.get("/v1/figures/trend", params=params)
    kept = len(routes._ANSWERS)
    again = await client.get("/v1/figures/trend", params=params)
    assert again.content == first.content and len(routes._ANSWERS) == kept >= 1
    assert again.headers["content-type"] == first.headers["content-type"]
    assert again.headers["content-disposition"] == first.headers["content-disposition"]
    assert "x-styrkedja-newest-event-time" in again.headers
    before = rows(await client.get("/v1/figures/trend", params={**Q, "compare": "previous_term"}))
    database = Database(settings.database_url)
    try:  # one more girl in the north area reaching the pass level
        await Feeder(database)([_girl_boy("g9", "B", "female", "s-9")])
    finally:
        await database.dispose()
    after = rows(await client.get("/v1/figures/trend", params={**Q, "compare": "previous_term"}))
    assert (before["north"]["assessed"], after["north"]["assessed"]) == (4, 5)
    assert after["north"]["reaching"] == before["north"]["reaching"] + 1
    assert (await client.get("/v1/figures/trend", params=params)).content != first.content

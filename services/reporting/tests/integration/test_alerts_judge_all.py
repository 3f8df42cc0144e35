"""The judgement of every cell (`alerts.handlers.judge_all`: the round cells' pass drops judged by the server,
`_all_pass_drops`; the forecast terms' below-forecast cells, `judge_below_forecasts`) is the judgement cell by cell it
replaced — `_pass_drop_verdicts` of every results cell (group, school unit, area, organiser) in its round and the
round after it and of every active alert's cell; `_below_forecast_judged` of every unit of every forecast term and
of every active alert's — less the cells that can decide nothing (neither dipping nor with an active alert: `decide`
passes them by). Checked with dipping cells, cells that recovered from an alert, an organiser's own (fractional)
thresholds, and of one organiser.
"""

from __future__ import annotations

from uuid import uuid5

import pytest
from sqlalchemy import select, text

from styrkedja_kit.consumer import Delivered
from styrkedja_kit.db import Database
from styrkedja_reporting.alerts import handlers
from styrkedja_reporting.figures.periods import RoundPeriod, SchoolYear
from styrkedja_reporting.main import handler_registry
from styrkedja_reporting.results.tables import ASSESSMENTS

from .test_alerts import ORG, forecast_of, result
from .test_alerts_batch_judgement import results
from .test_apply_batch import NS, TOPIC, published
from .test_batch_lookups import feed, unit
from .test_directory import Feeder, directory

pytestmark = [pytest.mark.integration, pytest.mark.postgres_only]

quietly = handler_registry(live_alerts=False)


async def cell_by_cell(db: Database, organiser: str | None = None) -> tuple[set, set, set, set]:
    """(judge_all's pass drops, the cell-by-cell ones less those that decide nothing; the same of below-forecast)."""
    async with db.sessions() as session:
        judged = await handlers.judge_all(session, organiser)
        state = judged.state
        thresholds = dict(state.thresholds)
        a = ASSESSMENTS.read_rows.c
        query = select(a.level, a.unit_id, a.organiser_id, a.subject_code, a.school_year, a.round).where(
            a.level.in_(("group", "school_unit", "area", "organiser"))).distinct()
        if organiser is not None:
            query = query.where(a.organiser_id == organiser)
        cells = set()
        for level, unit_id, organiser_id, subject, school_year, round_ in (await session.execute(query)).all():
            period = RoundPeriod(SchoolYear.parse(school_year), round_)
            cells.update((level, unit_id, organiser_id, subject, p) for p in (period, handlers.next_round(period)))
        for level, unit_id, organiser_id, subject, school_year, round_ in state.active:
            cells.add((level, handlers.aggregate_unit_id(level, unit_id), organiser_id, subject,
                       RoundPeriod(SchoolYear.parse(school_year), round_)))
        every = await handlers._pass_drop_verdicts(session, handlers._labelled(cells), thresholds)
        terms = (await session.execute(text(
            "SELECT DISTINCT organiser_id, subject_code, school_year, term FROM forecast_facts WHERE NOT withdrawn"
            + (" AND organiser_id = :o" if organiser else "")), {"o": organiser})).all()
        wanted: dict = {}
        for key, tallies in (await handlers.forecast_tallies_of(session, [tuple(t) for t in terms])).items():
            wanted.setdefault(key, set()).update(tallies)
        for organiser_id, subject, school_year, term, level, unit_id in state.below:
            wanted.setdefault((organiser_id, subject, school_year, term), set()).add(
                (level, handlers.aggregate_unit_id(level, unit_id)))
        below = await handlers._below_forecast_judged(session, wanted, thresholds=thresholds)
    drops = {(key, drop) for key, drop in every
             if drop.dipping or (key[0], handlers.alert_unit_id(key[0], key[1]), *key[2:]) in state.active}
    deciding = {(str(cell), str(observation)) for cell, observation in below
                if observation.verdict is handlers.Verdict.dipping
                or (cell.organiser_id, cell.subject_code, str(cell.period.school_year), cell.period.term.value,
                    cell.level.value, cell.unit[1]) in state.below}
    return (set(judged.drops), drops, {(str(cell), str(observation)) for cell, observation in judged.below},
            deciding)


async def test_every_round_cell_judged_by_the_server_is_the_cell_by_cell_judgement_of_those_that_decide(db):
    await feed(db, [unit("organiser", "2999", None), unit("area", "north", "2999"), unit("area", "south", "2999"),
                    unit("school_unit", "su-1", "north", "12345678"), unit("school_unit", "su-2", "south", "23456789")])
    # round 1 passes, round 2 dips (alerts raised live; 12 results a school unit and area), round 4 dips against
    # round 3 in English only
    await feed(db, results("a", 1, 0, n=24) + results("a", 1, 1, subject="GRGRENG01"), 100)
    await feed(db, results("a", 2, 18, n=24) + results("a", 2, 2, subject="GRGRENG01"), 200)
    await feed(db, results("a", 3, 0, subject="GRGRENG01") + results("a", 4, 6, subject="GRGRENG01"), 300)
    found, expected, _, _ = await cell_by_cell(db)
    assert found == expected
    assert any(drop.dipping for _, drop in found) and any(key[0] == "area" for key, _ in found)
    # round 2's mathematics corrected to pass, applied without the live judgement: active alerts on cells that no
    # longer dip (sent back, to be resolved)
    corrected = [published(uuid5(NS, f"a-GRGRMAT01-2-{i}"), 2, "C", student=f"s-{i}", round_=2,
                           school_unit=("12345678", "23456789")[i % 2], group=("7A", "8B")[(i // 2) % 2])
                 for i in range(18)]
    async with db.sessions.begin() as session:
        await quietly(session, [Delivered(e, TOPIC["assessment"], 0, 350 + n) for n, e in enumerate(corrected)])
    found, expected, _, _ = await cell_by_cell(db)
    assert found == expected
    assert any(not drop.dipping for _, drop in found)
    # the organiser's own thresholds: 7.5 points, at least 3 students; and of that organiser only, or of another
    async with db.sessions.begin() as session:
        await session.execute(text("INSERT INTO alert_thresholds (organiser_id, drop_points, below_forecast_points, "
                                   "min_students) VALUES ('2999', 7.5, 10, 3)"))
    found, expected, _, _ = await cell_by_cell(db)
    assert found == expected
    assert any(drop.thresholds.min_students == 3 for _, drop in found)
    for organiser in ("2999", "1111"):
        found, expected, _, _ = await cell_by_cell(db, organiser)
        assert found == expected and (organiser == "2999") == bool(found)


async def test_the_forecast_terms_below_forecast_cells_are_those_of_the_cell_by_cell_judgement_that_decide(db):
    feed = Feeder(db, handler_registry(live_alerts=False))
    # 12 forecasts "acceptable" in a school unit, the term grades of 3 of them F: 25 points below the forecast; in a
    # second school unit all held
    other = "22222222"
    await feed(directory() + [forecast_of(n) for n in range(12)] + [forecast_of(n, unit=other) for n in range(20, 30)],
               [result(n, "F" if n < 3 else "C", 1, kind="term_grade", year=9) for n in range(12)]
               + [result(n, "C", 1, kind="term_grade", year=9, unit=other) for n in range(20, 30)])
    _, _, found, expected = await cell_by_cell(db)
    assert found == expected and found  # the dipping school unit's cells, not the other's
    async with db.sessions.begin() as session:
        assert await handlers.reevaluate_all(session) > 0  # raised: active alerts now
    # the grades corrected: no cell dips, the active alerts' cells still judged (to be resolved)
    await feed([result(n, "E", 1, revision=2, kind="term_grade", year=9) for n in range(3)])
    _, _, found, expected = await cell_by_cell(db)
    assert found == expected and found
    _, _, found, expected = await cell_by_cell(db, ORG)
    assert found == expected and found

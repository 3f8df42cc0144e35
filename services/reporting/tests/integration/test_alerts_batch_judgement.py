"""The live pass-drop judgement of a batch (`alerts.handlers._batch_pass_drops`: the cells, their tallies and
verdicts by the server, only the cells that can decide anything sent back) is the full judgement
(`_pass_drop_verdicts` of every cell of `_label_cells_of`) less the cells that are neither dipping nor have an
active alert — those `decide` passes by. Checked on a database with dipping cells, cells that recovered from
an alert, an organiser's own (fractional) thresholds and one on the defaults.
"""

from __future__ import annotations

from uuid import uuid5

import pytest
from sqlalchemy import text

from styrkedja_kit.consumer import Delivered
from styrkedja_kit.db import Database
from styrkedja_reporting.alerts import handlers
from styrkedja_reporting.alerts.rules import Status
from styrkedja_reporting.main import handler_registry
from styrkedja_reporting.results.tables import placement_of

from .test_apply_batch import NS, TOPIC, published
from .test_batch_lookups import feed, unit

pytestmark = [pytest.mark.integration, pytest.mark.postgres_only]

quietly = handler_registry(live_alerts=False)


def results(tag: str, round_: int, failing: int, n: int = 12, subject: str = "GRGRMAT01") -> list:
    """n results of a round in two school units (two groups each), the first `failing` below the pass level."""
    out = []
    for i in range(n):
        place = {"school_unit": ("12345678", "23456789")[i % 2], "group": ("7A", "8B")[(i // 2) % 2]}
        out.append(published(uuid5(NS, f"{tag}-{subject}-{round_}-{i}"), 1, "F" if i < failing else "C",
                             student=f"s-{i}", subject=subject, round_=round_, **place))
    return out


async def both(db: Database, touched: set[tuple[str, str, str, str, str, int]]) -> tuple[set, set]:
    """(the batch judgement, the full judgement less the cells that can decide nothing)."""
    async with db.sessions() as session:
        placement = await placement_of(session, {t[1] for t in touched})
        batch = await handlers._batch_pass_drops(session, touched, placement)
        every = await handlers._pass_drop_verdicts(session, handlers._label_cells_of(
            {handlers.Touched(*t) for t in touched}, placement))
        active = {tuple(r) for r in (await session.execute(text(
            "SELECT level, unit_id, organiser_id, subject_code, school_year, round FROM alerts "
            "WHERE rule = 'pass_share_drop' AND status <> :resolved AND year IS NULL"),
            {"resolved": Status.resolved.value})).all()}
    full = {(key, drop) for key, drop in every
            if drop.dipping or (key[0], handlers.alert_unit_id(key[0], key[1]), *key[2:]) in active}
    return set(batch), full


async def test_the_batch_judgement_is_the_full_one_less_the_cells_that_decide_nothing(db):
    await feed(db, [unit("organiser", "2999", None), unit("area", "north", "2999"), unit("area", "south", "2999"),
                    unit("school_unit", "su-1", "north", "12345678"), unit("school_unit", "su-2", "south", "23456789")])
    # round 1 passes, round 2 dips (alerts raised live), round 3 recovers in mathematics only
    await feed(db, results("a", 1, 0) + results("a", 1, 1, subject="GRGRENG01"), 100)
    await feed(db, results("a", 2, 9) + results("a", 2, 2, subject="GRGRENG01"), 200)
    async with db.sessions() as session:
        raised = (await session.execute(text("SELECT count(*) FROM alerts WHERE rule = 'pass_share_drop'"))).scalar_one()
    assert raised > 0  # the dip raised alerts: cells with active alerts are part of the check
    touched = {("2999", code, group, subject, "2026/27", round_) for code in ("12345678", "23456789")
               for group in ("7A", "8B") for subject in ("GRGRMAT01", "GRGRENG01") for round_ in (1, 2, 3)}
    batch, full = await both(db, touched)
    assert batch == full
    assert any(drop.dipping for _, drop in batch)
    # round 2's mathematics corrected to pass, applied without the live judgement: active alerts on cells
    # that no longer dip (what the batch judgement must send back, to be resolved)
    corrected = [published(uuid5(NS, f"a-GRGRMAT01-2-{i}"), 2, "C", student=f"s-{i}", round_=2,
                           school_unit=("12345678", "23456789")[i % 2], group=("7A", "8B")[(i // 2) % 2])
                 for i in range(9)]
    async with db.sessions.begin() as session:
        await quietly(session, [Delivered(e, TOPIC["assessment"], 0, 250 + n) for n, e in enumerate(corrected)])
    batch, full = await both(db, touched)
    assert batch == full
    assert any(not drop.dipping for _, drop in batch)
    # the organiser's own thresholds: 7.5 points, at least 3 students
    async with db.sessions.begin() as session:
        await session.execute(text("INSERT INTO alert_thresholds (organiser_id, drop_points, below_forecast_points, "
                                   "min_students) VALUES ('2999', 7.5, 10, 3)"))
    await feed(db, results("b", 3, 1) + results("b", 3, 5, subject="GRGRENG01"), 300)
    batch, full = await both(db, touched | {("2999", "12345678", "7A", "GRGRSVE01", "2026/27", 4)})
    assert batch == full
    assert any(drop.thresholds.min_students == 3 for _, drop in batch)

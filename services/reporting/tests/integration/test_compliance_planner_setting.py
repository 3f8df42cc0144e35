"""Compliance plans its window statements for their parameters (`plan_cache_mode = force_custom_plan`, local to
the batch's transaction; with nested loops and merge joins off too) and sets the planner back
before the handlers after it run.
(The figures set `auto` after their own statements, so `auto` is the value a batch starts compliance with: left
unrestored, the setting would read `force_custom_plan`.)"""

from __future__ import annotations

import pytest
from sqlalchemy import text

from styrkedja_contracts import forecast_id_for
from styrkedja_kit.consumer import Delivered
from styrkedja_kit.db import Database
from styrkedja_reporting.main import handler_registry

from .test_apply_batch import TOPIC, submitted
from .test_batch_lookups import results_of, unit

pytestmark = [pytest.mark.integration, pytest.mark.postgres_only]

apply_batch = handler_registry()


async def setting_after(db: Database, batch: list, start: int, before: str) -> str:
    delivered = [Delivered(e, TOPIC.get(e.type.split(".")[2], "styrkedja.organisation"), 0, start + n)
                 for n, e in enumerate(batch)]
    async with db.sessions.begin() as session:
        await session.execute(text("SELECT set_config('plan_cache_mode', :v, true)"), {"v": before})
        await apply_batch(session, delivered)
        mode, nestloop, mergejoin = (await session.execute(text(
            "SELECT current_setting('plan_cache_mode'), current_setting('enable_nestloop'), "
            "current_setting('enable_mergejoin')"))).one()
        assert (nestloop, mergejoin) == ("on", "on")
        return str(mode)


async def test_the_planner_setting_is_back_after_every_kind_of_window_work(db):
    directory = [unit("organiser", "2999", None), unit("area", "north", "2999"),
                 unit("school_unit", "su-1", "north", "12345678"), unit("school_unit", "su-2", "north", "23456789")]
    assert await setting_after(db, directory, 0, "auto") == "auto"
    # a new window (derived whole), then keyed work in it (the last statement sets the planner back itself)
    assert await setting_after(db, results_of(10, "one"), 100, "auto") == "auto"
    # (s-1's forecast of "one", its id its key's, `derived_from_key`: its next revision, moved to another unit)
    moved = submitted(forecast_id_for("2999", "s-1", "GRGRMAT01", "2026/27", "VT"), 2, student="s-1",
                      school_unit="12345678", group="8B")
    assert await setting_after(db, [moved], 200, "auto") == "auto"
    assert await setting_after(db, results_of(10, "three"), 300, "auto") == "auto"
    async with db.sessions() as session:
        windows = (await session.execute(text("SELECT count(*) FROM compliance_windows"))).scalar_one()
    assert windows > 0  # window statements ran: the check can fail

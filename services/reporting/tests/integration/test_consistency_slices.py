"""The consistency check reads the facts its pure rules recompute slice by slice of the students (bounded memory
whatever the size, `student_slices`: ranges of the student ids): the same answer as in one piece, every count
per level, and a mismatch planted in one organiser's cells is still found — every range, none skipped. Compliance is
checked window by window (`compliance.handlers.mismatches`): the same count as all windows at once."""

from __future__ import annotations

import random

import pytest
from sqlalchemy import text

from styrkedja_kit.db import Database
from styrkedja_reporting import student_slices
from styrkedja_reporting.compliance import handlers as compliance
from styrkedja_reporting.compliance.rules import item_contribution
from styrkedja_reporting.figures import recompute
from styrkedja_reporting.figures.state import total
from styrkedja_reporting.ops.queries import consistency_of, snapshot
from styrkedja_reporting.support import handlers as support

from .test_compliance import DIRECTORY, FORECASTS
from .test_directory import Feeder, directory
from .test_figures import feed_all, graded_log

pytestmark = [pytest.mark.integration, pytest.mark.postgres_only]


@pytest.fixture
async def database(fresh_database):
    db = Database(fresh_database("styrkedja_reporting"))
    yield db
    await db.dispose()


async def check(db: Database, per_slice: int, monkeypatch, seen: list) -> dict:
    monkeypatch.setattr(student_slices, "CHECK_SLICE", per_slice)
    seen.clear()
    async with snapshot(db) as session:
        return (await consistency_of(session)).model_dump()


async def test_a_mismatch_in_one_organisers_cells_is_found_in_slices_as_in_one_piece(database, monkeypatch):
    log = directory() + graded_log(random.Random(23), 40, "s")  # forecasts, term grades, results below the pass level
    await feed_all(database, [log[i:i + 150] for i in range(0, len(log), 150)])
    seen: list = []  # the student slices every recomputation read

    def spied(function):  # noqa: ANN001, ANN202
        async def spy(session, *args, student_slice=None, **kwargs):  # noqa: ANN001, ANN002, ANN003, ANN202
            seen.append((function.__name__, *args, student_slice))
            return await function(session, *args, student_slice=student_slice, **kwargs)
        return spy

    monkeypatch.setattr(recompute, "recomputed_rows", spied(recompute.recomputed_rows))
    monkeypatch.setattr(support, "recomputed_below_pass", spied(support.recomputed_below_pass))
    assert (await check(database, 10**9, monkeypatch, seen))["consistent"]
    assert seen and all(s[-1] is None for s in seen)  # one piece: no slice

    async with database.sessions.begin() as session:  # organiser 3001's cells only
        for sql in (
            "UPDATE figure_forecasts SET held = held + 1 WHERE ctid = (SELECT ctid FROM figure_forecasts "
            "WHERE organiser_id = '3001' AND level = 'group' ORDER BY unit_id, subject_code, gender LIMIT 1)",
            "DELETE FROM figure_merit WHERE ctid = (SELECT ctid FROM figure_merit "
            "WHERE organiser_id = '3001' AND level = 'school_unit' ORDER BY period, gender LIMIT 1)",
            "DELETE FROM support_below_pass WHERE ctid IN (SELECT ctid FROM support_below_pass "
            "WHERE organiser_id = '3001' AND level = 'group' ORDER BY student_id, subject_code LIMIT 2)",
            "INSERT INTO support_below_pass (level, unit_id, organiser_id, subject_code, student_id, count) "
            "VALUES ('group', '33333333:7A', '3001', 'GRGRMAT01', 'no-such-student', 1)"):
            assert (await session.execute(text(sql))).rowcount == 1 or "LIMIT 2" in sql
    whole = await check(database, 10**9, monkeypatch, seen)
    assert whole["figures_per_level"]["forecasts"]["group"] == 1
    assert whole["figures_per_level"]["merit"]["school_unit"] == 1
    assert whole["per_level"]["below_pass_without_support"]["group"] == 3  # 2 gone, 1 not the facts' (group rows only)
    assert not whole["consistent"]

    sliced = await check(database, 40, monkeypatch, seen)
    assert sliced == whole  # every count, per level
    for name in ("forecasts", "merit", "recomputed_below_pass"):
        parts = [s[-1] for s in seen if name in s]
        assert len(parts) > 2, (name, parts)  # in several ranges of the students, end to end, none read twice
        assert parts[0].after is None and parts[-1].up_to is None, name
        assert all(a.up_to == b.after for a, b in zip(parts, parts[1:], strict=False)), name

async def test_compliance_is_checked_window_by_window_with_the_count_of_all_at_once(database, monkeypatch):
    await Feeder(database)(DIRECTORY, FORECASTS)
    async with database.sessions.begin() as session:
        for sql in (  # an item gone, a cell one off, an item of a window nobody tracks
                "DELETE FROM compliance_items WHERE ctid = (SELECT ctid FROM compliance_items "
                "ORDER BY period, student_id, subject_code LIMIT 1)",
                "UPDATE compliance_cells SET expected = expected + 1 WHERE ctid = (SELECT ctid FROM compliance_cells "
                "ORDER BY period, cell_kind DESC, group_id LIMIT 1)",
                "INSERT INTO compliance_items SELECT organiser_id, kind, '2030/31:VT', school_unit_code, group_id, "
                "subject_code, student_id, teachers, status FROM compliance_items "
                "ORDER BY period, student_id, subject_code LIMIT 1"):
            assert (await session.execute(text(sql))).rowcount == 1
    windows: list = []  # the window each read of the stored items was of
    stored_items = compliance.stored_items

    async def spy(session, key=None):  # noqa: ANN001, ANN202
        windows.append(key)
        return await stored_items(session, key)

    async with snapshot(database) as session:
        fresh_items = await compliance.recompute_items(session)  # every window at once (the check of before)
        fresh = total(item_contribution(i) for i in fresh_items)
        stored = await compliance.stored_cells(session)
        at_once = sum(1 for cell in set(stored) | set(fresh) if stored.get(cell) != fresh.get(cell)) + len(
            await compliance.stored_items(session) ^ fresh_items)
        monkeypatch.setattr(compliance, "stored_items", spy)
        found = await compliance.mismatches(session)
    assert found == at_once == 3
    # one window at a time, the untracked one too: never every item at once
    assert sorted(k.period for k in windows) == ["2026/27:HT", "2030/31:VT"], windows

"""The fixed cost of a batch: a lookup several handlers make is made once per batch.

At 1,000 events/s the consumer's batches are small (tens to hundreds of events) and the statements a
batch runs whatever its size decide its latency: the school units' areas (read under a shared lock
by results, figures, support and alerts) and the organisers' alert thresholds (dip, below-forecast
and freshness rules) are read once per batch (`registry.batch_memo`), and a directory change in the
batch that moves a school unit forgets what was read; the dip and below-forecast cells are decided
together. The figures stay those of a recomputation.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from uuid import uuid5

import pytest
from sqlalchemy import event, func, select, text

from styrkedja_contracts import OrganisationUnitUpsertedV1, forecast_id_for, new_event
from styrkedja_kit.consumer import Delivered
from styrkedja_kit.db import Database
from styrkedja_reporting.figures import tables as figure_tables
from styrkedja_reporting.main import handler_registry
from styrkedja_reporting.results import tables as results_tables

from .test_apply_batch import NS, TOPIC, published, submitted

pytestmark = [pytest.mark.integration, pytest.mark.postgres_only]

apply_batch = handler_registry()
T0 = datetime(2026, 9, 1, 8, tzinfo=UTC)


@contextmanager
def statements(db: Database) -> Iterator[Counter[str]]:
    """Counts of the statements run meanwhile, by a fragment that names what they do."""
    seen: Counter[str] = Counter()
    fragments = {"placement lock": "pg_advisory_xact_lock_shared", "placement read": "FROM school_unit_placements",
                 "thresholds": "FROM alert_thresholds", "thresholds alone": "SELECT alert_thresholds.organiser_id",
                 "freshness lock": "styrkedja.alerts.freshness",
                 "alerts locked": "ORDER BY alerts.alert_id FOR UPDATE", "calendar": "FROM compliance_calendars",
                 "window plans": "current_setting('plan_cache_mode')"}

    def count(conn, cursor, statement, parameters, context, executemany) -> None:  # noqa: ANN001
        for name, fragment in fragments.items():
            if fragment in statement or fragment in str(parameters):
                seen[name] += 1

    event.listen(db.engine.sync_engine, "before_cursor_execute", count)
    try:
        yield seen
    finally:
        event.remove(db.engine.sync_engine, "before_cursor_execute", count)


async def feed(db: Database, batch: list, start: int = 0) -> None:
    delivered = [Delivered(e, TOPIC.get(e.type.split(".")[2], "styrkedja.organisation"), 0, start + n)
                 for n, e in enumerate(batch)]
    async with db.sessions.begin() as session:
        await apply_batch(session, delivered)


def unit(unit_type: str, unit_id: str, parent: str | None, code: str | None = None, at: int = 0):
    return new_event(OrganisationUnitUpsertedV1(
        unit_type=unit_type, unit_id=unit_id, organiser_id="2999", parent_id=parent, name=unit_id,
        school_unit_code=code, updated_at=T0.replace(minute=at)), source="/test")


def results_of(n: int, tag: str) -> list:
    out = []
    for i in range(n):
        place = {"school_unit": ("12345678", "23456789")[i % 2], "group": ("7A", "8B")[i % 2]}
        out.append(published(uuid5(NS, f"{tag}-a{i}"), 1, "CF"[i % 2], student=f"s-{i}",
                             round_=1 + i % 2, **place))
        # a forecast's id is its key's (`derived_from_key`): another tag's of the student is the same forecast
        out.append(submitted(forecast_id_for("2999", f"s-{i}", "GRGRMAT01", "2026/27", "VT"), 1, student=f"s-{i}",
                             **place))
    return out


async def mismatches(db: Database) -> int:
    async with db.sessions() as session:
        found = sum((await results_tables.ASSESSMENTS.mismatches(session)).values())
        found += sum((await results_tables.FORECASTS.mismatches(session)).values())
        return found + sum(sum(levels.values()) for levels in (await figure_tables.mismatches(session)).values())


async def test_a_batch_reads_each_placement_and_threshold_once(db):
    await feed(db, [unit("organiser", "2999", None), unit("area", "north", "2999"), unit("area", "south", "2999"),
                    unit("school_unit", "su-1", "north", "12345678"), unit("school_unit", "su-2", "south", "23456789")])
    with statements(db) as seen:
        await feed(db, results_of(40, "one"), 100)
    # results, figures, support and alerts all place the batch's school units: one lock, one read
    assert seen["placement lock"] == 1, seen
    assert seen["placement read"] == 1, seen
    # dip, below-forecast and freshness rules judge with the organiser's thresholds: no round trip of their own —
    # the pass-drop statement and the below-forecast read each carry them (a subselect, where there were two
    # statements), and the freshness rule takes them from the batch's memo
    assert seen["thresholds alone"] == 0, seen
    assert seen["thresholds"] <= 2, seen
    assert seen["freshness lock"] == 1, seen
    # the dip, below-forecast and freshness cells decided together, after the figures: one read of the alerts
    assert seen["alerts locked"] == 1, seen
    assert await mismatches(db) == 0


async def test_a_school_unit_moved_in_the_batch_counts_in_its_new_area(db):
    await feed(db, [unit("organiser", "2999", None), unit("area", "north", "2999"), unit("area", "south", "2999"),
                    unit("school_unit", "su-1", "north", "12345678"), unit("school_unit", "su-2", "south", "23456789")])
    await feed(db, results_of(10, "before"), 100)
    # the move and more results in one batch: the results are placed with the newest tree, and the
    # results moved with the school unit; nothing counts in the area it left
    await feed(db, [unit("school_unit", "su-1", "south", "12345678", at=5), *results_of(10, "after")], 200)
    a = results_tables.ASSESSMENTS.read_rows.c  # an area's cells as they are read: its school units' rows
    async with db.sessions() as session:
        north, south = [(await session.execute(select(func.coalesce(func.sum(a.count), 0)).where(
            a.level == "area", a.unit_id == area))).scalar_one() for area in ("north", "south")]
    assert (north, south) == (0, 20)
    assert await mismatches(db) == 0


async def test_freshness_counts_a_units_students_once_whatever_the_groups(db):
    from styrkedja_reporting.alerts.freshness import UnitKey, unit_states

    await feed(db, [unit("organiser", "2999", None), unit("area", "north", "2999"),
                    unit("school_unit", "su-1", "north", "12345678"), unit("school_unit", "su-2", "north", "23456789")])
    events = results_of(12, "x")
    # s-0 also in 8B of the first school unit (two groups, one student), and s-1 in its 7A
    events += [published(uuid5(NS, "x-extra-0"), 1, "C", student="s-0", school_unit="12345678", group="8B"),
               published(uuid5(NS, "x-extra-1"), 1, "C", student="s-1", school_unit="12345678", group="7A")]
    await feed(db, events, 100)
    async with db.sessions() as session:
        rows = (await session.execute(text(
            "SELECT organiser_id, unit_id, student_id FROM figure_students WHERE level = 'group' AND count > 0"))
                ).all()
        expected: dict[UnitKey, set[str]] = {}
        for organiser, group, student in rows:
            expected.setdefault(UnitKey(organiser, "group", group), set()).add(student)
            expected.setdefault(UnitKey(organiser, "school_unit", group.split("/")[0]), set()).add(student)
        keys = {UnitKey("2999", "group", "12345678/7A"), UnitKey("2999", "group", "12345678/8B"),
                UnitKey("2999", "school_unit", "12345678"), UnitKey("2999", "group", "23456789/8B")}
        wanted = await unit_states(session, keys)
        swept = await unit_states(session, None, "2999")
    assert {k: v.students for k, v in wanted.items()} == {k: len(expected[k]) for k in keys}
    assert {k: v.students for k, v in swept.items()} == {k: len(v) for k, v in expected.items()}
    assert wanted[UnitKey("2999", "school_unit", "12345678")].students == 7  # s-0…s-10 even, and s-1


async def test_compliance_reads_an_organisers_calendar_once_and_skips_the_windows_it_has_none_of(db):
    """Results of two rounds and forecasts of a term, one organiser: its calendar is read once (not
    once per window period); a later batch of results only, in rounds the (default) calendar sets no
    deadline for, tracks no window and runs no window statement, nor their planner settings."""
    await feed(db, [unit("organiser", "2999", None), unit("area", "north", "2999"),
                    unit("school_unit", "su-1", "north", "12345678"), unit("school_unit", "su-2", "north", "23456789")])
    with statements(db) as seen:
        await feed(db, results_of(20, "cal"), 100)  # rounds 1 and 2, forecasts of VT
    assert seen["calendar"] == 1, seen
    assert seen["window plans"] == 1, seen  # the forecast window's statements: custom plans
    with statements(db) as seen:
        await feed(db, [e for e in results_of(20, "later") if "assessment" in e.type], 200)
    assert seen["window plans"] == 0, seen
    assert seen["calendar"] <= 1, seen
    async with db.sessions() as session:
        windows = (await session.execute(text("SELECT kind, period FROM compliance_windows ORDER BY 1, 2"))).all()
    assert [tuple(w) for w in windows] == [("forecast", "2026/27:VT")]
    assert await mismatches(db) == 0


async def test_freshness_reads_the_open_alerts_of_the_batchs_organisers_only(db):
    """Every organiser's open freshness alerts are many at a national scale: a batch reads its own
    organisers' (by the alerts' organiser index), not all of them to sift in Python."""
    await feed(db, [unit("organiser", "2999", None), unit("area", "north", "2999"),
                    unit("school_unit", "su-1", "north", "12345678")])
    reads: list[str] = []

    def keep(conn, cursor, statement, parameters, context, executemany) -> None:  # noqa: ANN001
        # freshness' read (the below-forecast rule reads its own active alerts by the same index)
        if "FROM alerts" in statement and "alerts.term IS NOT NULL" in statement and "freshness_red" in str(parameters):
            reads.append(statement)

    event.listen(db.engine.sync_engine, "before_cursor_execute", keep)
    try:
        await feed(db, results_of(4, "fresh"), 100)
    finally:
        event.remove(db.engine.sync_engine, "before_cursor_execute", keep)
    assert len(reads) == 1, reads
    assert "alerts.organiser_id = ANY" in reads[0], reads[0]  # its organisers as one array (round 27b)
    assert await mismatches(db) == 0

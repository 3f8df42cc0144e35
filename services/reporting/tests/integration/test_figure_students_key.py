"""figure_students' key led by the read index's columns (issue 16, apply15, migration 0020): the read index went,
and each reader of the table still finds its rows through an index — the key's (organiser, level) prefix, or the
student index — not by reading the table."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import pytest
from sqlalchemy import event, text

from styrkedja_reporting.alerts.freshness import UnitKey, _students
from styrkedja_reporting.figures.coverage_counts import _ADD, apply_student_counts
from styrkedja_reporting.figures.tables import STUDENTS_KEY, figure_students
from styrkedja_reporting.results.tables import lock_fact_writers
from styrkedja_reporting.staging import json_rows
from styrkedja_reporting.support.read import Where, students_assessed

pytestmark = [pytest.mark.integration, pytest.mark.postgres_only]

# 4 organisers × 40 groups (8 school units) × 30 students × 4 subjects × 2 school years × 3 periods
_SEED = text(
    f"INSERT INTO {figure_students.name} (level, unit_id, organiser_id, subject_code, year, school_year, period, "
    "student_id, count) SELECT 'group', (1000 + o * 10 + g / 5)::text || '/G' || g, (2990 + o)::text, "
    "'S' || sub, 7, y, p, 'st-' || o || '-' || g || '-' || s, 1 "
    "FROM generate_series(0, 3) o, generate_series(0, 39) g, generate_series(0, 29) s, generate_series(0, 3) sub, "
    "unnest(ARRAY['2025/26', '2026/27']) y, unnest(ARRAY['HT', 'VT', 'R1']) p")


async def _plans_of(db, read: Callable[[Any], Awaitable[Any]]) -> list[str]:
    """The plans of the statements on figure_students that `read` runs (each EXPLAINed with its own parameters)."""
    seen: list[tuple[str, Any]] = []

    def keep(conn, cursor, statement, parameters, context, executemany) -> None:  # noqa: ANN001
        if figure_students.name in statement:
            seen.append((statement, parameters))

    async with db.sessions.begin() as session:
        await session.execute(_SEED)
        await session.execute(text(f"ANALYZE {figure_students.name}"))
    event.listen(db.engine.sync_engine, "before_cursor_execute", keep)
    try:
        async with db.sessions() as session:
            await read(session)
    finally:
        event.remove(db.engine.sync_engine, "before_cursor_execute", keep)
    assert seen
    plans = []
    async with db.engine.connect() as conn:
        for statement, parameters in seen:
            rows = (await conn.exec_driver_sql(f"EXPLAIN {statement}", parameters)).all()
            plans.append("\n".join(r[0] for r in rows))
    return plans


async def test_the_key_is_led_by_the_read_index_columns(db) -> None:
    async with db.sessions() as session:
        indexes = dict((await session.execute(text(
            "SELECT indexname, indexdef FROM pg_indexes WHERE tablename = :t"), {"t": figure_students.name})).all())
    assert set(indexes) == {"figure_students_pkey"}  # apply22: the student index went (the probe uses the key)
    assert indexes["figure_students_pkey"].endswith(f"btree ({', '.join(STUDENTS_KEY)})")
    assert tuple(c.name for c in figure_students.primary_key.columns) == STUDENTS_KEY  # the rebuild's heap order


async def test_the_freshness_students_read_uses_the_key(db) -> None:
    keys = {UnitKey("2991", "school_unit", "1012"), UnitKey("2991", "group", "1012/G10")}
    plans = await _plans_of(db, lambda s: _students(s, keys, "2991"))
    assert all("figure_students_pkey" in p and "Seq Scan" not in p for p in plans), plans


@pytest.mark.parametrize(("level", "unit"), [("group", "1012/G10"), ("organiser", "2991")])
async def test_support_students_assessed_uses_the_key(db, level: str, unit: str) -> None:
    plans = await _plans_of(db, lambda s: students_assessed(s, Where(level, unit, "2991"), None))  # type: ignore[arg-type]
    assert all("figure_students_pkey" in p and "Seq Scan" not in p for p in plans), plans


async def test_the_emptied_cells_delete_uses_the_key(db) -> None:
    row = ("group", "1012/G10", "2991", "S1", 7, "2026/27", "HT", "st-1-10-3")

    async def locked(session: Any) -> None:  # every writer holds its organisers' lock first
        await lock_fact_writers(session, {"2991"})
        await apply_student_counts(session, [(*row, -1)], {})

    plans = await _plans_of(db, locked)
    deletes = [p for p in plans if p.startswith("Delete on figure_students")]
    assert deletes and all("figure_students_pkey" in p and "Seq Scan" not in p for p in deletes), "\n\n".join(plans)


async def test_the_below_pass_table_reads_the_students_assessed_of_every_subject_at_once(db) -> None:
    """The below-pass table per subject takes the students assessed of every subject in one statement on
    figure_students (it took one per subject: 16 × 0.3 s at the nation, bench/results/support-nation22.json), each
    the number `students_assessed` gives for that subject alone — at the nation and at an organiser."""
    from styrkedja_reporting.support.read import below_pass_by_subject
    from styrkedja_reporting.support.tables import support_below_pass

    async with db.sessions.begin() as session:
        await session.execute(_SEED)
        # 5 students of each organiser below the pass level in each of the 4 subjects (the group rows: the table's only)
        await session.execute(text(
            f"INSERT INTO {support_below_pass.name} (level, unit_id, organiser_id, subject_code, student_id, count) "
            "SELECT 'group', (2990 + o)::text || '0001/7A', (2990 + o)::text, 'S' || sub, 'st-' || o || '-0-' || s, 1 "
            "FROM generate_series(0, 3) o, generate_series(0, 3) sub, generate_series(0, 4) s"))
    statements: list[str] = []

    def keep(conn, cursor, statement, parameters, context, executemany) -> None:  # noqa: ANN001
        statements.append(statement)

    for where, students, assessed in ((Where("nation", "SE", None), 20, 4800), (Where("organiser", "2991", "2991"),
                                                                                5, 1200)):
        statements.clear()
        event.listen(db.engine.sync_engine, "before_cursor_execute", keep)
        try:
            async with db.sessions() as session:
                table = await below_pass_by_subject(session, where, None)
        finally:
            event.remove(db.engine.sync_engine, "before_cursor_execute", keep)
        assert sum(figure_students.name in s for s in statements) == 1, statements
        assert [(r["subject_code"], r["students"], r["students_assessed"]) for r in table] == [
            (f"S{n}", students, assessed) for n in range(4)]
        async with db.sessions() as session:
            for r in table:
                assert r["students_assessed"] == await students_assessed(session, where, r["subject_code"])


async def test_the_probe_of_a_students_groups_is_a_range_of_the_key(db) -> None:
    """The groups before of a student cell that appears or empties: an index scan of the key's prefix per changed
    cell, the seven columns but the unit in its condition (apply22), not a scan of the table or of the organiser's
    range. (The statement runs on asyncpg's connection: EXPLAINed here over its rows as arrays.)"""
    async with db.sessions.begin() as session:
        await session.execute(_SEED)
        await session.execute(text(f"ANALYZE {figure_students.name}"))
    row = ["group", "1012/G11", "2991", "S1", 7, "2026/27", "HT", "st-1-10-3", 1]  # a second group: inserted
    async with db.sessions() as session:
        conn = (await (await session.connection()).get_raw_connection()).driver_connection
        plan = "\n".join(r[0] for r in await conn.fetch(f"EXPLAIN {_ADD[1]}", json_rows([row])))
    assert "Seq Scan on figure_students" not in plan, plan
    probe = [line for line in plan.splitlines() if "Index Cond" in line and "k.student_id" in line]
    assert len(probe) == 1 and "figure_students_pkey" in plan, plan
    assert all(f"k.{c}" in probe[0] for c in ("organiser_id", "period", "subject_code", "year", "student_id")), probe
    assert "unit_id" not in probe[0], probe
    # apply22: no speculative insertion (ON CONFLICT looked each key up once more); the stored rows are updated by
    # their place, found by the probe
    assert "Conflict" not in plan and "Tid Scan on figure_students" in plan, plan

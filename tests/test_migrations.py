"""Each service's Alembic migrations build exactly the schema its models describe."""

from __future__ import annotations

import importlib

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine

from styrkedja_devstack.services import SERVICES

pytestmark = [pytest.mark.integration, pytest.mark.postgres_only]


@pytest.mark.parametrize("package", [spec.package for spec in SERVICES])
async def test_migrations_match_the_models(package, fresh_database):
    url = fresh_database(package)
    metadata = importlib.import_module(f"{package}.persistence").metadata
    engine = create_async_engine(url)
    try:
        async with engine.connect() as conn:
            diff = await conn.run_sync(lambda c: compare_metadata(MigrationContext.configure(c), metadata))
    finally:
        await engine.dispose()
    assert diff == [], f"{package}: models and migrations differ; add a migration: {diff}"


async def _outbox_indexes(url: str, revisions: str) -> tuple[set[str], str]:
    """The outbox's indexes, and the type of the revision table's content."""
    engine = create_async_engine(url)
    try:
        async with engine.connect() as conn:
            rows = await conn.exec_driver_sql("SELECT indexname FROM pg_indexes WHERE tablename = 'outbox'")
            content = await conn.execute(text(
                "SELECT data_type FROM information_schema.columns WHERE table_name = :t AND column_name = 'content'"),
                {"t": revisions})
            return {row[0] for row in rows}, content.scalar_one()
    finally:
        await engine.dispose()


@pytest.mark.parametrize(("package", "before", "revisions"), [
    ("styrkedja_assessment", "9e2b4d6f8a10", "assessment_revisions"),
    ("styrkedja_forecast", "3f5a7c9e1b24", "forecast_revisions")])
async def test_the_lean_outbox_goes_down_and_up_again(package, before, revisions, fresh_database):
    """The bulk writers' outbox (issue 16): two indexes a row pays for, not four; the audit trail's
    content as `json`; reversible."""
    from alembic import command

    from styrkedja_kit.db import outside_event_loop
    from styrkedja_kit.migrations import alembic_config, upgrade

    url = fresh_database(package)
    lean = ({"outbox_pkey", "ix_outbox_unpublished", "ix_outbox_created_at_brin"}, "json")
    assert await _outbox_indexes(url, revisions) == lean
    outside_event_loop(command.downgrade, alembic_config(package, url), before)
    assert await _outbox_indexes(url, revisions) == ({"outbox_pkey", "ix_outbox_unpublished", "ix_outbox_created_at",
                                                      "outbox_event_id_key"}, "jsonb")
    upgrade(package, url)
    assert await _outbox_indexes(url, revisions) == lean


async def _aggregate_keys(url: str) -> dict[str, tuple[tuple[str, ...], set[str], int]]:
    """Per aggregates table: its primary key's columns in order, its indexes, and its rows."""
    engine = create_async_engine(url)
    out = {}
    try:
        async with engine.connect() as conn:
            for table in ("assessment_aggregates", "forecast_aggregates"):
                key = await conn.execute(text(
                    "SELECT a.attname FROM pg_index i JOIN pg_class t ON t.oid = i.indrelid "
                    "CROSS JOIN LATERAL unnest(i.indkey) WITH ORDINALITY AS k(attnum, n) "
                    "JOIN pg_attribute a ON a.attrelid = t.oid AND a.attnum = k.attnum "
                    "WHERE t.relname = :t AND i.indisprimary ORDER BY k.n"), {"t": table})
                indexes = await conn.execute(text("SELECT indexname FROM pg_indexes WHERE tablename = :t"), {"t": table})
                rows = await conn.execute(text(f"SELECT count(*) FROM {table}"))
                out[table] = (tuple(r[0] for r in key), {r[0] for r in indexes}, rows.scalar_one())
    finally:
        await engine.dispose()
    return out


async def test_the_aggregates_key_serves_the_reads_down_and_up_again(fresh_database):
    """Issue 16 (apply12): the aggregates' keys led by organiser and level, the read indexes gone (one index
    entry per new cell, not two); reversible, the cells kept both ways."""
    from alembic import command

    from styrkedja_kit.db import outside_event_loop
    from styrkedja_kit.migrations import alembic_config, upgrade

    package = "styrkedja_reporting"
    url = fresh_database(package)
    engine = create_async_engine(url)
    try:
        async with engine.begin() as conn:
            await conn.execute(text(
                "INSERT INTO assessment_aggregates VALUES ('school_unit', '29990011', '2999', 'GRGRMAT01', '2026/27', "
                "'HT', 1, 'assessment', 'AF', 7, 'female', 'C', 3)"))
            await conn.execute(text(
                "INSERT INTO forecast_aggregates VALUES ('organiser', '2999', '2999', 'GRGRMAT01', '2026/27', 'VT', 9, "
                "'male', 'ACCEPTABLE', false, 2)"))
    finally:
        await engine.dispose()
    now = {"assessment_aggregates": (("organiser_id", "level", "unit_id", "subject_code", "school_year", "term",
                                      "round", "kind", "scale", "value", "year", "gender"),
                                     {"assessment_aggregates_pkey"}, 1),
           "forecast_aggregates": (("organiser_id", "level", "unit_id", "subject_code", "school_year", "term", "year",
                                    "gender", "value", "late"), {"forecast_aggregates_pkey"}, 1)}
    assert await _aggregate_keys(url) == now
    outside_event_loop(command.downgrade, alembic_config(package, url), "c3f9a7d2e5b1")
    assert await _aggregate_keys(url) == {
        "assessment_aggregates": (("level", "unit_id", "organiser_id", "subject_code", "school_year", "term", "round",
                                   "kind", "scale", "year", "gender", "value"),
                                  {"assessment_aggregates_pkey", "ix_assessment_aggregates_read"}, 1),
        "forecast_aggregates": (("level", "unit_id", "organiser_id", "subject_code", "school_year", "term", "year",
                                 "gender", "value", "late"),
                                {"forecast_aggregates_pkey", "ix_forecast_aggregates_organiser_level"}, 1)}
    upgrade(package, url)
    assert await _aggregate_keys(url) == now


async def _fact_indexes(url: str) -> dict[str, str]:
    """assessment_facts' indexes on student_id: name → definition."""
    engine = create_async_engine(url)
    try:
        async with engine.connect() as conn:
            rows = await conn.execute(text(
                "SELECT indexname, indexdef FROM pg_indexes WHERE tablename = 'assessment_facts' "
                "AND indexdef LIKE '%student_id%'"))
            return {r[0]: r[1].split(" USING ", 1)[1] for r in rows}
    finally:
        await engine.dispose()


async def test_the_facts_student_index_carries_the_subject_down_and_up_again(fresh_database):
    """Issue 16 (apply15): the facts' student index led by (student, subject), replacing (student, school year,
    term) — one index entry per fact either way; reversible."""
    from alembic import command

    from styrkedja_kit.db import outside_event_loop
    from styrkedja_kit.migrations import alembic_config, upgrade

    package = "styrkedja_reporting"
    url = fresh_database(package)
    now = {"ix_assessment_facts_student_subject": "btree (student_id, subject_code, school_year, term)"}
    assert await _fact_indexes(url) == now
    outside_event_loop(command.downgrade, alembic_config(package, url), "d4a8b2e6f0c3")
    assert await _fact_indexes(url) == {"ix_assessment_facts_student": "btree (student_id, school_year, term)"}
    upgrade(package, url)
    assert await _fact_indexes(url) == now


async def test_the_figure_students_key_serves_the_reads_down_and_up_again(fresh_database):
    """Issue 16 (apply15): figure_students' key led by (organiser, level, school year, period), its read index gone
    (two index entries per new student cell, not three); reversible, the rows kept both ways."""
    from alembic import command

    from styrkedja_kit.db import outside_event_loop
    from styrkedja_kit.migrations import alembic_config, upgrade

    package = "styrkedja_reporting"
    url = fresh_database(package)

    async def state() -> tuple[dict[str, str], int]:
        engine = create_async_engine(url)
        try:
            async with engine.connect() as conn:
                rows = await conn.execute(text(
                    "SELECT indexname, indexdef FROM pg_indexes WHERE tablename = 'figure_students'"))
                n = await conn.execute(text("SELECT count(*) FROM figure_students"))
                return {r[0]: r[1].split(" USING ", 1)[1] for r in rows}, n.scalar_one()
        finally:
            await engine.dispose()

    engine = create_async_engine(url)
    try:
        async with engine.begin() as conn:
            await conn.execute(text("INSERT INTO figure_students VALUES ('group', '29990011/7A', '2999', 'GRGRMAT01', 7, "
                                    "'2026/27', 'HT', 'st-1', 2)"))
    finally:
        await engine.dispose()
    student = "btree (student_id, subject_code, school_year, period)"
    now = ({"figure_students_pkey": "btree (organiser_id, level, school_year, period, unit_id, subject_code, year, "
                                    "student_id)", "ix_figure_students_student": student}, 1)
    assert await state() == now
    outside_event_loop(command.downgrade, alembic_config(package, url), "e5b9c3f7a1d4")
    assert await state() == ({"figure_students_pkey": "btree (level, unit_id, organiser_id, subject_code, year, "
                                                      "school_year, period, student_id)",
                              "ix_figure_students_organiser_level": "btree (organiser_id, level, school_year, period)",
                              "ix_figure_students_student": student}, 1)
    upgrade(package, url)
    assert await state() == now

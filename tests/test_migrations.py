"""Each service's Alembic migrations build exactly the schema its models describe."""

from __future__ import annotations

import asyncio
import importlib
from collections.abc import Callable
from typing import Any

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
                                     # 0023's partial index of the organiser rows, that the nation reads sum
                                     {"assessment_aggregates_pkey", "ix_assessment_aggregates_nation"}, 1),
           "forecast_aggregates": (("organiser_id", "level", "unit_id", "subject_code", "school_year", "term", "year",
                                    "gender", "value", "late"),
                                   {"forecast_aggregates_pkey", "ix_forecast_aggregates_nation"}, 1)}
    assert await _aggregate_keys(url) == now
    outside_event_loop(command.downgrade, alembic_config(package, url), "c3f9a7d2e5b1")
    assert await _aggregate_keys(url) == {
        "assessment_aggregates": (("level", "unit_id", "organiser_id", "subject_code", "school_year", "term", "round",
                                   "kind", "scale", "year", "gender", "value"),
                                  {"assessment_aggregates_pkey", "ix_assessment_aggregates_read"}, 1),
        "forecast_aggregates": (("level", "unit_id", "organiser_id", "subject_code", "school_year", "term", "year",
                                 "gender", "value", "late"),
                                # its organiser row's nation copy made again on the way down (0022)
                                {"forecast_aggregates_pkey", "ix_forecast_aggregates_organiser_level"}, 2)}
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
    now = {"ix_assessment_facts_student_newest": "btree (student_id, subject_code, school_year, "
           "(((term)::text = 'VT'::text)), round, (((kind)::text = 'term_grade'::text)), assessment_id)"}
    assert await _fact_indexes(url) == now
    # apply33 (0036): the (student, subject) index in the newest-result order, replacing 0019's
    outside_event_loop(command.downgrade, alembic_config(package, url), "c66db3431cbd")
    assert await _fact_indexes(url) == {
        "ix_assessment_facts_student_subject": "btree (student_id, subject_code, school_year, term)"}
    outside_event_loop(command.downgrade, alembic_config(package, url), "d4a8b2e6f0c3")
    assert await _fact_indexes(url) == {"ix_assessment_facts_student": "btree (student_id, school_year, term)"}
    upgrade(package, url)
    assert await _fact_indexes(url) == now


async def test_the_figure_students_key_serves_the_reads_down_and_up_again(fresh_database):
    """Issue 16 (apply15): figure_students' key led by (organiser, level, school year, period), its read index gone
    (two index entries per new student cell, not three); apply22: the unit last, the student index gone (one);
    reversible, the rows kept both ways."""
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
    # apply22 (0025): the unit last in the key, the student index gone (the probe of a student's groups is a range
    # of the key: one index entry per new student cell)
    now = ({"figure_students_pkey": "btree (organiser_id, level, school_year, period, subject_code, year, student_id, "
                                    "unit_id)"}, 1)
    assert await state() == now
    outside_event_loop(command.downgrade, alembic_config(package, url), "d5a7c9e1f3b4")
    assert await state() == ({"figure_students_pkey": "btree (organiser_id, level, school_year, period, unit_id, "
                                                      "subject_code, year, student_id)",
                              "ix_figure_students_student": student}, 1)
    outside_event_loop(command.downgrade, alembic_config(package, url), "e5b9c3f7a1d4")
    assert await state() == ({"figure_students_pkey": "btree (level, unit_id, organiser_id, subject_code, year, "
                                                      "school_year, period, student_id)",
                              "ix_figure_students_organiser_level": "btree (organiser_id, level, school_year, period)",
                              "ix_figure_students_student": student}, 1)
    upgrade(package, url)
    assert await state() == now


async def test_freshness_per_partition_goes_down_and_up_again(fresh_database):
    """Issue 16 (apply16): freshness keyed by (topic, partition); down, each topic keeps its newest row (one per
    topic, as before); up again, those rows are partition -1 (no one partition's)."""
    from alembic import command

    from styrkedja_kit.db import outside_event_loop
    from styrkedja_kit.migrations import alembic_config, upgrade

    package = "styrkedja_reporting"
    url = fresh_database(package)

    async def rows(sql: str) -> list[tuple[Any, ...]]:
        engine = create_async_engine(url)
        try:
            async with engine.begin() as conn:
                return [tuple(r) for r in (await conn.execute(text(sql))).all()]
        finally:
            await engine.dispose()

    await rows("INSERT INTO freshness (topic, partition, newest_event_time) VALUES "
               "('styrkedja.assessments', 0, '2026-10-01T08:00Z'), ('styrkedja.assessments', 3, '2026-10-02T08:00Z'), "
               "('styrkedja.forecasts', 1, '2026-09-01T08:00Z') RETURNING topic")
    outside_event_loop(command.downgrade, alembic_config(package, url), "f6c0d4a8b2e5")
    before = await rows("SELECT topic, to_char(newest_event_time AT TIME ZONE 'UTC', 'MM-DD') FROM freshness "
                        "ORDER BY topic")
    assert before == [("styrkedja.assessments", "10-02"), ("styrkedja.forecasts", "09-01")]
    upgrade(package, url)
    assert await rows("SELECT topic, partition FROM freshness ORDER BY topic") == [
        ("styrkedja.assessments", -1), ("styrkedja.forecasts", -1)]


async def test_the_nation_read_indexes_go_down_and_up_again(fresh_database):
    """Issue 16 (nation19, 0023): the partial indexes of the organiser level's rows that the nation reads take; down,
    gone; up, back, each over the organiser rows only."""
    package = "styrkedja_reporting"
    url = fresh_database(package)
    read = ("SELECT indexname, indexdef FROM pg_indexes WHERE indexname IN ('ix_assessment_aggregates_nation', "
            "'ix_forecast_aggregates_nation', 'ix_figure_pass_nation') ORDER BY 1")
    now = (await _run(url, read))[0]
    assert [name for name, _ in now] == ["ix_assessment_aggregates_nation", "ix_figure_pass_nation",
                                         "ix_forecast_aggregates_nation"]
    assert all(definition.endswith("WHERE ((level)::text = 'organiser'::text)") for _, definition in now)
    up = _down_and_up(package, url, "b8e2f6a0c4d7")
    assert (await _run(url, read))[0] == []
    up()
    assert (await _run(url, read))[0] == now


async def test_the_nation_read_from_the_organisers_goes_down_and_up_again(fresh_database):
    """Issue 16 (apply18): no nation cells are kept (the nation reads sum the organiser level's); down, every cell
    table has its nation copies of the organiser rows again, exactly those; up again, they go and nothing else."""
    package = "styrkedja_reporting"
    url = fresh_database(package)
    cell = "'2999', 'GRGRMAT01', 7, '2026/27', 'HT'"
    await _run(url,
               f"INSERT INTO figure_pass VALUES ('organiser', '2999', {cell}, 3, 2, 1, 1, 0, 0, 4, '2026-10-01', 1), "
               f"('group', '29990011/7A', {cell}, 3, 2, 1, 1, 0, 0, 4, '2026-10-01', 1)",
               "INSERT INTO assessment_aggregates (level, unit_id, organiser_id, subject_code, school_year, term, round, "
               "kind, scale, year, gender, value, count) VALUES ('organiser', '2999', '2999', 'GRGRMAT01', '2026/27', "
               "'HT', 1, 'assessment', 'AF', 7, 'female', 'A', 2), ('school_unit', '29990011', '2999', 'GRGRMAT01', "
               "'2026/27', 'HT', 1, 'assessment', 'AF', 7, 'female', 'A', 2)",
               "INSERT INTO support_below_pass VALUES ('group', '29990011/7A', '2999', 'GRGRMAT01', 'st-1', 1)")
    read = ("SELECT 'pass', level, unit_id, organiser_id, assessed_female, students, newest FROM figure_pass UNION ALL "
            "SELECT 'results', level, unit_id, organiser_id, count, 0, NULL FROM assessment_aggregates UNION ALL "
            "SELECT 'below', level, unit_id, organiser_id, count, 0, NULL FROM support_below_pass ORDER BY 1, 2, 3")
    (now,) = await _run(url, read)
    assert not [r for r in now if r[1] == "nation"]
    up = _down_and_up(package, url, "a7d1e5c9f3b6")
    (down,) = await _run(url, read)
    nation = [r for r in down if r[1] == "nation"]
    # below-pass's levels above the group are made from its group rows on the way down (0038, apply34)
    below_above = [("below", "school_unit", "29990011", "2999", 1, 0, None), ("below", "organiser", "2999", "2999", 1, 0,
                                                                               None)]
    assert sorted(nation) == sorted((t, "nation", "SE", o, *rest) for t, level, _, o, *rest in [*now, *below_above]
                                    if level == "organiser")
    assert sorted(r for r in down if r[1] != "nation") == sorted([*now, *below_above])
    up()
    (again,) = await _run(url, read)
    assert again == now


async def _run(url: str, *statements: str) -> list[list[tuple[Any, ...]]]:
    """Each statement's rows (none for a write), in one transaction."""
    engine = create_async_engine(url)
    try:
        async with engine.begin() as conn:
            out = []
            for statement in statements:
                result = await conn.execute(text(statement))
                out.append([tuple(r) for r in result] if result.returns_rows else [])
            return out
    finally:
        await engine.dispose()


def _down_and_up(package: str, url: str, before: str) -> Callable[[], None]:
    """Downgrade to `before`; the upgrade back to head, to call once old rows are in."""
    from alembic import command

    from styrkedja_kit.db import outside_event_loop
    from styrkedja_kit.migrations import alembic_config, upgrade

    outside_event_loop(command.downgrade, alembic_config(package, url), before)
    return lambda: upgrade(package, url)


_A, _B, _C, _D = ("00000000-0000-4000-8000-00000000000a", "00000000-0000-4000-8000-00000000000b",
                  "00000000-0000-4000-8000-00000000000c", "00000000-0000-4000-8000-00000000000d")
_OUTBOX = ("INSERT INTO outbox (event_id, topic, key, payload, published_at) VALUES "
           "(gen_random_uuid(), 't', convert_to('2120001234', 'UTF8'), convert_to('{\"o\":\"2120001234\"}', 'UTF8'), "
           "NULL), (gen_random_uuid(), 't', convert_to('162120005678', 'UTF8'), convert_to('{}', 'UTF8'), now()), "
           "(gen_random_uuid(), 't', convert_to('2999', 'UTF8'), convert_to('{}', 'UTF8'), NULL)")
_OUTBOX_AFTER = [("212000-1234", '{"o":"2120001234"}', False), ("162120005678", "{}", True), ("2999", "{}", False)]
_OUTBOX_READ = ("SELECT convert_from(key, 'UTF8'), convert_from(payload, 'UTF8'), published_at IS NOT NULL "
                "FROM outbox ORDER BY id")


def _assessment(assessment_id: str, organiser: str, *, retracted: bool = False, revision: int = 1,
                student: str = "st-1") -> str:
    return ("INSERT INTO assessments (assessment_id, revision, retracted, organiser_id, school_unit_code, group_id, "
            "student_id, subject_code, kind, school_year, term, round, content) VALUES "
            f"('{assessment_id}', {revision}, {retracted}, '{organiser}', '29990011', '7A', '{student}', 'GRGRMAT01', "
            f"'grade', '2026/27', 'HT', 1, '{{\"organiser_id\": \"{organiser}\", \"student_id\": \"{student}\"}}')")


async def test_assessment_organiser_ids_are_rewritten_to_the_kept_spelling(fresh_database):
    """Rows stored before one spelling was kept hold NNNNNN-NNNN after the upgrade (column and content), a
    kommunkod stays, an unpublished outbox row is keyed so (its payload as written, a published row as sent),
    and of two rows one natural key then names, the retracted one goes (its audit trail stays)."""
    package = "styrkedja_assessment"
    url = fresh_database(package)
    up = _down_and_up(package, url, "5b7d9f1a3c60")
    await _run(url,
               _assessment(_A, "2120001234"), _assessment(_B, "2999", student="st-2"),
               _assessment(_C, "16212000-1234", student="st-3", retracted=True, revision=2),
               _assessment(_D, "212000-1234", student="st-3"),
               "INSERT INTO assessment_revisions (assessment_id, revision, event_id, retraction, content) VALUES "
               f"('{_C}', 1, gen_random_uuid(), false, '{{}}'), ('{_C}', 2, gen_random_uuid(), true, '{{}}')",
               "INSERT INTO support_interventions (intervention_id, revision, retracted, organiser_id, "
               "school_unit_code, group_id, student_id, kind, status, content) VALUES "
               f"('{_A}', 1, false, '162120001234', '29990011', '7A', 'st-1', 'extra_adaptation', 'active', "
               "'{\"organiser_id\": \"162120001234\"}')",
               "INSERT INTO plans (plan_id, revision, retracted, organiser_id, school_unit_code, group_id, subject_code, "
               f"school_year, term, content) VALUES ('{_A}', 1, false, '2120001234', '29990011', '7A', 'GRGRMAT01', "
               "'2026/27', 'HT', '{\"organiser_id\": \"2120001234\"}')",
               _OUTBOX)
    up()
    assessments, revisions, support, plans, outbox = await _run(
        url, "SELECT assessment_id::text, organiser_id, content->>'organiser_id', retracted FROM assessments "
             "ORDER BY assessment_id",
        "SELECT assessment_id::text, revision FROM assessment_revisions ORDER BY revision",
        "SELECT organiser_id, content->>'organiser_id' FROM support_interventions",
        "SELECT organiser_id, content->>'organiser_id' FROM plans", _OUTBOX_READ)
    assert assessments == [(_A, "212000-1234", "212000-1234", False), (_B, "2999", "2999", False),
                           (_D, "212000-1234", "212000-1234", False)]
    assert revisions == [(_C, 1), (_C, 2)]
    assert support == [("212000-1234", "212000-1234")]
    assert plans == [("212000-1234", "212000-1234")]
    assert outbox == _OUTBOX_AFTER


async def test_two_live_assessments_one_key_names_refuse_the_upgrade_until_one_is_retracted(fresh_database):
    from styrkedja_kit.migrations import OrganiserKeyCollision

    package = "styrkedja_assessment"
    url = fresh_database(package)
    up = _down_and_up(package, url, "5b7d9f1a3c60")
    await _run(url, _assessment(_A, "2120001234"), _assessment(_B, "212000-1234"))
    with pytest.raises(OrganiserKeyCollision) as refused:
        up()
    message = str(refused.value)
    assert message.startswith("assessments: 2 live rows would share the unique key (organiser_id, student_id, "
                              "subject_code, kind, school_year, term, round)")
    assert "one_row_per_key" in message and _A in message and _B in message and "st-1" not in message
    before = await _run(url, "SELECT organiser_id FROM assessments ORDER BY assessment_id")
    assert before == [[("2120001234",), ("212000-1234",)]]  # nothing written
    await _run(url, f"UPDATE assessments SET retracted = true, revision = 2 WHERE assessment_id = '{_A}'")
    up()
    after = await _run(url, "SELECT assessment_id::text, organiser_id FROM assessments")
    assert after == [[(_B, "212000-1234")]]


def _calendar(organiser: str) -> tuple[str, str]:
    return (f"INSERT INTO organiser_calendars VALUES ('{organiser}', 1, '{{}}', now(), 'sub-1')",
            f"INSERT INTO organiser_calendar_revisions (organiser_id, revision, event_id, calendar, changed_by) "
            f"VALUES ('{organiser}', 1, gen_random_uuid(), '{{}}', 'sub-1')")


async def test_forecast_organiser_ids_are_rewritten_to_the_kept_spelling(fresh_database):
    """Forecasts (column and content, the id as it was), calendars and their revisions, the outbox's keys."""
    package = "styrkedja_forecast"
    url = fresh_database(package)
    up = _down_and_up(package, url, "6c8e0a2b4d71")
    await _run(url, *_calendar("162120001234"), *_calendar("2999"),
               "INSERT INTO forecasts (forecast_id, revision, withdrawn, organiser_id, school_unit_code, group_id, "
               "student_id, teacher_id, subject_code, year, school_year, term, value, submitted_at, window_deadline, "
               f"late, content) VALUES ('{_A}', 1, false, '2120001234', '29990011', '7A', 'st-1', 't-1', 'GRGRMAT01', "
               "7, '2026/27', 'HT', 'ACCEPTABLE', now(), '2026-10-23', false, '{\"organiser_id\": \"2120001234\"}')",
               _OUTBOX)
    up()
    calendars, revisions, forecasts, outbox = await _run(
        url, "SELECT organiser_id FROM organiser_calendars ORDER BY organiser_id",
        "SELECT organiser_id, revision FROM organiser_calendar_revisions ORDER BY organiser_id",
        "SELECT forecast_id::text, organiser_id, content->>'organiser_id' FROM forecasts", _OUTBOX_READ)
    assert calendars == [("212000-1234",), ("2999",)]
    assert revisions == [("212000-1234", 1), ("2999", 1)]
    assert forecasts == [(_A, "212000-1234", "212000-1234")]
    assert outbox == _OUTBOX_AFTER


async def test_one_organisers_calendar_in_two_spellings_refuses_the_upgrade(fresh_database):
    from styrkedja_kit.migrations import OrganiserKeyCollision

    package = "styrkedja_forecast"
    url = fresh_database(package)
    up = _down_and_up(package, url, "6c8e0a2b4d71")
    await _run(url, *_calendar("2120001234"), *_calendar("212000-1234"))
    with pytest.raises(OrganiserKeyCollision, match=r"^organiser_calendars: 2 live rows would share the unique key "
                                                    r"\(organiser_id\) .*one_row_per_key.*: 212000-1234, 2120001234$"):
        up()
    await _run(url, "DELETE FROM organiser_calendars WHERE organiser_id = '2120001234'",
               "DELETE FROM organiser_calendar_revisions WHERE organiser_id = '2120001234'")
    up()
    assert await _run(url, "SELECT organiser_id FROM organiser_calendars") == [[("212000-1234",)]]


async def test_lika_organiser_ids_are_rewritten_to_the_kept_spelling(fresh_database):
    package = "styrkedja_lika"
    url = fresh_database(package)
    up = _down_and_up(package, url, "5c2d7a91b0e4")
    rows = ", ".join(f"('{i}', '{o}', '29990011', 'grundskola', 'rektor', '2026', 'DRAFT')"
                     for i, o in ((_A, "2120001234"), (_B, "16212000-1234"), (_C, "2999"), (_D, "212000-1234")))
    await _run(url, "INSERT INTO self_assessments (self_assessment_id, organiser_id, school_unit_code, school_form, "
                    f"respondent_role, catalogue_version, status) VALUES {rows}", _OUTBOX)
    up()
    stored, outbox = await _run(url, "SELECT organiser_id FROM self_assessments ORDER BY self_assessment_id",
                                _OUTBOX_READ)
    assert stored == [("212000-1234",), ("212000-1234",), ("2999",), ("212000-1234",)]
    assert outbox == _OUTBOX_AFTER


async def test_the_migrations_kept_spelling_is_the_contracts(fresh_database):
    """`keep_organiser_spelling` in SQL rewrites a value exactly as `canonical_organiser_id` does: for every
    spelling the brief names, and for strings of digits and hyphens of every length a column holds."""
    import random

    from styrkedja_contracts.identifiers import canonical_organiser_id
    from styrkedja_kit.migrations import keep_organiser_spelling

    draw = random.Random(20261203)
    values = {"2120001234", "212000-1234", "162120001234", "16212000-1234", "2999", "1621200012", "16212000123",
              "1621200-01234", "212000-12345", "21200-01234", "x2120001234", "2120001234\n", "١٢٣٤٥٦٧٨٩٠"}
    values |= {"".join(draw.choice("0123456789-16") for _ in range(draw.randint(1, 16))) for _ in range(2000)}
    engine = create_async_engine(fresh_database("styrkedja_lika"))
    try:
        async with engine.begin() as conn:
            await conn.execute(text("CREATE TEMPORARY TABLE spellings (given text, organiser_id text)"))
            await conn.execute(text("INSERT INTO spellings VALUES (:v, :v)"), [{"v": v} for v in sorted(values)])
            await conn.run_sync(lambda sync: keep_organiser_spelling(sync, "spellings"))
            kept = dict((await conn.execute(text("SELECT given, organiser_id FROM spellings"))).all())
    finally:
        await engine.dispose()
    assert kept == {v: canonical_organiser_id(v) for v in values}
    assert kept["16212000-1234"] == kept["162120001234"] == kept["2120001234"] == "212000-1234"


async def _primary_keys(url: str, tables: tuple[str, ...]) -> dict[str, str]:
    engine = create_async_engine(url)
    try:
        async with engine.connect() as conn:
            rows = (await conn.execute(text(
                "SELECT conrelid::regclass::text, pg_get_constraintdef(oid) FROM pg_constraint "
                "WHERE contype = 'p' AND conrelid::regclass::text = ANY(CAST(:t AS text[]))"), {"t": list(tables)})).all()
    finally:
        await engine.dispose()
    return {row[0]: row[1] for row in rows}


async def test_the_facts_keyed_within_their_organiser_down_and_up_again(fresh_database):
    """Round 24b: a record is identified within its organiser — the fact tables, compliance's round reports and
    LIKA's tables keyed by (id, organiser), the id first; reversible (while no two organisers share an id)."""
    from alembic import command

    from styrkedja_kit.db import outside_event_loop
    from styrkedja_kit.migrations import alembic_config, upgrade

    package = "styrkedja_reporting"
    url = fresh_database(package)
    ids = {"assessment_facts": "assessment_id", "forecast_facts": "forecast_id", "support_facts": "intervention_id",
           "plan_facts": "plan_id", "compliance_round_reports": "assessment_id",
           "lika_self_assessments": "self_assessment_id", "lika_action_plans": "self_assessment_id"}
    now = {table: f"PRIMARY KEY ({column}, organiser_id)" for table, column in ids.items()
           if table != "compliance_round_reports"}  # folded into the facts at head (migration 0037, rounds33)
    assert await _primary_keys(url, tuple(ids)) == now
    outside_event_loop(command.downgrade, alembic_config(package, url), "f9c3e5a7b1d4")
    assert await _primary_keys(url, tuple(ids)) == {table: f"PRIMARY KEY ({column})" for table, column in ids.items()}
    upgrade(package, url)
    assert await _primary_keys(url, tuple(ids)) == now


async def test_the_claims_within_their_organiser_down_and_up_again(fresh_database):
    """Round 24c: the consumer's claims keyed by (event id, organiser), the id first; a claim made before (of unknown
    organiser) is kept as the kit's `LEGACY_ORGANISER`'s, found by its partial index; reversible (while no two
    organisers hold a claim under one id)."""
    from uuid import uuid4

    from alembic import command

    from styrkedja_kit.consumer import LEGACY_ORGANISER
    from styrkedja_kit.db import outside_event_loop
    from styrkedja_kit.migrations import alembic_config, upgrade

    package = "styrkedja_reporting"
    url = fresh_database(package)
    table = ("consumer_applied_events",)
    now = {table[0]: "PRIMARY KEY (event_id, organiser_id, topic)"}  # round 27: and topic
    assert await _primary_keys(url, table) == now
    outside_event_loop(command.downgrade, alembic_config(package, url), "a3d7f1b5c9e2")
    assert await _primary_keys(url, table) == {table[0]: "PRIMARY KEY (event_id)"}
    before = uuid4()
    engine = create_async_engine(url)
    try:
        async with engine.begin() as conn:
            await conn.execute(text("INSERT INTO consumer_applied_events (event_id, group_id) VALUES (:e, 'g')"),
                               {"e": before})
    finally:
        await engine.dispose()
    upgrade(package, url)
    assert await _primary_keys(url, table) == now
    engine = create_async_engine(url)
    try:
        async with engine.connect() as conn:
            rows = (await conn.execute(text("SELECT event_id, organiser_id FROM consumer_applied_events"))).all()
            index = (await conn.execute(text(
                "SELECT indexdef FROM pg_indexes WHERE indexname = 'ix_consumer_applied_events_legacy'"))).scalar_one()
    finally:
        await engine.dispose()
    assert [tuple(row) for row in rows] == [(before, LEGACY_ORGANISER)]
    assert "WHERE ((topic)::text = '*'::text)" in index  # round 27's: the claims of unknown topic, these among them
    outside_event_loop(command.downgrade, alembic_config(package, url), "a3d7f1b5c9e2")
    assert await _primary_keys(url, table) == {table[0]: "PRIMARY KEY (event_id)"}


async def test_the_claims_within_their_topic_down_and_up_again_and_a_replay_applies_no_old_claim_twice(
        fresh_database):
    """Round 27: the consumer's claims keyed by (event id, organiser, topic); the claims made before (of their
    organiser, or of unknown organiser) are kept as the kit's `LEGACY_TOPIC`'s, found by the partial index, and count
    for every topic: a replay after the upgrade applies none of their events again, on whichever topic, while an event
    of another topic under a claimed id of this schema is its own. Reversible (while no two topics' claims of one
    organiser share an id)."""
    from uuid import uuid4

    from alembic import command

    from styrkedja_contracts import decode_event
    from styrkedja_contracts.examples import example_bytes
    from styrkedja_kit.consumer import LEGACY_ORGANISER, LEGACY_TOPIC, ConsumerLoop, Delivered
    from styrkedja_kit.db import Database, outside_event_loop
    from styrkedja_kit.migrations import alembic_config, upgrade
    from styrkedja_reporting.persistence import metadata
    from styrkedja_reporting.settings import ReportingSettings

    package, before_topic = "styrkedja_reporting", "ee9188854bff"
    url = fresh_database(package)
    table = ("consumer_applied_events",)
    assert await _primary_keys(url, table) == {table[0]: "PRIMARY KEY (event_id, organiser_id, topic)"}
    outside_event_loop(command.downgrade, alembic_config(package, url), before_topic)
    assert await _primary_keys(url, table) == {table[0]: "PRIMARY KEY (event_id, organiser_id)"}
    assessment = decode_event(example_bytes("se.styrkedja.assessment.published.v1"))
    support = decode_event(example_bytes("se.styrkedja.support.intervention_recorded.v1"))
    organiser = assessment.data.organiser_id
    own, unknown = uuid4(), uuid4()  # a claim of its organiser's, one of unknown organiser (from before round 24c)
    engine = create_async_engine(url)
    try:
        async with engine.begin() as conn:
            for event_id, whose in ((own, organiser), (unknown, LEGACY_ORGANISER)):
                await conn.execute(text("INSERT INTO consumer_applied_events (event_id, organiser_id, group_id) "
                                        "VALUES (:e, :o, 'g')"), {"e": event_id, "o": whose})
    finally:
        await engine.dispose()
    upgrade(package, url)
    assert await _primary_keys(url, table) == {table[0]: "PRIMARY KEY (event_id, organiser_id, topic)"}
    engine = create_async_engine(url)
    try:
        async with engine.connect() as conn:
            rows = (await conn.execute(text(
                "SELECT event_id, organiser_id, topic FROM consumer_applied_events"))).all()
            index = (await conn.execute(text(
                "SELECT indexdef FROM pg_indexes WHERE indexname = 'ix_consumer_applied_events_legacy'"))).scalar_one()
    finally:
        await engine.dispose()
    assert sorted(tuple(row) for row in rows) == sorted([(own, organiser, LEGACY_TOPIC),
                                                         (unknown, LEGACY_ORGANISER, LEGACY_TOPIC)])
    assert f"WHERE ((topic)::text = '{LEGACY_TOPIC}'::text)" in index

    # the replay after the upgrade: the old claims' events, on either topic, are duplicates; a new claim is applied,
    # and another topic's event under its id is its own
    database = Database(url, pool_size=2)
    settings = ReportingSettings(database_url=url, kafka_bootstrap_servers="unused:9092", outbox_enabled=False,
                                 consumer_enabled=False)
    loop = ConsumerLoop(settings, database, group_id="g", topics=[], handler=None,
                        applied_table=metadata.tables["consumer_applied_events"],
                        offsets_table=metadata.tables["consumer_offsets"])
    fresh = uuid4()

    def delivered(event, event_id, topic):
        return Delivered(event.model_copy(update={"id": event_id}), topic, 0, 0)

    replayed = [delivered(event, event_id, topic) for event_id in (own, unknown)
                for event, topic in ((assessment, "styrkedja.assessments"), (support, "styrkedja.support"))]
    try:
        async with database.sessions.begin() as session:
            applied, _ = await loop._claim_new(session, [*replayed, delivered(assessment, fresh, "styrkedja.assessments")])
        assert [(item.event.id, item.topic) for item in applied] == [(fresh, "styrkedja.assessments")]
        async with database.sessions.begin() as session:
            applied, _ = await loop._claim_new(session, [delivered(support, fresh, "styrkedja.support")])
        assert [(item.event.id, item.topic) for item in applied] == [(fresh, "styrkedja.support")]
    finally:
        await database.dispose()
    # down (once no two topics' claims of one organiser share an id, which its primary key would refuse): keyed by
    # (id, organiser) again
    engine = create_async_engine(url)
    try:
        async with engine.begin() as conn:
            await conn.execute(text("DELETE FROM consumer_applied_events WHERE event_id = :e AND topic = :t"),
                               {"e": fresh, "t": "styrkedja.support"})
    finally:
        await engine.dispose()
    outside_event_loop(command.downgrade, alembic_config(package, url), before_topic)
    assert await _primary_keys(url, table) == {table[0]: "PRIMARY KEY (event_id, organiser_id)"}
    upgrade(package, url)


async def test_the_forecast_runs_are_filled_from_the_facts_down_and_up_again(fresh_database):
    """Round 26c: compliance keeps each forecast's run (`compliance_forecast_runs`), filled from the stored facts (the
    newest revision's flag: all that is known of a run before); a withdrawn one is not late; reversible."""
    from uuid import uuid4

    from alembic import command

    from styrkedja_kit.db import outside_event_loop
    from styrkedja_kit.migrations import alembic_config, upgrade

    package = "styrkedja_reporting"
    url = fresh_database(package)
    outside_event_loop(command.downgrade, alembic_config(package, url), "c8e2a4f6b0d3")
    late, withdrawn = uuid4(), uuid4()
    engine = create_async_engine(url)
    try:
        async with engine.begin() as conn:
            assert (await conn.execute(text("SELECT to_regclass('compliance_forecast_runs')"))).scalar_one() is None
            for fid, revision, is_withdrawn in ((late, 3, False), (withdrawn, 2, True)):
                await conn.execute(text(
                    "INSERT INTO forecast_facts (forecast_id, revision, withdrawn, organiser_id, school_unit_code, "
                    "group_id, student_id, gender, year, subject_code, value, school_year, term, late) VALUES "
                    "(:f, :r, :w, '2999', '11111111', '7A', 's-1', 'female', 7, 'GRGRMAT01', 'ACCEPTABLE', "
                    "'2026/27', 'HT', true)"), {"f": fid, "r": revision, "w": is_withdrawn})
    finally:
        await engine.dispose()
    upgrade(package, url)
    engine = create_async_engine(url)
    try:
        async with engine.connect() as conn:
            rows = {tuple(r) for r in (await conn.execute(text(
                "SELECT forecast_id, organiser_id, revision, withdrawn_revision, on_time_revision, late "
                "FROM compliance_forecast_runs"))).all()}
    finally:
        await engine.dispose()
    assert rows == {(late, "2999", 3, None, None, True), (withdrawn, "2999", 2, 2, None, False)}
    outside_event_loop(command.downgrade, alembic_config(package, url), "c8e2a4f6b0d3")
    engine = create_async_engine(url)
    try:
        async with engine.connect() as conn:
            assert (await conn.execute(text("SELECT to_regclass('compliance_forecast_runs')"))).scalar_one() is None
    finally:
        await engine.dispose()


#: reporting's 0036 (before the round reports were folded into the facts, 0037)
BEFORE_ROUNDS_IN_FACTS = "7c1e5a9d3b62"


async def test_the_round_reports_go_into_the_facts_down_and_up_again(fresh_database):
    """Rounds33: compliance's round reports folded into the assessment facts — each fact's `received_at` copied from
    its round report (a fact without one, stored before compliance's rounds, keeps none), the table dropped; the
    downgrade makes the table again from the facts that have a time."""
    from datetime import UTC, datetime
    from uuid import uuid4

    from alembic import command

    from styrkedja_kit.db import outside_event_loop
    from styrkedja_kit.migrations import alembic_config, upgrade

    package = "styrkedja_reporting"
    url = fresh_database(package)
    outside_event_loop(command.downgrade, alembic_config(package, url), BEFORE_ROUNDS_IN_FACTS)
    reported, retracted, older = uuid4(), uuid4(), uuid4()
    first, later = datetime(2026, 10, 1, 8, tzinfo=UTC), datetime(2026, 10, 9, 15, tzinfo=UTC)
    fact = text("INSERT INTO assessment_facts (assessment_id, revision, retracted, organiser_id, school_unit_code, "
                "group_id, student_id, gender, year, subject_code, kind, scale, value, school_year, term, round) "
                "VALUES (:a, :r, :x, '2999', '11111111', '7A', 's-1', 'female', 7, 'GRGRMAT01', 'round', 'AF', 'E', "
                "'2026/27', 'HT', 1)")
    report = text("INSERT INTO compliance_round_reports VALUES (:a, :r, :x, '2999', '11111111', '7A', 's-1', "
                  "'GRGRMAT01', '2026/27', 1, :t)")
    engine = create_async_engine(url)
    try:
        async with engine.begin() as conn:
            for aid, revision, is_retracted, at in ((reported, 2, False, first), (retracted, 3, True, later),
                                                    (older, 1, False, None)):
                await conn.execute(fact, {"a": aid, "r": revision, "x": is_retracted})
                if at is not None:  # the older one: stored before compliance kept round reports (0012)
                    await conn.execute(report, {"a": str(aid), "r": revision, "x": is_retracted, "t": at})
    finally:
        await engine.dispose()
    upgrade(package, url)
    engine = create_async_engine(url)
    try:
        async with engine.connect() as conn:
            assert (await conn.execute(text("SELECT to_regclass('compliance_round_reports')"))).scalar_one() is None
            times = dict((await conn.execute(text("SELECT assessment_id, received_at FROM assessment_facts"))).all())
    finally:
        await engine.dispose()
    assert times == {reported: first, retracted: later, older: None}
    outside_event_loop(command.downgrade, alembic_config(package, url), BEFORE_ROUNDS_IN_FACTS)
    engine = create_async_engine(url)
    try:
        async with engine.connect() as conn:
            rows = {tuple(r) for r in (await conn.execute(text(
                "SELECT assessment_id, revision, retracted, organiser_id, student_id, round, received_at "
                "FROM compliance_round_reports"))).all()}
            columns = (await conn.execute(text("SELECT count(*) FROM information_schema.columns WHERE "
                                               "table_name = 'assessment_facts' AND column_name = 'received_at'"
                                               ))).scalar_one()
    finally:
        await engine.dispose()
    assert rows == {(str(reported), 2, False, "2999", "s-1", 1, first), (str(retracted), 3, True, "2999", "s-1", 1,
                                                                          later)}
    assert columns == 0


#: reporting's 0038 (support_below_pass at the group level only) and the revision before it
BELOW_PASS_GROUPS, BEFORE_BELOW_PASS_GROUPS = "3d9a6f1c8e25", "5b8e2d7a4c19"


async def test_the_below_pass_rows_above_the_group_go_and_come_back_from_the_group_rows(fresh_database):
    """Apply34: support_below_pass keeps its group rows only (the levels above are read from them). Down, the school
    unit's, area's (a placed school unit's only) and organiser's rows are made from the group rows, summed per cell;
    up again, only the group rows are left, as they were."""
    package = "styrkedja_reporting"
    url = fresh_database(package)
    groups = [("group", "29990011/7A", "2999", "GRGRMAT01", "st-1", 1), ("group", "29990011/7B", "2999", "GRGRENG01",
                                                                         "st-1", 1),
              ("group", "29990022/9C", "2999", "GRGRMAT01", "st-2", 1)]
    await _run(url, "INSERT INTO school_unit_placements VALUES ('29990011', '2999', 'north'), ('29990022', '2999', NULL)",
               "INSERT INTO support_below_pass VALUES " + ", ".join(str(g) for g in groups))
    read = "SELECT level, unit_id, organiser_id, subject_code, student_id, count FROM support_below_pass ORDER BY 1, 2, 4, 5"
    up = _down_and_up(package, url, BEFORE_BELOW_PASS_GROUPS)
    (down,) = await _run(url, read)
    above = [(level, unit, "2999", subject, student, 1) for level, unit, subject, student in (
        ("school_unit", "29990011", "GRGRMAT01", "st-1"), ("school_unit", "29990011", "GRGRENG01", "st-1"),
        ("school_unit", "29990022", "GRGRMAT01", "st-2"), ("area", "north", "GRGRMAT01", "st-1"),
        ("area", "north", "GRGRENG01", "st-1"), ("organiser", "2999", "GRGRMAT01", "st-1"),
        ("organiser", "2999", "GRGRENG01", "st-1"), ("organiser", "2999", "GRGRMAT01", "st-2"))]
    assert sorted(down) == sorted([*groups, *above])
    up()
    (again,) = await _run(url, read)
    assert sorted(again) == sorted(groups)


#: reporting's 0039 (the aggregates without area rows) and the revision before it
AGGREGATES_WITHOUT_AREAS, BEFORE_AGGREGATES_WITHOUT_AREAS = "7c4e1a9d2b60", BELOW_PASS_GROUPS


async def test_the_aggregates_area_rows_go_and_come_back_from_the_school_unit_rows(fresh_database):
    """Apply35pg: assessment_aggregates and forecast_aggregates keep no area rows (an area's cells are read from its
    school units' rows). Down, each area's rows are made from its placed school units' rows, summed per cell (an
    unplaced school unit's rows make none); up again, the area rows go and the rest is as it was."""
    package = "styrkedja_reporting"
    url = fresh_database(package)
    rest = "'2999', 'GRGRMAT01', '2026/27', 'HT', 1, 'assessment', 'AF', 7, 'female'"
    results = [("school_unit", "29990011", "A", 2), ("school_unit", "29990033", "A", 1),
               ("school_unit", "29990033", "B", 4), ("school_unit", "29990022", "A", 5), ("organiser", "2999", "A", 8),
               ("group", "29990011/7A", "A", 2)]
    await _run(url, "INSERT INTO school_unit_placements VALUES ('29990011', '2999', 'north'), "
               "('29990033', '2999', 'north'), ('29990022', '2999', NULL)",
               "INSERT INTO assessment_aggregates (level, unit_id, organiser_id, subject_code, school_year, term, round, "
               "kind, scale, year, gender, value, count) VALUES "
               + ", ".join(f"('{lv}', '{u}', {rest}, '{v}', {n})" for lv, u, v, n in results),
               "INSERT INTO forecast_aggregates (level, unit_id, organiser_id, subject_code, school_year, term, year, "
               "gender, value, late, count) VALUES ('school_unit', '29990011', '2999', 'GRGRMAT01', '2026/27', 'VT', 9, "
               "'male', 'ACCEPTABLE', false, 3), ('school_unit', '29990022', '2999', 'GRGRMAT01', '2026/27', 'VT', 9, "
               "'male', 'ACCEPTABLE', false, 1)")
    read = ("SELECT 'a', level, unit_id, value, count FROM assessment_aggregates UNION ALL "
            "SELECT 'f', level, unit_id, value, count FROM forecast_aggregates ORDER BY 1, 2, 3, 4")
    (now,) = await _run(url, read)
    up = _down_and_up(package, url, BEFORE_AGGREGATES_WITHOUT_AREAS)
    (down,) = await _run(url, read)
    assert sorted(down) == sorted([*now, ("a", "area", "north", "A", 3), ("a", "area", "north", "B", 4),
                                   ("f", "area", "north", "ACCEPTABLE", 3)])
    up()
    (again,) = await _run(url, read)
    assert again == now


#: reporting's 0034 (the alert pages' indexes) and the revision before it
ALERT_PAGES, BEFORE_ALERT_PAGES = "9360002d9d7b", "3c8f1e6a2b7d"
ALERT_PAGE_INDEXES = {
    "ix_alerts_organiser_newest": "btree (organiser_id, changed_at DESC, alert_id)",
    "ix_alerts_school_unit_newest": "btree (organiser_id, school_unit_code, changed_at DESC, alert_id)",
    "ix_alerts_unit_newest": "btree (organiser_id, level, unit_id, changed_at DESC, alert_id)"}
_AN_ALERT = text(
    "INSERT INTO alerts (alert_id, organiser_id, level, unit_id, school_unit_code, school_year, rule, status, episode, "
    "figures, raised_at, changed_at) VALUES (gen_random_uuid(), '2999', 'group', :unit, '29990011', '2026/27', "
    "'below_pass', 'open', 1, '{}', now(), now())")


async def _alert_page_indexes(url: str) -> dict[str, tuple[bool, str, int]]:
    """The alert pages' indexes on alerts: name → (valid and ready, definition from USING, oid)."""
    engine = create_async_engine(url)
    try:
        async with engine.connect() as conn:
            rows = await conn.execute(text(
                "SELECT x.relname, i.indisvalid AND i.indisready, pg_get_indexdef(i.indexrelid), i.indexrelid "
                "FROM pg_index i JOIN pg_class x ON x.oid = i.indexrelid "
                "WHERE i.indrelid = to_regclass('alerts') AND x.relname = ANY(:names)"),
                {"names": list(ALERT_PAGE_INDEXES)})
            return {r[0]: (r[1], r[2].split(" USING ", 1)[1], r[3]) for r in rows}
    finally:
        await engine.dispose()


async def _until(condition: Callable[[], Any], what: str) -> None:
    """Poll `condition` (an async callable) until it is true; a bound on the polls so a broken build fails the
    test instead of hanging it (not a measure of anything)."""
    for _ in range(1200):
        if await condition():
            return
        await asyncio.sleep(0.05)
    raise AssertionError(f"never happened: {what}")


async def test_the_alert_page_indexes_are_built_while_alerts_are_written(fresh_database):
    """ops32: 0034 builds its indexes CONCURRENTLY. An alert written while the build runs is not held behind it:
    a plain CREATE INDEX waiting for an open transaction on alerts queues every later writer behind its SHARE lock;
    CONCURRENTLY waits for that transaction without blocking the writers. Ordering only: the writer is observed
    either done or waiting on a lock (pg_stat_activity), while the migration is still waiting."""
    from alembic import command

    from styrkedja_kit.db import outside_event_loop
    from styrkedja_kit.migrations import alembic_config, upgrade

    package = "styrkedja_reporting"
    url = fresh_database(package)
    assert {n: v[:2] for n, v in (await _alert_page_indexes(url)).items()} == {
        n: (True, d) for n, d in ALERT_PAGE_INDEXES.items()}
    outside_event_loop(command.downgrade, alembic_config(package, url), BEFORE_ALERT_PAGES)
    assert await _alert_page_indexes(url) == {}

    engine = create_async_engine(url)
    watcher = await engine.connect()
    await watcher.execution_options(isolation_level="AUTOCOMMIT")
    holder = await engine.connect()
    writer = await engine.connect()
    await writer.execution_options(isolation_level="AUTOCOMMIT")
    migrating: asyncio.Future[None] | None = None
    writing: asyncio.Task[None] | None = None
    try:
        # a transaction open on alerts (an apply batch in flight): the build waits for it, either way
        await holder.begin()
        await holder.execute(_AN_ALERT, {"unit": "7A"})
        migrating = asyncio.ensure_future(asyncio.to_thread(upgrade, package, url, ALERT_PAGES))

        async def build_waits() -> bool:
            assert not migrating.done(), "the upgrade ended while a transaction on alerts was open"
            return bool((await watcher.execute(text(
                "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
                "AND wait_event_type = 'Lock' AND query ILIKE 'CREATE INDEX%'"))).scalar_one())

        await _until(build_waits, "the index build waiting for the open transaction")
        writer_pid = (await writer.execute(text("SELECT pg_backend_pid()"))).scalar_one()

        async def write() -> None:
            await writer.execute(_AN_ALERT, {"unit": "7B"})

        writing = asyncio.ensure_future(write())

        async def written_or_blocked() -> bool:
            if writing.done():
                return True
            return bool((await watcher.execute(text(
                "SELECT count(*) FROM pg_stat_activity WHERE pid = :pid AND wait_event_type = 'Lock'"),
                {"pid": writer_pid})).scalar_one())

        await _until(written_or_blocked, "the alert written, or its writer waiting")
        assert writing.done(), "the alert's writer waits for the index build (a lock that blocks writes)"
        writing.result()
        assert not migrating.done()
    finally:
        await holder.rollback()  # the build goes on (and a blocked writer with it)
        if migrating is not None:
            await migrating
        if writing is not None:
            await writing
        for conn in (watcher, holder, writer):
            await conn.close()
        await engine.dispose()
    assert {n: v[:2] for n, v in (await _alert_page_indexes(url)).items()} == {
        n: (True, d) for n, d in ALERT_PAGE_INDEXES.items()}
    engine = create_async_engine(url)
    try:
        async with engine.connect() as conn:
            assert (await conn.execute(text("SELECT unit_id FROM alerts"))).scalars().all() == ["7B"]
    finally:
        await engine.dispose()


async def test_a_stopped_alert_index_build_is_built_again(fresh_database):
    """ops32: a CONCURRENTLY build that stopped leaves an INVALID index under its name, which IF NOT EXISTS alone
    would keep (and the planner never use): 0034 drops and builds it again. A valid one (a run that built it and
    stopped before the revision was stamped) is kept as it is."""
    import asyncpg
    from alembic import command

    from styrkedja_kit.db import outside_event_loop
    from styrkedja_kit.migrations import alembic_config, upgrade

    package = "styrkedja_reporting"
    url = fresh_database(package)
    outside_event_loop(command.downgrade, alembic_config(package, url), BEFORE_ALERT_PAGES)
    engine = create_async_engine(url, isolation_level="AUTOCOMMIT")
    try:
        async with engine.connect() as conn:
            for unit in ("7A", "7B"):
                await conn.execute(_AN_ALERT, {"unit": unit})
            await conn.execute(text(
                f"CREATE INDEX ix_alerts_unit_newest ON alerts USING {ALERT_PAGE_INDEXES['ix_alerts_unit_newest']}"))
            # a real stopped build: a unique one over two alerts of one organiser fails after its catalog entry
            with pytest.raises(Exception) as failed:
                await conn.execute(text(
                    "CREATE UNIQUE INDEX CONCURRENTLY ix_alerts_organiser_newest ON alerts (organiser_id)"))
            assert isinstance(failed.value.orig.__cause__, asyncpg.UniqueViolationError)  # type: ignore[attr-defined]
    finally:
        await engine.dispose()
    left = await _alert_page_indexes(url)
    assert {n: v[:2] for n, v in left.items()} == {
        "ix_alerts_organiser_newest": (False, "btree (organiser_id)"),
        "ix_alerts_unit_newest": (True, ALERT_PAGE_INDEXES["ix_alerts_unit_newest"])}
    upgrade(package, url)
    built = await _alert_page_indexes(url)
    assert {n: v[:2] for n, v in built.items()} == {n: (True, d) for n, d in ALERT_PAGE_INDEXES.items()}
    assert built["ix_alerts_unit_newest"][2] == left["ix_alerts_unit_newest"][2]  # kept, not built again


BEFORE_UNIT_SPELLING = ALERT_PAGES  # reporting 0034: the unit keys not yet in one spelling (0035)
_PUBLISHED = ("INSERT INTO directory_published (organiser_id, entity_key, content_hash, changed_at, source_id, "
              "written_by, unit_type, school_unit_code) VALUES ")
_PUBLISHED_READ = ("SELECT organiser_id, entity_key, content_hash, source_id, written_by FROM directory_published "
                   "ORDER BY organiser_id COLLATE \"C\", entity_key COLLATE \"C\"")


def _published(organiser: str, key: str, content: str, written_by: str | None = "platform-a",
               code: str | None = None) -> str:
    """A row of `directory_published` as the door before round 26 wrote it: its source id says which it was."""
    kind, _, rest = key.partition(":")
    unit_type = f"'{rest.partition(':')[0]}'" if kind == "unit" else "NULL"
    by, at = ("NULL" if value is None else f"'{value}'" for value in (written_by, code))
    return f"('{organiser}', '{key}', '{content}', '2026-09-01T08:00:00+00', 'src-{content}', {by}, {unit_type}, {at})"


_ORG, _OTHER = "212000-1234", "556677-8899"
#: `directory_published` as the door before round 26 left it (0035's test)
_OLD_SPELLINGS = [
    _published(_ORG, "unit:organiser::2120001234", "root", written_by=None),  # renamed, no writer kept so
    _published(_ORG, "unit:area::norr", "norr"),
    # one group in three old spellings, its kept key free: the first in code point order ('-' < '0') stays
    _published(_ORG, "unit:group:44444444:2120001234", "g-ten", code="44444444"),
    _published(_ORG, "unit:group:44444444:162120001234", "g-twelve", code="44444444"),
    _published(_ORG, "unit:group:44444444:16212000-1234", "g-hyphen", code="44444444"),
    _published(_ORG, "unit:school_unit::5566778899", "another-number", code="55667788"),  # not this organiser's: stays
    _published(_ORG, "unit:area::21200012345", "eleven-digits"),  # no organisation number: stays
    _published(_ORG, "membership:2120001234", "membership"),  # not a unit: stays
    # the kept key published already: the old row goes, the kept one stays though it is a removal
    _published(_OTHER, "unit:organiser::5566778899", "other-old"),
    _published(_OTHER, "unit:organiser::556677-8899", "removed", written_by="platform-b"),
    _published("2999", "unit:organiser::2999", "kommun"),
    # an organiser id stored in an old spelling (before identity1): its unit spells it as it is, so it stays
    _published("2120001234", "unit:organiser::2120001234", "old-organiser")]


async def test_units_published_under_an_old_spelling_are_held_under_the_kept_key_after_the_upgrade(fresh_database):
    """0035 does once what the write path did on every write (`writes._respell`, round 26, gone): a unit key whose
    id spells the row's own organiser (`2120001234`, `162120001234`, `16212000-1234` for `212000-1234`) is renamed to
    the kept key, its row otherwise as it was; where the kept key is published the old row goes and the kept one stays
    whatever it holds (even a removal); of several spellings of one unit with the kept key free, the first by key in
    code point order is renamed and the rest go (what `_respell` left given all of them in one batch: it took them
    sorted). Other organisers' numbers, kommunkoder, non-unit keys and ids that are not an organisation number stay.
    The expected rows are those the old `_respell` left on a copy of the same rows (checked when 0035 was written,
    with the mapping `write_changes` built for a batch removing each old key). Fails without 0035: every old key
    stays."""
    package = "styrkedja_reporting"
    url = fresh_database(package)
    up = _down_and_up(package, url, BEFORE_UNIT_SPELLING)
    await _run(url, _PUBLISHED + ", ".join(_OLD_SPELLINGS))
    up()
    (rows,) = await _run(url, _PUBLISHED_READ)
    assert rows == [
        ("212000-1234", "membership:2120001234", "membership", "src-membership", "platform-a"),
        ("212000-1234", "unit:area::21200012345", "eleven-digits", "src-eleven-digits", "platform-a"),
        ("212000-1234", "unit:area::norr", "norr", "src-norr", "platform-a"),
        ("212000-1234", "unit:group:44444444:212000-1234", "g-hyphen", "src-g-hyphen", "platform-a"),
        ("212000-1234", "unit:organiser::212000-1234", "root", "src-root", None),
        ("212000-1234", "unit:school_unit::5566778899", "another-number", "src-another-number", "platform-a"),
        ("2120001234", "unit:organiser::2120001234", "old-organiser", "src-old-organiser", "platform-a"),
        ("2999", "unit:organiser::2999", "kommun", "src-kommun", "platform-a"),
        ("556677-8899", "unit:organiser::556677-8899", "removed", "src-removed", "platform-b")]

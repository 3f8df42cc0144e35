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

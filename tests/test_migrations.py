"""Each service's Alembic migrations build exactly the schema its models describe."""

from __future__ import annotations

import importlib

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
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

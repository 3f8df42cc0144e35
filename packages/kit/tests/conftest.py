"""Fixtures shared by the kit's tests that need a real PostgreSQL database."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Awaitable, Callable

import pytest
from sqlalchemy import MetaData

from styrkedja_kit.db import Database

MakeDatabase = Callable[..., Awaitable[Database]]


@pytest.fixture
async def make_database(infrastructure) -> AsyncIterator[MakeDatabase]:
    """`await make_database(metadata, "claim")`: a fresh database holding `metadata`'s tables, disposed after the
    test — each test its own, so that tests on two pytest workers never share a table."""
    made: list[Database] = []

    async def make(metadata: MetaData, prefix: str, pool_size: int = 2) -> Database:
        database = Database(infrastructure.create_database(f"t_{prefix}_{uuid.uuid4().hex[:8]}"),
                            pool_size=pool_size)
        made.append(database)
        async with database.engine.begin() as conn:
            await conn.run_sync(metadata.create_all)
        return database

    yield make
    for database in made:
        await database.dispose()

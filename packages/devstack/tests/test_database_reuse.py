"""The test databases a finished test hands back (`recycle_database`) are reused only when they can be
made exactly as fresh as a copy of the migrated template: emptied, sequences restarted, the schema
unchanged, nobody connected; anything else is left alone and the next test gets a clone."""

from __future__ import annotations

import asyncio
import uuid

import asyncpg
import pytest

from styrkedja_devstack import pytest_plugin
from styrkedja_devstack.pytest_plugin import migrated_database, recycle_database

pytestmark = [pytest.mark.integration, pytest.mark.postgres_only]

PACKAGE = "styrkedja_lika"


def dsn(url: str) -> str:
    return url.replace("postgresql+asyncpg://", "postgresql://", 1)


async def write_rows(url: str) -> None:
    conn = await asyncpg.connect(dsn(url))
    try:
        for _ in range(3):
            await conn.execute("INSERT INTO outbox (event_id, topic, key, payload) VALUES ($1, 't', 'k', 'p')",
                               uuid.uuid4())
    finally:
        await conn.close()


async def state(url: str) -> tuple[int, int, str]:
    """(rows in the outbox, the id the next row gets, the Alembic version)."""
    conn = await asyncpg.connect(dsn(url))
    try:
        rows = await conn.fetchval("SELECT count(*) FROM outbox")
        next_id = await conn.fetchval("INSERT INTO outbox (event_id, topic, key, payload) "
                                      "VALUES ($1, 't', 'k', 'p') RETURNING id", uuid.uuid4())
        version = await conn.fetchval("SELECT version_num FROM alembic_version")
        return rows, next_id, version
    finally:
        await conn.close()


def idle(infrastructure) -> list[str]:
    return pytest_plugin._idle[(infrastructure.postgres_url, PACKAGE)]


def test_a_used_database_comes_back_empty_with_its_sequences_restarted_under_a_new_name(infrastructure):
    fresh = migrated_database(infrastructure, PACKAGE)
    _, first_id, version = asyncio.run(state(fresh))
    used = migrated_database(infrastructure, PACKAGE)
    asyncio.run(write_rows(used))
    assert asyncio.run(state(used))[0] == 3  # the check below can fail
    idle(infrastructure).clear()
    recycle_database(infrastructure, PACKAGE, used)
    assert len(idle(infrastructure)) == 1
    with pytest.raises(asyncpg.InvalidCatalogNameError):  # renamed: the old name reaches nothing any more
        asyncio.run(state(used))
    again = migrated_database(infrastructure, PACKAGE)
    assert again != used and not idle(infrastructure)
    assert asyncio.run(state(again)) == (0, first_id, version)
    named = migrated_database(infrastructure, PACKAGE)  # and one asked for by name gets that name
    recycle_database(infrastructure, PACKAGE, named)
    assert migrated_database(infrastructure, PACKAGE, "t_lika_by_name_" + uuid.uuid4().hex[:6]).rsplit(
        "/", 1)[1].startswith("t_lika_by_name_") and not idle(infrastructure)


def test_a_database_whose_schema_changed_is_not_reused(infrastructure):
    used = migrated_database(infrastructure, PACKAGE)

    async def alter() -> None:
        conn = await asyncpg.connect(dsn(used))
        try:
            await conn.execute("ALTER TABLE outbox ADD COLUMN extra int")
        finally:
            await conn.close()

    asyncio.run(alter())
    idle(infrastructure).clear()
    recycle_database(infrastructure, PACKAGE, used)
    assert idle(infrastructure) == []


def test_a_database_someone_is_still_connected_to_is_not_reused(infrastructure):
    used = migrated_database(infrastructure, PACKAGE)

    async def recycle_while_connected() -> list[str]:
        conn = await asyncpg.connect(dsn(used))
        try:
            await asyncio.to_thread(recycle_database, infrastructure, PACKAGE, used)
            return list(idle(infrastructure))
        finally:
            await conn.close()

    idle(infrastructure).clear()
    assert asyncio.run(recycle_while_connected()) == []

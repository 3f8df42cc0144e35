"""Every database the devstack makes, and the ones docker-compose's init script makes, compare text by the builtin
provider's C.UTF-8 (code point order by memcmp): the order Python's `sorted` gives, without libc's strcoll per pair."""

from __future__ import annotations

import asyncio
import re
import uuid
from pathlib import Path

import asyncpg
import pytest

from styrkedja_devstack.postgres import ensure_database

pytestmark = [pytest.mark.integration, pytest.mark.postgres_only]

INIT_SQL = Path(__file__).resolve().parents[3] / "deploy" / "compose" / "postgres-init.sql"
WORDS = ["ö", "a", "B", "å", "Z", "ä", "_", "-", "1", "é", "ß", "elev-10", "elev-9", "41110001/7A", "41110001-7A"]


async def _provider_and_order(server_url: str, name: str) -> tuple[str, str | None, list[str]]:
    conn = await asyncpg.connect(f"{server_url}/{name}")
    try:
        row = await conn.fetchrow("SELECT datlocprovider::text, datlocale FROM pg_database WHERE datname = $1", name)
        order = [r[0] for r in await conn.fetch("SELECT w FROM unnest($1::text[]) w ORDER BY w", WORDS)]
        return row["datlocprovider"], row["datlocale"], order
    finally:
        await conn.close()


async def _drop(server_url: str, name: str) -> None:
    conn = await asyncpg.connect(f"{server_url}/postgres")
    try:
        await conn.execute(f'DROP DATABASE IF EXISTS "{name}"')
    finally:
        await conn.close()


def test_a_database_the_devstack_makes_orders_text_by_code_point_under_the_builtin_provider(test_postgres):
    name = f"collation_{uuid.uuid4().hex[:8]}"
    ensure_database(test_postgres, name)
    try:
        provider, locale, order = asyncio.run(_provider_and_order(test_postgres, name))
    finally:
        asyncio.run(_drop(test_postgres, name))
    assert (provider, locale) == ("b", "C.UTF-8")
    assert order == sorted(WORDS)  # code point order: Python's, and libc's C.UTF-8 before


def test_the_compose_init_scripts_databases_are_made_with_the_same_collation(test_postgres):
    statements = re.findall(r"CREATE DATABASE (\w+) OWNER \w+\s+(TEMPLATE[^;]*);", INIT_SQL.read_text())
    assert len(statements) == 4, statements
    _, options = statements[0]
    name = f"collation_{uuid.uuid4().hex[:8]}"

    async def create() -> None:
        conn = await asyncpg.connect(f"{test_postgres}/postgres")
        try:
            await conn.execute(f'CREATE DATABASE "{name}" {options}')
        finally:
            await conn.close()

    asyncio.run(create())
    try:
        provider, locale, order = asyncio.run(_provider_and_order(test_postgres, name))
    finally:
        asyncio.run(_drop(test_postgres, name))
    assert (provider, locale) == ("b", "C.UTF-8")
    assert order == sorted(WORDS)

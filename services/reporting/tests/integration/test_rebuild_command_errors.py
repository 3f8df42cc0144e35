"""`styrkedja rebuild reporting` with reporting's database up but no broker answering (`--no-dead-letter`: the read
is the first to ask the broker), or with another rebuild holding the database's lock: one line, exit 1, and the
live tables, the group's offsets, the rebuild's schema and its lock as they were (issue 16, rebuild18)."""

from __future__ import annotations

import asyncio
import os
import socket
import sys

import asyncpg
import pytest

from styrkedja_kit.db import Database
from styrkedja_reporting.main import handler_registry
from styrkedja_reporting.rebuild import bulk, command

pytestmark = [pytest.mark.integration]


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def state_of(url: str) -> tuple[list, list, bool]:
    """The group offsets and a derived table's rows, the rebuild schemas left, and whether the rebuild's lock is free."""
    connection = await asyncpg.connect(Database(url).asyncpg_dsn)
    try:
        offsets = [tuple(r) for r in await connection.fetch("SELECT * FROM consumer_offsets ORDER BY 1, 2, 3")]
        schemas = [r[0] for r in await connection.fetch(
            "SELECT nspname FROM pg_namespace WHERE starts_with(nspname, $1)", bulk.SHADOW_PREFIX)]
        free = await connection.fetchval("SELECT pg_try_advisory_lock($1)", bulk.LOCK_KEY)
        if free:
            await connection.execute("SELECT pg_advisory_unlock($1)", bulk.LOCK_KEY)
        return offsets, schemas, bool(free)
    finally:
        await connection.close()


@pytest.fixture
def url(fresh_database, monkeypatch) -> str:
    url = fresh_database("styrkedja_reporting")
    monkeypatch.setenv("STYRKEDJA_DATABASE_URL", url)
    monkeypatch.setenv("STYRKEDJA_CONSUMER_GROUP", "reporting-rebuild-errors")

    async def offsets() -> None:
        connection = await asyncpg.connect(Database(url).asyncpg_dsn)
        try:
            await connection.execute("INSERT INTO consumer_offsets (group_id, topic, partition, next_offset) "
                                     "VALUES ('reporting-rebuild-errors', 'styrkedja.assessments.v1', 0, 42)")
        finally:
            await connection.close()

    asyncio.run(offsets())
    return url


def test_no_broker_during_the_read_leaves_everything_as_it_was(url, monkeypatch, capsys):
    before = asyncio.run(state_of(url))
    assert before[1:] == ([], True) and len(before[0]) == 1
    monkeypatch.setenv("STYRKEDJA_KAFKA_BOOTSTRAP_SERVERS", f"127.0.0.1:{closed_port()}")
    assert command.main(["--no-dead-letter", "--decoders", "0"]) == 1
    err = capsys.readouterr().err
    assert "styrkedja rebuild reporting: the broker at 127.0.0.1:" in err and "Traceback" not in err, err
    assert "its address is set by STYRKEDJA_KAFKA_BOOTSTRAP_SERVERS" in err, err
    assert asyncio.run(state_of(url)) == before  # the offsets as they were, its schema dropped, its lock let go


def test_a_rebuild_already_running_is_said_in_one_line(url, monkeypatch):
    monkeypatch.setenv("STYRKEDJA_KAFKA_BOOTSTRAP_SERVERS", f"127.0.0.1:{closed_port()}")
    before = asyncio.run(state_of(url))

    async def while_held() -> tuple[int | None, str]:
        db = Database(url)
        holder = bulk.Rebuilder(db, group_id="other", handles=handler_registry(live_alerts=False).handles)
        await holder.begin()
        try:
            # the command as a process of its own (its SIGTERM handler needs a main thread)
            process = await asyncio.create_subprocess_exec(
                sys.executable, "-m", "styrkedja_reporting.rebuild", "--no-dead-letter", "--decoders", "0",
                stderr=asyncio.subprocess.PIPE, env=dict(os.environ))
            _, err = await process.communicate()
            return process.returncode, err.decode()
        finally:
            await holder.close()
            await db.dispose()

    code, err = asyncio.run(while_held())
    assert code == 1, err
    assert "styrkedja rebuild reporting: another rebuild of this database is running" in err, err
    assert "Traceback" not in err
    assert asyncio.run(state_of(url)) == before

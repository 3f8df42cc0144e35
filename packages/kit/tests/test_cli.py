"""`python -m styrkedja_kit`: the operations CLI the images and Jobs run, as a real subprocess
against a real PostgreSQL (migrate, then replay an already published outbox row)."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import uuid
from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import MetaData, select, text
from sqlalchemy.sql import func

from styrkedja_kit.db import Database
from styrkedja_kit.outbox import define_outbox_tables

pytestmark = [pytest.mark.integration, pytest.mark.postgres_only]

outbox, _ = define_outbox_tables(MetaData())


def run_cli(*args: str, database_url: str | None) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k != "STYRKEDJA_DATABASE_URL"}
    if database_url:
        env["STYRKEDJA_DATABASE_URL"] = database_url
    return subprocess.run([sys.executable, "-m", "styrkedja_kit", *args], env=env, capture_output=True,
                          text=True, timeout=120)


async def insert_published_row(url: str) -> uuid.UUID:
    event_id = uuid.uuid4()
    db = Database(url, pool_size=1)
    try:
        async with db.sessions.begin() as session:
            await session.execute(outbox.insert().values(
                event_id=event_id, topic="styrkedja.assessments", key=b"2180", payload=b"{}",
                published_at=func.now()))
    finally:
        await db.dispose()
    return event_id


async def published_at(url: str, event_id: uuid.UUID):
    db = Database(url, pool_size=1)
    try:
        async with db.sessions() as session:
            return (await session.execute(select(outbox.c.published_at)
                                          .where(outbox.c.event_id == event_id))).scalar_one()
    finally:
        await db.dispose()


async def set_revision(url: str, revision: str) -> None:
    db = Database(url, pool_size=1)
    try:
        async with db.sessions.begin() as session:
            await session.execute(text("UPDATE alembic_version SET version_num = :r"), {"r": revision})
    finally:
        await db.dispose()


def test_migrate_then_replay(infrastructure):
    url = infrastructure.create_database(f"t_cli_{uuid.uuid4().hex[:8]}")

    check = run_cli("migrate", "styrkedja_assessment", "--check", database_url=url)
    assert check.returncode == 3, check.stderr
    assert "behind" in check.stdout

    migrated = run_cli("migrate", "styrkedja_assessment", database_url=url)
    assert migrated.returncode == 0, migrated.stderr
    assert "migrated from empty" in migrated.stdout
    assert "Running upgrade" in migrated.stderr  # alembic's progress is shown

    again = run_cli("migrate", "styrkedja_assessment", database_url=url)
    assert again.returncode == 0 and "already at head" in again.stdout
    assert run_cli("migrate", "styrkedja_assessment", "--check", database_url=url).returncode == 0

    event_id = asyncio.run(insert_published_row(url))
    assert asyncio.run(published_at(url, event_id)) is not None

    # an hour before the row was written, as a Swedish winter-time offset rather than UTC
    since = (datetime.now(timezone(timedelta(hours=1))) - timedelta(hours=1)).isoformat(timespec="seconds")
    dry = run_cli("replay", "--since", since, "--dry-run", database_url=url)
    assert dry.returncode == 0, dry.stderr
    assert "would mark 1 outbox rows" in dry.stdout
    assert asyncio.run(published_at(url, event_id)) is not None  # a dry run changes nothing

    none = run_cli("replay", "--since", since, "--topic", "styrkedja.forecasts", database_url=url)
    assert none.returncode == 0 and "marked 0 outbox rows" in none.stdout

    replayed = run_cli("replay", "--since", since, "--topic", "styrkedja.assessments", database_url=url)
    assert replayed.returncode == 0, replayed.stderr
    assert "marked 1 outbox rows for republishing" in replayed.stdout
    assert asyncio.run(published_at(url, event_id)) is None

    # after a code rollback the database is at a revision this release does not know: the
    # readiness gate (--check) lets the old code start, but nothing is downgraded
    asyncio.run(set_revision(url, "f00d0000beef"))
    newer = run_cli("migrate", "styrkedja_assessment", "--check", database_url=url)
    assert newer.returncode == 0 and "does not know" in newer.stdout
    refused = run_cli("migrate", "styrkedja_assessment", database_url=url)
    assert refused.returncode == 1 and "nothing is downgraded" in refused.stderr


def test_clear_errors(infrastructure):
    url = infrastructure.create_database(f"t_cli_{uuid.uuid4().hex[:8]}")

    naive = run_cli("replay", "--since", "2026-03-27T00:00:00", database_url=url)
    assert naive.returncode == 2
    assert "has no time zone" in naive.stderr

    unset = run_cli("replay", "--since", "2026-03-27T00:00:00Z", database_url=None)
    assert unset.returncode == 2
    assert "STYRKEDJA_DATABASE_URL is not set" in unset.stderr

    # an empty (or reporting's) database has no outbox: say so instead of a traceback
    no_outbox = run_cli("replay", "--since", "2026-03-27T00:00:00Z", database_url=url)
    assert no_outbox.returncode == 1
    assert "no outbox table" in no_outbox.stderr
    assert "Traceback" not in no_outbox.stderr

    unknown = run_cli("migrate", "styrkedja_nosuchservice", database_url=url)
    assert unknown.returncode == 2 and "no installed package" in unknown.stderr

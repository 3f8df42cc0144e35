"""The freshness rule's organiser lock, taken by the batch's pass-drop statement (one round trip less than a
statement of its own): a batch of an organiser whose lock another transaction holds (a sweep) waits in that
statement — before any of the freshness rule's reads — and is applied once the lock is let go; nothing of
the batch is visible meanwhile."""

from __future__ import annotations

import asyncio

import pytest
from sqlalchemy import text

from styrkedja_reporting.alerts.freshness import lock_keys

from .test_alerts import ORG, round_of
from .test_directory import Feeder, directory

pytestmark = [pytest.mark.integration, pytest.mark.postgres_only]

_WAITING = text("SELECT a.query FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid "
                "WHERE l.locktype = 'advisory' AND NOT l.granted")


async def test_a_batch_waits_for_the_organisers_freshness_lock_in_its_pass_drop_statement(database):
    feed = Feeder(database)
    await feed(directory())
    async with database.engine.connect() as holder, database.engine.connect() as watcher:
        await holder.execute(text("SELECT pg_advisory_lock(hashtext(:k))"), {"k": lock_keys([ORG])[0]})
        await holder.commit()
        applying = asyncio.create_task(feed(round_of(1, failing=0, students=12)))
        waiting: list[str] = []
        while not waiting and not applying.done():  # until the batch waits for the lock (or ended: failing below)
            await asyncio.sleep(0.05)
            waiting = list((await watcher.execute(_WAITING)).scalars())
            await watcher.rollback()
        assert not applying.done() and len(waiting) == 1
        assert waiting[0].startswith("WITH lk AS MATERIALIZED (SELECT pg_advisory_xact_lock")
        assert "pass_share_drop" in waiting[0]
        facts = (await watcher.execute(text("SELECT count(*) FROM assessment_facts"))).scalar_one()
        await watcher.rollback()
        assert facts == 0  # not committed while it waits
        await holder.execute(text("SELECT pg_advisory_unlock(hashtext(:k))"), {"k": lock_keys([ORG])[0]})
        await holder.commit()
        await asyncio.wait_for(applying, 120)
        assert (await watcher.execute(text("SELECT count(*) FROM assessment_facts"))).scalar_one() == 12

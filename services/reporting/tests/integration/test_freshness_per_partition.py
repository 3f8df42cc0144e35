"""Two consumers of one group (reporting's replicas, issue 16 apply16) apply batches of different partitions of
one topic at the same time: the batches' freshness notes are rows of their own (topic, partition), so neither
batch waits at its last statement for the other's commit — a row per topic was the one row every batch of the
topic updated, and the second batch waited there until the first committed. The reads still see the newest of
every row, and the state version moves with either batch."""

from __future__ import annotations

import asyncio
from uuid import uuid4

import pytest
from sqlalchemy import text

from styrkedja_kit.consumer import Delivered
from styrkedja_reporting.access.answers import FRESHNESS_SQL
from styrkedja_reporting.main import handler_registry

from .test_apply_batch import TOPIC, published

pytestmark = [pytest.mark.integration, pytest.mark.postgres_only]


def batch(partition: int, organiser: str, school_unit: str) -> list[Delivered]:
    return [Delivered(published(uuid4(), 1, student=f"s-{n}", organiser=organiser, school_unit=school_unit),
                      TOPIC["assessment"], partition, n) for n in range(3)]


async def test_two_partitions_batches_of_one_topic_do_not_wait_for_each_other(db) -> None:
    registry = handler_registry()
    first, second = batch(0, "2999", "29990001"), batch(1, "3001", "30010001")
    async with db.engine.connect() as one, db.engine.connect() as other:
        from sqlalchemy.ext.asyncio import AsyncSession

        async with AsyncSession(bind=one) as s1, AsyncSession(bind=other) as s2:
            await s1.begin()
            await registry(s1, first)  # applied, freshness noted, not committed
            await s2.begin()
            # the other partition's batch runs to its end meanwhile (before: it waited for the first's row lock)
            await asyncio.wait_for(registry(s2, second), 20)
            await s2.commit()
            await s1.commit()
    async with db.sessions() as session:
        rows = (await session.execute(text("SELECT topic, partition, newest_event_time FROM freshness "
                                           "ORDER BY topic, partition"))).all()
        version = (await session.execute(text(FRESHNESS_SQL))).all()
    assert [(r.topic, r.partition) for r in rows] == [(TOPIC["assessment"], 0), (TOPIC["assessment"], 1)]
    assert rows[0].newest_event_time == max(item.event.time for item in first)
    assert len(version) == 2  # the state version: every row, in one order


async def test_a_whole_windows_analyze_does_not_wait_for_another_batchs(db) -> None:
    """A whole compliance window's derivation analyses its tables in the batch's transaction, and ANALYZE holds its
    lock to the commit: another consumer's batch deriving a window of another organiser at the same time skips the
    tables being analysed (SKIP_LOCKED) instead of waiting for that whole batch."""
    from sqlalchemy.ext.asyncio import AsyncSession

    from styrkedja_reporting.compliance.opening import _ANALYZE

    async with db.engine.connect() as one, db.engine.connect() as other, AsyncSession(bind=one) as s1, \
            AsyncSession(bind=other) as s2:
        await s1.begin()
        await s1.execute(_ANALYZE)  # holds the tables' ANALYZE lock until its commit
        await s2.begin()
        await asyncio.wait_for(s2.execute(_ANALYZE), 20)  # before: waited for the first's commit
        await s2.commit()
        await s1.commit()

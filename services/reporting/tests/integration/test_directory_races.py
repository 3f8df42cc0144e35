"""Two writers of one organiser's directory at once (two imports of the same SS 12000 data, a platform's
retry racing its first try): the second compares against what the first committed. Against a real
PostgreSQL, the two transactions interleaved by hand: the first holds its transaction open while the
second starts."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

import pytest
from sqlalchemy import func, select

from styrkedja_contracts import OrganisationUnitUpsertedV1
from styrkedja_kit.outbox import Outbox
from styrkedja_reporting.directory.writes import write_changes
from styrkedja_reporting.persistence import metadata

pytestmark = [pytest.mark.integration, pytest.mark.postgres_only]

AT = datetime(2026, 9, 1, 8, 0, tzinfo=UTC)


def groups(organiser: str, count: int, name: str = "7A") -> list[tuple[OrganisationUnitUpsertedV1, str | None]]:
    return [(OrganisationUnitUpsertedV1(unit_type="group", unit_id=f"g{n}", organiser_id=organiser,
                                        parent_id="29990011", name=f"{name} {n}", school_unit_code="29990011",
                                        year=7, updated_at=AT), None) for n in range(count)]


async def _outbox_rows(db) -> int:
    async with db.sessions() as session:
        return (await session.execute(select(func.count()).select_from(metadata.tables["outbox"]))).scalar_one()


async def test_the_same_changes_written_twice_at_once_are_published_once(db) -> None:
    """Failed on the old code: both writers compared against the empty directory and answered `created`
    for every group, each change's event went to the outbox twice (40 rows, not 20)."""
    outbox = Outbox(metadata.tables["outbox"])
    items = groups("2999", 20)
    async with db.sessions.begin() as first:
        assert (await write_changes(first, outbox, items, writer="test-platform")).created == 20
        second = asyncio.create_task(_write(db, outbox, items))
        await asyncio.sleep(1.0)  # the second is waiting (for the lock; before: for the rows it would insert)
        assert not second.done()
    summary = await asyncio.wait_for(second, 30)
    assert (summary.created, summary.unchanged) == (0, 20)
    assert await _outbox_rows(db) == 20


async def test_writers_of_other_organisers_do_not_wait_for_each_other(db) -> None:
    outbox = Outbox(metadata.tables["outbox"])
    async with db.sessions.begin() as first:
        await write_changes(first, outbox, groups("2999", 3), writer="test-platform")
        other = await asyncio.wait_for(_write(db, outbox, groups("2998", 3)), 10)
    assert other.created == 3


async def test_many_writers_of_overlapping_organisers_in_any_order_never_deadlock(db) -> None:
    """Batches naming several organisers, each in another order, twenty at once: every one commits (no
    deadlock, no serialisation failure), and each entity is published once per content."""
    outbox = Outbox(metadata.tables["outbox"])
    organisers = ["2999", "2998", "2997", "2996"]
    batches = [[item for organiser in (organisers[n % 4:] + organisers[:n % 4])[::1 if n % 2 else -1]
                for item in groups(organiser, 5)[::1 if n % 3 else -1]] for n in range(20)]
    summaries = await asyncio.gather(*(_write(db, outbox, batch) for batch in batches))
    assert sum(s.created for s in summaries) == 20 and sum(s.unchanged for s in summaries) == 19 * 20
    assert await _outbox_rows(db) == 20


async def _write(db, outbox: Outbox, items):
    async with db.sessions.begin() as session:
        return await write_changes(session, outbox, items, writer="test-platform")

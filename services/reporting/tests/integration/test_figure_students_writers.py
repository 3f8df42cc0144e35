"""figure_students' statement (`coverage_counts._ADD`) reads a student's rows and updates them by their place without
row locks (apply39): every writer holds the organiser's `FACT_WRITERS_LOCK`. A writer without it is refused before
it writes; and should another transaction move a row after the statement's snapshot all the same (the discipline
broken by hand here), the batch ends as a serialization failure the consumer runs again — the count is never lost."""

from __future__ import annotations

import asyncio

import pytest
from sqlalchemy import text

from styrkedja_kit.consumer import concurrency_conflict
from styrkedja_reporting.figures.coverage_counts import RowsMovedMeanwhile, apply_student_counts
from styrkedja_reporting.figures.tables import figure_students
from styrkedja_reporting.results.tables import lock_fact_writers

pytestmark = [pytest.mark.integration, pytest.mark.postgres_only]

ORG = "2999"
PLACEMENT = {"29990001": "2999-north"}
ROW = ("group", "29990001/7A", ORG, "GRGRMAT01", 9, "2026/27", "HT", "s-1")
#: a transaction waiting for a lock
_WAITING = text("SELECT count(*) FROM pg_locks WHERE NOT granted")
_COUNT = text(f"SELECT count FROM {figure_students.name} WHERE student_id = 's-1' AND unit_id = '29990001/7A'")


async def _add(db, n: int) -> None:
    async with db.sessions.begin() as session:
        await lock_fact_writers(session, {ORG})
        await apply_student_counts(session, [(*ROW, n)], dict(PLACEMENT))


async def _count(db) -> int:
    async with db.sessions() as session:
        return int((await session.execute(_COUNT)).scalar_one())


async def test_a_writer_without_the_organisers_lock_is_refused_before_it_writes(db) -> None:
    await _add(db, 1)
    async with db.sessions() as session:
        await lock_fact_writers(session, {"2998"})  # another organiser's: not this row's
        with pytest.raises(RuntimeError, match="FACT_WRITERS_LOCK"):
            await apply_student_counts(session, [(*ROW, 2)], dict(PLACEMENT))
        await session.rollback()
    async with db.sessions() as session:
        with pytest.raises(RuntimeError, match="FACT_WRITERS_LOCK"):
            await apply_student_counts(session, [(*ROW, 2)], dict(PLACEMENT))
    assert await _count(db) == 1


async def test_a_row_moved_by_a_writer_without_the_lock_during_the_statement_is_never_a_lost_count(db) -> None:
    """B (no organiser lock: the discipline broken) has updated s-1's row and not committed when A's statement
    starts: A's snapshot holds the old version, its update by place waits for B's row, and B commits. A must not
    count on the old version nor skip the row silently: either its statement fails as a serialization failure (run
    again, it counts on B's version) or it counted on B's version itself. The count ends 1 + 5 + 2 either way; with
    the update by place left unchecked it ended 1 + 5 (A's 2 lost, A committed)."""
    await _add(db, 1)
    async with db.engine.connect() as b:
        await b.execute(text(f"UPDATE {figure_students.name} SET count = count + 5 WHERE student_id = 's-1'"))
        a = asyncio.create_task(_add(db, 2))
        async with db.engine.connect() as watcher:
            for _ in range(500):  # until A waits for B's row (or ended)
                if a.done() or (await watcher.execute(_WAITING)).scalar_one():
                    break
                await watcher.rollback()
                await asyncio.sleep(0.02)
            assert not a.done(), a.exception()  # A waited for B
        await b.commit()
    failed = None
    try:
        await asyncio.wait_for(a, 60)
    except RowsMovedMeanwhile as error:
        failed = error
    if failed is not None:
        assert concurrency_conflict(failed)  # the consumer runs the batch again whole
        assert await _count(db) == 6  # nothing of A's stayed
        await _add(db, 2)  # run again
    assert await _count(db) == 8

"""The consistency check's parts: its sums compared organiser by organiser (every materialised cell's key holds
its organiser, so the organisers' counts add up to the whole's), each statement's hash aggregates holding one
organiser's facts. A module of the package top: the check is ops' (`ops/queries.py`), but its comparisons are
results' and figures' (their `mismatches`), and a capability does not import another's ops."""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Awaitable, Callable, Mapping, Sequence

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

log = logging.getLogger(__name__)


def _organisers_sql(table: str) -> str:
    """`table`'s distinct organiser ids, each found by one descent of an index led by `organiser_id` (a loose
    index scan: as many descents as organisers, not a read of every row)."""
    return (f"SELECT organiser_id FROM (WITH RECURSIVE o(organiser_id) AS (SELECT min(organiser_id) FROM {table} "
            f"UNION ALL SELECT (SELECT min(organiser_id) FROM {table} WHERE organiser_id > o.organiser_id) FROM o "
            f"WHERE o.organiser_id IS NOT NULL) SELECT organiser_id FROM o WHERE organiser_id IS NOT NULL) AS {table}")


async def organisers_in(session: AsyncSession, *tables: str) -> list[str]:
    """Every organiser with a row in any of `tables` (each with an index led by `organiser_id`), sorted: the parts
    of a consistency comparison made organiser by organiser. Every materialised cell's key holds its facts'
    organiser (the nation's cells are the organisers' read), so the parts' counts add up to the whole's; the
    tables' organisers as well as the facts', so that a cell whose organiser has no facts left is still compared."""
    union = " UNION ".join(_organisers_sql(t) for t in tables)
    return sorted((await session.execute(text(union))).scalars().all())


async def by_organiser(organisers: Sequence[str], label: str,
                       compare: Callable[[str], Awaitable[Mapping[str, int]]]) -> Counter[str]:
    """`compare`'s counts of one organiser, summed over `organisers`; progress in the log (organisers done of
    all, at every tenth and the last): the check at the national size takes minutes."""
    found: Counter[str] = Counter()
    every = max(1, len(organisers) // 10)
    for done, organiser in enumerate(organisers, 1):
        found.update(await compare(organiser))
        if done % every == 0 or done == len(organisers):
            log.info("consistency check: %s, organisers %d/%d", label, done, len(organisers))
    return found

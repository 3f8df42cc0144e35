"""Slices of the students for the reads that run a pure rule over every fact in Python (the consistency check's
and the rebuild's recomputations): every rule they run pairs or groups facts of one student only, so the slices'
rows add up to the whole's, and each slice's facts are all that is in memory.

Two kinds: the rebuild's (i, n), by a hash of the student id (each slice a scan of the facts: a few slices of
250,000 facts), and the check's `StudentRange`, a range of student ids read through the facts' index led by the
student (each slice reads its own rows only: many small slices, the facts read once in all)."""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

log = logging.getLogger(__name__)

#: facts per slice in the consistency check (it runs inside a reporting worker, beside its consumer: ~1.5 KB of
#: Python per fact read, bench/results/mem26.json)
CHECK_SLICE = 20_000


@dataclass(frozen=True)
class StudentRange:
    """The students whose id is after `after` and up to `up_to`, in the database's order (None: no bound)."""

    after: str | None = None
    up_to: str | None = None


Slice = tuple[int, int] | StudentRange | None


def slice_filter(part: Slice, column: str = "student_id") -> tuple[str, dict[str, Any]]:
    """`AND` the condition that `column` (a student id) is in `part`, and its parameters; empty for no slice.
    The same condition on the facts and on a table keyed by the student puts a student in the same slice of both."""
    if part is None:
        return "", {}
    if isinstance(part, StudentRange):
        sql, params = "", {}
        if part.after is not None:
            sql, params["students_after"] = f"{sql} AND {column} > :students_after", part.after
        if part.up_to is not None:
            sql, params["students_up_to"] = f"{sql} AND {column} <= :students_up_to", part.up_to
        return sql, params
    i, n = (int(x) for x in part)
    return f"AND mod(hashtext({column}) & 2147483647, {n}) = {i}", {}


async def student_ranges(session: AsyncSession, facts: str, where: str, per_slice: int) -> list[StudentRange | None]:
    """Ranges of the student ids covering every student (none left out: the first and last are open), each
    holding about `per_slice` of the rows of `facts` that `where` keeps (a student's rows all in one range; a
    student with more rows than that is a range of its own). [None] (no slice) when they fit in one. One pass
    over the student ids in order; the bounds come back in the database's order (its collation, as `>` compares)."""
    bounds = (await session.execute(text(
        f"SELECT student_id FROM (SELECT student_id, row_number() OVER (ORDER BY student_id) AS n FROM {facts} "
        f"WHERE {where}) AS s WHERE n % :per = 0 ORDER BY n"), {"per": max(1, per_slice)})).scalars().all()
    edges: list[str] = []
    for bound in bounds:
        if not edges or edges[-1] != bound:
            edges.append(bound)
    if not edges:
        return [None]
    return [StudentRange(after, up_to) for after, up_to in zip([None, *edges], [*edges, None], strict=True)]


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

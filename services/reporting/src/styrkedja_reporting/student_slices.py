"""Slices of the students for the reads that run a pure rule over every fact in Python (the consistency check's
and the rebuild's recomputations): every rule they run pairs or groups facts of one student only, so the slices'
rows add up to the whole's, and each slice's facts are all that is in memory.

Two kinds: the rebuild's (i, n), by a hash of the student id (each slice a scan of the facts: a few slices of
250,000 facts), and the check's `StudentRange`, a range of student ids read through the facts' index led by the
student (each slice reads its own rows only: many small slices, the facts read once in all)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

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

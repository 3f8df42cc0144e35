"""Slices of the students, by a hash of the student id, for the reads that run a pure rule over every fact in
Python (the consistency check's and the rebuild's recomputations): every rule they run pairs or groups facts of
one student only, so the slices' rows add up to the whole's, and each slice's facts are all that is in memory."""

from __future__ import annotations

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

#: facts per slice in the consistency check (it runs inside a reporting worker, beside its consumer: ~1-2 KB of
#: Python per fact read, bench/results/mem26.json)
CHECK_SLICE = 20_000


def in_slice(student_slice: tuple[int, int] | None, column: str = "student_id") -> str:
    """`AND` the condition that `column` (a student id) is in slice i of n; empty for no slice. The same
    expression on the facts and on a table keyed by the student puts a student in the same slice of both."""
    if student_slice is None:
        return ""
    i, n = (int(x) for x in student_slice)
    return f"AND mod(hashtext({column}) & 2147483647, {n}) = {i}"


async def slice_count(session: AsyncSession, count_sql: str, per_slice: int) -> int:
    """How many slices keep each under `per_slice` of the rows `count_sql` (a SELECT of one count) counts."""
    return max(1, -(-int((await session.execute(text(count_sql))).scalar_one() or 0) // max(1, per_slice)))


def slices(count: int) -> list[tuple[int, int] | None]:
    """The `student_slice` arguments of `count` slices (one: no slice, no hash computed)."""
    return [None] if count <= 1 else [(i, count) for i in range(count)]

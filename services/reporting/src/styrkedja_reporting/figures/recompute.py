"""The consistency check's recomputation of the two linked figures (forecast against outcome,
merit) from all the facts, by the same pure rules the deltas come from — an admin read, never
on the apply path or a figure read. The sums (pass, dates, students) are recomputed in SQL
(`tables.RECOMPUTED`)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from ..directory.tables import placements
from ..results.tables import ASSESSMENTS, FORECASTS, FactStore
from ..staging import quoted
from .linked import forecast_state, merit_state
from .tables import counters_of


async def _all(session: AsyncSession, store: FactStore, hidden: str, where: str = "") -> list[Any]:
    cols = ", ".join(quoted(n) for n in store.fact_fields)
    rows = (await session.execute(text(f"SELECT {cols} FROM {store.facts.name} WHERE NOT {hidden} {where}"))).all()
    return [store.fact_type(*row) for row in rows]


#: Only the results a forecast is paired with (`forecast_state` pairs by student, subject and term):
#: the rebuild's materialisation need not hold every result in memory.
PAIRED_RESULTS = (f"AND (student_id, subject_code, school_year, term) IN (SELECT student_id, subject_code, "
                  f"school_year, term FROM {FORECASTS.facts.name} WHERE NOT withdrawn)")


async def recomputed_rows(session: AsyncSession, name: str, *, paired_only: bool = False,
                          student_slice: tuple[int, int] | None = None) -> list[tuple[Any, ...]]:
    """`paired_only`: read only the results some forecast is paired with (the same state, less read).
    `student_slice` (i, n): only the facts of the students in slice i of n (by a hash of the student id):
    both figures pair and group within one student, so the slices' rows add up to the whole's (the rebuild
    adds them slice by slice, in bounded memory)."""
    only = "" if student_slice is None else (
        f"AND mod(hashtext(student_id) & 2147483647, {int(student_slice[1])}) = {int(student_slice[0])}")
    placement = {r[0]: r[1] for r in (await session.execute(
        text(f"SELECT school_unit_code, area_id FROM {placements.name}"))).all()}
    if name == "forecasts":
        forecasts = await _all(session, FORECASTS, "withdrawn", only)
        results = await _all(session, ASSESSMENTS, "retracted", f"{PAIRED_RESULTS if paired_only else ''} {only}")
        return [(*key, *counters_of(t)) for key, t in forecast_state(forecasts, results, placement).items()]
    if name == "merit":
        grades = await _all(session, ASSESSMENTS, "retracted", f"AND kind = 'term_grade' {only}")
        return [(*key, *counters_of(t)) for key, t in merit_state(grades, placement).items()]
    raise ValueError(f"no recomputation in Python for {name!r}")

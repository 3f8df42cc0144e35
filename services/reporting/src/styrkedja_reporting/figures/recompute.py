"""The consistency check's recomputation of the two linked figures (forecast against outcome,
merit) from all the facts, by the same pure rules the deltas come from — an admin read, never
on the apply path or a figure read. The sums (pass, dates, students) are recomputed in SQL
(`tables.RECOMPUTED`)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from .. import student_slices
from ..directory.tables import placements
from ..results.tables import ASSESSMENTS, FORECASTS, FactStore
from ..staging import quoted
from ..student_slices import Slice, slice_filter, student_ranges
from .linked import forecast_state, merit_state
from .tables import counters_of


async def _all(session: AsyncSession, store: FactStore, hidden: str, where: str = "",
               params: dict[str, Any] | None = None) -> list[Any]:
    cols = ", ".join(quoted(n) for n in store.fact_fields)
    rows = (await session.execute(text(f"SELECT {cols} FROM {store.facts.name} WHERE NOT {hidden} {where}"),
                                  params or {})).all()
    return [store.fact_type(*row) for row in rows]


#: Only the results a forecast is paired with (`forecast_state` pairs by student, subject and term):
#: the rebuild's materialisation need not hold every result in memory.
PAIRED_RESULTS = (f"AND (student_id, subject_code, school_year, term) IN (SELECT student_id, subject_code, "
                  f"school_year, term FROM {FORECASTS.facts.name} WHERE NOT withdrawn)")


async def recomputed_rows(session: AsyncSession, name: str, *, paired_only: bool = False,
                          student_slice: Slice = None) -> list[tuple[Any, ...]]:
    """`paired_only`: read only the results some forecast is paired with (the same state, less read).
    `student_slice` (i, n): only the facts of the students in slice i of n (by a hash of the student id), or of
    a `StudentRange`: both figures pair and group within one student, so the slices' rows add up to the whole's
    (the rebuild adds them slice by slice, the consistency check sums them: in bounded memory)."""
    only, params = slice_filter(student_slice)
    placement = {r[0]: r[1] for r in (await session.execute(
        text(f"SELECT school_unit_code, area_id FROM {placements.name}"))).all()}
    if name == "forecasts":
        forecasts = await _all(session, FORECASTS, "withdrawn", only, params)
        results = await _all(session, ASSESSMENTS, "retracted", f"{PAIRED_RESULTS if paired_only else ''} {only}",
                             params)
        return [(*key, *counters_of(t)) for key, t in forecast_state(forecasts, results, placement).items()]
    if name == "merit":
        grades = await _all(session, ASSESSMENTS, "retracted", f"AND kind = 'term_grade' {only}", params)
        return [(*key, *counters_of(t)) for key, t in merit_state(grades, placement).items()]
    raise ValueError(f"no recomputation in Python for {name!r}")


#: the facts `recomputed_rows(name, paired_only=True)` reads most of, whose students the check's ranges divide:
#: the forecasts (their paired results are of the same students, a few per forecast), the term grades
_SLICED = {"forecasts": (FORECASTS.facts.name, "NOT withdrawn"),
           "merit": (ASSESSMENTS.facts.name, "NOT retracted AND kind = 'term_grade'")}


async def summed_rows(session: AsyncSession, name: str, key_length: int) -> list[tuple[Any, ...]]:
    """`recomputed_rows(name)` (the consistency check's side), read range by range of the students
    (`student_slices.CHECK_SLICE` facts each) and summed per cell: in memory one slice's facts and the cells,
    never every fact at once. The same rows: each slice's add up to the whole's, and a cell whose sum is zero
    is left out as the whole's `apply` leaves it out."""
    total: dict[tuple[Any, ...], tuple[int, ...]] = {}
    for part in await student_ranges(session, *_SLICED[name], student_slices.CHECK_SLICE):
        for row in await recomputed_rows(session, name, paired_only=True, student_slice=part):
            key, values = row[:key_length], row[key_length:]
            was = total.get(key)
            total[key] = values if was is None else tuple(a + b for a, b in zip(was, values, strict=True))
    return [(*key, *values) for key, values in total.items() if any(values)]

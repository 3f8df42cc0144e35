"""The consistency check's recomputation of the two linked figures (forecast against outcome,
merit) from all the facts, by the same pure rules the deltas come from — an admin read, never
on the apply path or a figure read. The sums (pass, dates, students) are recomputed in SQL
(`tables.RECOMPUTED`)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from ..directory.tables import placements
from ..results.tables import ASSESSMENTS, FORECASTS, FactStore, _q
from .linked import forecast_state, merit_state
from .tables import counters_of


async def _all(session: AsyncSession, store: FactStore, hidden: str, where: str = "") -> list[Any]:
    cols = ", ".join(_q(n) for n in store.fact_fields)
    rows = (await session.execute(text(f"SELECT {cols} FROM {store.facts.name} WHERE NOT {hidden} {where}"))).all()
    return [store.fact_type(*row) for row in rows]


#: Only the results a forecast is paired with (`forecast_state` pairs by student, subject and term):
#: the rebuild's materialisation need not hold every result in memory.
PAIRED_RESULTS = (f"AND (student_id, subject_code, school_year, term) IN (SELECT student_id, subject_code, "
                  f"school_year, term FROM {FORECASTS.facts.name} WHERE NOT withdrawn)")


async def recomputed_rows(session: AsyncSession, name: str, *, paired_only: bool = False) -> list[tuple[Any, ...]]:
    """`paired_only`: read only the results some forecast is paired with (the same state, less read)."""
    placement = {r[0]: r[1] for r in (await session.execute(
        text(f"SELECT school_unit_code, area_id FROM {placements.name}"))).all()}
    if name == "forecasts":
        forecasts = await _all(session, FORECASTS, "withdrawn")
        results = await _all(session, ASSESSMENTS, "retracted", PAIRED_RESULTS if paired_only else "")
        return [(*key, *counters_of(t)) for key, t in forecast_state(forecasts, results, placement).items()]
    if name == "merit":
        grades = await _all(session, ASSESSMENTS, "retracted", "AND kind = 'term_grade'")
        return [(*key, *counters_of(t)) for key, t in merit_state(grades, placement).items()]
    raise ValueError(f"no recomputation in Python for {name!r}")

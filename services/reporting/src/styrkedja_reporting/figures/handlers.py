"""Applies the figures' deltas: registered after results for the same event types, it takes the
batch's changed facts from `results.handlers.batch_changes` (no re-read), maps them onto the
figures' fact shapes and writes the summed deltas with one statement per table."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from styrkedja_kit.consumer import Delivered

from ..results.handlers import EVENT_TYPES as RESULT_EVENT_TYPES
from ..results.handlers import batch_changes
from .cells import ResultCell, result_cells
from .coverage_counts import apply_student_counts, recount_areas
from .linked import apply_linked, to_result
from .pass_share import pass_tally
from .periods import RoundPeriod, TermPeriod
from .tables import DATES, PASS, TABLES, counters

EVENT_TYPES = RESULT_EVENT_TYPES


def period_key(cell: ResultCell) -> tuple[str, str]:
    """(school year, period) as stored: the term, or `R<n>` for a round."""
    period = cell.period
    if isinstance(period, RoundPeriod):
        return str(period.school_year), f"R{period.round}"
    assert isinstance(period, TermPeriod)
    return str(period.school_year), period.term.value


def cell_key(organiser_id: str, cell: ResultCell) -> tuple[Any, ...]:
    level, unit_id = cell.unit
    return (level, unit_id, organiser_id, cell.subject_code, cell.year, *period_key(cell))


async def apply_figures(session: AsyncSession, batch: Sequence[Delivered]) -> None:
    """Per changed fact, contribution(new) − contribution(old) of the pass tally, the result date and
    the student id in each of the result's group cells — exactly `pass_delta`, `freshness_delta` and
    `coverage_delta` (its distinct count moved per level by `coverage_counts`), summed straight into plain counters (the per-cell state objects and the
    delta dicts cost more than the database write at a thousand results per batch)."""
    changes = batch_changes(session)
    passes: dict[tuple[Any, ...], list[int]] = {}  # the pass counters, then the distinct students (coverage)
    dates: Counter[Any] = Counter()
    students: Counter[Any] = Counter()
    for old_fact, new_fact in changes.assessments:
        for fact, sign in ((old_fact, -1), (new_fact, 1)):
            result = to_result(fact, changes.placement)
            if result is None or fact is None:
                continue
            tally = [sign * n for n in counters(pass_tally(result))] + [0]
            for cell in result_cells(result):
                key = cell_key(fact.organiser_id, cell)
                summed = passes.get(key)
                passes[key] = list(tally) if summed is None else [a + b for a, b in zip(summed, tally, strict=True)]
                dates[(*key, result.assessed_on)] += sign
                if key[0] == "group":  # the evidence of distinct students: group cells only
                    students[(*key, result.student_id)] += sign
    distinct = await apply_student_counts(session, [(*key, n) for key, n in students.items()], changes.placement)
    for key, n in distinct.items():
        passes.setdefault(key, [0] * len(PASS.values))[-1] += n
    await PASS.add(session, [(*key, *values) for key, values in passes.items()])
    await DATES.add(session, [(*key, n) for key, n in dates.items()])
    await apply_linked(session, changes)


async def move_school_units(session: AsyncSession, moves) -> None:
    """The directory moved school units between areas: their figures move with them."""
    for table in TABLES.values():
        await table.transfer(session, moves)
    await recount_areas(session, moves)

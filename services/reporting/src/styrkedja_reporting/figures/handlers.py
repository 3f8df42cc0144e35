"""Applies the figures' deltas: registered after results for the same event types, it takes the
batch's changed facts from `results.handlers.batch_changes` (no re-read), maps them onto the
figures' fact shapes and writes the summed deltas with one statement per table."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy.ext.asyncio import AsyncSession

from styrkedja_kit.consumer import Delivered

from ..results.handlers import EVENT_TYPES as RESULT_EVENT_TYPES
from ..results.handlers import batch_changes
from .cells import ResultCell
from .coverage import coverage_delta
from .freshness import freshness_delta
from .linked import apply_linked, to_result
from .pass_share import PassTally, pass_delta
from .periods import RoundPeriod, TermPeriod
from .state import Multiset, apply
from .tables import DATES, PASS, STUDENTS, TABLES, counters

EVENT_TYPES = RESULT_EVENT_TYPES


def period_key(cell: ResultCell) -> tuple[str, str]:
    """(school year, period) as stored: the term, or `R<n>` for a round."""
    period = cell.period
    if isinstance(period, RoundPeriod):
        return str(period.school_year), f"R{period.round}"
    assert isinstance(period, TermPeriod)
    return str(period.school_year), period.term.value


def cell_key(organiser_id: str, cell: ResultCell) -> tuple:
    level, unit_id = cell.unit
    return (level, unit_id, organiser_id, cell.subject_code, cell.year, *period_key(cell))


async def apply_figures(session: AsyncSession, batch: Sequence[Delivered]) -> None:
    changes = batch_changes(session)
    passes: dict[tuple, PassTally] = {}
    dates: dict[tuple, Multiset] = {}
    students: dict[tuple, Multiset] = {}
    for old_fact, new_fact in changes.assessments:
        old, new = to_result(old_fact, changes.placement), to_result(new_fact, changes.placement)
        if old is None and new is None:
            continue
        organiser = new_fact.organiser_id
        apply(passes, {cell_key(organiser, c): s for c, s in pass_delta(old, new).items()})
        apply(dates, {cell_key(organiser, c): s for c, s in freshness_delta(old, new).items()})
        apply(students, {cell_key(organiser, c): s for c, s in coverage_delta(old, new).items()})
    await PASS.add(session, [(*key, *counters(tally)) for key, tally in passes.items()])
    await DATES.add(session, [(*key, day, n) for key, days in dates.items() for day, n in days.items()])
    await STUDENTS.add(session, [(*key, student, n) for key, ids in students.items() for student, n in ids.items()])
    await apply_linked(session, changes)


async def move_school_units(session: AsyncSession, moves) -> None:
    """The directory moved school units between areas: their figures move with them."""
    for table in TABLES.values():
        await table.transfer(session, moves)

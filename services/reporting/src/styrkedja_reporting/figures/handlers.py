"""Applies the figures' deltas: registered after results for the same event types, it takes the
batch's changed facts from `results.handlers.batch_changes` (no re-read), maps them onto the
figures' fact shapes and writes the summed deltas with one statement per table."""

from __future__ import annotations

import functools
from collections import Counter
from collections.abc import Sequence
from operator import attrgetter
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from styrkedja_contracts.identifiers import Gender
from styrkedja_contracts.scales import Scale, reaches_pass
from styrkedja_kit.consumer import Delivered

from ..results.handlers import EVENT_TYPES as RESULT_EVENT_TYPES
from ..results.handlers import batch_changes
from ..results.rules import AssessmentFact, Placement, group_key
from .cells import ResultCell
from .coverage_counts import apply_student_counts, recount_areas
from .linked import apply_linked
from .periods import RoundPeriod, TermPeriod
from .tables import PASS_COUNTERS, TABLES, add_pass_and_dates, renew_area_newest

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


@functools.cache
def _reaches(scale: str, value: str) -> int:
    return int(reaches_pass(Scale(scale), value))


# position of a result's gender in the pass counters (assessed_<gender>; reaching_<gender> is next)
_GENDER_AT = {gender.value: PASS_COUNTERS.index(f"assessed_{gender.value}") for gender in Gender}


#: What decides a stored fact's figure cells, counters and date (`_pass_signature`), read in C (one call, no
#: tuple built attribute by attribute: ~5,000 facts per batch), and the same with the student for the evidence of
#: distinct students
_SIGNATURE = attrgetter("organiser_id", "school_unit_code", "group_id", "subject_code", "year", "school_year", "term",
                        "round", "gender", "scale", "value", "assessed_on")
_STUDENT_SIGNATURE = attrgetter("organiser_id", "school_unit_code", "group_id", "subject_code", "year", "school_year",
                                "term", "round", "student_id")


def _pass_signature(fact: AssessmentFact | None) -> tuple[Any, ...] | None:
    """What decides a stored fact's figure cells, counters and date: organiser, school unit, group,
    subject, year, school year, term, round, gender, scale, value, date; None where `to_result` is
    None (retracted, or no date)."""
    if fact is None or fact.retracted or fact.assessed_on is None:
        return None
    return _SIGNATURE(fact)


def _pass_cells(signature: tuple[Any, ...], placement: Placement) -> tuple[list[tuple[Any, ...]], int, int]:
    """The figure cells the results of one signature count in (their units × their term and round,
    as `cell_key` of `result_cells(to_result(fact))`), the position of their gender's counters and
    whether they reach the pass level. `signature`: as `_pass_signature`."""
    organiser_id, code, group_id, subject_code, year, school_year, term, rnd, gender, scale, value = signature[:11]
    periods = [term] if rnd is None else [term, f"R{rnd}"]
    area = placement.get(code)
    unit_list = [("group", group_key(code, group_id)), ("school_unit", code)]
    if area is not None:
        unit_list.append(("area", area))
    unit_list.append(("organiser", organiser_id))
    cells = [(level, unit, organiser_id, subject_code, year, school_year, period)
             for level, unit in unit_list for period in periods]
    return cells, _GENDER_AT[gender], _reaches(scale, value)


async def apply_figures(session: AsyncSession, batch: Sequence[Delivered]) -> None:
    """Per changed fact, contribution(new) − contribution(old) of the pass tally, the result date and
    the student id in each of the result's group cells — exactly `pass_delta`, `freshness_delta` and
    `coverage_delta` (its distinct count moved per level by `coverage_counts`), summed per signature
    and sent as one row each, expanded to the cells and summed per cell by the server (no per-cell
    objects or rows in Python: at thousands of results per batch they cost more than the database
    write; `tests/unit/figures` hold the cells equal to the rules', `test_signed_cells` the server's
    expansion equal to `_pass_cells`)."""
    changes = batch_changes(session)
    # Summed per signature first — what decides a result's cells, gender position, reaching and
    # date (`_pass_signature`), and per group, term, round and student for the distinct students —
    # then each signature expanded once: a class's results share their cells
    # counted in C (`Counter` of an iterable: no Python call per fact), the new versions added and the old ones (a
    # revision, a retraction: few) taken away; each fact where `to_result` is not None (`_pass_signature`)
    counted = [new for _, new in changes.assessments if not new.retracted and new.assessed_on is not None]
    signed = Counter(map(_SIGNATURE, counted))
    student_signed = Counter(map(_STUDENT_SIGNATURE, counted))
    for old, _ in changes.assessments:
        if old is not None and not old.retracted and old.assessed_on is not None:
            signed[_SIGNATURE(old)] -= 1
            student_signed[_STUDENT_SIGNATURE(old)] -= 1
    students: dict[Any, int] = {}  # the evidence of distinct students: group cells only
    for (organiser_id, code, group_id, subject_code, year, school_year, term, rnd, student), n in \
            student_signed.items():
        if n:
            group = ("group", group_key(code, group_id), organiser_id, subject_code, year, school_year)
            key = (*group, term, student)
            students[key] = students.get(key, 0) + n
            if rnd is not None:
                key = (*group, f"R{rnd}", student)
                students[key] = students.get(key, 0) + n
    distinct = await apply_student_counts(session, [(*key, n) for key, n in students.items()], changes.placement)
    # each signature once (`SIGNED_COLUMNS`), expanded to its cells (`_pass_cells`) and summed by the server
    placement = changes.placement
    signed_rows = [(organiser_id, code, group_id, placement.get(code), subject_code, year, school_year, term,
                    None if rnd is None else f"R{rnd}", gender, _reaches(scale, value), day, n)
                   for (organiser_id, code, group_id, subject_code, year, school_year, term, rnd, gender, scale, value,
                        day), n in signed.items() if n]
    await add_pass_and_dates(session, signed_rows, [(*key, n) for key, n in distinct.items() if n])
    await apply_linked(session, changes)


async def move_school_units(session: AsyncSession, moves) -> None:
    """The directory moved school units between areas: their figures move with them."""
    for table in TABLES.values():
        await table.transfer(session, moves)
    await recount_areas(session, moves)
    await renew_area_newest(session, moves)

"""Applies support interventions and plans per batch: newest revision per fact, the aggregate
deltas of every level summed in memory, one statement per table (the results' machinery)."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from styrkedja_contracts.events.plan import PlanPublishedV1, PlanRetractedV1
from styrkedja_contracts.events.support import SupportInterventionRecordedV1, SupportInterventionRetractedV1
from styrkedja_kit.consumer import Delivered

from .. import student_slices
from ..registry import plain_data
from ..results.handlers import EVENT_TYPES as RESULT_EVENT_TYPES
from ..results.handlers import apply_facts, batch_changes
from ..results.rules import MATERIALISED, delta
from ..results.tables import ASSESSMENTS
from ..student_slices import slice_filter, student_ranges
from .linked import apply_below_pass, recomputed_below_pass
from .rules import (
    PlanFact,
    SupportFact,
    plan_cells,
    plan_fact,
    student_cells,
    support_cells,
    support_fact,
    support_retraction,
)
from .tables import BELOW_PASS, PLANS, STUDENTS, SUPPORT

EVENT_TYPES = (SupportInterventionRecordedV1.event_type, SupportInterventionRetractedV1.event_type,
               PlanPublishedV1.event_type, PlanRetractedV1.event_type)
#: Results move the below-pass-without-support rows too (registered after results).
RESULT_TYPES = RESULT_EVENT_TYPES


async def apply_support(session: AsyncSession, batch: Sequence[Delivered]) -> None:
    interventions: list[tuple[Any, SupportFact]] = []
    plans: list[tuple[Any, PlanFact]] = []
    for item in batch:
        data = plain_data(item.event)
        kind = item.event.type
        if kind == SupportInterventionRecordedV1.event_type:
            interventions.append(((data["organiser_id"], data["intervention_id"]), support_fact(data)))
        elif kind == SupportInterventionRetractedV1.event_type:
            interventions.append(((data["organiser_id"], data["intervention_id"]), support_retraction(data)))
        else:
            plans.append(((data["organiser_id"], data["plan_id"]),
                          plan_fact(data, retracted=kind == PlanRetractedV1.event_type)))
    changed, placement = await apply_facts(session, SUPPORT, support_cells, interventions)
    students: Counter[Any] = Counter()
    for before, after in changed:
        students.update(delta(student_cells, before, after, placement))
    await STUDENTS.add(session, students)
    await apply_below_pass(session, supports=changed)
    await apply_facts(session, PLANS, plan_cells, plans)


async def apply_support_results(session: AsyncSession, batch: Sequence[Delivered]) -> None:
    """After results: the results this batch changed move the below-pass-without-support rows."""
    changes = batch_changes(session)
    await apply_below_pass(session, results=changes.assessments)


async def move_school_units(session: AsyncSession, moves: Any) -> None:
    """The directory moved school units between areas: their support and plan cells move too (the below-pass rows
    are the groups' only: an area's are read through the placements, nothing to move)."""
    for store in (SUPPORT, STUDENTS, PLANS):
        await store.transfer(session, moves)


async def mismatches(session: AsyncSession) -> dict[str, dict[str, int]]:
    """Per store and level: materialised cells that differ from a recomputation from the facts."""
    below = await below_pass_mismatches(session)
    return {"support": await SUPPORT.mismatches(session), "plans": await PLANS.mismatches(session),
            "support_students": await STUDENTS.mismatches(session),
            "below_pass_without_support": {"student": 0, **{level: below.get(level, 0) for level in MATERIALISED}}}


async def below_pass_mismatches(session: AsyncSession) -> dict[str, int]:
    """The below-pass cells against their recomputation range by range of the students (`student_slices`): a cell
    is one student's, so each range's cells are compared with that range's recomputation alone and the counts add
    up; in memory one range's facts (about `CHECK_SLICE` results), not every result."""
    found: Counter[str] = Counter()
    ranges = await student_ranges(session, ASSESSMENTS.facts.name, "NOT retracted", student_slices.CHECK_SLICE)
    for part in ranges:
        rows = await recomputed_below_pass(session, student_slice=part)
        where, params = slice_filter(part)
        found.update(await BELOW_PASS.mismatches_against(session, rows, where=where.removeprefix(" AND "),
                                                          where_params=params))
    return dict(found)

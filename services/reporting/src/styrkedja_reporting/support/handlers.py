"""Applies support interventions and plans per batch: newest revision per fact, the aggregate
deltas of every level summed in memory, one statement per table (the results' machinery)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from styrkedja_contracts.events.plan import PlanPublishedV1, PlanRetractedV1
from styrkedja_contracts.events.support import SupportInterventionRecordedV1, SupportInterventionRetractedV1
from styrkedja_kit.consumer import Delivered

from ..registry import plain_data
from ..results.handlers import apply_facts
from .rules import PlanFact, SupportFact, plan_cells, plan_fact, support_cells, support_fact, support_retraction
from .tables import PLANS, SUPPORT

EVENT_TYPES = (SupportInterventionRecordedV1.event_type, SupportInterventionRetractedV1.event_type,
               PlanPublishedV1.event_type, PlanRetractedV1.event_type)


async def apply_support(session: AsyncSession, batch: Sequence[Delivered]) -> None:
    interventions: list[tuple[Any, SupportFact]] = []
    plans: list[tuple[Any, PlanFact]] = []
    for item in batch:
        data = plain_data(item.event)
        kind = item.event.type
        if kind == SupportInterventionRecordedV1.event_type:
            interventions.append((data["intervention_id"], support_fact(data)))
        elif kind == SupportInterventionRetractedV1.event_type:
            interventions.append((data["intervention_id"], support_retraction(data)))
        else:
            plans.append((data["plan_id"], plan_fact(data, retracted=kind == PlanRetractedV1.event_type)))
    await apply_facts(session, SUPPORT, support_cells, interventions)
    await apply_facts(session, PLANS, plan_cells, plans)


async def move_school_units(session: AsyncSession, moves: Any) -> None:
    """The directory moved school units between areas: their support and plan cells move too."""
    for store in (SUPPORT, PLANS):
        await store.transfer(session, moves)


async def mismatches(session: AsyncSession) -> dict[str, dict[str, int]]:
    """Per store and level: materialised cells that differ from a recomputation from the facts."""
    return {"support": await SUPPORT.mismatches(session), "plans": await PLANS.mismatches(session)}

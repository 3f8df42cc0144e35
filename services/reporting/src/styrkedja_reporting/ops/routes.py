"""Ops: consistency per level (invariant 3), and results not (yet) placed in the directory."""

from __future__ import annotations

from fastapi import APIRouter, Query, Request
from pydantic import BaseModel

from styrkedja_kit.app import runtime_of
from styrkedja_kit.auth import Principal, Role, authorize
from styrkedja_kit.inputs import OrganiserIdParam

from .queries import Consistency, consistency_of, snapshot
from .queries import unplaced as unplaced_counts

router = APIRouter(prefix="/v1/admin", tags=["ops"])


class Unplaced(BaseModel):
    kind: str  # "school_unit": no area in the directory; "group": not in the directory
    organiser_id: str
    school_unit_code: str
    group_id: str | None = None
    assessments: int
    forecasts: int


@router.get("/consistency", response_model=Consistency)
async def consistency(request: Request, principal: Principal = authorize(Role.OPS, description="ops")
                      ) -> Consistency:
    """Invariant 3: every materialised cell of every level (results and the figures' state) equals the same
    figure recomputed from the facts, all read in one snapshot (also while the consumer applies batches)."""
    async with snapshot(runtime_of(request).db) as session:
        return await consistency_of(session)


@router.get("/unplaced", response_model=list[Unplaced])
async def unplaced(request: Request,
                   organiser_id: OrganiserIdParam | None = Query(None),
                   principal: Principal = authorize(Role.OPS, description="ops")) -> list[Unplaced]:
    """Results whose school unit has no area, or whose group is not in the directory (yet). They
    count in every level they can be placed in; when the directory catches up, they are placed."""
    async with runtime_of(request).db.sessions() as session:
        found = await unplaced_counts(session, organiser_id)
    return [Unplaced(**entry) for entry in found]

"""Ops: run the freshness sweep now (the app also runs it every `freshness_sweep_seconds`)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Query, Request
from pydantic import AwareDatetime, BaseModel

from styrkedja_contracts.envelope import EARLIEST_EVENT_TIME, LATEST_EVENT_TIME
from styrkedja_kit.app import runtime_of
from styrkedja_kit.auth import Principal, Role, authorize
from styrkedja_kit.inputs import OrganiserIdParam
from styrkedja_kit.problems import problem_responses

from .freshness import sweep

router = APIRouter(prefix="/v1/admin/alerts", tags=["alerts"])


class Swept(BaseModel):
    events: int


@router.post("/freshness-sweep", response_model=Swept, responses=problem_responses(403))
async def freshness_sweep(request: Request, organiser_id: Annotated[OrganiserIdParam | None, Query()] = None,
                          at: Annotated[AwareDatetime | None, Query(
                              # the alert events a sweep writes carry this moment as their time: round 26's fuzzing
                              # swept at 1900-01-01T00:00:00+14:00, within the parameters' years but no event's
                              # time, and the envelope's refusal was a 500
                              ge=EARLIEST_EVENT_TIME, le=LATEST_EVENT_TIME,
                              description="Judge as of this moment (default now): for a catch-up or a test. The "
                              "events it writes carry it as their time, so it lies where an event's time does: "
                              "2000-01-01T00:00:00Z to 2199-12-31T23:59:59Z. It is one judgement, not a new "
                              "clock: the periodic sweep and the live judgement go on judging at the moment they "
                              "run, so what a sweep at another moment raised or resolved is judged again at the "
                              "next of them (a mistyped year heals by itself).")] = None,
                          principal: Principal = authorize(Role.OPS, description="ops: freshness sweep"),
                          ) -> Swept:
    """Judge `freshness_red` of every group and school unit (of one organiser, or all) now."""
    moment: datetime | None = at
    return Swept(events=await sweep(runtime_of(request).db, moment, organiser_id))

"""HTTP routes of support interventions (single, batch, retraction). No read of the description
yet: it needs the caller's role from the token (`rules.may_read_description`), the next phase."""

from __future__ import annotations

from uuid import UUID

from fastapi import APIRouter, Request, Response

from styrkedja_kit.app import runtime_of
from styrkedja_kit.auth import Principal, Role, Write, authorize_write
from styrkedja_kit.problems import problem_responses
from styrkedja_kit.writes import counted_batch, single_answer

from .schemas import InterventionBatchIn, InterventionBatchOut, InterventionIn, InterventionOut, InterventionRetractIn
from .service import SupportService

router = APIRouter(prefix="/v1/support-interventions", tags=["support"])


def _service(request: Request, principal: Principal) -> SupportService:
    runtime = runtime_of(request)
    assert runtime.outbox is not None
    return SupportService(runtime.db, runtime.outbox, principal, max_batch_items=runtime.settings.max_batch_items)


#: The kit's grant: platform clients write support interventions (on behalf of their users), for their
#: own organiser(s). Should teachers or principals be granted `Write.SUPPORT`, `caller_role` already
#: applies the role rule to them (`rules.check_recorder`).
WRITER = authorize_write(Write.SUPPORT)


def caller_role(principal: Principal) -> str:
    """The token's role for `rules.check_recorder`: the widest that may record (platform, then principal)."""
    for role in (Role.PLATFORM, Role.PRINCIPAL, Role.TEACHER):
        if principal.has(role):
            return role.value
    return sorted(principal.roles)[0].value if principal.roles else "none"


@router.post("", response_model=InterventionOut, status_code=201, responses={
    200: {"description": "The same intervention again: nothing stored, no event", "model": InterventionOut},
    **problem_responses(409)})
async def record(item: InterventionIn, request: Request, response: Response,
                 principal: Principal = WRITER) -> InterventionOut:
    return single_answer(await _service(request, principal).record([item], caller_role=caller_role(principal)),
                         response)


@router.post("/batch", response_model=InterventionBatchOut, status_code=201, responses={
    200: {"description": "Every intervention was already stored: nothing stored, no event",
          "model": InterventionBatchOut},
    **problem_responses(409)})
async def record_batch(batch: InterventionBatchIn, request: Request, response: Response,
                       principal: Principal = WRITER) -> InterventionBatchOut:
    """All or nothing; a problem names every bad item (`items.<index>.<field>`)."""
    results = await _service(request, principal).record(batch.items, batch=True, caller_role=caller_role(principal))
    return InterventionBatchOut(**counted_batch(results, response))


@router.post("/{intervention_id}/retract", response_model=InterventionOut, responses=problem_responses(404, 409))
async def retract(intervention_id: UUID, request: Request, body: InterventionRetractIn | None = None,
                  principal: Principal = WRITER) -> InterventionOut:
    """Retract an intervention as its next revision (404 for an id never stored)."""
    return await _service(request, principal).retract(intervention_id, body or InterventionRetractIn())

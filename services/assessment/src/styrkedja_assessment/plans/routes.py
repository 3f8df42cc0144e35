"""HTTP routes of plan metadata (single, batch, retraction)."""

from __future__ import annotations

from uuid import UUID

from fastapi import APIRouter, Request, Response

from styrkedja_kit.app import runtime_of
from styrkedja_kit.auth import Principal, Write, authorize_write
from styrkedja_kit.problems import problem_responses
from styrkedja_kit.writes import counted_batch, single_answer

from .schemas import PlanBatchIn, PlanBatchOut, PlanIn, PlanOut, PlanRetractIn
from .service import PlanService

router = APIRouter(prefix="/v1/plans", tags=["plans"])
#: Plans are published by the same platform clients as assessments, under the same write scope.


def _service(request: Request, principal: Principal) -> PlanService:
    runtime = runtime_of(request)
    assert runtime.outbox is not None
    return PlanService(runtime.db, runtime.outbox, principal, max_batch_items=runtime.settings.max_batch_items)


WRITER = authorize_write(Write.ASSESSMENTS)


@router.post("", response_model=PlanOut, status_code=201, responses=problem_responses(409))
async def publish(item: PlanIn, request: Request, response: Response,
                  principal: Principal = WRITER) -> PlanOut:
    return single_answer(await _service(request, principal).publish([item]), response)


@router.post("/batch", response_model=PlanBatchOut, status_code=201, responses=problem_responses(409))
async def publish_batch(batch: PlanBatchIn, request: Request, response: Response,
                  principal: Principal = WRITER) -> PlanBatchOut:
    """All or nothing; a problem names every bad item (`items.<index>.<field>`)."""
    results = await _service(request, principal).publish(batch.items, batch=True)
    return PlanBatchOut(**counted_batch(results, response))


@router.post("/{plan_id}/retract", response_model=PlanOut, responses=problem_responses(404, 409))
async def retract(plan_id: UUID, request: Request, body: PlanRetractIn | None = None,
                  principal: Principal = WRITER) -> PlanOut:
    return await _service(request, principal).retract(plan_id, body or PlanRetractIn())

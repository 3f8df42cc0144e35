"""HTTP routes of plan metadata (single, batch, retraction)."""

from __future__ import annotations

from uuid import UUID

from fastapi import APIRouter, Request, Response

from styrkedja_kit.app import runtime_of
from styrkedja_kit.problems import problem_responses

from .schemas import PlanBatchIn, PlanBatchOut, PlanIn, PlanOut, PlanRetractIn
from .service import PlanService

router = APIRouter(prefix="/v1/plans", tags=["plans"])


def _service(request: Request) -> PlanService:
    runtime = runtime_of(request)
    assert runtime.outbox is not None
    return PlanService(runtime.db, runtime.outbox, max_batch_items=runtime.settings.max_batch_items)


@router.post("", response_model=PlanOut, status_code=201, responses=problem_responses(409))
async def publish(item: PlanIn, request: Request, response: Response) -> PlanOut:
    [result] = await _service(request).publish([item])
    if result.status == "unchanged":
        response.status_code = 200
    return result


@router.post("/batch", response_model=PlanBatchOut, status_code=201, responses=problem_responses(409))
async def publish_batch(batch: PlanBatchIn, request: Request, response: Response) -> PlanBatchOut:
    """All or nothing; a problem names every bad item (`items.<index>.<field>`)."""
    results = await _service(request).publish(batch.items, batch=True)
    stored = sum(r.status == "stored" for r in results)
    if stored == 0:
        response.status_code = 200
    return PlanBatchOut(items=results, stored=stored, unchanged=len(results) - stored)


@router.post("/{plan_id}/retract", response_model=PlanOut, responses=problem_responses(404, 409))
async def retract(plan_id: UUID, request: Request, body: PlanRetractIn | None = None) -> PlanOut:
    return await _service(request).retract(plan_id, body or PlanRetractIn())

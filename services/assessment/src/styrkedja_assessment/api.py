"""Thin HTTP layer of the assessment service."""

from __future__ import annotations

from uuid import UUID

from fastapi import APIRouter, Request, Response

from styrkedja_kit.app import runtime_of

from .schemas import AssessmentBatchIn, AssessmentIn, AssessmentOut, BatchOut, RetractIn
from .service import AssessmentService

router = APIRouter(prefix="/v1/assessments", tags=["assessments"])


def _service(request: Request) -> AssessmentService:
    runtime = runtime_of(request)
    return AssessmentService(runtime.db, runtime.outbox)


@router.post("", response_model=AssessmentOut, status_code=201)
async def publish(item: AssessmentIn, request: Request, response: Response) -> AssessmentOut:
    [result] = await _service(request).publish([item])
    if result.status == "unchanged":
        response.status_code = 200
    return result


@router.post("/batch", response_model=BatchOut, status_code=201)
async def publish_batch(batch: AssessmentBatchIn, request: Request) -> BatchOut:
    results = await _service(request).publish(batch.items, batch=True)
    stored = sum(r.status == "stored" for r in results)
    return BatchOut(items=results, stored=stored, unchanged=len(results) - stored)


@router.post("/{assessment_id}/retract", response_model=AssessmentOut)
async def retract(assessment_id: UUID, request: Request, body: RetractIn | None = None) -> AssessmentOut:
    return await _service(request).retract(assessment_id, body or RetractIn())

"""Thin HTTP layer of the assessment service."""

from __future__ import annotations

from uuid import UUID

from fastapi import APIRouter, Request, Response

from styrkedja_kit.app import runtime_of
from styrkedja_kit.problems import problem_responses

from .schemas import AssessmentBatchIn, AssessmentIn, AssessmentOut, BatchOut, RetractIn
from .service import AssessmentService

router = APIRouter(prefix="/v1/assessments", tags=["assessments"])


def _service(request: Request) -> AssessmentService:
    runtime = runtime_of(request)
    assert runtime.outbox is not None
    return AssessmentService(runtime.db, runtime.outbox, max_batch_items=runtime.settings.max_batch_items)


@router.post("", response_model=AssessmentOut, status_code=201, responses={
    200: {"description": "The same assessment again: nothing stored, no event", "model": AssessmentOut},
    **problem_responses(409)})
async def publish(item: AssessmentIn, request: Request, response: Response) -> AssessmentOut:
    [result] = await _service(request).publish([item])
    if result.status == "unchanged":
        response.status_code = 200
    return result


@router.post("/batch", response_model=BatchOut, status_code=201, responses={
    200: {"description": "Every assessment was already stored: nothing stored, no event", "model": BatchOut},
    **problem_responses(409)})
async def publish_batch(batch: AssessmentBatchIn, request: Request, response: Response) -> BatchOut:
    """All or nothing; a problem names every bad item (`items.<index>.<field>`)."""
    results = await _service(request).publish(batch.items, batch=True)
    stored = sum(r.status == "stored" for r in results)
    if stored == 0:
        response.status_code = 200
    return BatchOut(items=results, stored=stored, unchanged=len(results) - stored)


@router.post("/{assessment_id}/retract", response_model=AssessmentOut, responses=problem_responses(404, 409))
async def retract(assessment_id: UUID, request: Request, body: RetractIn | None = None) -> AssessmentOut:
    """Retract (återkalla) an assessment as its next revision. An id the service has not stored is
    a 404 and nothing is recorded: a publish arriving later creates it as usual. After a
    retraction, only a publish naming a revision above the retraction's restores it (409
    `removed_needs_revision` otherwise), so a late publish never resurrects it."""
    return await _service(request).retract(assessment_id, body or RetractIn())

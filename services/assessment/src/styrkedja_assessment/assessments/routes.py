"""HTTP routes of published assessments (single, batch, retraction)."""

from __future__ import annotations

from uuid import UUID

from fastapi import APIRouter, Request, Response

from styrkedja_kit.app import runtime_of
from styrkedja_kit.auth import Principal, Write, authorize_write
from styrkedja_kit.inputs import json_body, json_body_openapi
from styrkedja_kit.problems import problem_responses
from styrkedja_kit.writes import single_answer

from .schemas import AssessmentBatchIn, AssessmentIn, AssessmentOut, BatchOut, RetractIn
from .service import AssessmentService

router = APIRouter(prefix="/v1/assessments", tags=["assessments"])


def _service(request: Request, principal: Principal) -> AssessmentService:
    runtime = runtime_of(request)
    assert runtime.outbox is not None
    return AssessmentService(runtime.db, runtime.outbox, principal, max_batch_items=runtime.settings.max_batch_items,
                             checked_once=runtime.settings.write_events_checked_once)


#: Platform clients publish for their own organiser(s); each item's organiser is checked in the service.
WRITER = authorize_write(Write.ASSESSMENTS)
#: A batch's body, parsed and validated in one pass (after the token: declared after `WRITER`).
BATCH_BODY = json_body(AssessmentBatchIn)


@router.post("", response_model=AssessmentOut, status_code=201, responses={
    200: {"description": "The same assessment again: nothing stored, no event", "model": AssessmentOut},
    **problem_responses(409)})
async def publish(item: AssessmentIn, request: Request, response: Response,
                  principal: Principal = WRITER) -> AssessmentOut:
    return single_answer(await _service(request, principal).publish([item]), response)


@router.post("/batch", response_model=BatchOut, status_code=201, responses={
    200: {"description": "Every assessment was already stored: nothing stored, no event", "model": BatchOut},
    **problem_responses(409)}, openapi_extra=json_body_openapi(AssessmentBatchIn))
async def publish_batch(request: Request, principal: Principal = WRITER,
                        batch: AssessmentBatchIn = BATCH_BODY) -> Response:
    """All or nothing; a problem names every bad item (`items.<index>.<field>`). An item for an
    organiser the token may not write for is a 403 naming it, and nothing is stored."""
    # the write path's own values (ids, revisions, flags): encoded as `BatchOut` without validating
    # them again (a thousand items), the same JSON FastAPI's response model would give
    status, body = await _service(request, principal).publish_batch(batch.items)
    return Response(body, status_code=status, media_type="application/json")


@router.post("/{assessment_id}/retract", response_model=AssessmentOut, responses=problem_responses(404, 409))
async def retract(assessment_id: UUID, request: Request, body: RetractIn | None = None,
                  principal: Principal = WRITER) -> AssessmentOut:
    """Retract (återkalla) an assessment as its next revision. An id the service has not stored is
    a 404 and nothing is recorded: a publish arriving later creates it as usual. After a
    retraction, only a publish naming a revision above the retraction's restores it (409
    `removed_needs_revision` otherwise), so a late publish never resurrects it."""
    return await _service(request, principal).retract(assessment_id, body or RetractIn())

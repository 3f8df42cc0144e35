"""Thin HTTP layer of the LIKA service."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response

from styrkedja_kit.app import runtime_of

from .schemas import SelfAssessmentOut, SelfAssessmentPublishedIn
from .service import LikaService

router = APIRouter(prefix="/v1/self-assessments", tags=["self-assessments"])

def _service(request: Request) -> LikaService:
    runtime = runtime_of(request)
    return LikaService(runtime.db, runtime.outbox, runtime.settings.max_event_bytes)


@router.post("/published", response_model=SelfAssessmentOut, status_code=201,
             responses={200: {"description": "The same self-assessment again: nothing stored, no event"}})
async def publish(item: SelfAssessmentPublishedIn, request: Request, response: Response) -> SelfAssessmentOut:
    result = await _service(request).publish(item)
    if result.status == "unchanged":
        response.status_code = 200
    return result

"""Thin HTTP layer of the LIKA service."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response
from styrkedja_kit.app import runtime_of
from styrkedja_kit.problems import Problem, field_error

from .schemas import SelfAssessmentOut, SelfAssessmentPublishedIn
from .service import LikaService, RuleViolation

router = APIRouter(prefix="/v1/self-assessments", tags=["self-assessments"])

_TITLES = {404: "Not found", 409: "Conflict", 422: "Rule broken"}


def _service(request: Request) -> LikaService:
    runtime = runtime_of(request)
    return LikaService(runtime.db, runtime.outbox, runtime.settings.max_event_bytes)


def _problem(error: RuleViolation) -> Problem:
    return Problem(error.status, _TITLES.get(error.status, "Rule broken"), str(error),
                   [field_error(error.field, error.rule, error.message)])


@router.post("/published", response_model=SelfAssessmentOut, status_code=201,
             responses={200: {"description": "The same self-assessment again: nothing stored, no event"}})
async def publish(item: SelfAssessmentPublishedIn, request: Request, response: Response) -> SelfAssessmentOut:
    try:
        result = await _service(request).publish(item)
    except RuleViolation as error:
        raise _problem(error) from None
    if result.status == "unchanged":
        response.status_code = 200
    return result

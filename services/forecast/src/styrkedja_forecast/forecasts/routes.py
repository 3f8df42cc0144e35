"""HTTP routes of forecasts (single, batch, withdrawal)."""

from __future__ import annotations

from uuid import UUID

from fastapi import APIRouter, Request, Response

from styrkedja_kit.app import runtime_of
from styrkedja_kit.auth import Principal, Write, authorize_write
from styrkedja_kit.inputs import json_body, json_body_openapi
from styrkedja_kit.problems import problem_responses
from styrkedja_kit.writes import single_answer

from ..calendar.routes import calendar_service
from ..settings import ForecastSettings
from .schemas import BatchOut, ForecastBatchIn, ForecastIn, ForecastOut, WithdrawIn
from .service import ForecastService

router = APIRouter(prefix="/v1/forecasts", tags=["forecasts"])


def _service(request: Request, principal: Principal) -> ForecastService:
    runtime = runtime_of(request)
    settings = runtime.settings
    assert runtime.outbox is not None and isinstance(settings, ForecastSettings)
    calendars = calendar_service(request)
    return ForecastService(runtime.db, runtime.outbox, principal, settings.window_config(),
                           max_batch_items=settings.max_batch_items, calendars=calendars.calendars,
                           checked_once=settings.write_events_checked_once)


#: Platform clients submit for their own organiser(s); each item's organiser is checked in the service.
WRITER = authorize_write(Write.FORECASTS)
#: A batch's body, parsed and validated in one pass (after the token: declared after `WRITER`).
BATCH_BODY = json_body(ForecastBatchIn)


@router.post("", response_model=ForecastOut, status_code=201, responses={
    200: {"description": "The same forecast again: nothing stored, no event", "model": ForecastOut},
    **problem_responses(409)})
async def submit(item: ForecastIn, request: Request, response: Response,
                 principal: Principal = WRITER) -> ForecastOut:
    return single_answer(await _service(request, principal).submit([item]), response)


@router.post("/batch", response_model=BatchOut, status_code=201, responses={
    200: {"description": "Every forecast was already stored: nothing stored, no event", "model": BatchOut},
    **problem_responses(409)}, openapi_extra=json_body_openapi(ForecastBatchIn))
async def submit_batch(request: Request, principal: Principal = WRITER,
                       batch: ForecastBatchIn = BATCH_BODY) -> Response:
    """All or nothing; a problem names every bad item (`items.<index>.<field>`)."""
    # the write path's own values (ids, revisions, flags): encoded as `BatchOut` without validating
    # them again (a thousand items), the same JSON FastAPI's response model would give
    status, body = await _service(request, principal).submit_batch(batch.items)
    return Response(body, status_code=status, media_type="application/json")


@router.post("/{forecast_id}/withdraw", response_model=ForecastOut, responses=problem_responses(404, 409))
async def withdraw(forecast_id: UUID, request: Request, body: WithdrawIn | None = None,
                   principal: Principal = WRITER) -> ForecastOut:
    """Withdraw a forecast as its next revision. An id the service has not stored is a 404 and
    nothing is recorded. After a withdrawal, only a submission naming a revision above the
    withdrawal's restores it (409 `removed_needs_revision` otherwise)."""
    return await _service(request, principal).withdraw(forecast_id, body or WithdrawIn())

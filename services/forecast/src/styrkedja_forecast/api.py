"""Thin HTTP layer of the forecast service."""

from __future__ import annotations

from uuid import UUID

from fastapi import APIRouter, Request, Response

from styrkedja_kit.app import runtime_of
from styrkedja_kit.problems import Problem, field_error

from .schemas import BatchOut, ForecastBatchIn, ForecastIn, ForecastOut, WithdrawIn
from .service import ForecastService

router = APIRouter(prefix="/v1/forecasts", tags=["forecasts"])

def _service(request: Request) -> ForecastService:
    runtime = runtime_of(request)
    return ForecastService(runtime.db, runtime.outbox, runtime.settings.window_config())


@router.post("", response_model=ForecastOut, status_code=201,
             responses={200: {"description": "The same forecast again: nothing stored, no event"}})
async def submit(item: ForecastIn, request: Request, response: Response) -> ForecastOut:
    [result] = await _service(request).submit([item])
    if result.status == "unchanged":
        response.status_code = 200
    return result


@router.post("/batch", response_model=BatchOut, status_code=201,
             responses={200: {"description": "Every forecast was already stored: nothing stored, no event"}})
async def submit_batch(batch: ForecastBatchIn, request: Request, response: Response) -> BatchOut:
    if len(batch.items) > runtime_of(request).settings.max_batch_items:
        raise Problem(422, "Rule broken", f"items: at most {runtime_of(request).settings.max_batch_items} items",
                      [field_error("items", "max_batch_items", "too many items in one batch")])
    results = await _service(request).submit(batch.items, batch=True)
    stored = sum(r.status == "stored" for r in results)
    if stored == 0:
        response.status_code = 200
    return BatchOut(items=results, stored=stored, unchanged=len(results) - stored)


@router.post("/{forecast_id}/withdraw", response_model=ForecastOut)
async def withdraw(forecast_id: UUID, request: Request, body: WithdrawIn | None = None) -> ForecastOut:
    return await _service(request).withdraw(forecast_id, body or WithdrawIn())

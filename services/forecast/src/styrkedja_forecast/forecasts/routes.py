"""HTTP routes of forecasts (single, batch, withdrawal): the kit's routes of a record written with
numbered revisions (`styrkedja_kit.record_routes`)."""

from __future__ import annotations

from fastapi import APIRouter, Request

from styrkedja_kit.app import runtime_of
from styrkedja_kit.auth import Principal, Write, authorize_write
from styrkedja_kit.record_routes import RecordRoutes, add_record_routes

from ..calendar.routes import calendar_service
from ..metadata import idempotency_keys
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
                           calendars_held=calendars.calendars_held,
                           checked_once=settings.write_events_checked_once)


add_record_routes(router, RecordRoutes(
    id_name="forecast_id", service=_service,
    # platform clients submit for their own organiser(s); each item's organiser is checked in the service
    writer=authorize_write(Write.FORECASTS),
    item=ForecastIn, answer=ForecastOut, batch=ForecastBatchIn, batch_answer=BatchOut, removal=WithdrawIn,
    write="submit", write_batch="submit_batch", remove="withdraw",
    store=ForecastService.submit, store_batch=ForecastService.submit_batch, take_back=ForecastService.withdraw,
    keys=idempotency_keys,
    same_again="The same forecast again: nothing stored, no event",
    batch_same_again="Every forecast was already stored: nothing stored, no event",
    batch_doc="All or nothing; a problem names every bad item (`items.<index>.<field>`).",
    remove_doc="""Withdraw a forecast as its next revision. An id the service has not stored — or another
    organiser's — is a 404 and nothing is recorded. After a withdrawal, only a submission naming a revision above the
    withdrawal's restores it (409 `removed_needs_revision` otherwise); a withdrawal at revision 2146435071
    or above (the highest a request may name) can never be restored (409 `removed_for_good`)."""))

"""HTTP: the organiser admin reads and sets its organiser's reporting calendar (årshjul).

`GET /v1/calendars/{organiser_id}` — any role that reads figures, within its organisers (the
calendar says when reports are due, nothing about students); `PUT` — the organiser admin of that
organiser (`Write.ORGANISER_SETTINGS`)."""

from __future__ import annotations

from fastapi import APIRouter, Request

from styrkedja_kit.app import runtime_of
from styrkedja_kit.auth import AccessDenied, Principal, Write, authorize_read, authorize_write, require_write
from styrkedja_kit.auth.policy import GRANTS, Reach
from styrkedja_kit.inputs import OrganiserIdParam
from styrkedja_kit.problems import problem_responses

from ..settings import ForecastSettings
from .rules import calendar_of_config, check_weeks_in_terms
from .schemas import CalendarIn, CalendarOut
from .service import CalendarService, CalendarView

router = APIRouter(prefix="/v1/calendars", tags=["calendar"])


def calendar_service(request: Request) -> CalendarService:
    runtime = runtime_of(request)
    settings = runtime.settings
    assert runtime.outbox is not None and isinstance(settings, ForecastSettings)
    return CalendarService(runtime.db, runtime.outbox, calendar_of_config(settings.window_config()))


def _out(view: CalendarView) -> CalendarOut:
    return CalendarOut(organiser_id=view.organiser_id, revision=view.revision, default=view.revision == 0,
                       calendar=view.calendar, status=view.status)


def _require_organiser_read(principal: Principal, organiser_id: str) -> None:
    every = any(GRANTS[role].reads is Reach.EVERY_ORGANISER for role in principal.roles)
    if not every and organiser_id not in principal.organisers:
        raise AccessDenied("organiser_id", "read_scope", "this token may not read this organiser's calendar")


@router.get("/{organiser_id}", response_model=CalendarOut, responses=problem_responses(403))
async def get_calendar(organiser_id: OrganiserIdParam, request: Request,
                       principal: Principal = authorize_read()) -> CalendarOut:
    _require_organiser_read(principal, organiser_id)
    return _out(await calendar_service(request).get(organiser_id))


@router.put("/{organiser_id}", response_model=CalendarOut, responses={
    200: {"description": "Stored as the next revision (one `calendar.changed.v1`), or the same calendar again",
          "model": CalendarOut}, **problem_responses(403, 409)})
async def put_calendar(organiser_id: OrganiserIdParam, body: CalendarIn, request: Request,
                       principal: Principal = authorize_write(Write.ORGANISER_SETTINGS)) -> CalendarOut:
    """Set the organiser's whole calendar. Forecasts already stored keep the late flag they were
    given; later ones are judged by the new calendar."""
    require_write(principal, Write.ORGANISER_SETTINGS, organiser_id)
    check_weeks_in_terms(body)  # in the order the request gave, before the calendar is put in its one order
    view = await calendar_service(request).set(organiser_id, body.calendar(), body.revision,
                                               principal.subject[:128])
    return _out(view)

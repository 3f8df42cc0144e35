"""Use cases of the forecast service, on the kit's one write path (`styrkedja_kit.writes`):
each call is one transaction (domain rows + outbox), all or nothing, every bad item named."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from datetime import datetime
from typing import Any
from uuid import UUID

from sqlalchemy.ext.asyncio import AsyncSession

from styrkedja_contracts import forecast_id_for
from styrkedja_contracts.events.calendar import ReportingCalendar
from styrkedja_contracts.events.forecast import ForecastSubmittedV1, ForecastWithdrawnV1, forecast_id_broken
from styrkedja_kit.auth import Principal, Write
from styrkedja_kit.db import Database
from styrkedja_kit.outbox import Outbox
from styrkedja_kit.rules import RuleViolation, check_items
from styrkedja_kit.writes import (
    Built,
    Change,
    Outcome,
    RequestItems,
    WritePath,
    answer_fields,
    encoded_batch_answer,
    event_data,
)

from ..calendar.rules import Lateness, calendar_of_config, check_window_in_years, forecast_lateness
from .rules import DEFAULT_WINDOWS, WindowConfig, check_value
from .schemas import ForecastIn, ForecastOut, WithdrawIn
from .tables import TABLES

SOURCE = "/styrkedja/forecast"

#: What a withdrawal event repeats of the withdrawn forecast.
WITHDRAWN_FIELDS = ("organiser_id", "school_unit_code", "group_id", "student_id", "subject_code", "school_year",
                    "term")
#: Columns of the current row taken from the request.
COLUMNS = ("organiser_id", "school_unit_code", "group_id", "student_id", "teacher_id", "subject_code", "year",
           "school_year", "term", "value")


_items = RequestItems(ForecastIn, "forecast_id")


def _derived_id(item: ForecastIn) -> UUID:
    return forecast_id_for(item.organiser_id, item.student_id, item.subject_code, item.school_year,
                           item.term.value)


def _check(item: ForecastIn) -> None:
    check_value(item.value)
    if item.forecast_id is not None:
        # the contracts' rule, which the event holds too (a forecast of another producer is refused alike)
        broken = forecast_id_broken(item.forecast_id, item.organiser_id, item.student_id, item.subject_code,
                                    item.school_year, item.term.value)
        if broken:
            raise RuleViolation(broken[0].field, broken[0].rule, broken[0].words)


#: An outcome as `ForecastOut`'s fields, the window's from the current row (a batch's answer: no model per item).
_out_item = answer_fields(TABLES, "late", "window_deadline")


def _out(outcome: Outcome) -> ForecastOut:
    # the write path's own values (no request text): constructed, not validated (FastAPI checks the response)
    return ForecastOut.model_construct(**_out_item(outcome))


#: The organisers' calendars (the defaults for those without one of their own).
Calendars = Callable[[Iterable[str]], Awaitable[Mapping[str, ReportingCalendar]]]
#: The same, read inside the write's transaction and held until it ends (`CalendarService.calendars_held`).
HeldCalendars = Callable[[AsyncSession, Iterable[str]], Awaitable[Mapping[str, ReportingCalendar]]]


class ForecastService:
    def __init__(self, db: Database, outbox: Outbox, principal: Principal,
                 windows: WindowConfig = DEFAULT_WINDOWS, *, max_batch_items: int = 1000,
                 calendars: Calendars | None = None, calendars_held: HeldCalendars | None = None,
                 checked_once: bool = True) -> None:
        self.checked_once = checked_once
        self.writes = WritePath(db, outbox, TABLES, source=SOURCE, max_batch_items=max_batch_items,
                                writer=(principal, Write.FORECASTS))
        self.windows = windows
        default = calendar_of_config(windows)

        async def defaults(organisers: Iterable[str]) -> Mapping[str, ReportingCalendar]:
            return dict.fromkeys(organisers, default)

        async def held_defaults(_: AsyncSession, organisers: Iterable[str]) -> Mapping[str, ReportingCalendar]:
            return dict.fromkeys(organisers, default)

        self.calendars = calendars or defaults
        self.calendars_held = calendars_held or held_defaults

    async def submit(self, items: Sequence[ForecastIn], *, batch: bool = False) -> list[ForecastOut]:
        """Store a new revision of each changed forecast and its event, all or nothing. First of all,
        every item's organiser must be one this token writes for (403 naming each one that is not)."""
        return [_out(o) for o in await self.store(items, batch=batch)]

    async def submit_batch(self, items: Sequence[ForecastIn]) -> tuple[int, bytes]:
        """`submit` of a batch: its status (201 when anything was stored, else 200) and its answer
        encoded as `BatchOut` (the write path's own values: ids, revisions, flags; not validated again)."""
        return encoded_batch_answer(await self.store(items, batch=True), _out_item)

    async def store(self, items: Sequence[ForecastIn], *, batch: bool = False) -> list[Outcome]:
        """What `submit` does, answered as the write path's outcomes."""
        self.writes.require_writer([item.organiser_id for item in items], batch=batch)
        # the late flag by each organiser's årshjul, the same rule reporting's compliance applies: read here for
        # the pure checks (every bad item named before any transaction), and again inside the write's (`held`)
        organisers = {item.organiser_id for item in items}
        checked_by = await self.calendars(organisers)
        calendars = dict(checked_by)
        periods: set[tuple[str, str, str]] = set()  # each organiser's period judged once (a batch shares a few)

        def check(item: ForecastIn) -> None:
            _check(item)
            period = (item.organiser_id, item.school_year, item.term.value)
            if period not in periods:
                check_window_in_years(item.school_year, item.term, calendars[item.organiser_id])
                periods.add(period)

        violations = check_items(items, check, batch=batch)
        changes = [Change(_derived_id(item), item.revision, content)
                   for item, content in zip(items, _items.contents(items), strict=True)]

        # a batch's forecasts share a few windows: each computed once per organiser, period and time
        windows: dict[tuple[str, str, str, datetime], Lateness] = {}

        async def held(session: AsyncSession, changes: Sequence[Change]) -> list[RuleViolation | None]:
            # The calendars the flag is judged by: those current as the forecasts commit (a change of one
            # committed after the read above would else give a flag of the calendar it replaced, while the
            # forecast's event follows that change's). A calendar changed meanwhile is checked again.
            calendars.update(await self.calendars_held(session, organisers))
            found: list[RuleViolation | None] = []
            judged: set[tuple[str, str, str]] = set()
            for index, change in enumerate(changes):
                content = change.content
                organiser = content["organiser_id"]
                period = (organiser, content["school_year"], content["term"])
                if calendars[organiser] == checked_by[organiser] or period in judged:
                    continue
                judged.add(period)
                try:
                    check_window_in_years(content["school_year"], content["term"], calendars[organiser])
                except RuleViolation as error:
                    found.append(error.at_item(index if batch else None))
            return found

        def built(change: Change, revision: int, now: datetime) -> Built:
            content = change.content
            period = (content["organiser_id"], content["school_year"], content["term"], now)
            window = windows.get(period)
            if window is None:
                window = windows[period] = forecast_lateness(content["school_year"], content["term"], now,
                                                             calendars[content["organiser_id"]])
            values = {"forecast_id": change.record_id, "revision": revision, "submitted_at": now,
                      "window_deadline": window.deadline, "late": window.late, **content}
            # checked once: `ForecastIn` holds every field rule of the event (the same types), `_check`
            # the value's scale; the id, revision, time and window are computed here. Else validated again.
            data = event_data(ForecastSubmittedV1, values, checked_once=self.checked_once)
            columns = {k: content[k] for k in COLUMNS}
            columns.update(submitted_at=now, window_deadline=window.deadline, late=window.late)
            return Built(data, columns=columns, revision_columns={"late": window.late})

        return await self.writes.publish(changes, built, batch=batch, violations=violations, stored_check=held)

    async def withdraw(self, forecast_id: UUID, request: WithdrawIn) -> ForecastOut:
        def built(row: Mapping[str, Any], revision: int, now: datetime) -> Built:
            content = row["content"]
            return Built(ForecastWithdrawnV1(forecast_id=forecast_id, revision=revision, withdrawn_at=now,
                                             **{k: content[k] for k in WITHDRAWN_FIELDS}),
                         revision_columns={"late": row["late"]})

        return _out(await self.writes.remove(forecast_id, request.revision, built))

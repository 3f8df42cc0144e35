"""Use cases of the reporting calendar: read an organiser's calendar (the defaults until it sets
its own), and set it — the calendar row, its revision and its `calendar.changed.v1` event in one
transaction (the outbox publishes it on `styrkedja.forecasts`, keyed by organiser, so reporting reads
every later forecast of the organiser after the calendar it was judged by)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from uuid import UUID, uuid5

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from styrkedja_contracts import new_event
from styrkedja_contracts.events.calendar import CalendarChangedV1, ReportingCalendar
from styrkedja_kit.db import Database
from styrkedja_kit.outbox import Outbox
from styrkedja_kit.rules import RuleViolation

from . import tables
from .rules import decide_set

SOURCE = "/styrkedja/forecast"
CALENDAR_NAMESPACE = UUID("8f1d3a52-6c2e-4b7a-9e41-2d5c7b8a9f10")


@dataclass(frozen=True)
class CalendarView:
    organiser_id: str
    revision: int  # 0: the defaults (the organiser has set none)
    calendar: ReportingCalendar
    status: str = "current"  # after a PUT: `stored` or `unchanged`


class CalendarService:
    def __init__(self, db: Database, outbox: Outbox, default: ReportingCalendar) -> None:
        self.db, self.outbox, self.default = db, outbox, default

    async def get(self, organiser_id: str) -> CalendarView:
        async with self.db.sessions() as session:
            stored = await tables.load(session, organiser_id)
        if stored is None:
            return CalendarView(organiser_id, 0, self.default)
        return CalendarView(organiser_id, stored.revision, stored.calendar)

    async def calendars(self, organiser_ids: Iterable[str]) -> dict[str, ReportingCalendar]:
        """Each organiser's calendar (the defaults for those without one): for the late flag."""
        ids = sorted(set(organiser_ids))
        async with self.db.sessions() as session:
            found = await tables.load_many(session, ids)
        return {o: found.get(o, self.default) for o in ids}

    async def calendars_held(self, session: AsyncSession, organiser_ids: Iterable[str]
                             ) -> dict[str, ReportingCalendar]:
        """`calendars` inside a write's transaction, locked (shared) until it ends: the late flag is judged by
        the calendar that is current when the forecast commits. A change of one waits for the write, and a
        write for a change under way (then reads the new calendar): never a flag of a calendar replaced
        meanwhile, whose forecast's event would follow the `calendar.changed.v1` that replaced it."""
        ids = sorted(set(organiser_ids))
        await tables.hold(session, ids, shared=True)
        found = await tables.load_many(session, ids)
        return {o: found.get(o, self.default) for o in ids}

    async def set(self, organiser_id: str, calendar: ReportingCalendar, requested_revision: int | None,
                  changed_by: str | None) -> CalendarView:
        for attempt in (1, 2):
            try:
                return await self._set_once(organiser_id, calendar, requested_revision, changed_by)
            except IntegrityError:
                # a parallel first PUT of the same organiser stored revision 1 first: decide again over it
                if attempt == 2:
                    raise RuleViolation("revision", "concurrent_change",
                                        "the calendar was changed at the same time; read it and try again",
                                        status=409) from None
        raise AssertionError("unreachable")

    async def _set_once(self, organiser_id: str, calendar: ReportingCalendar, requested_revision: int | None,
                        changed_by: str | None) -> CalendarView:
        now = datetime.now(UTC)
        async with self.db.sessions.begin() as session:
            # after the forecasts being judged by the current calendar (`calendars_held`), before any later one
            await tables.hold(session, [organiser_id], shared=False)
            current = await tables.load(session, organiser_id, lock=True)
            decision = decide_set(current, calendar, requested_revision)
            if not decision.store:
                return CalendarView(organiser_id, decision.revision, calendar, "unchanged")
            data = CalendarChangedV1(organiser_id=organiser_id, revision=decision.revision, calendar=calendar,
                                     changed_at=now)
            # deterministic per organiser and revision: a retried transaction is the same event
            event = new_event(data, source=SOURCE, subject=organiser_id, time=now,
                              event_id=uuid5(CALENDAR_NAMESPACE, f"{organiser_id}|{decision.revision}"))
            await tables.save(session, organiser_id, decision.revision, calendar, event.id, now, changed_by)
            await self.outbox.add(session, [event])
        return CalendarView(organiser_id, decision.revision, calendar, "stored")

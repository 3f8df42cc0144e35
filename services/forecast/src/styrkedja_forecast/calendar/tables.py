"""Tables and queries of the reporting calendar: the current calendar per organiser and every
revision ever set (the audit trail). Routes never talk SQL: they call `service.py`, which calls these."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from uuid import UUID

from sqlalchemy import Column, DateTime, Integer, String, Table, Uuid, func, select
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncSession

from styrkedja_contracts.events.calendar import ReportingCalendar
from styrkedja_kit.db import advisory_locks
from styrkedja_kit.sets import any_of

from ..metadata import metadata
from .rules import StoredCalendar, stored_calendar

organiser_calendars = Table(
    "organiser_calendars", metadata,
    Column("organiser_id", String(16), primary_key=True),
    Column("revision", Integer, nullable=False),
    Column("calendar", JSONB, nullable=False),
    Column("changed_at", DateTime(timezone=True), nullable=False),
    Column("changed_by", String(128), nullable=True),  # pseudonymous subject of the token, never a name
)

organiser_calendar_revisions = Table(
    "organiser_calendar_revisions", metadata,
    Column("organiser_id", String(16), primary_key=True),
    Column("revision", Integer, primary_key=True),
    Column("event_id", Uuid, nullable=False),
    Column("calendar", JSONB, nullable=False),
    Column("changed_by", String(128), nullable=True),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
)


#: The first key of the organisers' calendar locks (`hold`): pg_advisory_xact_lock(int4, int4), its own class of keys.
CALENDAR_LOCK_CLASS = 0x43414C31  # "CAL1"


async def hold(session: AsyncSession, organiser_ids: Iterable[str], *, shared: bool) -> None:
    """Lock these organisers' calendars until the transaction ends: shared by a write that judges by them
    (writes do not wait for each other), exclusive by a change of one. An advisory lock, not the row's: an
    organiser still on the defaults has no row to lock, and its first calendar must wait all the same."""
    await advisory_locks(session, CALENDAR_LOCK_CLASS, organiser_ids, shared=shared)


async def load(session: AsyncSession, organiser_id: str, *, lock: bool = False) -> StoredCalendar | None:
    query = select(organiser_calendars.c.revision, organiser_calendars.c.calendar).where(
        organiser_calendars.c.organiser_id == organiser_id)
    if lock:
        query = query.with_for_update()
    row = (await session.execute(query)).one_or_none()
    return None if row is None else StoredCalendar(row.revision, *stored_calendar(row.calendar))


async def load_many(session: AsyncSession, organiser_ids: Iterable[str]) -> dict[str, ReportingCalendar]:
    ids = sorted(set(organiser_ids))
    if not ids:
        return {}
    c = organiser_calendars.c
    rows = (await session.execute(select(c.organiser_id, c.calendar).where(any_of(c.organiser_id, ids)))).all()
    return {r.organiser_id: stored_calendar(r.calendar)[0] for r in rows}


async def save(session: AsyncSession, organiser_id: str, revision: int, calendar: ReportingCalendar,
               event_id: UUID, changed_at: datetime, changed_by: str | None) -> None:
    body = calendar.model_dump(mode="json")
    stmt = pg_insert(organiser_calendars).values(organiser_id=organiser_id, revision=revision, calendar=body,
                                                 changed_at=changed_at, changed_by=changed_by)
    await session.execute(stmt.on_conflict_do_update(
        index_elements=["organiser_id"], set_={"revision": revision, "calendar": body, "changed_at": changed_at,
                                               "changed_by": changed_by}))
    await session.execute(organiser_calendar_revisions.insert().values(
        organiser_id=organiser_id, revision=revision, event_id=event_id, calendar=body, changed_by=changed_by))

"""All SQL of the forecast service."""

from __future__ import annotations

from collections.abc import Iterable
from uuid import UUID

from sqlalchemy import (
    Boolean,
    Column,
    Date,
    DateTime,
    Index,
    Integer,
    MetaData,
    SmallInteger,
    String,
    Table,
    Uuid,
    func,
    select,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncSession

from styrkedja_kit.app import define_kit_tables

from .domain import Current

metadata = MetaData()
define_kit_tables(metadata, outbox=True)

#: The current (newest) revision of each forecast. `forecast_id` is derived from organiser + student +
#: subject + school year + term, so there is one row per student, subject and term by construction.
forecasts = Table(
    "forecasts", metadata,
    Column("forecast_id", Uuid, primary_key=True),
    Column("revision", Integer, nullable=False),
    Column("withdrawn", Boolean, nullable=False, default=False),
    Column("organiser_id", String(16), nullable=False),
    Column("school_unit_code", String(8), nullable=False),
    Column("group_id", String(64), nullable=False),
    Column("student_id", String(64), nullable=False),
    Column("teacher_id", String(64), nullable=False),
    Column("subject_code", String(16), nullable=False),
    Column("year", SmallInteger, nullable=False),
    Column("school_year", String(7), nullable=False),
    Column("term", String(2), nullable=False),
    Column("value", String(32), nullable=False),
    Column("submitted_at", DateTime(timezone=True), nullable=False),
    Column("window_deadline", Date, nullable=False),
    Column("late", Boolean, nullable=False),
    Column("content", JSONB, nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    # who has (not) reported in a window: per organiser, period and school unit
    Index("ix_forecasts_period", "organiser_id", "school_year", "term", "school_unit_code"),
)

#: Every revision ever stored (the audit trail); only the newest counts.
forecast_revisions = Table(
    "forecast_revisions", metadata,
    Column("forecast_id", Uuid, primary_key=True),
    Column("revision", Integer, primary_key=True),
    Column("event_id", Uuid, nullable=False),
    Column("withdrawal", Boolean, nullable=False),
    Column("late", Boolean, nullable=False),
    Column("content", JSONB, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
)


class ForecastRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def current(self, ids: Iterable[UUID]) -> dict[UUID, Current]:
        """The stored forecasts, locked for this transaction."""
        ids = sorted(set(ids))  # one lock order for every request: no deadlocks between batches
        if not ids:
            return {}
        f = forecasts.c
        rows = (await self.session.execute(
            select(f.forecast_id, f.revision, f.withdrawn, f.content, f.late, f.window_deadline)
            .where(f.forecast_id.in_(ids)).order_by(f.forecast_id).with_for_update())).all()
        return {r.forecast_id: Current(r.revision, r.withdrawn, r.content, r.late, r.window_deadline)
                for r in rows}

    async def save(self, rows: list[dict], revisions: list[dict]) -> None:
        if not rows:
            return
        # executemany of one cached statement: compiling a many-row VALUES list costs more than running it
        stmt = pg_insert(forecasts)
        await self.session.execute(stmt.on_conflict_do_update(
            index_elements=["forecast_id"],
            set_={c: stmt.excluded[c] for c in rows[0] if c != "forecast_id"} | {"updated_at": func.now()}), rows)
        await self.session.execute(forecast_revisions.insert(), revisions)

    async def mark_withdrawn(self, forecast_id: UUID, revision: int, revision_row: dict) -> None:
        await self.session.execute(
            forecasts.update().where(forecasts.c.forecast_id == forecast_id)
            .values(revision=revision, withdrawn=True, updated_at=func.now()))
        await self.session.execute(forecast_revisions.insert(), [revision_row])

"""The newest published LIKA self-assessment per school unit."""

from __future__ import annotations

from sqlalchemy import Column, DateTime, String, Table, Uuid, select, tuple_
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncSession

from ..metadata import metadata

lika_latest = Table(
    "lika_latest", metadata,
    Column("school_unit_code", String(8), primary_key=True),
    Column("organiser_id", String(16), nullable=False, index=True),
    Column("self_assessment_id", Uuid, nullable=False),
    Column("school_form", String(20), nullable=False), Column("respondent_role", String(20), nullable=False),
    Column("catalogue_version", String(32), nullable=False),
    Column("published_at", DateTime(timezone=True), nullable=False),
    Column("ratings", JSONB, nullable=False),
)


async def save_lika(session: AsyncSession, rows: list[dict]) -> None:
    """Keep the newest published self-assessment per school unit (one statement per batch)."""
    newest: dict[str, dict] = {}
    for row in rows:
        held = newest.get(row["school_unit_code"])
        if held is None or (row["published_at"], str(row["self_assessment_id"])) > (
                held["published_at"], str(held["self_assessment_id"])):
            newest[row["school_unit_code"]] = row
    if not newest:
        return
    stmt = pg_insert(lika_latest).values([newest[k] for k in sorted(newest)])
    await session.execute(stmt.on_conflict_do_update(
        index_elements=["school_unit_code"],
        set_={c.name: stmt.excluded[c.name] for c in lika_latest.columns if c.name != "school_unit_code"},
        where=tuple_(stmt.excluded.published_at, stmt.excluded.self_assessment_id)
        > tuple_(lika_latest.c.published_at, lika_latest.c.self_assessment_id)))


async def read_lika(session: AsyncSession, organiser_id: str | None, school_unit_code: str | None) -> list:
    query = select(lika_latest).order_by(lika_latest.c.school_unit_code)
    if organiser_id:
        query = query.where(lika_latest.c.organiser_id == organiser_id)
    if school_unit_code:
        query = query.where(lika_latest.c.school_unit_code == school_unit_code)
    return list((await session.execute(query)).all())

"""SQL of self-assessments and their ratings."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any
from uuid import UUID

from sqlalchemy import delete, func, select, tuple_, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncSession

from styrkedja_kit.sets import any_of

from .tables import self_assessment_ratings, self_assessments

#: The columns that make up what an imported (published elsewhere) self-assessment holds.
IMPORT_COLUMNS = ("organiser_id", "school_unit_code", "school_form", "respondent_role", "catalogue_version",
                  "ratings")


async def insert_new(session: AsyncSession, row: Mapping[str, Any]) -> bool:
    """Insert unless the id is taken (then waits for a concurrent writer); True if inserted."""
    stmt = (pg_insert(self_assessments).values(**row)
            .on_conflict_do_nothing(index_elements=["self_assessment_id"])
            .returning(self_assessments.c.self_assessment_id))
    return (await session.execute(stmt)).first() is not None


async def one(session: AsyncSession, self_assessment_id: UUID, *, lock: bool = False) -> dict[str, Any] | None:
    query = select(self_assessments).where(self_assessments.c.self_assessment_id == self_assessment_id)
    if lock:
        query = query.with_for_update()
    row = (await session.execute(query)).first()
    return dict(row._mapping) if row else None


async def many(session: AsyncSession, ids: Sequence[UUID]) -> dict[UUID, dict[str, Any]]:
    rows = (await session.execute(select(self_assessments)
                                  .where(any_of(self_assessments.c.self_assessment_id, ids)))).all()
    return {r.self_assessment_id: dict(r._mapping) for r in rows}


async def position_in_unit(session: AsyncSession, organiser_id: str, school_unit_code: str,
                           self_assessment_id: UUID) -> tuple[datetime, UUID] | None:
    """Where a self-assessment of this unit stands in its list (`created_at`, id), or None: not one of the unit's."""
    t = self_assessments.c
    row = (await session.execute(select(t.created_at, t.self_assessment_id).where(
        t.self_assessment_id == self_assessment_id, t.organiser_id == organiser_id,
        t.school_unit_code == school_unit_code))).first()
    return (row.created_at, row.self_assessment_id) if row else None


async def of_unit(session: AsyncSession, organiser_id: str, school_unit_code: str, *,
                  school_form: str | None, statuses: Sequence[str], after: tuple[datetime, UUID] | None,
                  limit: int) -> list[dict[str, Any]]:
    """At most `limit` of the unit's self-assessments in list order (`created_at`, id), those after `after`."""
    t = self_assessments.c
    query = (select(self_assessments)
             .where(t.organiser_id == organiser_id, t.school_unit_code == school_unit_code, t.status.in_(statuses))
             .order_by(t.created_at, t.self_assessment_id).limit(limit))
    if school_form is not None:
        query = query.where(t.school_form == school_form)
    if after is not None:
        query = query.where(tuple_(t.created_at, t.self_assessment_id) > tuple_(*after))
    return [dict(r._mapping) for r in (await session.execute(query)).all()]


async def rated_counts(session: AsyncSession, ids: Sequence[UUID]) -> dict[UUID, int]:
    """How many indicators each of these tool-made self-assessments has rated, in one query (a list of a
    page's drafts asked one query per draft: 5,000 drafts took 2.3 s)."""
    if not ids:
        return {}
    t = self_assessment_ratings.c
    rows = (await session.execute(select(t.self_assessment_id, func.count())
                                  .where(any_of(t.self_assessment_id, ids)).group_by(t.self_assessment_id))).all()
    return {r[0]: r[1] for r in rows}


async def ratings(session: AsyncSession, self_assessment_id: UUID) -> dict[str, tuple[str, str | None]]:
    """`{indicator_id: (rating, comment)}` of a tool-made self-assessment."""
    t = self_assessment_ratings.c
    rows = (await session.execute(select(t.indicator_id, t.rating, t.comment)
                                  .where(t.self_assessment_id == self_assessment_id))).all()
    return {r.indicator_id: (r.rating, r.comment) for r in rows}


async def save_ratings(session: AsyncSession, self_assessment_id: UUID, entries: Sequence[Mapping[str, Any]],
                       now: datetime) -> None:
    stmt = pg_insert(self_assessment_ratings).values(
        [{"self_assessment_id": self_assessment_id, "indicator_id": e["indicator_id"], "rating": e["rating"],
          "comment": e.get("comment"), "updated_at": now} for e in entries])
    await session.execute(stmt.on_conflict_do_update(
        index_elements=["self_assessment_id", "indicator_id"],
        set_={"rating": stmt.excluded.rating, "comment": stmt.excluded.comment, "updated_at": now}))
    await touch(session, self_assessment_id, now)


async def delete_rating(session: AsyncSession, self_assessment_id: UUID, indicator_id: str, now: datetime) -> bool:
    t = self_assessment_ratings.c
    result = await session.execute(delete(self_assessment_ratings)
                                   .where(t.self_assessment_id == self_assessment_id, t.indicator_id == indicator_id)
                                   .returning(t.indicator_id))
    await touch(session, self_assessment_id, now)
    return result.first() is not None


async def touch(session: AsyncSession, self_assessment_id: UUID, now: datetime) -> None:
    await set_columns(session, self_assessment_id, {"updated_at": now})


async def set_columns(session: AsyncSession, self_assessment_id: UUID, values: Mapping[str, Any]) -> None:
    await session.execute(update(self_assessments)
                          .where(self_assessments.c.self_assessment_id == self_assessment_id).values(**values))

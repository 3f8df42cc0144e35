"""SQL of action plans."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any
from uuid import UUID

from sqlalchemy import insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from .tables import action_plan_items, action_plans


async def insert_plan(session: AsyncSession, self_assessment_id: UUID, start_term: str,
                      items: Sequence[Mapping[str, Any]], now: datetime) -> None:
    await session.execute(insert(action_plans).values(self_assessment_id=self_assessment_id, start_term=start_term,
                                                      revision=1, generated_at=now, updated_at=now))
    if items:
        await session.execute(insert(action_plan_items),
                              [{"self_assessment_id": self_assessment_id, "updated_at": now, **i} for i in items])


async def plan(session: AsyncSession, self_assessment_id: UUID, *, lock: bool = False) -> dict[str, Any] | None:
    query = select(action_plans).where(action_plans.c.self_assessment_id == self_assessment_id)
    if lock:
        query = query.with_for_update()
    row = (await session.execute(query)).first()
    return dict(row._mapping) if row else None


async def items(session: AsyncSession, self_assessment_id: UUID) -> list[dict[str, Any]]:
    rows = (await session.execute(select(action_plan_items)
                                  .where(action_plan_items.c.self_assessment_id == self_assessment_id)
                                  .order_by(action_plan_items.c.position))).all()
    return [dict(r._mapping) for r in rows]


async def update_item(session: AsyncSession, self_assessment_id: UUID, activity_id: str,
                      changes: Mapping[str, Any], now: datetime) -> None:
    t = action_plan_items.c
    await session.execute(update(action_plan_items)
                          .where(t.self_assessment_id == self_assessment_id, t.activity_id == activity_id)
                          .values(**changes, updated_at=now))


async def next_revision(session: AsyncSession, self_assessment_id: UUID, now: datetime) -> int:
    return int((await session.execute(update(action_plans)
                                  .where(action_plans.c.self_assessment_id == self_assessment_id)
                                  .values(revision=action_plans.c.revision + 1, updated_at=now)
                                  .returning(action_plans.c.revision))).scalar_one())

"""Queries of the directory read API (the writes keep theirs in `writes.py`, the handlers in `handlers.py`)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import Row, select
from sqlalchemy.ext.asyncio import AsyncSession

from .tables import units


async def units_of(session: AsyncSession, organiser_id: str) -> Sequence[Row[Any]]:
    """Every live unit of the organiser, in the order the tree is built from."""
    c = units.c
    return (await session.execute(select(units).where(c.organiser_id == organiser_id, ~c.removed).order_by(
        c.unit_type, c.scope, c.unit_id))).all()

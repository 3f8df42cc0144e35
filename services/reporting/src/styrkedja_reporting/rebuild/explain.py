"""The rebuild's set statements run as `EXPLAIN (ANALYZE, BUFFERS)` when STYRKEDJA_REBUILD_EXPLAIN names a file (a
bench setting: the statements do their work all the same, their plans and times are written there at the end)."""

from __future__ import annotations

import asyncio
import os
from pathlib import Path
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

#: the plans of this process's rebuild, in the order its statements ended (they run on several connections)
_PLANS: list[str] = []


async def execute(session: AsyncSession, label: str, sql: str, params: dict[str, Any] | None = None) -> None:
    """`sql` executed; with STYRKEDJA_REBUILD_EXPLAIN set, under EXPLAIN ANALYZE, its plan kept under `label`."""
    if not os.environ.get("STYRKEDJA_REBUILD_EXPLAIN"):
        await session.execute(text(sql), params or {})
        return
    plan = (await session.execute(text(f"EXPLAIN (ANALYZE, BUFFERS) {sql}"), params or {})).scalars().all()
    _PLANS.extend([f"-- {label}", *plan, ""])


async def write_plans() -> None:
    path = os.environ.get("STYRKEDJA_REBUILD_EXPLAIN")
    plans = _PLANS[:]
    _PLANS.clear()
    if path and plans:
        await asyncio.to_thread(Path(path).write_text, "\n".join(plans))

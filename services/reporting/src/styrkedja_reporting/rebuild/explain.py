"""The rebuild's set statements run as `EXPLAIN (ANALYZE, BUFFERS)` when STYRKEDJA_REBUILD_EXPLAIN names a file (a
bench setting, `RebuildSettings.rebuild_explain`, handed here by the `Rebuilder`: the statements do their work all the
same, their plans and times are written there at the end)."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

#: the plans of this process's rebuild, in the order its statements ended (they run on several connections)
_PLANS: list[str] = []
#: the file this process's rebuild writes its plans to (none: its statements run as they are)
_TARGET: list[Path] = []


def plans_to(path: Path | None) -> None:
    """The rebuild about to start explains its statements into `path` (None: not)."""
    _TARGET[:] = [path] if path is not None else []


async def execute(session: AsyncSession, label: str, sql: str, params: dict[str, Any] | None = None) -> None:
    """`sql` executed; with STYRKEDJA_REBUILD_EXPLAIN set, under EXPLAIN ANALYZE, its plan kept under `label`."""
    if not _TARGET:
        await session.execute(text(sql), params or {})
        return
    plan = (await session.execute(text(f"EXPLAIN (ANALYZE, BUFFERS) {sql}"), params or {})).scalars().all()
    _PLANS.extend([f"-- {label}", *plan, ""])


async def write_plans() -> None:
    plans = _PLANS[:]
    _PLANS.clear()
    if _TARGET and plans:
        await asyncio.to_thread(_TARGET[0].write_text, "\n".join(plans))

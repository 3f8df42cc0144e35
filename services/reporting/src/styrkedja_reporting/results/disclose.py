"""What the results read path needs for disclosure besides the decision itself: the slice a
results cell is keyed by and the state version the decisions are kept by.

The decision is `access.decision` (one per cell, whichever endpoint shows it): per school year and
subject, over every level of the tree (group → school unit → area → organiser → nation), every
organiser, every gender × year marginal, round, kind and scale of the results — and the figure
tables built from the same results, tied to them by the equations that hold in the data. The
request's own filters, splits and scope never change it, so two requests (or two endpoints) that
show the same cell withhold it the same way.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from ..freshness import OUTSIDE_BATCHES
from ..registry import freshness

ALL = "*"
SLICE = {"assessments": ("subject_code", "school_year", "term", "round", "kind", "scale"),
         "forecasts": ("subject_code", "school_year", "term")}


async def state_version(session: AsyncSession) -> tuple[Any, ...]:
    """Changes with every applied batch: each writes its topic's `applied_at` (the transaction's
    start) in the transaction that changes the aggregates (`registry._note_freshness`), the
    directory's batches too."""
    # the changes made outside batches (alerts acknowledged or swept) move no disclosure decision
    rows = await session.execute(text(f"SELECT topic, applied_at FROM {freshness.name} WHERE topic <> :outside "
                                      "ORDER BY topic, partition"), {"outside": OUTSIDE_BATCHES})
    return tuple(tuple(r) for r in rows.all())

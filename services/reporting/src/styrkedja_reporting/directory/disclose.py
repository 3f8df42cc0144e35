"""Disclosure of the roster sizes (students on the rosters on a day, per unit): one decision per
organiser and day over its school units, areas and the organiser itself at once
(`access.decision.counts_decision`), so the directory's roster sizes and the figures' coverage
(`roster_size`) withhold the same sizes, at every level, in every format.

A size of 1 to N-1 students at a level the reader's role suppresses is withheld, and so is enough
else that it cannot be worked out from what the same reader class sees: the sizes of its siblings,
its parent (the level above) and its children (the level below). A parent is a cell of its own:
where no sibling can hide a small size (an only child), the parent is withheld too. No nation total
of the rosters is shown anywhere, so each organiser's tree is a decision of its own. The group level
is left out (`COUNT_LEVELS`): whoever reads groups sees their school units exactly. A student on two
groups of one unit counts once there (the unit is then not the sum of its groups: no equation is
kept for it)."""

from __future__ import annotations

from collections.abc import Hashable
from datetime import date

from sqlalchemy.ext.asyncio import AsyncSession

from styrkedja_kit.auth import Level

from ..access.complement import TOTAL, TreeDecision
from ..access.decision import ComponentRows, counts_decision
from ..access.disclosure import DisclosureRules
from .rosters import roster_sizes_on

#: The levels of one organiser's roster decision (the materialised sizes have no nation level).
ROSTER_LEVELS = ("school_unit", "area", "organiser")


def roster_slice(on: date) -> tuple[str, str]:
    return ("roster", on.isoformat())


async def roster_decision(session: AsyncSession, organiser_id: str, on: date, suppressed: frozenset[Level],
                          rules: DisclosureRules, version: Hashable | None = None) -> TreeDecision:
    """The one decision on the organiser's roster sizes on `on` (kept per state version)."""

    async def rows_of(s: AsyncSession) -> ComponentRows:
        rows = ComponentRows()
        for level in ROSTER_LEVELS:
            for unit, n in (await roster_sizes_on(s, level, organiser_id, on)).items():
                if n > 0:
                    rows.add(roster_slice(on), level, organiser_id, unit, TOTAL, n)
        return rows

    return await counts_decision(session, ("roster", organiser_id, on), rows_of, suppressed, rules, version)


async def roster_withheld(session: AsyncSession, level: str, organiser_id: str | None, units: list[str], on: date,
                          suppressed: frozenset[Level], rules: DisclosureRules) -> set[str]:
    """The units of `level` (of the organiser; at organiser level the units are organisers) whose roster
    size the reader may not see. A level the reader sees exactly: none. An area or school unit named
    without its organiser: withheld (its organiser's decision is unknown)."""
    from ..results.disclose import state_version  # the state version lives with the results read path

    if level not in ROSTER_LEVELS or Level[level.upper()] not in suppressed or not units:
        return set()
    version = await state_version(session)  # one read for every unit's lookup
    hidden: set[str] = set()
    for unit in units:
        owner = unit if level == "organiser" else organiser_id
        if owner is None or (await roster_decision(session, owner, on, suppressed, rules, version)).withheld(
                roster_slice(on), level, unit):
            hidden.add(unit)
    return hidden

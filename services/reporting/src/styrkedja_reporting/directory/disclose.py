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

from collections.abc import Hashable, Iterable
from datetime import date

from sqlalchemy.ext.asyncio import AsyncSession

from styrkedja_kit.auth import Level, Principal

from ..access.complement import TOTAL, TreeDecision
from ..access.decision import (
    ComponentRows,
    decide_counts_off_loop,
    keep_counts_decision,
    kept_counts_decision,
    undecided,
)
from ..access.disclosure import DisclosureRules, round_count, suppressed_levels
from ..access.scope import placements_of
from .rosters import roster_sizes_of

#: The levels of one organiser's roster decision (the materialised sizes have no nation level).
ROSTER_LEVELS = ("school_unit", "area", "organiser")


def roster_slice(on: date) -> tuple[str, str]:
    return ("roster", on.isoformat())


async def roster_decisions(session: AsyncSession, organisers: Iterable[str], on: date, suppressed: frozenset[Level],
                           rules: DisclosureRules, version: Hashable) -> dict[str, TreeDecision]:
    """The one decision on each organiser's roster sizes on `on` (kept per state version): those not
    kept yet read in one lookup and one placement read together, however many organisers a read
    names (the public's coverage of every organiser)."""
    wanted = sorted(set(organisers))
    out: dict[str, TreeDecision] = {}
    for organiser_id in wanted:
        found = kept_counts_decision(_key(organiser_id, on), suppressed, rules, version)
        if found is not None:
            out[organiser_id] = found
    missing = [o for o in wanted if o not in out]
    if not missing:
        return out
    sizes = await roster_sizes_of(session, missing, ROSTER_LEVELS, on)
    placed = await placements_of(session, {unit for (_, level, unit) in sizes if level == "school_unit"})
    per_organiser: dict[str, ComponentRows] = {o: ComponentRows() for o in missing}
    for (organiser_id, level, unit), n in sorted(sizes.items()):
        if n > 0:
            per_organiser[organiser_id].add(roster_slice(on), level, organiser_id, unit, TOTAL, n)
    for organiser_id, rows in per_organiser.items():
        out[organiser_id] = keep_counts_decision(_key(organiser_id, on), suppressed, rules, version,
                                                 await decide_counts_off_loop(rows, placed, suppressed, rules))
    return out


def _key(organiser_id: str, on: date) -> Hashable:
    return ("roster", organiser_id, on)


async def roster_decision(session: AsyncSession, organiser_id: str, on: date, suppressed: frozenset[Level],
                          rules: DisclosureRules, version: Hashable | None = None) -> TreeDecision:
    """The one decision on the organiser's roster sizes on `on` (kept per state version)."""
    from ..results.disclose import state_version  # the state version lives with the results read path

    version = version if version is not None else await state_version(session)
    return (await roster_decisions(session, [organiser_id], on, suppressed, rules, version))[organiser_id]


async def roster_withheld(session: AsyncSession, level: str, organiser_id: str | None, units: list[str], on: date,
                          suppressed: frozenset[Level], rules: DisclosureRules) -> set[str]:
    """The units of `level` (of the organiser; at organiser level the units are organisers) whose roster
    size the reader may not see. A level the reader sees exactly: none. An area or school unit named
    without its organiser: withheld (its organiser's decision is unknown)."""
    from ..results.disclose import state_version  # the state version lives with the results read path

    if undecided(level, suppressed, ROSTER_LEVELS):  # suppressed, but no decision holds the level (the groups of a
        return set(units)  # politician who is also their teacher, round 26c): every size withheld
    if level not in ROSTER_LEVELS or Level[level.upper()] not in suppressed or not units:
        return set()
    owners = {unit: unit if level == "organiser" else organiser_id for unit in units}
    decisions = await roster_decisions(session, {o for o in owners.values() if o is not None}, on, suppressed,
                                       rules, await state_version(session))
    return {unit for unit, owner in owners.items()
            if owner is None or decisions[owner].withheld(roster_slice(on), level, unit)}


def size_shown(students: int, withheld: bool, level: Level, principal: Principal, rules: DisclosureRules) -> int | None:
    """Pure: a roster size as the reader is shown it: None where withheld (`roster_withheld`); where the deployment
    rounds counts, rounded at a level suppressed for the reader, as every other count (round 24a)."""
    if withheld:
        return None
    return round_count(students, rules.round_counts_to if level in suppressed_levels(principal) else None)

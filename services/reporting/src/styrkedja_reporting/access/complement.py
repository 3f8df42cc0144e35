"""Complementary suppression of the figure, support and roster tables: the one place that turns a
table's rows (each with the number of students its figures rest on, per gender where the table
knows it) and their parents' totals into the decision of `disclosure.disclose`.

The model, per *slice* (a figure family and what a row is keyed by besides its unit: subject,
year, period…):

- a row is a cell `(slice, unit, "*")`, its gender parts `(slice, unit, "female"|"male"|"unknown")`;
- a row's total = the sum of its gender parts (the `unknown` part is never shown itself; one of N
  or more students may be computable from total, girls and boys: an `exact` cell; a smaller one is
  withheld like any small cell, so total − boys never gives the girls away);
- a parent's total (per gender) = the sum of its children's: the parent is shown in another view
  (the level above, or the drill-down's head), so it is an `exact` cell too, never a complement —
  unless it rests on fewer than N students itself (then its own view withholds it at a suppressed
  level: a primary cell here).

`protect_rows` decides per table over every sibling of a row's parent (support tables, roster
sizes). `protect_tree` is the figures' and results' model (`access.decision`): every level of a
slice at once, each parent a cell of its own, plus the equations that tie two tables together.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Hashable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from styrkedja_kit.auth import Level

from ..directory.tables import units
from ..exports.table import Withheld
from ..results.rules import GROUP_SEPARATOR
from .disclosure import Cell, Disclosure, DisclosureRules, Key, Partition, Reason, disclose
from .scope import placements_of

TOTAL = "*"
GENDERS = ("female", "male", "unknown")
NATION_ID = "SE"
PARENT_LEVEL = {"group": "school_unit", "school_unit": "area", "area": "organiser", "organiser": "nation"}


@dataclass(frozen=True)
class Counted:
    """One row of a table: the students its figures rest on (`"*"`, and per gender if known)."""

    slice: Hashable
    level: Level
    unit: str
    parent: Hashable | None  # the parent unit whose total is shown elsewhere; None: no parent total
    counts: Mapping[str, int]


def cell_key(slice_: Hashable, unit: str, gender: str = TOTAL) -> Key:
    return (slice_, unit, gender)


def protect_rows(rows: Iterable[Counted], *, suppressed: Iterable[Level],
                 rules: DisclosureRules | None = None) -> Disclosure:
    """Which rows (and gender parts) a reader with these suppressed levels may not see."""
    rules = rules or DisclosureRules()
    cells: dict[Key, Cell] = {}
    exact: set[Key] = set()
    partitions: list[Partition] = []
    siblings: dict[tuple[Hashable, Hashable], list[Counted]] = defaultdict(list)
    for row in rows:
        for gender, n in row.counts.items():
            cells[cell_key(row.slice, row.unit, gender)] = Cell(row.level, n)
        parts = [g for g in GENDERS if row.counts.get(g, 0) > 0]
        if parts and sum(row.counts[g] for g in parts) == row.counts.get(TOTAL):
            if row.counts.get("unknown", 0) >= rules.min_students:  # computable: total − girls − boys
                exact.add(cell_key(row.slice, row.unit, "unknown"))
            partitions.append(Partition(cell_key(row.slice, row.unit), tuple(cell_key(row.slice, row.unit, g)
                                                                              for g in parts)))
        if row.parent is not None:
            siblings[(row.slice, row.parent)].append(row)
    for (slice_, parent), kids in siblings.items():
        for gender in sorted({g for k in kids for g in k.counts}):
            members = [k for k in kids if k.counts.get(gender, 0) > 0]
            total = sum(k.counts[gender] for k in members)
            if not total:
                continue
            key = (slice_, ("parent", parent), gender)
            level = members[0].level
            cells[key] = Cell(Level[PARENT_LEVEL.get(level.name.lower(), level.name.lower()).upper()], total)
            if total >= rules.min_students:  # else its own view withholds it (and may not: then it is shown)
                exact.add(key)
            partitions.append(Partition(key, tuple(cell_key(slice_, k.unit, gender) for k in members)))
    shown: Mapping[Hashable, Cell] = cells
    return disclose(shown, partitions, suppressed=suppressed, rules=rules, exact=exact)


def is_withheld(decision: Disclosure | None, slice_: Hashable, unit: str, gender: str = TOTAL) -> bool:
    return decision is not None and decision.reason(cell_key(slice_, unit, gender)) \
        is Reason.OMITTED_DUE_TO_BASED_ON_FEW_PUPILS


def shown(withheld: bool, *values: object) -> tuple[object, ...]:
    """The values, or `Withheld` for each (`..` in CSV/xlsx, null plus the reason in JSON)."""
    return tuple(Withheld() for _ in values) if withheld else values


async def parents_of(session: AsyncSession, level: str, unit_ids: Iterable[str]) -> dict[str, Hashable | None]:
    """Each unit's parent (whose total the level above shows): a group's school unit, a school
    unit's area (one placed in no area: its organiser's units without an area, a pseudo parent whose
    total is the organiser's minus its areas'), an area's organiser, an organiser's nation."""
    wanted = sorted(set(unit_ids))
    if level == "group":
        return {u: u.split(GROUP_SEPARATOR, 1)[0] for u in wanted}
    if level == "organiser":
        return dict.fromkeys(wanted, NATION_ID)
    if level == "school_unit":
        placed = await placements_of(session, wanted)
        return {u: (placed[u][1] or ("no-area", placed[u][0])) if u in placed else ("no-area", None)
                for u in wanted}
    if level == "area":
        u = units.c
        found = dict((await session.execute(select(u.unit_id, u.organiser_id).where(
            u.unit_type == "area", u.unit_id.in_(wanted)))).all()) if wanted else {}
        return {a: found.get(a, ("unknown-organiser", a)) for a in wanted}
    return dict.fromkeys(wanted)


# ------------------------------------------------------------------ one decision per cell, every level at once

LEVELS_UP = ("group", "school_unit", "area", "organiser", "nation")
TreeUnit = tuple[str, Hashable]  # (level, unit): an area's unit is (organiser, area id), area ids are the organiser's


@dataclass(frozen=True)
class TreeRow:
    """One unit of one slice, at any level: the students its figures rest on (`"*"` and per gender
    where known) and its parent unit (None: none whose total adds up, e.g. the nation)."""

    slice: Hashable
    unit: TreeUnit
    parent: TreeUnit | None
    counts: Mapping[str, int]
    failing: Mapping[str, int] | None = None  # students not reaching the pass level (the `~100` rule)


def tree_key(slice_: Hashable, unit: TreeUnit, gender: str = TOTAL) -> Key:
    return (slice_, unit, gender)


def tree_partitions(rows: Iterable[TreeRow]) -> tuple[dict[Key, Cell], list[Partition]]:
    """The cells and the partitions that hold exactly (a parent's count = the sum of its children's,
    per gender; a row's total = the sum of its gender parts). A partition that does not add up — a
    student counted in two groups of a unit, a school unit outside the directory — is left out: it is
    no exact equation for a reader either."""
    cells: dict[Key, Cell] = {}
    partitions: list[Partition] = []
    by_key: dict[tuple[Hashable, TreeUnit], TreeRow] = {}
    children: dict[tuple[Hashable, TreeUnit], list[TreeRow]] = defaultdict(list)
    for row in rows:
        by_key[(row.slice, row.unit)] = row
        level = Level[row.unit[0].upper()]
        for gender, n in row.counts.items():
            if n > 0:
                failing = row.failing.get(gender) if row.failing is not None else None
                cells[tree_key(row.slice, row.unit, gender)] = Cell(level, n, failing)
        parts = [g for g in GENDERS if row.counts.get(g, 0) > 0]
        if parts and sum(row.counts[g] for g in parts) == row.counts.get(TOTAL):
            # every gender part is a cell of its own (the trend and the results endpoint show the
            # unknown part too): withheld like any other, never assumed shown
            partitions.append(Partition(tree_key(row.slice, row.unit),
                                        tuple(tree_key(row.slice, row.unit, g) for g in parts)))
        if row.parent is not None:
            children[(row.slice, row.parent)].append(row)
    for (slice_, parent_unit), kids in children.items():
        parent = by_key.get((slice_, parent_unit))
        if parent is None:
            continue
        for gender in sorted({g for k in (parent, *kids) for g in k.counts}):
            members = [k for k in kids if k.counts.get(gender, 0) > 0]
            total = parent.counts.get(gender, 0)
            if total > 0 and members and total == sum(k.counts[gender] for k in members):
                partitions.append(Partition(tree_key(slice_, parent_unit, gender),
                                            tuple(tree_key(slice_, k.unit, gender) for k in members)))
    return cells, partitions


def protect_tree(rows: Iterable[TreeRow], *, suppressed: Iterable[Level], rules: DisclosureRules | None = None,
                 links: Iterable[tuple[Key, tuple[Key, ...]]] = ()) -> Disclosure:
    """One decision over every level of every slice at once (group → school unit → area → organiser →
    nation), so a complement chosen at one level is withheld in every view of it. `links` are
    equations `whole = Σ parts` between cells of the rows beyond the tree's own (a `*` year and its
    years; two tables holding the same count, `a = (b,)`), kept where they hold in the data, so the
    cells they tie are withheld consistently. Deterministic: the rows are
    taken in a canonical order, so the decision depends only on the rows, never on their order or
    on what a request selected."""
    rules = rules or DisclosureRules()
    ordered = sorted(rows, key=lambda r: repr((r.slice, r.unit)))
    cells, partitions = tree_partitions(ordered)
    for whole, parts in links:
        present = tuple(sorted({p for p in parts if p in cells}, key=repr))
        if whole in cells and present and cells[whole].students == sum(cells[p].students for p in present):
            partitions.append(Partition(whole, present))
    partitions.sort(key=lambda p: repr((p.parent, p.children)))
    shown: Mapping[Hashable, Cell] = cells
    return disclose(shown, partitions, suppressed=suppressed, rules=rules)


def merged(decisions: Iterable[Disclosure], rules: DisclosureRules) -> Disclosure:
    """Decisions on disjoint sets of cells (their partitions never meet) as one."""
    cells: dict[Key, Cell] = {}
    withheld: set[Key] = set()
    outcome: set[Key] = set()
    near: set[Key] = set()
    stuck: set[Key] = set()
    for d in decisions:
        cells.update(d.cells)
        withheld |= d.withheld
        outcome |= d.outcome_withheld
        near |= d.near_full
        stuck |= d.unprotectable
    return Disclosure(cells, frozenset(withheld), frozenset(outcome), frozenset(near), rules, frozenset(stuck))


@dataclass(frozen=True)
class TreeDecision:
    """A tree decision looked up by what a view knows of a cell: slice, level, unit id, gender (an
    area named without its organiser: withheld when it is withheld for any organiser)."""

    disclosure: Disclosure
    _hidden: frozenset[tuple[Hashable, str, str, str]]
    _outcome: frozenset[tuple[Hashable, str, str, str]] = frozenset()  # ⊇ _hidden: also `~100` and its complements
    _near: frozenset[tuple[Hashable, str, str, str]] = frozenset()  # shown as `~100`

    @staticmethod
    def _index(keys: Iterable[Any]) -> frozenset[tuple[Hashable, str, str, str]]:
        return frozenset((s, level, str(u[1]) if level == "area" else str(u), g) for s, (level, u), g in keys)

    @classmethod
    def of(cls, disclosure: Disclosure) -> TreeDecision:
        return cls(disclosure, cls._index(disclosure.withheld), cls._index(disclosure.outcome_withheld),
                   cls._index(disclosure.near_full))

    def withheld(self, slice_: Hashable, level: str, unit: str, gender: str = TOTAL) -> bool:
        """Every figure of the cell withheld (its students too)."""
        return (slice_, level, unit, gender) in self._hidden

    def outcome_withheld(self, slice_: Hashable, level: str, unit: str, gender: str = TOTAL) -> bool:
        """The cell's outcome (reaching the pass level, its share) withheld or shown only as `~100`."""
        return (slice_, level, unit, gender) in self._outcome

    def near_full(self, slice_: Hashable, level: str, unit: str, gender: str = TOTAL) -> bool:
        """The cell's share shown as `~100` (the optional rule: 1–4 students do not reach the pass level)."""
        return (slice_, level, unit, gender) in self._near

    @classmethod
    def union(cls, parts: Iterable[TreeDecision], rules: DisclosureRules) -> TreeDecision:
        """Decisions on disjoint components as one."""
        parts = list(parts)
        if len(parts) == 1:
            return parts[0]
        return cls(merged((p.disclosure for p in parts), rules), frozenset().union(*(p._hidden for p in parts)),
                   frozenset().union(*(p._outcome for p in parts)), frozenset().union(*(p._near for p in parts)))


def unit_of(level: str, organiser: str | None, unit: str) -> TreeUnit:
    return (level, (organiser, unit) if level == "area" else unit)


def tree_parent(level: str, organiser: str | None, unit: str,
                placed: Mapping[str, tuple[str, str | None]]) -> TreeUnit | None:
    """The unit whose count is the sum of this one's and its siblings': a group's school unit, a school
    unit's area (placed in none: its organiser), an area's organiser, an organiser's nation."""
    if level == "group":
        return ("school_unit", unit.split(GROUP_SEPARATOR, 1)[0])
    if level == "school_unit":
        owner, area = placed.get(unit, (organiser, None))
        if owner is None:
            return None
        return unit_of("area", owner, area) if area else ("organiser", owner)
    if level == "area":
        return ("organiser", organiser) if organiser else None
    if level == "organiser":
        return ("nation", NATION_ID)
    return None

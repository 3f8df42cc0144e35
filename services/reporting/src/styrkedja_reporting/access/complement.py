"""Complementary suppression of the figure, results, support and roster tables: the one place that
turns a table's rows at every level (each with the number of students its figures rest on, per
gender where the table knows it) into the decision of `disclosure.disclose`.

The model, per *slice* (a figure family and what a row is keyed by besides its unit: subject,
year, period…), over every level at once (group → school unit → area → organiser → nation):

- a row is a cell `(slice, (level, unit), "*")`, its gender parts `(…, "female"|"male"|"unknown")`,
  each a cell of its own (withheld like any other, never assumed shown);
- a row's total = the sum of its gender parts;
- a parent's count (per gender) = the sum of its children's, where that holds in the data: the
  parent is a cell of its own, at its level — a complement like any other.

So a small cell forces enough withholding that it cannot be worked out from anything the same reader
class sees, in this response or another: its siblings, its parent (and the parent's own small parts),
its children, its gender parts. Where no sibling can hide it (an only child; a sibling that equals
its own visible part), the parent is withheld too, and being one decision, it is withheld in the
parent's own view as well. Only a cell determined by cells the reader sees exactly (a level its
role does not suppress) is left unprotectable — nothing withholdable could hide it.

`protect_tree` is that decision; `access.decision` builds its rows for the figures and results
(`decision_for`) and for the count tables — support figures, roster sizes (`counts_decision`).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Hashable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from styrkedja_kit.auth import Level

from ..exports.table import Withheld
from ..results.rules import GROUP_SEPARATOR
from .disclosure import Cell, Disclosure, DisclosureRules, Key, Partition, disclose

TOTAL = "*"
GENDERS = ("female", "male", "unknown")
NATION_ID = "SE"


#: A cell as a view names it: (slice, level, unit id, gender).
CellRef = tuple[Hashable, str, str, str]


def derived_withheld(decision: TreeDecision | None, *inputs: CellRef) -> bool:
    """Whether a figure built from these cells is withheld (`disclosure`'s rule of derived figures; no decision: the
    reader sees the level exactly)."""
    return decision is not None and decision.derived_withheld(*inputs)


def shown(withheld: bool, *values: object) -> tuple[object, ...]:
    """The values, or `Withheld` for each (`..` in CSV/xlsx, null plus the reason in JSON)."""
    return tuple(Withheld() for _ in values) if withheld else values


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
                 links: Iterable[tuple[Key, tuple[Key, ...]]] = (), forced: Iterable[Key] = ()) -> Disclosure:
    """One decision over every level of every slice at once (group → school unit → area → organiser →
    nation), so a complement chosen at one level is withheld in every view of it. `links` are
    equations `whole = Σ parts` between cells of the rows beyond the tree's own (a `*` year and its
    years; two tables holding the same count, `a = (b,)`), kept where they hold in the data, so the
    cells they tie are withheld consistently. Deterministic: the rows are
    taken in a canonical order, so the decision depends only on the rows, never on their order or
    on what a request selected. `forced`: cells withheld whatever their size (`disclosure.disclose`)."""
    rules = rules or DisclosureRules()
    rows = list(rows)
    levels = frozenset(suppressed)
    forced = frozenset(forced)
    if not forced and not any(may_withhold(row, levels, rules) for row in rows):
        # no cell to withhold, so no complement either (`disclose` withholds only to hide a small or
        # `~100` cell): the same decision without building and solving the equations — what most
        # components of a big organiser are, read anew after every batch
        cells = {tree_key(r.slice, r.unit, g): Cell(Level[r.unit[0].upper()], n,
                                                    r.failing.get(g) if r.failing is not None else None)
                 for r in rows for g, n in r.counts.items() if n > 0}
        return Disclosure(cells, frozenset(), frozenset(), frozenset(), rules)
    ordered = sorted(rows, key=lambda r: repr((r.slice, r.unit)))
    cells, partitions = tree_partitions(ordered)
    for whole, parts in links:
        present = tuple(sorted({p for p in parts if p in cells}, key=repr))
        if whole in cells and present and cells[whole].students == sum(cells[p].students for p in present):
            partitions.append(Partition(whole, present))
    partitions.sort(key=lambda p: repr((p.parent, p.children)))
    shown: Mapping[Hashable, Cell] = cells
    return disclose(shown, partitions, suppressed=suppressed, rules=rules, forced=forced & cells.keys())


def may_withhold(row: TreeRow, suppressed: frozenset[Level], rules: DisclosureRules) -> bool:
    """A cell of the row that `disclose` withholds for itself at these suppressed levels: too few
    students, or (with the `~100` rule) 1 to N failing."""
    if Level[row.unit[0].upper()] not in suppressed:
        return False
    if any(0 < n < rules.min_students for n in row.counts.values()):
        return True
    return rules.approximate_near_full and row.failing is not None and any(
        1 <= f <= rules.near_full_max_failing for g, f in row.failing.items() if row.counts.get(g, 0) > 0)


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

    def outcome_withheld_cells(self) -> frozenset[tuple[Hashable, str, str, str]]:
        """Every (slice, level, unit id, gender) whose outcome is withheld (`outcome_withheld`; its students too where
        `withheld`): for a view of a figure no slice holds itself — an alert's, summed over the years of a slice."""
        return self._outcome

    def near_full(self, slice_: Hashable, level: str, unit: str, gender: str = TOTAL) -> bool:
        """The cell's share shown as `~100` (the optional rule: 1–4 students do not reach the pass level)."""
        return (slice_, level, unit, gender) in self._near

    def derived_withheld(self, *inputs: CellRef) -> bool:
        """A figure derived from these cells (`disclosure`'s rule of derived figures): withheld wherever the outcome
        of any of them is."""
        return any(self.outcome_withheld(*cell) for cell in inputs)

    @classmethod
    def union(cls, parts: Iterable[TreeDecision], rules: DisclosureRules) -> TreeDecision:
        """Decisions on disjoint components as one."""
        parts = list(parts)
        if len(parts) == 1:
            return parts[0]
        return cls(merged((p.disclosure for p in parts), rules), frozenset().union(*(p._hidden for p in parts)),
                   frozenset().union(*(p._outcome for p in parts)), frozenset().union(*(p._near for p in parts)))


@dataclass(frozen=True)
class EveryCellWithheld(TreeDecision):
    """The "decision" at a level the reader's class suppresses but no decision of the class covers (the groups of a
    politician's or the public's class, `decision.left_out`; the support figures' groups, `decision.COUNT_LEVELS`):
    every figure withheld, as a student-level cell is. Such a class reads those levels only through a narrower role of
    the same token (a politician who is also a teacher or principal), suppressed as its widest role is; nothing there
    was chosen as a complement or protected by one, so a cell shown exactly — a group of 5 students, or a large group
    whose school unit is withheld as a complement — would give a withheld figure away (round 26c)."""

    @classmethod
    def make(cls, rules: DisclosureRules) -> EveryCellWithheld:
        return cls(disclose({}, [], suppressed=(), rules=rules), frozenset())

    def withheld(self, slice_: Hashable, level: str, unit: str, gender: str = TOTAL) -> bool:
        return True

    def outcome_withheld(self, slice_: Hashable, level: str, unit: str, gender: str = TOTAL) -> bool:
        return True

    def near_full(self, slice_: Hashable, level: str, unit: str, gender: str = TOTAL) -> bool:
        return False


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

"""Disclosure control (röjandekontroll), pure: which figures a reader may see exactly, which are
withheld because they rest on too few students, and which siblings must be withheld with them.

Vocabulary (after Skolverket's statistics API):

- `Reason.EXISTS` — the figure is shown;
- `Reason.MISSING` — there is no figure (no students);
- `Reason.OMITTED_DUE_TO_BASED_ON_FEW_PUPILS` — withheld: `null` in JSON, `..` in CSV/xlsx.
  A complementary withholding gets the same code: a reader must not learn which cell was small.

The table is described as *cells* (one figure each, e.g. "unit 12345678, girls") and *partitions*
(a parent whose students are split, without overlap, among children: a gender split, the units
of an area, the groups of a unit). Every additive figure of a cell (students, students reaching
the pass level, the counts per grade) satisfies parent = sum(children) for every partition, so a
reader who sees some cells can solve that linear system for others. The rule kept here:

    no withheld cell's value is determined by the shown cells through the partition equations,

checked exactly (Gauss–Jordan over the rationals on the withheld cells; a withheld cell is
determined iff its unit vector is in the row space), across the whole tree at once — not only
parent by parent, since a combination of several equations can reveal a cell that each single
equation hides. Withholding is grown greedily: first, while an equation holds exactly one withheld
cell, withhold its cheapest visible cell (cheap, and most of the work); then, while the exact check
finds a determined cell, withhold the cheapest visible cell sharing an equation with it. "Cheapest"
is the fewest students withheld, looking one step ahead: the cell's own, plus the smallest
complement each of its other, untouched equations would then need.

Apply one decision to every output: compute it once per reader class (suppressed levels), period
and measure over the organiser's whole tree — every dimension any view shows — and cache it. A
decision computed per request over a subset could withhold different complements in two views,
and two responses together could then give a cell away.

Derived figures (a change since the period compared with, a gender gap, forecast against outcome): a difference or a
ratio of two cells gives either back from the other, so a derived figure is withheld wherever the outcome of *any* cell
it is built from — every input that, with the figure, would let a withheld cell be worked out — is withheld
(`Disclosure.derived`, `complement.derived_withheld`; every figure route asks it, never a rule of its own). Its inputs
are every cell it rests on, whichever table it is read from: forecast against outcome rests on the forecasts' cell
*and* on the results' cell of the same unit, subject, year, term and gender — the outcomes are those results (privacy
round 30: north's 12 forecasts were shown, "said reaches, did not" 3 and 9 without an outcome, while its 3 students
assessed in the term were withheld in the results, the trend and the history).

Rounded counts (the optional `round_counts_to`): every share shown beside them is of the counts as shown
(`share_of_shown`: `Disclosure.share` for the results, `guard.derive_from_shown` by each column's `of` for the figure
and support tables, the alerts and the support summary alike), a difference is of those shares, and a figure that
cannot be computed from shown counts (a mean merit value, a gap whose gender parts the row does not show) is withheld:
a share of the exact counts gave them back (privacy round 30: 20 and 15 shown, share 0.7273 — only 16/22 of 18–22
students; mended in round 30b).

Not covered (documented limits): bounds that follow from non-negativity (two withheld cells whose
total is 0 are both 0; whose outcome total equals their students all passed) — the optional `~100`
rule addresses the near-100 % case; and dominance rules on non-count measures such as merit means.
And decisions of two states: each state's decision is its own, so a complement withheld in one state may be the
cheapest cell to show in the next (privacy round 29: areas of 5, 20 and 30 students, the 20 withheld with the 5;
after 11 more students in it, 31, the 30 is withheld instead — the organiser's 55 less 30, then 66 less 31, give
the small area back where the others did not change). Keeping complements from one state to the next would need
the previous decisions kept with the state (not done).
"""

from __future__ import annotations

import enum
import heapq
from collections import defaultdict, deque
from collections.abc import Hashable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from fractions import Fraction
from functools import reduce
from math import gcd
from typing import Any, TypeAlias

from styrkedja_kit.auth import GRANTS, Level, Principal, Role
from styrkedja_kit.auth.policy import Reach

Key: TypeAlias = Hashable
TABLE_WITHHELD = ".."
TABLE_NEAR_FULL = "~100"


class Reason(enum.StrEnum):
    EXISTS = "EXISTS"
    MISSING = "MISSING"
    OMITTED_DUE_TO_BASED_ON_FEW_PUPILS = "OMITTED_DUE_TO_BASED_ON_FEW_PUPILS"


@dataclass(frozen=True)
class DisclosureRules:
    """Per deployment (reporting settings). The optional rules are off by default."""

    min_students: int = 10
    # a share where 1–4 students fail is shown as `~100`, and its outcome counts are withheld
    approximate_near_full: bool = False
    near_full_max_failing: int = 4
    # shown counts rounded to a multiple of this (shares are computed from exact counts first)
    round_counts_to: int | None = None

    def __post_init__(self) -> None:
        if self.min_students < 1 or self.near_full_max_failing < 1:
            raise ValueError("min_students and near_full_max_failing must be at least 1")
        if self.round_counts_to is not None and self.round_counts_to < 2:
            raise ValueError("round_counts_to must be at least 2 (or None)")


_ABOVE_UNIT = frozenset({Level.AREA, Level.ORGANISER, Level.NATION})
#: Levels at which small groups are withheld, per role. Above school-unit level for every role;
#: at every level for politician and public; the organiser admin (who may read every student of
#: the organiser anyway) sees exact figures.
SUPPRESSED_LEVELS: dict[Role, frozenset[Level]] = {
    Role.ORGANISER_ADMIN: frozenset(),
    Role.AREA_MANAGER: _ABOVE_UNIT,
    Role.PRINCIPAL: _ABOVE_UNIT,
    Role.TEACHER: _ABOVE_UNIT,
    Role.ICT_COORDINATOR: _ABOVE_UNIT,
    Role.PLATFORM: _ABOVE_UNIT,
    Role.OPS: _ABOVE_UNIT,
    Role.POLITICIAN: frozenset(Level),
    Role.PUBLIC: frozenset(Level),
}


#: Read reaches from the widest: a role of every organiser's reach (the public) reads each of its levels in every
#: organiser, one of the organisers' (the organiser admin, the politician) in the whole of its organisers; the others
#: their own areas, units, groups or writes.
WIDEST_FIRST = (frozenset({Reach.EVERY_ORGANISER}), frozenset({Reach.ORGANISERS}))


def suppressed_levels(principal: Principal) -> frozenset[Level]:
    """A principal with several roles gets its most open role's view among its roles of the widest reach;
    one with no known role gets the public view.

    One disclosure decision is taken per set of suppressed levels, for a reader who sees the levels it leaves open
    wherever it reads. A role opens its levels within its own reach alone: an area manager, principal, ICT
    coordinator or teacher its own places, the organiser admin its own organisers. Beside a role that reads wider,
    suppressed (a politician the whole organiser, the public every organiser), the narrow role's open levels were
    taken as open everywhere (round 24a): a politician who was also a teacher got "school units seen exactly",
    whose decision withholds no complement of an area its units add up to (the organiser's total less the areas
    shown gave a small area back), and an organiser admin that was also the public read another organiser's small
    figures exactly. Such a token is suppressed as its widest roles are; where they all suppress nothing (the
    organiser admin), it reads exactly."""
    if not principal.roles:
        return frozenset(Level)
    roles: list[Role] | frozenset[Role] = principal.roles
    for reaches in WIDEST_FIRST:
        widest = [r for r in principal.roles if GRANTS[r].reads in reaches]
        if widest:
            roles = widest
            break
    return frozenset.intersection(*(SUPPRESSED_LEVELS[r] for r in roles))


@dataclass(frozen=True)
class Cell:
    level: Level
    students: int  # the number of students the figure is based on
    failing: int | None = None  # students not reaching the pass level, for the `~100` rule


@dataclass(frozen=True)
class Partition:
    """`parent`'s students split without overlap among `children` (parent = sum of children)."""

    parent: Key
    children: tuple[Key, ...]


@dataclass(frozen=True)
class Figure:
    value: Any
    reason: Reason
    display: Any  # for CSV/xlsx: the value, `..` or `~100`

    def as_json(self) -> dict[str, Any]:
        body = {"value": self.value, "reason": self.reason.value}
        if self.display == TABLE_NEAR_FULL:
            body["approximately"] = TABLE_NEAR_FULL
        return body


@dataclass(frozen=True)
class Disclosure:
    cells: Mapping[Key, Cell]
    withheld: frozenset[Key]  # every figure of the cell is withheld
    outcome_withheld: frozenset[Key]  # outcome figures withheld (⊇ withheld): also `~100` cells and their complements
    near_full: frozenset[Key]  # shown as `~100`
    rules: DisclosureRules
    unprotectable: frozenset[Key] = field(default=frozenset())  # determined by figures the reader sees exactly

    def reason(self, key: Key, *, outcome: bool = True) -> Reason:
        cell = self.cells.get(key)
        if cell is None or cell.students == 0:
            return Reason.MISSING
        hidden = self.outcome_withheld if outcome else self.withheld
        return Reason.OMITTED_DUE_TO_BASED_ON_FEW_PUPILS if key in hidden else Reason.EXISTS

    def count(self, key: Key, value: int | None, *, outcome: bool = True) -> Figure:
        """A count of the cell (`outcome=False` for the number of students it is based on)."""
        reason = self.reason(key, outcome=outcome)
        if reason is not Reason.EXISTS or value is None:
            return Figure(None, reason, TABLE_WITHHELD if reason is Reason.OMITTED_DUE_TO_BASED_ON_FEW_PUPILS else "")
        shown = round_count(value, self.rules.round_counts_to)
        return Figure(shown, reason, shown)

    def share(self, key: Key, value: float | None, *, of: tuple[int, int] | None = None) -> Figure:
        """A share (0–1) of the cell, e.g. the share reaching the pass level; `of`: its part and whole, exact. Where
        the deployment rounds counts, the share is of the counts as shown (`share_of_shown`), never `value`: the exact
        share beside the rounded counts gives them back; without `of` it is withheld there."""
        reason = self.reason(key)
        if key in self.near_full:
            return Figure(None, Reason.EXISTS, TABLE_NEAR_FULL)
        if reason is not Reason.EXISTS or value is None:
            return Figure(None, reason, TABLE_WITHHELD if reason is Reason.OMITTED_DUE_TO_BASED_ON_FEW_PUPILS else "")
        base = self.rules.round_counts_to
        if base is not None:
            shown = None if of is None else share_of_shown(round_count(of[0], base), round_count(of[1], base))
            if shown is None:
                return Figure(None, Reason.OMITTED_DUE_TO_BASED_ON_FEW_PUPILS, TABLE_WITHHELD)
            value = round(float(shown), SHARE_DECIMALS)
        return Figure(value, reason, value)

    def derived(self, value: Any, *keys: Key) -> Figure:
        """A figure built from several cells (gender gap, trend against the previous period, forecast
        against outcome): shown only when every cell it is built from is shown."""
        reasons = [self.reason(k) for k in keys]
        if any(r is Reason.OMITTED_DUE_TO_BASED_ON_FEW_PUPILS for r in reasons) or any(k in self.near_full
                                                                                   for k in keys):
            return Figure(None, Reason.OMITTED_DUE_TO_BASED_ON_FEW_PUPILS, TABLE_WITHHELD)
        if any(r is Reason.MISSING for r in reasons) or value is None:
            return Figure(None, Reason.MISSING, "")
        return Figure(value, Reason.EXISTS, value)


#: Shares and differences are shown to 4 decimals (as `figures.pass_share` computes them).
SHARE_DECIMALS = 4


def share_of_shown(part: int, whole: int) -> Fraction | None:
    """A share of counts as shown (rounded where the deployment rounds them): where counts are rounded, a share of
    the exact counts gives them back (privacy round 30), so every share beside rounded counts is this one."""
    return Fraction(part, whole) if whole else None


def round_count(value: int, base: int | None) -> int:
    if base is None:
        return value
    return int(Fraction(value, base) + Fraction(1, 2)) * base  # half up, no banker's rounding


def disclose(cells: Mapping[Key, Cell], partitions: Sequence[Partition], *, suppressed: Iterable[Level],
             rules: DisclosureRules = DisclosureRules(), exact: Iterable[Key] = (),
             forced: Iterable[Key] = ()) -> Disclosure:
    """Decide what a reader with these suppressed levels sees. Cells at other levels are shown exactly
    (the reader may see them anyway) and are never chosen as complements; so are the `exact` cells
    (shown by another view, or computable from what is shown: never withheld here). The `forced` cells are
    withheld whatever their size, with their complements, at a suppressed level: a count that, shown, gives a
    withheld figure of another table away (what a table of its own cannot know from its counts alone)."""
    levels = frozenset(suppressed)
    fixed = frozenset(exact)
    for partition in partitions:
        for key in (partition.parent, *partition.children):
            if key not in cells:
                raise KeyError(f"partition names an unknown cell: {key!r}")
    adjustable = frozenset(k for k, c in cells.items() if c.level in levels and c.students > 0 and k not in fixed)
    primary = frozenset(k for k in adjustable if cells[k].students < rules.min_students) | (frozenset(forced) & adjustable)
    withheld, stuck = _protect(primary, adjustable, cells, partitions)
    near_full: frozenset[Key] = frozenset()
    outcome_withheld, outcome_stuck = withheld, frozenset[Key]()
    if rules.approximate_near_full:
        near_full = frozenset(k for k in adjustable - withheld if cells[k].failing is not None
                              and 1 <= cells[k].failing <= rules.near_full_max_failing)  # type: ignore[operator]
        outcome_withheld, outcome_stuck = _protect(withheld | near_full, adjustable, cells, partitions)
    return Disclosure(cells, withheld, outcome_withheld, near_full, rules, stuck | outcome_stuck)


#: (parent level, children's level) of the partitions whose every child some reader outside the class knows exactly:
#: the nation split among its organisers, each organiser's admin knowing its own.
INSIDER_SPLITS = frozenset({(Level.NATION, Level.ORGANISER)})


def _insider_picks(hidden: set[Key], candidates: frozenset[Key], cells: Mapping[Key, Cell],
                   partitions: Sequence[Partition]) -> set[Key]:
    """More cells to withhold so that no withheld child of an insiders' split (the nation among its organisers) is
    hidden by one sibling alone: that sibling's own admin knows it exactly, and the parent less the shown siblings
    less its own gives the small one back (round 24a: an organiser admin read the public's nation, three organisers
    of 12, 3 and 20, the 3 withheld with the 12 as its complement — its own). Where a shown parent has exactly two
    withheld children, a third (the cheapest), or the parent where no child is left."""
    more: set[Key] = set()
    for partition in partitions:
        if partition.parent in hidden or not partition.children or any(
                (cells[partition.parent].level, cells[c].level) not in INSIDER_SPLITS for c in partition.children):
            continue
        if sum(1 for c in partition.children if c in hidden) != 2:
            continue
        shown = [c for c in partition.children if c in candidates and c not in hidden and c not in more]
        if shown:
            more.add(min(shown, key=lambda c: (cells[c].students, repr(c))))
        elif partition.parent in candidates:
            more.add(partition.parent)
    return more


def _protect(primary: frozenset[Key], adjustable: frozenset[Key], cells: Mapping[Key, Cell],
             partitions: Sequence[Partition]) -> tuple[frozenset[Key], frozenset[Key]]:
    """Grow `primary` until no withheld cell is determined by the visible ones. Returns the withheld
    set and the cells that could not be protected (every cell that would help is shown exactly)."""
    equations = [(p.parent, *p.children) for p in partitions]  # coefficient +1 for the parent, -1 children
    # the exact check's rows bottom-up (the equations of the lowest levels first, the nation's last): the
    # determined cells do not depend on the rows' order (a row space is a row space), the work does — taken in
    # their canonical order, a nation's equations came early and every later pivot was eliminated again from
    # their long rows (at 290 organisers: minutes per decision, ~90 % of it in `_determined`)
    partitions = bottom_up(partitions, cells)
    by_cell: dict[Key, list[int]] = {}
    for index, equation in enumerate(equations):
        for key in equation:
            by_cell.setdefault(key, []).append(index)
    # what the exactly shown cells alone give away (still determined with every withholdable cell
    # withheld): withheld all the same where small, but nothing can hide it — never a complement (it
    # would hide nothing), never a reason to choose one. Only a shown cell of 1 or more students can
    # give a cell away so (with every cell withholdable or 0 the equations are homogeneous: nothing is)
    shown = any(c.students > 0 and k not in adjustable for k, c in cells.items())
    known = frozenset(_determined(set(adjustable), partitions)) if shown else frozenset()
    candidates = adjustable - known
    lowest = _Lowest(equations, candidates, cells)
    hidden = set(primary)
    stuck: set[Key] = set(primary & known)
    while True:
        _close_singletons(hidden, candidates, known, lowest, cells, equations, by_cell)
        insiders = _insider_picks(hidden, candidates, cells, partitions)
        if insiders:  # each with its own complements, by the cheap part first
            hidden |= insiders
            continue
        determined = [k for k in _determined(hidden, partitions) if k not in stuck and k not in known]
        added = False
        for key in sorted(determined, key=repr):
            pick = _cheapest_complement(key, hidden, candidates, lowest, cells, equations, by_cell)
            if pick is None:
                stuck.add(key)
                continue
            hidden.add(pick)
            added = True
        if not added:
            # a cell stuck early may have been covered by later complements: report what is left
            return frozenset(hidden), frozenset(_determined(hidden, partitions)) if stuck else frozenset()


def bottom_up(partitions: Sequence[Partition], cells: Mapping[Key, Cell]) -> list[Partition]:
    """Pure: the partitions by the highest level among their cells, lowest first (stable: ties keep their order)."""
    return sorted(partitions, key=lambda p: max(cells[k].level for k in (p.parent, *p.children)))


#: The cost of withholding a cell whose untouched equation has nothing else withholdable (it would be
#: given away there): chosen only when nothing else is left.
_DEAD_END = 10**12


class _Lowest:
    """Per equation (looked up when first needed), its two withholdable cells with the fewest
    students: the cheapest complement there, for any cell of it but the cheapest itself. Also what one
    `_protect` learns as it goes, its withheld cells only ever growing: the equations known to hold a
    withheld cell (they always will), and each cell's `repr` (the cost's tie-break)."""

    def __init__(self, equations: list[tuple[Key, ...]], adjustable: frozenset[Key], cells: Mapping[Key, Cell]):
        self.equations, self.adjustable, self.cells = equations, adjustable, cells
        self.found: dict[int, list[tuple[int, Key]]] = {}
        self.touched: set[int] = set()
        self.names: dict[Key, str] = {}

    def holds_hidden(self, index: int, hidden: set[Key]) -> bool:
        """The equation holds a withheld cell (`hidden` only grows: once it does, it always will — a nation's
        equation of 290 organisers is not scanned again for every cell that meets it)."""
        if index in self.touched:
            return True
        if any(m in hidden for m in self.equations[index]):
            self.touched.add(index)
            return True
        return False

    def name(self, cell: Key) -> str:
        found = self.names.get(cell)
        if found is None:
            found = self.names[cell] = repr(cell)
        return found

    def other_than(self, index: int, cell: Key) -> int | None:
        two = self.found.get(index)
        if two is None:
            two = self.found[index] = heapq.nsmallest(  # ties: the first in the equation's (canonical) order
                2, ((self.cells[m].students, m) for m in self.equations[index] if m in self.adjustable),
                key=lambda p: p[0])
        return next((n for n, m in two if m != cell), None)


def _cost(cell: Key, hidden: set[Key], lowest: _Lowest, cells: Mapping[Key, Cell],
          equations: list[tuple[Key, ...]], by_cell: dict[Key, list[int]]) -> tuple[int, str]:
    """The students withheld by choosing the cell, looking one step ahead: its own, plus — for each
    of its other equations that holds no withheld cell yet (withholding it there needs a complement of
    its own) — the fewest students of a cell that could be that complement. So a sibling is taken
    rather than the parent where the parent is the bigger loss (the organiser's total against a small
    area), and the parent rather than a sibling whose own children and gender parts would have to
    follow (a whole organiser's tree against the nation's total)."""
    cost = cells[cell].students
    for i in by_cell.get(cell, ()):
        if lowest.holds_hidden(i, hidden):
            continue
        other = lowest.other_than(i, cell)
        cost += _DEAD_END if other is None else other
    return cost, lowest.name(cell)


def _close_singletons(hidden: set[Key], adjustable: frozenset[Key], known: frozenset[Key],
                      lowest: _Lowest, cells: Mapping[Key, Cell],
                      equations: list[tuple[Key, ...]], by_cell: dict[Key, list[int]]) -> None:
    """The cheap part first: an equation with exactly one withheld cell (not counting the `known`
    ones, which the exactly shown cells give away) gives it away, so withhold the cheapest visible
    cell of that equation too, and look again at the equations that cell is in. What is left —
    combinations of several equations — is the exact check's job."""
    # each equation's withheld cells (the `known` ones not counted), kept as cells are added below: the check
    # of an equation taken from the queue is a look-up, not a scan (a nation's equation, with a member in
    # every organiser, was scanned again for every organiser's cell withheld)
    withheld = [sum(1 for m in members if m in hidden and m not in known) for members in equations]
    queue = deque(range(len(equations)))
    while queue:
        index = queue.popleft()
        if withheld[index] != 1:
            continue
        members = equations[index]
        candidates = [m for m in members if m in adjustable and m not in hidden]
        if candidates:
            pick = min(candidates, key=lambda c: _cost(c, hidden, lowest, cells, equations, by_cell))
            hidden.add(pick)
            for i in by_cell.get(pick, ()):  # `pick` is adjustable, so never `known`
                withheld[i] += 1
            queue.extend(by_cell.get(pick, ()))


def _cheapest_complement(key: Key, hidden: set[Key], adjustable: frozenset[Key],
                         lowest: _Lowest, cells: Mapping[Key, Cell],
                         equations: list[tuple[Key, ...]], by_cell: dict[Key, list[int]]) -> Key | None:
    """The cheapest visible, withholdable cell in the nearest equations of `key`: first those `key`
    is in, then those reached through other withheld cells."""
    seen_equations: set[int] = set()
    seen_cells = {key}
    frontier = [key]
    while frontier:
        layer = {i for k in frontier for i in by_cell.get(k, ())} - seen_equations
        seen_equations |= layer
        members = {c for i in layer for c in equations[i]}
        candidates = {c for c in members if c in adjustable and c not in hidden}
        if candidates:
            return min(candidates, key=lambda c: _cost(c, hidden, lowest, cells, equations, by_cell))
        frontier = [c for c in members if c in hidden and c not in seen_cells]
        seen_cells.update(frontier)
    return None


def _determined(hidden: set[Key], partitions: Sequence[Partition]) -> list[Key]:
    """The hidden cells whose values follow from the visible ones through the partition equations.

    Gauss–Jordan elimination on the hidden cells' columns, exact over the rationals but kept in
    integers (each row scaled to coprime entries): a hidden cell is determined iff its column is a
    pivot and its reduced row has no other entry (its unit vector lies in the row space)."""
    if not hidden:
        return []
    columns = {k: i for i, k in enumerate(sorted(hidden, key=repr))}
    pivots: dict[int, dict[int, int]] = {}  # pivot column → its reduced row
    # column → the pivot rows (by pivot column) with an entry in it: a new pivot updates only those,
    # not a scan of every pivot row (quadratic: ~90 % of a large decision's time)
    holders: dict[int, set[int]] = defaultdict(set)

    def put(pivot_column: int, reduced: dict[int, int]) -> None:
        for c in pivots.get(pivot_column, ()):
            holders[c].discard(pivot_column)
        pivots[pivot_column] = reduced
        for c in reduced:
            holders[c].add(pivot_column)

    for partition in partitions:
        row: dict[int, int] = {}
        for key, coefficient in ((partition.parent, 1), *((c, -1) for c in partition.children)):
            column = columns.get(key)
            if column is not None:
                row[column] = row.get(column, 0) + coefficient
        row = {c: v for c, v in row.items() if v}
        for column in [c for c in row if c in pivots]:  # reducing never brings in another pivot column
            if row.get(column):
                row = _combine(row, pivots[column], column)
        if not row:
            continue
        lead = min(row)
        for other_column in sorted(holders.get(lead, ())):  # keep the earlier rows reduced in the new pivot column
            put(other_column, _combine(pivots[other_column], row, lead))
        put(lead, row)
    keys = {i: k for k, i in columns.items()}
    return [keys[column] for column, row in pivots.items() if len(row) == 1]


def _combine(row: dict[int, int], pivot: dict[int, int], column: int) -> dict[int, int]:
    """`row` with `column` eliminated by `pivot`, scaled to coprime integers."""
    a, b = pivot[column], row[column]
    out = {c: v * a for c, v in row.items()}
    for c, v in pivot.items():
        out[c] = out.get(c, 0) - b * v
    out = {c: v for c, v in out.items() if v}
    divisor = reduce(gcd, out.values(), 0)
    return {c: v // divisor for c, v in out.items()} if divisor > 1 else out

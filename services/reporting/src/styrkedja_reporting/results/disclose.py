"""The cube a results cell is disclosed in, read for `access.disclosure.disclose`.

For a request at level L the cube holds, per slice (subject, period, round, kind, scale), the cells
of L and of its parent level (group → school unit → area → organiser → nation), each at every
gender × year marginal (a concrete value or `*`, all of them). The partitions are
- the hierarchy: a parent cell = the sum of its children (kept only where the student counts add
  up: a school unit placed in no area leaves its organiser's area partition out — documented limit);
- the splits: a unit's `*` gender cell = the sum of its gender cells, the same for the years.
The request's own filters narrow only the slice and the organiser (not for organiser and nation
levels, whose parent is every organiser), never gender or year, so every view of a slice gets one
decision.
"""

from __future__ import annotations

from collections import OrderedDict, defaultdict
from collections.abc import Hashable, Mapping
from typing import Any

from sqlalchemy import func, select, text
from sqlalchemy.ext.asyncio import AsyncSession

from styrkedja_contracts.scales import Scale, reaches_pass
from styrkedja_kit.auth import Level as AuthLevel

from ..access.disclosure import Cell, Disclosure, DisclosureRules, Partition, disclose
from ..access.scope import placements_of
from ..registry import freshness
from .rules import GROUP_SEPARATOR, NATION
from .tables import STORES

ALL = "*"
SLICE = {"assessments": ("subject_code", "school_year", "term", "round", "kind", "scale"),
         "forecasts": ("subject_code", "school_year", "term")}
PARENT = {"group": "school_unit", "school_unit": "area", "area": "organiser", "organiser": "nation"}


def key_of(kind: str, cell: Any, filters: Any) -> Hashable:
    """The cube key of a cell `read_cells` answers."""
    gender = cell.gender if "gender" in filters.split else (filters.gender or ALL)
    year = cell.year if "year" in filters.split else (filters.year if filters.year is not None else ALL)
    organiser = None if cell.level == "nation" else cell.organiser_id
    return (tuple(getattr(cell, name) for name in SLICE[kind]), cell.level, organiser, cell.unit_id, gender, year)


#: Decisions already made, per state version (`state_version`) and cube: a decision depends only
#: on the materialised state and the cube's key, so it is computed once per applied batch and
#: cube, not per request (bounded; the oldest goes first).
_DECISIONS: OrderedDict[Hashable, Disclosure] = OrderedDict()
DECISIONS_KEPT = 256


async def state_version(session: AsyncSession) -> tuple[Any, ...]:
    """Changes with every applied batch: each writes its topic's `applied_at` (the transaction's
    start) in the transaction that changes the aggregates (`registry._note_freshness`), the
    directory's batches too."""
    rows = await session.execute(text(f"SELECT topic, applied_at FROM {freshness.name} ORDER BY topic"))
    return tuple(tuple(r) for r in rows.all())


def cube_key(kind: str, level: str, filters: Any, suppressed: frozenset[AuthLevel],
             rules: DisclosureRules) -> Hashable:
    """What a cube's decision depends on besides the state: the filters `cube_disclosure` reads."""
    narrowing = tuple(getattr(filters, name) for name in ("subject_code", "school_year", "term", "round", "kind"))
    organiser = filters.organiser_id if level not in ("organiser", "nation") else None
    return kind, level, narrowing, organiser, frozenset(suppressed), rules


async def cube_disclosure(session: AsyncSession, kind: str, level: str, filters: Any,
                          suppressed: frozenset[AuthLevel], rules: DisclosureRules) -> Disclosure:
    """The decision for the cube of this read, from the cache when the state has not changed since."""
    key = (await state_version(session), cube_key(kind, level, filters, suppressed, rules))
    found = _DECISIONS.get(key)
    if found is not None:
        _DECISIONS.move_to_end(key)
        return found
    decision = await compute_cube_disclosure(session, kind, level, filters, suppressed, rules)
    _DECISIONS[key] = decision
    while len(_DECISIONS) > DECISIONS_KEPT:
        _DECISIONS.popitem(last=False)
    return decision


async def compute_cube_disclosure(session: AsyncSession, kind: str, level: str, filters: Any,
                                  suppressed: frozenset[AuthLevel], rules: DisclosureRules) -> Disclosure:
    store = STORES[kind]
    agg = store.aggregates.c
    levels = [level, *([PARENT[level]] if level in PARENT else [])]
    slice_columns = [agg[name] for name in SLICE[kind]]
    query = (select(agg.level, agg.organiser_id, agg.unit_id, *slice_columns, agg.gender, agg.year, agg.value,
                    func.sum(agg.count).label("n"))
             .where(agg.level.in_(levels))
             .group_by(agg.level, agg.organiser_id, agg.unit_id, *slice_columns, agg.gender, agg.year, agg.value))
    for name in ("subject_code", "school_year", "term", "round", "kind"):
        value = getattr(filters, name)
        if value is not None and name in agg:
            query = query.where(agg[name] == value)
    if filters.organiser_id is not None and level not in ("organiser", "nation"):
        query = query.where(agg.organiser_id == filters.organiser_id)
    rows = [(tuple(getattr(row, name) for name in SLICE[kind]), row.level,
             None if row.level == "nation" else row.organiser_id, row.unit_id, row.gender, row.year,
             not reaches_pass(Scale(row.scale) if kind == "assessments" else Scale.THREE_LEVEL, row.value),
             int(row.n)) for row in (await session.execute(query)).all()]
    codes = {r[3] for r in rows if r[1] == "school_unit"}
    placed = await placements_of(session, codes) if level == "school_unit" else {}
    return disclose_cube(rows, placed, suppressed, rules)


CubeKey = tuple[Any, ...]  # slice, level, organiser, unit, gender, year
CubeRow = tuple[tuple[Any, ...], str, str | None, str, str, int, bool, int]  # … fails, n


def disclose_cube(rows: list[CubeRow], placed: dict[str, tuple[str, str | None]],
                  suppressed: frozenset[AuthLevel], rules: DisclosureRules) -> Disclosure:
    """Pure: the cells of every gender × year marginal, the partitions, and the decision."""
    students: dict[CubeKey, int] = defaultdict(int)
    failing: dict[CubeKey, int] = defaultdict(int)
    for slice_, level, organiser, unit, row_gender, row_year, fails, n in rows:
        for gender in (row_gender, ALL):
            for year in (row_year, ALL):
                key: CubeKey = (slice_, level, organiser, unit, gender, year)
                students[key] += n
                if fails:
                    failing[key] += n
    cells: dict[CubeKey, Cell] = {key: Cell(AuthLevel[str(key[1]).upper()], n, failing.get(key, 0))
                                  for key, n in students.items()}
    shown: Mapping[Hashable, Cell] = cells  # type: ignore[assignment]  # Mapping is invariant in its key
    return disclose(shown, _partitions(cells, placed), suppressed=suppressed, rules=rules)


def _parent_of(key: CubeKey, placed: dict[str, tuple[str, str | None]]) -> CubeKey | None:
    slice_, level, organiser, unit, gender, year = key
    if level == "group":
        return (slice_, "school_unit", organiser, str(unit).split(GROUP_SEPARATOR, 1)[0], gender, year)
    if level == "school_unit":
        owner, area = placed.get(str(unit), (None, None))
        return (slice_, "area", organiser, area, gender, year) if area and owner == organiser else None
    if level == "area":
        return (slice_, "organiser", organiser, organiser, gender, year)
    if level == "organiser":
        return (slice_, "nation", None, NATION, gender, year)
    return None


def _partitions(cells: dict[CubeKey, Cell], placed: dict[str, tuple[str, str | None]]) -> list[Partition]:
    children: dict[CubeKey, list[CubeKey]] = defaultdict(list)
    for key in cells:
        parent = _parent_of(key, placed)
        if parent is not None and parent in cells:
            children[parent].append(key)
    for key in cells:
        slice_, level, organiser, unit, gender, year = key
        if gender != ALL:
            children[(slice_, level, organiser, unit, ALL, year, "g")].append(key)
        if year != ALL:
            children[(slice_, level, organiser, unit, gender, ALL, "y")].append(key)
    partitions = []
    for parent, kids in children.items():
        whole = parent[:6]
        if whole in cells and sum(cells[k].students for k in kids) == cells[whole].students:
            partitions.append(Partition(whole, tuple(sorted(kids, key=repr))))
    return partitions

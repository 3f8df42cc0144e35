"""The one read path: every endpoint gets its cells from `read_cells`.

Access is applied here, so no route can forget it (`Scope`, built by the route from the token):
1. rows: a cell the reader may not read (`policy.may_read` on the cell's node, with its area from
   the directory placements) is dropped — a teacher asking for a whole organiser's groups gets
   their own groups;
2. disclosure: at the levels suppressed for the reader (`access.disclosure.suppressed_levels`) a
   cell from fewer than N students is withheld (every figure `null`, reason
   `OMITTED_DUE_TO_BASED_ON_FEW_PUPILS`), with complementary suppression looked up in the one
   decision per cell (`access.decision`): computed per school year and subject over every level,
   organiser, gender × year marginal, round and kind *and* the figure tables built from the same
   results — whatever the request's own filters, splits or scope, so the results endpoint and every
   figure endpoint withhold a cell the same way. Under the optional `~100` rule a cell where 1–4
   students fail has `approximately: "~100"` (reason `EXISTS`): its share is shown only as `~100`
   (`null` in JSON) and its outcome counts are withheld.
"""

from __future__ import annotations

import asyncio
from collections import OrderedDict
from collections.abc import AsyncGenerator, AsyncIterable, AsyncIterator, Awaitable, Callable, Hashable, Sequence
from contextvars import ContextVar
from dataclasses import dataclass, field
from operator import attrgetter
from typing import Any, Literal, TypeVar, cast

from prometheus_client import Gauge
from pydantic import BaseModel
from sqlalchemy import func, literal, literal_column, select
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

from styrkedja_contracts.scales import Scale, reaches_pass, scale_values
from styrkedja_kit.auth import Level as AuthLevel
from styrkedja_kit.auth import Node, Principal, may_read
from styrkedja_kit.problems import Problem, field_error
from styrkedja_kit.sets import any_of

from ..access.complement import tree_key, unit_of
from ..access.decision import decision_for, results_slice, undecided
from ..access.disclosure import TABLE_NEAR_FULL, Disclosure, DisclosureRules, Reason
from ..access.scope import node_from, placements_of
from .disclose import SLICE, state_version
from .rules import GROUP_SEPARATOR, NATION, read_level, share
from .tables import STORES

#: cells built, judged or withheld between two turns of the event loop. A student-level read is ~20,000 cells for one
#: organiser of the national shape and ~50 µs of Python each: in one go it held the worker's loop for a second, and
#: far longer on a busy machine or for more organisers, so the consumer's heartbeat and the other requests waited
#: (a worker was killed at 6.4M events: bench/README.md, scale28). A turn of 2,000 is ~0.1 s at most.
CELLS_PER_TURN = 2_000

#: the most rows one cell is read from: one per value of its scale (a cell's count of each value it has)
VALUES_PER_CELL = max(len(scale_values(scale)) for scale in Scale)

#: the filters that narrow a read, named to a reader refused one too large (`TooManyCells`)
#: the query parameters that narrow a read of each kind, named by a refusal of one too large (a forecast has no round
#: or kind: a forecasts read told to narrow by them was told of parameters its operation does not take)
NARROWING: dict[str, tuple[str, ...]] = {
    "assessments": ("organiser_id", "unit_id", "subject_code", "school_year", "term", "round", "kind", "year",
                    "gender"),
    "forecasts": ("organiser_id", "unit_id", "subject_code", "school_year", "term", "year", "gender"),
}

Level = Literal["student", "group", "school_unit", "area", "organiser", "nation"]
Kind = Literal["assessments", "forecasts"]
Split = Literal["gender", "year"]


class ResultCell(BaseModel):
    """One cell of the report: a unit at one level, one subject and period."""

    level: Level
    unit_id: str
    school_unit_code: str | None = None  # groups: the school unit that scopes the group id
    group_id: str | None = None
    subject_code: str
    school_year: str
    term: str
    round: int | None = None
    kind: str | None = None
    scale: str
    gender: str | None = None
    year: int | None = None
    organiser_id: str | None = None  # every level but the nation
    distribution: dict[str, int] | None  # None: withheld (see `reason`)
    assessed: int | None
    reaching_pass: int | None
    share_reaching_pass: float | None
    reason: str = Reason.EXISTS.value  # EXISTS, MISSING or OMITTED_DUE_TO_BASED_ON_FEW_PUPILS (Skolverket's codes)
    # "~100" under the optional near-full rule: the share is shown only as `~100` (null here), the
    # outcome counts are withheld; None otherwise
    approximately: Literal["~100"] | None = None


#: every field of a `ResultCell`: the one fields-set a read's cells share (`made_cell`)
_SHARED_FIELDS = set(ResultCell.model_fields)
_set_attribute = object.__setattr__  # past pydantic's own __setattr__, which would validate and add to the set


def made_cell(values: dict[str, Any]) -> ResultCell:
    """A validated `ResultCell` of `values` holding no more than it must. Validated as it is, each cell kept its own
    set of the fields it was given (728 B of a cell's ~1.8 kB) and its own copy of its distribution (184 B): an
    organiser's student-level read of ~22,000 cells held 42 MiB before it was encoded (bench/README.md, mem31). Each
    cell here keeps the one set of every field instead (a field set on a cell later is in it already, so the set is
    never changed; pydantic's `model_copy` copies it before it adds to it) and the distribution it was given (equal
    to the copy: `dict[str, int]` of str and int). `model_construct` would skip the copies too but builds each cell
    in Python: slower than validating (bench/README.md, mem31)."""
    cell = ResultCell(**values)
    _set_attribute(cell, "__pydantic_fields_set__", _SHARED_FIELDS)
    if values.get("distribution") is not None:
        cell.__dict__["distribution"] = values["distribution"]
    return cell


def _with(cell: ResultCell, update: dict[str, Any]) -> ResultCell:
    """`cell.model_copy(update=update)` sharing the one fields-set (`made_cell`)."""
    return made_cell({**cell.__dict__, **update})


#: of a part's cells, those its reader may read (`_Read.keep`)
Keep = Callable[[list[ResultCell]], Awaitable[list[ResultCell]]]


@dataclass(frozen=True)
class Filters:
    organiser_id: str | None = None
    unit_id: str | None = None
    subject_code: str | None = None
    school_year: str | None = None
    term: str | None = None
    round: int | None = None
    kind: str | None = None
    year: int | None = None
    gender: str | None = None
    split: Sequence[Split] = field(default_factory=tuple)


@dataclass(frozen=True)
class Scope:
    """What a caller may see: `principal` (completed from the directory) narrows the rows,
    `suppressed` are the levels at which small groups are withheld for it, under `rules`."""

    organiser_ids: frozenset[str] | None = None
    principal: Principal | None = None
    suppressed: frozenset[AuthLevel] = frozenset()
    rules: DisclosureRules = field(default_factory=DisclosureRules)


#: The scope of the request being answered, set by the route's access check (`figures.routes.ask`):
#: a read given no scope of its own is narrowed by it, so no figure query can forget the caller.
CURRENT_SCOPE: ContextVar[Scope | None] = ContextVar("reporting_read_scope", default=None)


def scoped(query: Any, organiser_column: Any, scope: Scope | None) -> Any:
    """The seam every read (results and figures) goes through: narrow `query` to the caller's scope."""
    scope = scope or CURRENT_SCOPE.get()
    if scope is not None and scope.organiser_ids is not None:
        query = query.where(any_of(organiser_column, scope.organiser_ids))
    return query


class TooManyCells(Problem):
    """A read that would answer more than `max_cells` cells: refused whole (422), never answered in part — its rows
    and cells are held until encoded, so one read of every student nationally was GBs in one worker (issue 16). A
    student-level read within it is sent in parts as it is read (`student_parts`); the bound is decided before its
    first byte all the same (`count_cells`)."""

    def __init__(self, max_cells: int, filters: Filters, kind: Kind) -> None:
        open_ = [name for name in NARROWING[kind] if getattr(filters, name) is None]
        narrow = f"; narrow it by {', '.join(open_)}" if open_ else ""
        message = (f"this read has more than {max_cells:,} cells, the most one read answers{narrow} "
                   f"(or read a level above)")
        super().__init__(422, "Read too large", message,
                         [field_error(name, "too_many_cells", message) for name in open_ or ["level"]])


_GROUP_BY = {"assessments": ("level", "unit_id", "subject_code", "school_year", "term", "round", "kind", "scale"),
             "forecasts": ("level", "unit_id", "subject_code", "school_year", "term")}


class KeptReads:
    """Cells already read, per state version: the cells of a read are a function of the materialised state
    (`disclose.state_version`, read before the cells), the filters and the reader's scope. Kept for the levels above
    the school unit (few cells a read), bounded by the cells held (`max_cells`, `results_kept_cells`), the least
    recently used out first; a read of more cells than that is not kept. Bounded by reads alone (512), the cell
    check's reads of every organiser's area, organiser and nation level (64 cells each, ~0.115 MiB of RSS a read)
    grew a worker until 512 reads (~170 organisers): 205 MiB at 200 organisers, 154 with this bound — its peak grew with
    the organisers read (bench/README.md, reads30)."""

    def __init__(self, max_cells: int, *, published: bool = False) -> None:
        self.max_cells, self.cells = max_cells, 0
        self._reads: OrderedDict[Hashable, list[ResultCell]] = OrderedDict()
        self.published = published  # on /metrics (the process's `KEPT`)

    def __len__(self) -> int:
        return len(self._reads)

    def clear(self) -> None:
        self._reads.clear()
        self.cells = 0
        self._publish()

    def _publish(self) -> None:
        if self.published:
            KEPT_CELLS.set(self.cells)

    def get(self, key: Hashable) -> list[ResultCell] | None:
        found = self._reads.get(key)
        if found is not None:
            self._reads.move_to_end(key)
        return found

    def keep(self, key: Hashable, cells: list[ResultCell]) -> None:
        old = self._reads.pop(key, None)
        if old is not None:
            self.cells -= len(old)
        if len(cells) <= self.max_cells:
            self._reads[key] = cells
            self.cells += len(cells)
            while self.cells > self.max_cells:
                _, dropped = self._reads.popitem(last=False)
                self.cells -= len(dropped)
        self._publish()


#: what `KEPT` holds now; each uvicorn worker keeps its own, so the workers' values add up (`livesum`)
KEPT_CELLS = Gauge("styrkedja_results_kept_cells", "Cells of results reads kept (results.read.KEPT)",
                   multiprocess_mode="livesum")
KEPT = KeptReads(4_096, published=True)  # `main.create_app` sets it from `results_kept_cells`
_KEPT_LEVELS = frozenset({"nation", "organiser", "area"})


async def read_cells(session: AsyncSession, kind: Kind, level: Level, filters: Filters,
                     scope: Scope | None = None, max_cells: int | None = None) -> list[ResultCell]:
    """The cells of a read. `max_cells`: a read of more cells than that (of those the reader may read: what is held)
    raises `TooManyCells`; None (the service's own checks) reads every cell."""
    if level not in _KEPT_LEVELS:
        return await _read_cells(session, kind, level, filters, scope, max_cells)
    key = (await state_version(session), kind, level, filters, scope, max_cells)
    found = KEPT.get(key)
    if found is None:
        found = await _read_cells(session, kind, level, filters, scope, max_cells)
        KEPT.keep(key, found)
    return list(found)


def nation_unit() -> Any:
    """The nation's one unit as a selected column: a nation read takes the organiser level's cells
    (`rules.read_level`) and names them all `NATION` (a constant in the SQL, not a bind: it is selected, not grouped by)."""
    return literal_column(f"'{NATION}'")


def level_rows(level_column: Any, level: str) -> Any:
    """SQL: the stored rows a read of `level` takes (`rules.read_level`: the nation's are the organiser level's, summed).
    For the nation the level is a constant in the SQL, not a bind, so that the planner takes the partial index of
    those rows (`ix_*_nation`, migration 0023: a nation read looked through the whole table for them — 2M rows at 290
    organisers for 15k) in every plan."""
    if level == "nation":
        return level_column == literal_column(f"'{read_level('nation')}'")
    return level_column == read_level(level)


@dataclass(frozen=True)
class _Query:
    """A read's SQL: `rows` its rows (one a value of each cell, ordered by the cells' keys), `cells` one row a cell
    (their count, `count_cells`), `group_by` the names of a cell's key."""

    rows: Any
    cells: Any
    group_by: list[str]


def _query(kind: Kind, level: Level, filters: Filters, scope: Scope | None) -> _Query:
    store = STORES[kind]
    extra: tuple[str, ...] = ()
    if level != "nation":
        extra = ("organiser_id",) if level != "student" else ("organiser_id", "school_unit_code", "group_id")
    group_by = [*_GROUP_BY[kind], *extra, *filters.split]
    source: dict[str, Any]
    if level == "student":  # the facts are the student level (see rules.MATERIALISED)
        facts = store.facts.c
        source = {**{c.name: c for c in facts}, "unit_id": facts.student_id}
        condition = ~facts[store.hidden]
        count: Any = func.count()
    else:
        # an area's cells are its school units' rows (no area rows are kept: `tables.with_areas`); every other
        # level reads the table by its key
        agg = store.read_rows.c if level == "area" else store.aggregates.c
        source = {c.name: c for c in agg}
        condition = level_rows(agg.level, level)
        if level == "nation":
            source["unit_id"] = nation_unit()
        count = func.sum(agg.count)
    keys = [source[name].label(name) for name in group_by if name != "level"]
    query = select(literal(level).label("level"), *keys, source["value"], count.label("count")).where(condition)
    for name in ("organiser_id", "unit_id", "subject_code", "school_year", "term", "round", "kind", "year",
                 "gender"):
        value = getattr(filters, name)
        if value is not None and name in source:
            query = query.where(source[name] == value)
    query = scoped(query, source["organiser_id"], scope)
    grouping = [source[name] for name in group_by if name != "level" and (name != "unit_id" or level != "nation")]
    cells = query.with_only_columns(literal(1)).group_by(*grouping)
    return _Query(query.group_by(*grouping, source["value"]).order_by(*grouping, source["value"]), cells, group_by)


async def count_cells(session: AsyncSession, kind: Kind, level: Level, filters: Filters, scope: Scope | None,
                      most: int) -> int:
    """How many cells the read has before a reader's cells are picked (`_readable`): at most `most` + 1 counted."""
    cells = _query(kind, level, filters, scope).cells.limit(most + 1).subquery()
    return int((await session.execute(select(func.count()).select_from(cells))).scalar_one())


async def _read_cells(session: AsyncSession, kind: Kind, level: Level, filters: Filters,
                      scope: Scope | None = None, max_cells: int | None = None) -> list[ResultCell]:
    made = _query(kind, level, filters, scope)
    query, group_by = made.rows, made.group_by
    # the nation narrowed to one organiser is that organiser's students: judged as its organiser cell (`key_of`),
    # and read by whoever reads that organiser (`guard.read_scope` let it through so): a politician, who reads its
    # organiser but no nation, had every row dropped as a nation row — an empty answer, as if it had no students
    judged = "organiser" if level == "nation" and filters.organiser_id is not None else level
    principal = scope.principal if scope is not None else None
    keep = _keep_of(session, principal if judged == level else None, level)
    # the rows of `max_cells` + 1 cells at most (a cell is a row per value): what a read holds is bounded in the
    # query too; a read cut there has more cells than the bound (`_cells` counts). Not where cells are picked after
    # the query: its rows are not the answer's
    most_rows = None if max_cells is None or keep is not None else (max_cells + 1) * VALUES_PER_CELL
    if most_rows is not None:
        query = query.limit(most_rows)
    # the rows streamed a part at a time (a server-side cursor): never all held beside the cells, and a read past
    # the bound stops fetching at its first part past it (fetched whole, a refused group read held 6 rows a cell)
    read = _Read(most_rows, max_cells, keep=keep)
    result = await session.stream(query.execution_options(yield_per=CELLS_PER_TURN))
    try:
        cells = await _cells(result.partitions(), group_by, _scale_of(kind), read)
    finally:
        await result.close()
    if read.cut:
        raise TooManyCells(cast(int, max_cells), filters, kind)
    if scope is None:
        return cells
    if principal is not None and judged != level:
        cells = cells if may_read(principal, Node(AuthLevel.ORGANISER, organiser_id=filters.organiser_id)) else []
    if AuthLevel[judged.upper()] in scope.suppressed and cells:
        if level == "student":  # one student each: withheld whenever N > 1 (`guard.students_withheld`)
            return await in_turns(cells, _withheld) if scope.rules.min_students > 1 else cells
        if undecided(judged, scope.suppressed):  # no decision of the class covers the level: every cell withheld
            return await in_turns(cells, _withheld)
        family = "assessment" if kind == "assessments" else "forecast"
        decision = await decision_for(session, {(family, c.school_year, c.subject_code) for c in cells},
                                      scope.suppressed, scope.rules)
        cells = await in_turns(cells, lambda c: _disclosed(c, decision.disclosure, key_of(kind, c, filters)))
    return cells


#: the cursor a student-level read's rows are held in past its commit (`hold_student_rows`): one a connection, which
#: serves one request at a time
HELD_CURSOR = "student_read_rows"


@dataclass
class HeldRows:
    """A student-level read's rows, declared `WITH HOLD` in the transaction that decided the read (`hold_student_rows`)
    and fetched from after it committed, on its one connection; `placed`: the placements of its school units as that
    transaction read them (a reader whose cells are picked, judged on them)."""

    connection: AsyncConnection
    group_by: list[str]
    placed: dict[str, tuple[str, str | None]] | None
    committed: bool = False  # its transaction committed: the cursor is there to close (rolled back, it is not)
    closed: bool = False


async def hold_student_rows(session: AsyncSession, kind: Kind, filters: Filters, scope: Scope | None) -> HeldRows:
    """The rows `read_cells` reads for a student-level read, declared as a cursor `WITH HOLD` in the session's
    transaction: at its commit PostgreSQL keeps them (in its own memory, past `work_mem` on its disk), so that the
    answer sent after the commit is the state that transaction read — the scope, the count against the bound and the
    audit row committed with them (results.routes, bench/README.md stream33). The caller commits, then reads
    `student_parts` and closes (`release_held`). A reader whose cells are picked has its school units' placements
    read here too, in the same snapshot. The bound is the caller's (`count_cells`)."""
    made = _query(kind, "student", filters, scope)
    connection = await session.connection()
    # the ORM's server-side cursor ends with its transaction; a DECLARE's outlives it. The statement's own SQL and
    # parameters, bound by the server (`$n`), never written into the text
    compiled = made.rows.compile(dialect=connection.dialect, compile_kwargs={"render_postcompile": True})
    params = compiled.construct_params()
    names = compiled.positiontup or []
    # a held cursor left on the connection (its answer never sent, so never closed) would refuse the DECLARE on this
    # connection for good: the pool gives connections back with a ROLLBACK, which closes no held cursor
    await connection.exec_driver_sql("CLOSE ALL")
    await connection.exec_driver_sql(f"DECLARE {HELD_CURSOR} NO SCROLL CURSOR WITH HOLD FOR {compiled.string}",
                                     tuple(params[name] for name in names))
    placed = None
    if scope is not None and scope.principal is not None:
        # the rows' school units: the read's own conditions, neither grouped nor ordered (a second GROUP BY of every
        # cell's key, as `count_cells`, was a sort of the organiser's facts more before the first byte)
        units = made.rows.with_only_columns(STORES[kind].facts.c.school_unit_code).group_by(None).order_by(None)
        codes = (await session.execute(units.distinct())).scalars()
        placed = await placements_of(session, [c for c in codes if c])
    return HeldRows(connection, made.group_by, placed)


async def release_held(held: HeldRows) -> None:
    """Close the held cursor: it outlives transactions, and a connection given back to the pool holding it would keep
    its rows on the server and refuse its next read's DECLARE. Where the close fails the connection is not given back
    at all (invalidated)."""
    if held.closed:
        return
    held.closed = True
    try:
        await held.connection.exec_driver_sql(f"CLOSE {HELD_CURSOR}")
        await held.connection.commit()
    except BaseException:
        await held.connection.invalidate()
        raise


async def student_parts(held: HeldRows, kind: Kind, scope: Scope | None) -> AsyncGenerator[list[ResultCell]]:
    """The cells `read_cells` answers a student-level read, a part at a time as the held rows are fetched
    (`hold_student_rows`), for an answer sent as it is read (`routes`): the same query, the same cells picked for the
    reader, the same withholding — at student level each cell's own (one student: withheld whenever N > 1), no total
    over the answer, so a part is decided whole before it is sent. Unbounded: the caller bounds it first
    (`count_cells`). Empty parts are not given."""
    withhold = scope is not None and AuthLevel.STUDENT in scope.suppressed and scope.rules.min_students > 1
    principal = scope.principal if scope is not None else None
    keep: Keep | None = None
    if principal is not None:
        reader, placed = principal, held.placed or {}

        async def picked(cells: list[ResultCell]) -> list[ResultCell]:
            return await _readable(None, reader, "student", cells, placed)
        keep = picked

    async def fetched() -> AsyncIterator[Sequence[Any]]:
        fetch = f"FETCH FORWARD {CELLS_PER_TURN} FROM {HELD_CURSOR}"
        while part := (await held.connection.exec_driver_sql(fetch)).all():
            yield part

    async for cells in _cell_parts(fetched(), held.group_by, _scale_of(kind), _Read(keep=keep)):
        if cells:
            yield [_withheld(c) for c in cells] if withhold else cells


def _keep_of(session: AsyncSession, principal: Principal | None, level: Level) -> Keep | None:
    """A reader whose duties pick its cells (a teacher's groups, a principal's units) has them picked part by part as
    the rows stream, and only what it may read counts against the bound: its organiser's other students are read
    past, never held (counted before they were picked, a teacher in an organiser of more than the bound was refused).
    None: every cell kept."""
    if principal is None:
        return None
    reader = principal

    async def picked(cells: list[ResultCell]) -> list[ResultCell]:
        return await _readable(session, reader, level, cells)
    return picked


def _scale_of(kind: Kind) -> Callable[[dict[str, Any]], Scale]:
    if kind == "assessments":
        return lambda cell: _scale(cell.pop("scale"))
    return lambda cell: Scale.THREE_LEVEL


_T = TypeVar("_T")
_U = TypeVar("_U")


async def parts_of(items: list[_T], *, release: bool = False) -> AsyncIterator[list[_T]]:
    """`items` `CELLS_PER_TURN` at a time, the event loop given a turn before each part but the first. `release`
    (a list no one reads after): each part's places emptied once it is done with, so that what only it held is freed
    part by part — freed at once, the cells of a national read were another stall of their own (bench/README.md,
    scale28)."""
    for start in range(0, len(items), CELLS_PER_TURN):
        if start:
            if release:
                done = cast(list[Any], items)
                done[start - CELLS_PER_TURN:start] = [None] * CELLS_PER_TURN
            await asyncio.sleep(0)
        yield items[start:start + CELLS_PER_TURN]


async def in_turns(items: list[_T], each: Callable[[_T], _U]) -> list[_U]:
    """`[each(x) for x in items]`, giving the event loop a turn after every `CELLS_PER_TURN`; `items` is used up
    (`parts_of`'s `release`)."""
    out: list[_U] = []
    async for part in parts_of(items, release=True):
        out += [each(x) for x in part]
    return out


async def _readable(session: AsyncSession | None, principal: Principal, level: Level,
                    cells: list[ResultCell], placed: dict[str, tuple[str, str | None]] | None = None
                    ) -> list[ResultCell]:
    """The cells the principal may read (the node of each, with its area from the placements: read in `session`,
    or `placed`, read already)."""
    auth_level = AuthLevel[level.upper()]
    if placed is None:
        assert session is not None, "placements read in a session, or given"
        codes: set[str | None] = set()
        async for part in parts_of(cells):
            codes.update(c.school_unit_code or (c.unit_id if level == "school_unit" else None) for c in part)
        placed = await placements_of(session, [c for c in codes if c])
    # a student's node is its group's (`node_from` takes no student id): the ~1,600 cells of a class judged once
    by_place: dict[tuple[str | None, ...], bool] = {}
    student = auth_level is AuthLevel.STUDENT

    def readable(c: ResultCell) -> bool:
        place = (c.organiser_id, None if student else c.unit_id, c.school_unit_code, c.group_id)
        found = by_place.get(place)
        if found is None:
            found = by_place[place] = may_read(principal, node_from(
                auth_level, c.organiser_id, c.unit_id, placed, school_unit_code=c.school_unit_code,
                group_id=c.group_id))
        return found

    out: list[ResultCell] = []
    async for part in parts_of(cells, release=True):
        out += [c for c in part if readable(c)]
    return out


def key_of(kind: str, cell: ResultCell, filters: Filters) -> Hashable:
    """The key of a cell in the one decision (`access.decision`): its results slice, unit and gender."""
    gender = cell.gender if "gender" in filters.split else (filters.gender or "*")
    year = cell.year if "year" in filters.split else (filters.year if filters.year is not None else "*")
    slice_ = tuple(getattr(cell, name) for name in SLICE[kind])
    if cell.level == "nation" and filters.organiser_id is not None:  # that organiser's share: its own cell
        unit = unit_of("organiser", filters.organiser_id, filters.organiser_id)
    else:
        unit = unit_of(cell.level, None if cell.level == "nation" else cell.organiser_id, cell.unit_id)
    return tree_key(results_slice(kind, slice_, year if year is not None else "*"), unit, gender or "*")


def _withheld(cell: ResultCell) -> ResultCell:
    return _with(cell, {"distribution": None, "assessed": None, "reaching_pass": None,
                        "share_reaching_pass": None,
                        "reason": Reason.OMITTED_DUE_TO_BASED_ON_FEW_PUPILS.value})


def _disclosed(cell: ResultCell, disclosure: Disclosure, key: Any) -> ResultCell:
    reason = disclosure.reason(key)
    if reason is Reason.OMITTED_DUE_TO_BASED_ON_FEW_PUPILS and key in disclosure.withheld:
        return _withheld(cell)
    assessed = disclosure.count(key, cell.assessed, outcome=False).value
    if key in disclosure.near_full:  # `~100`: the share only approximately, the outcome counts withheld
        return _with(cell, {"distribution": None, "reaching_pass": None, "share_reaching_pass": None,
                            "assessed": assessed, "reason": Reason.EXISTS.value,
                                       "approximately": TABLE_NEAR_FULL})
    if reason is Reason.OMITTED_DUE_TO_BASED_ON_FEW_PUPILS:  # outcome withheld (`~100` complement), students shown
        return _with(cell, {"distribution": None, "reaching_pass": None, "share_reaching_pass": None,
                            "assessed": assessed, "reason": reason.value})
    distribution = cell.distribution if disclosure.rules.round_counts_to is None else {
        v: disclosure.count(key, n).value for v, n in (cell.distribution or {}).items()}
    share = disclosure.share(key, cell.share_reaching_pass, of=(cell.reaching_pass or 0, cell.assessed or 0))
    return _with(cell, {
        "assessed": assessed, "distribution": distribution,
        "reaching_pass": disclosure.count(key, cell.reaching_pass).value,
        "share_reaching_pass": share.value,
        # the share's own reason: where counts are rounded, students that round to 0 give no share of the counts
        # shown — withheld (too few students), which the cell said EXISTS of, a null share read as no figure ("–")
        "reason": (share.reason if share.reason is Reason.OMITTED_DUE_TO_BASED_ON_FEW_PUPILS else Reason.EXISTS).value})


_SCALES = {scale.value: scale for scale in Scale}


def _scale(value: str) -> Scale:
    """`Scale(value)` without the enum's call per cell."""
    found = _SCALES.get(value)
    return found if found is not None else Scale(value)


@dataclass
class _Read:
    """The bound of one read (`_cells`): `cut` once it has more than `max_cells` cells or its query's `most_rows`
    rows (the limit hit: rows left unread, so the cells would not be whole)."""

    most_rows: int | None = None
    max_cells: int | None = None
    #: the cells of a part the reader may read (None: every cell); only those are kept and counted
    keep: Keep | None = None
    rows: int = 0
    cut: bool = False


async def _cells(parts: AsyncIterable[Sequence[Any]], group_by: list[str],
                 scale_of: Callable[[dict[str, Any]], Scale], read: _Read | None = None) -> list[ResultCell]:
    """The rows, in parts, as cells (`_cell_parts`), all of them. Past `read`'s bound the rest is not made:
    `read.cut`, and the cells made so far are no answer."""
    read = read or _Read()
    out: list[ResultCell] = []
    async for cells in _cell_parts(parts, group_by, scale_of, read):
        out += cells
        if read.max_cells is not None and len(out) > read.max_cells:  # past it already: read no further
            read.cut = True
    if read.cut:
        return []
    return out


async def _cell_parts(parts: AsyncIterable[Sequence[Any]], group_by: list[str],
                      scale_of: Callable[[dict[str, Any]], Scale], read: _Read) -> AsyncIterator[list[ResultCell]]:
    """The rows, in parts, as cells: a part's whole cells (those `read.keep` keeps) as its rows are read; a turn of
    the loop after each part. The rows come ordered by the cells' keys (the query's ORDER BY is its GROUP BY), a
    cell's rows (one per value) one after the other: a cell is made as its last row has been read, never all of them
    held as dicts first (freed at once, a stall of their own). Stops at `read.cut` (set here at `read.most_rows`)."""
    key_of_row = attrgetter(*group_by)  # several names: a tuple
    key: tuple[Any, ...] | None = None
    # asyncpg decodes every row's text anew: a student's cell held its own copy of its organiser, school unit,
    # group, subject, year and term (~290 B a cell). One copy of each per read instead; not the unit's id (a
    # student's is its cell's alone: kept here, it would only add an entry per cell)
    canon: dict[Any, Any] = {}  # the key's ints and None too: a value of any type is its own single copy
    one_copy = canon.setdefault
    unit_at = group_by.index("unit_id")
    distribution: dict[str, int] = {}
    # likewise a cell's distribution and share, each a handful of values at student level (a student's one result:
    # {value: 1}, 0 or 100 %): the same dict (184 B) and float for every cell that has them. A distribution is never
    # changed once its cell is made (the disclosure makes a new one where it rounds)
    distributions: dict[tuple[tuple[str, int], ...], dict[str, int]] = {}
    shares: dict[float | None, float | None] = {}

    def made() -> ResultCell:
        cell: dict[str, Any] = dict(zip(group_by, key or (), strict=True))
        scale = scale_of(cell)
        assessed = sum(distribution.values())
        passing = sum(n for value, n in distribution.items() if reaches_pass(scale, value))
        if cell["level"] == "group":
            cell["school_unit_code"], cell["group_id"] = cell["unit_id"].split(GROUP_SEPARATOR, 1)
        ratio = share(passing, assessed)
        return made_cell({**cell, "distribution": distributions.setdefault(tuple(distribution.items()), distribution),
                          "scale": scale.value, "assessed": assessed, "reaching_pass": passing,
                          "share_reaching_pass": shares.setdefault(ratio, ratio)})

    n = 0
    async for part in parts:
        if n:
            await asyncio.sleep(0)
        n += 1
        read.rows += len(part)
        if read.cut or (read.most_rows is not None and read.rows >= read.most_rows):
            read.cut = True
            return
        made_now: list[ResultCell] = []
        for row in part:
            row_key = key_of_row(row)
            if row_key != key:
                if key is not None:
                    made_now.append(made())
                before, after = row_key[:unit_at], row_key[unit_at + 1:]
                key, distribution = (*map(one_copy, before, before), row_key[unit_at],
                                     *map(one_copy, after, after)), {}
            value = one_copy(row.value, row.value)
            distribution[value] = distribution.get(value, 0) + int(row.count)
        yield await read.keep(made_now) if read.keep is not None and made_now else made_now
        if read.cut:  # past the bound already (`_cells`): read no further
            return
    if key is not None:
        last = [made()]
        yield await read.keep(last) if read.keep is not None else last

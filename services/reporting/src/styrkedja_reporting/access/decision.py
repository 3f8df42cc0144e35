"""One disclosure decision per cell, whichever endpoint, format or filter shows it.

A decision is computed per *component* — the cells that equations can tie together — over the whole
tree: every level (group, school unit, area, organiser, nation), every organiser, every gender part
and year, read here without the reader's scope or the request's filters, and kept per state version
(`results.disclose.state_version`), suppressed levels and rules — and by the rows it was taken on, so
that on a new state version only the components whose rows changed are decided again. The results endpoint and every
figure endpoint (trend, history, gender gap, freshness, coverage, drill-down, forecast against
outcome, merit; JSON, CSV, xlsx) look their cells up in it, so a complement withheld in one view is
withheld in every other and no two responses together give a withheld value away.

Components and their cells (a slice is what a cell is keyed by besides its unit and gender):
- `("assessment", school year, subject)`:
  - `("results", (subject, school year, term, round, kind, scale), year | "*")` — the results
    endpoint's distributions (students assessed, per gender; `*` year = the sum of the years);
  - `("pass", subject, year, period)` — the figures' students assessed in a term or round (per
    gender): trend, history, gender gap, freshness, drill-down `pass`. Where it equals the sum of
    the results cells of its term (or round) it is *linked* to them (`pass = Σ results`);
  - `("coverage", subject, year, period)` — distinct students with a result: coverage; linked to
    the pass cell where the two are equal (one result per student);
- `("forecast", school year, subject)`: `("forecasts", (subject, school year, term), year | "*")`
  (results endpoint) and `("forecast", subject, year, period)` (forecast against outcome, with or
  without `gender=`), linked where equal;
- `("merit", school year, term)`: `("merit", year, period)` — the fewest students a merit row rests
  on (graded, year 9), per gender.

Within a component the decision is `access.disclosure.disclose` over all the equations that hold
exactly in the data (parent = Σ children per gender, total = Σ gender parts, `*` year = Σ years,
the links); the rows are put in a canonical order first, so the decision is a function of the data
alone.

The count tables take the same kind of decision (`counts_decision`, kept in the same cache): the
support figures one per family, subject (and, for open investigations, weeks and day) over every
organiser at school-unit, area, organiser and nation level (`support.disclose`); the roster sizes
one per organiser and day over its school units, areas and itself (`directory.disclose`; no nation
total of the rosters is shown), which the figures' coverage uses for its roster size. The rule in
words: a count of 1 to N-1 students is withheld at a level the reader class suppresses, and so is
enough else that it cannot be worked out from anything a reader of the class sees in any response —
its siblings, its parent's total and the parent's own small parts, its children; the parent is a
cell of its own, withheld where that is the smaller loss or where no sibling can hide the count (an
only child), and then in the parent's own view too. Only what the cells a class sees exactly give
away (an area manager's school units adding up to the area) is left unprotectable: withheld where
small, and named in `Disclosure.unprotectable`.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import time
from collections import OrderedDict, defaultdict
from collections.abc import Awaitable, Callable, Hashable, Iterable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

from sqlalchemy import and_, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from styrkedja_contracts.scales import Scale, reaches_pass, scale_values
from styrkedja_kit.auth import Level
from styrkedja_kit.sets import any_of

from ..figures.merit import MeritTally
from ..figures.tables import FORECAST_COUNTERS, MERIT_COUNTERS, figure_forecasts, figure_merit, figure_pass
from ..results.rules import NATION
from ..results.tables import STORES
from .complement import (
    TOTAL,
    TreeDecision,
    TreeRow,
    TreeUnit,
    may_withhold,
    protect_tree,
    tree_key,
    tree_parent,
    unit_of,
)
from .disclosure import DisclosureRules
from .scope import placements_of

GENDERS = ("female", "male", "unknown")
_T = TypeVar("_T")
ALL_YEARS = "*"
PeriodId = tuple[str, str]
Component = tuple[str, str, str]  # ("assessment" | "forecast", school year, subject) or ("merit", school year, term)

_DECISIONS: OrderedDict[Hashable, TreeDecision] = OrderedDict()
DECISIONS_KEPT = 256

#: The levels whose cells no endpoint shows to a reader class that is suppressed at *every* level
#: (politician: area and organiser, drill-down one level down; public: organiser and nation): left out
#: of that class's decision. A cell no reader of the class sees is an unknown that only ever meets
#: other unknowns or sums of them (a unit = Σ its groups, all unseen), so it adds no equation
#: between shown cells; leaving the group level out keeps the decision small (a Mittköping-sized
#: organiser: ~2,000 cells and 0.2–0.5 s instead of ~15,000 cells and up to 96 s) and withholds far
#: less (16–36 % of the cells instead of 83–89 %).
UNSEEN_WHEN_ALL_SUPPRESSED = frozenset({"group"})


def left_out(suppressed: frozenset[Level]) -> frozenset[str]:
    """The levels left out of the decision of readers with these suppressed levels."""
    return UNSEEN_WHEN_ALL_SUPPRESSED if suppressed >= frozenset(Level) - {Level.STUDENT} else frozenset()


def undecided(level: str, suppressed: frozenset[Level], covered: Iterable[str] | None = None) -> bool:
    """Whether a read at `level` is suppressed for the class but no decision of it covers the level (left out, or
    not among the `covered` levels of a count table's decision): every figure there is withheld
    (`complement.EveryCellWithheld`)."""
    if Level[level.upper()] not in suppressed:
        return False
    return level in left_out(suppressed) or (covered is not None and level not in covered)


def results_slice(kind: str, slice_: tuple[Any, ...], year: int | str) -> Hashable:
    return ("results" if kind == "assessments" else "forecasts", tuple(slice_), year)


def pass_slice(subject: str, year: int, period: PeriodId) -> Hashable:
    return ("pass", subject, year, tuple(period))


def coverage_slice(subject: str, year: int, period: PeriodId) -> Hashable:
    return ("coverage", subject, year, tuple(period))


def forecast_slice(subject: str, year: int, period: PeriodId) -> Hashable:
    return ("forecast", subject, year, tuple(period))


def merit_slice(year: int, period: PeriodId) -> Hashable:
    return ("merit", year, tuple(period))


async def decision_for(session: AsyncSession, components: Iterable[Component], suppressed: frozenset[Level],
                       rules: DisclosureRules, version: Hashable | None = None, *, asked: bool = True) -> TreeDecision:
    """The decision over these components (each from the cache when the state has not changed; else
    the rows of every missing one read at once, and decided anew only where they changed — in the
    decision thread, off the event loop, and once however many requests ask for it at the same time).
    `asked`: a reader asked (`access.warm` decides it again after the next batch); False for the warming itself."""
    from ..results.disclose import state_version  # the state version lives with the results read path

    version = version if version is not None else await state_version(session)
    wanted = sorted(set(components))
    if asked:
        note_asked(("components", suppressed, rules, tuple(wanted)),
                   lambda s, v: decision_for(s, wanted, suppressed, rules, v, asked=False))
    found: dict[Component, TreeDecision] = {}
    while True:
        waiting: dict[Component, asyncio.Future[TreeDecision]] = {}
        for component in wanted:
            if component in found:
                continue
            key = (version, component, suppressed, rules)
            kept = _DECISIONS.get(key)
            if kept is not None:
                _DECISIONS.move_to_end(key)
                found[component] = kept
            elif key in _IN_FLIGHT:  # another request is deciding it: its decision, not a second one
                waiting[component] = _IN_FLIGHT[key]
        missing = [c for c in wanted if c not in found and c not in waiting]
        if missing:
            waiting.update(await _decide_components(session, missing, suppressed, rules, version))
        abandoned = False
        for component, future in waiting.items():
            try:
                found[component] = await asyncio.shield(future)
            except _Abandoned:  # its asker went away before the rows were read: decided here instead
                abandoned = True
        if not abandoned:
            return await union_of([found[c] for c in wanted], rules)


#: The unions of several components' decisions taken lately (a trend's 16 subjects: merging their cells is
#: ~O(cells), done on every read that is not an answer kept): by the identity of their parts, which the entry
#: holds (so no id is reused while it is kept). Few: each is as large as its parts.
_UNIONS: OrderedDict[Hashable, tuple[list[TreeDecision], TreeDecision]] = OrderedDict()
UNIONS_KEPT = 8


async def union_of(parts: list[TreeDecision], rules: DisclosureRules) -> TreeDecision:
    """`TreeDecision.union` of these decisions, kept (`_UNIONS`), merged in the decision thread when new."""
    if len(parts) == 1:
        return parts[0]
    key = (tuple(map(id, parts)), rules)
    kept = _UNIONS.get(key)
    if kept is not None and all(a is b for a, b in zip(kept[0], parts, strict=True)):
        _UNIONS.move_to_end(key)
        return kept[1]
    union = await asyncio.get_running_loop().run_in_executor(_DECIDER, TreeDecision.union, parts, rules)
    _UNIONS[key] = (parts, union)
    while len(_UNIONS) > UNIONS_KEPT:
        _UNIONS.popitem(last=False)
    return union


class _Abandoned(Exception):
    """The request deciding a component went away before its rows were read (cancelled, failed)."""


#: The decisions being taken, by their `_DECISIONS` key: a request that needs one waits for it.
_IN_FLIGHT: dict[Hashable, asyncio.Future[TreeDecision]] = {}


async def _decide_components(session: AsyncSession, missing: list[Component], suppressed: frozenset[Level],
                             rules: DisclosureRules, version: Hashable) -> dict[Component, asyncio.Future[TreeDecision]]:
    """Read the rows of the missing components and decide each whose rows were not decided before, in the
    decision thread; the futures resolve when it is done (whether or not this request still waits), and
    are `_IN_FLIGHT` meanwhile for any other request asking the same."""
    loop = asyncio.get_running_loop()
    futures = {c: loop.create_future() for c in missing}
    keys = {c: (version, c, suppressed, rules) for c in missing}
    for c in missing:
        _IN_FLIGHT[keys[c]] = futures[c]
    handed_over = False
    try:
        without = left_out(suppressed)
        read, placed = await components_read(session, missing, without)
        # rows read at the version the decisions are kept by: one read of it before, one after (a batch
        # commits its rows and its version together); else kept by their rows only, never by `version`
        same_version = await rows_at(session, version)
        # the digests too in the decision thread: a trend's 16 components are ~100k rows to repr and hash
        digests = await loop.run_in_executor(_DECIDER, _digests, [read[c] for c in missing], placed)
        solved: list[tuple[Component, Hashable, RawRows, Mapping[str, Any]]] = []
        for component, digest in zip(missing, digests, strict=True):
            by_rows = (component, suppressed, rules, digest)
            kept = _BY_ROWS.get(by_rows)
            if kept is None:  # the rows changed (or were never decided): decided anew
                solved.append((component, by_rows, read[component], placed))
            else:
                _BY_ROWS.move_to_end(by_rows)
                _finish(keys[component], futures[component], kept, same_version)

        def done(result: asyncio.Future[list[TreeDecision]]) -> None:
            error = _Abandoned() if result.cancelled() else result.exception()
            for i, (component, by_rows, _, _) in enumerate(solved):
                if error is not None:
                    _fail(keys[component], futures[component], error)
                else:
                    decision = _keep(_BY_ROWS, by_rows, result.result()[i])
                    _finish(keys[component], futures[component], decision, same_version)

        if solved:
            SOLVED[0] += len(solved)
            work = [(component, raw, placed_, without) for (component, _, raw, placed_) in solved]
            loop.run_in_executor(_DECIDER, _solve_all, work, suppressed, rules).add_done_callback(done)
        handed_over = True
    finally:
        if not handed_over:  # the rows were never read: whoever waits decides for itself
            for c in missing:
                _fail(keys[c], futures[c], _Abandoned())
    return futures


def _finish(key: Hashable, future: asyncio.Future[TreeDecision], decision: TreeDecision, keep: bool) -> None:
    if keep:
        _keep(_DECISIONS, key, decision)
    if _IN_FLIGHT.get(key) is future:
        del _IN_FLIGHT[key]
    if not future.done():
        future.set_result(decision)


def _fail(key: Hashable, future: asyncio.Future[TreeDecision], error: BaseException) -> None:
    if _IN_FLIGHT.get(key) is future:
        del _IN_FLIGHT[key]
    if not future.done():
        future.set_exception(error)
        future.exception()  # retrieved: no warning when nobody waits


def _digests(raws: list[RawRows], placed: Mapping[str, tuple[str, str | None]]) -> list[bytes]:
    """Pure (runs in the decision thread): `raw_digest` of each component's rows."""
    return [raw_digest(raw, placed) for raw in raws]


def _solve_all(work: list[tuple[Component, RawRows, Mapping[str, Any], frozenset[str]]], suppressed: frozenset[Level],
               rules: DisclosureRules) -> list[TreeDecision]:
    """Pure (runs in the decision thread): each component's decision on its rows as read."""
    out = []
    for component, raw, placed, without in work:
        tree, links = tree_of(component_rows_of(component, raw), placed, without,
                              equations=lambda tree: any(may_withhold(r, suppressed, rules) for r in tree))
        out.append(TreeDecision.of(protect_tree(tree, suppressed=suppressed, rules=rules, links=links)))
    return out


#: The thread decisions are taken in, off the event loop: a decision is pure Python (it holds the GIL
#: but for the interpreter's switch interval, so the loop still answers other requests while it runs);
#: one thread, as a second would only share the same GIL and take more of it from the loop.
_DECIDER = ThreadPoolExecutor(max_workers=1, thread_name_prefix="disclosure-decision")


async def rows_at(session: AsyncSession, version: Hashable) -> bool:
    """Whether the rows just read are those of `version` (read before them): the state version again — a
    batch commits its rows and its version together, so the same version after means the same rows."""
    from ..results.disclose import state_version

    return await state_version(session) == version


# -- what was asked recently: the decisions `access.warm` takes again after each new state version ----
#: Decide it again on a given state version (in that session).
Redo = Callable[[AsyncSession, Hashable], Awaitable[Any]]
#: what was asked → (when last, monotonic seconds; how to decide it again). Bounded: the least recently asked go first.
_ASKED: OrderedDict[Hashable, tuple[float, Redo]] = OrderedDict()
ASKED_KEPT = 64


def note_asked(key: Hashable, redo: Redo) -> None:
    """Remember a decision a reader asked for (the components of one read and reader class, a count table)."""
    _ASKED[key] = (time.monotonic(), redo)
    _ASKED.move_to_end(key)
    while len(_ASKED) > ASKED_KEPT:
        _ASKED.popitem(last=False)


def recently_asked(within_seconds: float) -> list[Redo]:
    """How to decide again what was asked in the last `within_seconds`, most recent first (older ones forgotten)."""
    since = time.monotonic() - within_seconds
    for key in [k for k, (at, _) in _ASKED.items() if at < since]:
        del _ASKED[key]
    return [redo for _, redo in reversed(_ASKED.values())]


#: Decisions by what they were taken on (`decided`): a new state version moves every key of
#: `_DECISIONS`, but a batch changes the rows of a few components only (its subjects; a count table
#: its organiser's), and the decision is a function of the rows alone (`protect_tree`), so the others'
#: are taken again from here — never a decision for rows other than its own.
_BY_ROWS: OrderedDict[Hashable, TreeDecision] = OrderedDict()
BY_ROWS_KEPT = 1024
#: How many decisions were taken (`protect_tree` run): what a cold read costs, for tests and metrics.
SOLVED = [0]


def _keep(cache: OrderedDict[Hashable, TreeDecision], key: Hashable, decision: TreeDecision) -> TreeDecision:
    cache[key] = decision
    cache.move_to_end(key)
    while len(cache) > (DECISIONS_KEPT if cache is _DECISIONS else BY_ROWS_KEPT):
        cache.popitem(last=False)
    return decision


def rows_digest(rows: Iterable[TreeRow], links: Iterable[Any]) -> bytes:
    """Pure: a digest of everything a decision is taken on (each row's slice, unit, parent, counts and
    failing; the links), independent of their order."""
    canonical = sorted(repr((r.slice, r.unit, r.parent, sorted(r.counts.items()),
                             None if r.failing is None else sorted(r.failing.items()))) for r in rows)
    digest = hashlib.blake2b(digest_size=32)
    for line in canonical:
        digest.update(line.encode())
        digest.update(b"\n")
    digest.update(b"links\n")
    # a link's parts in any order are one equation (`protect_tree` sorts them)
    for line in sorted(repr((whole, sorted(map(repr, parts)))) for whole, parts in links):
        digest.update(line.encode())
        digest.update(b"\n")
    return digest.digest()


def decided(rows: list[TreeRow], links: list[Any], suppressed: frozenset[Level], rules: DisclosureRules,
            context: Hashable = None) -> TreeDecision:
    """`protect_tree` on these rows, or the decision already taken on exactly the same rows, reader
    class and rules (`context`: what the rows are of, so two tables never share an entry)."""
    key = (context, suppressed, rules, rows_digest(rows, links))
    kept = _BY_ROWS.get(key)
    if kept is not None:
        _BY_ROWS.move_to_end(key)
        return kept
    SOLVED[0] += 1
    return _keep(_BY_ROWS, key, TreeDecision.of(protect_tree(rows, suppressed=suppressed, rules=rules, links=links)))


# ------------------------------------------------------------------ count tables: support figures, roster sizes

#: The levels a count table's decision is taken over. The group level is left out: every reader class
#: either sees a group and its school unit both exactly (nothing to decide between them) or reads neither
#: (politician, public), so a group's cell adds no equation between cells a reader of the class sees.
COUNT_LEVELS = ("school_unit", "area", "organiser", "nation")


def decide_counts(rows: ComponentRows, placed: Mapping[str, tuple[str, str | None]], suppressed: frozenset[Level],
                  rules: DisclosureRules) -> TreeDecision:
    """Pure: one decision over every level of a count table at once (`protect_tree`): a row's parent is
    a cell of its own (the level above shows it), so a small row forces a complement among its
    siblings *and*, where the siblings cannot hide it (an only child, a sibling equal to its own
    visible part), the parent is withheld too — in every view of it, the parent's own included."""
    tree, links = tree_of(rows, placed, frozenset({"group"}))
    if rows.forced:  # taken on more than the rows (`ComponentRows.forced`): never one kept for the rows alone
        return _protect(tree, [*links, *rows.links], suppressed, rules, rows.forced)
    return decided(tree, [*links, *rows.links], suppressed, rules, context="counts")


def kept_counts_decision(key: Hashable, suppressed: frozenset[Level], rules: DisclosureRules,
                         version: Hashable) -> TreeDecision | None:
    """A count table's decision already taken on this state version (`counts_decision`), or None."""
    found = _DECISIONS.get((version, ("counts", key), suppressed, rules))
    if found is not None:
        _DECISIONS.move_to_end((version, ("counts", key), suppressed, rules))
    return found


def keep_counts_decision(key: Hashable, suppressed: frozenset[Level], rules: DisclosureRules, version: Hashable,
                         decision: TreeDecision) -> TreeDecision:
    return _keep(_DECISIONS, (version, ("counts", key), suppressed, rules), decision)


async def counts_decision(session: AsyncSession, key: Hashable,
                          read: Callable[[AsyncSession], Awaitable[ComponentRows]],
                          suppressed: frozenset[Level], rules: DisclosureRules,
                          version: Hashable | None = None, *, asked: bool = True) -> TreeDecision:
    """The decision on a count table (`key` names it and what its counts depend on: family, subject,
    date…), `read` giving its rows at every level of `COUNT_LEVELS`; kept per state version like the
    figures' (`decision_for`), so every response, format and level shows the same cells. Taken in the
    decision thread, once however many requests ask for it at the same time."""
    from ..results.disclose import state_version

    version = version if version is not None else await state_version(session)
    if asked:
        note_asked(("counts", key, suppressed, rules),
                   lambda s, v: counts_decision(s, key, read, suppressed, rules, v, asked=False))
    cache_key = (version, ("counts", key), suppressed, rules)
    while True:
        found = kept_counts_decision(key, suppressed, rules, version)
        if found is not None:
            return found
        running = _IN_FLIGHT.get(cache_key)
        if running is None:
            break
        with contextlib.suppress(_Abandoned):  # its asker went away before the rows were read: decided here
            return await asyncio.shield(running)
    future: asyncio.Future[TreeDecision] = asyncio.get_running_loop().create_future()
    _IN_FLIGHT[cache_key] = future
    try:
        rows = await read(session)
        codes = {unit for (_, level, _, unit) in rows.counts if level == "school_unit"}
        placed = await placements_of(session, codes)
        same_version = await rows_at(session, version)
    except BaseException:
        _fail(cache_key, future, _Abandoned())
        raise

    async def decide() -> None:  # a task of its own: finished (and kept) even when this request goes away
        try:
            decided_ = await decide_counts_off_loop(rows, placed, suppressed, rules)
        except BaseException as error:
            _fail(cache_key, future, error if isinstance(error, Exception) else _Abandoned())
            raise
        _finish(cache_key, future, decided_, same_version)

    task = asyncio.ensure_future(decide())
    _TASKS.add(task)
    task.add_done_callback(_TASKS.discard)
    return await asyncio.shield(future)


async def decide_counts_off_loop(rows: ComponentRows, placed: Mapping[str, tuple[str, str | None]],
                                 suppressed: frozenset[Level], rules: DisclosureRules) -> TreeDecision:
    """`decide_counts` with its solving in the decision thread (the cache looked up and filled here, on the loop)."""
    tree, links, digest = await asyncio.get_running_loop().run_in_executor(
        _DECIDER, _counts_tree, rows, placed)
    key = ("counts", suppressed, rules, digest)
    kept = _BY_ROWS.get(key)
    if kept is not None:
        _BY_ROWS.move_to_end(key)
        return kept
    SOLVED[0] += 1
    solved = await asyncio.get_running_loop().run_in_executor(_DECIDER, _protect, tree, links, suppressed, rules,
                                                              rows.forced)
    return _keep(_BY_ROWS, key, solved)


#: The count decisions being taken (`counts_decision`), referenced until done.
_TASKS: set[asyncio.Task[None]] = set()


def _counts_tree(rows: ComponentRows, placed: Mapping[str, tuple[str, str | None]]) \
        -> tuple[list[TreeRow], list[Any], bytes]:
    """Pure: a count table's tree, links and digest (`decide_counts`)."""
    tree, links = tree_of(rows, placed, frozenset({"group"}))
    links = [*links, *rows.links]
    digest = rows_digest(tree, links)
    if rows.forced:  # what is withheld whatever its size is part of what the decision is taken on
        digest = hashlib.blake2b(digest + repr(sorted(map(repr, rows.forced))).encode(), digest_size=32).digest()
    return tree, links, digest


def _protect(tree: list[TreeRow], links: list[Any], suppressed: frozenset[Level], rules: DisclosureRules,
             forced: frozenset[Any] = frozenset()) -> TreeDecision:
    return TreeDecision.of(protect_tree(tree, suppressed=suppressed, rules=rules, links=links, forced=forced))


class ComponentRows:
    """Counts per (slice, level, organiser, unit) and gender, summed (the nation over organisers)."""

    def __init__(self) -> None:
        self.counts: dict[tuple[Hashable, str, str | None, str], dict[str, int]] = {}
        self.failing: dict[tuple[Hashable, str, str | None, str], dict[str, int]] = {}
        #: equations `whole = Σ parts` between its cells beyond the tree's own, where a table knows them (a count
        #: table's views of one figure: `support.disclose`); kept by `protect_tree` where they hold in the data
        self.links: list[tuple[Any, tuple[Any, ...]]] = []
        #: cells withheld whatever their size (`protect_tree`'s `forced`): where another table's decision withholds
        #: what one of these counts, shown, would give away (`support.disclose`: below the pass level without support)
        self.forced: frozenset[Any] = frozenset()

    def add(self, slice_: Hashable, level: str, organiser: str | None, unit: str, gender: str, n: int,
            failing: int | None = None) -> None:
        where = (slice_, level, None if level == "nation" else organiser, unit)
        part = self.counts.setdefault(where, {})
        part[gender] = part.get(gender, 0) + n
        if failing is not None:
            fails = self.failing.setdefault(where, {})
            fails[gender] = fails.get(gender, 0) + failing


async def component_rows(session: AsyncSession, component: Component,
                         without: frozenset[str] = frozenset()) -> tuple[list[TreeRow], list[Any]]:
    """Every row of the component at every level, unscoped (a decision, not an answer), and the
    equations that tie its tables together (`protect_tree`'s links)."""
    read, placed = await components_read(session, [component], without)
    return tree_of(component_rows_of(component, read[component]), placed, without)


#: What a component's decision is taken on, as read: its statements' rows per table, in their order.
RawRows = dict[str, list[tuple[Any, ...]]]


async def components_read(session: AsyncSession, components: Iterable[Component],
                          without: frozenset[str] = frozenset()) \
        -> tuple[dict[Component, RawRows], Mapping[str, tuple[str, str | None]]]:
    """The rows of several components (`component_rows`) as the statements give them, and the
    placements of their school units: one statement per table for every subject of a family and
    school year (a trend's 16 subjects: 2 statements, not 32, each scanning the table), ordered (so
    equal rows read equal: `raw_digest`), the levels `without` left out in the statements themselves
    (read and dropped afterwards they were most of a cold decision's time: ~90 % of a Mittköping-sized
    subject's rows are its groups')."""
    wanted = sorted(set(components))
    read: dict[Component, RawRows] = {c: {} for c in wanted}
    subjects: dict[tuple[str, str], list[str]] = defaultdict(list)
    for family, school_year, third in wanted:
        if family == "merit":
            read[(family, school_year, third)]["merit"] = await _merit_raw(session, school_year, third, without)
        else:
            subjects[(family, school_year)].append(third)
    for (family, school_year), codes in subjects.items():
        kind = "assessments" if family == "assessment" else "forecasts"
        figures = _pass_raw if family == "assessment" else _forecast_raw
        for table, per_subject in (("results", await _results_raw(session, codes, kind, school_year, without)),
                                   ("figures", await figures(session, codes, school_year, without))):
            for code in codes:
                read[(family, school_year, code)][table] = per_subject.get(code, [])
    units = {r[2] for raw in read.values() for table in raw.values() for r in table if r[0] == "school_unit"}
    return read, await placements_of(session, units)


def raw_digest(raw: RawRows, placed: Mapping[str, tuple[str, str | None]]) -> bytes:
    """Pure: a digest of everything a component's decision is taken on — its rows as read (ordered by
    the statements) and the placements of its school units (each row's parent)."""
    units = sorted({r[2] for table in raw.values() for r in table if r[0] == "school_unit"})
    digest = hashlib.blake2b(digest_size=32)
    # row by row, not one repr of them all: one C call over ~10k rows holds the GIL for tens of ms (this runs in
    # the decision thread, and the event loop waits for the GIL meanwhile)
    for name in sorted(raw):
        digest.update(f"{name}\n".encode())
        for row in raw[name]:
            digest.update(repr(row).encode())
            digest.update(b"\n")
    digest.update(repr([(u, placed.get(u)) for u in units]).encode())
    return digest.digest()


def component_rows_of(component: Component, raw: RawRows) -> ComponentRows:
    """Pure: a component's rows as read (`components_read`) as the rows of its decision."""
    family, school_year, third = component
    rows = ComponentRows()
    if family == "merit":
        _merit_rows(rows, school_year, third, raw["merit"])
        return rows
    kind = "assessments" if family == "assessment" else "forecasts"
    _results_rows(rows, kind, raw["results"])
    (_pass_rows if family == "assessment" else _forecast_rows)(rows, school_year, raw["figures"])
    return rows


def tree_of(rows: ComponentRows, placed: Mapping[str, tuple[str, str | None]],
            without: frozenset[str] = frozenset(),
            equations: Callable[[list[TreeRow]], bool] = lambda tree: True) -> tuple[list[TreeRow], list[Any]]:
    """Pure: the rows of a component as tree rows (each with its parent, from the placements) and
    the equations beyond the tree's own (none where `equations` says the tree needs none: nothing in
    it to withhold); the levels `without` left out."""
    if without:
        rows.counts = {w: part for w, part in rows.counts.items() if w[1] not in without}
    for where, part in rows.counts.items():
        if TOTAL not in part:
            part[TOTAL] = sum(part.get(g, 0) for g in GENDERS)
            if where in rows.failing:
                rows.failing[where][TOTAL] = sum(rows.failing[where].get(g, 0) for g in GENDERS)
    tree = [TreeRow(slice_, unit_of(level, organiser, unit), tree_parent(level, organiser, unit, placed), part,
                    rows.failing.get((slice_, level, organiser, unit)))
            for (slice_, level, organiser, unit), part in rows.counts.items()]
    return tree, _equations(rows) if equations(tree) else []


def _equations(rows: ComponentRows) -> list[tuple[Any, tuple[Any, ...]]]:
    """`whole = Σ parts` beyond the tree's own: the `*` year of a results cell, a pass cell from the
    results of its term or round, coverage = pass, a forecast-outcome cell = its results cell."""
    out: list[tuple[Any, tuple[Any, ...]]] = []
    years: dict[tuple[Any, TreeUnit, str], list[Any]] = defaultdict(list)
    by_period: dict[tuple[str, int, PeriodId, TreeUnit, str], list[Any]] = defaultdict(list)
    for (slice_, level, organiser, unit), part in rows.counts.items():
        kind: Any = slice_
        u = unit_of(level, organiser, unit)
        for gender in part:
            if kind[0] in ("results", "forecasts") and kind[2] != ALL_YEARS:
                years[((kind[0], kind[1], ALL_YEARS), u, gender)].append(tree_key(slice_, u, gender))
                if kind[0] == "results":
                    subject, school_year, term, round_ = kind[1][:4]
                    for period in ((school_year, term), (school_year, f"R{round_}")):
                        by_period[(subject, kind[2], period, u, gender)].append(tree_key(slice_, u, gender))
                else:
                    subject, school_year, term = kind[1][:3]
                    out.append((tree_key(forecast_slice(subject, kind[2], (school_year, term)), u, gender),
                                (tree_key(slice_, u, gender),)))
            elif kind[0] == "coverage":
                out.append((tree_key(pass_slice(kind[1], kind[2], kind[3]), u, gender), (tree_key(slice_, u, gender),)))
    for (whole_slice, u, gender), parts in years.items():
        out.append((tree_key(whole_slice, u, gender), tuple(parts)))
    for (subject, year, period, u, gender), parts in by_period.items():
        out.append((tree_key(pass_slice(subject, year, period), u, gender), tuple(parts)))
    return out


def _levels_but(column: Any, without: frozenset[str]) -> list[Any]:
    """The stored levels to read: the nation's cells are the organiser level's (read when either is wanted); no
    nation rows are kept (migration 0022), none is read."""
    return [column.notin_(sorted((without - {"organiser"} if "nation" not in without else without) | {"nation"}))]


def _as_read(rows: Iterable[Any], without: frozenset[str]) -> list[tuple[Any, ...]]:
    """Pure: rows (level, organiser, unit, …) ordered by level first, as every level's own rows would read: the
    nation's are the organiser level's rows with the unit `NATION` (`results.rules.read_level`), in their order
    and at the nation's place among the levels; the levels `without` left out."""
    rows = [tuple(r) for r in rows]
    out = [r for r in rows if r[0] < "nation" and r[0] not in without]
    if "nation" not in without:
        out += [("nation", r[1], NATION, *r[3:]) for r in rows if r[0] == "organiser"]
    return out + [r for r in rows if r[0] > "nation" and r[0] not in without]


def _below_pass(value: Any, scale: Any | None) -> Any:
    """SQL: the row's value does not reach the pass level (`reaches_pass`, per scale)."""
    if scale is None:  # forecasts: one scale
        return value.in_([v for v in scale_values(Scale.THREE_LEVEL) if not reaches_pass(Scale.THREE_LEVEL, v)])
    return or_(*(and_(scale == s.value, value.in_([v for v in scale_values(s) if not reaches_pass(s, v)]))
                 for s in Scale))


async def _results_raw(session: AsyncSession, subjects: Iterable[str], kind: str, school_year: str,
                       without: frozenset[str]) -> dict[str, list[tuple[Any, ...]]]:
    """The results cells of these subjects, summed over the values in the statement (the decision
    needs a cell's students and those below the pass level, not its grades): per subject, rows
    (level, organiser, unit, gender, year, students, below the pass level, *slice)."""
    from ..results.disclose import SLICE  # the slice columns of the results read path

    store = STORES[kind]
    # the areas' cells from their school units' rows (`tables.with_areas`) where the areas are read
    agg = (store.aggregates if "area" in without else store.read_rows).c
    slice_columns = [agg[name] for name in SLICE[kind]]
    failing = _below_pass(agg.value, agg.scale if kind == "assessments" else None)
    keys = [agg.level, agg.organiser_id, agg.unit_id, agg.gender, agg.year, *slice_columns]
    query = (select(agg.level, agg.organiser_id, agg.unit_id, agg.gender, agg.year, func.sum(agg["count"]),
                    func.coalesce(func.sum(agg["count"]).filter(failing), 0), *slice_columns)
             .where(agg.school_year == school_year, any_of(agg.subject_code, subjects),
                    *_levels_but(agg.level, without))
             .group_by(*keys).order_by(*keys))
    subject_at = 7 + SLICE[kind].index("subject_code")

    def shape(rows: Sequence[Any]) -> dict[str, list[tuple[Any, ...]]]:
        out: dict[str, list[tuple[Any, ...]]] = defaultdict(list)
        for row in _as_read(rows, without):
            out[row[subject_at]].append((*row[:5], int(row[5]), int(row[6]), *row[7:]))
        return out

    return await _fetched(session, query, shape)


async def _fetched(session: AsyncSession, query: Any, shape: Callable[[Sequence[Any]], _T]) -> _T:
    """`shape` of the query's rows, the rows made (SQLAlchemy's, from the buffered result) and shaped in the
    decision thread: a trend's 16 components are ~30k rows, 0.2-0.4 s of the loop's time when made there."""
    result = await session.execute(query)  # buffered: every row fetched, no I/O left
    return await asyncio.get_running_loop().run_in_executor(_DECIDER, lambda: shape(result.all()))


def _results_rows(rows: ComponentRows, kind: str, raw: list[tuple[Any, ...]]) -> None:
    for level, organiser, unit, gender, year, n, fails, *slice_ in raw:
        for y in (year, ALL_YEARS):
            rows.add(results_slice(kind, tuple(slice_), y), level, organiser, unit, gender, n, fails)


async def _pass_raw(session: AsyncSession, subjects: Iterable[str], school_year: str,
                    without: frozenset[str]) -> dict[str, list[tuple[Any, ...]]]:
    """Per subject, rows (level, organiser, unit, year, period, subject, assessed per gender, reaching
    per gender, students)."""
    c = figure_pass.c
    keys = [c.level, c.organiser_id, c.unit_id, c.year, c.period, c.subject_code]
    query = select(*keys, *[func.sum(c[f"assessed_{g}"]) for g in GENDERS],
                   *[func.sum(c[f"reaching_{g}"]) for g in GENDERS], func.sum(c.students)).where(
        c.school_year == school_year, any_of(c.subject_code, subjects),
        *_levels_but(c.level, without)).group_by(*keys).order_by(*keys)

    def shape(rows: Sequence[Any]) -> dict[str, list[tuple[Any, ...]]]:
        out: dict[str, list[tuple[Any, ...]]] = defaultdict(list)
        for row in _as_read(rows, without):
            out[row[5]].append((*row[:6], *(int(v) for v in row[6:])))
        return out

    return await _fetched(session, query, shape)


def _pass_rows(rows: ComponentRows, school_year: str, raw: list[tuple[Any, ...]]) -> None:
    for level, organiser, unit, year, period_, subject, *sums in raw:
        period = (school_year, period_)
        for i, g in enumerate(GENDERS):
            assessed = sums[i]
            rows.add(pass_slice(subject, year, period), level, organiser, unit, g, assessed,
                     assessed - sums[len(GENDERS) + i])
        rows.add(coverage_slice(subject, year, period), level, organiser, unit, TOTAL, sums[-1])


async def _forecast_raw(session: AsyncSession, subjects: Iterable[str], school_year: str,
                        without: frozenset[str]) -> dict[str, list[tuple[Any, ...]]]:
    """Per subject, rows (level, organiser, unit, year, gender, period, subject, forecasts)."""
    f = figure_forecasts.c
    keys = [f.level, f.organiser_id, f.unit_id, f.year, f.gender, f.period, f.subject_code]
    query = select(*keys, *[func.sum(f[n]) for n in FORECAST_COUNTERS]).where(
        f.school_year == school_year, any_of(f.subject_code, subjects),
        *_levels_but(f.level, without)).group_by(*keys).order_by(*keys)

    def shape(rows: Sequence[Any]) -> dict[str, list[tuple[Any, ...]]]:
        out: dict[str, list[tuple[Any, ...]]] = defaultdict(list)
        for row in _as_read(rows, without):
            out[row[6]].append((*row[:7], sum(int(v) for v in row[7:])))
        return out

    return await _fetched(session, query, shape)


def _forecast_rows(rows: ComponentRows, school_year: str, raw: list[tuple[Any, ...]]) -> None:
    for level, organiser, unit, year, gender, period, subject, n in raw:
        rows.add(forecast_slice(subject, year, (school_year, period)), level, organiser, unit, gender, n)


def merit_students(values: tuple[int, ...]) -> int:
    """The fewest students a merit row's figures rest on (graded, year 9)."""
    tally = MeritTally(*values)
    return min((n for n in (tally.graded_students, tally.merit_students) if n > 0), default=0)


async def _merit_raw(session: AsyncSession, school_year: str, term: str,
                     without: frozenset[str]) -> list[tuple[Any, ...]]:
    """Rows (level, organiser, unit, year, gender, *merit counters)."""
    m = figure_merit.c
    keys = [m.level, m.organiser_id, m.unit_id, m.year, m.gender]
    query = select(*keys, *[func.sum(m[n]) for n in MERIT_COUNTERS]).where(
        m.school_year == school_year, m.period == term, *_levels_but(m.level, without)).group_by(
        *keys).order_by(*keys)
    return await _fetched(session, query, lambda rows: [(*r[:5], *(int(v) for v in r[5:])) for r in _as_read(rows, without)])


def _merit_rows(rows: ComponentRows, school_year: str, term: str, raw: list[tuple[Any, ...]]) -> None:
    values: dict[tuple[str, str | None, str, int], dict[str, tuple[int, ...]]] = {}
    for level, organiser, unit, year, gender, *counters in raw:
        where = (level, None if level == "nation" else organiser, unit, year)
        row = tuple(counters)
        got = values.setdefault(where, {})
        got[gender] = tuple(a + b for a, b in zip(got.get(gender, (0,) * len(row)), row, strict=True))
    for (level, organiser, unit, year), per_gender in values.items():
        slice_ = merit_slice(year, (school_year, term))
        for g, row in per_gender.items():
            rows.add(slice_, level, organiser, unit, g, merit_students(row))
        whole = tuple(sum(col) for col in zip(*per_gender.values(), strict=True))
        rows.add(slice_, level, organiser, unit, TOTAL, merit_students(whole))

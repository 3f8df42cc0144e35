"""One disclosure decision per cell, whichever endpoint, format or filter shows it.

A decision is computed per *component* — the cells that equations can tie together — over the whole
tree: every level (group, school unit, area, organiser, nation), every organiser, every gender part
and year, read here without the reader's scope or the request's filters, and kept per state version
(`results.disclose.state_version`), suppressed levels and rules. The results endpoint and every
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

from collections import OrderedDict, defaultdict
from collections.abc import Awaitable, Callable, Hashable, Iterable, Mapping
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from styrkedja_contracts.scales import Scale, reaches_pass
from styrkedja_kit.auth import Level

from ..figures.merit import MeritTally
from ..figures.tables import FORECAST_COUNTERS, MERIT_COUNTERS, figure_forecasts, figure_merit, figure_pass
from ..results.tables import STORES
from .complement import TOTAL, TreeDecision, TreeRow, TreeUnit, protect_tree, tree_key, tree_parent, unit_of
from .disclosure import DisclosureRules
from .scope import placements_of

GENDERS = ("female", "male", "unknown")
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
                       rules: DisclosureRules, version: Hashable | None = None) -> TreeDecision:
    """The decision over these components (each from the cache when the state has not changed)."""
    from ..results.disclose import state_version  # the state version lives with the results read path

    version = version if version is not None else await state_version(session)
    parts = []
    for component in sorted(set(components)):
        key = (version, component, suppressed, rules)
        found = _DECISIONS.get(key)
        if found is None:
            rows, extra = await component_rows(session, component, left_out(suppressed))
            found = _DECISIONS[key] = TreeDecision.of(
                protect_tree(rows, suppressed=suppressed, rules=rules, links=extra))
            while len(_DECISIONS) > DECISIONS_KEPT:
                _DECISIONS.popitem(last=False)
        else:
            _DECISIONS.move_to_end(key)
        parts.append(found)
    return TreeDecision.union(parts, rules)


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
    return TreeDecision.of(protect_tree(tree, suppressed=suppressed, rules=rules, links=links))


def kept_counts_decision(key: Hashable, suppressed: frozenset[Level], rules: DisclosureRules,
                         version: Hashable) -> TreeDecision | None:
    """A count table's decision already taken on this state version (`counts_decision`), or None."""
    found = _DECISIONS.get((version, ("counts", key), suppressed, rules))
    if found is not None:
        _DECISIONS.move_to_end((version, ("counts", key), suppressed, rules))
    return found


def keep_counts_decision(key: Hashable, suppressed: frozenset[Level], rules: DisclosureRules, version: Hashable,
                         decision: TreeDecision) -> TreeDecision:
    _DECISIONS[(version, ("counts", key), suppressed, rules)] = decision
    while len(_DECISIONS) > DECISIONS_KEPT:
        _DECISIONS.popitem(last=False)
    return decision


async def counts_decision(session: AsyncSession, key: Hashable,
                          read: Callable[[AsyncSession], Awaitable[ComponentRows]],
                          suppressed: frozenset[Level], rules: DisclosureRules,
                          version: Hashable | None = None) -> TreeDecision:
    """The decision on a count table (`key` names it and what its counts depend on: family, subject,
    date…), `read` giving its rows at every level of `COUNT_LEVELS`; kept per state version like the
    figures' (`decision_for`), so every response, format and level shows the same cells."""
    from ..results.disclose import state_version

    version = version if version is not None else await state_version(session)
    found = kept_counts_decision(key, suppressed, rules, version)
    if found is not None:
        return found
    rows = await read(session)
    codes = {unit for (_, level, _, unit) in rows.counts if level == "school_unit"}
    return keep_counts_decision(key, suppressed, rules, version,
                                decide_counts(rows, await placements_of(session, codes), suppressed, rules))


class ComponentRows:
    """Counts per (slice, level, organiser, unit) and gender, summed (the nation over organisers)."""

    def __init__(self) -> None:
        self.counts: dict[tuple[Hashable, str, str | None, str], dict[str, int]] = {}
        self.failing: dict[tuple[Hashable, str, str | None, str], dict[str, int]] = {}

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
    family, school_year, third = component
    rows = ComponentRows()
    if family == "assessment":
        await _results_rows(session, rows, "assessments", school_year, third)
        await _pass_rows(session, rows, school_year, third)
    elif family == "forecast":
        await _results_rows(session, rows, "forecasts", school_year, third)
        await _forecast_rows(session, rows, school_year, third)
    else:
        await _merit_rows(session, rows, school_year, third)
    codes = {unit for (_, level, _, unit) in rows.counts if level == "school_unit"}
    return tree_of(rows, await placements_of(session, codes), without)


def tree_of(rows: ComponentRows, placed: Mapping[str, tuple[str, str | None]],
            without: frozenset[str] = frozenset()) -> tuple[list[TreeRow], list[Any]]:
    """Pure: the rows of a component as tree rows (each with its parent, from the placements) and
    the equations beyond the tree's own; the levels `without` left out."""
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
    return tree, _equations(rows)


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


async def _results_rows(session: AsyncSession, rows: ComponentRows, kind: str, school_year: str, subject: str) -> None:
    from ..results.disclose import SLICE  # the slice columns of the results read path

    store = STORES[kind]
    agg = store.aggregates.c
    slice_columns = [agg[name] for name in SLICE[kind]]
    query = (select(agg.level, agg.organiser_id, agg.unit_id, *slice_columns, agg.gender, agg.year, agg.value,
                    func.sum(agg["count"]).label("n"))
             .where(agg.school_year == school_year, agg.subject_code == subject)
             .group_by(agg.level, agg.organiser_id, agg.unit_id, *slice_columns, agg.gender, agg.year, agg.value))
    for row in (await session.execute(query)).all():
        slice_ = tuple(getattr(row, name) for name in SLICE[kind])
        scale = Scale(row.scale) if kind == "assessments" else Scale.THREE_LEVEL
        fails = 0 if reaches_pass(scale, row.value) else int(row.n)
        for year in (row.year, ALL_YEARS):
            rows.add(results_slice(kind, slice_, year), row.level, row.organiser_id, row.unit_id, row.gender,
                     int(row.n), fails)


async def _pass_rows(session: AsyncSession, rows: ComponentRows, school_year: str, subject: str) -> None:
    c = figure_pass.c
    query = select(c.level, c.organiser_id, c.unit_id, c.year, c.period,
                   *[func.sum(c[f"assessed_{g}"]).label(g) for g in GENDERS],
                   *[func.sum(c[f"reaching_{g}"]).label(f"reaching_{g}") for g in GENDERS],
                   func.sum(c.students).label("students")).where(
        c.school_year == school_year, c.subject_code == subject).group_by(
        c.level, c.organiser_id, c.unit_id, c.year, c.period)
    for r in (await session.execute(query)).all():
        period = (school_year, r.period)
        for g in GENDERS:
            assessed = int(getattr(r, g))
            rows.add(pass_slice(subject, r.year, period), r.level, r.organiser_id, r.unit_id, g, assessed,
                     assessed - int(getattr(r, f"reaching_{g}")))
        rows.add(coverage_slice(subject, r.year, period), r.level, r.organiser_id, r.unit_id, TOTAL,
                 int(r.students))


async def _forecast_rows(session: AsyncSession, rows: ComponentRows, school_year: str, subject: str) -> None:
    f = figure_forecasts.c
    query = select(f.level, f.organiser_id, f.unit_id, f.year, f.gender, f.period,
                   *[func.sum(f[n]).label(n) for n in FORECAST_COUNTERS]).where(
        f.school_year == school_year, f.subject_code == subject).group_by(
        f.level, f.organiser_id, f.unit_id, f.year, f.gender, f.period)
    for r in (await session.execute(query)).all():
        rows.add(forecast_slice(subject, r.year, (school_year, r.period)), r.level, r.organiser_id, r.unit_id,
                 r.gender, sum(int(getattr(r, n)) for n in FORECAST_COUNTERS))


def merit_students(values: tuple[int, ...]) -> int:
    """The fewest students a merit row's figures rest on (graded, year 9)."""
    tally = MeritTally(*values)
    return min((n for n in (tally.graded_students, tally.merit_students) if n > 0), default=0)


async def _merit_rows(session: AsyncSession, rows: ComponentRows, school_year: str, term: str) -> None:
    m = figure_merit.c
    query = select(m.level, m.organiser_id, m.unit_id, m.year, m.gender,
                   *[func.sum(m[n]).label(n) for n in MERIT_COUNTERS]).where(
        m.school_year == school_year, m.period == term).group_by(m.level, m.organiser_id, m.unit_id, m.year, m.gender)
    values: dict[tuple[str, str | None, str, int], dict[str, tuple[int, ...]]] = {}
    for r in (await session.execute(query)).all():
        where = (r.level, None if r.level == "nation" else r.organiser_id, r.unit_id, r.year)
        row = tuple(int(getattr(r, n)) for n in MERIT_COUNTERS)
        got = values.setdefault(where, {})
        got[r.gender] = tuple(a + b for a, b in zip(got.get(r.gender, (0,) * len(row)), row, strict=True))
    for (level, organiser, unit, year), per_gender in values.items():
        slice_ = merit_slice(year, (school_year, term))
        for g, row in per_gender.items():
            rows.add(slice_, level, organiser, unit, g, merit_students(row))
        whole = tuple(sum(col) for col in zip(*per_gender.values(), strict=True))
        rows.add(slice_, level, organiser, unit, TOTAL, merit_students(whole))

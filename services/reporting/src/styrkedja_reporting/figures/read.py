"""Reading the figures' state: lookups by level, unit, subject, year and period in the
materialised tables — never a scan of the facts. Every query passes the one scope seam
(`results.read.scoped`), so the access feature narrows figures where it narrows results.

Cells are summed over organisers (nation level: the organiser level's cells, `results.rules.read_level`) and,
when no year is asked for, kept per year.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any

from sqlalchemy import and_, false, func, or_, select
from sqlalchemy.dialects.postgresql import distinct_on
from sqlalchemy.ext.asyncio import AsyncSession

from styrkedja_kit.sets import any_of

from ..directory.rosters import roster_sizes_on
from ..directory.tables import placements
from ..results.read import Scope, level_rows, nation_unit, scoped
from ..results.rules import GROUP_SEPARATOR, NATION
from ..results.tables import assessment_facts, forecast_facts
from .pass_share import PassTally
from .state import Multiset
from .tables import PASS_COUNTERS, AdditiveTable, figure_pass

CellId = tuple[str, str, int]  # unit id, subject code, year
PeriodId = tuple[str, str]  # school year, period (HT, VT, R1…R4)


@dataclass(frozen=True)
class CellFilters:
    organiser_id: str | None = None
    unit_id: str | None = None
    subject_code: str | None = None
    year: int | None = None
    gender: str | None = None  # the tables that keep gender in the key (forecast outcome, merit)
    unit_ids: Sequence[str] | None = None  # drill-down: these units only
    unit_prefix: str | None = None  # drill-down to groups: `<school_unit_code>/`


def _where(table: Any, level: str, filters: CellFilters, periods: Sequence[PeriodId], scope: Scope | None,
           query: Any) -> Any:
    c = table.c
    query = query.where(level_rows(c.level, level),
                        or_(*[and_(c.school_year == sy, c.period == p) for sy, p in sorted(set(periods))]))
    for name in ("organiser_id", "unit_id", "subject_code", "year", "gender"):
        value = getattr(filters, name)
        if name == "unit_id" and level == "nation":  # the one unit: every organiser level's cell is the nation's
            if value is not None and value != NATION:
                query = query.where(false())
        elif value is not None and name in c:
            query = query.where(c[name] == value)
    if filters.unit_ids is not None:
        query = query.where(any_of(c.unit_id, filters.unit_ids))
    if filters.unit_prefix is not None:
        query = query.where(c.unit_id.startswith(filters.unit_prefix, autoescape=True))
    return scoped(query, c.organiser_id, scope)


_KEYS = ("unit_id", "subject_code", "year", "school_year", "period")


def _keys(table: Any, level: str, names: Sequence[str]) -> tuple[list[Any], list[Any]]:
    """The columns `names` to select and to group by: at nation level the unit is the nation (`NATION`, one unit
    over the organiser level's cells: not grouped by), else the stored unit."""
    c = table.c
    if level != "nation":
        return [c[n] for n in names], [c[n] for n in names]
    nation = nation_unit()
    return ([nation.label(n) if n == "unit_id" else c[n] for n in names], [c[n] for n in names if n != "unit_id"])


async def read_pass(session: AsyncSession, level: str, filters: CellFilters, periods: Sequence[PeriodId],
                    scope: Scope | None = None) -> dict[tuple[CellId, PeriodId], PassTally]:
    c = figure_pass.c
    keys, grouping = _keys(figure_pass, level, _KEYS)
    query = select(*keys, *[func.sum(c[n]).label(n) for n in PASS_COUNTERS])
    query = _where(figure_pass, level, filters, periods, scope, query).group_by(*grouping)
    out = {}
    for row in (await session.execute(query)).all():
        out[(row.unit_id, row.subject_code, row.year), (row.school_year, row.period)] = PassTally(
            *(int(getattr(row, n)) for n in PASS_COUNTERS))
    return out


async def read_sums(session: AsyncSession, table: AdditiveTable, level: str, filters: CellFilters,
                    period: PeriodId, keys: Sequence[str], scope: Scope | None = None) -> dict[tuple[Any, ...], tuple[int, ...]]:
    """A tally table's counters summed per `keys` (e.g. unit, subject, year) for one period."""
    c = table.table.c
    selected, grouping = _keys(table.table, level, keys)
    query = select(*selected, *[func.sum(c[v]).label(v) for v in table.values])
    query = _where(table.table, level, filters, [period], scope, query).group_by(*grouping)
    return {tuple(row[:len(keys)]): tuple(int(v) for v in row[len(keys):])
            for row in (await session.execute(query)).all()}


async def read_dates(session: AsyncSession, level: str, filters: CellFilters, period: PeriodId,
                     scope: Scope | None = None) -> dict[CellId, Multiset]:
    """The newest dates behind each cell (the multiset reduced to its newest present day, kept on the pass cell:
    `figure_pass.newest`; at nation level the organisers' newest)."""
    c = figure_pass.c
    keys, grouping = _keys(figure_pass, level, ("unit_id", "subject_code", "year"))
    query = select(*keys, func.max(c.newest).label("day")).where(c.newest.is_not(None), c.newest_count > 0)
    query = _where(figure_pass, level, filters, [period], scope, query).group_by(*grouping)
    return {(r.unit_id, r.subject_code, r.year): Multiset.of(r.day) for r in (await session.execute(query)).all()}


async def read_students(session: AsyncSession, level: str, filters: CellFilters, period: PeriodId,
                        scope: Scope | None = None) -> dict[CellId, int]:
    """Distinct students with a result per cell: a lookup of the count kept as the events are
    applied (`coverage_counts`). At nation level the organisers' counts are summed (a student
    counts once per organiser)."""
    c = figure_pass.c
    keys, grouping = _keys(figure_pass, level, ("unit_id", "subject_code", "year"))
    query = select(*keys, func.sum(c.students).label("n"))
    query = _where(figure_pass, level, filters, [period], scope, query).group_by(*grouping)
    return {(r.unit_id, r.subject_code, r.year): int(r.n) for r in (await session.execute(query)).all()}


async def roster_sizes(session: AsyncSession, level: str, organiser_id: str | None, on: date) -> dict[str, int]:
    """Students on the rosters (group memberships) on `on`, per unit of `level`; a unit with no
    membership in the directory is absent (its roster is unknown). A lookup of the materialised
    sizes (`directory.rosters`)."""
    return await roster_sizes_on(session, level, organiser_id, on)


async def child_units(session: AsyncSession, level: str, unit_id: str,
                      organiser_id: str | None) -> tuple[str, CellFilters]:
    """The level one down from `level` and the filter that selects `unit_id`'s children there."""
    if level == "nation":
        return "organiser", CellFilters()
    if level == "organiser":
        return "area", CellFilters(organiser_id=unit_id)
    if level == "area":
        query = select(placements.c.school_unit_code).where(placements.c.area_id == unit_id)
        if organiser_id is not None:
            query = query.where(placements.c.organiser_id == organiser_id)
        codes = [r[0] for r in (await session.execute(query)).all()]
        return "school_unit", CellFilters(organiser_id=organiser_id, unit_ids=codes)
    if level == "school_unit":
        return "group", CellFilters(organiser_id=organiser_id, unit_prefix=unit_id + GROUP_SEPARATOR)
    return "student", CellFilters(organiser_id=organiser_id, unit_id=unit_id)


async def students_of_group(session: AsyncSession, group_unit_id: str, subject_code: str | None, year: int | None,
                            school_year: str, term: str | None, round: int | None,
                            scope: Scope | None = None) -> list[Any]:
    """The student level under a group: each pseudonymous student id with their latest result per
    subject in the period (newest date, then round) — an index lookup of one group's facts."""
    code, _, group_id = group_unit_id.partition(GROUP_SEPARATOR)
    f = assessment_facts.c
    query = select(f.student_id, f.subject_code, f.year, f.kind, f.scale, f.value, f.assessed_on, f.round).where(
        f.school_unit_code == code, f.group_id == group_id, ~f.retracted, f.school_year == school_year)
    if term is not None:
        query = query.where(f.term == term)
    if round is not None:
        query = query.where(f.round == round)
    if subject_code is not None:
        query = query.where(f.subject_code == subject_code)
    if year is not None:
        query = query.where(f.year == year)
    query = scoped(query, f.organiser_id, scope)
    query = query.ext(distinct_on(f.student_id, f.subject_code)).order_by(
        f.student_id, f.subject_code, f.assessed_on.desc().nulls_last(), f.round.desc(), f.assessment_id.desc(),
        f.organiser_id.desc())  # two organisers' records may share an id (`results.tables.fact_table`): a total order
    return list((await session.execute(query)).all())




async def linked_facts_of_group(session: AsyncSession, group_unit_id: str, school_year: str, term: str,
                                subject_code: str | None, year: int | None, scope: Scope | None = None,
                                ) -> tuple[list[Any], list[Any]]:
    """The student level of forecast against outcome and merit under a group: the group's forecasts
    in the term (not withdrawn) and its term grades, with every result of those students in the
    term (the rules pick the outcome and the newest grades) — index lookups of one group's facts."""
    code, _, group_id = group_unit_id.partition(GROUP_SEPARATOR)
    f, a = forecast_facts.c, assessment_facts.c
    query = select(forecast_facts).where(f.school_unit_code == code, f.group_id == group_id, ~f.withdrawn,
                                         f.school_year == school_year, f.term == term)
    grades = select(a.student_id).where(a.school_unit_code == code, a.group_id == group_id, ~a.retracted,
                                        a.school_year == school_year, a.term == term, a.kind == "term_grade")
    if subject_code is not None:
        query = query.where(f.subject_code == subject_code)
    if year is not None:
        query = query.where(f.year == year)
        grades = grades.where(a.year == year)
    forecasts = list((await session.execute(scoped(query, f.organiser_id, scope))).all())
    students = {r.student_id for r in forecasts} | {
        r[0] for r in (await session.execute(scoped(grades, a.organiser_id, scope))).all()}
    results: list[Any] = []
    if students:
        query = select(assessment_facts).where(any_of(a.student_id, students), a.school_year == school_year,
                                               a.term == term, ~a.retracted)
        results = list((await session.execute(scoped(query, a.organiser_id, scope))).all())
    return forecasts, results

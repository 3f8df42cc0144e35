"""The figures' materialised state: additive tables kept by deltas, one statement per table per batch.

Every table is keyed by a figure cell — level, unit, organiser, subject, year (årskurs), school
year and period — where the period is the term (`HT`, `VT`) or the publication round (`R1`…`R4`):
a result counts in both (see `periods.py`). The organiser is a dimension at every level, so one
organiser's batch touches only its own rows (one writer per partition); the nation level has no
cells of its own: its reads sum the organiser level's (`results.rules.read_level`).

* `figure_pass` — `PassTally` (assessed / reaching the pass level per gender): share, trend,
  term history, gender gap; `students`, the number of distinct students with a result in the
  cell (coverage), kept as the events are applied so that coverage is a lookup too; and freshness:
  `newest`, the day of the cell's newest result, with `newest_count`, how many of its results are
  on that day (the only part of the cell's multiset of dates any read needs: `freshness.freshness`
  reduces the multiset to its newest present day). A batch raises it by the newest day it adds; only
  when a batch takes away every result of the newest day (a retraction, a revision, a student
  moving) is the cell's newest day looked up again (`renew_newest`: rare, a handful of cells);
* `figure_students` — multiset of student ids per *group* cell (level `group` only): the evidence
  behind `students` — when a student's count in a group cell goes 0 → n or n → 0, the apply path
  looks up that student's other groups in the same subject, year and period and moves the
  distinct counts of every level by ±1 (`coverage_counts`);
* `figure_forecasts` — `ForecastTally` per forecast cell (with gender): forecast against outcome;
* `figure_merit` — `MeritTally` per unit × year × gender × term: merit value, all pass, eligibility.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy import Column, Date, Index, Integer, MetaData, PrimaryKeyConstraint, String, Table, text
from sqlalchemy.ext.asyncio import AsyncSession

from styrkedja_contracts.scales import Scale, reaches_pass, scale_values

from ..consistency_parts import by_organiser, organisers_in
from ..directory.tables import placements
from ..metadata import metadata
from ..results.rules import GROUP_SEPARATOR, MATERIALISED, NATION
from ..results.tables import CELL_FILLFACTOR, LEVEL_UNITS, assessment_facts
from ..staging import AreaTransfer, Staged, as_arrays, c_order, json_rows, quoted, rows_of_json, unnest_of
from .forecast_outcome import ForecastTally
from .merit import MeritTally
from .pass_share import PassTally

CELL = ("level", "unit_id", "organiser_id", "subject_code", "year", "school_year", "period")
PASS_COUNTERS = tuple(f.name for f in dataclasses.fields(PassTally))
# forecast against outcome: the forecast's cell, per gender and term
FORECAST_CELL = ("level", "unit_id", "organiser_id", "subject_code", "year", "gender", "school_year", "period")
FORECAST_COUNTERS = tuple(f.name for f in dataclasses.fields(ForecastTally))
# merit value, all pass, eligibility: per unit, year, gender and term (all subjects together)
MERIT_CELL = ("level", "unit_id", "organiser_id", "year", "gender", "school_year", "period")
MERIT_COUNTERS = tuple(f.name for f in dataclasses.fields(MeritTally))


def _cell_columns(cell: Sequence[str] = CELL) -> list[Column[Any]]:
    return [Column(d, Integer if d == "year" else String(80), primary_key=True) for d in cell]


figure_pass = Table(
    "figure_pass", metadata, *_cell_columns(),
    *[Column(name, Integer, nullable=False) for name in PASS_COUNTERS],
    Column("students", Integer, nullable=False),  # distinct students with a result (coverage)
    # freshness: the newest result's day and how many results are on it (migration 0017: was figure_dates)
    Column("newest", Date), Column("newest_count", Integer, nullable=False, server_default="0"),
    Index("ix_figure_pass_organiser_level", "organiser_id", "level", "school_year", "period"),
    Index("ix_figure_pass_nation", "school_year", "period", postgresql_where=text("level = 'organiser'")),  # 0023
    postgresql_with={"fillfactor": CELL_FILLFACTOR},
)
#: The key in the order the reads want it (migration 0020): led by the read index's columns (organiser, level,
#: school year, period), which then went — a new student cell (most of the table's writes: 1.87 rows per event
#: in the deadline week) writes two index entries, not three. Then (migration 0025) subject, year and student
#: before the unit: one student's groups in a subject and period — what the apply path looks up for every student
#: cell that appears or empties (`coverage_counts._ADD`) — are a range of the key, and the student index went: a
#: new student cell writes one index entry. Readers by unit (support's group level) compare the unit within the
#: organiser's range, as those by school unit (`split_part`) always did. The same rows; the ON CONFLICT names the
#: columns.
STUDENTS_KEY = ("organiser_id", "level", "school_year", "period", "subject_code", "year", "student_id", "unit_id")
figure_students = Table(
    "figure_students", metadata,
    *[Column(d, Integer if d == "year" else String(80), nullable=False) for d in CELL],
    Column("student_id", String(64), nullable=False),
    Column("count", Integer, nullable=False),
    PrimaryKeyConstraint(*STUDENTS_KEY, name="figure_students_pkey"),
    postgresql_with={"fillfactor": CELL_FILLFACTOR},
)

figure_forecasts = Table(
    "figure_forecasts", metadata, *_cell_columns(FORECAST_CELL),
    *[Column(name, Integer, nullable=False) for name in FORECAST_COUNTERS],
    Index("ix_figure_forecasts_organiser_level", "organiser_id", "level", "school_year", "period"),
    postgresql_with={"fillfactor": CELL_FILLFACTOR},
)
figure_merit = Table(
    "figure_merit", metadata, *_cell_columns(MERIT_CELL),
    *[Column(name, Integer, nullable=False) for name in MERIT_COUNTERS],
    Index("ix_figure_merit_organiser_level", "organiser_id", "level", "school_year", "period"),
    postgresql_with={"fillfactor": CELL_FILLFACTOR},
)


class AdditiveTable:
    """A table of additive state: `key` columns and integer `values` that deltas are added to;
    a row whose values all reach zero is removed (so the table equals a recomputation)."""

    def __init__(self, table: Table, key: Sequence[str], values: Sequence[str], checked: Sequence[str] = ()) -> None:
        """`checked`: columns kept otherwise than by adding (not in `add` or `transfer`), compared with the
        recomputation by `mismatches` and made by the rebuild (`columns`) as the values are."""
        self.table, self.key, self.values, self.checked = table, tuple(key), tuple(values), tuple(checked)
        self.columns = (*self.key, *self.values, *self.checked)
        keys = ", ".join(quoted(k) for k in self.key)
        cols = [table.c[k] for k in (*self.key, *self.values)]
        sets = ", ".join(f"{quoted(v)} = {table.name}.{quoted(v)} + EXCLUDED.{quoted(v)}" for v in self.values)
        all_zero = " AND ".join(f"{quoted(v)} = 0" for v in self.values)
        names = ", ".join(quoted(c.name) for c in cols)
        self._staged = Staged(table, (*self.key, *self.values))
        # the emptied rows come back by their place (ctid), not their key: see `_delete_at`
        self._add = self._staged.statements(f"WITH up AS (INSERT INTO {table.name} ({names}) {{rows}} "
                                            f"ON CONFLICT ({keys}) DO UPDATE SET {sets} RETURNING ctid, {names}) "
                                            f"SELECT ctid FROM up WHERE {all_zero}")
        # The cells a batch's upsert emptied, deleted by the row versions it returned (a TID scan: no index
        # descent). By their key, the planner could take a read index led by organiser and level — estimating
        # one row per key from the unnest's guess of 10 keys — and filter every row of the unit per key
        # (support_below_pass: ~340 students per area cell, 100 ms per deadline-week batch; it grows with the
        # units). The places are stable to the transaction's end: the upsert locked (or inserted) those versions,
        # nothing else may update them until we commit, and no vacuum moves a live row. `all_zero` is checked again.
        self._delete_at = text(f"DELETE FROM {table.name} WHERE ctid = ANY(CAST(:at AS tid[])) AND {all_zero}")
        self._area_transfer = AreaTransfer(table, self.key, self.values)

    async def add(self, session: AsyncSession, rows: Sequence[tuple[Any, ...]]) -> None:
        """`rows`: key values then value deltas, one tuple per cell (zero rows are left out)."""
        rows = sorted(r for r in rows if any(r[len(self.key):]))  # sorted: the same lock order for every writer
        if not rows:
            return
        emptied = await self._staged.execute(session, rows, self._add)
        if emptied:
            await session.execute(self._delete_at, {"at": [r[0] for r in emptied]})

    async def transfer(self, session: AsyncSession, moves: Sequence[tuple[str, str | None, str | None]]) -> None:
        """A school unit moving between areas takes its school-unit state to the new area."""
        await self._area_transfer.execute(session, moves)

    async def mismatches_against(self, session: AsyncSession, rows: Sequence[tuple[Any, ...]],
                                 where: str = "", where_params: dict[str, Any] | None = None) -> dict[str, int]:
        """As `mismatches`, against recomputed rows (key values then values) sent as arrays."""
        cols = [self.table.c[k] for k in self.columns]
        names = ", ".join(quoted(c.name) for c in cols)
        sql = text(f"SELECT * FROM {unnest_of(cols)} AS r({names})")
        return await self.mismatches(session, sql.text, {**as_arrays(self.columns, rows), **(where_params or {})},
                                     where=where)

    async def mismatches(self, session: AsyncSession, recomputed: str,
                         params: dict[Any, Any] | None = None, where: str = "") -> dict[str, int]:
        """Per level: rows where the table differs from `recomputed` (a SELECT of the same columns).
        `where`: only the table's rows it holds (a condition on its columns, its parameters in `params`) are
        compared — a check in slices, whose `recomputed` holds exactly the cells of the same slice."""
        on = " AND ".join(f"a.{quoted(k)} = r.{quoted(k)}" for k in self.key)
        differs = " OR ".join(f"a.{quoted(v)} IS DISTINCT FROM r.{quoted(v)}" for v in (*self.values, *self.checked))
        table = f"(SELECT * FROM {self.table.name} WHERE {where})" if where else self.table.name
        sql = text(f"WITH r AS ({recomputed}) SELECT coalesce(a.level, r.level), count(*) FROM {table} a "
                   f"FULL OUTER JOIN r ON {on} WHERE {differs} GROUP BY 1")
        return {row[0]: int(row[1]) for row in (await session.execute(sql, params or {})).all()}


#: A batch's results per signature (`handlers._pass_signature`: what decides a result's figure cells, counters
#: and date), its school unit's area and round period (`R<n>`, NULL without a round) spelled out: expanded to the
#: figure cells (five levels × term and round) and summed per cell by the server (`add_pass_and_dates`).
_SIGNED = Table("figure_signed", MetaData(), Column("organiser_id", String), Column("school_unit_code", String),
                Column("group_id", String), Column("area", String), Column("subject_code", String),
                Column("year", Integer), Column("school_year", String), Column("term", String),
                Column("round_period", String), Column("gender", String), Column("reaching", Integer),
                Column("day", Date), Column("n", Integer))
SIGNED_COLUMNS = tuple(_SIGNED.c.keys())
_STAGED_SIGNED = Staged(_SIGNED, SIGNED_COLUMNS)
_CELL_OF_SIGNED = ("u.level, u.unit_id, s.organiser_id, s.subject_code, s.year, s.school_year, p.period")
_EXPANDED = (f"FROM ({{rows}}) AS s CROSS JOIN LATERAL ({LEVEL_UNITS}) AS u(level, unit_id) "
             "CROSS JOIN LATERAL (VALUES (s.term), (s.round_period)) AS p(period) "
             "WHERE u.unit_id IS NOT NULL AND p.period IS NOT NULL")


def _counter_of_signed(name: str) -> str:
    """A pass counter's delta from a signed row: assessed_<gender> counts n, reaching_<gender> n × reaching."""
    kind, gender = name.split("_", 1)
    return f"CASE WHEN s.gender = '{gender}' THEN s.n{' * s.reaching' if kind == 'reaching' else ''} ELSE 0 END"


#: the distinct students' changes per cell (`coverage_counts.distinct_deltas`): `CELL` values then the change, as
#: one JSON parameter beside the staged rows (`staging.json_rows`: thousands of rows per batch of 100 events,
#: cheaper to encode than eight arrays)
DISTINCT_PARAMS = ("distinct",)
_DISTINCT_COLUMNS = [figure_pass.c[c] for c in CELL] + [Column("n", Integer)]


#: days as integers from here (the newest day's `[day, net]` array: arrays compare element by element)
_EPOCH = "DATE '1900-01-01'"
PASS_VALUES = (*PASS_COUNTERS, "students")
NEWEST = ("newest", "newest_count")


def _newest_sets(table: str) -> str:
    """The SET of `newest` and `newest_count` from the batch's newest changed day of the cell (`EXCLUDED.newest`)
    and its net results (`EXCLUDED.newest_count`: added if positive, taken away if negative). Only the newest day
    the batch changes matters: a later day with results added is the new newest (nothing was on it before); one
    with results taken away can only be the cell's newest day (a removed result was there: nothing is later), so
    an earlier day (added or taken away) changes neither. A newest day left with no result is found again by
    `renew_newest`: its cells are returned (`newest_count` 0)."""
    later = f"{table}.newest IS NULL OR EXCLUDED.newest > {table}.newest"
    return (f"newest = CASE WHEN {later} THEN EXCLUDED.newest ELSE {table}.newest END, "
            f"newest_count = CASE WHEN {later} THEN EXCLUDED.newest_count "
            f"WHEN EXCLUDED.newest = {table}.newest THEN {table}.newest_count + EXCLUDED.newest_count "
            f"ELSE {table}.newest_count END")


def _signed_pass() -> str:
    cell = ", ".join(quoted(c) for c in CELL)
    values = PASS_VALUES
    counters_sql = ", ".join(f"{_counter_of_signed(c)} AS {quoted(c)}" for c in PASS_COUNTERS)
    zeros = ", ".join("0" for _ in PASS_COUNTERS)
    sums = ", ".join(f"sum({quoted(v)}) AS {quoted(v)}" for v in values)
    int_sums = ", ".join(f"CAST(sum({quoted(v)}) AS integer) AS {quoted(v)}" for v in values)
    changed = " OR ".join([*(f"{quoted(v)} <> 0" for v in values), "at IS NOT NULL"])
    sets = ", ".join(f"{quoted(v)} = {figure_pass.name}.{quoted(v)} + EXCLUDED.{quoted(v)}" for v in values)
    all_zero = " AND ".join(f"{quoted(v)} = 0" for v in values)
    n = ", ".join(str(i) for i in range(1, len(CELL) + 1))
    # per cell and day first (a day's net results: the signed rows' n; the distinct students' rows have no day),
    # then per cell: the counters' sums and the newest day the batch changes, with its net ([day, net])
    per_day = (f"SELECT {cell}, day, {int_sums}, CAST(sum(net) AS integer) AS net FROM ("
               f"SELECT {_CELL_OF_SIGNED}, s.day, {counters_sql}, 0 AS students, s.n AS net {_EXPANDED} "
               f"UNION ALL SELECT {', '.join(f'd.{quoted(c)}' for c in CELL)}, CAST(NULL AS date), {zeros}, d.n, 0 "
               f"FROM ({rows_of_json(':distinct', _DISTINCT_COLUMNS)}) AS d"
               f") AS x({cell}, day, {', '.join(quoted(v) for v in values)}, net) GROUP BY {n}, day")
    per_cell = (f"SELECT {cell}, {sums}, max(ARRAY[day - {_EPOCH}, net]) FILTER (WHERE net <> 0) AS at "
                f"FROM ({per_day}) AS y GROUP BY {n}")
    return (f"WITH up AS (INSERT INTO {figure_pass.name} ({cell}, {', '.join(quoted(v) for v in values)}, newest, "
            f"newest_count) SELECT {cell}, {', '.join(quoted(v) for v in values)}, {_EPOCH} + at[1], "
            f"coalesce(at[2], 0) FROM ({per_cell}) AS z WHERE {changed} "
            # sorted: the same lock order for every writer
            f"ORDER BY {c_order([f'z.{quoted(c)}' for c in CELL], figure_pass, CELL)} "
            f"ON CONFLICT ({cell}) DO UPDATE SET {sets}, {_newest_sets(figure_pass.name)} "
            f"RETURNING ctid, {cell}, {', '.join(quoted(v) for v in values)}, newest, newest_count) "
            f"SELECT {cell}, ctid, {all_zero} AS emptied FROM up WHERE {all_zero} OR newest IS NULL "
            "OR newest_count <= 0")


_ADD_SIGNED_PASS = _STAGED_SIGNED.statements(_signed_pass(), DISTINCT_PARAMS)


async def add_pass_and_dates(session: AsyncSession, signed: Sequence[tuple[Any, ...]],
                             distinct: Sequence[tuple[Any, ...]]) -> None:
    """The pass tallies and newest result days of the batch's `signed` rows (`SIGNED_COLUMNS`), and the distinct
    students' changes (`distinct`: `CELL` values then the change), in one statement: the rows staged (or sent as
    arrays when few), expanded to their cells and summed per cell and day by the server. Cells whose values all
    reach zero are removed; cells whose newest day lost all its results have it looked up again
    (`renew_newest`)."""
    if not signed and not distinct:
        return
    found = await _STAGED_SIGNED.execute(session, signed, _ADD_SIGNED_PASS, {"distinct": json_rows(distinct)})
    emptied = [r[-2] for r in found if r[-1]]  # by place, as `AdditiveTable._delete_at` says why
    if emptied:
        await session.execute(PASS._delete_at, {"at": emptied})
    stale = [tuple(r[:-2]) for r in found if not r[-1]]
    if stale:
        await renew_newest(session, stale)


def _newest_of(source: str, where: str) -> str:
    """A LATERAL: the newest `day` of `source` rows matching `where` (against the cell `k`) and its `count`."""
    return (f"LEFT JOIN LATERAL (SELECT day, sum(n) AS count FROM {source} WHERE {where} "
            f"GROUP BY day ORDER BY day DESC LIMIT 1) AS n ON true")


_SAME_CELL = "x.organiser_id = k.organiser_id AND x.subject_code = k.subject_code AND x.year = k.year " \
             "AND x.school_year = k.school_year"
#: a fact's results in the cell `k` (its term or its round)
_FACTS_IN_CELL = (f"(SELECT f.organiser_id, f.subject_code, f.year, f.school_year, f.term, f.round, f.school_unit_code, "
                  f"f.group_id, f.assessed_on AS day, 1 AS n FROM {assessment_facts.name} f "
                  "WHERE NOT f.retracted AND f.assessed_on IS NOT NULL) AS x")
_IN_PERIOD = "(x.term = k.period OR 'R' || x.round = k.period)"
#: the newest day of one level's cells: groups and school units from the facts (by the school unit's index), the
#: levels above from the newest days of the level below (school units placed in the area, or of the organiser;
#: the nation has no cells of its own: its reads take the organiser's)
_LOWER_CELLS = (f"(SELECT organiser_id, subject_code, year, school_year, period, unit_id, level, newest AS day, "
                f"newest_count AS n FROM {figure_pass.name}) AS x")
_NEWEST_FROM = {
    "group": _newest_of(_FACTS_IN_CELL, f"{_SAME_CELL} AND {_IN_PERIOD} AND x.school_unit_code = "
                                        f"split_part(k.unit_id, '{GROUP_SEPARATOR}', 1) AND x.group_id = "
                                        f"substr(k.unit_id, strpos(k.unit_id, '{GROUP_SEPARATOR}') + 1)"),
    "school_unit": _newest_of(_FACTS_IN_CELL, f"{_SAME_CELL} AND {_IN_PERIOD} AND x.school_unit_code = k.unit_id"),
    "area": _newest_of(_LOWER_CELLS, f"{_SAME_CELL} AND x.period = k.period AND x.level = 'school_unit' "
                                     f"AND x.day IS NOT NULL AND x.unit_id IN (SELECT p.school_unit_code FROM "
                                     f"{placements.name} p WHERE p.area_id = k.unit_id)"),
    "organiser": _newest_of(_LOWER_CELLS, f"{_SAME_CELL} AND x.period = k.period AND x.level = 'school_unit' "
                                          "AND x.day IS NOT NULL"),
}


def _renew(level: str) -> Any:
    keys = " AND ".join(f"a.{quoted(c)} = k.{quoted(c)}" for c in CELL)
    return text(f"UPDATE {figure_pass.name} a SET newest = n.day, newest_count = coalesce(n.count, 0) "
                f"FROM {unnest_of([figure_pass.c[c] for c in CELL])} AS k({', '.join(quoted(c) for c in CELL)}) "
                f"{_NEWEST_FROM[level]} WHERE {keys}")


_RENEW = {level: _renew(level) for level in MATERIALISED}


async def renew_newest(session: AsyncSession, cells: Sequence[tuple[Any, ...]]) -> None:
    """The newest result day (and its results) of `cells` (`CELL` values) looked up again after a batch took every
    result of their newest day away: level by level, each level's from the one below once that is right."""
    by_level: dict[str, list[tuple[Any, ...]]] = {}
    for cell in cells:
        by_level.setdefault(cell[0], []).append(tuple(cell))
    for level in MATERIALISED:  # group, school unit, area, organiser: each from the one below
        if level in by_level:
            await session.execute(_RENEW[level], as_arrays(CELL, sorted(by_level[level])))


_RENEW_AREAS = text(
    f"UPDATE {figure_pass.name} a SET newest = n.day, newest_count = coalesce(n.count, 0) "
    f"FROM (SELECT * FROM {figure_pass.name} WHERE level = 'area' AND unit_id = ANY(CAST(:areas AS text[]))) AS k "
    f"{_NEWEST_FROM['area']} WHERE a.level = k.level AND a.unit_id = k.unit_id AND a.organiser_id = k.organiser_id "
    "AND a.subject_code = k.subject_code AND a.year = k.year AND a.school_year = k.school_year AND a.period = k.period")


async def renew_area_newest(session: AsyncSession, moves: Sequence[tuple[str, str | None, str | None]]) -> None:
    """After school units moved between areas (the sums moved by `AdditiveTable.transfer`): the areas' newest
    days from their school units' again (a maximum cannot be taken away by a sum). Rare, directory-driven."""
    areas = sorted({a for _, old, new in moves for a in (old, new) if a is not None})
    if areas:
        await session.execute(_RENEW_AREAS, {"areas": areas})


PASS = AdditiveTable(figure_pass, CELL, PASS_VALUES, NEWEST)
STUDENTS = AdditiveTable(figure_students, (*CELL, "student_id"), ("count",))
FORECASTS = AdditiveTable(figure_forecasts, FORECAST_CELL, FORECAST_COUNTERS)
MERIT = AdditiveTable(figure_merit, MERIT_CELL, MERIT_COUNTERS)
TABLES: Mapping[str, AdditiveTable] = {"pass": PASS, "students": STUDENTS, "forecasts": FORECASTS, "merit": MERIT}


# ---------------------------------------------------------------- recomputation from the facts (consistency)

def _reaches_values() -> str:
    """The pass rule as a VALUES list from the contracts' scales (one source of the rule)."""
    rows = [f"('{scale.value}', '{value}', {str(reaches_pass(scale, value)).lower()})"
            for scale in Scale for value in scale_values(scale)]
    return "(VALUES " + ", ".join(rows) + ") AS s(scale, value, reaches)"


def _recomputed(select_values: str, extra_key: str | None, levels: Sequence[str] = MATERIALISED,
                facts: str = assessment_facts.name) -> str:
    """Every level's cells from the facts, one aggregate per level and period kind; `facts`: the table (or common
    table expression) they are read from."""
    unit = {"group": f"f.school_unit_code || '{GROUP_SEPARATOR}' || f.group_id", "school_unit": "f.school_unit_code",
            "area": "p.area_id", "organiser": "f.organiser_id", "nation": f"'{NATION}'"}
    period = {"term": "f.term", "round": "'R' || f.round"}
    extra = f", {extra_key}" if extra_key else ""
    parts = []
    for level in levels:
        join = (f"JOIN {placements.name} p ON p.school_unit_code = f.school_unit_code AND p.area_id IS NOT NULL"
                if level == "area" else "")
        for kind, expr in period.items():
            parts.append(
                f"SELECT CAST('{level}' AS varchar) AS level, CAST({unit[level]} AS varchar) AS unit_id, "
                f"f.organiser_id, f.subject_code, f.year, f.school_year, CAST({expr} AS varchar) AS period{extra}, "
                f"{select_values} FROM {facts} f {join} "
                f"JOIN {_reaches_values()} ON s.scale = f.scale AND s.value = f.value "
                f"WHERE NOT f.retracted AND f.assessed_on IS NOT NULL "
                f"GROUP BY 1, 2, 3, 4, 5, 6, 7{', 8' if extra_key else ''} /* {kind} */")
    return " UNION ALL ".join(parts)


def _pass_counters(distinct_students: bool = True) -> str:
    out = []
    for gender in ("female", "male", "unknown"):
        out.append(f"CAST(count(*) FILTER (WHERE f.gender = '{gender}') AS integer) AS assessed_{gender}")
        out.append(f"CAST(count(*) FILTER (WHERE f.gender = '{gender}' AND s.reaches) AS integer) AS reaching_{gender}")
    if distinct_students:
        out.append("CAST(count(DISTINCT f.student_id) AS integer) AS students")
    return ", ".join(out)


def _pass_by_student(facts: str = assessment_facts.name) -> str:
    """`RECOMPUTED["pass"]` in two hash-friendly steps: per cell and student, then per cell (the distinct
    students are the rows of the first step). The same rows; no `count(DISTINCT)`, whose sort per cell
    (text keys in the database's collation) made the whole-table materialisation of a rebuild slow."""
    cell = ", ".join(quoted(c) for c in CELL)
    sums = ", ".join(f"CAST(sum({quoted(c)}) AS integer) AS {quoted(c)}" for c in PASS_COUNTERS)
    return (f"SELECT {cell}, {sums}, CAST(count(*) AS integer) AS students "
            f"FROM ({_recomputed(_pass_counters(distinct_students=False), 'f.student_id', facts=facts)}) AS r "
            f"GROUP BY {', '.join(str(n) for n in range(1, len(CELL) + 1))}")


#: The rebuild's materialisation of the pass table (`_pass_by_student`): equal to `RECOMPUTED["pass"]`.
PASS_BY_STUDENT = _pass_by_student()


def _with_newest(per_cell: str, levels: Sequence[str], facts: str = assessment_facts.name) -> str:
    """`per_cell`'s rows (the pass table's cells) with each cell's newest result day and its results (`NEWEST`):
    the results per cell and day counted from the facts, reduced to the newest day ([day, count] arrays compare
    by the day first)."""
    cell = ", ".join(quoted(c) for c in CELL)
    per_day = _recomputed("CAST(count(*) AS integer) AS count", "f.assessed_on AS day", levels, facts)
    newest = (f"SELECT {cell}, max(ARRAY[day - {_EPOCH}, count]) AS at FROM ({per_day}) AS d "
              f"GROUP BY {', '.join(str(n) for n in range(1, len(CELL) + 1))}")
    return (f"SELECT p.*, CAST({_EPOCH} + n.at[1] AS date) AS newest, coalesce(n.at[2], 0) AS newest_count "
            f"FROM ({per_cell}) AS p LEFT JOIN ({newest}) AS n USING ({cell})")


#: the facts' columns the recomputation reads (`_recomputed`, `_pass_counters`): all the materialised facts hold
_RECOMPUTED_FROM = ("organiser_id", "school_unit_code", "group_id", "student_id", "gender", "year", "subject_code",
                    "scale", "value", "school_year", "term", "round", "assessed_on", "retracted")


def _of_organiser(recomputed: str) -> str:
    """`recomputed` (reading the facts as `organiser_facts`) over one organiser's facts (`:organiser`), read from
    the table once: every aggregate of the statement (16 for pass) reads them from memory, where each read the
    table's pages through its index again."""
    cols = ", ".join(quoted(c) for c in _RECOMPUTED_FROM)
    return (f"WITH organiser_facts AS MATERIALIZED (SELECT {cols} FROM {assessment_facts.name} "
            f"WHERE organiser_id = :organiser AND NOT retracted AND assessed_on IS NOT NULL) {recomputed}")


#: One organiser's cells (`:organiser`) recomputed from its facts. Pass's distinct students are counted as the rows of
#: a hash aggregate per cell and student (`_pass_by_student`), not by `count(DISTINCT)`, whose sort of every fact per
#: level and period kind spilled to temp files (scale29: >431 s and 7.6 GB of temp files at 6.4M events). Organiser
#: by organiser: each aggregate holds one organiser's facts in memory, where every fact's spilled to temp files and
#: grew faster than the facts (bench/README.md sql30); the organiser's facts are read once per statement, from its
#: own pages where the facts lie organiser by organiser, as the rebuild writes them (order31).
RECOMPUTED: dict[str, str] = {
    "pass": _of_organiser(_with_newest(_pass_by_student("organiser_facts"), MATERIALISED, "organiser_facts")),
    "students": _of_organiser(_recomputed("CAST(count(*) AS integer) AS count", "f.student_id", ("group",),
                                          "organiser_facts")),
}


async def mismatches(session: AsyncSession, organisers: Sequence[str] | None = None) -> dict[str, dict[str, int]]:
    """Per figure table and level: cells where the state differs from a recomputation from the facts (in SQL for
    the sums, organiser by organiser — `organisers`: every organiser of the facts and the tables, found if not
    given; forecast against outcome and merit by the pure rules over all facts, in slices of the students)."""
    from .recompute import summed_rows  # the recomputation reads facts: kept out of the apply path

    out: dict[str, dict[str, int]] = {}
    for name, table in TABLES.items():
        if name in RECOMPUTED:
            parts = organisers if organisers is not None else await organisers_in(
                session, assessment_facts.name, table.table.name)

            async def of(organiser: str, table: AdditiveTable = table, name: str = name) -> dict[str, int]:
                return await table.mismatches(session, RECOMPUTED[name], {"organiser": organiser},
                                              where="organiser_id = :organiser")

            found: Mapping[str, int] = await by_organiser(parts, table.table.name, of)
        else:  # in slices of the students: bounded memory whatever the size (`summed_rows`)
            found = await table.mismatches_against(session, await summed_rows(session, name, len(table.key)))
        out[name] = {level: found.get(level, 0) for level in MATERIALISED}
    return out


def counters(tally: PassTally) -> tuple[int, ...]:
    return tuple(getattr(tally, name) for name in PASS_COUNTERS)


def counters_of(tally: Any) -> tuple[int, ...]:
    """A tally's counters in field order (the value columns of its table)."""
    return tuple(int(getattr(tally, f.name)) for f in dataclasses.fields(tally))


def tally_of(row: Any) -> PassTally:
    return PassTally(*(int(getattr(row, name)) for name in PASS_COUNTERS))


# ---------------------------------------------------------------- the rebuild's materialisation, one pass per table

def _at_once(select_values: str, extra: tuple[str, str] | None, levels: Sequence[str]) -> str:
    """`_recomputed`'s rows in ONE pass over the facts: the levels × the
    two period kinds as GROUPING SETS of one aggregate, instead of a scan, a join and an aggregate each."""
    group = f"f.school_unit_code || '{GROUP_SEPARATOR}' || f.group_id"
    unit_of = {"group": group, "school_unit": "f.school_unit_code", "area": "p.area_id"}
    used = [level for level in levels if level in unit_of]
    sets = [f"({unit_of[level]}, {period})" for level in used for period in ("f.term", "f.round")]
    if "organiser" in levels:
        sets += ["(f.term)", "(f.round)"]
    level = "CASE " + " ".join(f"WHEN GROUPING({unit_of[lv]}) = 0 THEN '{lv}'" for lv in used) + " ELSE 'organiser' END"
    unit = "CASE " + " ".join(f"WHEN GROUPING({unit_of[lv]}) = 0 THEN {unit_of[lv]}" for lv in used) + \
        " ELSE f.organiser_id END"
    period = "CASE WHEN GROUPING(f.term) = 0 THEN f.term ELSE 'R' || f.round END"
    area = "area" in used
    join = f"LEFT JOIN {placements.name} p ON p.school_unit_code = f.school_unit_code " if area else ""
    return (f"SELECT CAST({level} AS varchar) AS level, CAST({unit} AS varchar) AS unit_id, f.organiser_id, "
            f"f.subject_code, f.year, f.school_year, CAST({period} AS varchar) AS period"
            f"{f', {extra[0]} AS {extra[1]}' if extra else ''}, {select_values} "
            f"FROM {assessment_facts.name} f {join}JOIN {_reaches_values()} ON s.scale = f.scale AND s.value = f.value "
            f"WHERE NOT f.retracted AND f.assessed_on IS NOT NULL "
            f"GROUP BY f.organiser_id, f.subject_code, f.year, f.school_year{f', {extra[0]}' if extra else ''}, "
            f"GROUPING SETS ({', '.join(sets)})"
            # a school unit placed in no area has no area cell (`_recomputed` joins the placements)
            + (" HAVING GROUPING(p.area_id) = 1 OR p.area_id IS NOT NULL" if area else ""))


def _rolled_up_pass(within: str = "") -> str:
    """`_rolled_up_pass_parts` as one statement."""
    ctes, select = _rolled_up_pass_parts(within)
    return f"WITH {ctes} {select}"


def _rolled_up_pass_parts(within: str = "", students_key: str | None = None) -> tuple[str, str]:
    """The rebuild's pass table (with its newest days) by a roll-up: each fact aggregated once per period kind, to
    the group level, the levels above from those rows. Counters and the results per day are additive: counted per
    group cell, term, round and day (`gd`: few rows, made one per period kind only then) and summed to every level's
    cells, whose newest day is found in the same pass. Distinct students are not additive (a student can be in two
    groups of a school unit, two school units of an organiser): they are counted from the rows per group cell and
    student (`gs`: each fact once per period kind; only a count per row), summed to every level (`grp`, then per
    level) less what a student in several groups of a cell adds there — a level's cell counts a student once per
    group row it has in it, and a student whose rows of the organiser all lie in one group has one per cell. So only
    the students in more than one group of their organiser (`sev`, a per-student aggregate: one row per organiser's
    student, not per cell and student) have their group rows looked at again (`m`), and per cell above the group the
    rows each has there beyond its first are taken off (`extra`). Every step that reads as many rows as there are
    facts is a hash aggregate or a scan (no sort of the facts' rows). The same rows as `RECOMPUTED["pass"]`. Returned
    as its common table expressions (after WITH) and its SELECT, so that a statement may add one that reads `gs`
    (`STUDENTS_OF_GS`: figure_students' rows are `gs`'s). `within`: `AND` a further condition on the facts (`f`;
    bench/rebuild_by_organiser.py: one organiser's). `students_key`: an expression over figure_students' columns
    (`rebuild.bulk._key_order`): `gs` then made in its order, by a sort of the facts' rows and a group aggregate
    (`STUDENTS_OF_GS_IN_ORDER` reads it in that order, no sort of its own)."""
    k = "organiser_id, subject_code, year, school_year, period"
    kk = ", ".join(f"x.{c}" for c in k.split(", "))
    cell = ", ".join(quoted(c) for c in CELL)
    scan = f"FROM {assessment_facts.name} f JOIN {_reaches_values()} ON s.scale = f.scale AND s.value = f.value "
    where = f"WHERE NOT f.retracted AND f.assessed_on IS NOT NULL{within}"
    # each row of {0} twice, once per period kind (its term, its round)
    periods = ("CROSS JOIN LATERAL (VALUES (CAST({0}.term AS varchar)), (CAST('R' || {0}.round AS varchar))) "
               "AS q(period) ")
    gu = f"CAST(f.school_unit_code || '{GROUP_SEPARATOR}' || f.group_id AS varchar) AS gu"
    of_fact = f"f.organiser_id, f.subject_code, f.year, f.school_year, q.period, f.school_unit_code AS su, {gu}"
    area = f"JOIN {placements.name} p ON p.school_unit_code = x.su AND p.area_id IS NOT NULL"
    # a level's unit of a row with `su` and `gu` (x), and the join it needs
    unit = {"group": ("x.gu", ""), "school_unit": ("x.su", ""), "area": ("p.area_id", area),
            "organiser": ("x.organiser_id", "")}

    def per_level(source: str, values: str, extra: str = "") -> str:
        """`source`'s rows (as x) summed per cell of each level (`level`, `unit_id`, `K`, `extra`)."""
        return " UNION ALL ".join(
            f"SELECT CAST('{level}' AS varchar) AS level, CAST({u} AS varchar) AS unit_id, {kk}{extra}, {values} "
            f"FROM {source} x {join} GROUP BY {u}, {kk}{extra}" for level, (u, join) in unit.items())

    counted = (*PASS_COUNTERS, "n")
    # per group cell and student: its results (each fact once per period kind), figure_students' rows
    gs = (f"gs AS MATERIALIZED (SELECT {of_fact}, f.student_id AS st, CAST(count(*) AS integer) AS n "
          f"{scan}{periods.format('f')}{where} GROUP BY 1, 2, 3, 4, 5, 6, 7, 8)")
    if students_key is not None:
        # the same rows in figure_students' key's order: the facts' rows (each once per period kind) sorted by the key
        # and grouped as they come, where a hash aggregate's rows were sorted again for the insert (two passes over
        # as many rows as facts, both spilling at 6.4M: pass37). The key is made over figure_students' columns (`r`);
        # the other columns are grouped on too (the key alone could join two rows whose values hold its separator).
        # The aggregate has an ORDER BY (the key, which its input is sorted by already): a hash aggregate cannot have
        # one, so the planner cannot choose it (with count(*) it chose one and a sort of its rows after, on its
        # estimate of the groups: 80,400 of 604,000 at 402k). The key is not a column of `gs` (`STUDENTS_OF_GS_IN_ORDER`)
        columns = "organiser_id, subject_code, year, school_year, period, su, gu, st"
        rows = (f"SELECT x.*, CAST('group' AS varchar) AS level, x.gu AS unit_id, x.st AS student_id "
                f"FROM (SELECT {of_fact}, f.student_id AS st {scan}{periods.format('f')}{where}) AS x")
        # (the key taken off by a projection of its own: a column the statement groups or sorts by is kept in the
        # rows it holds even where it is not selected — 232 MB of them against 143 MB at 1.6M events, a part)
        gs = (f"gs AS MATERIALIZED (SELECT {columns}, n FROM (SELECT {columns}, "
              f"CAST(count(1 ORDER BY k) AS integer) AS n FROM (SELECT {columns}, {students_key} AS k "
              f"FROM ({rows}) AS r) AS r GROUP BY k, {columns} ORDER BY k) AS r)")
    ctes = (
        f"{gs}, "
        # per group cell and day: the counters and the results, counted per term, round and day first and only those
        # few rows made two, one per period kind (not every fact twice: rebuild11)
        "gd AS MATERIALIZED (SELECT d.organiser_id, d.subject_code, d.year, d.school_year, q.period, d.su, d.gu, "
        f"d.day, {', '.join(f'CAST(sum(d.{quoted(c)}) AS integer) AS {quoted(c)}' for c in counted)} "
        "FROM (SELECT f.organiser_id, f.subject_code, f.year, f.school_year, "
        f"f.term, f.round, f.school_unit_code AS su, {gu}, f.assessed_on AS day, "
        f"{_pass_counters(distinct_students=False)}, count(*) AS n {scan}{where} "
        f"GROUP BY 1, 2, 3, 4, 5, 6, 7, 8, 9) AS d {periods.format('d')}GROUP BY 1, 2, 3, 4, 5, 6, 7, 8), "
        # the organiser's students in more than one group (any subject or period): the only ones a level above the
        # group can meet in two group rows of one cell (few; one row per organiser's student aggregated, where
        # rebuild34's `gk` had one per organiser-level cell and student, as many as `gs`'s)
        "sev AS MATERIALIZED (SELECT organiser_id, st FROM gs GROUP BY organiser_id, st HAVING min(gu) <> max(gu)), "
        # their group rows
        f"m AS MATERIALIZED (SELECT {kk}, x.su, x.gu, x.st FROM gs x WHERE EXISTS (SELECT FROM sev "
        "WHERE sev.organiser_id = x.organiser_id AND sev.st = x.st)), "
        # per group cell: its students (a group row is one per student)
        f"grp AS MATERIALIZED (SELECT {k}, su, gu, CAST(count(*) AS integer) AS students FROM gs GROUP BY {k}, su, gu)")
    # per cell of each level above the group: the group rows beyond a student's first there (none at the group level)
    extra = " UNION ALL ".join(
        f"SELECT CAST('{level}' AS varchar) AS level, CAST(u AS varchar) AS unit_id, {k}, "
        f"CAST(sum(c - 1) AS integer) AS extra FROM (SELECT {u} AS u, {kk}, x.st, count(*) AS c FROM m x {join} "
        f"GROUP BY {u}, {kk}, x.st HAVING count(*) > 1) AS d GROUP BY u, {k}"
        for level, (u, join) in unit.items() if level != "group")
    # per cell: the counters, and its newest day with its results ([day, n] arrays compare by the day first)
    per_day = per_level("gd", ", ".join(f"CAST(sum(x.{quoted(c)}) AS integer) AS {quoted(c)}" for c in counted),
                        ", x.day")
    cells = (f"SELECT {cell}, {', '.join(f'CAST(sum({quoted(c)}) AS integer) AS {quoted(c)}' for c in PASS_COUNTERS)}, "
             f"max(ARRAY[day - {_EPOCH}, n]) AS at FROM ({per_day}) AS d "
             f"GROUP BY {', '.join(str(n) for n in range(1, len(CELL) + 1))}")
    students = per_level("grp", "CAST(sum(x.students) AS integer) AS students")
    return ctes, (f"SELECT {', '.join(f'c.{quoted(c)}' for c in (*CELL, *PASS_COUNTERS))}, "
                  "CAST(s.students - coalesce(e.extra, 0) AS integer) AS students, "
                  f"CAST({_EPOCH} + c.at[1] AS date) AS newest, c.at[2] AS newest_count "
                  f"FROM ({cells}) AS c JOIN ({students}) AS s USING ({cell}) "
                  f"LEFT JOIN ({extra}) AS e USING ({cell})")


#: figure_students' rows (its columns, in order) from the pass roll-up's `gs` (`_rolled_up_pass_parts`): one row per
#: group cell and student there, `n` its results — the rows `REBUILT["students"]` makes from the facts (the same
#: filter and the same two period kinds; a group's unit id names its school unit, so grouping by both is by the
#: group). The rebuild makes both tables by one statement: every fact aggregated per group cell and student once,
#: not twice (`rebuild.bulk`'s pass and students job)
STUDENTS_OF_GS = ("SELECT CAST('group' AS varchar) AS level, gu AS unit_id, organiser_id, subject_code, year, "
                  "school_year, period, st AS student_id, n AS count FROM gs")
#: `STUDENTS_OF_GS` where `gs` is made in figure_students' key's order (`_rolled_up_pass_parts`'s `students_key`): its
#: rows as they were made, no sort — a materialised common table expression is read in the order its rows were
#: stored. The key is not a column of `gs`: `gs` is held for its three readers (past `work_mem`, in temp files at
#: 6.4M), and the key is the widest value there. Only the heap's order depends on this, not the rows
#: (tests: `test_rebuild.physical_order_is_key_order`)
STUDENTS_OF_GS_IN_ORDER = STUDENTS_OF_GS
#: The pass roll-up's parts (`_rolled_up_pass_parts`: its WITH list, its SELECT)
ROLLED_UP_PASS = _rolled_up_pass_parts()


def rolled_up_pass_within(within: str, students_key: str | None = None) -> tuple[str, str]:
    """`ROLLED_UP_PASS` of the facts meeting `within` (`AND` a condition on the facts `f`): the rows of the organisers
    it keeps whole — the rebuild's parts of the organisers (`rebuild.parts`); `students_key`: `gs` in that key's order
    (`_rolled_up_pass_parts`)."""
    return _rolled_up_pass_parts(within, students_key) if within or students_key else ROLLED_UP_PASS


#: The rebuild's materialisation of pass and students: the same rows as `RECOMPUTED`. Pass (and its newest days):
#: one statement rolling the group level's rows up (`_rolled_up_pass`: each fact aggregated once per period kind,
#: instead of once per level and period kind — results/rebuild7.json); students (group level only): both period
#: kinds as GROUPING SETS of one pass (`_at_once`).
REBUILT: dict[str, str] = {
    # with the newest result days, rolled up from the group level (`_rolled_up_pass`)
    "pass": _rolled_up_pass(),
    "students": _at_once("CAST(count(*) AS integer) AS count", ("f.student_id", "student_id"), ("group",)),
}

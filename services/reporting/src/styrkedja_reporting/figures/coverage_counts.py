"""Coverage as a lookup: the number of distinct students with a result per cell, at every level,
kept as the events are applied (the `students` column of `figure_pass`).

Distinct students are not a sum, so the apply path keeps the evidence at the finest grain only:
`figure_students` holds, per *group* cell, student id → number of results (two rows per result:
its term and its round). A change that takes a student's count in a group cell from 0 to n
(inserted) or from n to 0 (emptied) may change the distinct count of every level above; for those
students only, their other groups in the same subject, year and period are looked up (in the
upsert's own statement, summed per signature by the server: `_ADD`), and the units they count in
before and after the batch are compared per level. A student in two groups of one school unit (changed group mid-term) counts once there.

The nation level has no cells of its own: its reads sum the organiser level's cells (the organiser is in
every cell key), so a student counts once per organiser (pseudonymous ids are the organiser's own).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from ..directory.tables import placements
from ..results.rules import GROUP_SEPARATOR, Placement
from ..results.tables import holds_fact_writers, placement_of
from ..staging import Staged, as_arrays, quoted
from .tables import CELL, figure_pass, figure_students

# (organiser, student, subject, year, school year, period): one student's result cells in one group
StudentKey = tuple[str, str, str, int, str, str]

_STUDENT_KEY = ("organiser_id", "student_id", "subject_code", "year", "school_year", "period")
_COLS = ", ".join(quoted(c) for c in (*CELL, "student_id", "count"))
_STAGED = Staged(figure_students, (*CELL, "student_id", "count"))
_ORGANISER_AT = CELL.index("organiser_id")
_KEY = "organiser_id, student_id, subject_code, year, school_year, period"
# Each staged row's student key (organiser, student, subject, year, school year, period) is looked up first: its
# stored groups (`was`), read as they were before the statement (every part of one statement sees the table as it
# was before it; its CTE's writes are not visible to the rest). A staged row whose own group is among them updates
# that row by its place (`upd`), the rest are inserted (`ins`) — no ON CONFLICT: its speculative insertion looked
# each key up once more and cost ~40 % more than a plain insert (bench/results/apply22.json). The look-up locks
# nothing (until apply39 it took the rows FOR UPDATE: a lock record in the WAL and a header write per row found,
# ~7.7k per deadline-week batch of 5,000): every writer of an organiser's rows holds its `FACT_WRITERS_LOCK` for the
# transaction (`apply_student_counts` refuses to run otherwise, `holds_fact_writers`; the rebuild writes its own
# tables alone), so no other transaction changes them between the statement's snapshot and its update. Were that
# broken, the update by place would skip a row another writer had moved meanwhile (its new version is elsewhere):
# the statement returns the updates it meant less those it made (`kind` 'm', when not 0) and the batch ends as a
# serialization failure — run again whole by the consumer, never a count lost; a key another writer inserted
# meanwhile fails this one's insert on the primary key (the batch failed as a whole, not a count doubled).
# The groups after are those before, less the emptied, plus the inserted. The statement returns one row per
# signature — what `distinct_deltas` sums per (organiser, subject, year, school year, period, groups after,
# groups before), the groups as arrays — not one per student: the students never come to Python (at
# 10,000 changed student cells per batch of 5,000 results their records, sets and frozensets cost more
# Python CPU than the rest of the figures together). Rows emptied (count 0, to be removed) come after the
# signatures (`kind` 'e'). The arrays are not sorted (an ordered aggregate sorted all its input, by every
# key, in the database's collation): one set in two orders is two signature rows, whose units
# (`signature_deltas`, as sets) and sums are the same as one's.
# LATERAL with OFFSET 0 (not pulled up into a plain join): the staged rows drive an index scan of one student's
# rows whatever the planner guesses of their number (a generic plan's guess made it rescan the keys per row
# of the table): since migration 0025 they are a range of the primary key (organiser, level, school year,
# period, subject, year, student; the unit last). Before, a student index (student, subject, school year,
# period) served this look-up only, one more index entry per new student cell (bench/results/apply22.json)
_SAME_KEY = " AND ".join(f"{a}.{c} = {b}.{c}" for a, b in (("x", "k"),) for c in (
    "organiser_id", "level", "school_year", "period", "subject_code", "year", "student_id"))
_ADD = _STAGED.statements(
    "WITH k AS MATERIALIZED ({rows}), "
    # per staged row: every stored row of its student key (none: one row, `at` NULL)
    f"was AS MATERIALIZED (SELECT k.{', k.'.join((*CELL, 'student_id', 'count'))}, x.unit_id AS stored_unit, "
    f"x.count AS stored, x.ctid AS at FROM k LEFT JOIN LATERAL (SELECT x.unit_id, x.count, x.ctid "
    f"FROM {figure_students.name} x WHERE {_SAME_KEY} OFFSET 0) x ON true), "
    f"ins AS (INSERT INTO {figure_students.name} ({_COLS}) SELECT {_COLS} FROM k WHERE NOT EXISTS (SELECT FROM was w "
    "WHERE w.stored_unit = k.unit_id AND " + _SAME_KEY.replace("x.", "w.") + f") RETURNING {_KEY}, unit_id), "
    f"upd AS (UPDATE {figure_students.name} t SET count = t.count + w.count FROM was w "
    f"WHERE t.ctid = w.at AND w.stored_unit = w.unit_id RETURNING t.{_KEY.replace(', ', ', t.')}, t.unit_id, "
    "t.count = 0 AS emptied), "
    f"ch AS MATERIALIZED (SELECT {_KEY}, unit_id, false AS emptied FROM ins UNION ALL "
    f"SELECT {_KEY}, unit_id, true FROM upd WHERE emptied), "
    # the changed student keys' groups before the batch (stored with a count)
    f"stored_before AS (SELECT {_KEY}, stored_unit AS unit_id FROM was w WHERE w.stored > 0 AND ({_KEY}) IN "
    f"(SELECT {_KEY} FROM ch)), "
    # per student key and group: in it before (stored), after (stored and not emptied, or inserted)
    f"per_unit AS (SELECT {_KEY}, unit_id, bool_or(tag = 'b') AS before, "
    "bool_or(tag = 'b') AND NOT bool_or(tag = 'e') OR bool_or(tag = 'i') AS after "
    f"FROM (SELECT {_KEY}, unit_id, 'b' AS tag FROM stored_before UNION ALL "
    f"SELECT {_KEY}, unit_id, CASE WHEN emptied THEN 'e' ELSE 'i' END FROM ch) AS x GROUP BY {_KEY}, unit_id), "
    "per_key AS (SELECT organiser_id, subject_code, year, school_year, period, "
    "coalesce(array_agg(unit_id) FILTER (WHERE after), '{}') AS now, "
    "coalesce(array_agg(unit_id) FILTER (WHERE before), '{}') AS was "
    f"FROM per_unit GROUP BY {_KEY}) "
    "SELECT 's' AS kind, organiser_id, subject_code, year, school_year, period, now, was, "
    "CAST(count(*) AS integer) AS n, NULL AS unit_id, NULL AS student_id FROM per_key GROUP BY 2, 3, 4, 5, 6, 7, 8 "
    "UNION ALL SELECT 'e', organiser_id, subject_code, year, school_year, period, NULL, NULL, 0, unit_id, student_id "
    "FROM ch WHERE emptied "
    # the updates meant (a staged row whose own group is stored) less those made: 0 unless another writer moved one
    "UNION ALL SELECT 'm', NULL, NULL, NULL, NULL, NULL, NULL, NULL, m.n, NULL, NULL FROM (SELECT CAST("
    "(SELECT count(*) FROM was w WHERE w.stored_unit = w.unit_id) - (SELECT count(*) FROM upd) AS integer) AS n) m "
    "WHERE m.n <> 0")
_DELETE = text(
    f"DELETE FROM {figure_students.name} WHERE count = 0 AND level = 'group' AND (unit_id, organiser_id, "
    "subject_code, year, school_year, period, student_id) IN (SELECT * FROM unnest(CAST(:unit_id AS text[]), "
    "CAST(:organiser_id AS text[]), CAST(:subject_code AS text[]), CAST(:year AS integer[]), "
    "CAST(:school_year AS text[]), CAST(:period AS text[]), CAST(:student_id AS text[])))")


def school_unit_of(group_unit_id: str) -> str:
    return group_unit_id.partition(GROUP_SEPARATOR)[0]


def level_units(organiser_id: str, groups: Iterable[str], placement: Placement) -> set[tuple[str, str]]:
    """Every (level, unit) a student with results in these group cells counts in."""
    out: set[tuple[str, str]] = set()
    for group in groups:
        code = school_unit_of(group)
        out.update((("group", group), ("school_unit", code), ("organiser", organiser_id)))
        area = placement.get(code)
        if area is not None:
            out.add(("area", area))
    return out


def distinct_deltas(after: Mapping[StudentKey, set[str]], inserted: Mapping[StudentKey, set[str]],
                    emptied: Mapping[StudentKey, set[str]], placement: Placement) -> Counter[Any]:
    """Per cell key (`CELL` order): the change of distinct students, from each student's groups
    after the batch and the groups that appeared (inserted) or disappeared (emptied) in it."""
    # summed per signature first (the cell, the groups before and after: a class's students share
    # them), then each signature's levels compared once (`signature_deltas`)
    signed: dict[Any, int] = {}  # plain dicts: a Counter's `+=` on a new key costs a Python call (`__missing__`)
    nothing: frozenset[str] = frozenset()
    for key in {*inserted, *emptied}:
        organiser_id, _, subject_code, year, school_year, period = key
        now = frozenset(after.get(key, nothing))
        came, went = inserted.get(key), emptied.get(key)
        before = now if came is None else now - came
        if went is not None:
            before = before | went
        sig = (organiser_id, subject_code, year, school_year, period, now, before)
        signed[sig] = signed.get(sig, 0) + 1
    return signature_deltas(signed.items(), placement)


def signature_deltas(signed: Iterable[tuple[tuple[Any, ...], int]], placement: Placement) -> Counter[Any]:
    """`distinct_deltas` of students summed per signature — ((organiser, subject, year, school year, period,
    groups after, groups before), number of students): each signature's levels compared once; the units a
    student's groups gain and lose depend on the organiser and the groups only (one student's subjects and
    periods share them)."""
    moved: dict[tuple[str, Any, Any], tuple[set[tuple[str, str]], set[tuple[str, str]]]] = {}
    out: dict[Any, int] = {}
    for (organiser_id, subject_code, year, school_year, period, now, before), n in signed:
        units = moved.get((organiser_id, now, before))
        if units is None:
            units_now, units_before = level_units(organiser_id, now, placement), level_units(organiser_id, before,
                                                                                          placement)
            units = moved[(organiser_id, now, before)] = (units_now - units_before, units_before - units_now)
        for sign, changed in ((n, units[0]), (-n, units[1])):
            for level, unit_id in changed:
                cell = (level, unit_id, organiser_id, subject_code, year, school_year, period)
                out[cell] = out.get(cell, 0) + sign
    return Counter(out)


class RowsMovedMeanwhile(RuntimeError):
    """`_ADD` updated fewer rows than it found: another transaction changed them after the statement's snapshot (a
    writer without the organiser's `FACT_WRITERS_LOCK`). A serialization failure (SQLSTATE 40001): the consumer runs
    the batch again whole (`styrkedja_kit.consumer.concurrency_conflict`), after the other writer's commit."""

    sqlstate = "40001"


async def apply_student_counts(session: AsyncSession, rows: list[tuple[Any, ...]], placement: Placement) -> Counter[Any]:
    """Add the group cells' student multiset deltas (`rows`: CELL values, student id, count) and
    return the change of distinct students per cell of every level: one statement adds them and
    returns the changed students' groups before and after summed per signature (`_ADD`), one removes
    the emptied rows (when any)."""
    rows = sorted(r for r in rows if r[-1])  # sorted: the index's pages in one order (and the inserts' key locks)
    if not rows:
        return Counter()
    organisers = {r[_ORGANISER_AT] for r in rows}
    if not holds_fact_writers(session, organisers):  # `_ADD` reads and updates without row locks: see above it
        raise RuntimeError(f"figure_students written without FACT_WRITERS_LOCK of {len(organisers)} organiser(s)")
    found = await _STAGED.execute(session, rows, _ADD)
    signed: list[tuple[tuple[Any, ...], int]] = []
    empty_rows: list[tuple[Any, ...]] = []
    for kind, organiser_id, subject_code, year, school_year, period, now, was, n, unit_id, student_id in found:
        if kind == "s":
            signed.append(((organiser_id, subject_code, year, school_year, period, tuple(now), tuple(was)), n))
        elif kind == "m":
            raise RowsMovedMeanwhile(f"{n} of figure_students' rows moved by another writer during the batch")
        else:
            empty_rows.append((unit_id, organiser_id, subject_code, year, school_year, period, student_id))
    if empty_rows:
        await session.execute(_DELETE, as_arrays(("unit_id", "organiser_id", "subject_code", "year", "school_year",
                                                "period", "student_id"), sorted(empty_rows)))
    codes = {school_unit_of(u) for sig, _ in signed for groups in sig[5:] for u in groups}
    missing = codes - set(placement)
    if missing:
        placement = {**placement, **await placement_of(session, missing)}
    return signature_deltas(signed, placement)


_RECOUNT_AREAS = text(
    f"UPDATE {figure_pass.name} a SET students = coalesce((SELECT count(DISTINCT s.student_id) "
    f"FROM {figure_students.name} s JOIN {placements.name} p "
    f"ON p.school_unit_code = split_part(s.unit_id, '{GROUP_SEPARATOR}', 1) "
    "WHERE s.level = 'group' AND s.count > 0 AND p.area_id = a.unit_id AND s.organiser_id = a.organiser_id "
    "AND s.subject_code = a.subject_code AND s.year = a.year AND s.school_year = a.school_year "
    "AND s.period = a.period), 0) WHERE a.level = 'area' AND a.unit_id = ANY(CAST(:areas AS text[]))")


async def recount_areas(session: AsyncSession, moves) -> None:
    """After school units moved between areas (their sums moved by `AdditiveTable.transfer`), the
    areas' distinct students are counted again from the group cells: a student in two of the moved
    school units is one student, which a sum cannot know. A rare, directory-driven statement."""
    areas = sorted({a for _, old, new in moves for a in (old, new) if a is not None})
    if areas:
        await session.execute(_RECOUNT_AREAS, {"areas": areas})

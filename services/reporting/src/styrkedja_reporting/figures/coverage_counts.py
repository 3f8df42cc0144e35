"""Coverage as a lookup: the number of distinct students with a result per cell, at every level,
kept as the events are applied (the `students` column of `figure_pass`).

Distinct students are not a sum, so the apply path keeps the evidence at the finest grain only:
`figure_students` holds, per *group* cell, student id → number of results (two rows per result:
its term and its round). A change that takes a student's count in a group cell from 0 to n
(inserted) or from n to 0 (emptied) may change the distinct count of every level above; for those
students only, their other groups in the same subject, year and period are looked up (one
statement per batch), and the units they count in before and after the batch are compared per
level. A student in two groups of one school unit (changed group mid-term) counts once there.

The nation level is kept per organiser (the organiser is in every cell key): summed over
organisers a student counts once per organiser (pseudonymous ids are the organiser's own).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from ..directory.tables import placements
from ..results.rules import GROUP_SEPARATOR, NATION, Placement
from ..results.tables import placement_of
from ..staging import Staged, as_arrays, quoted
from .tables import CELL, figure_pass, figure_students

# (organiser, student, subject, year, school year, period): one student's result cells in one group
StudentKey = tuple[str, str, str, int, str, str]

_STUDENT_KEY = ("organiser_id", "student_id", "subject_code", "year", "school_year", "period")
_COLS = ", ".join(quoted(c) for c in (*CELL, "student_id", "count"))
_KEYS = ", ".join(quoted(c) for c in (*CELL, "student_id"))
# A row whose count after the statement equals the delta sent was inserted: a stored row never
# has a count of 0 (emptied rows are removed in the same batch), so old + delta = delta means none.
_STAGED = Staged(figure_students, (*CELL, "student_id", "count"))
_ADD = _STAGED.statements(
    "WITH d AS ({rows}), "
    f"up AS (INSERT INTO {figure_students.name} ({_COLS}) SELECT * FROM d ON CONFLICT ({_KEYS}) DO UPDATE "
    f"SET count = {figure_students.name}.count + EXCLUDED.count RETURNING {_COLS}) "
    "SELECT up.unit_id, up.organiser_id, up.subject_code, up.year, up.school_year, up.period, up.student_id, "
    "up.count, up.count = d.count AS inserted FROM up JOIN d USING (level, unit_id, organiser_id, subject_code, "
    "year, school_year, period, student_id) WHERE up.count = 0 OR up.count = d.count")
_DELETE = text(
    f"DELETE FROM {figure_students.name} WHERE count = 0 AND level = 'group' AND (unit_id, organiser_id, "
    "subject_code, year, school_year, period, student_id) IN (SELECT * FROM unnest(CAST(:unit_id AS text[]), "
    "CAST(:organiser_id AS text[]), CAST(:subject_code AS text[]), CAST(:year AS integer[]), "
    "CAST(:school_year AS text[]), CAST(:period AS text[]), CAST(:student_id AS text[])))")
# LATERAL with OFFSET 0 (not pulled up into a plain join): the keys drive an index scan of one student's
# rows (`ix_figure_students_student`) whatever the planner guesses of the array's length (a generic
# plan's guess made it rescan the keys per row of the table). Inside, only the columns of that index
# are compared; the rest is filtered outside (OFFSET 0 keeps it there): with statistics older than
# the table's growth (a rebuild, a deadline rush) the organiser index looked as cheap, and walking
# an organiser's whole period per key cost 7–19 s per batch of 10,000 keys instead of 0.2 s
_GROUPS_OF = text(
    "SELECT k.organiser_id, k.student_id, k.subject_code, k.year, k.school_year, k.period, s.unit_id "
    "FROM unnest(CAST(:organiser_id AS text[]), CAST(:student_id AS text[]), "
    "CAST(:subject_code AS text[]), CAST(:year AS integer[]), CAST(:school_year AS text[]), "
    "CAST(:period AS text[])) AS k(organiser_id, student_id, subject_code, year, school_year, period) "
    f"CROSS JOIN LATERAL (SELECT s.unit_id, s.organiser_id, s.year, s.level, s.count FROM {figure_students.name} s "
    "WHERE s.student_id = k.student_id AND s.subject_code = k.subject_code AND s.school_year = k.school_year "
    "AND s.period = k.period OFFSET 0) s "
    "WHERE s.organiser_id = k.organiser_id AND s.year = k.year AND s.level = 'group' AND s.count > 0")


_CUSTOM_PLAN = text("SELECT set_config('plan_cache_mode', 'force_custom_plan', true)")
_AUTO_PLAN = text("SELECT set_config('plan_cache_mode', 'auto', true)")


def school_unit_of(group_unit_id: str) -> str:
    return group_unit_id.partition(GROUP_SEPARATOR)[0]


def level_units(organiser_id: str, groups: Iterable[str], placement: Placement) -> set[tuple[str, str]]:
    """Every (level, unit) a student with results in these group cells counts in."""
    out: set[tuple[str, str]] = set()
    for group in groups:
        code = school_unit_of(group)
        out.update((("group", group), ("school_unit", code), ("organiser", organiser_id), ("nation", NATION)))
        area = placement.get(code)
        if area is not None:
            out.add(("area", area))
    return out


def distinct_deltas(after: Mapping[StudentKey, set[str]], inserted: Mapping[StudentKey, set[str]],
                    emptied: Mapping[StudentKey, set[str]], placement: Placement) -> Counter[Any]:
    """Per cell key (`CELL` order): the change of distinct students, from each student's groups
    after the batch and the groups that appeared (inserted) or disappeared (emptied) in it."""
    # summed per signature first (the cell, the groups before and after: a class's students share
    # them), then each signature's levels compared once; the units a student's groups gain and lose
    # depend on the organiser and the groups only (one student's subjects and periods share them)
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
    moved: dict[tuple[str, frozenset[str], frozenset[str]], tuple[set[tuple[str, str]], set[tuple[str, str]]]] = {}
    out: dict[Any, int] = {}
    for (organiser_id, subject_code, year, school_year, period, now, before), n in signed.items():
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


async def apply_student_counts(session: AsyncSession, rows: list[tuple[Any, ...]], placement: Placement) -> Counter[Any]:
    """Add the group cells' student multiset deltas (`rows`: CELL values, student id, count) and
    return the change of distinct students per cell of every level (one statement to add, one
    to look up the students whose presence changed, one to remove emptied rows)."""
    rows = sorted(r for r in rows if r[-1])  # sorted: the same lock order for every writer
    if not rows:
        return Counter()
    changed = await _STAGED.execute(session, rows, _ADD)
    inserted: dict[StudentKey, set[str]] = {}
    emptied: dict[StudentKey, set[str]] = {}
    for unit_id, organiser_id, subject_code, year, school_year, period, student_id, count, was_inserted in changed:
        key = (organiser_id, student_id, subject_code, year, school_year, period)
        if count == 0:
            emptied.setdefault(key, set()).add(unit_id)
        elif was_inserted:
            inserted.setdefault(key, set()).add(unit_id)
    if not changed:
        return Counter()
    keys = sorted({*inserted, *emptied})
    after: dict[StudentKey, set[str]] = {}
    # planned for these keys and the table as it is now: a generic plan made while the table was
    # small (a fresh rebuild) would scan it once per key (results are the same either way)
    await session.execute(_CUSTOM_PLAN)
    found = (await session.execute(_GROUPS_OF, as_arrays(_STUDENT_KEY, keys))).all()
    await session.execute(_AUTO_PLAN)
    for organiser_id, student_id, subject_code, year, school_year, period, unit_id in found:
        after.setdefault((organiser_id, student_id, subject_code, year, school_year, period), set()).add(unit_id)
    empty_rows = [(unit_id, organiser_id, subject_code, year, school_year, period, student_id)
                  for (organiser_id, student_id, subject_code, year, school_year, period), units in emptied.items()
                  for unit_id in units]
    if empty_rows:
        await session.execute(_DELETE, as_arrays(("unit_id", "organiser_id", "subject_code", "year", "school_year",
                                                "period", "student_id"), sorted(empty_rows)))
    codes = {school_unit_of(u) for units in (*after.values(), *emptied.values()) for u in units}
    missing = codes - set(placement)
    if missing:
        placement = {**placement, **await placement_of(session, missing)}
    return distinct_deltas(after, inserted, emptied, placement)


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

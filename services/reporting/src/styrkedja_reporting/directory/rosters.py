"""Roster sizes materialised: distinct students on the rosters (group memberships) per unit at
every level, as a step function over the days — so coverage reads a roster as one lookup for
any date instead of counting the memberships.

Rebuilt per organiser in one statement whenever a batch changes its memberships or its school
units' placements: per (level, unit, student) the membership intervals are merged (a student in
two groups of one school counts once there), each merged interval gives +1 on its first day and
-1 the day after its last, and the running sum per unit is the size from that day to the next
change. Sizes equal `count(DISTINCT student_id)` of the memberships current on the day (the
consistency check compares the two, `mismatches`)."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date

from sqlalchemy import TextClause, text
from sqlalchemy.ext.asyncio import AsyncSession

from styrkedja_kit.days import school_today

from ..results.rules import GROUP_SEPARATOR
from .tables import memberships, placements, roster_sizes

LEVELS = ("group", "school_unit", "area", "organiser")

_STEPS = f"""
WITH m AS (
    SELECT m.organiser_id, lv.level, lv.unit_id, m.student_id,
           COALESCE(m.start_date, DATE '-infinity') AS s, COALESCE(m.end_date, DATE 'infinity') AS e
    FROM {memberships.name} m
    LEFT JOIN {placements.name} p ON p.school_unit_code = m.school_unit_code AND p.area_id IS NOT NULL
    CROSS JOIN LATERAL (VALUES ('group', m.school_unit_code || '{GROUP_SEPARATOR}' || m.group_id),
                               ('school_unit', m.school_unit_code), ('area', p.area_id),
                               ('organiser', m.organiser_id)) AS lv(level, unit_id)
    WHERE m.organiser_id = ANY(CAST(:organisers AS text[])) AND NOT m.removed AND lv.unit_id IS NOT NULL
      AND m.student_id IS NOT NULL
), ordered AS (
    SELECT *, max(e) OVER (PARTITION BY organiser_id, level, unit_id, student_id ORDER BY s, e
                           ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING) AS before_end
    FROM m
), islands AS (
    SELECT *, sum(CASE WHEN before_end IS NOT NULL AND s <= before_end + 1 THEN 0 ELSE 1 END)
              OVER (PARTITION BY organiser_id, level, unit_id, student_id ORDER BY s, e) AS island
    FROM ordered
), merged AS (
    SELECT organiser_id, level, unit_id, min(s) AS s, max(e) AS e
    FROM islands GROUP BY organiser_id, level, unit_id, student_id, island
), changes AS (
    SELECT organiser_id, level, unit_id, day, sum(delta) AS delta FROM (
        SELECT organiser_id, level, unit_id, s AS day, 1 AS delta FROM merged
        UNION ALL
        SELECT organiser_id, level, unit_id, e + 1, -1 FROM merged WHERE e <> DATE 'infinity'
    ) AS c GROUP BY organiser_id, level, unit_id, day
), steps AS (
    SELECT organiser_id, level, unit_id, day AS valid_from,
           lead(day) OVER w - 1 AS valid_to, sum(delta) OVER w AS students
    FROM changes WINDOW w AS (PARTITION BY organiser_id, level, unit_id ORDER BY day)
)
SELECT organiser_id, level, unit_id, valid_from, valid_to, CAST(students AS integer)
FROM steps WHERE students > 0
"""


def rebuild_statement() -> TextClause:
    """INSERT the step functions of the organisers in `:organisers` (their old rows deleted first)."""
    return text(f"INSERT INTO {roster_sizes.name} (organiser_id, level, unit_id, valid_from, valid_to, students) "
                + _STEPS)


async def rebuild_rosters(session: AsyncSession, organisers: Iterable[str] | None = None) -> None:
    """The step functions of these organisers (all when None) from their current memberships."""
    if organisers is None:
        wanted = [r[0] for r in (await session.execute(text(
            f"SELECT DISTINCT organiser_id FROM {memberships.name}"))).all()]
        await session.execute(text(f"DELETE FROM {roster_sizes.name}"))
    else:
        wanted = sorted(set(organisers))
        await session.execute(text(f"DELETE FROM {roster_sizes.name} "
                                   "WHERE organiser_id = ANY(CAST(:organisers AS text[]))"), {"organisers": wanted})
    if wanted:
        await session.execute(rebuild_statement(), {"organisers": wanted})


async def roster_sizes_on(session: AsyncSession, level: str, organiser_id: str | None, on: date) -> dict[str, int]:
    """Students on the rosters on `on`, per unit of `level` (a lookup); a unit with nobody on its
    rosters that day is absent (its roster is unknown)."""
    if level not in LEVELS:
        return {}
    rows = (await session.execute(text(
        f"SELECT unit_id, students FROM {roster_sizes.name} WHERE level = :level "
        "AND (CAST(:organiser AS text) IS NULL OR organiser_id = :organiser) "
        "AND valid_from <= :on AND (valid_to IS NULL OR valid_to >= :on)"),
        {"level": level, "organiser": organiser_id, "on": on})).all()
    out: dict[str, int] = {}
    for unit_id, n in rows:  # without an organiser, one unit id (a school unit) is under one organiser
        out[unit_id] = out.get(unit_id, 0) + int(n)
    return out


async def roster_sizes_of(session: AsyncSession, organisers: Iterable[str], levels: Iterable[str],
                          on: date) -> dict[tuple[str, str, str], int]:
    """`roster_sizes_on` for many organisers and levels in one lookup: (organiser, level, unit) → students."""
    rows = (await session.execute(text(
        f"SELECT organiser_id, level, unit_id, students FROM {roster_sizes.name} "
        "WHERE organiser_id = ANY(CAST(:organisers AS text[])) AND level = ANY(CAST(:levels AS text[])) "
        "AND valid_from <= :on AND (valid_to IS NULL OR valid_to >= :on)"),
        {"organisers": sorted(set(organisers)), "levels": sorted(set(levels)), "on": on})).all()
    out: dict[tuple[str, str, str], int] = {}
    for organiser_id, level, unit_id, n in rows:
        out[(organiser_id, level, unit_id)] = out.get((organiser_id, level, unit_id), 0) + int(n)
    return out


async def counted_on(session: AsyncSession, level: str, organiser_id: str | None, on: date) -> dict[str, int]:
    """The same sizes counted from the memberships (the consistency check's side; never on a read)."""
    if level not in LEVELS:
        return {}
    unit = {"group": f"m.school_unit_code || '{GROUP_SEPARATOR}' || m.group_id", "school_unit": "m.school_unit_code",
            "area": "p.area_id", "organiser": "m.organiser_id"}[level]
    join = (f"JOIN {placements.name} p ON p.school_unit_code = m.school_unit_code AND p.area_id IS NOT NULL"
            if level == "area" else "")
    sql = text(f"SELECT {unit}, count(DISTINCT m.student_id) FROM {memberships.name} m {join} "
               "WHERE (CAST(:organiser AS text) IS NULL OR m.organiser_id = :organiser) AND NOT m.removed "
               "AND m.student_id IS NOT NULL "
               "AND (m.start_date IS NULL OR m.start_date <= :on) AND (m.end_date IS NULL OR m.end_date >= :on) "
               "GROUP BY 1")
    return {row[0]: int(row[1]) for row in (await session.execute(sql, {"organiser": organiser_id, "on": on})).all()}


async def mismatches(session: AsyncSession) -> dict[str, int]:
    """Per level: units whose materialised size differs from the count of the memberships, on every
    day the sizes can change (each membership's first day and the day after its last) and today."""
    days = {school_today()} | {r[0] for r in (await session.execute(text(
        f"SELECT start_date FROM {memberships.name} WHERE start_date IS NOT NULL "
        f"UNION SELECT end_date + 1 FROM {memberships.name} WHERE end_date IS NOT NULL "
        f"UNION SELECT end_date FROM {memberships.name} WHERE end_date IS NOT NULL"))).all()}
    organisers = [r[0] for r in (await session.execute(text(
        f"SELECT organiser_id FROM {memberships.name} UNION SELECT organiser_id FROM {roster_sizes.name}"))).all()]
    out = dict.fromkeys(LEVELS, 0)
    for organiser in organisers:
        for day in sorted(days):
            for level in LEVELS:
                kept = await roster_sizes_on(session, level, organiser, day)
                counted = await counted_on(session, level, organiser, day)
                out[level] += sum(1 for unit in kept.keys() | counted.keys() if kept.get(unit) != counted.get(unit))
    return out

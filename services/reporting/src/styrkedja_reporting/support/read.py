"""Reads of the support figures for one unit of one level — lookups in the materialised state:

* `support_aggregates` — interventions per kind, status and evaluation outcome;
* `support_students` — one row per intervention per level, keyed by student, kind, subject,
  status, outcome and start date: distinct students per kind, students per outcome, open
  investigations by start date;
* `support_below_pass` — students below the pass level without any support (per group, subject
  and student: the levels above are read from the group rows, `_below`);
* `plan_aggregates` (group level) against the directory's teaching assignments: plan coverage;
* the figures' `figure_students` (distinct students assessed): the denominator of the shares.

Only the results before and after support started read the facts (a join of one unit's
supported students with their results in the supported subject). Every figure carries the
number of students behind it (`students`) so the read path can apply the small-group rule:
every figure here is sensitive (`rules.SENSITIVE_FIGURES`), withheld at every level above the unit.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any, Literal

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from styrkedja_contracts.scales import Scale, reaches_pass, scale_values

from ..directory.tables import placements, teaching_assignments
from ..figures.tables import figure_students
from ..results.rules import GROUP_SEPARATOR, MATERIALISED, NATION, read_level
from ..results.tables import assessment_facts
from .rules import (
    ACTIVE_STATUSES,
    EVALUATED_STATUSES,
    KINDS,
    NO_SUBJECT,
    OPEN_INVESTIGATION_STATUSES,
    STARTED_STATUSES,
)
from .tables import plan_aggregates, support_aggregates, support_below_pass, support_facts, support_students

Level = Literal["group", "school_unit", "area", "organiser", "nation"]
#: Levels at which the list of students below the pass level without support is shown (the principal's).
LIST_LEVELS = ("group", "school_unit")
#: Every value of every scale that does not reach the pass level (from the contracts' one rule).
BELOW_PASS = tuple(sorted({v for scale in Scale for v in scale_values(scale) if not reaches_pass(scale, v)}))
OUTCOMES = ("better", "unchanged", "worse")


@dataclass(frozen=True)
class Where:
    level: Level
    unit_id: str
    organiser_id: str | None  # None only for the nation


def _stored_level(level: str) -> str:
    """The stored level a read of `level` takes its rows from, as an SQL literal (one of the fixed levels only)."""
    stored = read_level(level)
    if stored not in MATERIALISED:
        raise ValueError(f"no materialised level {level!r}")
    return f"'{stored}'"


def _cell(where: Where, subject: str | None, alias: str = "") -> str:
    """WHERE of one unit's rows in a materialised table (level, unit, organiser, subject). Only the conditions that
    select something, the level a constant: a nation read's plan — a prepared statement's generic one too — then
    knows it reads every organiser's rows (with `CAST(:organiser AS text) IS NULL OR …` it guessed 18 of 32k and
    sorted them where a hash pass is 3× faster)."""
    a = f"{alias}." if alias else ""
    conditions = [f"{a}level = {_stored_level(where.level)}"]
    if where.level != "nation":  # the nation: every organiser's cells
        conditions.append(f"{a}unit_id = :unit")
    if where.organiser_id is not None:
        conditions.append(f"{a}organiser_id = :organiser")
    if subject is not None:
        conditions.append(f"{a}subject_code = :subject")
    return " AND ".join(conditions)


def _params(where: Where, subject: str | None = None, **more: Any) -> dict[str, Any]:
    return {"level": read_level(where.level), "unit": where.unit_id, "organiser": where.organiser_id, "subject": subject,
            **more}


def _share(part: int, whole: int) -> float | None:
    return round(part / whole, 4) if whole else None


def _students(table: str, where: str, keys: tuple[str, ...] = (), alias: str = "") -> str:
    """SQL: per `keys` (SQL expressions over `table`'s rows), the distinct students — (organiser, student) pairs —
    of the rows matching `where`; the keys, then the count. The rows are made distinct per (keys, organiser,
    student) in one hash pass and counted: the same number as `count(DISTINCT (organiser_id, student_id))` per keys,
    which sorted every row by a record comparison (the nation's below-pass read of every unit: 32k organiser-level
    rows, 0.6–1.3 s under load, 180 ms alone; bench/results/support-nation22.json)."""
    a = f"{alias}." if alias else ""  # `table` as `… alias [JOIN …]`: the organiser and student of `alias`
    named = [f"{key} AS k{n}" for n, key in enumerate(keys)]
    distinct = ", ".join([*named, f"{a}organiser_id", f"{a}student_id"])
    out = ", ".join(f"k{n}" for n in range(len(keys)))
    return (f"SELECT {out + ', ' if keys else ''}count(*) FROM (SELECT DISTINCT {distinct} FROM {table} "
            f"WHERE {where}) AS students" + (f" GROUP BY {out}" if keys else ""))


async def interventions_by_kind(session: AsyncSession, where: Where, subject: str | None) -> dict[str, Any]:
    """Active interventions per kind, and evaluation outcomes per kind — interventions
    (`support_aggregates`) and the distinct students behind them (`support_students`)."""
    sql = (f"SELECT kind, status, evaluation_outcome, sum(count) FROM {support_aggregates.name} "
           f"WHERE {_cell(where, subject)} GROUP BY 1, 2, 3")
    rows = (await session.execute(text(sql), _params(where, subject))).all()
    active: dict[str, int] = dict.fromkeys(KINDS, 0)
    outcomes: dict[str, dict[str, int]] = {k: dict.fromkeys(OUTCOMES, 0) for k in KINDS}
    for kind, status, outcome, n in rows:
        if status in ACTIVE_STATUSES:
            active[kind] += int(n)
        if status in EVALUATED_STATUSES and outcome:
            outcomes[kind][outcome] += int(n)
    students_sql = _students(support_students.name, f"{_cell(where, subject)} AND status = ANY(CAST(:evaluated AS "
                             "text[])) AND evaluation_outcome <> ''", ("kind", "evaluation_outcome"))
    students: dict[str, dict[str, int]] = {k: dict.fromkeys(OUTCOMES, 0) for k in KINDS}
    for kind, outcome, n in (await session.execute(text(students_sql), _params(
            where, subject, evaluated=list(EVALUATED_STATUSES)))).all():
        students[kind][outcome] = int(n)
    return {"active_interventions": active, "evaluation_outcomes": outcomes,
            "evaluation_outcome_students": students}


def _assessed(where: Where, subject: str | None, keys: tuple[str, ...] = ()) -> str:
    """SQL: the distinct students with a result in the unit (per `keys`), from the figures' per-student evidence kept
    per group cell (`figure_students`, term cells), for the groups of the unit. As `_cell`: only the conditions that
    select (the nation's read counted every term row of every organiser, 464k at bench scale, sorted by a record:
    2 s; `_students` hashes them, 0.2 s)."""
    join = (f"JOIN {placements.name} p ON p.school_unit_code = split_part(f.unit_id, '{GROUP_SEPARATOR}', 1) "
            if where.level == "area" else "")
    conditions = ["f.level = 'group'", "f.period IN ('HT', 'VT')"]
    if where.level != "nation":
        conditions.append({"group": "f.unit_id = :unit", "school_unit": f"split_part(f.unit_id, '{GROUP_SEPARATOR}', 1) "
                           "= :unit", "area": "p.area_id = :unit", "organiser": "f.organiser_id = :unit"}[where.level])
    if where.organiser_id is not None:
        conditions.append("f.organiser_id = :organiser")
    if subject is not None:
        conditions.append("f.subject_code = :subject")
    return _students(f"{figure_students.name} f {join}", " AND ".join(conditions), keys, alias="f")


async def students_assessed(session: AsyncSession, where: Where, subject: str | None) -> int:
    """Distinct students with a result in the unit (`_assessed`)."""
    return int((await session.execute(text(_assessed(where, subject)), _params(where, subject))).scalar_one())


async def students_by_kind(session: AsyncSession, where: Where, subject: str | None) -> dict[str, Any]:
    """Distinct students with each kind active (an intervention decided or in progress), and
    their share of the students assessed in the unit. With a subject: the interventions in that
    subject (an all-subject intervention is subject `""`)."""
    active_rows = f"{_cell(where, subject)} AND status = ANY(CAST(:active AS text[]))"
    sql = _students(support_students.name, active_rows, ("kind",))
    rows = (await session.execute(text(sql), _params(where, subject, active=list(ACTIVE_STATUSES)))).all()
    with_kind = dict.fromkeys(KINDS, 0) | {k: int(n) for k, n in rows}
    any_sql = _students(support_students.name, active_rows)
    with_any = int((await session.execute(text(any_sql), _params(where, subject, active=list(ACTIVE_STATUSES))
                    )).scalar_one())
    known = await students_assessed(session, where, subject)
    return {"students_assessed": known, "students_with_kind_active": with_kind,
            "share_with_kind_active": {k: _share(n, known) for k, n in with_kind.items()},
            "students_with_any_active": with_any}


def _below(level: Level) -> tuple[str, str]:
    """(rows, unit) of the below-pass figure at `level`: the table's group rows (`b`), the only level it stores
    (`rules.below_pass_row`: one row per student × subject, at the group of its newest result), with the placements
    joined for an area; and the SQL of a row's unit at that level (as `units_assessed` reads `figure_students`)."""
    school_unit = f"split_part(b.unit_id, '{GROUP_SEPARATOR}', 1)"
    join = f" JOIN {placements.name} p ON p.school_unit_code = {school_unit}" if level == "area" else ""
    unit = {"group": "b.unit_id", "school_unit": school_unit, "area": "p.area_id", "organiser": "b.organiser_id",
            "nation": f"CAST('{NATION}' AS text)"}[level]
    return f"{support_below_pass.name} b{join}", unit


def _below_cell(where: Where, subject: str | None) -> tuple[str, str]:
    """(rows, WHERE) of one unit's below-pass rows (`_below`): only the conditions that select, as `_cell`. One area's
    rows by its school units' codes, read once (an array: no join to plan, whose estimate of one row — statistics
    older than the table's growth — made it a nested loop comparing every group row with every placement)."""
    rows, unit = _below(where.level)
    conditions = ["b.level = 'group'"]
    if where.level == "area":
        rows = f"{support_below_pass.name} b"
        conditions.append(f"split_part(b.unit_id, '{GROUP_SEPARATOR}', 1) = ANY(ARRAY(SELECT p.school_unit_code "
                          f"FROM {placements.name} p WHERE p.area_id = :unit))")
    elif where.level != "nation":  # the nation: every organiser's rows
        conditions.append(f"{unit} = :unit")
    if where.organiser_id is not None:
        conditions.append("b.organiser_id = :organiser")
    if subject is not None:
        conditions.append("b.subject_code = :subject")
    return rows, " AND ".join(conditions)


async def below_pass_without_support(session: AsyncSession, where: Where, subject: str | None
                                     ) -> tuple[int, list[dict[str, Any]]]:
    """Students whose newest result in a subject is below the pass level and who have no active
    support in that subject nor one for all subjects (materialised at the group level). The count, and the list
    (per student the subjects) — the list only at group and school-unit level."""
    rows, condition = _below_cell(where, subject)
    count = int((await session.execute(text(_students(rows, condition, alias="b")),
                                       _params(where, subject))).scalar_one())
    if where.level not in LIST_LEVELS:
        return count, []
    unit = ("unit_id = :unit" if where.level == "group"
            else "left(unit_id, length(:unit) + 1) = :unit || :sep")
    listed = (await session.execute(text(
        f"SELECT student_id, unit_id, subject_code FROM {support_below_pass.name} WHERE level = 'group' AND {unit} "
        "AND (CAST(:organiser AS text) IS NULL OR organiser_id = :organiser) "
        "AND (CAST(:subject AS text) IS NULL OR subject_code = :subject) ORDER BY 1, 3"),
        _params(where, subject, sep=GROUP_SEPARATOR))).all()
    students: dict[str, dict[str, Any]] = {}
    for student, group_key, subject_code in listed:
        code, _, group = group_key.partition(GROUP_SEPARATOR)
        entry = students.setdefault(student, {"student_id": student, "school_unit_code": code, "group_id": group,
                                              "subjects": []})
        entry["subjects"].append(subject_code)
    return count, list(students.values())


async def below_pass_by_subject(session: AsyncSession, where: Where, subject: str | None) -> list[dict[str, Any]]:
    """Per subject: students below the pass level without any support (and, for the share, the
    students assessed in that subject)."""
    rows, condition = _below_cell(where, subject)
    sql = _students(rows, condition, ("b.subject_code",), alias="b") + " ORDER BY 1"
    below = (await session.execute(text(sql), _params(where, subject))).all()
    # the students assessed in every subject at once (one pass, not one per subject: 16 × 0.3 s at the nation)
    per_subject = {code: int(n) for code, n in (await session.execute(
        text(_assessed(where, subject, ("f.subject_code",))), _params(where, subject))).all()} if below else {}
    out = []
    for code, n in below:
        assessed = per_subject.get(code, 0)
        out.append({"subject_code": code, "students": int(n), "students_assessed": assessed,
                    "share": _share(int(n), assessed)})
    return out


async def open_investigations(session: AsyncSession, where: Where, weeks: int, today: date,
                              subject: str | None = None) -> int:
    """Investigations not yet evaluated or closed whose start is more than `weeks` weeks back
    (materialised per start date: the weeks are the caller's)."""
    sql = (f"SELECT coalesce(sum(count), 0) FROM {support_students.name} WHERE {_cell(where, subject)} "
           "AND kind = 'investigation' AND status = ANY(CAST(:open AS text[])) AND start_date <> '' "
           "AND start_date < :before")
    before = (today - timedelta(weeks=weeks)).isoformat()
    return int((await session.execute(text(sql), _params(where, subject, open=list(OPEN_INVESTIGATION_STATUSES),
                                                           before=before))).scalar_one())


def _unit_expr(alias: str, level: Level) -> str:
    return {"group": f"{alias}.school_unit_code || '{GROUP_SEPARATOR}' || {alias}.group_id",
            "school_unit": f"{alias}.school_unit_code", "area": "p.area_id", "organiser": f"{alias}.organiser_id",
            "nation": f"'{NATION}'"}[level]


def _scope(alias: str, where: Where) -> tuple[str, str]:
    """(join, condition) placing the fact rows of `alias` in the unit."""
    join = (f"JOIN {placements.name} p ON p.school_unit_code = {alias}.school_unit_code"
            if where.level == "area" else "")
    condition = f"{_unit_expr(alias, where.level)} = :unit"
    if where.organiser_id is not None:
        condition += f" AND {alias}.organiser_id = :organiser"
    return join, condition


async def results_before_after(session: AsyncSession, where: Where, subject: str | None) -> list[dict[str, Any]]:
    """Share reaching the pass level in the supported subject, round by round, of the students of
    the unit with support in that subject, split by the day support started (the earliest start
    of the student's started interventions in the subject): results dated before it are
    `before`, on or after it `after`. One result per student, subject, round and phase (the term
    grade before an assessment, then the newest date). The students' results are looked up by student
    (a lateral join on the facts' student index, not a join by organiser)."""
    join, cond = _scope("s", where)
    sql = (
        "WITH starts AS MATERIALIZED (SELECT s.organiser_id, s.student_id, s.subject_code, "
        "CAST(min(s.start_date) AS date) AS started "
        f"FROM {support_facts.name} s {join} WHERE NOT s.retracted AND s.status = ANY(CAST(:started AS text[])) "
        f"AND s.subject_code <> :no_subject AND s.start_date <> '' AND {cond} "
        "AND (CAST(:subject AS text) IS NULL OR s.subject_code = :subject) GROUP BY 1, 2, 3), "
        "phased AS (SELECT DISTINCT ON (a.organiser_id, a.student_id, a.subject_code, a.school_year, a.term, a.round, "
        "a.assessed_on < st.started) a.subject_code, a.school_year, a.term, a.round, a.student_id, "
        "CASE WHEN a.assessed_on < st.started THEN 'before' ELSE 'after' END AS phase, "
        "NOT a.value = ANY(CAST(:below AS text[])) AS reaches "
        "FROM starts st CROSS JOIN LATERAL (SELECT f.organiser_id, f.student_id, f.subject_code, f.school_year, "
        f"f.term, f.round, f.assessed_on, f.kind, f.assessment_id, f.value FROM {assessment_facts.name} f "
        "WHERE f.student_id = st.student_id AND f.organiser_id = st.organiser_id "
        "AND f.subject_code = st.subject_code AND NOT f.retracted AND f.assessed_on IS NOT NULL) a "
        "ORDER BY a.organiser_id, a.student_id, a.subject_code, a.school_year, a.term, a.round, "
        "a.assessed_on < st.started, a.kind = 'term_grade' DESC, a.assessed_on DESC, a.assessment_id) "
        "SELECT subject_code, school_year, term, round, phase, count(*), count(*) FILTER (WHERE reaches) "
        "FROM phased GROUP BY 1, 2, 3, 4, 5 ORDER BY 1, 2, (term = 'VT'), 4, (phase = 'after')")
    rows = (await session.execute(text(sql), _params(where, subject, started=list(STARTED_STATUSES),
                                                     no_subject=NO_SUBJECT, below=list(BELOW_PASS)))).all()
    return [{"subject_code": s, "school_year": y, "term": t, "round": r, "phase": ph, "students": int(n),
             "reaching_pass": int(p), "share_reaching_pass": _share(int(p), int(n))} for s, y, t, r, ph, n, p in rows]


def term_dates(school_year: str, term: str) -> tuple[date, date]:
    """The days of a term: HT 1 July – 31 December of the first year, VT 1 January – 30 June of
    the second (a teaching assignment counts in a term it overlaps)."""
    first = int(school_year[:4])
    return (date(first, 7, 1), date(first, 12, 31)) if term == "HT" else (date(first + 1, 1, 1),
                                                                          date(first + 1, 6, 30))


async def plan_coverage(session: AsyncSession, where: Where, school_year: str, term: str,
                        subject: str | None) -> dict[str, Any]:
    """Share of the group × subject teaching assignments of the term (the directory's, not
    removed, overlapping the term) that have a published plan for the term (the materialised
    group-level plan cells)."""
    join, cond = _scope("t", where)
    start, end = term_dates(school_year, term)
    sql = (f"WITH taught AS (SELECT DISTINCT t.organiser_id, t.school_unit_code, t.group_id, t.subject_code "
           f"FROM {teaching_assignments.name} t {join} WHERE NOT t.removed AND t.group_id IS NOT NULL "
           f"AND t.subject_code IS NOT NULL AND t.school_unit_code IS NOT NULL AND {cond} "
           "AND (t.start_date IS NULL OR t.start_date <= :term_end) AND (t.end_date IS NULL OR t.end_date >= :term_start) "
           "AND (CAST(:subject AS text) IS NULL OR t.subject_code = :subject)) "
           "SELECT count(*), count(*) FILTER (WHERE EXISTS (SELECT 1 FROM "
           f"{plan_aggregates.name} pa WHERE pa.level = 'group' AND pa.organiser_id = taught.organiser_id "
           f"AND pa.unit_id = taught.school_unit_code || '{GROUP_SEPARATOR}' || taught.group_id "
           "AND pa.subject_code = taught.subject_code AND pa.school_year = :school_year AND pa.term = :term "
           "AND pa.count > 0)) FROM taught")
    total, planned = (await session.execute(text(sql), _params(where, subject, school_year=school_year, term=term,
                                                                  term_start=start, term_end=end))).one()
    return {"school_year": school_year, "term": term, "assignments": int(total), "with_published_plan": int(planned),
            "share": _share(int(planned), int(total))}


async def active_support_of(session: AsyncSession, school_unit_code: str, student_ids: list[str],
                            organisers: list[str]) -> dict[str, list[dict[str, str | None]]]:
    """Per student of one school unit: the active interventions (kind, subject, status), for the
    students-at-risk list (support next to the results); only those recorded for `organisers` (the reader's)."""
    if not student_ids or not organisers:
        return {}
    sql = (f"SELECT student_id, kind, subject_code, status FROM {support_facts.name} WHERE NOT retracted "
           "AND school_unit_code = :code AND organiser_id = ANY(CAST(:organisers AS text[])) "
           "AND student_id = ANY(CAST(:students AS text[])) "
           "AND status = ANY(CAST(:active AS text[])) ORDER BY 1, 2, 3")
    rows = (await session.execute(text(sql), {"code": school_unit_code, "students": sorted(set(student_ids)),
                                              "organisers": sorted(organisers),
                                              "active": list(ACTIVE_STATUSES)})).all()
    out: dict[str, list[dict[str, str | None]]] = {}
    for student, kind, subject, status in rows:
        out.setdefault(student, []).append({"kind": kind, "subject_code": subject or None, "status": status})
    return out


# --- every unit of a level at once, for the disclosure decision (`disclose.py`) --------------------
#
# A decision on one unit's figures depends on every other unit's at every level the reader sees (a
# withheld count must not follow from its siblings, its parent's total or its children's), so these
# read the same figures as above for every unit of one level of every organiser at once. Each returns
# (organiser id — None at nation level —, unit id, more keys…) → the count.


def _org(level: Level, alias: str = "") -> str:
    """The organiser column of a level's rows (none at nation level: one nation over every organiser)."""
    return "CAST(NULL AS text)" if level == "nation" else f"{alias + '.' if alias else ''}organiser_id"


def _unit(level: Level) -> str:
    """The unit column of a level's rows (the nation's: `NATION`, over every organiser level's row)."""
    return f"CAST('{NATION}' AS text)" if level == "nation" else "unit_id"


def _level_rows(level: Level, subject: str | None) -> str:
    """WHERE of every unit's rows of a level in a materialised table (subject optional; as `_cell`, only what
    selects, the level a constant)."""
    return f"level = {_stored_level(level)}" + (" AND subject_code = :subject" if subject is not None else "")


def _level_params(level: Level, subject: str | None, **more: Any) -> dict[str, Any]:
    """The parameters of `_level_rows`: the level the cells of `level` are stored at (`read_level`)."""
    return {"level": read_level(level), "subject": subject, **more}


async def _per_unit(session: AsyncSession, sql: str, params: dict[str, Any]) -> dict[tuple[Any, ...], int]:
    """(organiser, unit id, more keys…) → count, from a query whose last column is the count."""
    return {tuple(r[:-1]): int(r[-1]) for r in (await session.execute(text(sql), params)).all()
            if r[1] is not None}


async def units_with_kind_active(session: AsyncSession, level: Level, subject: str | None
                                 ) -> dict[tuple[Any, ...], int]:
    """(organiser, unit, kind) → distinct students with the kind active; (…, None) → with any kind active."""
    params = _level_params(level, subject, active=list(ACTIVE_STATUSES))
    rows = f"{_level_rows(level, subject)} AND status = ANY(CAST(:active AS text[]))"
    unit = (_org(level), _unit(level))
    out = await _per_unit(session, _students(support_students.name, rows, (*unit, "kind")), params)
    out |= {(o, u, None): n for (o, u), n in (await _per_unit(
        session, _students(support_students.name, rows, unit), params)).items()}
    return out


async def units_with_outcome(session: AsyncSession, level: Level, subject: str | None) -> dict[tuple[Any, ...], int]:
    """(organiser, unit, kind, outcome) → distinct students with an evaluated intervention of that outcome."""
    rows = f"{_level_rows(level, subject)} AND status = ANY(CAST(:evaluated AS text[])) AND evaluation_outcome <> ''"
    return await _per_unit(session, _students(support_students.name, rows,
                                              (_org(level), _unit(level), "kind", "evaluation_outcome")),
        _level_params(level, subject, evaluated=list(EVALUATED_STATUSES)))


async def units_assessed(session: AsyncSession, level: Level, subject: str | None, *, by_subject: bool = False
                         ) -> dict[tuple[Any, ...], int]:
    """(organiser, unit) → distinct students assessed (as `students_assessed`); with `by_subject`,
    (organiser, unit, subject)."""
    join = (f"JOIN {placements.name} p ON p.school_unit_code = split_part(f.unit_id, '{GROUP_SEPARATOR}', 1) "
            if level == "area" else "")
    unit = {"group": "f.unit_id", "school_unit": f"split_part(f.unit_id, '{GROUP_SEPARATOR}', 1)",
            "area": "p.area_id", "organiser": "f.organiser_id", "nation": f"'{NATION}'"}[level]
    keys = f"{_org(level, 'f')}, {unit}" + (", f.subject_code" if by_subject else "")
    sql = (f"SELECT {keys}, count(DISTINCT (f.organiser_id, f.student_id)) FROM {figure_students.name} f {join}"
           "WHERE f.level = 'group' AND (CAST(:subject AS text) IS NULL OR f.subject_code = :subject) "
           f"AND f.period IN ('HT', 'VT') GROUP BY {'1, 2, 3' if by_subject else '1, 2'}")
    return await _per_unit(session, sql, _level_params(level, subject))


async def units_assessed_every_level(session: AsyncSession, subject: str | None, *, by_subject: bool = False
                                     ) -> dict[str, dict[tuple[Any, ...], int]]:
    """`units_assessed` at school-unit, area, organiser and nation level in one pass over the students
    (grouping sets): level → (organiser, unit[, subject]) → distinct students assessed."""
    extra = ", f.subject_code" if by_subject else ""
    # the students' rows made distinct per (student, school unit[, subject]) first, in one hash pass: the
    # grouping sets' distinct counts then sort thousands of rows, not the hundreds of thousands of
    # per-group, per-period rows (a Mittköping-sized organiser: 1.8 s of a politician's first support read)
    distinct = (f"SELECT DISTINCT f.organiser_id, f.student_id, split_part(f.unit_id, '{GROUP_SEPARATOR}', 1) "
                f"AS code{extra} FROM {figure_students.name} f "
                "WHERE f.level = 'group' AND (CAST(:subject AS text) IS NULL OR f.subject_code = :subject) "
                "AND f.period IN ('HT', 'VT')")
    code = "f.code"
    sets = ", ".join(f"({keys}{extra})" if keys else f"({extra.lstrip(', ')})"
                     for keys in (f"f.organiser_id, {code}", "f.organiser_id, p.area_id", "f.organiser_id", ""))
    sql = (f"SELECT f.organiser_id, {code}, p.area_id{extra}, GROUPING(f.organiser_id, {code}, p.area_id), "
           f"count(DISTINCT (f.organiser_id, f.student_id)) FROM ({distinct}) f "
           f"LEFT JOIN {placements.name} p ON p.school_unit_code = {code} "
           f"GROUP BY GROUPING SETS ({sets})")
    #: GROUPING's bits (organiser, school unit, area; 1 = rolled up) → the level of the row
    levels = {0b001: "school_unit", 0b010: "area", 0b011: "organiser", 0b111: "nation"}
    out: dict[str, dict[tuple[Any, ...], int]] = {level: {} for level in levels.values()}
    for row in (await session.execute(text(sql), {"subject": subject})).all():
        organiser, school_unit, area, *rest = row
        bits, n = rest[-2], int(rest[-1])
        key = tuple(rest[:-2])
        level = levels.get(bits)
        if level == "school_unit":
            out[level][(organiser, school_unit, *key)] = n
        elif level == "area" and area is not None:
            out[level][(organiser, area, *key)] = n
        elif level == "organiser":
            out[level][(organiser, organiser, *key)] = n
        elif level == "nation":
            out[level][(None, NATION, *key)] = n
    return out


async def units_below_pass(session: AsyncSession, level: Level, subject: str | None) -> dict[tuple[Any, ...], int]:
    """(organiser, unit, subject) → students below the pass level without support; (…, None) → in any subject."""
    table, unit_of = _below(level)
    unit, params = (_org(level, "b"), unit_of), {"subject": subject}
    rows = "b.level = 'group'" + (" AND b.subject_code = :subject" if subject is not None else "")
    out = await _per_unit(session, _students(table, rows, (*unit, "b.subject_code"), alias="b"), params)
    out |= {(o, u, None): n for (o, u), n in (await _per_unit(
        session, _students(table, rows, unit, alias="b"), params)).items()}
    return out


async def units_open_investigations(session: AsyncSession, level: Level, weeks: int, today: date,
                                    subject: str | None) -> dict[tuple[Any, ...], int]:
    """(organiser, unit) → investigations open longer than `weeks` (as `open_investigations`)."""
    before = (today - timedelta(weeks=weeks)).isoformat()
    return await _per_unit(session, (
        f"SELECT {_org(level)}, {_unit(level)}, coalesce(sum(count), 0) FROM {support_students.name} "
        f"WHERE {_level_rows(level, subject)} "
        "AND kind = 'investigation' AND status = ANY(CAST(:open AS text[])) AND start_date <> '' "
        "AND start_date < :before GROUP BY 1, 2"),
        _level_params(level, subject, open=list(OPEN_INVESTIGATION_STATUSES), before=before))


async def units_before_after(session: AsyncSession, level: Level, subject: str | None) -> dict[tuple[Any, ...], int]:
    """(organiser, unit, subject, school year, term, round, phase) → students (as `results_before_after`).
    Each supported student's results are looked up by the student (a lateral join on the facts' student
    index: a join by organiser alone compared every result of the organiser with every supported student)."""
    join = f"JOIN {placements.name} p ON p.school_unit_code = s.school_unit_code" if level == "area" else ""
    sql = (
        f"WITH starts AS MATERIALIZED (SELECT {_unit_expr('s', level)} AS unit, s.organiser_id, s.student_id, "
        "s.subject_code, CAST(min(s.start_date) AS date) AS started "
        f"FROM {support_facts.name} s {join} WHERE NOT s.retracted AND s.status = ANY(CAST(:started AS text[])) "
        "AND s.subject_code <> :no_subject AND s.start_date <> '' "
        "AND (CAST(:subject AS text) IS NULL OR s.subject_code = :subject) GROUP BY 1, 2, 3, 4), "
        "phased AS (SELECT DISTINCT ON (st.unit, a.organiser_id, a.student_id, a.subject_code, a.school_year, a.term, "
        "a.round, a.assessed_on < st.started) st.unit, a.organiser_id, a.subject_code, a.school_year, a.term, a.round, "
        "CASE WHEN a.assessed_on < st.started THEN 'before' ELSE 'after' END AS phase "
        "FROM starts st CROSS JOIN LATERAL (SELECT f.organiser_id, f.student_id, f.subject_code, f.school_year, "
        f"f.term, f.round, f.assessed_on, f.kind, f.assessment_id FROM {assessment_facts.name} f "
        "WHERE f.student_id = st.student_id AND f.organiser_id = st.organiser_id "
        "AND f.subject_code = st.subject_code AND NOT f.retracted AND f.assessed_on IS NOT NULL) a "
        "ORDER BY st.unit, a.organiser_id, a.student_id, a.subject_code, a.school_year, a.term, a.round, "
        "a.assessed_on < st.started, a.kind = 'term_grade' DESC, a.assessed_on DESC, a.assessment_id) "
        f"SELECT {_org(level)}, unit, subject_code, school_year, term, round, phase, count(*) FROM phased "
        "GROUP BY 1, 2, 3, 4, 5, 6, 7")
    return await _per_unit(session, sql, _level_params(level, subject, started=list(STARTED_STATUSES),
                                                       no_subject=NO_SUBJECT))

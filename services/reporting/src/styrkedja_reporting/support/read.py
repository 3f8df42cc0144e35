"""Reads of the support figures for one unit of one level.

Counts of interventions come from the materialised aggregates. Figures about distinct students
(students with support, students below the pass level without support, results of supported
students) and plan coverage are computed at read from the facts of one organiser (the same
query is the recomputation the tests compare against). Every figure here is sensitive
(`rules.SENSITIVE_FIGURES`): the small-group rule applies at every level above the unit.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any, Literal

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from ..directory.tables import placements, teaching_assignments
from ..results.rules import GROUP_SEPARATOR, NATION
from ..results.tables import assessment_facts
from .rules import ACTIVE_STATUSES, EVALUATED_STATUSES, KINDS, NO_SUBJECT, OPEN_INVESTIGATION_STATUSES
from .tables import plan_facts, support_aggregates, support_facts

Level = Literal["group", "school_unit", "area", "organiser", "nation"]
#: Levels at which the list of students below the pass level without support is shown (the principal's).
LIST_LEVELS = ("group", "school_unit")
BELOW_PASS = ("F", "NOT_REACHED")


@dataclass(frozen=True)
class Where:
    level: Level
    unit_id: str
    organiser_id: str | None  # None only for the nation


def _unit(alias: str, level: Level) -> str:
    return {"group": f"{alias}.school_unit_code || '{GROUP_SEPARATOR}' || {alias}.group_id",
            "school_unit": f"{alias}.school_unit_code", "area": "p.area_id", "organiser": f"{alias}.organiser_id",
            "nation": f"'{NATION}'"}[level]


def _scope(alias: str, where: Where) -> tuple[str, str]:
    """(join, condition) placing the rows of `alias` in the unit."""
    join = (f"JOIN {placements.name} p ON p.school_unit_code = {alias}.school_unit_code"
            if where.level == "area" else "")
    condition = f"{_unit(alias, where.level)} = :unit"
    if where.organiser_id is not None:
        condition += f" AND {alias}.organiser_id = :organiser"
    return join, condition


def _params(where: Where, **more: Any) -> dict[str, Any]:
    return {"unit": where.unit_id, "organiser": where.organiser_id, **more}


async def interventions_by_kind(session: AsyncSession, where: Where, subject: str | None) -> dict[str, Any]:
    """Materialised: active interventions per kind, and evaluation outcomes per kind."""
    sql = (f"SELECT kind, status, evaluation_outcome, sum(count) FROM {support_aggregates.name} "
           "WHERE level = :level AND unit_id = :unit AND (CAST(:organiser AS text) IS NULL OR organiser_id = :organiser) "
           "AND (CAST(:subject AS text) IS NULL OR subject_code = :subject) GROUP BY 1, 2, 3")
    rows = (await session.execute(text(sql), _params(where, level=where.level, subject=subject))).all()
    active: dict[str, int] = dict.fromkeys(KINDS, 0)
    outcomes: dict[str, dict[str, int]] = {k: {"better": 0, "unchanged": 0, "worse": 0} for k in KINDS}
    for kind, status, outcome, n in rows:
        if status in ACTIVE_STATUSES:
            active[kind] += int(n)
        if status in EVALUATED_STATUSES and outcome:
            outcomes[kind][outcome] += int(n)
    return {"active_interventions": active, "evaluation_outcomes": outcomes}


async def students_by_kind(session: AsyncSession, where: Where, subject: str | None) -> dict[str, Any]:
    """Distinct students with each kind active, and the students known (assessed) in the unit."""
    join, cond = _scope("f", where)
    subject_cond = "AND (CAST(:subject AS text) IS NULL OR f.subject_code = :subject)"
    sql = (f"SELECT f.kind, count(DISTINCT f.student_id) FROM {support_facts.name} f {join} "
           f"WHERE NOT f.retracted AND f.status = ANY(CAST(:active AS text[])) AND {cond} {subject_cond} GROUP BY 1")
    rows = (await session.execute(text(sql), _params(where, subject=subject, active=list(ACTIVE_STATUSES)))).all()
    with_kind = dict.fromkeys(KINDS, 0) | {k: int(n) for k, n in rows}
    join_a, cond_a = _scope("f", where)
    known = (await session.execute(text(
        f"SELECT count(DISTINCT f.student_id) FROM {assessment_facts.name} f {join_a} WHERE NOT f.retracted "
        f"AND {cond_a} {subject_cond}"), _params(where, subject=subject))).scalar_one()
    return {"students_assessed": int(known), "students_with_kind_active": with_kind,
            "share_with_kind_active": {k: (round(n / known, 4) if known else None) for k, n in with_kind.items()}}


def _latest_results_sql(where: Where) -> str:
    """The newest non-retracted result per student and subject in the unit (by school year, term
    — HT before VT — and round)."""
    join, cond = _scope("f", where)
    return (f"SELECT DISTINCT ON (f.organiser_id, f.student_id, f.subject_code) f.organiser_id, f.student_id, "
            f"f.subject_code, f.group_id, f.school_unit_code, f.value FROM {assessment_facts.name} f {join} WHERE NOT f.retracted AND {cond} "
            "AND (CAST(:subject AS text) IS NULL OR f.subject_code = :subject) "
            "ORDER BY f.organiser_id, f.student_id, f.subject_code, f.school_year DESC, (f.term = 'VT') DESC, f.round DESC, "
            "f.kind = 'term_grade' DESC")


async def below_pass_without_support(session: AsyncSession, where: Where, subject: str | None
                                     ) -> tuple[int, list[dict[str, Any]]]:
    """Students whose newest result in a subject is below the pass level and who have no active
    support in that subject nor one for all subjects. The count, and the list (per student the
    subjects) — the list only at group and school-unit level."""
    sql = (f"WITH latest AS ({_latest_results_sql(where)}) SELECT l.student_id, l.school_unit_code, l.group_id, "
           "l.subject_code FROM latest l WHERE l.value = ANY(CAST(:below AS text[])) AND NOT EXISTS ("
           f"SELECT 1 FROM {support_facts.name} s WHERE NOT s.retracted AND s.status = ANY(CAST(:active AS text[])) "
           "AND s.student_id = l.student_id AND s.organiser_id = l.organiser_id "
           "AND s.subject_code IN (l.subject_code, :no_subject)) ORDER BY 1, 4")
    rows = (await session.execute(text(sql), _params(where, subject=subject, below=list(BELOW_PASS),
                                                     active=list(ACTIVE_STATUSES), no_subject=NO_SUBJECT))).all()
    students: dict[str, dict[str, Any]] = {}
    for student, code, group, subject_code in rows:
        entry = students.setdefault(student, {"student_id": student, "school_unit_code": code, "group_id": group,
                                              "subjects": []})
        entry["subjects"].append(subject_code)
    listed = list(students.values()) if where.level in LIST_LEVELS else []
    return len(students), listed


async def open_investigations(session: AsyncSession, where: Where, weeks: int, today: date) -> int:
    """Investigations not yet evaluated or closed whose start is more than `weeks` weeks back."""
    join, cond = _scope("f", where)
    sql = (f"SELECT count(*) FROM {support_facts.name} f {join} WHERE NOT f.retracted AND f.kind = 'investigation' "
           f"AND f.status = ANY(CAST(:open AS text[])) AND f.start_date <> '' AND f.start_date < :before AND {cond}")
    before = (today - timedelta(weeks=weeks)).isoformat()
    return int((await session.execute(text(sql), _params(where, open=list(OPEN_INVESTIGATION_STATUSES),
                                                           before=before))).scalar_one())


async def results_of_supported(session: AsyncSession, where: Where, subject: str | None) -> list[dict[str, Any]]:
    """Share reaching the pass level, round by round, of the students with (active or evaluated)
    support in the supported subject."""
    join, cond = _scope("s", where)
    sql = (f"SELECT a.subject_code, a.school_year, a.term, a.round, count(DISTINCT a.student_id), "
           "count(DISTINCT a.student_id) FILTER (WHERE NOT a.value = ANY(CAST(:below AS text[]))) "
           f"FROM {support_facts.name} s {join} JOIN {assessment_facts.name} a ON a.organiser_id = s.organiser_id "
           "AND a.student_id = s.student_id AND a.subject_code = s.subject_code AND NOT a.retracted "
           f"WHERE NOT s.retracted AND s.subject_code <> :no_subject AND s.status <> 'proposed' AND {cond} "
           "AND (CAST(:subject AS text) IS NULL OR s.subject_code = :subject) GROUP BY 1, 2, 3, 4 ORDER BY 1, 2, "
           "(a.term = 'VT'), 4")
    rows = (await session.execute(text(sql), _params(where, subject=subject, below=list(BELOW_PASS),
                                                     no_subject=NO_SUBJECT))).all()
    return [{"subject_code": s, "school_year": y, "term": t, "round": r, "students": int(n), "reaching_pass": int(p),
             "share_reaching_pass": round(int(p) / int(n), 4) if n else None} for s, y, t, r, n, p in rows]


async def plan_coverage(session: AsyncSession, where: Where, school_year: str, term: str,
                        subject: str | None) -> dict[str, Any]:
    """Share of the group × subject teaching assignments (the directory's, not removed) that have
    a published plan for the term."""
    join, cond = _scope("t", where)
    sql = (f"WITH taught AS (SELECT DISTINCT t.organiser_id, t.school_unit_code, t.group_id, t.subject_code "
           f"FROM {teaching_assignments.name} t {join} WHERE NOT t.removed AND t.group_id IS NOT NULL "
           f"AND t.subject_code IS NOT NULL AND t.school_unit_code IS NOT NULL AND {cond} "
           "AND (CAST(:subject AS text) IS NULL OR t.subject_code = :subject)) "
           "SELECT count(*), count(*) FILTER (WHERE EXISTS (SELECT 1 FROM "
           f"{plan_facts.name} pf WHERE NOT pf.retracted AND pf.organiser_id = taught.organiser_id "
           "AND pf.school_unit_code = taught.school_unit_code AND pf.group_id = taught.group_id "
           "AND pf.subject_code = taught.subject_code AND pf.school_year = :school_year AND pf.term = :term)) "
           "FROM taught")
    total, planned = (await session.execute(text(sql), _params(where, subject=subject, school_year=school_year,
                                                                  term=term))).one()
    return {"school_year": school_year, "term": term, "assignments": int(total), "with_published_plan": int(planned),
            "share": round(int(planned) / int(total), 4) if total else None}



async def active_support_of(session: AsyncSession, school_unit_code: str, student_ids: list[str]
                            ) -> dict[str, list[dict[str, str | None]]]:
    """Per student of one school unit: the active interventions (kind, subject, status), for the
    students-at-risk list (support next to the results)."""
    if not student_ids:
        return {}
    sql = (f"SELECT student_id, kind, subject_code, status FROM {support_facts.name} WHERE NOT retracted "
           "AND school_unit_code = :code AND student_id = ANY(CAST(:students AS text[])) "
           "AND status = ANY(CAST(:active AS text[])) ORDER BY 1, 2, 3")
    rows = (await session.execute(text(sql), {"code": school_unit_code, "students": sorted(set(student_ids)),
                                              "active": list(ACTIVE_STATUSES)})).all()
    out: dict[str, list[dict[str, str | None]]] = {}
    for student, kind, subject, status in rows:
        out.setdefault(student, []).append({"kind": kind, "subject_code": subject or None, "status": status})
    return out

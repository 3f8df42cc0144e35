"""Students at risk (elever i riskzonen) of one school unit, read from the facts of the term.

Student level, so only per school unit (never above it): the route takes one school unit code and
the scope seam narrows it to the caller's units (a principal's, a teacher's groups later). Per
student the pure rule `at_risk.at_risk` decides from that student's current facts.

Reporting's facts carry no result date, so "the newest result" in a subject is the term grade if
there is one, else the one of the highest round (then the highest id) — `at_risk.current_results`
with one date for all.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Collection
from datetime import date

from pydantic import BaseModel
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from styrkedja_contracts.identifiers import Gender
from styrkedja_contracts.scales import Scale
from styrkedja_kit.sets import any_of

from ..figures.facts import Forecast, Result, ResultKind
from ..figures.linked import result_id_of
from ..figures.periods import SchoolYear, Term, TermPeriod
from ..results.tables import assessment_facts, forecast_facts
from ..support.read import active_support_of
from .at_risk import AtRiskRule, at_risk

_NO_DATE = date(1970, 1, 1)


class StudentAtRisk(BaseModel):
    student_id: str  # pseudonymous
    school_unit_code: str
    group_ids: list[str]
    year: int
    subjects_below_pass: list[str]
    core_forecasts_not_reached: list[str]
    below_pass_in_many: bool
    # the student's active support interventions (kind, subject_code or null, status), next to the results
    active_support: list[dict[str, str | None]] = []


async def students_at_risk(session: AsyncSession, school_unit_code: str, school_year: str, term: str,
                           rule: AtRiskRule, organisers: Collection[str]) -> list[StudentAtRisk]:
    """`organisers`: the reader's own. A school unit code is the same under any organiser, so the facts another
    organiser's platform published for it (the school before a change of organiser, a mistake) are not the
    reader's students (round 23a: they were listed, with their support)."""
    period = TermPeriod(SchoolYear.parse(school_year), Term(term))
    a, f = assessment_facts.c, forecast_facts.c
    own = sorted(organisers)
    results_rows = (await session.execute(select(assessment_facts).where(
        a.school_unit_code == school_unit_code, any_of(a.organiser_id, own), a.school_year == school_year, a.term == term,
        ~a.retracted))).all()
    forecast_rows = (await session.execute(select(forecast_facts).where(
        f.school_unit_code == school_unit_code, any_of(f.organiser_id, own), f.school_year == school_year, f.term == term,
        ~f.withdrawn))).all()
    results: dict[str, list[Result]] = defaultdict(list)
    forecasts: dict[str, list[Forecast]] = defaultdict(list)
    groups: dict[str, set[str]] = defaultdict(set)
    years: dict[str, int] = {}
    for r in results_rows:
        results[r.student_id].append(Result(
            result_id_of(r), r.student_id, r.subject_code, r.year, Gender(r.gender), (),
            period.school_year, period.term, r.round, ResultKind(r.kind), Scale(r.scale), r.value, _NO_DATE))
        groups[r.student_id].add(r.group_id)
        years[r.student_id] = max(years.get(r.student_id, 0), r.year)
    for r in forecast_rows:
        forecasts[r.student_id].append(Forecast(
            str(r.forecast_id), r.student_id, r.subject_code, r.year, Gender(r.gender), (),
            period.school_year, period.term, r.value, _NO_DATE))
        groups[r.student_id].add(r.group_id)
        years[r.student_id] = max(years.get(r.student_id, 0), r.year)
    out = []
    for student in sorted(set(results) | set(forecasts)):
        risk = at_risk(student, period, results[student], forecasts[student], rule)
        if risk is not None:
            out.append(StudentAtRisk(
                student_id=student, school_unit_code=school_unit_code, group_ids=sorted(groups[student]),
                year=years[student], subjects_below_pass=list(risk.subjects_below_pass),
                core_forecasts_not_reached=list(risk.core_forecasts_not_reached),
                below_pass_in_many=risk.below_pass_in_many))
    support = await active_support_of(session, school_unit_code, [s.student_id for s in out], own)
    for listed in out:
        listed.active_support = support.get(listed.student_id, [])
    return out

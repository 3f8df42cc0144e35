"""Support figures per level: thin, every figure from `read`.

Access: the node asked for must be readable (`access.guard.strict_scope`); at a level suppressed for
the reader every count below N is withheld (`null`, listed in `withheld`); the list of students
(group and school-unit level) is a student-level read (audited)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, Literal, cast

from fastapi import APIRouter, Query, Request, Response

from styrkedja_kit.app import runtime_of
from styrkedja_kit.auth import Level as AuthLevel
from styrkedja_kit.auth import Node, Principal, authorize_read
from styrkedja_kit.inputs import OrganiserIdParam, SchoolYearParam, SubjectCodeParam
from styrkedja_kit.rules import RuleViolation

from ..access.guard import audit, strict_scope, withhold_counts
from ..freshness import set_freshness
from ..params import ID_PATTERN
from ..settings import ReportingSettings
from . import read
from .rules import SENSITIVE_FIGURES

router = APIRouter(prefix="/v1/support", tags=["support"])


@router.get("/summary")
async def summary(
        request: Request, response: Response, level: read.Level,
        unit_id: str = Query(pattern=ID_PATTERN),
        organiser_id: OrganiserIdParam | None = Query(None),
        subject_code: SubjectCodeParam | None = Query(None),
        school_year: SchoolYearParam | None = Query(None, description="For plan coverage."),
        term: Literal["HT", "VT"] | None = Query(None, description="For plan coverage."),
        investigation_weeks: int | None = Query(None, ge=1, le=104,
                                                description="Default: the `support_investigation_weeks` setting."),
        principal: Principal = authorize_read(),
) -> dict[str, Any]:
    """Per level and subject: active interventions and students per support kind, evaluation
    outcomes, students below the pass level without any support (the list at group and school
    unit level), investigations open longer than N weeks, results of supported students round by
    round, and plan coverage of the teaching assignments for a term. A group's unit id is
    `<school_unit_code>/<group_id>`; every level but the nation needs `organiser_id`."""
    if level != "nation" and organiser_id is None:
        raise RuleViolation("organiser_id", "required_below_nation", "name the organiser for this level")
    if (school_year is None) != (term is None):
        raise RuleViolation("term", "school_year_with_term", "plan coverage needs both school_year and term")
    runtime = runtime_of(request)
    weeks = investigation_weeks or cast(ReportingSettings, runtime.settings).support_investigation_weeks
    where = read.Where(level, unit_id, organiser_id if level != "nation" else None)
    async with runtime.db.sessions.begin() as session:
        auth_level = AuthLevel[level.upper()]
        scope = await strict_scope(session, request, principal, auth_level, organiser_id, unit_id)
        if level in read.LIST_LEVELS:  # the list names students
            await audit(session, request, scope.principal or principal,
                        Node(AuthLevel.STUDENT, organiser_id=organiser_id, school_unit_code=unit_id.split("/")[0]))
        body: dict[str, Any] = {"level": level, "unit_id": unit_id, "subject_code": subject_code,
                                "sensitive": sorted(SENSITIVE_FIGURES)}
        body |= await read.interventions_by_kind(session, where, subject_code)
        body |= await read.students_by_kind(session, where, subject_code)
        count, listed = await read.below_pass_without_support(session, where, subject_code)
        body["below_pass_without_support"] = {"students": count, "list": listed if level in read.LIST_LEVELS
                                              else None}
        body["open_investigations"] = {"weeks": weeks, "count": await read.open_investigations(
            session, where, weeks, datetime.now(UTC).date())}
        body["results_of_supported"] = await read.results_of_supported(session, where, subject_code)
        if school_year is not None and term is not None:
            body["plan_coverage"] = await read.plan_coverage(session, where, school_year, term, subject_code)
        await set_freshness(session, response)
    if auth_level in scope.suppressed:
        body = withhold_counts(body, scope.rules.min_students)
    return body

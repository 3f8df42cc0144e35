"""Support figures per level: thin, every figure from `read`. `/summary` is every figure in one
JSON body; every other endpoint is one table that answers as JSON, CSV or xlsx (`format=` or the
`Accept` header, see `exports/`), with the number of students behind each figure (`students`,
`students_assessed`) so the small-group rule can be applied to it.

Access: `ask` carries the guard and checks the node asked for (`access.guard.strict_scope`): the
organiser admin, area manager and principal within their reach, the politician at area and organiser
level of its organisers, the public at organiser and nation level. At a level suppressed for the
reader, every figure passes the one decision of `disclose.py` over every unit at every level
(`_shown`): the summary's withheld figures are `null` and named in its `withheld`, the tables'
are `..` in CSV/xlsx and `null` plus the reason in JSON. The lists of students are student-level
reads (audited): only for a reader of the unit's students (the principal, the teacher of the group, the
organiser admin), never an area manager, ICT coordinator, politician or public (the summary's `list` is `null`).
An ICT coordinator reads none of these figures (the permission table's `refused`: its work is the LIKA tool): 403
`roles`, and a token of several roles reads them through its other roles alone (privacy round 30)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Annotated, Any, Literal, cast

from fastapi import APIRouter, Depends, Query, Request, Response
from fastapi.responses import StreamingResponse

from styrkedja_kit.app import runtime_of
from styrkedja_kit.auth import AccessDenied, Principal, Topic, authorize_read, may_read, reading
from styrkedja_kit.auth import Level as AuthLevel
from styrkedja_kit.days import school_today
from styrkedja_kit.inputs import OrganiserIdParam, SchoolYearParam, SubjectCodeParam
from styrkedja_kit.rules import RuleViolation

from ..access.answers import keep_answer
from ..access.guard import audit, strict_scope, students_withheld, withhold_small
from ..access.scope import node_of
from ..exports import table as t
from ..exports.negotiate import TABLE_RESPONSES, FormatParam
from ..exports.response import export_response
from ..freshness import set_freshness
from ..params import UnitIdParam, unit_of_level
from ..settings import ReportingSettings
from . import disclose, read
from .disclose import Shown
from .rules import KINDS, SENSITIVE_FIGURES

router = APIRouter(prefix="/v1/support", tags=["support"])

TEXT, INT, SHARE = t.ColumnType.text, t.ColumnType.integer, t.ColumnType.share


@dataclass(frozen=True)
class Ask:
    where: read.Where  # the cell read (the nation narrowed to one organiser: that organiser's)
    subject_code: str | None
    asked: tuple[str, str]  # the level and unit the answer names: the ones asked for

    def name(self, kind: str) -> str:
        return f"{kind}-{self.asked[0]}-{self.asked[1].replace('/', '-')}"


async def ask(request: Request, level: read.Level, unit_id: Annotated[UnitIdParam, Query()],
              organiser_id: OrganiserIdParam | None = Query(
                  None, description="Required at every level but `nation` (`required_below_nation`)."),
              subject_code: SubjectCodeParam | None = Query(None),
              principal: Principal = authorize_read(Topic.SUPPORT)) -> Ask:
    """A group's unit id is `<school_unit_code>/<group_id>`; every level but the nation needs `organiser_id`. The
    reader reads through its roles that read support figures (`policy.reading`): never an ICT coordinator's."""
    principal = reading(principal, Topic.SUPPORT)
    if level != "nation" and organiser_id is None:
        raise RuleViolation("organiser_id", "required_below_nation", "name the organiser for this level")
    unit_id = unit_of_level(level, unit_id) or unit_id
    async with runtime_of(request).db.sessions() as session:
        scope = await strict_scope(session, request, principal, AuthLevel[level.upper()], organiser_id,
                                   None if level == "nation" else unit_id)
    where = read.Where(level, unit_id, organiser_id if level != "nation" else None)
    if level == "nation" and organiser_id is not None:
        # the nation narrowed to one organiser is that organiser's students (`guard._own_share_of_nation` let only
        # its exact readers through): its organiser cell, read and judged so. The read dropped the organiser and
        # gave the whole nation, every organiser's students, exactly (round 26c)
        where = read.Where("organiser", organiser_id, organiser_id)
    request.state.support_scope = (where.level, scope)
    keep_answer(request, scope)  # the lists of students are audited (`_list_read`): never kept all the same
    return Ask(where, subject_code, (level, unit_id))


def _weeks(request: Request, asked: int | None) -> int:
    return asked or cast(ReportingSettings, runtime_of(request).settings).support_investigation_weeks


WEEKS = Query(None, ge=1, le=104, description="Default: the `support_investigation_weeks` setting.")


async def _shown(request: Request, session: Any, a: Ask, *families: str, weeks: int = 0) -> Shown:
    """What the reader sees of the unit's figures of these families: the one decision per family over
    every level (`disclose.py`), so the summary, every table and every format withhold the same cells."""
    level, scope = request.state.support_scope
    return await disclose.shown(session, level, a.where.unit_id, families, subject=a.subject_code, weeks=weeks,
                       today=school_today(), suppressed=scope.suppressed, rules=scope.rules)


@router.get("/summary")
async def summary(
        request: Request, response: Response, a: Ask = Depends(ask),
        school_year: SchoolYearParam | None = Query(None, description="For plan coverage, with `term`."),
        term: Literal["HT", "VT"] | None = Query(None, description="For plan coverage, with `school_year`: one "
                                                                   "without the other is a 422 (`school_year_with_term`)."),
        investigation_weeks: int | None = WEEKS,
) -> dict[str, Any]:
    """Per level and subject: active interventions and students per support kind, evaluation
    outcomes, students below the pass level without any support (the list at group and school
    unit level), investigations open longer than N weeks, results before and after support
    started round by round, and plan coverage of the teaching assignments for a term. A withheld
    figure is `null` and its path is named in `withheld` (with the reason)."""
    if (school_year is None) != (term is None):
        raise RuleViolation("term", "school_year_with_term", "plan coverage needs both school_year and term")
    weeks = _weeks(request, investigation_weeks)
    where, subject_code = a.where, a.subject_code
    async with runtime_of(request).db.snapshot() as session:  # the figures and their decision: one state
        # the list names students: only for a reader of them
        listing = where.level in read.LIST_LEVELS and await _list_read(request, session, a, refuse=False)
        body: dict[str, Any] = {"level": a.asked[0], "unit_id": a.asked[1], "subject_code": subject_code,
                                "sensitive": sorted(SENSITIVE_FIGURES)}
        body |= await read.interventions_by_kind(session, where, subject_code)
        body |= await read.students_by_kind(session, where, subject_code)
        count, listed = await read.below_pass_without_support(session, where, subject_code)
        body["below_pass_without_support"] = {"students": count, "list": listed if listing else None}
        body["open_investigations"] = {"weeks": weeks, "count": await read.open_investigations(
            session, where, weeks, school_today(), subject_code)}
        body["results_before_after"] = await read.results_before_after(session, where, subject_code)
        if school_year is not None and term is not None:
            body["plan_coverage"] = await read.plan_coverage(session, where, school_year, term, subject_code)
        shown = await _shown(request, session, a, "active", "outcome", "assessed", "below", "open", "before_after",
                             weeks=weeks)
        await set_freshness(session, response, request)
        await session.commit()  # the audit row of a list's read
    level, scope = request.state.support_scope
    return disclose.summary_as_shown(body, shown, level, scope.suppressed, scope.rules)


async def _list_read(request: Request, session: Any, a: Ask, *, refuse: bool) -> bool:
    """Whether the reader may read the list of students of the unit asked, audited when it may. A list of
    students is a student-level read: `ask` judged the unit's level alone, so an area manager and an ICT
    coordinator (neither reads a student level) read the pseudonymous ids of the list and in the summary (round
    23a). `refuse`: a 403 for the list's own route; the summary leaves the list out (`null`) instead."""
    _, scope = request.state.support_scope
    code, _, group = a.where.unit_id.partition("/")
    node = await node_of(session, AuthLevel.STUDENT, a.where.organiser_id, school_unit_code=code,
                         group_id=group or None)
    # the list is who is below the pass level: a student-level figure, withheld whole where the results' are
    if not may_read(scope.principal, node) or students_withheld(scope):
        if refuse:
            raise AccessDenied("level", "read_scope", "this token may not read the students of this unit: the list "
                               "names students")
        return False
    await audit(session, request, scope.principal, node)
    return True


async def _respond(request: Request, table: t.Table, fmt: str | None) -> StreamingResponse:
    level, scope = request.state.support_scope  # set by `ask`: every table passes disclosure here
    response = export_response(request, withhold_small(table, level, scope), fmt)
    async with runtime_of(request).db.sessions() as session:
        await set_freshness(session, response, request)
    return response


_UNIT = [t.Column("level", "Nivå"), t.Column("unit_id", "Enhet", width=24)]


@router.get("/kinds", responses=TABLE_RESPONSES)
async def kinds_table(request: Request, a: Ask = Depends(ask), format: FormatParam = None) -> StreamingResponse:
    """Per support kind: active interventions, students with the kind active and their share of the
    students assessed, evaluation outcomes (interventions and students)."""
    async with runtime_of(request).db.snapshot() as session:  # the figures and their decision: one state
        by_kind = await read.interventions_by_kind(session, a.where, a.subject_code)
        students = await read.students_by_kind(session, a.where, a.subject_code)
        shown = await _shown(request, session, a, "active", "outcome", "assessed")

    def rows() -> Iterator[t.Row]:
        for kind in KINDS:
            outcomes = by_kind["evaluation_outcomes"][kind]
            outcome_students = by_kind["evaluation_outcome_students"][kind]
            active, assessed = ("active", kind), ("assessed",)
            yield (*a.asked, a.subject_code or "", kind,
                   shown.value(by_kind["active_interventions"][kind], active),
                   shown.value(students["students_with_kind_active"][kind], active),
                   shown.value(students["students_assessed"], assessed),
                   shown.value(students["share_with_kind_active"][kind], active, assessed),
                   *[shown.value(outcomes[o], ("outcome", kind, o)) for o in read.OUTCOMES],
                   *[shown.value(outcome_students[o], ("outcome", kind, o)) for o in read.OUTCOMES])

    columns = [*_UNIT, t.Column("subject_code", "Ämne", width=12), t.Column("kind", "Insats", width=18),
               t.Column("active_interventions", "Aktiva insatser", INT),
               t.Column("students", "Elever med aktiv insats", INT),
               t.Column("students_assessed", "Bedömda elever", INT),
               t.Column("share", "Andel", SHARE, of=t.Ratio("students", ("students_assessed",))),
               t.Column("outcome_better", "Utvärderade: bättre", INT),
               t.Column("outcome_unchanged", "Utvärderade: oförändrat", INT),
               t.Column("outcome_worse", "Utvärderade: sämre", INT),
               t.Column("students_better", "Elever: bättre", INT),
               t.Column("students_unchanged", "Elever: oförändrat", INT),
               t.Column("students_worse", "Elever: sämre", INT)]
    return await _respond(request, t.Table(a.name("stodinsatser"), columns, rows(), "Stödinsatser"), format)


@router.get("/below-pass-without-support", responses=TABLE_RESPONSES)
async def below_pass_table(request: Request, a: Ask = Depends(ask), format: FormatParam = None
                           ) -> StreamingResponse:
    """Per subject: students below the pass level without any support (the count at every level)."""
    async with runtime_of(request).db.snapshot() as session:  # the figures and their decision: one state
        by_subject = await read.below_pass_by_subject(session, a.where, a.subject_code)
        shown = await _shown(request, session, a, "below", "assessed_in")

    def rows() -> Iterator[t.Row]:
        for r in by_subject:
            below, assessed = ("below", r["subject_code"]), ("assessed_in", r["subject_code"])
            yield (*a.asked, r["subject_code"], shown.value(r["students"], below),
                   shown.value(r["students_assessed"], assessed), shown.value(r["share"], below, assessed))

    columns = [*_UNIT, t.Column("subject_code", "Ämne", width=12),
               t.Column("students", "Elever under godtagbar nivå utan stöd", INT),
               t.Column("students_assessed", "Bedömda elever", INT),
               t.Column("share", "Andel", SHARE, of=t.Ratio("students", ("students_assessed",)))]
    return await _respond(request, t.Table(a.name("utan-stod"), columns, rows(), "Utan stöd"), format)


@router.get("/below-pass-without-support/students", responses=TABLE_RESPONSES)
async def below_pass_list(request: Request, a: Ask = Depends(ask), format: FormatParam = None
                          ) -> StreamingResponse:
    """The principal's list: per student and subject, the students below the pass level without
    any support — at school-unit and group level only (pseudonymous ids)."""
    if a.where.level not in read.LIST_LEVELS:
        raise RuleViolation("level", "list_at_unit_level",
                            "the list of students is shown at school-unit and group level only")
    async with runtime_of(request).db.sessions.begin() as session:
        await _list_read(request, session, a, refuse=True)
        _, listed = await read.below_pass_without_support(session, a.where, a.subject_code)

    def rows() -> Iterator[t.Row]:
        for student in listed:
            for subject in student["subjects"]:
                yield (student["school_unit_code"], student["group_id"], student["student_id"], subject)

    columns = [t.Column("school_unit_code", "Skolenhet"), t.Column("group_id", "Grupp"),
               t.Column("student_id", "Elev (pseudonym)", width=24), t.Column("subject_code", "Ämne", width=12)]
    return await _respond(request, t.Table(a.name("utan-stod-elever"), columns, rows(), "Elever utan stöd"), format)


def document_list_levels(openapi: dict[str, Any]) -> dict[str, Any]:
    """The students' list's `level` in the OpenAPI document: the levels it is read at (`read.LIST_LEVELS`). Its `ask`
    is every table's, whose `level` took all five, so a client offering the document's values was refused
    `list_at_unit_level` for three of them (round 29)."""
    operation = openapi.get("paths", {}).get(f"{router.prefix}/below-pass-without-support/students", {}).get("get")
    for parameter in (operation or {}).get("parameters", []):
        if parameter.get("in") == "query" and parameter.get("name") == "level":
            parameter["schema"] = {**parameter["schema"], "enum": [v for v in parameter["schema"].get("enum", [])
                                                                   if v in read.LIST_LEVELS]}
            parameter["description"] = f"{read.LIST_LEVELS[1]} or {read.LIST_LEVELS[0]}: the list is shown there " \
                                       "only. Given once."
    return openapi


@router.get("/open-investigations", responses=TABLE_RESPONSES)
async def open_investigations_table(request: Request, a: Ask = Depends(ask), investigation_weeks: int | None = WEEKS,
                                    format: FormatParam = None) -> StreamingResponse:
    """Investigations (utredningar) not yet evaluated or closed, started more than N weeks ago."""
    weeks = _weeks(request, investigation_weeks)
    async with runtime_of(request).db.snapshot() as session:  # the figures and their decision: one state
        count = await read.open_investigations(session, a.where, weeks, school_today(), a.subject_code)
        shown = await _shown(request, session, a, "open", weeks=weeks)
    columns = [*_UNIT, t.Column("subject_code", "Ämne", width=12), t.Column("weeks", "Veckor", INT),
               t.Column("count", "Öppna utredningar äldre än", INT)]
    rows = [(*a.asked, a.subject_code or "", weeks, shown.value(count, ("open",)))]
    return await _respond(request, t.Table(a.name("utredningar"), columns, rows, "Utredningar"), format)


@router.get("/results-before-after", responses=TABLE_RESPONSES)
async def before_after_table(request: Request, a: Ask = Depends(ask), format: FormatParam = None
                             ) -> StreamingResponse:
    """Share reaching the pass level in the supported subject, round by round, results dated
    before and after the day support started."""
    async with runtime_of(request).db.snapshot() as session:  # the figures and their decision: one state
        found = await read.results_before_after(session, a.where, a.subject_code)
        shown = await _shown(request, session, a, "before_after")

    def rows() -> Iterator[t.Row]:
        for r in found:
            cell = ("before_after", r["subject_code"], r["school_year"], r["term"], r["round"], r["phase"])
            yield (*a.asked, r["subject_code"], r["school_year"], r["term"], r["round"],
                   r["phase"], *(shown.value(r[k], cell) for k in ("students", "reaching_pass", "share_reaching_pass")))

    columns = [*_UNIT, t.Column("subject_code", "Ämne", width=12), t.Column("school_year", "Läsår"),
               t.Column("term", "Termin"), t.Column("round", "Omgång", INT), t.Column("phase", "Före/efter start"),
               t.Column("students", "Elever", INT), t.Column("reaching_pass", "Når godtagbar nivå", INT),
               t.Column("share_reaching_pass", "Andel", SHARE, of=t.Ratio("reaching_pass", ("students",)))]
    return await _respond(request, t.Table(a.name("fore-efter-stod"), columns, rows(), "Före och efter"), format)


@router.get("/plan-coverage", responses=TABLE_RESPONSES)
async def plan_coverage_table(request: Request, school_year: SchoolYearParam, term: Literal["HT", "VT"],
                              a: Ask = Depends(ask), format: FormatParam = None) -> StreamingResponse:
    """Share of the group × subject teaching assignments of the term with a published plan."""
    async with runtime_of(request).db.sessions() as session:
        coverage = await read.plan_coverage(session, a.where, school_year, term, a.subject_code)
    columns = [*_UNIT, t.Column("subject_code", "Ämne", width=12), t.Column("school_year", "Läsår"),
               t.Column("term", "Termin"), t.Column("assignments", "Grupp × ämne", INT),
               t.Column("with_published_plan", "Med publicerad planering", INT),
               t.Column("share", "Andel", SHARE, of=t.Ratio("with_published_plan", ("assignments",)))]
    rows = [(*a.asked, a.subject_code or "", school_year, term, coverage["assignments"],
             coverage["with_published_plan"], coverage["share"])]
    return await _respond(request, t.Table(a.name("planeringar"), columns, rows, "Planeringar"), format)

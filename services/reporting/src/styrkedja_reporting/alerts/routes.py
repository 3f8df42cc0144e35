"""Alerts over HTTP: list with filters, acknowledge with a comment, per-organiser thresholds,
students at risk at school-unit level.

Access: `AlertScope` narrows every read to the token's organisers, and for any reader but the organiser
admin to the alerts it may read at their own level and place (the kit's `may_read`: an area manager its
areas' units and areas, a principal its school units, a teacher its groups, from the token or the
directory; an alert carries its cell's figures); the thresholds are the
organiser admin's; students at risk are a student-level read (audited); reevaluate is ops.

The alert list is kept per state version and reader class (`access.answers`): alerts change in applied
batches, and outside them only where the state version is moved in the same transaction
(`freshness.note_change_outside_batches`: an acknowledgement, a reevaluation, the freshness sweep).
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Annotated, Any, Literal
from uuid import UUID

from fastapi import APIRouter, Path, Query, Request, Response
from pydantic import AwareDatetime, BaseModel, Field, field_validator
from sqlalchemy.ext.asyncio import AsyncSession

from styrkedja_contracts.events.alert import AlertFigures, AlertRule, ResolvedReason
from styrkedja_kit.app import runtime_of
from styrkedja_kit.auth import (
    AccessDenied,
    Principal,
    Role,
    Write,
    authorize,
    authorize_write,
    require_write,
)
from styrkedja_kit.auth import Level as AuthLevel
from styrkedja_kit.inputs import InputModel, OrganiserIdParam, SchoolUnitCodeParam, SchoolYearParam, SubjectCodeParam
from styrkedja_kit.paging import LINK_HEADER, after_query, cursor_of, next_page, position_of
from styrkedja_kit.problems import Problem

from ..access.answers import keep_answer_of
from ..access.disclosure import DisclosureRules
from ..access.guard import check_read, disclosure_rules_of
from ..figures.periods import RoundPeriod, SchoolYear, TermPeriod
from ..figures.periods import Term as PeriodTerm
from ..freshness import note_change_outside_batches
from ..params import GROUP_UNIT, UnitIdParam, unit_at_level
from ..results.rules import GROUP_SEPARATOR
from .at_risk import AtRiskRule
from .at_risk_read import StudentAtRisk, students_at_risk
from .disclose import figures_shown
from .handlers import ALERT_GROUP_SEPARATOR, reevaluate_all
from .queries import (
    alert_for_update,
    alert_of,
    database_now,
    save_thresholds,
    store_acknowledgement,
    stored_thresholds,
)
from .read_scope import ACKNOWLEDGERS, acting_as, alert_reader, page_of, readable_rows, shown_to
from .rules import COMMENT_MAX, DEFAULT_THRESHOLDS, Alert, AlertCell, Status, Thresholds, acknowledge

router = APIRouter(prefix="/v1", tags=["alerts"])

AlertLevelParam = Literal["group", "school_unit", "area", "organiser"]


class AlertOut(BaseModel):
    alert_id: UUID
    organiser_id: str
    level: AlertLevelParam
    unit_id: str  # a group is `<school_unit_code>:<group_id>`
    school_unit_code: str | None
    subject_code: str | None
    year: int | None
    school_year: str
    term: str | None
    round: int | None
    rule: AlertRule
    status: Status
    episode: int
    figures: AlertFigures
    raised_at: datetime
    changed_at: datetime
    comment: str | None
    acknowledged_by: str | None
    resolved_reason: ResolvedReason | None


@router.get("/alerts", response_model=list[AlertOut],
            responses={200: {"description": "A page of the list; the next page, if any, is named by the `Link` "
                                            "header", "headers": {"Link": LINK_HEADER}}})
async def alert_list(
        request: Request,
        response: Response,
        organiser_id: OrganiserIdParam | None = Query(None),
        level: AlertLevelParam | None = None,
        unit_id: UnitIdParam | None = Query(None),
        school_unit_code: SchoolUnitCodeParam | None = Query(None),
        subject_code: SubjectCodeParam | None = Query(None),
        school_year: SchoolYearParam | None = Query(None),
        rule: AlertRule | None = None, status: Status | None = None,
        after: str | None = after_query("newest change first, then by id"),
        limit: int = Query(500, ge=1, le=5000, description="At most this many on a page (1-5000)"),
        principal: Principal = authorize(Role.ORGANISER_ADMIN, Role.AREA_MANAGER, Role.PRINCIPAL, Role.TEACHER,
                                         description="reads alerts")) -> list[AlertOut]:
    """Dip alerts (larm), newest change first; filters by level, unit, subject, rule and status. A page at a time: a
    first page without `after`, each next named by the `Link` header (`rel="next"`), none on the last. An alert
    raised or changed while a client pages is before its first page (its change is the newest); every other is on
    exactly one page."""
    filters = {"organiser_id": organiser_id, "level": level, "unit_id": alert_unit(level, unit_id),
               "school_unit_code": school_unit_code, "subject_code": subject_code, "school_year": school_year,
               "rule": rule.value if rule else None, "status": status.value if status else None}
    position = position_of(after, UUID)
    if organiser_id is not None and organiser_id not in principal.organisers:
        raise AccessDenied("organiser_id", "read_scope", "this token may not read this organiser")
    # one state: the alerts and the disclosure decision their figures are judged by (`disclose.py`)
    async with runtime_of(request).db.snapshot() as session:
        reader = await alert_reader(session, principal)
        keep_answer_of(request, reader)  # the rows are narrowed by the reader's scope alone
        rows = await page_of(session, reader, principal, disclosure_rules_of(request), filters, limit, position)
    page = rows[:limit]  # and one more: whether there is a next page
    next_page(request, response, cursor_of(page[-1].changed_at, page[-1].alert_id) if len(rows) > limit else None)
    return [as_read(AlertOut.model_validate(row, from_attributes=True), principal, disclosure_rules_of(request))
            for row in page]


def alert_unit(level: str | None, unit_id: str | None) -> str | None:
    """The `unit_id` filter in the alerts' spelling: an organiser as `unit_at_level` keeps it, a group named as every
    other read names it (`11111111/7A`) as its alert is (`11111111:7A`, the contract allows no `/`). Before, a
    client filtering by the group it read elsewhere was answered an empty list, its group's alerts there all along
    (round 26b)."""
    unit = unit_at_level(level, unit_id)
    if unit is not None and level in ("group", None) and GROUP_UNIT.fullmatch(unit):
        return unit.replace(GROUP_SEPARATOR, ALERT_GROUP_SEPARATOR, 1)
    return unit


def as_read(alert: AlertOut, principal: Principal, rules: DisclosureRules) -> AlertOut:
    """The alert as the reader is shown it: its figures as `disclose.figures_shown` rounds them."""
    return alert.model_copy(update={"figures": figures_shown(alert.level, alert.figures, principal, rules,
                                                             alert.rule)})


class Acknowledgement(InputModel):
    # the rule's own bound (`rules.COMMENT_MAX`): round 26's fuzzing found 4000 documented here, so a comment of
    # 2001-4000 characters, valid by the document, was refused by the rule
    comment: str = Field(max_length=COMMENT_MAX, description=f"Why, and what is being done (≤ {COMMENT_MAX} "
                         "characters).")
    changed_at: AwareDatetime | None = Field(None, description="The alert's `changed_at` as read: another change "
                                             "since (an acknowledgement, a resolution, a new episode) is a 409 "
                                             "`alert_changed` and nothing is stored. Left out: the alert as it is.")


def caller_id(principal: Principal) -> str:
    """The acting user's pseudonymous id (the token's subject)."""
    return principal.subject[:64]


def _alert_of(row) -> Alert:
    year = SchoolYear.parse(row.school_year)
    period = TermPeriod(year, PeriodTerm(row.term)) if row.term else RoundPeriod(year, row.round)
    cell = AlertCell(row.organiser_id, (row.level, row.unit_id), row.subject_code, row.year, period)
    return Alert(row.alert_id, cell, AlertRule(row.rule), Status(row.status), row.episode,
                 AlertFigures.model_validate(row.figures), row.changed_at, row.comment, row.acknowledged_by,
                 ResolvedReason(row.resolved_reason) if row.resolved_reason else None)


def _no_alert(alert_id: UUID) -> Problem:
    """The answer to an id never stored — and to an alert the caller may not read (`acknowledge_alert`)."""
    return Problem(404, "Not found", f"no alert {alert_id}",
                   [{"field": "alert_id", "rule": "not_found", "message": "no alert of this id"}])


async def _visible(session: AsyncSession, row: Any, reader: Principal, principal: Principal,
                   rules: DisclosureRules) -> bool:
    """Whether `reader` is shown the alert by `GET /v1/alerts`: its organiser, its level and place (`readable_rows`),
    its figures not withheld from the token (`shown_to`)."""
    return (row.organiser_id in reader.organisers and bool(await readable_rows(session, reader, [row]))
            and bool(await shown_to(session, [row], principal, rules)))


@router.post("/alerts/{alert_id}/acknowledge", response_model=AlertOut)
async def acknowledge_alert(request: Request, alert_id: UUID, body: Acknowledgement,
                            principal: Principal = authorize(*ACKNOWLEDGERS, description="acknowledges alerts")
                            ) -> AlertOut:
    """Acknowledge (kvittera) an open alert with a comment; a resolved alert is a 409."""
    async with runtime_of(request).db.sessions.begin() as session:
        # the alert's row lock first, before the live tables (the scope's directory read, the state version): the
        # rebuild's swap locks the alerts it decides before the live tables too, so the two wait for each other in
        # one order only (the other order deadlocked: alerts/README.md, "Lock order")
        row = await alert_for_update(session, alert_id)
        # what the caller may not read does not exist for it (as LIKA's ids, `require_visible`): an alert outside its
        # read scope is answered as an id never stored, so the id tells no one outside whether it is an alert, or
        # (another organiser's) whose — an alert's id is computable from its cell. A 403 is left for an alert the
        # caller lists but whose level and place its acknowledging roles do not reach (a teacher role's group)
        reader = await alert_reader(session, principal)
        if row is None or not await _visible(session, row, reader, principal, disclosure_rules_of(request)):
            raise _no_alert(alert_id)
        if not await _visible(session, row, acting_as(reader, ACKNOWLEDGERS), principal,
                              disclosure_rules_of(request)):  # its answer shows the figures
            raise AccessDenied("alert_id", "write_scope", "this token may not acknowledge this alert")
        now = await database_now(session)
        done = acknowledge(_alert_of(row), body.comment, caller_id(principal), now, body.changed_at)
        await store_acknowledgement(session, alert_id, done, now)
        await note_change_outside_batches(session)  # the alert lists kept before it are old now
        updated = await alert_of(session, alert_id)
    return as_read(AlertOut.model_validate(updated, from_attributes=True), principal, disclosure_rules_of(request))


#: the points' rule no schema keyword says exactly (`multipleOf: 0.0001` misjudges floats such as 0.3 in the
#: validators a client uses), said in words: a generated `6.103515625e-05` was a 422 unannounced (round 31)
_POINTS = " A number or a decimal text (`7.5`, `\"7.5\"`) with at most four decimals (`decimal_max_places`)."


class ThresholdsIn(InputModel):
    drop_points: Decimal = Field(Decimal(10), ge=0, le=100, decimal_places=4,
                                 description="X: a drop in the share reaching pass of more than X points alerts."
                                             + _POINTS)
    below_forecast_points: Decimal = Field(Decimal(10), ge=0, le=100, decimal_places=4,
                                           description="Y: the outcome more than Y points below its forecast."
                                                       + _POINTS)
    min_students: int = Field(10, ge=1, le=1000, description="No alert for a cell with fewer students.")


class ThresholdsOut(ThresholdsIn):
    organiser_id: str
    defaults: bool  # true until the organiser sets its own

    @field_validator("drop_points", "below_forecast_points", mode="after")
    @classmethod
    def _as_written(cls, value: Decimal) -> Decimal:
        """One spelling of a threshold in every answer: without trailing zeros (`7.5`, `10`). The save answered the
        body's own (`7.5`), a read the column's four decimals (`7.5000`) and the defaults' a float's (`10.0`): one
        threshold, three texts, so a client comparing what it saved with what it read saw a change (round 26b)."""
        return Decimal(format((value + 0).normalize(), "f"))  # + 0: no "-0"


def require_organiser_admin(principal: Principal, organiser_id: str) -> None:
    require_write(principal, Write.ORGANISER_SETTINGS, organiser_id)


@router.get("/alert-thresholds/{organiser_id}", response_model=ThresholdsOut)
async def get_thresholds(*, request: Request, organiser_id: Annotated[OrganiserIdParam, Path()],
                         principal: Principal = authorize_write(Write.ORGANISER_SETTINGS)) -> ThresholdsOut:
    require_organiser_admin(principal, organiser_id)
    async with runtime_of(request).db.sessions() as session:
        row = await stored_thresholds(session, organiser_id)
    if row is None:
        d = DEFAULT_THRESHOLDS
        return ThresholdsOut(organiser_id=organiser_id, defaults=True, drop_points=Decimal(str(float(d.drop_points))),
                             below_forecast_points=Decimal(str(float(d.below_forecast_points))),
                             min_students=d.min_students)
    return ThresholdsOut(organiser_id=organiser_id, defaults=False, drop_points=row.drop_points,
                         below_forecast_points=row.below_forecast_points, min_students=row.min_students)


@router.put("/alert-thresholds/{organiser_id}", response_model=ThresholdsOut)
async def put_thresholds(*, request: Request, body: ThresholdsIn, organiser_id: Annotated[OrganiserIdParam, Path()],
                         principal: Principal = authorize_write(Write.ORGANISER_SETTINGS)) -> ThresholdsOut:
    """The organiser's own thresholds; they apply to cells judged from now on."""
    require_organiser_admin(principal, organiser_id)
    Thresholds.of(str(body.drop_points), str(body.below_forecast_points), body.min_students)  # the rules' check
    values = body.model_dump()
    async with runtime_of(request).db.sessions.begin() as session:
        await save_thresholds(session, organiser_id, values)
    return ThresholdsOut(organiser_id=organiser_id, defaults=False, **values)



@router.get("/school-units/{school_unit_code}/students-at-risk", response_model=list[StudentAtRisk])
async def at_risk_list(
        *, request: Request, school_unit_code: Annotated[SchoolUnitCodeParam, Path()],
        school_year: Annotated[SchoolYearParam, Query()], term: Literal["HT", "VT"] = Query(),
        min_subjects: int = Query(3, ge=1, le=30),
        principal: Principal = authorize(Role.ORGANISER_ADMIN, Role.PRINCIPAL, description="students at risk")
        ) -> list[StudentAtRisk]:
    """Students below the pass level in `min_subjects` or more subjects in the term, or (year 9) with a
    forecast "not reached" in a core subject. Student level: per school unit only, for its principal
    and teachers (scope seam), never above school-unit level."""
    async with runtime_of(request).db.sessions.begin() as session:
        reader, _ = await check_read(session, request, principal, AuthLevel.STUDENT, None,
                                     school_unit_code=school_unit_code, field="school_unit_code")  # audited
        return await students_at_risk(session, school_unit_code, school_year, term, AtRiskRule(min_subjects),
                                      reader.organisers)


class Reevaluated(BaseModel):
    events: int


@router.post("/admin/alerts/reevaluate", response_model=Reevaluated)
async def reevaluate(request: Request, organiser_id: OrganiserIdParam | None = Query(None),
                     principal: Principal = authorize(Role.OPS, description="ops")) -> Reevaluated:
    """Judge every cell once on the current state (after a rebuild with alerts off; a sweep)."""
    async with runtime_of(request).db.sessions.begin() as session:
        return Reevaluated(events=await reevaluate_all(session, organiser_id))

"""Compliance lists over HTTP (JSON, CSV or xlsx through `exports.export_response`).

* organiser view: per school unit, expected / reported / on time / late / missing and the share;
* principal view: one school unit's list by teacher, group, group × subject, teacher × group ×
  subject or unassigned — and the missing reports themselves (the list to remind people).

Access: the organiser view is the organiser admin's (every unit) and area managers' (the units of their areas); one school
unit's view needs `require_read` on that unit (a principal: own units); the items name students and
are a student-level read (audited). The forecast service will own the calendar API (the
organiser admin sets windows there and it sends `calendar.changed.v1`); reporting only follows it.
"""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Path, Query, Request
from fastapi.responses import StreamingResponse

from styrkedja_kit.app import runtime_of
from styrkedja_kit.auth import AccessDenied, Principal, Role, authorize
from styrkedja_kit.auth import Level as AuthLevel
from styrkedja_kit.inputs import OrganiserIdParam, SchoolUnitCodeParam, SchoolYearParam

from ..access.answers import keep_answer_of
from ..access.guard import check_read
from ..access.scope import school_units_of_areas
from ..exports import Column, ColumnType, Table, export_response
from ..exports.negotiate import TABLE_RESPONSES, FormatParam
from .queries import items_with_status, ledger
from .rules import (
    CellKind,
    ComplianceCell,
    ComplianceTally,
    Row,
    WindowKey,
    WindowKind,
    organiser_view,
    round_period,
    rows,
)

router = APIRouter(prefix="/v1/compliance", tags=["compliance"])

COUNT_COLUMNS = [
    Column("expected", "Förväntade", ColumnType.integer), Column("reported", "Rapporterade", ColumnType.integer),
    Column("on_time", "I tid", ColumnType.integer), Column("late", "Sent", ColumnType.integer),
    Column("missing", "Saknas", ColumnType.integer), Column("share_reported", "Andel rapporterade", ColumnType.share),
]
KEY_COLUMNS = [Column("school_unit_code", "Skolenhetskod"), Column("group_id", "Grupp"),
               Column("subject_code", "Ämne"), Column("teacher_id", "Lärare")]
#: `school_unit`: the unit's own row, the organiser view's row of it — the unit's reporting rate, for a reader of the
#: unit the organiser view refuses (a principal's quality report of its unit)
ListKind = Literal["school_unit", "group", "group_subject", "teacher", "teacher_group_subject", "unassigned"]


async def _ledger(request: Request, window: WindowKey, school_unit_code: str | None
                  ) -> dict[ComplianceCell, ComplianceTally]:
    async with runtime_of(request).db.sessions() as session:
        return await ledger(session, window, school_unit_code)


#: Who reads the lists, a window's and a round's alike: the organiser view the organiser admin and area managers; one
#: unit's lists (who has not reported, teacher by teacher) those and its principal; the reports by student the organiser
#: admin and the principal. A round's doors took any reader and judged the unit's level alone, which an ICT coordinator
#: reads for its LIKA work: it read the round's lists of its unit, the window's refused it (privacy round 29).
ORGANISER_READERS = authorize(Role.ORGANISER_ADMIN, Role.AREA_MANAGER, description="organiser compliance")
UNIT_READERS = authorize(Role.ORGANISER_ADMIN, Role.AREA_MANAGER, Role.PRINCIPAL, description="school unit compliance")
ITEM_READERS = authorize(Role.ORGANISER_ADMIN, Role.PRINCIPAL, description="reports by student")


def _table(name: str, found: list[Row]) -> Table:
    return Table(name, KEY_COLUMNS + COUNT_COLUMNS, [
        (r.cell.school_unit_code, r.cell.group_id, r.cell.subject_code, r.cell.teacher_id, r.counts.expected,
         r.counts.reported, r.counts.on_time, r.counts.late, r.counts.missing, r.counts.share_reported)
        for r in found], sheet="Rapporteringsgrad")


def _window(organiser_id: str, school_year: str, term: str) -> WindowKey:
    return WindowKey(WindowKind.forecast, organiser_id, f"{school_year}:{term}")


async def _unit_table(request: Request, principal: Principal, window: WindowKey, school_unit_code: str,
                      list_: ListKind, only_missing: bool, name: str) -> Table:
    """One school unit's list of a window (the caller must be able to read the unit), most missing first."""
    async with runtime_of(request).db.sessions() as session:
        await check_read(session, request, principal, AuthLevel.SCHOOL_UNIT, window.organiser_id,
                         school_unit_code=school_unit_code, field="school_unit_code")
    found = rows(await _ledger(request, window, school_unit_code), window, CellKind(list_),
                 school_units=[school_unit_code], only_missing=only_missing)
    return _table(name, found)


@router.get("/organisers/{organiser_id}/school-units", responses=TABLE_RESPONSES)
async def organiser_compliance(
        *, request: Request, organiser_id: Annotated[OrganiserIdParam, Path()],
        school_year: Annotated[SchoolYearParam, Query()], term: Literal["HT", "VT"] = Query(),
        format: FormatParam = None,
        principal: Principal = ORGANISER_READERS) -> StreamingResponse:
    """The organiser's view: per school unit, the share of expected forecasts reported (late included)."""
    if organiser_id not in principal.organisers:
        raise AccessDenied("organiser_id", "read_scope", "this token may not read this organiser")
    keep_answer_of(request, principal)  # the rows are narrowed by the token's scope alone (`_own_rows`)
    window = _window(organiser_id, school_year, term)
    found = await _own_rows(request, principal, organiser_view(await _ledger(request, window, None), window))
    return export_response(request, _table(f"rapporteringsgrad-{organiser_id}-{term}-{school_year}", found), format)


async def _own_rows(request: Request, principal: Principal, found: list[Row]) -> list[Row]:
    """The organiser view's rows the reader reaches: every school unit for the organiser admin, an area manager's
    the units placed in its areas (round 23a: it read every other area's units too, as no other read lets it)."""
    if principal.has(Role.ORGANISER_ADMIN):
        return found
    async with runtime_of(request).db.sessions() as session:
        own = await school_units_of_areas(session, principal.organisers, principal.areas)
    return [r for r in found if r.cell.school_unit_code in own]


@router.get("/organisers/{organiser_id}/school-units/{school_unit_code}", responses=TABLE_RESPONSES)
async def principal_compliance(
        *, request: Request, organiser_id: Annotated[OrganiserIdParam, Path()],
        school_unit_code: Annotated[SchoolUnitCodeParam, Path()],
        school_year: Annotated[SchoolYearParam, Query()], term: Literal["HT", "VT"] = Query(),
        list: ListKind = "teacher", only_missing: bool = False, format: FormatParam = None,
        principal: Principal = UNIT_READERS) -> StreamingResponse:
    """The principal's view of one school unit: per teacher (default), group, group × subject,
    teacher × group × subject, or the group × subjects nobody is assigned to; most missing first — or the unit's own
    row (`school_unit`)."""
    table = await _unit_table(request, principal, _window(organiser_id, school_year, term), school_unit_code, list,
                              only_missing, f"rapporteringsgrad-{school_unit_code}-{list}-{term}-{school_year}")
    return export_response(request, table, format)


MISSING_COLUMNS = [Column("group_id", "Grupp"), Column("subject_code", "Ämne"), Column("student_id", "Elev-id"),
                   Column("teachers", "Ansvariga lärare"), Column("status", "Status")]
ItemStatus = Literal["missing", "late", "on_time"]


async def _items_table(request: Request, principal: Principal, window: WindowKey, school_unit_code: str,
                       status: ItemStatus, name: str) -> Table:
    """The expected reports of one school unit in a window with one status: a student-level read (audited)."""
    async with runtime_of(request).db.sessions.begin() as session:
        await check_read(session, request, principal, AuthLevel.STUDENT, window.organiser_id,
                         school_unit_code=school_unit_code, field="school_unit_code")  # audited
        found = await items_with_status(session, window, school_unit_code, status)
    return Table(name, MISSING_COLUMNS,
                 [(r.group_id, r.subject_code, r.student_id, ", ".join(r.teachers), r.status) for r in found],
                 sheet="Rapportering")


@router.get("/organisers/{organiser_id}/school-units/{school_unit_code}/items", responses=TABLE_RESPONSES)
async def principal_items(
        *, request: Request, organiser_id: Annotated[OrganiserIdParam, Path()],
        school_unit_code: Annotated[SchoolUnitCodeParam, Path()],
        school_year: Annotated[SchoolYearParam, Query()], term: Literal["HT", "VT"] = Query(),
        status: ItemStatus = "missing", format: FormatParam = None,
        principal: Principal = ITEM_READERS) -> StreamingResponse:
    """The expected reports of one school unit by status (default: the missing ones, to remind
    people), with the teachers responsible on the deadline. Pseudonymous student ids; school-unit
    level only."""
    table = await _items_table(request, principal, _window(organiser_id, school_year, term), school_unit_code, status,
                               f"rapportering-{school_unit_code}-{status}-{term}-{school_year}")
    return export_response(request, table, format)


# --- assessment rounds with a deadline (the calendar's `round_deadlines`) ----------------------------
# Same lists as the forecast windows, for `WindowKind.assessment_round`: expected = assignments ×
# roster on the round's deadline, reported = a current assessment of the round (late = first
# published after the deadline, grace included). A round the calendar sets no deadline for has no lists.

RoundParam = Annotated[int, Path(ge=1, le=4, description="Assessment round (omgång) 1–4 of the school year.")]


def _round(organiser_id: str, school_year: str, round_: int) -> WindowKey:
    return WindowKey(WindowKind.assessment_round, organiser_id, round_period(school_year, round_))


@router.get("/organisers/{organiser_id}/rounds/{round}/school-units", responses=TABLE_RESPONSES)
async def organiser_round_compliance(
        *, request: Request, organiser_id: Annotated[OrganiserIdParam, Path()], round: RoundParam,
        school_year: Annotated[SchoolYearParam, Query()], format: FormatParam = None,
        principal: Principal = ORGANISER_READERS) -> StreamingResponse:
    """The organiser's view of an assessment round: per school unit, the share of expected
    assessments reported by the round's deadline (late included, and counted apart)."""
    if not principal.has(Role.ORGANISER_ADMIN, Role.AREA_MANAGER) or organiser_id not in principal.organisers:
        raise AccessDenied("organiser_id", "read_scope", "the organiser view is the organiser admin's and area "
                           "managers' of that organiser")
    keep_answer_of(request, principal)
    window = _round(organiser_id, school_year, round)
    found = await _own_rows(request, principal, organiser_view(await _ledger(request, window, None), window))
    return export_response(request, _table(f"rapporteringsgrad-{organiser_id}-omgang{round}-{school_year}", found),
                           format)


@router.get("/organisers/{organiser_id}/rounds/{round}/school-units/{school_unit_code}", responses=TABLE_RESPONSES)
async def principal_round_compliance(
        *, request: Request, organiser_id: Annotated[OrganiserIdParam, Path()], round: RoundParam,
        school_unit_code: Annotated[SchoolUnitCodeParam, Path()], school_year: Annotated[SchoolYearParam, Query()],
        list: ListKind = "teacher", only_missing: bool = False, format: FormatParam = None,
        principal: Principal = UNIT_READERS) -> StreamingResponse:
    """The principal's view of one school unit in an assessment round: per teacher (default), group,
    group × subject, teacher × group × subject, or unassigned; most missing first."""
    table = await _unit_table(request, principal, _round(organiser_id, school_year, round), school_unit_code, list,
                              only_missing, f"rapporteringsgrad-{school_unit_code}-{list}-omgang{round}-{school_year}")
    return export_response(request, table, format)


@router.get("/organisers/{organiser_id}/rounds/{round}/school-units/{school_unit_code}/items", responses=TABLE_RESPONSES)
async def principal_round_items(
        *, request: Request, organiser_id: Annotated[OrganiserIdParam, Path()], round: RoundParam,
        school_unit_code: Annotated[SchoolUnitCodeParam, Path()], school_year: Annotated[SchoolYearParam, Query()],
        status: ItemStatus = "missing", format: FormatParam = None,
        principal: Principal = ITEM_READERS) -> StreamingResponse:
    """The expected assessments of one school unit in a round by status (default: missing — the
    list to remind people), with the teachers responsible on the deadline. Student level: pseudonymous
    ids, the unit's principal and the organiser admin only."""
    table = await _items_table(request, principal, _round(organiser_id, school_year, round), school_unit_code, status,
                               f"rapportering-{school_unit_code}-{status}-omgang{round}-{school_year}")
    return export_response(request, table, format)

"""LIKA read API: the newest self-assessment per school unit, and the organiser's compilation
(school units × indicators, the activities as a to-do list, the organiser over time) as JSON,
CSV or xlsx through `exports`.

Access: the organiser admin reads the whole organiser; an area manager names one of its areas, a
principal one of its school units (token or directory duties); others 403."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query, Request, Response
from pydantic import BaseModel

from styrkedja_contracts.identifiers import Name
from styrkedja_kit.app import runtime_of
from styrkedja_kit.auth import AccessDenied, Principal, Role, authorize
from styrkedja_kit.inputs import OrganiserIdParam, SchoolUnitCodeParam, SchoolYearParam
from styrkedja_kit.rules import RuleViolation

from ..access.answers import keep_answer_of
from ..access.scope import reader_of, school_units_of_areas
from ..exports import Column, ColumnType, Table, export_response
from ..exports.negotiate import TABLE_RESPONSES, FormatParam
from ..freshness import set_freshness
from ..params import UnitIdParam
from . import rules
from .tables import read_lika, read_organiser

router = APIRouter(prefix="/v1", tags=["lika"])
_READERS = (Role.ORGANISER_ADMIN, Role.AREA_MANAGER, Role.PRINCIPAL)


def _may_read_lika(principal: Principal, organiser_id: str, area_id: str | None, school_unit_code: str | None
                   ) -> None:
    """The organiser admin: the whole organiser; an area manager names one of its areas; a principal
    one of its school units (`principal` is the reader completed from the directory: `access.scope.reader_of`)."""
    if organiser_id not in principal.organisers:
        raise AccessDenied("organiser_id", "read_scope", "this token may not read this organiser")
    if principal.has(Role.ORGANISER_ADMIN):
        return
    if principal.has(Role.AREA_MANAGER) and area_id is not None and area_id in principal.areas:
        return
    if principal.has(Role.PRINCIPAL) and school_unit_code is not None and school_unit_code in principal.school_units:
        return
    raise AccessDenied("school_unit_code" if principal.has(Role.PRINCIPAL) else "area_id", "read_scope",
                       "name an area or school unit this token may read")

SchoolFormParam = Literal["forskola", "grundskola", "gymnasieskola"]
LikaAreaParam = Literal["ledning", "infrastruktur", "kompetens", "anvandning"]
StatusParam = Literal["planned", "in_progress", "done", "dropped"]
INDICATOR_PATTERN = "^[A-Za-z0-9._:-]{1,64}$"
FORMATS = "`format=json|csv|xlsx` (`excel` is xlsx; named, it wins over the Accept header); CSV `dialect=excel-sv|rfc4180`."


class LikaUnit(BaseModel):
    school_unit_code: str
    organiser_id: str
    self_assessment_id: str
    school_form: str
    respondent_role: str
    catalogue_version: str
    published_at: datetime
    ratings: list[dict[Any, Any]]


@router.get("/lika/school-units", response_model=list[LikaUnit])
async def lika_latest(request: Request, response: Response,
                      organiser_id: OrganiserIdParam | None = Query(None),
                      school_unit_code: SchoolUnitCodeParam | None = Query(None),
                      principal: Principal = authorize(*_READERS, description="reads LIKA")) -> list[LikaUnit]:
    """The newest published LIKA self-assessment of each organiser's school unit and school form
    (only the token's organisers; a principal's own school units, an area manager's the units placed in its
    areas, never the other areas' of the organiser)."""
    async with runtime_of(request).db.sessions() as session:
        reader = await reader_of(session, principal)
        if organiser_id is not None and organiser_id not in reader.organisers:
            raise AccessDenied("organiser_id", "read_scope", "this token may not read this organiser")
        keep_answer_of(request, reader)  # the rows are narrowed by the reader's scope alone
        rows = await read_lika(session, organiser_id, school_unit_code)
        await set_freshness(session, response, request)
        if not reader.has(Role.ORGANISER_ADMIN):  # an area manager: its areas' units, as the compilation
            own = reader.school_units
            if reader.has(Role.AREA_MANAGER):
                own |= await school_units_of_areas(session, reader.organisers, reader.areas)
            rows = [row for row in rows if row.school_unit_code in own]
    return [LikaUnit(**{**row._mapping, "self_assessment_id": str(row.self_assessment_id)}) for row in rows
            if row.organiser_id in reader.organisers]


def _filters(area_id: str | None, school_form: str | None, indicator_id: str | None, lika_area: str | None,
             school_unit_code: str | None) -> rules.Filters:
    return rules.Filters(area_id=area_id, school_form=school_form, indicator_id=indicator_id, lika_area=lika_area,
                         school_unit_code=school_unit_code)


async def _organiser(request: Request, principal: Principal, organiser_id: str, school_unit_code: str | None,
                     area_id: str | None = None):
    async with runtime_of(request).db.sessions() as session:
        reader = await reader_of(session, principal)
        _may_read_lika(reader, organiser_id, area_id, school_unit_code)
        keep_answer_of(request, reader)
        return await read_organiser(session, organiser_id, school_unit_code)


CELL_COLUMNS = (
    Column("organiser_id", "Huvudman"), Column("area_id", "Verksamhetsområde"),
    Column("school_unit_code", "Skolenhetskod"), Column("school_unit_name", "Skolenhet", width=30),
    Column("school_form", "Skolform"), Column("lika_area", "LIKA-område"), Column("indicator_id", "Indikator"),
    Column("rating", "Skattning"), Column("level", "Nivå (0–4)", ColumnType.integer),
    Column("comment", "Kommentar", width=50), Column("respondent_role", "Skattad av"),
    Column("catalogue_version", "Katalogversion"), Column("published_on", "Publicerad", ColumnType.date),
    Column("self_assessment_id", "Självskattning", width=38),
    Column("plan_status", "Handlingsplanens status"), Column("plan_revision", "Planrevision", ColumnType.integer),
    Column("activities", "Aktiviteter", ColumnType.integer),
    Column("planned", "Planerade", ColumnType.integer), Column("in_progress", "Pågående", ColumnType.integer),
    Column("done", "Klara", ColumnType.integer), Column("dropped", "Strukna", ColumnType.integer),
    Column("top_priority", "Högsta prioritet (öppna)", ColumnType.integer),
    Column("next_due", "Nästa slutdatum", ColumnType.date),
)


def _cell_row(c: rules.Cell) -> tuple[Any, ...]:
    counts = c.status_counts
    return (c.organiser_id, c.area_id, c.school_unit_code, c.school_unit_name, c.school_form, c.lika_area,
            c.indicator_id, c.rating, c.level, c.comment, c.respondent_role, c.catalogue_version, c.published_on,
            c.self_assessment_id, c.plan_status, c.plan_revision, c.activities, counts.get("planned", 0),
            counts.get("in_progress", 0), counts.get("done", 0), counts.get("dropped", 0), c.top_priority,
            c.next_due)


@router.get("/lika/compilation", responses=TABLE_RESPONSES, description=FORMATS)
async def compilation(*, request: Request,
                      organiser_id: Annotated[OrganiserIdParam, Query()],
                      area_id: UnitIdParam | None = Query(None, description="One verksamhetsområde."),
                      school_form: SchoolFormParam | None = None,
                      indicator_id: str | None = Query(None, pattern=INDICATOR_PATTERN),
                      lika_area: LikaAreaParam | None = None,
                      school_unit_code: SchoolUnitCodeParam | None = Query(None),
                      format: FormatParam = None,
                      principal: Principal = authorize(*_READERS, description="reads LIKA")):
    """The organiser's compilation (sammanställning): one row per school unit × indicator of each
    unit's latest published self-assessment (per school form), its rating and comment, and the
    status of that indicator's activities in the newest action plan. A school unit the directory
    does not know has no area (unplaced)."""
    assessments, plans, places = await _organiser(request, principal, organiser_id, school_unit_code, area_id)
    cells = rules.compile_cells(assessments, plans, places,
                                _filters(area_id, school_form, indicator_id, lika_area, school_unit_code))
    return export_response(request, Table(f"lika-sammanstallning-{organiser_id}", CELL_COLUMNS,
                                          [_cell_row(c) for c in cells], sheet="Sammanställning"), format)


ACTIVITY_COLUMNS = (
    Column("priority", "Prioritet", ColumnType.integer), Column("status", "Status"),
    Column("due_date", "Slutdatum", ColumnType.date), Column("area_id", "Verksamhetsområde"),
    Column("school_unit_code", "Skolenhetskod"), Column("school_unit_name", "Skolenhet", width=30),
    Column("school_form", "Skolform"), Column("lika_area", "LIKA-område"), Column("indicator_id", "Indikator"),
    Column("rating", "Skattning"), Column("activity_id", "Aktivitet"), Column("title", "Aktivitetens titel", width=50),
    Column("owner", "Ansvarig"), Column("tags", "Taggar"), Column("position", "Ordning i planen", ColumnType.integer),
    Column("self_assessment_id", "Självskattning", width=38),
)


@router.get("/lika/compilation/activities", responses=TABLE_RESPONSES, description=FORMATS)
async def compilation_activities(
        *, request: Request,
        organiser_id: Annotated[OrganiserIdParam, Query()],
        status: StatusParam | None = None,
        priority: int | None = Query(None, ge=1, le=3),
        owner: Name | None = Query(None, max_length=100, description="Any case, however its letters are typed."),
        tag: Name | None = Query(None, max_length=100, description="Any case, however its letters are typed."),
        area_id: UnitIdParam | None = Query(None),
        school_form: SchoolFormParam | None = None,
        indicator_id: str | None = Query(None, pattern=INDICATOR_PATTERN),
        lika_area: LikaAreaParam | None = None,
        school_unit_code: SchoolUnitCodeParam | None = Query(None),
        format: FormatParam = None,
        principal: Principal = authorize(*_READERS, description="reads LIKA")):
    """The activities of the latest action plans across the organiser's school units, filtered;
    `status=planned&priority=1` is the to-do list. Ordered by priority, due date, area, school unit."""
    assessments, plans, places = await _organiser(request, principal, organiser_id, school_unit_code, area_id)
    found = rules.activities(assessments, plans, places,
                             _filters(area_id, school_form, indicator_id, lika_area, school_unit_code),
                             status=status, priority=priority, owner=owner, tag=tag)
    rows = [(r.activity.priority, r.activity.status, r.activity.due_date, r.area_id, r.school_unit_code,
             r.school_unit_name, r.school_form, r.activity.area, r.activity.indicator_id, r.rating,
             r.activity.activity_id, r.activity.title, r.activity.owner, ", ".join(r.activity.tags),
             r.activity.position, r.self_assessment_id) for r in found]
    return export_response(request, Table(f"lika-aktiviteter-{organiser_id}", ACTIVITY_COLUMNS, rows,
                                          sheet="Aktiviteter"), format)


YEAR_COLUMNS = (
    Column("school_form", "Skolform"), Column("lika_area", "LIKA-område"),
    Column("indicator_id", "Indikator (tom: hela området)"),
    Column("units_now", "Skolenheter i år", ColumnType.integer), Column("mean_now", "Medelnivå i år", ColumnType.number),
    Column("units_before", "Skolenheter förra året", ColumnType.integer),
    Column("mean_before", "Medelnivå förra året", ColumnType.number),
    Column("change", "Förändring", ColumnType.number), Column("improved", "Högre", ColumnType.integer),
    Column("unchanged", "Oförändrade", ColumnType.integer), Column("declined", "Lägre", ColumnType.integer),
)


@router.get("/lika/compilation/over-time", responses=TABLE_RESPONSES, description=FORMATS)
async def compilation_over_time(
        *, request: Request,
        organiser_id: Annotated[OrganiserIdParam, Query()],
        school_year: SchoolYearParam | None = Query(None,
                                        description="e.g. 2026/27; omitted: the current school year"),
        compare_to: SchoolYearParam | None = Query(None,
                                       description="another school year than `school_year` (the same is a 422); "
                                                   "omitted: the school year before"),
        area_id: UnitIdParam | None = Query(None),
        school_form: SchoolFormParam | None = None,
        indicator_id: str | None = Query(None, pattern=INDICATOR_PATTERN),
        lika_area: LikaAreaParam | None = None,
        format: FormatParam = None,
        principal: Principal = authorize(Role.ORGANISER_ADMIN, Role.AREA_MANAGER, description="reads LIKA")):
    """The whole organiser (or one area, school form, LIKA area, indicator) this school year
    against another: per indicator and per LIKA area, units rated, mean level (0–4), its change,
    and how many units rated in both years moved up, stayed or moved down. Each unit counts with
    its latest published self-assessment of each school year (1 July – 30 June) — the school year a self-assessment is
    about: of the day it was made (`assessed_on`), not of the day it was published."""
    year = school_year or rules.school_year_of(datetime.now(rules.SWEDEN))
    before = compare_to or rules.previous_school_year(year)
    if before == year:  # every unit "unchanged" against itself: a standstill the data does not say
        raise RuleViolation("compare_to", "other_school_year",
                            f"must be another school year than {year}, the one compared (omitted: the year before)")
    assessments, _, places = await _organiser(request, principal, organiser_id, None, area_id)
    found = rules.over_time(assessments, places, year, before,
                            _filters(area_id, school_form, indicator_id, lika_area, None))
    rows = [(r.school_form, r.lika_area, r.indicator_id, r.units_now, r.mean_now, r.units_before, r.mean_before,
             r.change, r.improved, r.unchanged, r.declined) for r in found]
    name = f"lika-over-tid-{organiser_id}-{year.replace('/', '-')}-mot-{before.replace('/', '-')}"
    return export_response(request, Table(name, YEAR_COLUMNS, rows, sheet="Över tid"), format)

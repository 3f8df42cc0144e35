"""GET /lika, /lika/jamfor, /lika/{id}/handlingsplan and the downloads."""

from __future__ import annotations

import asyncio
import json
from typing import Annotated, Any, Literal
from uuid import UUID

from fastapi import APIRouter, Depends, Query, Request
from starlette.responses import Response

from ..clients import Lika, Reporting
from ..downloads import csv_response
from ..exports.routes import MEDIA_TYPES, attachment, passed_on
from ..formats import day
from ..names import NO_NAMES, UnitNames, unit_names
from ..reads import or_none
from ..shapes import named, number, text
from ..web.pages import Current, lika, organiser_of, render, reporting

router = APIRouter()

STATUS_NAMES = {"planned": "planerad", "in_progress": "pågår", "done": "klar", "dropped": "struken"}
AREA_NAMES = {"ledning": "Ledning", "infrastruktur": "Infrastruktur", "kompetens": "Kompetens",
              "anvandning": "Användning"}
ROLE_NAMES = {"rektor": "rektor", "ict_coordinator": "IKT-samordnare", "teacher_team": "arbetslag",
              "management_team": "ledningsgrupp"}
STATUS_OF_ASSESSMENT = {"DRAFT": "utkast", "PRIVATE": "privat", "PUBLISHED": "publicerad"}

LikaApi = Annotated[Lika, Depends(lika)]
ReportingApi = Annotated[Reporting, Depends(reporting)]
UNIT = r"^[0-9]{8}$"


async def _names_of(rep: Reporting, assessment: dict[str, Any]) -> UnitNames:
    """The directory's names for the organiser a self-assessment belongs to (the fallback for one naming none)."""
    organiser = text(assessment.get("organiser_id"))
    return await unit_names(rep, organiser) if organiser else NO_NAMES


def _names() -> dict[str, dict[str, str]]:
    return {"status": STATUS_NAMES, "area": AREA_NAMES, "role": ROLE_NAMES, "assessment": STATUS_OF_ASSESSMENT}


@router.get("/lika")
async def overview(request: Request, session: Current, api: LikaApi, rep: ReportingApi,
                   huvudman: Annotated[str | None, Query(pattern=r"^[0-9A-Za-z-]{1,20}$")] = None,
                   enhet: Annotated[str | None, Query(pattern=UNIT)] = None) -> Response:
    organiser = organiser_of(session, huvudman)
    compilation, names = await asyncio.gather(rep.lika_school_units(organiser_id=organiser),
                                              unit_names(rep, organiser))
    own = await api.self_assessments(organiser_id=organiser, school_unit_code=enhet) if enhet else None
    if own:  # oldest first: the default comparison is the last two, older against newer
        own.sort(key=lambda a: (text(a.get("assessed_on")) or "", text(a.get("created_at")) or ""))
    return render(request, "lika.html", session, organiser=organiser, compilation=compilation, unit=enhet,
                  assessments=own, names=_names(), page="lika", unit_names=names)


def _at(values: object, index: int) -> object:
    return values[index] if isinstance(values, list) and index < len(values) else None


def comparison_view(comparison: dict[str, Any], steps: dict[str, str]) -> tuple[list[dict[str, Any]],
                                                                                   list[dict[str, str | None]]]:
    """Pure: the LIKA service's comparison as the page shows it — per area its name and the two mean levels,
    and the discussion points with the steps' labels. A key left out or of another type (another version of
    the service, or a hostile one) is a dash (None), never a 500."""
    radar = comparison.get("area_radar")
    radar = radar if isinstance(radar, dict) else {}
    axes = radar.get("axes")
    areas = [{"name": AREA_NAMES.get(axis or "") or text(_at(radar.get("labels"), i)) or axis or "–",
              "first": number(_at(radar.get("first"), i)), "second": number(_at(radar.get("second"), i))}
             for i, axis in enumerate(text(a) for a in axes)] if isinstance(axes, list) else []
    raw_points = comparison.get("discussion_points")
    points = [{"title": text(d.get("title")), "area": named(d.get("area"), AREA_NAMES) or None,
               "first": named(d.get("first"), steps) or None, "second": named(d.get("second"), steps) or None}
              for d in raw_points if isinstance(d, dict)] if isinstance(raw_points, list) else []
    return areas, points


def _respondent(assessment: dict[str, Any]) -> str:
    return f"{day(text(assessment.get('assessed_on')))} ({named(assessment.get('respondent_role'), ROLE_NAMES)})"


@router.get("/lika/jamfor")
async def compare(request: Request, session: Current, api: LikaApi, rep: ReportingApi, forsta: Annotated[UUID, Query()],
                  andra: Annotated[UUID, Query()]) -> Response:
    comparison = await api.compare(str(forsta), str(andra))
    first = await api.self_assessment(str(forsta))
    second = await api.self_assessment(str(andra))
    version, school_form = text(first.get("catalogue_version")), text(first.get("school_form"))
    # the catalogue only labels the steps: without it (a version the assessment does not name, or one no path may
    # hold) the discussion points show the steps' ids
    catalogue = await or_none(api.catalogue(version, school_form=school_form)) if version and school_form else None
    scale = (catalogue or {}).get("scale")
    steps = {step_id: label for step in (scale if isinstance(scale, list) else []) if isinstance(step, dict)
             and (step_id := text(step.get("id"))) is not None and (label := text(step.get("label"))) is not None}
    areas, points = comparison_view(comparison, steps)
    chart = {"labels": [a["name"] for a in areas], "first": [a["first"] for a in areas],
             "second": [a["second"] for a in areas], "firstName": _respondent(first), "secondName": _respondent(second)}
    return render(request, "lika_compare.html", session, unit_names=await _names_of(rep, first), areas=areas, points=points, first=first, second=second,
                  chart_json=json.dumps(chart, ensure_ascii=False).replace("<", "\\u003c"), names=_names(),
                  page="lika")


async def _plan(api: Lika, sid: UUID, status: str | None, priority: int | None) -> tuple[dict[str, Any],
                                                                                       list[dict[str, Any]]]:
    """The plan and its items: an `items` left out or of another type is no items (the page says so), an item
    that is no object is left out; the plan as a whole not an object is a 502 (`clients.record`)."""
    plan = await api.action_plan(str(sid), status=status, priority=priority)
    items = plan.get("items")
    return plan, [i for i in items if isinstance(i, dict)] if isinstance(items, list) else []


@router.get("/lika/{sid}/handlingsplan")
async def action_plan(request: Request, session: Current, api: LikaApi, rep: ReportingApi, sid: UUID,
                      status: Annotated[Literal["planned", "in_progress", "done", "dropped"] | None, Query()] = None,
                      prioritet: Annotated[int | None, Query(ge=1, le=3)] = None) -> Response:
    plan, items = await _plan(api, sid, status, prioritet)
    assessment = await api.self_assessment(str(sid))
    return render(request, "lika_plan.html", session, plan=plan, items=items, assessment=assessment, status=status,
                  prioritet=prioritet, names=_names(), page="lika", unit_names=await _names_of(rep, assessment))


@router.get("/lika/{sid}/handlingsplan/export.csv")
async def action_plan_csv(session: Current, api: LikaApi, sid: UUID,
                          status: Annotated[Literal["planned", "in_progress", "done", "dropped"] | None,
                                            Query()] = None,
                          prioritet: Annotated[int | None, Query(ge=1, le=3)] = None) -> Response:
    _, items = await _plan(api, sid, status, prioritet)
    header = ["Ordning", "Aktivitet", "Indikator", "Område", "Status", "Prioritet", "Föreslagen termin",
              "Ansvarig", "Klart senast"]
    # a key left out is an empty cell; a nested value reads as `a; b` (downloads.csv_value)
    rows = [[i.get("position"), i.get("title"), i.get("indicator_id"), named(i.get("area"), AREA_NAMES) or i.get("area"),
             named(i.get("status"), STATUS_NAMES) or i.get("status"), i.get("priority"), i.get("suggested_term"),
             i.get("owner"), i.get("due_date")] for i in items]
    return csv_response(f"handlingsplan-{sid}", header, rows)


@router.get("/lika/{sid}/export.xlsx")
async def export(request: Request, session: Current, api: LikaApi, sid: UUID,
                 del_: Annotated[Literal["bedomning", "handlingsplan"], Query(alias="del")] = "bedomning") -> Response:
    """The LIKA service's own workbook (comments kept), passed through."""
    upstream = await api.export(str(sid), action_plan=del_ == "handlingsplan")
    return await passed_on(request, upstream, MEDIA_TYPES["xlsx"], attachment(
        upstream.headers.get("content-disposition"), f"lika-{sid}.xlsx"))

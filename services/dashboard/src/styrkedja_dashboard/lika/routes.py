"""GET /lika, /lika/jamfor, /lika/{id}/handlingsplan and the downloads."""

from __future__ import annotations

import json
from typing import Annotated, Literal
from uuid import UUID

from fastapi import APIRouter, Depends, HTTPException, Query, Request
from starlette.responses import Response

from styrkedja_contracts.identifiers import canonical_organiser_id

from ..clients import Lika, Reporting
from ..downloads import csv_response
from ..formats import day
from ..web.pages import Current, lika, render, reporting

router = APIRouter()

STATUS_NAMES = {"planned": "planerad", "in_progress": "pågår", "done": "klar", "dropped": "struken"}
AREA_NAMES = {"ledning": "Ledning", "infrastruktur": "Infrastruktur", "kompetens": "Kompetens",
              "anvandning": "Användning"}
ROLE_NAMES = {"rektor": "rektor", "ict_coordinator": "IKT-samordnare", "teacher_team": "arbetslag",
              "management_team": "ledningsgrupp"}
STATUS_OF_ASSESSMENT = {"DRAFT": "utkast", "PRIVATE": "privat", "PUBLISHED": "publicerad"}

LikaApi = Annotated[Lika, Depends(lika)]
ReportingApi = Annotated[Reporting, Depends(reporting)]
UNIT = r"^\d{8}$"


def _organiser(session: Current, chosen: str | None) -> str:
    organisers = sorted(session.principal.organisers) if session.principal else []
    chosen = canonical_organiser_id(chosen) if chosen else chosen  # `2120001234` is the token's 212000-1234
    if chosen and chosen in organisers:
        return chosen
    if chosen or not organisers:
        raise HTTPException(403, "Du har inte behörighet till den huvudmannen.")
    return organisers[0]


def _names() -> dict[str, dict[str, str]]:
    return {"status": STATUS_NAMES, "area": AREA_NAMES, "role": ROLE_NAMES, "assessment": STATUS_OF_ASSESSMENT}


@router.get("/lika")
async def overview(request: Request, session: Current, api: LikaApi, rep: ReportingApi,
                   huvudman: Annotated[str | None, Query(pattern=r"^[0-9A-Za-z-]{1,20}$")] = None,
                   enhet: Annotated[str | None, Query(pattern=UNIT)] = None) -> Response:
    organiser = _organiser(session, huvudman)
    compilation = await rep.lika_school_units(organiser_id=organiser)
    own = await api.self_assessments(organiser_id=organiser, school_unit_code=enhet) if enhet else None
    if own:  # oldest first: the default comparison is the last two, older against newer
        own.sort(key=lambda a: (a.get("assessed_on") or "", a.get("created_at") or ""))
    return render(request, "lika.html", session, organiser=organiser, compilation=compilation, unit=enhet,
                  assessments=own, names=_names(), page="lika")


@router.get("/lika/jamfor")
async def compare(request: Request, session: Current, api: LikaApi, forsta: Annotated[UUID, Query()],
                  andra: Annotated[UUID, Query()]) -> Response:
    comparison = await api.compare(str(forsta), str(andra))
    first = await api.self_assessment(str(forsta))
    second = await api.self_assessment(str(andra))
    catalogue = await api.catalogue(first["catalogue_version"], school_form=first["school_form"])
    steps = {step["id"]: step["label"] for step in catalogue.get("scale", [])}
    radar = comparison["area_radar"]
    chart = {"labels": [AREA_NAMES.get(a, label) for a, label in zip(radar["axes"], radar["labels"], strict=False)],
             "first": radar["first"], "second": radar["second"],
             "firstName": f"{day(first.get('assessed_on'))} ({ROLE_NAMES.get(first['respondent_role'], '')})",
             "secondName": f"{day(second.get('assessed_on'))} ({ROLE_NAMES.get(second['respondent_role'], '')})"}
    return render(request, "lika_compare.html", session, comparison=comparison, first=first, second=second,
                  chart_json=json.dumps(chart, ensure_ascii=False).replace("<", "\\u003c"), names=_names(), steps=steps,
                  page="lika")


async def _plan(api: Lika, sid: UUID, status: str | None, priority: int | None) -> dict:
    return await api.action_plan(str(sid), status=status, priority=priority)


@router.get("/lika/{sid}/handlingsplan")
async def action_plan(request: Request, session: Current, api: LikaApi, sid: UUID,
                      status: Annotated[Literal["planned", "in_progress", "done", "dropped"] | None, Query()] = None,
                      prioritet: Annotated[int | None, Query(ge=1, le=3)] = None) -> Response:
    plan = await _plan(api, sid, status, prioritet)
    assessment = await api.self_assessment(str(sid))
    return render(request, "lika_plan.html", session, plan=plan, assessment=assessment, status=status,
                  prioritet=prioritet, names=_names(), page="lika")


@router.get("/lika/{sid}/handlingsplan/export.csv")
async def action_plan_csv(session: Current, api: LikaApi, sid: UUID,
                          status: Annotated[Literal["planned", "in_progress", "done", "dropped"] | None,
                                            Query()] = None,
                          prioritet: Annotated[int | None, Query(ge=1, le=3)] = None) -> Response:
    plan = await _plan(api, sid, status, prioritet)
    header = ["Ordning", "Aktivitet", "Indikator", "Område", "Status", "Prioritet", "Föreslagen termin",
              "Ansvarig", "Klart senast"]
    rows = [[i["position"], i["title"], i["indicator_id"], AREA_NAMES.get(i["area"], i["area"]),
             STATUS_NAMES.get(i["status"], i["status"]), i["priority"], i["suggested_term"], i["owner"],
             i["due_date"]] for i in plan["items"]]
    return csv_response(f"handlingsplan-{sid}", header, rows)


@router.get("/lika/{sid}/export.xlsx")
async def export(session: Current, api: LikaApi, sid: UUID,
                 del_: Annotated[Literal["bedomning", "handlingsplan"], Query(alias="del")] = "bedomning") -> Response:
    """The LIKA service's own workbook (comments kept), passed through."""
    upstream = await api.export(str(sid), action_plan=del_ == "handlingsplan")
    disposition = upstream.headers.get("content-disposition", f'attachment; filename="lika-{sid}.xlsx"')
    return Response(upstream.content, media_type=upstream.headers.get("content-type"),
                    headers={"Content-Disposition": disposition})

"""GET the xlsx of a self-assessment and its action plan."""

from __future__ import annotations

import asyncio
from typing import Annotated, Any
from uuid import UUID

from fastapi import APIRouter, Query, Request, Response

from styrkedja_contracts.events.lika import ActionStatus
from styrkedja_kit.app import export_slots
from styrkedja_kit.rules import RuleViolation

from ..action_plans.routes import OwnerFilter, TagFilter
from ..action_plans.routes import Service as PlanService
from ..action_plans.rules import PlanFilter
from ..action_plans.service import ActionPlans
from ..catalogue.library import library
from ..self_assessments.routes import Service, full
from ..self_assessments.service import SCHOOL_TIME
from .workbook import PLAN_HEADERS, RATING_HEADERS, Sheet, plan_rows, workbook_bytes

router = APIRouter(prefix="/v1/self-assessments", tags=["exports"])

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
STATUS = {"DRAFT": "Utkast", "PRIVATE": "Privat", "PUBLISHED": "Publicerad"}


class Labels:
    """The catalogue's Swedish labels of areas, scale steps and owner roles (none for an unknown version)."""

    def __init__(self, catalogue_version: str) -> None:
        self.catalogue = library().get(catalogue_version)
        c = self.catalogue
        self.areas: dict[str, str] = {a.value: label for a, label in c.area_labels.items()} if c else {}
        self.ratings: dict[str, str] = {r.value: label for r, label in c.scale_labels.items()} if c else {}
        self.owners: dict[str, str] = {r.value: label for r, label in c.owner_role_labels.items()} if c else {}

    def title(self, indicator_id: str) -> str | None:
        c = self.catalogue
        return c.indicator(indicator_id).title if c and c.has_indicator(indicator_id) else None


def _about(row: dict[str, Any]) -> list[tuple[str, Any]]:
    return [("Huvudman", row["organiser_id"]), ("Skolenhet", row["school_unit_code"]),
            ("Skolform", row["school_form"]), ("Respondent", row["respondent_role"]),
            ("Katalogversion", row["catalogue_version"]), ("Status", STATUS.get(row["status"], row["status"])),
            ("Värderingsdatum", row["assessed_on"]),
            # the school's time, as its day is (`Värderingsdatum`, `school_day`) and reporting's compilation dates it: a
            # spreadsheet has no time zones, and UTC written as a local time put 00:30 on 1 July on 30 June, 22:30
            ("Publicerad", row["published_at"].astimezone(SCHOOL_TIME).replace(tzinfo=None)
             if row["published_at"] else None)]


async def _plan_sheet(plans: ActionPlans, self_assessment_id: UUID, labels: Labels, plan_filter: PlanFilter,
                      about: list[tuple[str, Any]], *, missing_ok: bool) -> Sheet | None:
    try:
        _, plan, items, _ = await plans.get(self_assessment_id, plan_filter)
    except RuleViolation as error:
        if missing_ok and error.rule == "no_action_plan":
            return None
        raise
    for i in items:
        i["owner"] = labels.owners.get(i["owner"], i["owner"])
    filters = [(f"Filter: {k}", v.value if hasattr(v, "value") else v)
               for k, v in vars(plan_filter).items() if v is not None]
    return Sheet("Handlingsplan", [*about, ("Starttermin", plan["start_term"]), ("Revision", plan["revision"]),
                                   *filters], PLAN_HEADERS, plan_rows(items, labels.areas, labels.ratings))


async def _xlsx(request: Request, sheets: list[Sheet], row: dict[str, Any], what: str) -> Response:
    """The workbook, written in a thread of its own (every indicator's longest comment and a plan of 200 long notes
    take openpyxl ~50 ms of CPU: on the event loop, a client asking for exports in a loop held every other request
    of the service, its probes too, for as long as it kept asking), at most `max_exports_in_flight` at once (the
    kit's `export_slots`; more is a 503 `overloaded` with Retry-After)."""
    filename = f"lika-{what}-{row['school_unit_code']}-{row['self_assessment_id']}.xlsx"
    with export_slots(request).held():
        content = await asyncio.to_thread(workbook_bytes, sheets)
    return Response(content, media_type=XLSX, headers={"Content-Disposition": f'attachment; filename="{filename}"'})


@router.get("/{self_assessment_id}/export.xlsx", response_class=Response,
            responses={200: {"content": {XLSX: {}}, "description": "The workbook"}})
async def export_self_assessment(request: Request, self_assessment_id: UUID, svc: Service,
                                 plans: PlanService) -> Response:
    """Sheet "Självskattning" (every rating with its comment) and, once there is one, sheet
    "Handlingsplan" (every activity with its note)."""
    row, ratings = await svc.get(self_assessment_id)
    labels = Labels(row["catalogue_version"])
    sheets = [Sheet("Självskattning", _about(row), RATING_HEADERS, [
        [labels.areas.get(r.area or "", r.area), r.indicator_id, labels.title(r.indicator_id),
         labels.ratings.get(r.rating.value, r.rating.value), r.comment] for r in full(row, ratings).ratings])]
    plan = await _plan_sheet(plans, self_assessment_id, labels, PlanFilter(), [], missing_ok=True)
    return await _xlsx(request, sheets + ([plan] if plan else []), row, "sjalvskattning")


@router.get("/{self_assessment_id}/action-plan/export.xlsx", response_class=Response,
            responses={200: {"content": {XLSX: {}}, "description": "The workbook"}})
async def export_action_plan(request: Request, self_assessment_id: UUID, svc: Service, plans: PlanService,
                             status: Annotated[ActionStatus | None, Query()] = None,
                             priority: Annotated[int | None, Query(ge=1, le=3)] = None,
                             owner: Annotated[OwnerFilter | None, Query()] = None,
                             tag: Annotated[TagFilter | None, Query()] = None) -> Response:
    """The action plan alone, with its notes, filtered like `GET .../action-plan` (e.g. a to-do list)."""
    row, _ = await svc.get(self_assessment_id)
    plan_filter = PlanFilter(status=status, priority=priority, owner=owner, tag=tag)
    sheet = await _plan_sheet(plans, self_assessment_id, Labels(row["catalogue_version"]), plan_filter, _about(row),
                              missing_ok=False)
    assert sheet is not None  # missing_ok=False: no plan is a 404
    return await _xlsx(request, [sheet], row, "handlingsplan")

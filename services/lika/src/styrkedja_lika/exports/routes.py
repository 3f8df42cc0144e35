"""GET the xlsx of a self-assessment and its action plan."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from fastapi import APIRouter, Response

from styrkedja_kit.rules import RuleViolation

from ..action_plans.routes import Service as PlanService
from ..action_plans.rules import PlanFilter
from ..catalogue.library import library
from ..self_assessments.routes import Service, full
from .workbook import PLAN_HEADERS, RATING_HEADERS, Sheet, plan_rows, workbook_bytes

router = APIRouter(prefix="/v1/self-assessments", tags=["exports"])

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
STATUS = {"DRAFT": "Utkast", "PRIVATE": "Privat", "PUBLISHED": "Publicerad"}


@router.get("/{self_assessment_id}/export.xlsx", response_class=Response,
            responses={200: {"content": {XLSX: {}}, "description": "The workbook"}})
async def export_xlsx(self_assessment_id: UUID, svc: Service, plans: PlanService) -> Response:
    """Sheet "Självskattning" (every rating with its comment) and, once there is one, sheet
    "Handlingsplan" (every activity with its note)."""
    row, ratings = await svc.get(self_assessment_id)
    out = full(row, ratings)
    catalogue = library().get(row["catalogue_version"])
    area_labels: dict[str, str] = {a.value: label for a, label in catalogue.area_labels.items()} if catalogue else {}
    rating_labels: dict[str, str] = ({r.value: label for r, label in catalogue.scale_labels.items()}
                                     if catalogue else {})
    owner_labels: dict[str, str] = ({r.value: label for r, label in catalogue.owner_role_labels.items()}
                                    if catalogue else {})

    def title(indicator_id: str) -> str | None:
        return catalogue.indicator(indicator_id).title if catalogue and catalogue.has_indicator(indicator_id) else None

    about: list[tuple[str, Any]] = [
        ("Huvudman", row["organiser_id"]), ("Skolenhet", row["school_unit_code"]), ("Skolform", row["school_form"]),
        ("Respondent", row["respondent_role"]), ("Katalogversion", row["catalogue_version"]),
        ("Status", STATUS.get(row["status"], row["status"])), ("Värderingsdatum", row["assessed_on"]),
        ("Publicerad", row["published_at"].replace(tzinfo=None) if row["published_at"] else None)]
    sheets = [Sheet("Självskattning", about, RATING_HEADERS, [
        [area_labels.get(r.area or "", r.area), r.indicator_id, title(r.indicator_id),
         rating_labels.get(r.rating.value, r.rating.value), r.comment] for r in out.ratings])]
    try:
        _, plan, items, _ = await plans.get(self_assessment_id, PlanFilter())
    except RuleViolation as error:
        if error.rule != "no_action_plan":
            raise
    else:
        for i in items:
            i["owner"] = owner_labels.get(i["owner"], i["owner"])
        sheets.append(Sheet("Handlingsplan", [("Starttermin", plan["start_term"]), ("Revision", plan["revision"])],
                            PLAN_HEADERS, plan_rows(items, area_labels, rating_labels)))
    filename = f"lika-{row['school_unit_code']}-{row['catalogue_version']}-{self_assessment_id}.xlsx"
    return Response(workbook_bytes(sheets), media_type=XLSX,
                    headers={"Content-Disposition": f'attachment; filename="{filename}"'})



"""HTTP routes of action plans."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Any
from uuid import UUID

from fastapi import APIRouter, Depends, Query, Request
from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from styrkedja_contracts.events.lika import MAX_TAG_LENGTH, ActionStatus, LikaArea
from styrkedja_contracts.identifiers import Name
from styrkedja_kit.auth import Principal
from styrkedja_kit.inputs import InputModel

from ..access.actor import reader, writer
from ..self_assessments.schemas import ActivityId
from .rules import EDITABLE, MAX_TAGS, NOT_CLEARED, PlanFilter

#: the plan's filters by owner and tag: a name (the contracts' `Name`) within the lengths an item's owner and tag
#: have; the length inside the type, so that FastAPI keeps every rule of it (tests/test_hostile_round13.py)
OwnerFilter = Annotated[Name, StringConstraints(max_length=100)]
#: an item's owner as an edit gives it: a name whose length is counted formed, as it is stored (the column holds 100):
#: counted as sent, 100 characters that Unicode's NFC makes 200 (U+0958 and other composition exclusions) passed,
#: and the update failed in the database (a 500)
OwnerName = OwnerFilter
TagFilter = Annotated[Name, StringConstraints(max_length=MAX_TAG_LENGTH)]
from .service import ActionPlans

router = APIRouter(prefix="/v1/self-assessments/{self_assessment_id}/action-plan", tags=["action plans"])


def service(request: Request, caller: Principal = reader) -> ActionPlans:
    return ActionPlans.of(request, caller)


def write_service(request: Request, caller: Principal = writer) -> ActionPlans:
    return ActionPlans.of(request, caller)


Service = Annotated[ActionPlans, Depends(service)]
WriteService = Annotated[ActionPlans, Depends(write_service)]


class ItemOut(BaseModel):
    activity_id: str
    position: int
    title: str
    indicator_id: str
    area: LikaArea
    current_rating: str
    plan_priority: int = Field(description="The priority the domain gave (1–3)")
    suggested_term: str
    status: ActionStatus
    priority: int
    owner: str | None
    due_date: date | None
    tags: list[str]
    note: str | None
    updated_at: datetime


class PlanOut(BaseModel):
    self_assessment_id: UUID
    self_assessment_status: str
    start_term: str
    revision: int
    generated_at: datetime
    updated_at: datetime
    total_items: int
    filters: dict[str, Any]
    items: list[ItemOut]


def _tags_documented(schema: dict[str, Any]) -> None:
    """`tags` as the edit rules take them (`rules.edit_problems`: at most `MAX_TAGS`, each `MAX_TAG_LENGTH`), not the
    model's looser guard: round 26's fuzzing found 100 tags of any length documented, and 21-100 (or a 41-character
    tag), valid by the document, refused by the rules. The guard stays (the rules name `too_many_tags`). Round 29: a
    tag given twice (`unique_tags`) was valid by the document too: `uniqueItems`, and the description says a tag is
    compared in any case."""
    for option in schema.get("anyOf", [schema]):
        if option.get("type") == "array":
            option["maxItems"] = MAX_TAGS
            option["uniqueItems"] = True
            option["items"] = {**option.get("items", {}), "maxLength": MAX_TAG_LENGTH}
    schema["description"] = ("Each tag once, compared in any case (`IT` and `it` are one tag). "
                             + schema.get("description", "")).strip()


def _not_cleared_documented(schema: dict[str, Any]) -> None:
    """`status`, `priority` and `tags` may be left out but not sent as `null` (`rules.NOT_CLEARED`, `required_value`):
    round 29 found each documented as nullable (the model's `None` means "not given"), so a client generated from
    the document could build an edit the rules refuse."""
    for name in NOT_CLEARED:
        prop = schema.get("properties", {}).get(name, {})
        options = [o for o in prop.pop("anyOf", []) if o.get("type") != "null"]
        if len(options) == 1:
            prop.update(options[0])
        elif options:
            prop["anyOf"] = options
        prop.pop("default", None)
    # at least one field to change (`revision` alone changes nothing: `nothing_to_change`), as one `required` per
    # field: round 31's campaign sent `{}`, schema-valid, and met the 422
    schema["anyOf"] = [{"required": [name]} for name in EDITABLE]


class ItemEditIn(InputModel):
    """Only the fields given change; `owner`, `due_date` and `note` are cleared by `null`. `revision`, where given,
    is the plan's revision the edit was made on: another edit since is a 409, nothing changed (no lost update)."""

    model_config = ConfigDict(extra="forbid", json_schema_extra=_not_cleared_documented)

    revision: int | None = Field(None, ge=1, le=2_147_483_647, description=(
        "The plan's revision this edit was made on (as the plan was read): another edit since is a 409 "
        "`revision_changed` and nothing changes. Omitted: the edit applies to the plan as it stands."))

    status: ActionStatus | None = None
    priority: int | None = Field(None, ge=1, le=3)
    owner: OwnerName | None = None
    due_date: date | None = None
    tags: list[str] | None = Field(None, max_length=MAX_TAGS * 5, json_schema_extra=_tags_documented)
    note: str | None = Field(None, max_length=4000)


class EditOut(BaseModel):
    revision: int
    item: ItemOut


@router.get("", response_model=PlanOut)
async def get_plan(self_assessment_id: UUID, svc: Service,
                   status: Annotated[ActionStatus | None, Query()] = None,
                   priority: Annotated[int | None, Query(ge=1, le=3)] = None,
                   owner: Annotated[OwnerFilter | None, Query()] = None,
                   tag: Annotated[TagFilter | None, Query()] = None) -> PlanOut:
    """The action plan in the domain's order; filter by status, priority, owner and tag (any case, as the
    organiser's compilation reads them)."""
    plan_filter = PlanFilter(status=status, priority=priority, owner=owner, tag=tag)
    assessment, plan, items, total = await svc.get(self_assessment_id, plan_filter)
    filters = {k: (v.value if isinstance(v, ActionStatus) else v)
               for k, v in vars(plan_filter).items() if v is not None}
    return PlanOut(self_assessment_id=self_assessment_id, self_assessment_status=assessment["status"],
                   start_term=plan["start_term"], revision=plan["revision"], generated_at=plan["generated_at"],
                   updated_at=plan["updated_at"], total_items=total, filters=filters,
                   items=[ItemOut(**i) for i in items])


@router.patch("/items/{activity_id}", response_model=EditOut,
              responses={409: {"description": "The plan changed since the revision the edit names"}})
async def edit_item(self_assessment_id: UUID, activity_id: ActivityId, body: ItemEditIn, svc: WriteService) -> EditOut:
    changes = body.model_dump(include=body.model_fields_set - {"revision"})
    item, revision = await svc.edit(self_assessment_id, activity_id, changes, made_on=body.revision)
    return EditOut(revision=revision, item=ItemOut(**item))

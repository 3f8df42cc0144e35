"""HTTP bodies of plan metadata."""

from __future__ import annotations

from datetime import date
from typing import Annotated
from uuid import UUID

from pydantic import AnyHttpUrl, BaseModel, Field, UrlConstraints

from styrkedja_contracts import door_rules
from styrkedja_contracts.identifiers import (
    GroupId,
    Name,
    OrganiserId,
    SchoolUnitCode,
    SubjectCode,
    Term,
)
from styrkedja_contracts.subjects import KnownSubjectCode
from styrkedja_kit.inputs import BatchItems, InputModel, RemovalIn, Revision, SchoolYearIn, UniqueItems, item_rules_said
from styrkedja_kit.writes import BatchAnswer

#: the longest link taken (what browsers and the sitemaps protocol take: 2,048)
MAX_LINK_LENGTH = 2048


class PlanIn(InputModel):
    model_config = item_rules_said(door_rules.PLAN)

    plan_id: UUID | None = Field(None, description="Omit for a new plan; give it to revise one.")
    revision: Revision | None = None
    organiser_id: OrganiserId
    school_unit_code: SchoolUnitCode
    group_id: GroupId
    subject_code: KnownSubjectCode
    school_year: SchoolYearIn
    term: Term
    # a title is shown as a name: no invisible characters, not blank (the contracts' `Name`)
    title: Annotated[Name, Field(min_length=1, max_length=300)]
    criteria_codes: UniqueItems[SubjectCode] = Field(default_factory=list, max_length=200,
                                                     description="Covered knowledge criteria codes, each once.")
    published_on: date
    # a link is read by people and stored with every revision: as long as browsers take (70,000 characters were stored)
    link: Annotated[AnyHttpUrl, UrlConstraints(max_length=MAX_LINK_LENGTH)] | None = Field(
        None, description=f"Where the plan is read on the platform: http(s), at most {MAX_LINK_LENGTH} characters, "
                          "no user name or password, no personal identity number (percent-encoded or not).")


class PlanBatchIn(InputModel):
    items: BatchItems[PlanIn]


class PlanRetractIn(RemovalIn):
    pass


class PlanOut(BaseModel):
    plan_id: UUID
    revision: int
    retracted: bool
    status: str


class PlanBatchOut(BatchAnswer[PlanOut]):
    pass

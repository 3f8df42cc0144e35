"""HTTP bodies of support interventions (the kit's `InputModel`: the same input rules as events)."""

from __future__ import annotations

from datetime import date
from typing import Annotated
from uuid import UUID

from pydantic import BaseModel, Field

from styrkedja_contracts import door_rules
from styrkedja_contracts.events.support import (
    DeciderRole,
    EvaluationOutcome,
    InterventionKind,
    InterventionStatus,
)
from styrkedja_contracts.identifiers import GroupId, OrganiserId, SchoolUnitCode, StudentId, TeacherId
from styrkedja_contracts.subjects import KnownSubjectCode
from styrkedja_kit.inputs import BatchItems, InputModel, RemovalIn, Revision, SaidText, item_rules_said
from styrkedja_kit.writes import BatchAnswer


class InterventionIn(InputModel):
    model_config = item_rules_said(door_rules.SUPPORT)

    intervention_id: UUID | None = Field(None, description="Omit for a new intervention; give it to revise one.")
    revision: Revision | None = None
    organiser_id: OrganiserId
    school_unit_code: SchoolUnitCode
    group_id: GroupId
    student_id: StudentId
    subject_code: KnownSubjectCode | None = Field(None, description="Omit when the support is not per subject.")
    kind: InterventionKind
    status: InterventionStatus
    start_date: date
    evaluation_date: date | None = Field(None, description="Planned evaluation date, after the start.")
    evaluation_outcome: EvaluationOutcome | None = None
    decided_by_role: DeciderRole | None = None
    decided_by: TeacherId | None = Field(None, description="Pseudonymous id of who decided (kept in this service).")
    decided_on: date | None = None
    investigation_id: UUID | None = Field(None, description="The decided investigation an action programme rests on.")
    description: Annotated[SaidText, Field(max_length=4000)] | None = Field(
        None, description="Free text; stored only in the assessment service, never in an event.")


class InterventionBatchIn(InputModel):
    items: BatchItems[InterventionIn]


class InterventionRetractIn(RemovalIn):
    pass


class InterventionOut(BaseModel):
    intervention_id: UUID
    revision: int
    retracted: bool
    status: str = Field(description="`stored` (a new revision) or `unchanged` (the same request again)")


class InterventionBatchOut(BatchAnswer[InterventionOut]):
    pass

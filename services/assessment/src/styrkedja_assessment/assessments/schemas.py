"""HTTP request and response bodies. Identifier and field types come from the contracts package
(the events' own: a year, a round, a criterion) and the bodies from the kit's `InputModel`, so the same rules (no personal
identity numbers in any spelling, no control characters, ASCII codes, known subject codes, strict
integers that fit the database) hold at the door as in the events."""

from __future__ import annotations

from datetime import date
from typing import Annotated
from uuid import UUID

from pydantic import AfterValidator, BaseModel, Field

from styrkedja_contracts import door_rules
from styrkedja_contracts.events.assessment import AssessmentKind, Criterion
from styrkedja_contracts.events.base import Round, Year
from styrkedja_contracts.identifiers import (
    Gender,
    GroupId,
    OrganiserId,
    SchoolUnitCode,
    StudentId,
    TeacherId,
    Term,
)
from styrkedja_contracts.scales import Scale
from styrkedja_contracts.subjects import KnownSubjectCode
from styrkedja_kit.inputs import (
    BatchItems,
    InputModel,
    RemovalIn,
    Revision,
    SaidText,
    SchoolYearIn,
    UniqueItems,
    item_rules_said,
    says_something,
)
from styrkedja_kit.writes import BatchAnswer


class AssessmentIn(InputModel):
    model_config = item_rules_said(door_rules.ASSESSMENT)

    assessment_id: UUID | None = Field(None, description="Omit for a new assessment; give it to revise one.")
    revision: Revision | None = None
    organiser_id: OrganiserId
    school_unit_code: SchoolUnitCode
    group_id: GroupId
    student_id: StudentId
    teacher_id: TeacherId
    gender: Gender
    year: Year
    subject_code: KnownSubjectCode
    kind: AssessmentKind
    scale: Scale
    value: str = Field(min_length=1, max_length=32)
    # a criterion names one: not blank (`says_something`), else a result below pass named none and met the rule
    unmet_criteria: UniqueItems[Annotated[Criterion, AfterValidator(says_something)]] = Field(default_factory=list, max_length=100,
                                                   description="Each criterion once.")
    school_year: SchoolYearIn
    term: Term
    round: Round
    assessed_on: date


class AssessmentBatchIn(InputModel):
    items: BatchItems[AssessmentIn]


class RetractIn(RemovalIn):
    reason: Annotated[SaidText, Field(max_length=500)] | None = None


class AssessmentOut(BaseModel):
    assessment_id: UUID
    revision: int
    retracted: bool
    status: str = Field(description="`stored` (a new revision) or `unchanged` (the same request again)")


class BatchOut(BatchAnswer[AssessmentOut]):
    pass

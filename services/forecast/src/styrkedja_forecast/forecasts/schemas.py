"""HTTP request and response bodies. Identifier and field types come from the contracts package
(the events' own: a year, a forecast's value) and the bodies from the kit's `InputModel`, so the
same rules (no personal identity numbers in any spelling, no control characters, ASCII codes,
known subject codes, strict integers that fit the database) hold at the door as in the events."""

from __future__ import annotations

from datetime import date
from uuid import UUID

from pydantic import BaseModel, Field

from styrkedja_contracts import door_rules
from styrkedja_contracts.events.base import Year
from styrkedja_contracts.identifiers import (
    Gender,
    GroupId,
    OrganiserId,
    SchoolUnitCode,
    StudentId,
    TeacherId,
    Term,
)
from styrkedja_contracts.scales import Scale, scale_values
from styrkedja_contracts.subjects import KnownSubjectCode
from styrkedja_kit.inputs import BatchItems, InputModel, RemovalIn, Revision, SchoolYearIn, item_rules_said
from styrkedja_kit.writes import BatchAnswer


class ForecastIn(InputModel):
    model_config = item_rules_said(door_rules.FORECAST)

    forecast_id: UUID | None = Field(
        None, description="Optional: the id is derived from organiser + student + subject + school year + term; "
                          "if given it must be that id.")
    revision: Revision | None = None
    organiser_id: OrganiserId
    school_unit_code: SchoolUnitCode
    group_id: GroupId
    student_id: StudentId
    teacher_id: TeacherId
    gender: Gender
    year: Year
    subject_code: KnownSubjectCode
    school_year: SchoolYearIn
    term: Term
    # text at the door, its scale checked by the rule (`rules.check_value`): a value off the scale is 422
    # `value_on_scale`, the code an assessment's value off its scale answers (pydantic's `literal_error` before: one
    # mistake, two codes); the scale's values stay in the document
    value: str = Field(min_length=1, max_length=32, description="A value on the THREE_LEVEL scale.",
                       json_schema_extra={"enum": list(scale_values(Scale.THREE_LEVEL))})


class ForecastBatchIn(InputModel):
    items: BatchItems[ForecastIn]


class WithdrawIn(RemovalIn):
    pass


class ForecastOut(BaseModel):
    forecast_id: UUID
    revision: int
    withdrawn: bool
    late: bool = Field(description="Received after the reporting window's deadline (accepted all the same).")
    window_deadline: date = Field(description="The last on-time day of the reporting window (grace included).")
    status: str = Field(description="`stored` (a new revision) or `unchanged` (the same request again)")


class BatchOut(BatchAnswer[ForecastOut]):
    pass

"""HTTP request and response bodies. Identifier types and enumerations come from the contracts
package, so what is accepted here is exactly what the published event can carry."""

from __future__ import annotations

from datetime import datetime
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field, field_validator
from pydantic_core import PydanticCustomError

from styrkedja_contracts.events.lika import LikaArea, LikaRatingValue, RespondentRole, SchoolForm
from styrkedja_contracts.identifiers import (
    PIN_ERROR,
    OrganiserId,
    SchoolUnitCode,
    contains_personal_identity_number,
)


def _no_identity_number(value: str | None) -> str | None:
    if value and contains_personal_identity_number(value):
        raise PydanticCustomError("no_personal_identity_number", PIN_ERROR)
    return value


class RatingIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    indicator_id: str = Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9._:-]+$")
    area: LikaArea
    rating: LikaRatingValue
    comment: str | None = Field(None, max_length=2000)

    _no_identity_numbers = field_validator("indicator_id", "comment")(_no_identity_number)


class SelfAssessmentPublishedIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    self_assessment_id: UUID | None = Field(
        None, description="Give the tool's own id so that a re-send is recognised; omitted: a new id is made.")
    organiser_id: OrganiserId
    school_unit_code: SchoolUnitCode
    school_form: SchoolForm
    respondent_role: RespondentRole
    catalogue_version: str = Field(min_length=1, max_length=32, pattern=r"^[A-Za-z0-9._:-]+$")
    ratings: list[RatingIn] = Field(min_length=1, max_length=500)

    _no_identity_numbers = field_validator("catalogue_version")(_no_identity_number)


class SelfAssessmentOut(BaseModel):
    self_assessment_id: UUID
    published_at: datetime
    status: str = Field(description="`stored` (newly published) or `unchanged` (the same request again)")

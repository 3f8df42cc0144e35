"""HTTP bodies of self-assessments. Identifier types and enumerations come from the contracts
package, so what is accepted here is exactly what the published event can carry."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated
from uuid import UUID

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field, field_validator
from pydantic_core import PydanticCustomError

from styrkedja_contracts.events.lika import LikaArea, LikaRatingValue, RespondentRole, SchoolForm
from styrkedja_contracts.identifiers import (
    PIN_ERROR,
    OrganiserId,
    SchoolUnitCode,
    contains_personal_identity_number,
)
from styrkedja_kit.inputs import InputModel, uuid_as_text

from ..domain import MAX_COMMENT_LENGTH
from ..domain.ratings import Rule, not_on_scale_message

#: the catalogue's ids as the events carry them; a path parameter of these types (`/{indicator_id}`,
#: `/{activity_id}`, `/catalogue/{version}`) is checked and documented by the same rule as the body's field, so an
#: id that cannot exist is a 422 naming the parameter and its pattern, as a malformed UUID or organiser id is
LIKA_ID_PATTERN = r"^[A-Za-z0-9._:-]+$"
CatalogueVersion = Annotated[str, Field(min_length=1, max_length=32, pattern=LIKA_ID_PATTERN)]
IndicatorId = Annotated[str, Field(min_length=1, max_length=64, pattern=LIKA_ID_PATTERN)]
ActivityId = Annotated[str, Field(min_length=1, max_length=64, pattern=LIKA_ID_PATTERN)]


def _no_identity_number(value: str | None) -> str | None:
    if value and contains_personal_identity_number(value):
        raise PydanticCustomError("no_personal_identity_number", PIN_ERROR)
    return value


def _on_scale(value: str) -> str:
    """The import door's rating is a step of the scale, named as a save names it (the domain's `not_on_scale`, its
    words): the door answered pydantic's `enum`, a save `not_on_scale` — one mistake, two codes a client must know.
    A save leaves it to the domain, which answers it with every other problem of the body."""
    if value not in _STEPS:
        raise PydanticCustomError(Rule.NOT_ON_SCALE.value, "{message}", {"message": not_on_scale_message(value)})
    return value


_STEPS = frozenset(v.value for v in LikaRatingValue)
#: a rating as both doors read it: text of 1-32 characters (else pydantic's string rules, alike at both), and
#: in the document the scale's words
RatingText = Annotated[str, Field(min_length=1, max_length=32,
                                  json_schema_extra={"enum": [v.value for v in LikaRatingValue]})]


class DraftIn(InputModel):
    """A new self-assessment (a draft) of one school unit."""

    model_config = ConfigDict(extra="forbid")

    self_assessment_id: UUID | None = Field(
        None, description="Give your own id so that a re-send is recognised; omitted: a new id is made.")
    organiser_id: OrganiserId
    school_unit_code: SchoolUnitCode
    school_form: SchoolForm
    respondent_role: RespondentRole
    catalogue_version: CatalogueVersion
    assessed_on: date | None = Field(None, description="The day of the assessment, at the latest today in Sweden "
                                     "(422 `not_in_future`); omitted: today in Sweden.")


class RatingSaveIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    indicator_id: str = Field(min_length=1, max_length=64)
    rating: RatingText = Field(description="A step of the scale, or NOT_RELEVANT.")
    comment: str | None = Field(None, max_length=MAX_COMMENT_LENGTH,
                                description="At most 2,000 characters: a longer comment is refused (422), never cut.")


class RatingsIn(BaseModel):
    """Ratings of some indicators, in any order; a later save of an indicator replaces the earlier one."""

    model_config = ConfigDict(extra="forbid")

    ratings: list[RatingSaveIn] = Field(min_length=1, max_length=500)


class FinaliseIn(InputModel):
    """Publish or keep private. The action plan's suggested terms count from `start_term`."""

    model_config = ConfigDict(extra="forbid")

    # the pattern is the document's alone (the service's rule, `_start_term`, names `term_format` where pydantic's would
    # name `string_pattern_mismatch`): documented `maxLength` only, a generated `"0"` was refused unannounced (round 31)
    start_term: str | None = Field(
        None, max_length=16, json_schema_extra={"pattern": "^(HT|VT) [0-9]{4}/[0-9]{2}$"},
        description="e.g. `HT 2026/27`: HT or VT, one space, a school year of two consecutive years (`term_format`, "
                    "`school_year_format`) from 1900/01 to 2198/99 (`date_range`); omitted: the current term.")


class RatingOut(BaseModel):
    indicator_id: str
    area: LikaArea | None
    rating: LikaRatingValue
    comment: str | None


class AreaScoreOut(BaseModel):
    area: str | None
    mean_level: float | None
    percent: float | None
    indicators: int
    rated: int
    not_relevant: int


class SelfAssessmentSummary(BaseModel):
    self_assessment_id: UUID
    organiser_id: str
    school_unit_code: str
    school_form: str
    respondent_role: str
    catalogue_version: str
    status: str = Field(description="DRAFT, PRIVATE or PUBLISHED")
    origin: str = Field(description="`tool` (made here) or `import` (published elsewhere)")
    assessed_on: date | None
    created_at: datetime
    updated_at: datetime
    published_at: datetime | None
    rated: int
    indicators: int | None


class SelfAssessmentOut(SelfAssessmentSummary):
    ratings: list[RatingOut]
    missing: list[str] = Field(description="Indicators of the school form not yet rated")
    scores: list[AreaScoreOut]


# ---- the door for self-assessments published elsewhere (unchanged since v1) --------------------

class RatingIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    indicator_id: IndicatorId
    area: LikaArea
    rating: Annotated[RatingText, AfterValidator(_on_scale)]
    comment: str | None = Field(None, max_length=MAX_COMMENT_LENGTH,
                                description="At most 2,000 characters: a longer comment is refused (422), never cut.")

    _no_identity_numbers = field_validator("indicator_id", "comment")(_no_identity_number)


class SelfAssessmentPublishedIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    # the one spelling of a UUID every other body takes (`uuid_format`): the door is v1's in its fields, not in the
    # loose spellings pydantic read as the same id (a re-send spelled `urn:uuid:…` matched another text than stored)
    self_assessment_id: Annotated[UUID | None, BeforeValidator(uuid_as_text)] = Field(
        None, description="Give the tool's own id so that a re-send is recognised; omitted: a new id is made.")
    organiser_id: OrganiserId
    school_unit_code: SchoolUnitCode
    school_form: SchoolForm
    respondent_role: RespondentRole
    catalogue_version: CatalogueVersion
    ratings: list[RatingIn] = Field(min_length=1, max_length=500)

    _no_identity_numbers = field_validator("catalogue_version")(_no_identity_number)


class PublishedOut(BaseModel):
    self_assessment_id: UUID
    published_at: datetime
    status: str = Field(description="`stored` (newly published) or `unchanged` (the same request again)")

"""LIKA: a published self-assessment (självskattning) of a school's digital maturity."""

from __future__ import annotations

import unicodedata
from datetime import date, datetime
from enum import StrEnum
from typing import ClassVar
from uuid import UUID
from zoneinfo import ZoneInfo

from pydantic import Field, field_validator, model_validator
from pydantic_core import PydanticCustomError

from ..identifiers import Name, OrganiserId, SchoolUnitCode, name_form
from .base import ContractModel, EventData, Timestamp
from .rules import Broken, refuse

__all__ = [
    "SchoolForm",
    "RespondentRole",
    "LikaArea",
    "LikaRatingValue",
    "LikaRating",
    "LikaSelfAssessmentPublishedV1",
    "ActionStatus",
    "LikaActionPlanItem",
    "LikaActionPlanChangedV1",
    "NOT_AFTER_PUBLISHED",
    "TAG_LENGTH_RULE",
    "UNIQUE_INDICATOR_RULE",
    "UNIQUE_TAGS_RULE",
    "published_day",
    "tag_folded",
]


class SchoolForm(StrEnum):
    """Skolform."""

    forskola = "forskola"
    grundskola = "grundskola"
    gymnasieskola = "gymnasieskola"


class RespondentRole(StrEnum):
    """Who rated: rektor, IKT-samordnare, arbetslag, ledningsgrupp."""

    rektor = "rektor"
    ict_coordinator = "ict_coordinator"
    teacher_team = "teacher_team"
    management_team = "management_team"


class LikaArea(StrEnum):
    """The four LIKA areas: Ledning, Infrastruktur, Kompetens, Användning."""

    ledning = "ledning"
    infrastruktur = "infrastruktur"
    kompetens = "kompetens"
    anvandning = "anvandning"


class LikaRatingValue(StrEnum):
    """Status of one indicator."""

    NOT_PLANNED = "NOT_PLANNED"
    PLANNED = "PLANNED"
    STARTED = "STARTED"
    ALMOST_THERE = "ALMOST_THERE"
    ACHIEVED = "ACHIEVED"
    NOT_RELEVANT = "NOT_RELEVANT"


class LikaRating(ContractModel):
    """One rated indicator of the catalogue."""

    indicator_id: str = Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9._:-]+$")
    area: LikaArea
    rating: LikaRatingValue
    comment: str | None = Field(default=None, max_length=2000)


#: a school's days are Swedish time's (the default calendar's zone), not UTC's
SCHOOL_TIME = ZoneInfo("Europe/Stockholm")
#: a self-assessment is made on or before the day it is published: the LIKA service dates a draft at the latest the
#: day it is saved (`not_in_future`) and publishes no draft dated after its day of publishing, so only another
#: producer sends it — and reporting counted it in the school year of a day that had not come when it was published
NOT_AFTER_PUBLISHED = "not_after_published"


def published_day(published_at: datetime) -> date:
    """The day in Sweden of a moment of publishing (the day `assessed_on` stands for where it is absent)."""
    return published_at.astimezone(SCHOOL_TIME).date()


class LikaSelfAssessmentPublishedV1(EventData):
    """A self-assessment was published (drafts and private assessments are never published)."""

    event_type: ClassVar[str] = "se.styrkedja.lika.self_assessment_published.v1"

    self_assessment_id: UUID
    organiser_id: OrganiserId
    school_unit_code: SchoolUnitCode
    school_form: SchoolForm
    respondent_role: RespondentRole
    catalogue_version: str = Field(min_length=1, max_length=32, pattern=r"^[A-Za-z0-9._:-]+$")
    ratings: tuple[LikaRating, ...] = Field(min_length=1, max_length=500)
    published_at: Timestamp
    # the school year an assessment is ABOUT is the one of the day it was made, not of the day it was published
    # (assessed 30 June, published 1 July: the year ending that June); absent in events made before it was sent
    assessed_on: date | None = Field(
        default=None, description="The day the self-assessment was made (in Sweden), which names the school year it "
        "is about (1 July – 30 June). Absent: the day of `published_at` in Sweden.")

    @field_validator("ratings")
    @classmethod
    def _unique_indicators(cls, ratings: tuple[LikaRating, ...]) -> tuple[LikaRating, ...]:
        seen: set[str] = set()
        for r in ratings:
            if r.indicator_id in seen:
                raise PydanticCustomError(UNIQUE_INDICATOR_RULE, "indicator_id {indicator_id} is rated more than once "
                                          "({rule})", {"indicator_id": r.indicator_id, "rule": UNIQUE_INDICATOR_RULE})
            seen.add(r.indicator_id)
        return ratings

    @model_validator(mode="after")
    def _made_by_publishing(self) -> LikaSelfAssessmentPublishedV1:
        # a model's rule has no field in its error's location: the words name it
        if self.assessed_on is not None and self.assessed_on > published_day(self.published_at):
            refuse([Broken("assessed_on", NOT_AFTER_PUBLISHED, "a self-assessment is made on or before the day it is "
                           "published (published_at's day in Sweden)")])
        return self


class ActionStatus(StrEnum):
    """Status of one activity of an action plan (handlingsplan)."""

    planned = "planned"
    in_progress = "in_progress"
    done = "done"
    dropped = "dropped"


#: the longest tag of an action plan's activity (the LIKA service's door says the same)
MAX_TAG_LENGTH = 40
#: the tag rules' names, the LIKA door's and the event's
TAG_LENGTH_RULE = "tag_length"
UNIQUE_TAGS_RULE = "unique_tags"
#: each indicator rated once: the LIKA door's rule name (its import's and its save's) and the event's
UNIQUE_INDICATOR_RULE = "unique_indicator"


def tag_folded(value: str) -> str:
    """A tag (or owner) as the rule of unique tags and a filter compare it: its one form (`name_form`: NFC, no
    surrounding or doubled spaces) in any case — Unicode's canonical caseless match, NFC(casefold(NFC(name))): "Nätverk"
    is "nätverk", "IT" is "it". The LIKA service's door, its filters and reporting's compilation read it so."""
    return unicodedata.normalize("NFC", name_form(value).casefold())


class LikaActionPlanItem(ContractModel):
    """One activity of an action plan, as the school unit has edited it.

    The free-text note stays in the LIKA service: only what the organiser's compilation filters on
    leaves it."""

    activity_id: str = Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9._:-]+$")
    indicator_id: str = Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9._:-]+$")
    area: LikaArea
    position: int = Field(ge=1, description="Place in the plan's order (1 = first).")
    title: str = Field(min_length=1, max_length=300, description="The catalogue's title of the activity.")
    status: ActionStatus
    priority: int = Field(ge=1, le=3, description="1 = most urgent.")
    owner: Name | None = Field(default=None, max_length=100, description="Role or team responsible (NFC).")
    due_date: date | None = None
    tags: tuple[Name, ...] = Field(default=(), max_length=20, description="In Unicode NFC.")

    @field_validator("tags")
    @classmethod
    def _tags_as_lika_keeps_them(cls, tags: tuple[str, ...]) -> tuple[str, ...]:
        """What the LIKA service's own door holds a tag to (its `MAX_TAG_LENGTH`, `unique_tags`): an event of another
        producer took a tag of 100,000 characters (every to-do export's cell) and one tag twice ("natverk, natverk"),
        and (round 29r) one tag in two cases ("IT", "it"), which the door and reporting's compilation read as one."""
        for tag in tags:
            if len(tag) > MAX_TAG_LENGTH:
                raise PydanticCustomError(TAG_LENGTH_RULE, "a tag has 1–{most} characters ({rule})",
                                          {"most": MAX_TAG_LENGTH, "rule": TAG_LENGTH_RULE})
        if len({tag_folded(tag) for tag in tags}) != len(tags):
            raise PydanticCustomError(UNIQUE_TAGS_RULE, "a tag is given more than once, in any case ({rule})",
                                      {"rule": UNIQUE_TAGS_RULE})
        return tags


class LikaActionPlanChangedV1(EventData):
    """The whole current action plan of a published self-assessment: sent when the plan is generated
    (revision 1) and after every edit. Only the newest revision of a self-assessment's plan counts."""

    event_type: ClassVar[str] = "se.styrkedja.lika.action_plan_changed.v1"

    self_assessment_id: UUID
    organiser_id: OrganiserId
    school_unit_code: SchoolUnitCode
    school_form: SchoolForm
    catalogue_version: str = Field(min_length=1, max_length=32, pattern=r"^[A-Za-z0-9._:-]+$")
    revision: int = Field(ge=1, description="Plan revision; only the newest counts.")
    items: tuple[LikaActionPlanItem, ...] = Field(max_length=1000)
    changed_at: Timestamp

    @field_validator("items")
    @classmethod
    def _unique_activities(cls, items: tuple[LikaActionPlanItem, ...]) -> tuple[LikaActionPlanItem, ...]:
        seen: set[str] = set()
        for item in items:
            if item.activity_id in seen:
                raise ValueError(f"activity_id {item.activity_id!r} appears more than once")
            seen.add(item.activity_id)
        return items

"""The parts of SS 12000:2020 (API v2) the importer reads, written from the public specification.

Unknown fields are ignored (servers differ, and a `civicNo` anywhere is simply never kept).
Timestamps are kept as text here: `aware()` gives a naive one an explicit zone.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Any
from zoneinfo import ZoneInfo

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, field_validator, model_validator

from styrkedja_contracts.identifiers import nfc

#: a name as the source wrote it, in Unicode NFC: "Å" typed as one character or as "A" and a combining ring is
#: one name (a server on a Mac, or a name pasted from a PDF, sends the second), so a re-import spelled the other
#: way changes nothing
SourceName = Annotated[str, BeforeValidator(nfc)]


class Model(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True, populate_by_name=True)

    @model_validator(mode="before")
    @classmethod
    def _null_is_absent(cls, value: Any) -> Any:
        # many servers' serialisers write an optional field they do not have as null rather than leaving it out
        # (`"groupMemberships": null`, `"cancelled": null`): the same as absent, its default — a required one
        # stays missing, and refuses the page as before
        if isinstance(value, dict) and any(v is None for v in value.values()):
            return {k: v for k, v in value.items() if v is not None}
        return value


class Ref(Model):
    id: str = Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9._:-]+$")


class Meta(Model):
    created: str | None = None
    modified: str | None = None

    @field_validator("created", "modified")
    @classmethod
    def _a_timestamp(cls, value: str | None) -> str | None:
        # checked as the page is read, so a bad one refuses the page instead of failing later
        if value is not None:
            try:
                timestamp(value)
            except ValueError:
                raise ValueError("not an RFC 3339 timestamp") from None
        return value


class Organisation(Model):
    id: str = Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9._:-]+$")
    display_name: SourceName = Field(alias="displayName", min_length=1, max_length=200)
    organisation_type: str = Field(alias="organisationType")
    organisation_number: str | None = Field(None, alias="organisationNumber")
    municipality_code: str | None = Field(None, alias="municipalityCode")
    school_unit_code: str | None = Field(None, alias="schoolUnitCode")
    parent: Ref | None = Field(None, alias="parentOrganisation")
    start_date: date | None = Field(None, alias="startDate")
    end_date: date | None = Field(None, alias="endDate")
    meta: Meta | None = None


class Membership(Model):
    person: Ref
    start_date: date | None = Field(None, alias="startDate")
    end_date: date | None = Field(None, alias="endDate")


class Group(Model):
    id: str = Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9._:-]+$")
    display_name: SourceName = Field(alias="displayName", min_length=1, max_length=200)
    group_type: str | None = Field(None, alias="groupType")
    organisation: Ref
    memberships: list[Membership] = Field(default_factory=list, alias="groupMemberships")
    start_date: date | None = Field(None, alias="startDate")
    end_date: date | None = Field(None, alias="endDate")
    meta: Meta | None = None


class Duty(Model):
    id: str = Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9._:-]+$")
    person: Ref
    duty_at: Ref = Field(alias="dutyAt")
    duty_role: SourceName = Field(alias="dutyRole", min_length=1, max_length=64)
    start_date: date | None = Field(None, alias="startDate")
    end_date: date | None = Field(None, alias="endDate")
    meta: Meta | None = None


class TeacherAssignment(Model):
    duty: Ref
    start_date: date | None = Field(None, alias="startDate")
    end_date: date | None = Field(None, alias="endDate")


class Activity(Model):
    id: str = Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9._:-]+$")
    display_name: str | None = Field(None, alias="displayName")
    groups: list[Ref] = Field(default_factory=list)
    teachers: list[TeacherAssignment] = Field(default_factory=list)
    syllabus: Ref | None = None
    organisation: Ref | None = None
    start_date: date | None = Field(None, alias="startDate")
    end_date: date | None = Field(None, alias="endDate")
    meta: Meta | None = None


class Syllabus(Model):
    id: str = Field(min_length=1, max_length=64)
    subject_code: str | None = Field(None, alias="subjectCode")
    start_school_year: int | None = Field(None, alias="startSchoolYear")
    end_school_year: int | None = Field(None, alias="endSchoolYear")


class Enrolment(Model):
    """A student's enrolment at a school unit: where SS 12000 keeps the year (årskurs)."""

    enroled_at: Ref = Field(alias="enroledAt")
    school_year: int | None = Field(None, alias="schoolYear")
    start_date: date | None = Field(None, alias="startDate")
    end_date: date | None = Field(None, alias="endDate")
    cancelled: bool = False


class Person(Model):
    """Only the id and the enrolments: names, civic numbers (civicNo) and every other field of a
    person are dropped as the page is read."""

    id: str = Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9._:-]+$")
    enrolments: list[Enrolment] = Field(default_factory=list)


ENTITIES: dict[str, type[Model]] = {
    "organisations": Organisation, "persons": Person, "groups": Group, "duties": Duty, "syllabuses": Syllabus,
    "activities": Activity,
}
"""What is read, in the order it is read (activities refer to groups, duties and syllabuses)."""

OPTIONAL = frozenset({"persons"})
"""A source may hold these back (403/404, or no file): only the groups' years are then unknown."""


def timestamp(value: str) -> datetime:
    """An RFC 3339 date-time as servers write it: RFC 3339 (§5.6) lets "T" and "Z" be lower case, which
    `fromisoformat` refuses — upper-cased here (a timestamp holds no other letter); any fraction of a second
    (.NET writes seven digits) is cut to microseconds. Raises ValueError."""
    return datetime.fromisoformat(value.upper().replace("Z", "+00:00"))


def aware(value: str | None, naive_zone: ZoneInfo) -> datetime | None:
    """An SS 12000 timestamp; one without a zone is read in `naive_zone` (said, not guessed)."""
    if value is None:
        return None
    parsed = timestamp(value)
    return parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=naive_zone)

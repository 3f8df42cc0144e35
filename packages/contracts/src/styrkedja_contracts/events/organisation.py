"""Organisation directory: huvudman → verksamhetsområde → skolenhet → grupp (SS 12000-style)."""

from __future__ import annotations

from datetime import date
from enum import StrEnum
from typing import ClassVar

from pydantic import Field, model_validator

from ..identifiers import GroupId, Name, OrganiserId, SchoolUnitCode, StudentId, SubjectCode, TeacherId
from .base import EventData, Timestamp, Year

__all__ = [
    "UnitType",
    "RemovedEntity",
    "OrganisationUnitUpsertedV1",
    "GroupMembershipUpsertedV1",
    "TeachingAssignmentUpsertedV1",
    "DutyUpsertedV1",
    "OrganisationEntityRemovedV1",
]

_UNIT_ID = r"^[A-Za-z0-9._:-]{1,64}$"


class UnitType(StrEnum):
    """organiser = huvudman, area = verksamhetsområde, school_unit = skolenhet, group = klass/grupp."""

    organiser = "organiser"
    area = "area"
    school_unit = "school_unit"
    group = "group"


class OrganisationUnitUpsertedV1(EventData):
    """A unit of the organisation tree was created or changed.

    Rules: an organiser has no parent; an area's parent is the organiser; a
    school unit's parent is an area or the organiser; a group's parent is its
    school unit. ``school_unit_code`` is required for school units and groups
    (and not allowed otherwise); ``year`` only for groups; ``roster_size``
    only for groups and school units.
    """

    event_type: ClassVar[str] = "se.styrkedja.organisation.unit_upserted.v1"

    unit_type: UnitType
    unit_id: str = Field(pattern=_UNIT_ID)
    organiser_id: OrganiserId
    parent_id: str | None = Field(default=None, pattern=_UNIT_ID)
    name: Name = Field(min_length=1, max_length=200, description="In Unicode NFC (normalised when read).")
    school_unit_code: SchoolUnitCode | None = None
    year: Year | None = None
    roster_size: int | None = Field(default=None, ge=0)
    updated_at: Timestamp

    @model_validator(mode="after")
    def _check_tree(self) -> OrganisationUnitUpsertedV1:
        t = self.unit_type
        if t is UnitType.organiser and self.parent_id is not None:
            raise ValueError("parent_id must be empty for an organiser")
        if t is not UnitType.organiser and self.parent_id is None:
            raise ValueError(f"parent_id is required for unit_type {t.value}")
        has_code = t in (UnitType.school_unit, UnitType.group)
        if has_code and self.school_unit_code is None:
            raise ValueError(f"school_unit_code is required for unit_type {t.value}")
        if not has_code and self.school_unit_code is not None:
            raise ValueError(f"school_unit_code is not allowed for unit_type {t.value}")
        if self.year is not None and t is not UnitType.group:
            raise ValueError("year is only allowed for unit_type group")
        if self.roster_size is not None and not has_code:
            raise ValueError("roster_size is only allowed for unit_type school_unit or group")
        return self


class RemovedEntity(StrEnum):
    """What an ``OrganisationEntityRemovedV1`` removes."""

    unit = "unit"
    membership = "membership"
    teaching_assignment = "teaching_assignment"
    duty = "duty"


class GroupMembershipUpsertedV1(EventData):
    """A student (elev) belongs to a group from ``start_date`` to ``end_date`` (open when empty).

    The group is named by ``school_unit_code`` and ``group_id`` together: group ids are
    scoped by school unit (two schools may both have a "7A"). ``student_id`` is the
    pseudonymous id (the SS 12000 person UUID), never a civic number.
    """

    event_type: ClassVar[str] = "se.styrkedja.organisation.membership_upserted.v1"

    membership_id: str = Field(pattern=_UNIT_ID)
    organiser_id: OrganiserId
    school_unit_code: SchoolUnitCode
    group_id: GroupId
    student_id: StudentId
    start_date: date
    end_date: date | None = None
    updated_at: Timestamp

    @model_validator(mode="after")
    def _check_dates(self) -> GroupMembershipUpsertedV1:
        _check_period(self.start_date, self.end_date)
        return self


def _check_period(start: date | None, end: date | None) -> None:
    """A period of a directory entity ends on or after its start (equal: one day; either end may be open): one rule
    for memberships, teaching assignments and duties. The latter two took an end before the start (round 26): a
    period of no day, stored and published, never current, as if the source had said nothing."""
    if start is not None and end is not None and end < start:
        raise ValueError("end_date must not be before start_date")


class TeachingAssignmentUpsertedV1(EventData):
    """A teacher (lärare) teaches a group in a subject (from SS 12000 activities and duties)."""

    event_type: ClassVar[str] = "se.styrkedja.organisation.teaching_assigned.v1"

    assignment_id: str = Field(pattern=_UNIT_ID)
    organiser_id: OrganiserId
    school_unit_code: SchoolUnitCode
    group_id: GroupId
    teacher_id: TeacherId
    subject_code: SubjectCode | None = None
    start_date: date | None = None
    end_date: date | None = None
    updated_at: Timestamp

    @model_validator(mode="after")
    def _check_dates(self) -> TeachingAssignmentUpsertedV1:
        _check_period(self.start_date, self.end_date)
        return self


class DutyUpsertedV1(EventData):
    """A person's duty (tjänstgöring) at a school unit, e.g. Lärare or Rektor (SS 12000 dutyRole)."""

    event_type: ClassVar[str] = "se.styrkedja.organisation.duty_upserted.v1"

    duty_id: str = Field(pattern=_UNIT_ID)
    organiser_id: OrganiserId
    school_unit_code: SchoolUnitCode
    person_id: TeacherId
    duty_role: Name = Field(min_length=1, max_length=64, description="In Unicode NFC (normalised when read).")
    start_date: date | None = None
    end_date: date | None = None
    updated_at: Timestamp

    @model_validator(mode="after")
    def _check_dates(self) -> DutyUpsertedV1:
        _check_period(self.start_date, self.end_date)
        return self


class OrganisationEntityRemovedV1(EventData):
    """A unit, membership, teaching assignment or duty was removed from the directory.

    ``entity_id`` is the removed entity's id (``unit_id``, ``membership_id``, ...); a
    removed group is named with its ``school_unit_code`` (group ids are scoped by
    school unit). An upsert with a later ``updated_at`` brings the entity back.
    """

    event_type: ClassVar[str] = "se.styrkedja.organisation.entity_removed.v1"

    entity: RemovedEntity
    entity_id: str = Field(pattern=_UNIT_ID)
    organiser_id: OrganiserId
    unit_type: UnitType | None = None
    school_unit_code: SchoolUnitCode | None = None
    removed_at: Timestamp

    @model_validator(mode="after")
    def _check_unit(self) -> OrganisationEntityRemovedV1:
        if self.entity is RemovedEntity.unit and self.unit_type is None:
            raise ValueError("unit_type is required when a unit is removed")
        if self.entity is not RemovedEntity.unit and self.unit_type is not None:
            raise ValueError("unit_type is only allowed when a unit is removed")
        if self.unit_type in (UnitType.group, UnitType.school_unit) and self.school_unit_code is None:
            raise ValueError(f"school_unit_code is required when a {self.unit_type.value} is removed")
        return self

"""Organisation directory: huvudman → verksamhetsområde → skolenhet → grupp (SS 12000-style)."""

from __future__ import annotations

from datetime import date
from enum import StrEnum
from typing import ClassVar

from pydantic import Field, model_validator

from ..identifiers import (
    SOURCE_ID_PATTERN,
    GroupId,
    Name,
    OrganiserId,
    SchoolUnitCode,
    StudentId,
    SubjectCode,
    TeacherId,
)
from .base import EventData, Timestamp, Year
from .rules import Broken, refuse

__all__ = [
    "UnitType",
    "RemovedEntity",
    "OrganisationUnitUpsertedV1",
    "GroupMembershipUpsertedV1",
    "TeachingAssignmentUpsertedV1",
    "DutyUpsertedV1",
    "OrganisationEntityRemovedV1",
    "DIRECTORY_RULES",
    "unit_broken",
    "period_broken",
    "removal_broken",
]

_UNIT_ID = SOURCE_ID_PATTERN


class UnitType(StrEnum):
    """organiser = huvudman, area = verksamhetsområde, school_unit = skolenhet, group = klass/grupp."""

    organiser = "organiser"
    area = "area"
    school_unit = "school_unit"
    group = "group"


#: the directory's rules across an item's fields (round 32: each was pydantic's generic `value_error`, which no
#: document could name, so a schema-valid `area` without `parent_id` met a 422 its door's document never stated)
ORGANISER_WITHOUT_PARENT = "organiser_without_parent"
PARENT_REQUIRED = "parent_required"
SCHOOL_UNIT_CODE_REQUIRED = "school_unit_code_required"
SCHOOL_UNIT_CODE_NOT_ALLOWED = "school_unit_code_not_allowed"
YEAR_ONLY_FOR_GROUP = "year_only_for_group"
ROSTER_SIZE_ONLY_FOR_SCHOOL_UNITS = "roster_size_only_for_school_units"
END_NOT_BEFORE_START = "end_not_before_start"
UNIT_TYPE_REQUIRED = "unit_type_required"
UNIT_TYPE_ONLY_FOR_UNIT = "unit_type_only_for_unit"
#: every rule above: what `door_rules.HELD` says the directory's events hold, and their documents name
DIRECTORY_RULES = (ORGANISER_WITHOUT_PARENT, PARENT_REQUIRED, SCHOOL_UNIT_CODE_REQUIRED, SCHOOL_UNIT_CODE_NOT_ALLOWED,
                   YEAR_ONLY_FOR_GROUP, ROSTER_SIZE_ONLY_FOR_SCHOOL_UNITS, END_NOT_BEFORE_START, UNIT_TYPE_REQUIRED,
                   UNIT_TYPE_ONLY_FOR_UNIT)


def unit_broken(unit_type: UnitType, parent_id: str | None, school_unit_code: str | None, year: int | None,
                roster_size: int | None) -> list[Broken]:
    """The tree's rules of one unit (`OrganisationUnitUpsertedV1`), each naming the field to mend: the event's model
    refuses the first: a dead letter, and reporting's directory door's 422 at `items.N.data.<field>` (`Broken.field`,
    carried in the error's context). The words begin with no field name: the door and the SS 12000 importer name the
    field themselves."""
    t = unit_type
    found: list[Broken] = []
    if t is UnitType.organiser and parent_id is not None:
        found.append(Broken("parent_id", ORGANISER_WITHOUT_PARENT, "must be empty for an organiser"))
    if t is not UnitType.organiser and parent_id is None:
        found.append(Broken("parent_id", PARENT_REQUIRED, f"is required for unit_type {t.value}"))
    has_code = t in (UnitType.school_unit, UnitType.group)
    if has_code and school_unit_code is None:
        found.append(Broken("school_unit_code", SCHOOL_UNIT_CODE_REQUIRED, f"is required for unit_type {t.value}"))
    if not has_code and school_unit_code is not None:
        found.append(Broken("school_unit_code", SCHOOL_UNIT_CODE_NOT_ALLOWED,
                            f"is not allowed for unit_type {t.value} (only a school unit or a group has one)"))
    if year is not None and t is not UnitType.group:
        found.append(Broken("year", YEAR_ONLY_FOR_GROUP, "is only allowed for unit_type group"))
    if roster_size is not None and not has_code:
        found.append(Broken("roster_size", ROSTER_SIZE_ONLY_FOR_SCHOOL_UNITS,
                            "is only allowed for unit_type school_unit or group"))
    return found


class OrganisationUnitUpsertedV1(EventData):
    """A unit of the organisation tree was created or changed.

    Rules: an organiser has no parent; an area's parent is the organiser; a
    school unit's parent is an area or the organiser; a group's parent is its
    school unit. ``school_unit_code`` is required for school units and groups
    (and not allowed otherwise); ``year`` only for groups; ``roster_size``
    only for groups and school units. Each broken is refused naming the field
    and its rule: `organiser_without_parent` and `parent_required`
    (``parent_id``), `school_unit_code_required` and
    `school_unit_code_not_allowed` (``school_unit_code``),
    `year_only_for_group` (``year``), `roster_size_only_for_school_units`
    (``roster_size``).
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
        refuse(unit_broken(self.unit_type, self.parent_id, self.school_unit_code, self.year, self.roster_size))
        return self


class RemovedEntity(StrEnum):
    """What an ``OrganisationEntityRemovedV1`` removes."""

    unit = "unit"
    membership = "membership"
    teaching_assignment = "teaching_assignment"
    duty = "duty"


class GroupMembershipUpsertedV1(EventData):
    """A student (elev) belongs to a group from ``start_date`` to ``end_date`` (open when empty; an
    ``end_date`` before ``start_date`` is refused by the rule `end_not_before_start`).

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
        refuse(period_broken(self.start_date, self.end_date))
        return self


def period_broken(start: date | None, end: date | None) -> list[Broken]:
    """A period of a directory entity ends on or after its start (equal: one day; either end may be open): one rule
    for memberships, teaching assignments and duties. The latter two took an end before the start (round 26): a
    period of no day, stored and published, never current, as if the source had said nothing."""
    if start is not None and end is not None and end < start:
        return [Broken("end_date", END_NOT_BEFORE_START, "must not be before start_date")]
    return []


class TeachingAssignmentUpsertedV1(EventData):
    """A teacher (lärare) teaches a group in a subject (from SS 12000 activities and duties).

    An ``end_date`` before ``start_date`` is refused by the rule `end_not_before_start`.
    """

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
        refuse(period_broken(self.start_date, self.end_date))
        return self


class DutyUpsertedV1(EventData):
    """A person's duty (tjänstgöring) at a school unit, e.g. Lärare or Rektor (SS 12000 dutyRole).

    An ``end_date`` before ``start_date`` is refused by the rule `end_not_before_start`.
    """

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
        refuse(period_broken(self.start_date, self.end_date))
        return self


class OrganisationEntityRemovedV1(EventData):
    """A unit, membership, teaching assignment or duty was removed from the directory.

    ``entity_id`` is the removed entity's id (``unit_id``, ``membership_id``, ...); a
    removed group is named with its ``school_unit_code`` (group ids are scoped by
    school unit). An upsert with a later ``updated_at`` brings the entity back.
    ``unit_type`` is given exactly when a unit is removed (rules `unit_type_required`
    and `unit_type_only_for_unit`), and a removed group or school unit names its
    ``school_unit_code`` (rule `school_unit_code_required`).
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
        refuse(removal_broken(self.entity, self.unit_type, self.school_unit_code))
        return self


def removal_broken(entity: RemovedEntity, unit_type: UnitType | None, school_unit_code: str | None) -> list[Broken]:
    """The rules of one removal (`OrganisationEntityRemovedV1`) across its fields, each naming the field to mend."""
    found: list[Broken] = []
    if entity is RemovedEntity.unit and unit_type is None:
        found.append(Broken("unit_type", UNIT_TYPE_REQUIRED, "is required when a unit is removed"))
    if entity is not RemovedEntity.unit and unit_type is not None:
        found.append(Broken("unit_type", UNIT_TYPE_ONLY_FOR_UNIT, "is only allowed when a unit is removed"))
    if unit_type is not None and unit_type in (UnitType.group, UnitType.school_unit) and school_unit_code is None:
        found.append(Broken("school_unit_code", SCHOOL_UNIT_CODE_REQUIRED, f"is required when a {unit_type.value} is "
                            "removed (a group's id is its school unit's)"))
    return found

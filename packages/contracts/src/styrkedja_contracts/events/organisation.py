"""Organisation directory: huvudman → verksamhetsområde → skolenhet → grupp (SS 12000-style)."""

from __future__ import annotations

from enum import StrEnum
from typing import ClassVar

from pydantic import Field, model_validator

from ..identifiers import OrganiserId, SchoolUnitCode
from .base import EventData, Timestamp, Year

__all__ = ["UnitType", "OrganisationUnitUpsertedV1"]

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
    name: str = Field(min_length=1, max_length=200)
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

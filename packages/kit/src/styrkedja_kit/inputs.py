"""Request bodies and parameters: the same rules as the events, at the HTTP door.

`InputModel` is the base of every request body: unknown fields are refused, and every string
(at any depth) obeys the contracts' text rules (no control characters, no personnummer in any
spelling), every integer fits a database integer. Integer and boolean fields use the strict
types below: `"1"` is not a number and `true` is not an integer.

Query and path parameters take the contracts' types directly, e.g.

    async def units(school_unit_code: SchoolUnitCodeParam, q: SafeTextParam | None = None): ...

and a bad one is a 422 problem naming the parameter and the rule.
"""

from __future__ import annotations

from datetime import date, datetime
from enum import Enum
from typing import Annotated, Any, ClassVar
from uuid import UUID

import annotated_types
from pydantic import BaseModel, ConfigDict, Field, Strict, ValidationInfo, field_validator
from pydantic.fields import FieldInfo

from styrkedja_contracts.events.base import MAX_INT4, enforce_value_rules
from styrkedja_contracts.identifiers import (
    GroupId,
    OrganiserId,
    SafeText,
    SchoolUnitCode,
    SchoolYear,
    StudentId,
    TeacherId,
    _reject_pin,  # the identifier types' text check: a field of one is checked by its type
    check_text,
)
from styrkedja_contracts.subjects import KnownSubjectCode

__all__ = ["InputModel", "StrictInt", "StrictBool", "Revision", "RemovalRevision", "MAX_INT4",
           "SchoolUnitCodeParam", "OrganiserIdParam", "GroupIdParam", "StudentIdParam", "TeacherIdParam",
           "SubjectCodeParam", "SchoolYearParam", "SafeTextParam"]

StrictInt = Annotated[int, Strict()]
StrictBool = Annotated[bool, Strict()]
Revision = Annotated[int, Strict(), Field(ge=1, le=MAX_INT4, description="Omit to take the next revision number.")]
RemovalRevision = Annotated[int, Strict(), Field(ge=2, le=MAX_INT4,
                                                 description="Omit to take the next revision number.")]

# Parameter types (query and path): the contracts' identifier types under names that say so.
SchoolUnitCodeParam = SchoolUnitCode
OrganiserIdParam = OrganiserId
GroupIdParam = GroupId
StudentIdParam = StudentId
TeacherIdParam = TeacherId
SubjectCodeParam = KnownSubjectCode
SchoolYearParam = SchoolYear
SafeTextParam = Annotated[SafeText, Field(max_length=500)]


def _rules_held_by_type(field: FieldInfo) -> bool:
    """Whether a field's own type already applies the value rules, so that they are applied once,
    not again by `InputModel`: text that its type checks (`SafeText`, the identifier types), enum
    members, dates, times, UUIDs, booleans, and integers bounded within a database integer."""
    annotation = field.annotation
    metadata = [getattr(m, "func", m) for m in field.metadata]
    if annotation is str:
        return any(m is check_text or m is _reject_pin for m in metadata)
    if annotation is int:
        low = [m.ge for m in metadata if isinstance(m, annotated_types.Ge) and isinstance(m.ge, int)]
        high = [m.le for m in metadata if isinstance(m, annotated_types.Le) and isinstance(m.le, int)]
        return bool(low and high) and min(low) >= -MAX_INT4 - 1 and max(high) <= MAX_INT4
    return annotation in (bool, date, datetime, UUID) or (isinstance(annotation, type) and issubclass(annotation, Enum))


class InputModel(BaseModel):
    """Base of every request body."""

    model_config = ConfigDict(extra="forbid")
    #: fields whose types apply the value rules themselves (`_rules_held_by_type`)
    __rules_held_by_type__: ClassVar[frozenset[str]] = frozenset()

    @classmethod
    def __pydantic_init_subclass__(cls, **kwargs: Any) -> None:
        super().__pydantic_init_subclass__(**kwargs)
        cls.__rules_held_by_type__ = frozenset(
            name for name, field in cls.model_fields.items() if _rules_held_by_type(field))

    @field_validator("*", mode="after")
    @classmethod
    def _value_rules(cls, value: Any, info: ValidationInfo) -> Any:
        if info.field_name in cls.__rules_held_by_type__:
            return value
        # A nested request body (the items of a batch) obeyed these rules by its own validators when
        # it was made: checked once, not walked again string by string for the enclosing body.
        if isinstance(value, InputModel) or (
                isinstance(value, list) and value and all(isinstance(v, InputModel) for v in value)):
            return value
        return enforce_value_rules(value)

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

from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, Strict, field_validator

from styrkedja_contracts.events.base import MAX_INT4, enforce_value_rules
from styrkedja_contracts.identifiers import (
    GroupId,
    OrganiserId,
    SafeText,
    SchoolUnitCode,
    SchoolYear,
    StudentId,
    TeacherId,
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


class InputModel(BaseModel):
    """Base of every request body."""

    model_config = ConfigDict(extra="forbid")

    @field_validator("*", mode="after")
    @classmethod
    def _value_rules(cls, value: Any) -> Any:
        # A nested request body (the items of a batch) obeyed these rules by its own validators when
        # it was made: checked once, not walked again string by string for the enclosing body.
        if isinstance(value, InputModel) or (
                isinstance(value, list) and value and all(isinstance(v, InputModel) for v in value)):
            return value
        return enforce_value_rules(value)

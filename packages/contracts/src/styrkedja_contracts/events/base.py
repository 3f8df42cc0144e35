"""Base class for every event's ``data`` model.

All event data models are frozen, forbid unknown fields, name their
CloudEvents ``type`` in the ``event_type`` ClassVar and carry the
``organiser_id`` (huvudman) that the message is keyed by. Every string in an
event – at any depth – is checked for a personnummer/samordningsnummer.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from enum import Enum
from typing import Annotated, Any, ClassVar

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, Strict, field_validator
from pydantic_core import PydanticCustomError

from ..identifiers import check_text

_TYPE_RE = re.compile(r"^se\.styrkedja\.[a-z][a-z0-9_]*\.[a-z][a-z0-9_]*\.v[0-9]+$")

__all__ = ["ContractModel", "EventData", "iter_strings", "Timestamp", "Revision", "Year", "Round", "MAX_INT4",
           "Int4", "StrictBool", "enforce_value_rules"]

Timestamp = AwareDatetime
"""A timezone-aware timestamp (naive datetimes are rejected)."""

#: The largest value of a PostgreSQL ``integer`` column: every stored integer fits it.
MAX_INT4 = 2**31 - 1


def _fits_int4(value: int) -> None:
    # Not a JSON Schema `maximum`: that would narrow the published schemas. Same rule name as
    # pydantic's own bound, so the HTTP inputs (which do carry `maximum`) say the same.
    if value > MAX_INT4:
        raise PydanticCustomError("less_than_equal", "Input should be less than or equal to {le} "
                                  "(a database integer)", {"le": MAX_INT4})
    if value < -MAX_INT4 - 1:
        raise PydanticCustomError("greater_than_equal", "Input should be greater than or equal to {ge} "
                                  "(a database integer)", {"ge": -MAX_INT4 - 1})


Int4 = Annotated[int, Strict()]
"""A strict integer (``"1"`` and ``true`` are not integers); every integer of an event must fit a
PostgreSQL ``integer`` (checked for every field by ``ContractModel``)."""
StrictBool = Annotated[bool, Strict()]
"""A strict boolean (``1`` and ``"true"`` are not booleans)."""

Revision = Annotated[int, Strict(), Field(ge=1, description="Revision number; only the newest revision counts.")]
Year = Annotated[int, Strict(), Field(ge=0, le=9, description="Årskurs 0–9 (0 = förskoleklass).")]
Round = Annotated[int, Strict(), Field(ge=1, le=4, description="Publication round 1–4 within the school year.")]


def iter_strings(value: Any, path: str = "") -> Iterator[tuple[str, str]]:
    """Yield ``(path, string)`` for every string in a JSON-like value or model (dict keys included).

    Iterative (no recursion), so deeply nested input cannot exhaust the stack.
    """
    stack: list[tuple[Any, str]] = [(value, path)]
    while stack:
        item, where = stack.pop()
        if isinstance(item, str):
            yield where, item
        elif isinstance(item, Enum):
            stack.append((item.value, where))
        elif isinstance(item, BaseModel):
            for name in reversed(type(item).model_fields):
                stack.append((getattr(item, name), f"{where}.{name}" if where else name))
        elif isinstance(item, dict):
            for k, v in reversed(list(item.items())):
                key_path = f"{where}.{k}" if where else str(k)
                stack.append((v, key_path))
                if isinstance(k, str):
                    stack.append((k, key_path))
        elif isinstance(item, (list, tuple)):
            for i in range(len(item) - 1, -1, -1):
                stack.append((item[i], f"{where}[{i}]"))


def enforce_value_rules(value: Any) -> Any:
    """The rules every field value of an event or a request obeys, written once: every string
    (at any depth) passes ``check_text``, every integer fits a PostgreSQL ``integer``."""
    if isinstance(value, str):  # the common case, without the walk
        check_text(value)
    elif isinstance(value, bool):
        pass
    elif isinstance(value, int):
        _fits_int4(value)
    elif isinstance(value, (list, tuple, dict, BaseModel)):  # UUIDs, dates and numbers hold no text
        for _, text in iter_strings(value):
            check_text(text)
    return value


class ContractModel(BaseModel):
    """Frozen, strict-shaped model; every string field, at any depth, obeys the text rules
    (``identifiers.check_text``: no control characters, no personnummer in any spelling)."""

    model_config = ConfigDict(frozen=True, extra="forbid", use_enum_values=False, allow_inf_nan=False)

    @field_validator("*", mode="after")
    @classmethod
    def _value_rules(cls, value: Any) -> Any:
        return enforce_value_rules(value)


class EventData(ContractModel):
    """The ``data`` of a Styrkedja event. Subclasses set ``event_type``."""

    event_type: ClassVar[str]

    @classmethod
    def __pydantic_init_subclass__(cls, **kwargs: Any) -> None:
        super().__pydantic_init_subclass__(**kwargs)
        if "organiser_id" not in cls.model_fields:
            raise TypeError(f"{cls.__name__}: every event data model needs an organiser_id field")
        if not _TYPE_RE.match(getattr(cls, "event_type", "")):
            raise TypeError(f"{cls.__name__}: event_type must look like se.styrkedja.<entity>.<verb>.v<N>")

    @classmethod
    def entity_verb(cls) -> str:
        """``"<entity>.<verb>"`` part of the event type."""
        return ".".join(cls.event_type.split(".")[2:4])

    @classmethod
    def version(cls) -> int:
        """The ``N`` of ``...vN``."""
        return int(cls.event_type.rsplit(".v", 1)[1])

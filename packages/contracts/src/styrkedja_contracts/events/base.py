"""Base class for every event's ``data`` model.

All event data models are frozen, forbid unknown fields, name their
CloudEvents ``type`` in the ``event_type`` ClassVar and carry the
``organiser_id`` (huvudman) that the message is keyed by. Every string in an
event – at any depth – is checked for a personnummer/samordningsnummer.
"""

from __future__ import annotations

import re
import types
from collections.abc import Iterator
from datetime import date, datetime, time
from enum import Enum
from typing import Annotated, Any, ClassVar, Optional, Union, get_args, get_origin
from urllib.parse import unquote
from uuid import UUID

import annotated_types
from pydantic import (
    AfterValidator,
    AnyUrl,
    AwareDatetime,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    FutureDate,
    FutureDatetime,
    NaiveDatetime,
    PastDate,
    PastDatetime,
    Strict,
    TypeAdapter,
    ValidationError,
    field_validator,
)
from pydantic.fields import FieldInfo
from pydantic_core import MultiHostUrl, PydanticCustomError, Url

from ..identifiers import check_text

_TYPE_RE = re.compile(r"^se\.styrkedja\.[a-z][a-z0-9_]*\.[a-z][a-z0-9_]*\.v[0-9]+$")

__all__ = ["ContractModel", "EventData", "iter_strings", "Timestamp", "Revision", "Year", "Round", "MAX_INT4",
           "MAX_NAMED_REVISION",
           "Int4", "StrictBool", "enforce_value_rules", "EARLIEST_YEAR", "LATEST_YEAR", "LAST_SCHOOL_YEAR_START",
           "school_year_within_years", "temporal_as_text", "within_years",
           "add_temporal_rules", "date_as_text", "datetime_as_text", "DATE_TEXT",
           "DATETIME_TEXT", "add_uuid_rules", "add_strict_numbers", "uuid_as_text", "UUID_TEXT", "WHERE", "full_loc", "located_strings"]

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

#: The highest revision a sender may name (a write's `revision` at the HTTP door): 2**20 below `MAX_INT4`, so that a
#: record at the highest revision a sender named can still be revised and removed, by the revisions the service
#: numbers itself (stored + 1), a million times more. Named up to `MAX_INT4`, a record at it could be neither revised
#: nor retracted (its next revision fits no database integer, nor an event). An event carries any revision up to
#: `MAX_INT4` (the ones the service numbered above this bound too). Still above any Unix time before 2038.
MAX_NAMED_REVISION = MAX_INT4 - 2**20
Year = Annotated[int, Strict(), Field(ge=0, le=9, description="Årskurs 0–9 (0 = förskoleklass).")]
Round = Annotated[int, Strict(), Field(ge=1, le=4, description="Publication round 1–4 within the school year.")]


#: every date and time of an event or a request body lies in these years: outside them it is a
#: mistake or an attack (year 1 and 9999 break date arithmetic), never a school's date
EARLIEST_YEAR, LATEST_YEAR = 1900, 2199
_NUMBER_TEXT = re.compile(r"^\s*[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?\s*$")


def temporal_as_text(value: Any) -> Any:
    """A date or time arrives as ISO 8601 text (or already as one): in its place pydantic would
    read a number, or a string of digits, as a Unix timestamp — so ten or twelve digits (a
    personal identity number, say) would be kept as some date in 1973 or 2008."""
    if isinstance(value, str):
        if _NUMBER_TEXT.match(value) is None:
            return value  # pydantic's own parser judges it (and names its rule)
    elif not isinstance(value, (int, float)):  # None, a date or time, or a type pydantic refuses
        return value
    raise PydanticCustomError("iso_8601", "Input should be a date or time written as ISO 8601 text "
                              "(YYYY-MM-DD, YYYY-MM-DDThh:mm:ss±hh:mm), not a number")


#: The first year of the last school year a service takes at its doors: 2198/99, the last whose every day (1 July –
#: 30 June) lies in the years above. The school years' own rule (`identifiers.SchoolYear`) runs to 9998/99, and a
#: record of one past this bound was taken where its dates were not: a forecast's window deadline (2199/00 on) was
#: refused, an assessment, a plan or a support intervention of the same school year was stored and sent on.
#: The events keep their own rule: one published before this bound (by a service, or a platform producing itself)
#: is still decoded on a replay, not dead-lettered.
LAST_SCHOOL_YEAR_START = LATEST_YEAR - 1


#: RFC 3339 §5.6 `full-date`, ASCII digits: the one spelling of a date at every door (events, bodies, queries). Pydantic
#: alone also reads a date-time at midnight as a date (`2026-11-25T00:00:00+14:00` was 25 November, the day in an offset
#: Sweden never has: 24 November there), which the schemas' `format: date` refuses.
DATE_TEXT = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
#: RFC 3339 §5.6 `date-time` (`t` and `z` in lower case too, a fraction of any length: .NET writes seven digits, Go and
#: Java up to nine; the services keep microseconds, as PostgreSQL does, the rest cut off). Pydantic alone also read ISO
#: 8601's other forms, which the schemas' `format: date-time` refuses: a space for the `T`, an offset without its colon
#: (`+0100`) or its minutes (`+01` was refused, `+0100` taken), no seconds (`10:00Z`), a decimal comma (`00,5`).
#: A time without its offset is no moment (a local time of some zone): refused as every query parameter refuses it.
DATETIME_TEXT = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}[Tt][0-9]{2}:[0-9]{2}:[0-9]{2}(?:\.[0-9]+)?"
                           r"(?:[Zz]|[+-][0-9]{2}:[0-9]{2})")


def date_as_text(value: Any) -> Any:
    """A date: ISO text (`temporal_as_text`) of the one form `YYYY-MM-DD` (`DATE_TEXT`), else `date_format`."""
    value = temporal_as_text(value)
    if isinstance(value, str) and not DATE_TEXT.fullmatch(value):
        raise PydanticCustomError("date_format", "Input should be a date written YYYY-MM-DD (RFC 3339 full-date), "
                                  "without a time or an offset")
    return value


def datetime_as_text(value: Any) -> Any:
    """A date and time: ISO text (`temporal_as_text`) of RFC 3339's form (`DATETIME_TEXT`), else `datetime_format`."""
    value = temporal_as_text(value)
    if isinstance(value, str) and not DATETIME_TEXT.fullmatch(value):
        raise PydanticCustomError("datetime_format", "Input should be an RFC 3339 date-time with its offset "
                                  "(YYYY-MM-DDThh:mm:ss[.fraction] and Z or ±hh:mm)")
    return value


def school_year_within_years(value: str) -> str:
    """A school year (already `SchoolYear`) whose every day lies in `EARLIEST_YEAR`–`LATEST_YEAR`: 1900/01–2198/99. The
    one bound of every school year a request names (`styrkedja_kit.inputs.SchoolYearIn`), rule `date_range` as a
    date's."""
    if not EARLIEST_YEAR <= int(value[:4]) <= LAST_SCHOOL_YEAR_START:
        raise PydanticCustomError("date_range", "Input should be a school year from {first} to {last}: its days lie in "
                                  "the years {earliest}–{latest} every date may have",
                                  {"first": f"{EARLIEST_YEAR}/{(EARLIEST_YEAR + 1) % 100:02d}",
                                   "last": f"{LAST_SCHOOL_YEAR_START}/{(LAST_SCHOOL_YEAR_START + 1) % 100:02d}",
                                   "earliest": EARLIEST_YEAR, "latest": LATEST_YEAR})
    return value


def within_years(value: Any) -> Any:
    if isinstance(value, date) and not EARLIEST_YEAR <= value.year <= LATEST_YEAR:
        raise PydanticCustomError("date_range", "Input should be a date or time in the years {earliest}–{latest}",
                                  {"earliest": EARLIEST_YEAR, "latest": LATEST_YEAR})
    return value


def _text_rule(annotation: Any) -> Any:
    """The text rule of a date or time annotation (or optional one): `date_as_text`, `datetime_as_text`, or
    `temporal_as_text` for a time of day; None for any other."""
    origin = get_origin(annotation)
    if origin is Annotated:
        return _text_rule(get_args(annotation)[0])
    if origin in (Union, types.UnionType):
        rules = {_text_rule(arg) for arg in get_args(annotation) if arg is not type(None)} - {None}
        return rules.pop() if len(rules) == 1 else temporal_as_text if rules else None
    if annotation in _PYDANTIC_TEMPORAL:
        return _PYDANTIC_TEMPORAL[annotation]
    if isinstance(annotation, type):
        if issubclass(annotation, datetime):  # before `date`: a datetime is one
            return datetime_as_text
        if issubclass(annotation, date):
            return date_as_text
        if issubclass(annotation, time):
            return temporal_as_text
    return None


#: pydantic's own date and time types are not subclasses of date/datetime
_PYDANTIC_TEMPORAL: dict[Any, Any] = {
    AwareDatetime: datetime_as_text, NaiveDatetime: temporal_as_text, PastDatetime: datetime_as_text,
    FutureDatetime: datetime_as_text, PastDate: date_as_text, FutureDate: date_as_text}
#: the text rules of `add_temporal_rules`, each refusing a number as `temporal_as_text` does
TEMPORAL_TEXT_RULES = (temporal_as_text, date_as_text, datetime_as_text)


def add_temporal_rules(fields: dict[str, FieldInfo]) -> bool:
    """Give every date/time field (or optional one) the two rules above, once; True if a field
    got them (the model must then be rebuilt). Used by events and request bodies alike."""
    changed = False
    for field in fields.values():
        rule = _text_rule(field.annotation)
        if rule is None:
            continue
        if any(getattr(m, "func", None) in TEMPORAL_TEXT_RULES for m in field.metadata):
            continue
        # a BeforeValidator given later runs earlier: the text rule first, the years after parsing
        field.metadata.extend([AfterValidator(within_years), BeforeValidator(rule)])
        changed = True
    return changed


#: a UUID as RFC 9562 writes it (the JSON Schema's `format: uuid`), either case
UUID_TEXT = re.compile(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}")
_LAX_UUID: TypeAdapter[UUID] = TypeAdapter(UUID)


def uuid_as_text(value: Any) -> Any:
    """A UUID arrives in its 36-character form: pydantic reads `urn:uuid:…`, `{…}` and 32 hex digits without hyphens
    as the same id, which the schemas' `format: uuid` refuses (a consumer validating by them, a producer's log or a
    gateway comparing the text saw another id than the one applied). Round 22 held the HTTP bodies to it; events too
    now."""
    if isinstance(value, str) and not UUID_TEXT.fullmatch(value):
        try:
            _LAX_UUID.validate_python(value)
        except ValidationError:
            return value  # no UUID in any spelling: pydantic's own refusal names it (`uuid_parsing`)
        raise PydanticCustomError("uuid_format", "Input should be a UUID in its 36-character form with hyphens "
                                                 "(e.g. 3b0e6f0a-9c4d-4f7e-8a21-5d6c7e8f9a01)")
    return value


def _uuid(annotation: Any) -> bool:
    if get_origin(annotation) in (Union, types.UnionType):
        args = [arg for arg in get_args(annotation) if arg is not type(None)]
        return len(args) == 1 and args[0] is UUID
    return annotation is UUID


def add_uuid_rules(fields: dict[str, FieldInfo]) -> bool:
    """Give every UUID field (or optional one) `uuid_as_text`, once; True if a field got it (rebuild the model)."""
    changed = False
    for field in fields.values():
        if _uuid(field.annotation) and not any(getattr(m, "func", None) is uuid_as_text for m in field.metadata):
            field.metadata.append(BeforeValidator(uuid_as_text))
            changed = True
    return changed


def _plain(annotation: Any, kinds: tuple[type, ...]) -> bool:
    """`annotation` is one of `kinds` as is, or optional (`int | None`), with no `Strict` of its own inside."""
    if get_origin(annotation) in (Union, types.UnionType):
        args = [arg for arg in get_args(annotation) if arg is not type(None)]
        return len(args) == 1 and _plain(args[0], kinds)
    return annotation in kinds


def add_strict_numbers(fields: dict[str, FieldInfo]) -> bool:
    """Make every field typed plain `int` or `bool` (or optional) strict, once; True if a field was (the model must
    then be rebuilt). Round 22: LIKA's `priority: int | None` and reporting's `min_students: int` took `"2"`, `2.0`,
    `1e0` and `true` (as 1), as pydantic's lax mode reads them, where every other integer of a body is strict. Round
    23c: the events' own integers without `Strict` (a calendar's `grace_days`, `iso_week`, `deadline_weekday`, an
    action plan's `position` and `priority`, an alert's `episode`, revisions) did the same, in every event and at the
    forecast service's calendar door, whose body is the contracts' `ReportingCalendar`."""
    changed = False
    for field in fields.values():
        annotation = field.annotation
        if not _plain(annotation, (int, bool)) or any(isinstance(m, Strict) for m in field.metadata):
            continue
        if annotation in (int, bool):
            field.metadata.append(Strict())
        else:  # optional: strict inside the union (pydantic applies no `strict` to a nullable schema as a whole)
            base = next(arg for arg in get_args(annotation) if arg is not type(None))
            strict: Any = Optional[Annotated[base, Strict()]]  # noqa: UP045 (a type built at run time)
            field.annotation = strict
        changed = True
    return changed


def _tuple_of(annotation: Any) -> bool:
    """`annotation` is a tuple of any length (`tuple[X, ...]`), as is or optional."""
    if get_origin(annotation) in (Union, types.UnionType):
        given = [arg for arg in get_args(annotation) if arg is not type(None)]
        return len(given) == 1 and _tuple_of(given[0])
    args = get_args(annotation)
    return get_origin(annotation) is tuple and len(args) == 2 and args[1] is Ellipsis


class LongestFirst:
    """The BeforeValidator of a tuple field with a `max_length`: a list longer than it is refused `too_long` before
    its items are judged. Pydantic's tuple judges the items first and counts only those it took: three calendar
    windows (at most two), one of them broken, were refused at the broken window alone, and the same request mended
    there a `too_long` after — one refusal at a time, the first not naming what the request must mend (round 33, left
    from round 32). Its list refuses `too_long` alone: a tuple now says what a list says."""

    def __init__(self, most: int) -> None:
        self.most = most

    def __call__(self, value: Any) -> Any:
        if isinstance(value, list | tuple) and len(value) > self.most:
            # pydantic's words but "after validation": nothing of it was validated
            raise PydanticCustomError("too_long", "List should have at most {max_length} items, not {actual_length}",
                                      {"max_length": self.most, "actual_length": len(value)})
        return value


def add_length_first(fields: dict[str, FieldInfo]) -> bool:
    """Give every tuple field (or optional one) with a `max_length` its `LongestFirst`, once; True if a field got it
    (rebuild the model). Used by events and request bodies alike."""
    changed = False
    for field in fields.values():
        most = next((m.max_length for m in field.metadata if isinstance(m, annotated_types.MaxLen)), None)
        if most is None or not _tuple_of(field.annotation):
            continue
        if any(isinstance(getattr(m, "func", None), LongestFirst) for m in field.metadata):
            continue
        field.metadata.append(BeforeValidator(LongestFirst(most)))
        changed = True
    return changed


def iter_strings(value: Any, path: str = "") -> Iterator[tuple[str, str]]:
    """Yield ``(path, string)`` for every string in a JSON-like value or model (dict keys included, a key's path
    ending in the key), the path written ``path.key[index]``. Iterative (``located_strings``), so deeply nested
    input cannot exhaust the stack.
    """
    for where, text, key in _strings(value):
        parts = (*where, key) if key is not None else where
        written = path
        for part in parts:
            dotted = f"{written}.{part}" if written else str(part)
            written = dotted if isinstance(part, str) else f"{written}[{part}]"
        yield written, text


def _strings(value: Any) -> Iterator[tuple[tuple[str | int, ...], str, str | None]]:
    """``(where, string, key)`` for every string in a JSON-like value or model, ``where`` the keys and indexes
    leading to it; for a dict key, ``where`` is its object's and ``key`` the key (else None). Iterative."""
    stack: list[tuple[Any, tuple[str | int, ...], str | None]] = [(value, (), None)]
    while stack:
        item, where, key = stack.pop()
        if isinstance(item, str):
            yield where, item, key
        elif isinstance(item, Enum):
            stack.append((item.value, where, None))
        elif isinstance(item, BaseModel):
            for name in reversed(type(item).model_fields):
                stack.append((getattr(item, name), (*where, name), None))
        elif isinstance(item, dict):
            for k, v in reversed(list(item.items())):
                stack.append((v, (*where, k if isinstance(k, str | int) else str(k)), None))
                if isinstance(k, str):
                    stack.append((k, where, k))
        elif isinstance(item, (list, tuple)):
            for i in range(len(item) - 1, -1, -1):
                stack.append((item[i], (*where, i), None))


#: the context key of a value rule's error raised for a string inside the field (`enforce_value_rules`): where in the
#: field's value it is, as a tuple of keys and indexes (`("items", 0, "name")`), which a reader appends to the loc
WHERE = "where"


def full_loc(error: Any) -> tuple[Any, ...]:
    """A pydantic error's `loc` with where inside the field a value rule was broken (`WHERE`), if it says."""
    inside = (error.get("ctx") or {}).get(WHERE)
    loc = tuple(error.get("loc", ()))
    return (*loc, *inside) if isinstance(inside, tuple) else loc


def located_strings(value: Any) -> Iterator[tuple[tuple[str | int, ...], str]]:
    """``(where, string)`` for every string in a JSON-like value or model, in the order of ``iter_strings``, ``where``
    the keys and indexes leading to it. A dict key is located at its object, never by itself: a key breaking a rule
    (one holding a personnummer) is not repeated by the location that names it. Iterative, as ``iter_strings``."""
    for where, text, _ in _strings(value):
        yield where, text


def check_url(value: AnyUrl | Url | MultiHostUrl) -> None:
    """A link obeys the text rules as it is written and as it reads once percent-decoded, and holds no user name or
    password. Round 23c: a URL field (the assessment service's plan `link`) is no string, so the value rules passed
    it unread: `https://platform.example/elev/19121212-1212`, the same number percent-encoded (`%31%39…`), a
    right-to-left override (encoded by the parser as `%E2%80%AE`) and `https://user:secret@…` were stored and
    kept with every revision of the plan."""
    hosts = value.hosts() if isinstance(value, MultiHostUrl) else [
        {"username": value.username, "password": value.password}]
    if any(h.get("username") or h.get("password") for h in hosts):  # userinfo: what precedes the host
        raise PydanticCustomError("no_credentials", "a link must not hold a user name or password (`user:password@`)")
    text = str(value)
    check_text(text)
    check_text(unquote(text))


def enforce_value_rules(value: Any) -> Any:
    """The rules every field value of an event or a request obeys, written once: every string
    (at any depth) passes ``check_text``, every integer fits a PostgreSQL ``integer``. A string inside the value
    breaking a rule is located in it (`WHERE` in the error's context: ``data.name``, not ``data``)."""
    if isinstance(value, str):  # the common case, without the walk
        check_text(value)
    elif isinstance(value, bool):
        pass
    elif isinstance(value, int):
        _fits_int4(value)
    elif isinstance(value, (AnyUrl, Url, MultiHostUrl)):
        check_url(value)
    elif isinstance(value, (list, tuple, dict, BaseModel)):  # UUIDs, dates and numbers hold no text
        for where, text in located_strings(value):
            try:
                check_text(text)
            except PydanticCustomError as broken:
                if not where:
                    raise
                raise PydanticCustomError(broken.type, broken.message_template,
                                          {**(broken.context or {}), WHERE: where}) from None
    return value


class ContractModel(BaseModel):
    """Frozen, strict-shaped model; every string field, at any depth, obeys the text rules
    (``identifiers.check_text``: no control characters, no personnummer in any spelling)."""

    model_config = ConfigDict(frozen=True, extra="forbid", use_enum_values=False, allow_inf_nan=False)

    @classmethod
    def __pydantic_init_subclass__(cls, **kwargs: Any) -> None:
        super().__pydantic_init_subclass__(**kwargs)
        temporal, strict = add_temporal_rules(cls.model_fields), add_strict_numbers(cls.model_fields)
        longest = add_length_first(cls.model_fields)
        if add_uuid_rules(cls.model_fields) or temporal or strict or longest:
            cls.model_rebuild(force=True)

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

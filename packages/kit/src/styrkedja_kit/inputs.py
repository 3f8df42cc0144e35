"""Request bodies and parameters: the same rules as the events, at the HTTP door.

`InputModel` is the base of every request body: unknown fields are refused, and every string
(at any depth) obeys the contracts' text rules (no control characters, no personnummer in any
spelling), every integer fits a database integer. Integer and boolean fields use the strict
types below: `"1"` is not a number and `true` is not an integer — a field typed plain `int` or `bool` is made strict
too (`add_strict_numbers`); a UUID is its 36-character form with hyphens (`add_uuid_rules`). A decimal field
(`Decimal`) given as text
takes the plain notation only (`"12.5"`; `decimal_format`), and a zero is one zero (`add_decimal_rules`).

Query and path parameters take the contracts' types directly, e.g.

    async def units(school_unit_code: SchoolUnitCodeParam, q: SafeTextParam | None = None): ...

and a bad one is a 422 problem naming the parameter and the rule.

A large body (a batch) can be parsed and validated in one pass, from its bytes (`json_body`):

    @router.post("/batch", openapi_extra=json_body_openapi(BatchIn))
    async def publish_batch(batch: BatchIn = json_body(BatchIn)): ...
"""

from __future__ import annotations

import json
import math
import re
import sys
from collections.abc import Awaitable, Callable, Sequence
from datetime import date, datetime
from decimal import Decimal
from enum import Enum
from types import UnionType
from typing import Annotated, Any, ClassVar, Literal, TypeVar, Union, get_args, get_origin
from uuid import UUID

import annotated_types
from fastapi import Depends, HTTPException, Request
from fastapi.exceptions import RequestValidationError
from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    Strict,
    TypeAdapter,
    ValidationError,
)
from pydantic.fields import FieldInfo
from pydantic_core import PydanticCustomError

from styrkedja_contracts.door_rules import item_rules_of
from styrkedja_contracts.envelope import duplicate_key_location
from styrkedja_contracts.events.base import (
    MAX_INT4,
    MAX_NAMED_REVISION,
    add_length_first,
    add_strict_numbers,
    add_temporal_rules,
    date_as_text,
    enforce_value_rules,
    school_year_within_years,
    within_years,
)
from styrkedja_contracts.events.rules import BLANK_WORDS, UNIQUE_RULE, repeated, says_nothing
from styrkedja_contracts.identifiers import (
    BLANK_RULE,
    TEXT_RULES_HELD,
    GroupId,
    OrganiserId,
    SafeText,
    SchoolUnitCode,
    SchoolYear,
    StudentId,
    TeacherId,
    _canonical_organiser,  # the organiser id's spelling and text check in one
    _reject_pin,  # the identifier types' text check: a field of one is checked by its type
    check_text,
)
from styrkedja_contracts.subjects import KnownSubjectCode

__all__ = ["InputModel", "RemovalIn", "json_body", "json_body_openapi", "StrictInt", "StrictBool", "Revision", "RemovalRevision", "MAX_INT4",
           "key_given_twice", "json_refusal",
           "SchoolUnitCodeParam", "OrganiserIdParam", "GroupIdParam", "StudentIdParam", "TeacherIdParam",
           "SubjectCodeParam", "SchoolYearParam", "SchoolYearIn", "SafeTextParam", "BatchItems", "BATCH_CAP", "UniqueItems",
           "unique_items", "SaidText", "says_something"]

StrictInt = Annotated[int, Strict()]
StrictBool = Annotated[bool, Strict()]
#: a revision a sender names is at most `MAX_NAMED_REVISION` (below a database integer's end: see there), so that a
#: record can always be revised and retracted after it
Revision = Annotated[int, Strict(), Field(ge=1, le=MAX_NAMED_REVISION,
                                          description="Omit to take the next revision number.")]
RemovalRevision = Annotated[int, Strict(), Field(ge=2, le=MAX_NAMED_REVISION,
                                                 description="Omit to take the next revision number.")]

#: The school year a request body names: 1900/01–2198/99 (`school_year_within_years`), the one bound of every school
#: year the services take (a forecast's, an assessment's, a plan's, a support intervention's), 422 `date_range`.
SchoolYearIn = Annotated[SchoolYear, AfterValidator(school_year_within_years)]


def says_something(value: str) -> str:
    """Free text people type says something: at least one visible character (the contracts' name rules, one character
    at a time: not a space, a line break or an invisible one), else 422 `not_blank` — "", spaces or line breaks were
    stored as a reason, a description, an unmet criterion "there" that says nothing (a criterion of spaces met the rule
    that a result below pass names one). An optional text with nothing to say is left out (`null`), as LIKA's comments
    and the kit's query parameters are."""
    if says_nothing(value):
        raise PydanticCustomError(BLANK_RULE, BLANK_WORDS)
    return value


#: free text of a request body that says something (`says_something`): `SafeText`'s rules and a visible character
SaidText = Annotated[SafeText, AfterValidator(says_something)]

#: The schema's own cap on a batch; the service's `max_batch_items` setting (default 1000) is the real limit.
BATCH_CAP = 10_000
_Item = TypeVar("_Item")
#: A batch body's `items` (`items: BatchItems[AssessmentIn]`).
BatchItems = Annotated[list[_Item], Field(min_length=1, max_length=BATCH_CAP,
                                          description="At most `max_batch_items` (default 1000) items.")]


def unique_items(values: list[Any]) -> list[Any]:
    """Each value of a list once (`UniqueItems`): an assessment naming one unmet criterion twice, or a plan one
    criteria code twice, was stored as given, and would count twice for any reader counting them. Text compares by
    its one form (`name_form`: NFC, no surrounding or doubled spaces), as no reader tells such spellings apart. The
    values are not repeated (only where they stand)."""
    twice = repeated(values)  # the contracts' rule, an event's list holds it too (round 29r)
    if twice is not None:
        raise PydanticCustomError(UNIQUE_RULE, "item {index} repeats item {first}: give each value once",
                                  {"index": twice[0], "first": twice[1]})
    return values


def unordered_fields(model: type[BaseModel]) -> frozenset[str]:
    """The fields of `model` that are `UniqueItems` (or optional ones): sets, whose order says nothing."""
    def unique(annotation: Any, metadata: Sequence[Any]) -> bool:
        if any(getattr(m, "func", None) is unique_items for m in metadata):
            return True
        origin = get_origin(annotation)
        if origin is Annotated:
            base, *extra = get_args(annotation)
            return unique(base, extra)
        if origin in (Union, UnionType):
            return any(unique(arg, []) for arg in get_args(annotation) if arg is not type(None))
        return False

    return frozenset(name for name, field in model.model_fields.items() if unique(field.annotation, field.metadata))


#: A list whose values are each given once (a 422 naming the list and `unique` otherwise): `UniqueItems[Criterion]`.
UniqueItems = Annotated[list[_Item], AfterValidator(unique_items), Field(json_schema_extra={"uniqueItems": True})]


def document_batch_limit(openapi: dict[str, Any], max_batch_items: int) -> dict[str, Any]:
    """The published schema says the running service's limit (`max_batch_items`), not the schema's own cap: a
    client or fuzzer that sends what the schema allows is never refused for the batch's size."""
    def walk(node: Any) -> None:
        if isinstance(node, dict):
            if node.get("type") == "array" and node.get("maxItems") == BATCH_CAP:
                node["maxItems"] = max_batch_items
                node["description"] = f"At most {max_batch_items} items (this service's `max_batch_items`)."
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    walk(openapi)
    return openapi


# Parameter types (query and path): the contracts' identifier types under names that say so.
SchoolUnitCodeParam = SchoolUnitCode
OrganiserIdParam = OrganiserId
GroupIdParam = GroupId
StudentIdParam = StudentId
TeacherIdParam = TeacherId
SubjectCodeParam = KnownSubjectCode
#: a school year in a query or path: the bound a request body's has (`SchoolYearIn`, 1900/01–2198/99, 422
#: `date_range` naming the parameter). Without it, `?school_year=9998/99` was read (an empty answer) where a write of it
#: is refused: what no request may store is no question either
SchoolYearParam = SchoolYearIn
SafeTextParam = Annotated[SafeText, Field(max_length=500)]
#: a date in a query: ISO text in the years request bodies and events allow (not a Unix timestamp)
DateParam = Annotated[date, AfterValidator(within_years), BeforeValidator(date_as_text)]


def _flat(metadata: Sequence[Any]) -> list[Any]:
    """Metadata of an annotation as pydantic applies it: a `Field(...)` inside `Annotated` by its own
    constraints, a validator by its function."""
    out: list[Any] = []
    for item in metadata:
        if isinstance(item, FieldInfo):
            out += _flat(item.metadata)
        else:
            out.append(getattr(item, "func", item))
    return out


def _text_ok(value: str) -> bool:
    try:
        check_text(value)
    except PydanticCustomError:
        return False
    return True


def _held(annotation: Any, metadata: Sequence[Any]) -> bool:
    """Whether every value of this annotation that validates already obeys the value rules (see
    `_rules_held_by_type`)."""
    origin = get_origin(annotation)
    if origin is Annotated:
        base, *extra = get_args(annotation)
        return _held(base, [*metadata, *_flat(extra)])
    if origin in (Union, UnionType):  # `X | None`: None holds no text
        return all(arg is type(None) or _held(arg, metadata) for arg in get_args(annotation))
    if origin is Literal:  # fixed values: checked here, once
        return all(not isinstance(arg, str) or _text_ok(arg) for arg in get_args(annotation))
    if origin is list:  # each item by its own type (the list's length says nothing of its items)
        return _held(get_args(annotation)[0], [])
    if annotation is str:
        return any(m is check_text or m is _reject_pin or m is _canonical_organiser or m is enforce_value_rules
                   or m is TEXT_RULES_HELD
                   for m in metadata)
    if annotation is int:
        low = [m.ge for m in metadata if isinstance(m, annotated_types.Ge) and isinstance(m.ge, int)]
        high = [m.le for m in metadata if isinstance(m, annotated_types.Le) and isinstance(m.le, int)]
        return bool(low and high) and min(low) >= -MAX_INT4 - 1 and max(high) <= MAX_INT4
    if isinstance(annotation, type) and issubclass(annotation, (Enum, InputModel)):
        return True  # a nested request body checks its own fields
    return annotation in (bool, date, datetime, UUID)


def _rules_held_by_type(field: FieldInfo) -> bool:
    """Whether a field's own type already applies the value rules, so that they are applied once,
    not again by `InputModel`: text that its type checks (`SafeText`, the identifier types) or
    that its type proves safe (`TEXT_RULES_HELD`), enum members, dates, times, UUIDs, booleans,
    integers bounded within a database integer, literals that obey the rules, nested request
    bodies; `None` besides any of these, and lists of them."""
    return _held(field.annotation, _flat(field.metadata))


#: a decimal written as text, as a client keeps an exact number (`"12.5"`): JSON's plain notation without its exponent,
#: as a query's number (`parameters.FORMATS`). pydantic's lax reading of text took `"5_0"` as 50, Arabic-Indic and
#: full-width digits, blanks around, `"+5"`, `".5"`, `"5."`, and kept `"1E+1"` as written; `"0E-1000000"` broke no
#: rule of decimal places (a zero has none) and no database numeric holds it (PostgreSQL refused it: a 500)
_DECIMAL_TEXT = re.compile(r"-?(?:0|[1-9][0-9]*)(?:\.[0-9]+)?")
DECIMAL_FORMAT = ("Input should be a decimal number written as text in ASCII digits with an optional '.' and decimals "
                  "(e.g. \"12.5\"): no blanks, '+', '_', exponent, NaN or Infinity")


def decimal_as_plain_text(value: Any) -> Any:
    if isinstance(value, str) and not _DECIMAL_TEXT.fullmatch(value):
        raise PydanticCustomError("decimal_format", DECIMAL_FORMAT)
    return value


def one_zero(value: Any) -> Any:
    """`-0`, `-0.0` (a JSON number too) and `0.0000` are the zero: stored and answered as `0`, not as a negative."""
    return Decimal(0) if isinstance(value, Decimal) and value == 0 else value


def _decimal(annotation: Any) -> bool:
    origin = get_origin(annotation)
    if origin is Annotated:
        return _decimal(get_args(annotation)[0])
    if origin in (Union, UnionType):
        return any(_decimal(arg) for arg in get_args(annotation) if arg is not type(None))
    return annotation is Decimal


def add_decimal_rules(fields: dict[str, FieldInfo]) -> bool:
    """Give every decimal field (or optional one) the two rules above, once; True if a field got them (the model
    must then be rebuilt)."""
    changed = False
    for field in fields.values():
        if not _decimal(field.annotation) or any(getattr(m, "func", None) is decimal_as_plain_text
                                                 for m in field.metadata):
            continue
        field.metadata.extend([AfterValidator(one_zero), BeforeValidator(decimal_as_plain_text)])
        changed = True
    return changed


#: a UUID as RFC 9562 writes it, either case: the one spelling the query's UUIDs take too (`parameters`)
_UUID_TEXT = re.compile(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}")


_LAX_UUID: TypeAdapter[UUID] = TypeAdapter(UUID)


def _read_as_uuid(value: str) -> bool:
    """Whether pydantic's lax reading takes `value` as a UUID (another spelling of one)."""
    try:
        _LAX_UUID.validate_python(value)
    except ValidationError:
        return False
    return True


def uuid_as_text(value: Any) -> Any:
    """Round 22: pydantic read `urn:uuid:…`, `{…}` and 32 hex digits without hyphens as the same id — a gateway,
    an audit or a client's log comparing the body's text saw another id than the one stored."""
    if isinstance(value, str) and not _UUID_TEXT.fullmatch(value) and _read_as_uuid(value):
        raise PydanticCustomError("uuid_format", "Input should be a UUID in its 36-character form with hyphens "
                                                 "(e.g. 3b0e6f0a-9c4d-4f7e-8a21-5d6c7e8f9a01)")
    return value  # the canonical form, or no UUID at all: pydantic's own refusal names it (`uuid_parsing`)


def add_uuid_rules(fields: dict[str, FieldInfo]) -> bool:
    """Give every UUID field (or optional one) `uuid_as_text`, once; True if a field got it (rebuild the model)."""
    changed = False
    for field in fields.values():
        if _plain(field.annotation, (UUID,)) and not any(getattr(m, "func", None) is uuid_as_text
                                                         for m in field.metadata):
            field.metadata.append(BeforeValidator(uuid_as_text))
            changed = True
    return changed


def _plain(annotation: Any, kinds: tuple[type, ...]) -> bool:
    """`annotation` is one of `kinds` as is, or optional (`int | None`), with no `Strict` of its own inside."""
    if get_origin(annotation) in (Union, UnionType):
        args = [arg for arg in get_args(annotation) if arg is not type(None)]
        return len(args) == 1 and _plain(args[0], kinds)
    return annotation in kinds


def item_rules_said(event_type: str) -> ConfigDict:
    """A write body's `model_config` naming the item rules of the event it becomes (`door_rules.item_rules_of`) in its
    schema's description: rules across its fields (a value below pass names an unmet criterion, a decided intervention
    names its decider) no JSON Schema keyword states, so a client generated from the document — or a fuzzer mutating
    its examples — met 422s the document did not announce (round 31's campaign, after the examples)."""
    rules = ", ".join(f"`{rule}`" for rule in item_rules_of(event_type))
    return ConfigDict(json_schema_extra={"description": (
        f"Besides its fields' schemas, each item keeps the rules of its event (`{event_type}`; its contract says each "
        f"in full), each broken a 422 naming the field and the rule: {rules}.")})


class InputModel(BaseModel):
    """Base of every request body.

    The value rules (`enforce_value_rules`) are an after-validator of each field whose type does
    not already apply them (`_rules_held_by_type`), added when the subclass is made: a field of an
    identifier type is not called again, and a body of such fields only (a batch item) costs no
    Python call per field for them. Located at the field as a field validator would be."""

    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)  # NaN/Infinity: no number to store
    #: fields whose types apply the value rules themselves (`_rules_held_by_type`)
    __rules_held_by_type__: ClassVar[frozenset[str]] = frozenset()

    @classmethod
    def __pydantic_init_subclass__(cls, **kwargs: Any) -> None:
        super().__pydantic_init_subclass__(**kwargs)
        if not cls.__pydantic_complete__:  # fields must be resolved to be judged (raises if they cannot be)
            cls.model_rebuild()
        held = frozenset(name for name, field in cls.model_fields.items() if _rules_held_by_type(field))
        cls.__rules_held_by_type__ = held
        unchecked = [field for name, field in cls.model_fields.items() if name not in held]
        for field in unchecked:
            field.metadata.append(AfterValidator(enforce_value_rules))
        # dates and times: ISO text only and plausible years, as in the events (`add_temporal_rules`); decimals: plain
        # text (`add_decimal_rules`); integers and booleans: strict (`add_strict_numbers`); UUIDs: one spelling
        temporal, decimal = add_temporal_rules(cls.model_fields), add_decimal_rules(cls.model_fields)
        strict, uuids = add_strict_numbers(cls.model_fields), add_uuid_rules(cls.model_fields)
        # a tuple longer than its most: `too_long` before its items are judged, as a list's (`add_length_first`)
        longest = add_length_first(cls.model_fields)
        if temporal or decimal or strict or uuids or unchecked or longest:
            cls.model_rebuild(force=True)


class _KeyTwice(Exception):
    pass


def _once(pairs: list[tuple[str, Any]]) -> None:
    """`object_pairs_hook` of the scan: an object naming a key twice stops it; nothing is kept (the body is
    parsed again by the route's own parser, into its model)."""
    if len(pairs) > 1 and len(dict(pairs)) != len(pairs):  # a dict built in C: 0.8 ms less a batch than a set (write22)
        raise _KeyTwice
    return None


def _where_twice(body: bytes) -> tuple[str, str]:
    """(where, key) of the first object in document order naming a key twice: `items.737.organiser_id`, the key."""
    location = duplicate_key_location(body)
    if location is None:
        raise AssertionError("the scan found a key twice")  # pragma: no cover
    key = str(location[-1])[:40]
    return ".".join(str(part) for part in (*location[:-1], key)), key


def key_given_twice(body: bytes) -> tuple[str, str] | None:
    """(where, key) when an object in the JSON `body` names a key twice, else None. Parsers disagree on such an
    object (Python's `json`, pydantic and FastAPI take the last value, others the first or refuse it: RFC 8259 §4),
    so a gateway, an audit or the client's own log may read `{"organiser_id": "A", "organiser_id": "B"}` as A while
    the service stored B: such a body is refused, as the SS 12000 import refuses such a page. A body that is not
    JSON is left to the route's own parser, which names its rule (None here). About a fifth of the CPU of
    validating a batch of a thousand items (2 ms against 10 ms), paid by every body the route reads."""
    try:
        json.loads(body, object_pairs_hook=_once)
    except _KeyTwice:
        return _where_twice(body)
    except (ValueError, RecursionError):  # not JSON, not UTF-8, nested beyond reach: the route's parser says so
        return None
    return None


class _NotFinite(Exception):
    pass


def _not_finite(constant: str) -> Any:
    """`parse_constant` of the scan: `NaN`, `Infinity` or `-Infinity`, which Python's `json` (and pydantic's parser)
    read as numbers though JSON has none of them (RFC 8259 §6)."""
    raise _NotFinite(constant)


class _Inexact(Exception):
    pass


#: the rule of a JSON number a float holds only rounded (`json_refusal`), said in every document (`TEXT_RULES`)
INEXACT_RULE = "inexact_number"


def _read_as_written(text: str) -> float:
    """`parse_float` of the scan: a JSON number with a fraction or an exponent as Python's `json` and pydantic read it,
    a 64-bit float, refused where that float is not the number written (the shortest text of the float, `repr`, has
    another value). Round 33: `2.00000000000000001` (17 decimals) was stored as `2` where the document says at most
    four decimals (`decimal_max_places`: the rule saw the float), `1e-400` as `0`, and
    `123456789012345678901234567890.5` as `123456789012345680000000000000`: a value the client never sent, stored.
    An infinite float (`1e400`) is left to the field's own rule (`finite_number`, an integer's `int_type`)."""
    value = float(text)
    if len(text) <= 16 and sys.float_info.min <= abs(value) <= sys.float_info.max:
        # at most 15 significant digits (a text here holds a '.' or an 'e') in the normal range: every such number a
        # float holds as written (`DBL_DIG`), no `Decimal` for them. Called for numbers with a fraction or an exponent
        # only (a batch of integers and text pays nothing): about 0.15 µs a number (bench/body_scan33.py)
        return value
    if repr(value) != text and math.isfinite(value) and Decimal(text) != Decimal(repr(value)):
        raise _Inexact
    return value


_MARK = object()


def _where_constant(body: bytes) -> str:
    """`items.3.revision`: where the first `NaN`/`Infinity` of a body stands, in document order."""
    return _where_marked(json.loads(body, parse_constant=lambda _: _MARK, object_pairs_hook=_Pairs))


def _where_inexact(body: bytes) -> str:
    """`items.3.points`: where the first number a float does not hold as written stands, in document order."""
    def mark(text: str) -> Any:
        try:
            return _read_as_written(text)
        except _Inexact:
            return _MARK

    return _where_marked(json.loads(body, parse_float=mark, object_pairs_hook=_Pairs))


class _Pairs(list[tuple[str, Any]]):
    """An object of a body as its (key, value) pairs, every one kept: a key given twice hides no value behind it."""


def _where_marked(document: Any) -> str:
    """Where the first `_MARK` of a body parsed with `object_pairs_hook=_Pairs` stands, in document order (`body` for
    the whole)."""
    def walk(value: Any, path: tuple[str, ...]) -> tuple[str, ...] | None:
        if value is _MARK:
            return path
        items = value if isinstance(value, _Pairs) else enumerate(value) if isinstance(value, list) else ()
        for key, item in items:
            found = walk(item, (*path, str(key)[:40]))
            if found is not None:
                return found
        return None

    found = walk(document, ())
    return ".".join(found) if found else "body"


def json_refusal(body: bytes) -> tuple[str, str, str] | None:
    """(where, rule, message) when the JSON `body` is one the services refuse before a route parses it, else None:
    a key given twice in one object (`key_given_twice`), or `NaN`, `Infinity` or `-Infinity`, which are no JSON
    (RFC 8259 §6) and which Python's `json` and pydantic read as numbers: a field typed loosely (a LIKA rating, a
    list of anything) took them as floats, and a typed one refused them as "not a valid integer", naming no rule; or a
    number a float holds only rounded (`_read_as_written`: `inexact_number`). A body that is not JSON is left to the
    route's own parser (None here)."""
    try:
        json.loads(body, object_pairs_hook=_once, parse_constant=_not_finite, parse_float=_read_as_written)
    except _KeyTwice:
        try:
            where, key = _where_twice(body)
        except (ValueError, RecursionError, AssertionError):
            return None  # the scan stopped at the key before the body's fault (`{"a":1,"a":2} x`): not JSON at all
        return where, "duplicate_key", (f"the key {key!r} is given twice in one object: JSON parsers differ "
                                        "on which one counts (RFC 8259 §4); send it once")
    except _NotFinite as constant:
        try:  # round 21: `{"a": NaN, "b": -NaN}` stopped the scan at NaN, and finding where it stands parsed the
            where = _where_constant(body)  # whole body: the `-NaN` after it was a JSONDecodeError, a 500
        except (ValueError, RecursionError):
            return None  # not JSON at all: the route's parser names it (`json_invalid`)
        return (where, "non_finite_number",
                f"{constant.args[0]} is not a JSON number (RFC 8259 §6); send a number or null")
    except _Inexact:
        try:
            where = _where_inexact(body)
        except (ValueError, RecursionError):
            return None  # not JSON at all: the route's parser names it (`json_invalid`)
        # the number is not repeated: twelve digits and a fraction may be a personal identity number
        return (where, INEXACT_RULE, "a number no 64-bit floating point number holds as written (RFC 8259 §6): it "
                                     "would be read rounded, another number; send it with fewer significant digits")
    except json.JSONDecodeError:
        return None  # not JSON at all: the route's parser names it (`json_invalid`)
    except UnicodeDecodeError as error:
        # round 25: bytes that are no UTF-8 (Latin-1 `Åsa`, binary) were FastAPI's 400 "There was an error parsing the
        # body" (`json_invalid`, which is a 422 for every other body that is no JSON), where UTF-16 or a byte order
        # mark is a 415 `utf8_charset`: now that 415 too, naming where the first such byte is
        return ("body", "utf8_charset", f"the body is not UTF-8 (RFC 8259 §8.1): byte {error.start} (from 0) begins "
                                        "no UTF-8 character; send JSON in UTF-8")
    except RecursionError:
        # round 25: such a body (valid JSON or not) was FastAPI's 400 "There was an error parsing the body", named
        # `json_invalid` "the body is not JSON in UTF-8" — false of `[[[…]]]` 10,000 deep, which is JSON
        return ("body", "max_depth", "arrays and objects nested too deep to be read (no body of this service "
                                     "nests more than a few levels); send the body as the operation's schema has it")
    except ValueError as error:
        if "integer string conversion" not in str(error):
            return None
        # a number of more digits than Python reads (`sys.get_int_max_str_digits`), likewise not "not JSON"
        return ("body", "max_digits", f"a number of more than {sys.get_int_max_str_digits()} digits; no field "
                                      "takes one")
    return None


class RemovalIn(InputModel):
    """The body of a removal (a retraction, a withdrawal) on the write path: the revision the removal
    becomes, or none for the next one. A service's removal body subclasses it under its own name (the
    name its OpenAPI document shows), adding what it records besides (a reason)."""

    revision: RemovalRevision | None = None


Body = TypeVar("Body", bound=BaseModel)


def _errors(error: ValidationError) -> list[dict[str, Any]]:
    return [{**e, "loc": ("body", *e["loc"])} for e in error.errors()]


def _parse_json_body(model: type[Body]) -> Callable[[Request], Awaitable[Body]]:
    async def parse(request: Request) -> Body:
        raw = await request.body()
        if not raw:  # as FastAPI answers a required body that is not there
            raise RequestValidationError([{"type": "missing", "loc": ("body",), "msg": "Field required",
                                           "input": None}])
        if request.headers.get("content-type") is None:  # as FastAPI: without a media type, not read as JSON
            try:
                return model.model_validate(raw, from_attributes=True)
            except ValidationError as error:
                raise RequestValidationError(_errors(error)) from None
        try:
            return model.model_validate_json(raw)
        except ValidationError as error:
            refused = error
        # Refused: answered as FastAPI's body parameter answers (the same fields, rules and messages),
        # by its way (the JSON as Python values, then validated); only a refused body pays for it.
        try:
            value = json.loads(raw)
        except json.JSONDecodeError as error:
            raise RequestValidationError([{"type": "json_invalid", "loc": ("body", error.pos),
                                           "msg": "JSON decode error", "input": {},
                                           "ctx": {"error": error.msg}}]) from None
        except Exception as error:  # e.g. nested beyond Python's reach: FastAPI's 400
            raise HTTPException(status_code=400, detail="There was an error parsing the body") from error
        try:
            model.model_validate(value, from_attributes=True)
        except ValidationError as error:
            raise RequestValidationError(_errors(error)) from None
        raise RequestValidationError(_errors(refused)) from None  # never looser than the one pass

    return parse


def json_body(model: type[Body]) -> Any:
    """A route's JSON body, parsed and validated in one pass: pydantic's `model_validate_json` on the
    body's bytes (FastAPI's own body parameter parses the JSON into dicts and lists first and then
    validates those: about half again the CPU for a batch of a thousand items). The same rules
    apply (the model's), and a refused body is the same `RequestValidationError` FastAPI's body
    parameter raises (worked out again its way, for refused bodies only): the kit's 422 problem
    naming `items.<index>.<field>` and the rule. The media type is the `RequestGuard`'s (415).
    Document the body with `openapi_extra=json_body_openapi(model)`."""
    return Depends(_parse_json_body(model))


def json_body_openapi(model: type[BaseModel]) -> dict[str, Any]:
    """The `openapi_extra` of a route whose body is `json_body(model)`: the body's schema as FastAPI
    documents a body parameter, inline (its own parts refer to the components FastAPI makes of the
    same models for the service's other routes: the single-item body of a batch's items)."""
    schema = model.model_json_schema(ref_template="#/components/schemas/{model}")
    schema.pop("$defs", None)
    return {"requestBody": {"content": {"application/json": {"schema": schema}}, "required": True}}

"""Query and path parameters, read strictly: one rule for every operation of the four services and the dashboard.

FastAPI validates a parameter's text with pydantic in lax mode, where `int("1_0")` is 10 and `+1`, ` 1`, `1 `, `1.0`
and `-0` are numbers; a boolean is any of `1`, `yes`, `on`, `t`, `Y`, `TRUE`; a UUID may come in braces, as a URN
or without its hyphens; a date may be a date-time at midnight; a parameter given twice is read by its last value
(`?year=7&year=8` asked for year 8, while a proxy, a cache or an audit that reads the first saw year 7); an unknown
parameter (`?yaer=7`, a misspelt filter) was silently dropped, the answer then covering every year; `%ff` (no UTF-8)
became U+FFFD and raw non-ASCII bytes were read as Latin-1. Here, before the operation's own parameters are read
(`strict_parameters`, an app-wide dependency like the Accept rule):

- an integer is ASCII digits, without `+`, blanks, `_`, decimals or leading zeros (`0` itself is fine; `-0` is not);
  within its bounds (a database integer where it names none), so a `-` passes only where negative makes sense;
- a boolean is `true` or `false`; a UUID its 36-character hyphenated form (either case); a date `YYYY-MM-DD`; a
  date-time RFC 3339 with its offset (pydantic's `AwareDatetime` and its kin too); either in the years every body and
  event allows (`date_range`: year 1 or 9999 with an offset is no moment Python or PostgreSQL can hold in UTC);
- text obeys the text rules every input obeys (no control characters, no personal identity number), where its type
  does not already apply them (a NUL in a path parameter is named by that parameter); a text query parameter given is
  not empty or blank (`not_blank`: `?owner=` was a filter by "", echoed as the filter applied); and a pattern means
  ASCII digits by `\\d` as JSON Schema does;
- a header parameter (reporting's `Idempotency-Key`) is sent once (`single_header`: Starlette reads the first of two,
  a proxy or the client's own log the last, or both joined) and obeys the text rules (a personal identity number as
  the key was stored with the outcome for a day);
- a parameter that is not a list is given once (`repeated`), a list's values each once (`unique`: round 26's fuzzing
  found reporting's `?split=gender&split=gender` grouping by one column twice, a 500, as a body's arrays are
  `unique_items`); an unknown query parameter is refused
  (`unknown_parameter`), or ignored where the app asks for it (the dashboard's pages: a browser arrives with what
  links and the identity provider add, `utm_source`, `session_state`);
- a query string is percent-encoded UTF-8 (`percent_encoding`, `utf8`);
- where any of these is broken, a required query parameter left out is named too (`missing`), as FastAPI names it.

A broken rule is the same `RequestValidationError` FastAPI raises, so each app answers it as it answers any invalid
parameter: the services a 422 problem naming the parameter and the rule, the dashboard its error page. Enum and
literal values were already exact (`planned`, not `PLANNED`), and identifier types apply their own rules after these.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import date, datetime
from enum import Enum
from types import UnionType
from typing import Annotated, Any, Literal, Union, get_args, get_origin
from urllib.parse import unquote_to_bytes
from uuid import UUID

import annotated_types
from fastapi import Request
from fastapi.dependencies.utils import get_flat_params
from fastapi.exceptions import RequestValidationError
from fastapi.routing import APIRoute
from pydantic import AwareDatetime, FutureDate, FutureDatetime, NaiveDatetime, PastDate, PastDatetime
from pydantic.fields import FieldInfo
from pydantic_core import PydanticCustomError

from styrkedja_contracts.events.base import DATE_TEXT, DATETIME_TEXT, EARLIEST_YEAR, LATEST_YEAR, MAX_INT4
from styrkedja_contracts.identifiers import BLANK_RULE, check_text

from .inputs import _flat, _held  # the request bodies' own judgement of which types check their text

Kind = Literal["integer", "boolean", "uuid", "date", "datetime", "number", "text"]

_SIGNED = re.compile(r"0|-?[1-9][0-9]*")  # no `-0`
_UUID = re.compile(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}")
#: RFC 3339 §5.6, the one form of the bodies and events too (`t` and `z` in lower case too): a moment, never a naive
#: local time or a Unix timestamp. A fraction of any length (.NET writes seven digits) since round 28t, as there
_DATE, _DATETIME = DATE_TEXT, DATETIME_TEXT
_NUMBER = re.compile(r"-?(?:0|[1-9][0-9]*)(?:\.[0-9]+)?")  # no exponent, NaN or Infinity
#: a value longer than this is no integer of any bound (and `int()` of thousands of digits costs, or raises)
_MAX_DIGITS = 19
BOOLEANS = {"true": True, "false": False}

#: what each kind of value must look like, as the OpenAPI documents say it (`describe`)
FORMATS: dict[str, str] = {
    "integer": "ASCII digits only: no '+', blanks, '_', decimals or leading zeros",
    "boolean": "`true` or `false`",
    "uuid": "the 36-character form with hyphens",
    "date": f"an ISO 8601 date, YYYY-MM-DD, in the years {EARLIEST_YEAR}-{LATEST_YEAR}",
    "datetime": f"an RFC 3339 date-time with its offset, in the years {EARLIEST_YEAR}-{LATEST_YEAR}",
    "number": "a decimal number: no exponent, NaN or Infinity",
}


@dataclass(frozen=True)
class Parameter:
    """One query or path parameter of an operation, as the strict rule reads it."""

    name: str  # as sent (its alias)
    where: Literal["query", "path", "header"]
    kind: Kind
    many: bool = False  # a list: may be given more than once
    low: int | None = None  # an integer's least and greatest value
    high: int | None = None
    text_rules: bool = False  # text its type does not check: the text rules apply here
    #: a query parameter the operation cannot do without: named `missing` beside the other broken rules
    required: bool = False
    #: its text's pattern as JSON Schema means it (ECMA-262: `\d` is 0-9), where pydantic's engine reads `\d` as any
    #: Unicode digit (`１２３４５６７８` passed the dashboard's `^\d{8}$` as a school unit)
    pattern: re.Pattern[str] | None = None

    @property
    def negative(self) -> bool:
        return self.low is None or self.low < 0


@dataclass(frozen=True)
class Parameters:
    """Every query and path parameter of one operation (its dependencies' too)."""

    query: Mapping[str, Parameter]
    path: Mapping[str, Parameter]
    #: by the header's name in lower case (a header's name is case-insensitive), each named as declared
    header: Mapping[str, Parameter] = field(default_factory=dict)


def _bounds(metadata: Iterable[Any]) -> tuple[int | None, int | None]:
    low: int | None = None
    high: int | None = None
    for m in metadata:
        if isinstance(m, annotated_types.Ge) and isinstance(m.ge, int):
            low = m.ge if low is None else max(low, m.ge)
        elif isinstance(m, annotated_types.Gt) and isinstance(m.gt, int):
            low = m.gt + 1 if low is None else max(low, m.gt + 1)
        elif isinstance(m, annotated_types.Le) and isinstance(m.le, int):
            high = m.le if high is None else min(high, m.le)
        elif isinstance(m, annotated_types.Lt) and isinstance(m.lt, int):
            high = m.lt - 1 if high is None else min(high, m.lt - 1)
        elif isinstance(m, FieldInfo):
            inner = _bounds(m.metadata)
            low = inner[0] if low is None else low if inner[0] is None else max(low, inner[0])
            high = inner[1] if high is None else high if inner[1] is None else min(high, inner[1])
    return low, high


def _pattern(metadata: Iterable[Any]) -> re.Pattern[str] | None:
    for m in metadata:
        inner = _pattern(m.metadata) if isinstance(m, FieldInfo) else None
        if inner is not None:
            return inner
        pattern = getattr(m, "pattern", None)
        if isinstance(pattern, str):
            return re.compile(pattern, re.ASCII)
    return None


def _kind(annotation: Any, metadata: list[Any]) -> tuple[Kind, bool, list[Any], bool]:
    """(kind, a list, the metadata met on the way, text its type checks) of a parameter's annotation."""
    origin = get_origin(annotation)
    if origin is Annotated:
        base, *extra = get_args(annotation)
        return _kind(base, [*metadata, *extra])
    if origin in (Union, UnionType):
        kinds = [_kind(arg, metadata) for arg in get_args(annotation) if arg is not type(None)]
        if len(kinds) == 1:
            return kinds[0]
        return "text", any(k[1] for k in kinds), metadata, True  # a union of kinds: left to its own types
    if origin in (list, tuple, set, frozenset, Sequence):
        args = [a for a in get_args(annotation) if a is not Ellipsis]
        kind, _, meta, held = _kind(args[0], []) if args else ("text", False, [], True)
        return kind, True, [*metadata, *meta], held
    if origin is Literal:
        values = get_args(annotation)
        if values and all(isinstance(v, bool) for v in values):
            return "boolean", False, metadata, True
        if values and all(isinstance(v, int) and not isinstance(v, bool) for v in values):
            return "integer", False, metadata, True
        return "text", False, metadata, True  # exact already (pydantic compares the text)
    if annotation is bool:
        return "boolean", False, metadata, True
    if isinstance(annotation, type) and issubclass(annotation, Enum):
        if issubclass(annotation, int):
            return "integer", False, metadata, True
        return "text", False, metadata, True
    if annotation is int:
        return "integer", False, metadata, True
    if annotation is float:
        return "number", False, metadata, True
    if annotation is UUID:
        return "uuid", False, metadata, True
    # pydantic's own date and time types are no subclasses of date or datetime, but the same text
    if annotation is datetime or annotation in (AwareDatetime, NaiveDatetime, PastDatetime, FutureDatetime):
        return "datetime", False, metadata, True
    if annotation is date or annotation in (PastDate, FutureDate):
        return "date", False, metadata, True
    return "text", False, metadata, _held(annotation, _flat(metadata))


def parameters_of(route: APIRoute) -> Parameters:
    """The parameters of one operation (cached per route: read once, when it is first asked)."""
    known: Parameters | None = getattr(route, _CACHED, None)
    if known is None:
        query: dict[str, Parameter] = {}
        path: dict[str, Parameter] = {}
        header: dict[str, Parameter] = {}
        for one in get_flat_params(route.dependant):
            # a field of a parameter model (`Annotated[Filters, Query()]`) carries no `in_`: read as the query's
            given = getattr(getattr(one.field_info, "in_", None), "value", "query")
            if given not in ("query", "path", "header"):
                continue
            where: Literal["query", "path", "header"] = "query" if given == "query" else "path" if given == "path" \
                else "header"
            kind, many, metadata, held = _kind(one.field_info.annotation, list(one.field_info.metadata))
            low, high = _bounds(metadata)
            if kind == "integer":  # a parameter naming no bound is a database integer
                low = -MAX_INT4 - 1 if low is None else low
                high = MAX_INT4 if high is None else high
            parameter = Parameter(one.alias, where, kind, many, low, high, text_rules=kind == "text" and not held,
                                  # a type that checks its own text names its own rule (`ascii_only`)
                                  pattern=_pattern(metadata) if kind == "text" and not held else None,
                                  required=one.field_info.is_required())
            if where == "header":
                header[parameter.name.lower()] = parameter
            else:
                (query if where == "query" else path)[parameter.name] = parameter
        known = Parameters(query, path, header)
        setattr(route, _CACHED, known)  # a route is not hashable: kept on it
    return known


_CACHED = "_styrkedja_parameters"


def _error(where: str, name: str, rule: str, message: str, **ctx: Any) -> dict[str, Any]:
    error: dict[str, Any] = {"type": rule, "loc": (where, name), "msg": message, "input": None}
    if ctx:
        error["ctx"] = ctx
    return error


def value_error(parameter: Parameter, value: str) -> dict[str, Any] | None:
    """Why `value` is not a value of `parameter` (a pydantic-style error: type, loc, msg, ctx), or None."""
    where, name, kind = parameter.where, parameter.name, parameter.kind
    if kind == "integer":
        signed = value.startswith("-")
        if not _SIGNED.fullmatch(value):  # `-0`, `+1`, `1_0`, ...
            return _error(where, name, "integer_format", f"must be {FORMATS['integer']}")
        # `-1` where the least value is 0 or more: below it (a `-` only where negative makes sense)
        number = int(value) if len(value) <= _MAX_DIGITS else (-1 if signed else 1) * 10 ** _MAX_DIGITS
        if parameter.low is not None and number < parameter.low:
            return _error(where, name, "greater_than_equal",
                          f"Input should be greater than or equal to {parameter.low}", ge=parameter.low)
        if parameter.high is not None and number > parameter.high:
            return _error(where, name, "less_than_equal",
                          f"Input should be less than or equal to {parameter.high}", le=parameter.high)
        return None
    if kind == "boolean":
        return None if value in BOOLEANS else _error(where, name, "bool_parsing", f"must be {FORMATS['boolean']}")
    if kind == "uuid":
        return None if _UUID.fullmatch(value) else _error(where, name, "uuid_format", f"must be {FORMATS['uuid']}")
    if kind == "date" and not _DATE.fullmatch(value):
        return _error(where, name, "date_format", f"must be {FORMATS['date']}")
    if kind == "datetime" and not _DATETIME.fullmatch(value):
        return _error(where, name, "datetime_format", f"must be {FORMATS['datetime']}")
    if kind in ("date", "datetime"):
        # the bodies' and events' years (`within_years`): 9999-12-31T23:59:59-01:00 is past `datetime.max` in UTC, an
        # OverflowError where a query compares it with a stored moment (a 500 before)
        if EARLIEST_YEAR <= int(value[:4]) <= LATEST_YEAR:
            return None
        return _error(where, name, "date_range", f"Input should be a date or time in the years {EARLIEST_YEAR}–"
                      f"{LATEST_YEAR}", earliest=EARLIEST_YEAR, latest=LATEST_YEAR)
    if kind == "number":
        return None if _NUMBER.fullmatch(value) else _error(where, name, "number_format",
                                                            f"must be {FORMATS['number']}")
    if parameter.pattern is not None and not value.isascii() and not parameter.pattern.search(value):
        return _error(where, name, "string_pattern_mismatch",
                      f"String should match pattern '{parameter.pattern.pattern}' (ASCII: \\d is 0-9)",
                      pattern=parameter.pattern.pattern)
    if parameter.text_rules and where == "query" and (not value or value.isspace()):
        # `?owner=` (or `?owner`, `?owner=+`) filtered by "" and echoed "" as the filter applied, where an empty
        # integer, date or enum is refused: given, a text parameter says something (leave it out to mean nothing)
        return _error(where, name, BLANK_RULE, "must not be empty or blank: leave the parameter out instead")
    if parameter.text_rules:
        try:
            check_text(value)
        except PydanticCustomError as broken:
            return _error(where, name, broken.type, broken.message())
    return None


def _decoded(piece: bytes) -> str | None:
    """A name or value of an ASCII query string, percent-decoded as UTF-8 (`+` a blank); None if it is no UTF-8."""
    if b"%" not in piece and b"+" not in piece:
        return piece.decode("ascii")
    try:
        return unquote_to_bytes(piece.replace(b"+", b" ")).decode("utf-8")
    except UnicodeDecodeError:
        return None


def query_items(raw: bytes) -> tuple[list[tuple[str, str]], list[dict[str, Any]]]:
    """The (name, value) pairs of a raw query string, read as RFC 3986 and the URL standard write them
    (percent-encoded UTF-8, `+` a blank, empty pairs skipped), and the errors of those that are not: raw bytes
    outside ASCII (`percent_encoding`) or percent-encoded bytes that are no UTF-8 (`utf8`)."""
    items: list[tuple[str, str]] = []
    errors: list[dict[str, Any]] = []
    for part in raw.split(b"&"):
        if not part:
            continue
        raw_name, _, raw_value = part.partition(b"=")
        if not part.isascii():
            errors.append(_error("query", unquote_to_bytes(raw_name).decode("utf-8", "replace")[:40],
                                 "percent_encoding",
                                 "must be percent-encoded: no raw bytes outside ASCII in a query (RFC 3986)"))
            continue
        name, value = _decoded(raw_name), _decoded(raw_value)
        if name is None or value is None:
            shown = name if name is not None else unquote_to_bytes(raw_name).decode("utf-8", "replace")[:40]
            errors.append(_error("query", shown, "utf8", "must be percent-encoded UTF-8 (RFC 3986 §2.5)"))
        else:
            items.append((name, value))
    return items, errors


def judge(parameters: Parameters, query: bytes, path: Mapping[str, Any], *,
          unknown: Literal["refuse", "ignore"] = "refuse", text_rules: bool = True,
          headers: Sequence[tuple[bytes, bytes]] = ()) -> list[dict[str, Any]]:
    """Every broken rule of a request's query string (raw bytes), path parameters (decoded, as routed) and header
    parameters (`headers`: the raw pairs, as the server hands them over) against an operation's `parameters`; one
    error per parameter (its first), none when all hold. `text_rules=False`: text is left to the app's own check (the
    dashboard's, which knows the values its identity provider makes)."""
    items, errors = query_items(query) if query else ([], [])
    named = {e["loc"][1] for e in errors}
    counts: dict[str, int] = {}
    for name, _ in items:
        counts[name] = counts.get(name, 0) + 1
    listed: dict[str, set[str]] = {}  # the values of each list parameter met so far
    for name, value in items:
        if name in named:
            continue
        parameter = parameters.query.get(name)
        if parameter is None:
            if unknown == "refuse":
                named.add(name)
                takes = ", ".join(sorted(parameters.query)) or "none"
                errors.append(_error("query", name, "unknown_parameter",
                                     f"not a parameter of this operation (it takes: {takes[:300]})"))
            continue
        if counts[name] > 1 and not parameter.many:
            named.add(name)
            errors.append(_error("query", name, "repeated", "given more than once; this parameter takes one value"))
            continue
        error = value_error(parameter if text_rules else _without_text_rules(parameter), value)
        if error is not None:
            named.add(name)
            errors.append(error)
        elif parameter.many:
            if value in listed.setdefault(name, set()):  # not echoed: the first was judged, the rule is the point
                named.add(name)
                errors.append(_error("query", name, "unique", "gives one value more than once; give each value once"))
            listed[name].add(value)
    if errors:  # as FastAPI names them, so that one answer names every parameter to mend
        errors += [_error("query", name, "missing", "Field required") for name, parameter in parameters.query.items()
                   if parameter.required and name not in counts and name not in named]
    for name, parameter in parameters.path.items():
        given = path.get(name)
        if isinstance(given, str):
            error = value_error(parameter if text_rules else _without_text_rules(parameter), given)
            if error is not None:
                errors.append(error)
    if parameters.header:
        errors += _header_errors(parameters.header, headers, text_rules)
    return errors


def _header_errors(declared: Mapping[str, Parameter], headers: Sequence[tuple[bytes, bytes]],
                   text_rules: bool) -> list[dict[str, Any]]:
    sent: dict[str, list[str]] = {}
    for raw_name, raw_value in headers:
        name = raw_name.decode("latin-1").lower()
        if name in declared:  # as Starlette decodes a header
            sent.setdefault(name, []).append(raw_value.decode("latin-1"))
    errors = []
    for name, values in sent.items():
        parameter = declared[name]
        if len(values) > 1:
            errors.append(_error("header", parameter.name, "single_header",
                                 "sent more than once; this header takes one value"))
            continue
        error = value_error(parameter if text_rules else _without_text_rules(parameter), values[0])
        if error is not None:
            errors.append(error)
    return errors


def _without_text_rules(parameter: Parameter) -> Parameter:
    return replace(parameter, text_rules=False) if parameter.text_rules else parameter


def strict_parameters(unknown: Literal["refuse", "ignore"] = "refuse", *, text_rules: bool = True,
                      when: Callable[[Request], bool] | None = None) -> Callable[[Request], Awaitable[None]]:
    """The app-wide dependency (`FastAPI(dependencies=[Depends(strict_parameters())])`): the rules above, for the
    operation the request was routed to, before its own parameters are read; a broken rule is FastAPI's own
    `RequestValidationError` (each app's 422). `unknown`, `text_rules`: see `judge`. `when`: judged only for the
    requests it admits (the dashboard's: a visitor not signed in is sent to sign in first, as before, and the page
    is judged when the browser comes back to it)."""

    async def strict(request: Request) -> None:
        route = request.scope.get("route")
        query = request.scope.get("query_string") or b""
        if not isinstance(route, APIRoute):
            return
        known = parameters_of(route)
        if not query and not request.path_params and not known.header:
            return
        if when is not None and not when(request):
            return
        errors = judge(known, query, request.path_params, unknown=unknown, text_rules=text_rules,
                       headers=request.scope.get("headers") or ())
        if errors:
            raise RequestValidationError(errors)

    return strict


#: One rule for an integer in a JSON body, every door's (the kit's `InputModel` and the contracts' models: strict
#: integers, `int_type`), as in the events, whose contracts take the same values strictly — a door that took `7.0`
#: would take what a producer writing straight to Kafka is refused. JSON Schema's `type: integer` counts 7.0 as an
#: integer (one number), so no schema can say it: the document says it in words, at each such field and once at the
#: top. (Query and path integers are text: ASCII digits, `integer_format`.)
BODY_INTEGERS = ("In a JSON body an integer is written without a fraction or an exponent (`7`, not `7.0` or `7e0`) "
                 "and is never text or a boolean: anything else is a 422 naming the field (`int_type`), as the "
                 "events' contracts take integers.")
BODY_INTEGER = "A JSON integer: `7`, not `7.0`, `7e0` or `\"7\"`."
#: The text rules every string of a request obeys (`check_text`, `check_name`, the contracts' identifiers), said once
#: at the top of each document as `BODY_INTEGERS` is: no JSON Schema keyword says "no personal identity number in any
#: spelling" or "no zero-width space", so a client generated from the document met 422s it did not announce (round 31:
#: schemathesis' positive_data_acceptance sent `"\u0085"`, a blank `reason`, `3109847800` as an organiser id).
TEXT_RULES = ("Every string of a body, a query or a path is text by these rules, each broken a 422 naming the field "
              "and the rule: no control characters (`no_control_characters`; tab, newline and carriage return only "
              "in free text), no bidirectional controls or lone surrogates (`no_control_characters`), no Unicode "
              "noncharacters (`no_noncharacters`), no personal identity number in any spelling "
              "(`no_personal_identity_number`: ids are pseudonymous); ids and codes in ASCII (`ascii_only`); names, "
              "tags and ids without invisible characters (`no_invisible_characters`) and never only spaces "
              "(`not_blank`), as free text given is never blank either; each word of a name, a tag or an owner is "
              "of one script (`no_mixed_scripts`, Unicode TS #39: Latin may join Han and kana, bopomofo or hangul; "
              "words of different scripts may stand in one name), and a word beside Latin words is not wholly of another "
              "script's letters drawn like Latin ones (`no_whole_script_confusables`: \"Klass 7А\" with a Cyrillic А). "
              "A value naming an entry of a list or of the "
              "calendar is checked against it beyond its pattern: a subject code on Skolverket's subject list "
              "(`unknown_subject_code`), a catalogue version the service holds (`unknown_catalogue_version`), a "
              "school year two consecutive years from 1900/01 to 9998/99 (`value_error`), a date within the school "
              "years a request may name (`date_range`). A path parameter never holds an encoded `/` or `\\` (`%2F`, "
              "`%5C`): a 400 naming `path` (`encoded_separator`), as no id has one. A number of a body is read as "
              "written: one that a 64-bit floating point number holds only rounded (`2.00000000000000001`, "
              "`1e-400`) is refused (`inexact_number`), not stored as another.")


def _describe_body_integers(schema: Any) -> None:
    """Each integer property of a body schema (or an optional one, `anyOf` with null) says `BODY_INTEGER`."""
    if not isinstance(schema, dict):
        return
    for prop in schema.get("properties", {}).values():
        if not isinstance(prop, dict):
            continue
        types = {prop.get("type"), *(s.get("type") for s in prop.get("anyOf", []) if isinstance(s, dict))}
        if "integer" in types:
            old = prop.get("description", "")
            if BODY_INTEGER not in old:
                prop["description"] = f"{old} {BODY_INTEGER}".strip()
        elif prop.get("type") == "object" or "properties" in prop:
            _describe_body_integers(prop)
        if isinstance(prop.get("items"), dict):
            _describe_body_integers(prop["items"])


def describe(openapi: dict[str, Any], unknown: Literal["refuse", "ignore"] = "refuse") -> dict[str, Any]:
    """Each query and path parameter's description in an OpenAPI document says the rule its value keeps (`FORMATS`),
    and that it is given once unless it is a list; the document's description says what becomes of an unknown
    parameter."""
    for path_item in openapi.get("paths", {}).values():
        for operation in path_item.values():
            if not isinstance(operation, dict):
                continue
            for parameter in operation.get("parameters", []):
                if parameter.get("in") not in ("query", "path"):
                    continue
                schema = parameter.get("schema", {})
                types = {schema.get("type"), *(s.get("type") for s in schema.get("anyOf", []))}
                formats = {schema.get("format"), *(s.get("format") for s in schema.get("anyOf", []))}
                kind = ("integer" if "integer" in types else "boolean" if "boolean" in types
                        else "number" if "number" in types else "uuid" if "uuid" in formats
                        else "date" if "date" in formats else "datetime" if "date-time" in formats else None)
                said = [f"{FORMATS[kind][0].upper()}{FORMATS[kind][1:]}." if kind else ""]
                if parameter["in"] == "query":
                    said.append("May be given more than once, each value once." if "array" in types else "Given once.")
                    for array in (s for s in (schema, *schema.get("anyOf", [])) if s.get("type") == "array"):
                        array["uniqueItems"] = True
                rule = " ".join(s for s in said if s)
                old = parameter.get("description", "")
                if rule and rule not in old:
                    parameter["description"] = f"{old} {rule}".strip() if old else rule
    for schema in openapi.get("components", {}).get("schemas", {}).values():
        _describe_body_integers(schema)
    for path_item in openapi.get("paths", {}).values():  # inline bodies (`json_body_openapi`)
        for operation in path_item.values():
            if isinstance(operation, dict):
                for media in operation.get("requestBody", {}).get("content", {}).values():
                    _describe_body_integers(media.get("schema", {}))
    info = openapi.setdefault("info", {})
    if BODY_INTEGERS not in info.get("description", ""):
        info["description"] = f"{info.get('description', '')}\n\n{BODY_INTEGERS}".strip()
    if TEXT_RULES not in info.get("description", ""):
        info["description"] = f"{info.get('description', '')}\n\n{TEXT_RULES}".strip()
    note = ("Query and path parameters are read strictly: integers in ASCII digits, booleans `true`/`false`, "
            "a parameter given once unless it is a list, the query string percent-encoded UTF-8; "
            + ("an unknown query parameter is a 422 naming it (`unknown_parameter`)." if unknown == "refuse"
               else "unknown query parameters are ignored."))
    if note not in info.get("description", ""):
        info["description"] = f"{info.get('description', '')}\n\n{note}".strip()
    return openapi

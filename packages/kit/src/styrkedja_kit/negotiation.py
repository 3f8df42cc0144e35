"""Content negotiation, one rule for the four JSON APIs (RFC 9110 §12.5.1): an operation answers in JSON, its
refusals in problem+json, and where it says so in its OpenAPI `responses` also in other types (reporting's CSV and
xlsx tables, LIKA's workbooks). A request whose `Accept` header admits none of those is a 406 problem naming the
header; no `Accept`, `*/*`, `application/*` or any list with one of them at a weight above 0 is fine. A weight that
is not an RFC 9110 qvalue is a 400 naming the header (read leniently, `q=NaN` or `q=1.0001` outranked every
well-formed weight). Without this, an operation answered JSON to `Accept: application/xml` in three services and
406 in reporting's tables alone. The dashboard, which answers HTML, does not use it.

`Accept` sent as two or more fields is one list, their values joined with commas (RFC 9110 §5.3): `accept_of`, read
by every place that negotiates (round 22: the first field alone was read, so `Accept: text/html` and `Accept:
application/json` on two lines was a 406 where a proxy joining them, as §5.3 allows, asked for JSON)."""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

from fastapi import Request
from fastapi.routing import APIRoute
from starlette.datastructures import Headers

from .parameters import parameters_of
from .problems import PROBLEM_JSON, Problem, field_error

JSON = "application/json"
#: what every operation answers in: its result, and its refusals
JSON_TYPES = (JSON, PROBLEM_JSON)

#: RFC 9110 §12.4.2: `qvalue = ( "0" [ "." 0*3DIGIT ] ) / ( "1" [ "." 0*3("0") ] )`
_QVALUE = re.compile(r"(?:0(?:\.[0-9]{0,3})?|1(?:\.0{0,3})?)")
#: RFC 9110 §12.5.1: `media-range = ( "*/*" / ( type "/*" ) / ( type "/" subtype ) )`, a type and a subtype each a
#: token (§5.6.2) — and `*` a type only in `*/*`. Round 21: `*/json` matched JSON by its `*` (and `text/csv` by
#: `*/csv`), a range no client can mean
_TOKEN = r"[!#$%&'+\-.^_`|~0-9A-Za-z][!#$%&'*+\-.^_`|~0-9A-Za-z]*"
_MEDIA_RANGE = re.compile(rf"\*/\*|{_TOKEN}/\*|{_TOKEN}/{_TOKEN}")


def _bad_weight(value: str) -> Problem:
    return Problem(400, "Bad request", f"the Accept header's weight q={value[:20]!r} is not a qvalue",
                   [field_error("Accept", "qvalue", "q must be a number from 0 to 1 with at most three decimals "
                                                    "(RFC 9110 §12.4.2)")])


def accepted(accept: str) -> list[tuple[float, int, str]]:
    """(q, -position, media range) per element of an Accept header that is a media range (`_MEDIA_RANGE`: not
    `*/json`, `json` or `a/b/c`, which are left out and so admit nothing); a weight that is not a qvalue (`NaN`,
    `inf`, `-1`, `1.0001`, `0.5e0`, two of them) is a 400 naming the header and the rule."""
    ranges = []
    for position, element in enumerate(accept.split(",")):
        media, *params = [part.strip() for part in element.split(";")]
        if not media:
            continue
        q: float | None = None
        for param in params:
            name, _, value = param.partition("=")
            if name.strip().lower() == "q":
                value = value.strip()
                if q is not None or not _QVALUE.fullmatch(value):
                    raise _bad_weight(value)
                q = float(value)
        if _MEDIA_RANGE.fullmatch(media):  # a range that is none (`*/json`, `json`) admits nothing
            ranges.append((1.0 if q is None else q, -position, media.lower()))
    return ranges


def matches(media_range: str, media_type: str) -> bool:
    kind, _, sub = media_range.partition("/")
    want_kind, _, want_sub = media_type.partition("/")
    return (kind == "*" or kind == want_kind) and (sub == "*" or sub == want_sub)


def weight(ranges: list[tuple[float, int, str]], media_type: str) -> float:
    """The weight `ranges` (`accepted`) give `media_type`: that of the most specific range matching it, the
    highest of those if several are as specific (RFC 9110 §12.5.1: in `application/json;q=0, */*` JSON is not
    acceptable, though `*/*` alone would take it); 0 where no range matches."""
    best = (-1, 0.0)
    for q, _, media_range in ranges:
        if matches(media_range, media_type):
            kind, _, sub = media_range.partition("/")
            best = max(best, ((kind != "*") + (sub != "*"), q))
    return best[1]


def admits(accept: str | None, media_types: Iterable[str]) -> bool:
    """Whether an Accept header (None: absent) admits one of `media_types` at a weight above 0 (`weight`). Read
    as any range at a weight above 0, `application/json;q=0, */*` was answered in JSON."""
    if accept is None or not accept.strip():
        return True
    ranges = accepted(accept)
    return any(weight(ranges, m.split(";")[0].strip().lower()) > 0 for m in media_types)


def not_acceptable(accept: str, media_types: Iterable[str]) -> Problem:
    """The 406 of an Accept header admitting none of `media_types` (which it names; the header's value is not
    repeated beyond 200 characters, and the problem's text is made safe as every problem's is)."""
    named = ", ".join(dict.fromkeys(m.split(";")[0] for m in media_types))
    return Problem(406, "Not acceptable", f"cannot answer in any of the accepted types ({accept[:200]})",
                   [field_error("Accept", "not_acceptable", f"accept one of {named} (or */*); a range is */*, "
                                                            "type/* or type/subtype (RFC 9110 §12.5.1)")])


def produces(route: APIRoute) -> tuple[str, ...]:
    """The media types an operation answers in: JSON and problem+json, its response class's, and those its
    `responses` document for a success. Read only for an Accept header that admits no JSON (rare), so not kept."""
    response_class: Any = getattr(route.response_class, "value", route.response_class)  # FastAPI's default
    types = [*JSON_TYPES, *([response_class.media_type] if getattr(response_class, "media_type", None) else [])]
    for status, response in route.responses.items():
        if str(status).startswith("2") or status == "default":
            types += list((response.get("content") or {}).keys())
    return tuple(dict.fromkeys(types))


def accept_of(headers: Headers) -> str | None:
    """The request's `Accept`: its fields' values as one list (RFC 9110 §5.3), None where none was sent."""
    values = headers.getlist("accept")
    return ", ".join(values) if values else None


def raw_accept_of(raw: Iterable[tuple[bytes, bytes]]) -> bytes | None:
    """`accept_of` of an ASGI scope's raw headers (names in lower case, as servers hand them over)."""
    values = [value for name, value in raw if name == b"accept"]
    return b", ".join(values) if values else None


#: the query parameter by which a request names the type an operation answers in (reporting's tables: `format=csv`)
FORMAT_PARAMETER = "format"


def names_its_format(request: Request, route: APIRoute) -> bool:
    """Whether `request` names its type by the operation's own `format` query parameter: then it is not negotiated,
    its `Accept` disregarded as RFC 9110 §12.5.1 allows (the operation refuses a value it does not know, 422). Round
    26: `Accept: application/json&format=csv` was answered CSV (the format won) but `Accept: application/xml&format=csv`
    406 — two rules for one conflict; the format now wins in both."""
    return FORMAT_PARAMETER in request.query_params and FORMAT_PARAMETER in parameters_of(route).query


async def acceptable(request: Request) -> None:
    """The app-wide dependency: the rule above, before the operation's own parameters are read (async: no thread
    per request). What an operation answering several types then picks among them is its own choice; a request
    naming it by `format=` is not negotiated (`names_its_format`)."""
    accept = accept_of(request.headers)
    if accept is None or admits(accept, JSON_TYPES):
        return
    route = request.scope.get("route")
    if isinstance(route, APIRoute) and names_its_format(request, route):
        return
    types = produces(route) if isinstance(route, APIRoute) else JSON_TYPES
    if not admits(accept, types):
        raise not_acceptable(accept, types)

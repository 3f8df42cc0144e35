"""A GET form sends every field, the empty ones too (`?amne=&omgang=`): an empty value means "not
chosen", so it is dropped from the query before the routes validate it (an empty subject code is no
bad subject code). Plain ASGI, so the raw query stays byte for byte what the browser sent. And what a 422 says:
each field a request got wrong with the rule it broke."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any

from fastapi import HTTPException, Request
from fastapi.exceptions import RequestValidationError
from starlette.types import ASGIApp, Receive, Scope, Send

from styrkedja_contracts.identifiers import (
    CONTROL_RULE,
    NONCHARACTER_RULE,
    PIN_ERROR,
    PIN_RULE,
    canonical_organiser_id,
    has_personal_identity_number,
)
from styrkedja_kit.negotiation import accept_of, admits
from styrkedja_kit.problems import Problem

#: values the identity provider makes (random), never a person's: not judged
_PROVIDERS_OWN = frozenset({"code", "state", "session_state", "iss"})


def no_personal_identity_number(request: Request) -> None:
    """Every route's first check: no query value holds a personal identity number in any spelling — a 422 naming
    the parameter and the rule before any service is asked (the pages' own patterns let `19121212-1212` through
    as a unit, which went on to reporting in the query of every read), whichever parameter carries it; also once
    read as an organisation number (`161212121212`, the 12-digit form `huvudman` is read in, is `121212-1212`)."""
    broken = [{"loc": ("query", name), "type": PIN_RULE, "msg": PIN_ERROR}
              for name, value in request.query_params.multi_items()
              if name not in _PROVIDERS_OWN and (has_personal_identity_number(value)
                                                 or has_personal_identity_number(canonical_organiser_id(value)))]
    if broken:
        raise RequestValidationError(broken)


def without_empty_values(query: bytes) -> bytes:
    """`a=1&b=&c` → `a=1`: parameters without a value are left out, the others kept as sent."""
    return b"&".join(part for part in query.split(b"&") if part.partition(b"=")[2])


class DropEmptyQueryValues:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope.get("query_string"):
            kept = without_empty_values(scope["query_string"])
            if kept != scope["query_string"]:
                scope = {**scope, "query_string": kept}
        await self.app(scope, receive, send)


#: the rule of a page's position (`efter`) its service did not write (the kit's `paging.CURSOR_RULE`)
PAGE_CURSOR_RULE = "page_cursor"


def _rule(error: Mapping[str, Any]) -> str:
    """The rule a value broke, in Swedish, from pydantic's error type and the route's own limits (`ctx`); never
    the value sent (it may be anything, and it is shown on the page)."""
    kind, ctx = str(error.get("type", "")), error.get("ctx") or {}
    limits = {"less_than_equal": ("högst", "le"), "greater_than_equal": ("minst", "ge"),
              "less_than": ("under", "lt"), "greater_than": ("över", "gt")}
    if kind in limits and limits[kind][1] in ctx:
        word, key = limits[kind]
        return f"ska vara {word} {ctx[key]}"
    if kind == "literal_error" and "expected" in ctx:
        return f"ska vara en av {ctx['expected']}".replace("'", "").replace(" or ", " eller ")
    if kind == "string_too_long" and "max_length" in ctx:
        return f"får ha högst {ctx['max_length']} tecken"
    return {"missing": "saknas", "int_parsing": "ska vara ett heltal", "bool_parsing": "ska vara true eller false",
            "uuid_parsing": "ska vara ett id (UUID)", "uuid_type": "ska vara ett id (UUID)",
            "string_pattern_mismatch": "har fel form", "int_from_float": "ska vara ett heltal",
            "integer_format": "ska vara ett heltal",  # in the digits 0-9: no sign, blanks or leading zeros
            "repeated": "får bara anges en gång", "uuid_format": "ska vara ett id (UUID)",
            "date_format": "ska vara ett datum (ÅÅÅÅ-MM-DD)", "utf8": "ska vara kodad som UTF-8",
            "percent_encoding": "ska vara procentkodad", "unknown_parameter": "är ingen parameter för sidan",
            PIN_RULE: "får inte innehålla ett personnummer",
            PAGE_CURSOR_RULE: "är ingen sida av listan: följ länken till nästa sida, eller börja om från första",
            CONTROL_RULE: "får inte innehålla styrtecken (utom tabb och radbrytning)",
            NONCHARACTER_RULE: "får inte innehålla Unicodes icke-tecken",
            # `/nedbrytning?enhet=…` without `niva`, a unit the directory does not place (`chain.routes.level_of`)
            "level_of_unit": "saknas: ange nivån för enheten (area, school_unit eller group)",
            "not_the_organiser": "ska vara huvudmannen (eller utelämnas) när niva är organiser",
            "unit_of_level": "saknas: ange enheten när niva är area, school_unit eller group"}.get(
        kind, "har ett ogiltigt värde")


#: a field's name as a 422 page may repeat it: the pages' own are short words. Any other is what the request put
#: there, and a query parameter's name is anyone's text (`?Din inloggning har gått ut, ring 070-…=19121212-1212`
#: was said back by the page in the dashboard's own voice, signed in or not, however long)
_SHOWN_FIELD = re.compile(r"[A-Za-z_][A-Za-z0-9_.]{0,39}")
UNSHOWN_FIELD = "en parameter vars namn inte visas"


def invalid_fields(errors: Sequence[Mapping[str, Any]]) -> str:
    """`omgang (ska vara högst 4), forsta (saknas)`: each field a request got wrong, with the rule it broke."""
    named = []
    for error in errors:
        loc = [str(part) for part in error.get("loc", ())]
        field = ".".join(loc[1:]) or (loc[0] if loc else "?")
        field = field if _SHOWN_FIELD.fullmatch(field) else UNSHOWN_FIELD
        named.append(f"{field} ({_rule(error)})")
    return ", ".join(dict.fromkeys(named))


#: what the dashboard answers in: its pages, its downloads (CSV, xlsx, the PDF report) and its probes' JSON
ANSWERS_IN = ("text/html", "text/csv", "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
              "application/pdf", "application/json")


def acceptable_to_the_browser(request: Request) -> None:
    """The services' Accept rule (`styrkedja_kit.negotiation`) for the dashboard as a whole: an `Accept` admitting
    none of `ANSWERS_IN` (`*/json`, `application/xml`, a value that is no media range) is a 406 page naming the
    header, and a weight that is no qvalue a 400 (round 21: the kit's 400 for `q=NaN` would have been a 500 here,
    which has no problem handler; a browser's Accept always holds `*/*`, so no page a browser asks for is refused)."""
    accept = accept_of(request.headers)
    try:
        if admits(accept, ANSWERS_IN):
            return
    except Problem:
        raise HTTPException(400, "Accept: en vikt (q) ska vara ett tal från 0 till 1 med högst tre decimaler "
                                 "(RFC 9110 §12.4.2).") from None
    raise HTTPException(406, "Accept: sidan kan bara visas som HTML (eller hämtas som CSV, Excel eller PDF); "
                             "skicka Accept: text/html eller */*.")

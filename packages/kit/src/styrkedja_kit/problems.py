"""RFC 9457 problem+json errors: every rule broken by a request becomes a 4xx naming the field
and the rule, never a 500. Also what the OpenAPI documents say about them."""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable, Mapping
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from fastapi.routing import APIRoute, iter_route_contexts
from pydantic import BaseModel, Field
from sqlalchemy.exc import DBAPIError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import Match

from styrkedja_contracts.events.base import full_loc
from styrkedja_contracts.identifiers import NONCHARACTERS, PIN_ERROR, PIN_RULE, redact_personal_identity_numbers

from .rules import RuleViolation, RuleViolations

PROBLEM_JSON = "application/problem+json"
TITLES = {400: "Bad request", 401: "Unauthorized", 403: "Forbidden", 404: "Not found", 405: "Method not allowed",
          406: "Not acceptable", 408: "Request timeout", 409: "Conflict", 413: "Too large", 415: "Unsupported media type", 422: "Rule broken",
          429: "Too many requests", 503: "Service unavailable"}
#: What each documented 4xx means, for the OpenAPI documents.
MEANINGS = {
    400: "The request is malformed.",
    401: "No valid bearer token: see `WWW-Authenticate`.",
    403: "The token's role or scope does not allow this.",
    404: "No such record.",
    406: "The Accept header admits none of the types the operation answers in (application/json, "
         "application/problem+json, and those its 200 names); `*/*` or no Accept header is fine.",
    408: "The request body was not received whole within `request_body_timeout_seconds` (60 s) of the request.",
    409: "Conflicts with what is stored (a newer revision, another record holding the key).",
    413: "The request body is larger than the service accepts.",
    415: "The request body is not JSON.",
    422: "A rule is broken: every field and rule are named in `errors` (a parameter too: one this operation does "
         "not take, one given twice, an integer in other than ASCII digits); at most 1000, then one `more_errors`.",
    429: "This client has more requests of this kind in flight than one client may (rule `client_in_flight`, the "
         "bound named in its message): send it again after `Retry-After` seconds, once one of yours is answered.",
    503: "The service cannot take the request now: its database (every connection busy, or out of reach; rule "
         "`database_busy`) or the service itself (more requests at once than it takes, rule `overloaded`): "
         "send it again after `Retry-After` seconds.",
}


class FieldError(BaseModel):
    field: str = Field(description="Where: `items.2.student_id`, `revision`, `body`.")
    rule: str = Field(description="Which rule, machine readable: `no_personal_identity_number`, …")
    message: str


class ProblemDetails(BaseModel):
    """RFC 9457 problem details."""

    type: str = "about:blank"
    title: str
    status: int
    detail: str
    instance: str | None = None
    errors: list[FieldError] | None = None


class Problem(Exception):
    """A rule broken by the request. `errors` lists {field, rule, message}."""

    def __init__(self, status: int, title: str, detail: str, errors: list[dict[str, Any]] | None = None,
                 type_: str = "about:blank", headers: dict[str, str] | None = None) -> None:
        super().__init__(detail)
        self.status, self.title, self.detail, self.errors, self.type = status, title, detail, errors or [], type_
        self.headers = headers or {}  # sent with the problem (a 503's Retry-After)


class RefusedBody(StarletteHTTPException):
    """A body refused while it is read, before a route parses it (`RequestGuard`): raised from `receive`, where
    only an HTTPException passes FastAPI's body reading as itself (anything else becomes its 400 "error parsing
    the body"), and answered as a problem naming the field and the rule."""

    def __init__(self, status: int, field: str, rule: str, message: str) -> None:
        # a body not received whole: the connection is not kept for another request (the rest may still come)
        super().__init__(status, message, headers={"connection": "close"} if status == 408 else None)
        self.error = field_error(field, rule, message)


#: the framework's own refusals (its words as the key), named by the field and the rule like every other
FRAMEWORK_ERRORS = {
    (400, "There was an error parsing the body"): ("body", "json_invalid", "the body is not JSON in UTF-8"),
    (404, "Not Found"): ("path", "no_such_route", "no operation has this path"),
    (405, "Method Not Allowed"): ("method", "method_not_allowed", "this path does not answer this method; "
                                                                  "see the Allow header"),
}


def field_error(field: str, rule: str, message: str) -> dict[str, str]:
    return {"field": field, "rule": rule, "message": message}


#: the most of one value a problem repeats: a run of characters without a blank or a '/' (an id, a version, a format,
#: a parameter's or a key's name, one segment of the path) is cut after this many, ending in '…'. No rule's own words
#: come near it (the longest are the patterns, which name '/' or blanks); a value a route repeats (LIKA's unknown
#: catalogue `version`, reporting's unknown export `format`) was repeated whole, 60 kB of it, in `detail` and `message`
ECHO_LIMIT = 100
#: and the most of each text of a problem, for a value with blanks in it (a field's message, the detail joining ten)
TEXT_LIMITS = {"title": 200, "detail": 2000, "instance": 1000, "field": 300, "rule": 100, "message": 1000}
_LONG_RUN = re.compile(r"[^\s/]{" + str(ECHO_LIMIT + 1) + ",}")


#: the most field errors one problem lists: one for each item of a full batch (`max_batch_items`' default). A batch
#: of 1,000 empty items (3 KB) was answered with 15,000 errors (1.1 MB); one item of 300,000 unknown keys (3.5 MB)
#: with 300,015 (29 MB, a minute of the service's CPU)
MAX_ERRORS = 1000


def listed(errors: list[dict[str, Any]], total: int | None = None) -> list[dict[str, Any]]:
    """`errors` (of `total` found) as a problem lists them: the first `MAX_ERRORS`, and then one naming the
    rule `more_errors` and how many more there are."""
    if total is None:
        if len(errors) == MAX_ERRORS + 1 and errors[-1].get("rule") == "more_errors":
            return errors  # listed already (the validation handler lists what it converts)
        total = len(errors)
    if total <= MAX_ERRORS:
        return errors
    more = total - MAX_ERRORS
    return [*errors[:MAX_ERRORS], field_error("request", "more_errors",
                                              f"{more} more errors are not listed (at most {MAX_ERRORS} are): "
                                              "correct these and send the request again")]


def bounded(text: str, limit: int) -> str:
    """`text` with every run longer than `ECHO_LIMIT` cut to it, and at most `limit` characters: what a problem
    repeats of the request is bounded whichever route repeats it (round 17)."""
    if len(text) > ECHO_LIMIT:
        text = _LONG_RUN.sub(lambda run: run.group()[:ECHO_LIMIT - 1] + "\u2026", text)
    return text if len(text) <= limit else text[:limit - 1] + "\u2026"


def _safe(text: str, limit: int) -> str:
    """Text for an answer: a personal identity number in any spelling is redacted (a problem may
    repeat the request's path, and a message the text of a rule), what it repeats of the request
    bounded (`bounded`), and what JSON cannot carry as UTF-8 (a lone surrogate from a path segment)
    is escaped."""
    text = redact_personal_identity_numbers(text)[0]
    if len(text) > min(limit, ECHO_LIMIT):
        # cut after the redaction (a cut number would leave ten of its twelve digits) and redacted again: the cut
        # may end a run of digits where a personnummer then ends (`1912121212123` cut after its twelfth)
        text = redact_personal_identity_numbers(bounded(text, limit))[0]
    if _HIDDEN.search(text) is not None:
        text = _HIDDEN.sub(_escaped, text)
    return text.encode("utf-8", "backslashreplace").decode("utf-8") if not text.isascii() else text


#: what a problem never repeats as it is: control characters (C0, DEL, C1: an escape sequence recolours or clears the
#: terminal that shows a client's log), format characters (the bidirectional overrides and isolates reorder the text
#: around them, zero-width ones hide text: LIKA's unknown `indicator_id` "x<U+202E>y" came back in `detail` as sent),
#: lone surrogates and the noncharacters. Each is written as its escape (`\u202e`), so the message still says what
#: was sent. Line breaks and tabs too: a problem's texts are one line.
_HIDDEN = re.compile("[\x00-\x1f\x7f-\x9f\u00ad\u061c\u180e\u200b-\u200f\u202a-\u202e\u2060-\u206f\ufeff"
                     "\ufff9-\ufffb\ud800-\udfff\U000e0000-\U000e007f" + NONCHARACTERS + "]")


def _escaped(found: re.Match[str]) -> str:
    code = ord(found.group())
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}" if code < 0x10000 else f"\\U{code:08x}"


def problem_response(status: int, title: str, detail: str, errors: list[dict[str, Any]] | None = None,
                     type_: str = "about:blank", instance: str | None = None) -> JSONResponse:
    """Every problem the services answer: whatever it repeats of the request is made safe here,
    whichever handler made it."""
    body: dict[str, Any] = {"type": type_, "title": _safe(title, TEXT_LIMITS["title"]), "status": status,
                            "detail": _safe(detail, TEXT_LIMITS["detail"])}
    # `instance` is a URI reference (RFC 9457 §3.1.5), resolved against the request's URL by a client that links it: a
    # path sent as `//evil.example/x` (or `/\evil.example`, which browsers read alike) resolves to another host, so it
    # is left out (round 25: repeated as sent, a link in any console showing problems led there)
    if instance and not instance.replace("\\", "/").startswith("//"):
        # a path of 60 kB was repeated whole (round 16: cut at 1000; round 17: each segment at ECHO_LIMIT)
        body["instance"] = _safe(instance[:TEXT_LIMITS["instance"] * 4], TEXT_LIMITS["instance"])
    if errors:
        errors = listed(errors)
        body["errors"] = [{**e, **{k: _safe(v, TEXT_LIMITS.get(k, TEXT_LIMITS["message"]))
                                   for k, v in e.items() if isinstance(v, str)}} for e in errors]
    return JSONResponse(body, status_code=status, media_type=PROBLEM_JSON)


def problem_responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """`responses=` for a route: each status documented as problem+json."""
    return {status: {"description": MEANINGS.get(status, TITLES.get(status, "Problem")), "model": ProblemDetails,
                     "content": {PROBLEM_JSON: {}}} for status in statuses}


_WHERE = frozenset({"body", "query", "path", "header", "cookie"})


def _location(loc: Iterable[Any]) -> str:
    """`items.2.student_id` of `("body", "items", 2, "student_id")`: only the leading part says where the value
    was sent (a field of the body named `path` or `query`, or an unknown key `body`, is named as it is)."""
    parts = [str(p) for p in loc]
    where = "body"
    if parts and parts[0] in _WHERE:
        where, parts = parts[0], parts[1:]
    # nothing left (the body as a whole, or a query parameter without a name: `?=x`) names where it was sent;
    # round 25: `?=x` named `body`, sending a client to look at a body it never sent
    return ".".join(parts) or where


def _validation_error(error: dict[str, Any]) -> dict[str, str]:
    if error.get("type") == "json_invalid":
        # FastAPI's loc is ("body", <character offset>): the offset named as the field (`9: JSON decode error`)
        # named no field and said nothing of what is wrong; the body is the field, and the parser says what
        at = [p for p in error.get("loc", ())[1:] if isinstance(p, int)]
        said = str((error.get("ctx") or {}).get("error", "")).strip()
        message = "not JSON (RFC 8259)" + (f": {said}" if said else "") + (f" at character {at[0]}" if at else "")
        return field_error("body", "json_invalid", message)
    # a value rule broken by a string inside the field (a key of a `data` object, an item of a list): where in it
    # (`enforce_value_rules`), so that `items.1.data.name` is named, not `items.1.data`
    return field_error(_location(full_loc(error)), _rule(error), str(error.get("msg", "invalid")))


def _rule(error: dict[str, Any]) -> str:
    if PIN_ERROR in str(error.get("msg", "")):
        return PIN_RULE
    return str(error.get("type", "invalid"))


def length_miscounted(error: Mapping[str, Any]) -> bool:
    """A `too_short` that pydantic's tuple gives a list of enough items one of which it refused: it counts only the
    items that passed (`actual_length`), so `[{"term": "HT", …}, {"term": "VT", "iso_week": 13.0}]` for the forecast
    calendar's two windows was `int_type` at the item and `too_short` at the list — a rule (`minItems: 2`) the
    request kept (round 32's campaign). The item's own error says what is wrong; this one is dropped."""
    if error.get("type") != "too_short":
        return False
    said, value = error.get("ctx") or {}, error.get("input")
    least = said.get("min_length")
    return isinstance(value, list | tuple) and isinstance(least, int) and len(value) >= least


def validation_errors(errors: list[dict[str, Any]]) -> list[dict[str, str]]:
    """Pydantic errors as field errors; the input value is never repeated (it may be a personnummer)."""
    return [_validation_error(e) for e in errors]


#: PostgreSQL's serialization_failure and deadlock_detected: a lost race with another transaction, where the same
#: request sent again may pass (the kit's write path tries `WritePath.race_attempts` times itself before the same 409)
RACE_STATES = frozenset({"40001", "40P01"})
#: a database that is there but cannot take the request now: too many connections or out of resources (class
#: 53), the connection lost (class 08), starting or shutting down (57P01-57P03), a lock or statement timeout.
#: Class 08 with its protocol_violation too: a pooler in front of PostgreSQL (PgBouncer, CloudNativePG's Pooler)
#: answers its own waits with 08P01 (PgBouncer's `query_wait_timeout`: every server connection busy)
_BUSY_CLASSES = ("53", "08")
_BUSY_STATES = frozenset({"55P03", "57014", "57P01", "57P02", "57P03"})
#: what a 503 `database_busy` asks a client to wait before sending the request again
RETRY_AFTER_SECONDS = 2


def database_refusal(error: BaseException) -> tuple[int, str, str] | None:
    """What a request that failed in the database is told when the failure is the moment's, not the
    request's: (status, rule, message), or None (a fault of the service: left to be a 500 and logged).
    Every pool connection in use for `database_pool_timeout_seconds` (a burst of parallel requests, a client
    holding rows), the server refusing connections or gone: 503 `database_busy`; a lost race outside the
    write path (a deadlock, a serialisation failure): 409 `concurrent_change`."""
    if isinstance(error, PoolTimeout):
        return 503, "database_busy", "every database connection is in use; send the request again later"
    if isinstance(error, ConnectionError | TimeoutError):
        return 503, "database_busy", "the database is out of reach; send the request again later"
    if isinstance(error, DBAPIError):
        state = str(getattr(error.orig, "sqlstate", None) or "")
        if state in RACE_STATES:
            return 409, "concurrent_change", "changed by another request at the same time; send it again"
        if (error.connection_invalidated or state.startswith(_BUSY_CLASSES) or state in _BUSY_STATES
                or isinstance(error.orig, ConnectionError | TimeoutError)):
            return 503, "database_busy", "the database cannot take the request now; send the request again later"
    return None


def install_problem_handlers(app: FastAPI) -> None:
    async def _database(request: Request, exc: Exception) -> JSONResponse:
        refusal = database_refusal(exc)
        if refusal is None:
            raise exc  # the service's own fault: a 500, logged with its traceback by the server
        status, rule, message = refusal
        response = problem_response(status, TITLES[status], message, [field_error("request", rule, message)],
                                    instance=request.url.path)
        if status == 503:
            response.headers["Retry-After"] = str(RETRY_AFTER_SECONDS)
        return response

    for kind in (PoolTimeout, DBAPIError, ConnectionError, TimeoutError):
        app.add_exception_handler(kind, _database)

    @app.exception_handler(Problem)
    async def _problem(request: Request, exc: Problem) -> JSONResponse:
        response = problem_response(exc.status, exc.title, exc.detail, exc.errors or unnamed(exc.status, exc.detail),
                                    exc.type, request.url.path)
        response.headers.update(exc.headers)
        return response

    @app.exception_handler(RuleViolation)
    async def _rule(request: Request, exc: RuleViolation) -> JSONResponse:
        return problem_response(exc.status, TITLES.get(exc.status, "Rule broken"), str(exc),
                                [field_error(exc.field, exc.rule, exc.message)], instance=request.url.path)

    @app.exception_handler(RuleViolations)
    async def _rules(request: Request, exc: RuleViolations) -> JSONResponse:
        return problem_response(exc.status, TITLES.get(exc.status, "Rule broken"), str(exc),
                                [field_error(v.field, v.rule, v.message) for v in exc.violations],
                                instance=request.url.path)

    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        # only those listed are converted (`listed`): there may be 300,000
        found = [e for e in exc.errors() if not length_miscounted(e)]
        errors = listed(validation_errors(list(found[:MAX_ERRORS])), len(found))
        detail = "; ".join(f"{e['field']}: {e['message']}" for e in errors[:10])
        return problem_response(422, "Invalid request", detail, errors, instance=request.url.path)

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        detail = str(exc.detail)
        if isinstance(exc, RefusedBody):
            refused = problem_response(exc.status_code, TITLES.get(exc.status_code, "Rule broken"), detail,
                                       [exc.error], instance=request.url.path)
            refused.headers.update(exc.headers or {})
            return refused
        named = FRAMEWORK_ERRORS.get((exc.status_code, detail))
        if named is None and exc.status_code == 413:
            named = ("body", "max_body_bytes", detail)
        errors = [field_error(*named)] if named else unnamed(exc.status_code, detail)
        response = problem_response(exc.status_code, detail, detail, errors, instance=request.url.path)
        headers = dict(exc.headers or {})
        if exc.status_code == 405:  # RFC 9110 §15.5.6: every method the path answers, not the first route's
            headers["Allow"] = ", ".join(allowed_methods(request))
        response.headers.update(headers)
        return response


def unnamed(status: int, detail: str) -> list[dict[str, str]] | None:
    """The field and rule of a route's 4xx that named none (`Problem(404, ...)` without errors): the request, and the
    status's own rule (`not_found`), so that every refusal names a field and a rule, as clients read them. Found by
    round 16's fuzz: reporting's unit and alert 404s named nothing."""
    if not 400 <= status < 500 or status == 401:  # a 401 is the token middleware's, with its challenge
        return None
    rule = TITLES.get(status, "refused").lower().replace(" ", "_")
    return [field_error("request", rule, detail[:300])]


_METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE")


@functools.lru_cache(maxsize=1024)
def _template(path: str) -> re.Pattern[str]:
    return re.compile(re.sub(r"\\\{[^/]+?\\\}", "[^/]+", re.escape(path)))


def allowed_methods(request: Request) -> list[str]:
    """The methods the request's path answers (HEAD wherever GET: the `RequestGuard` answers it), as the app's OpenAPI
    document has them: of the templates matching the path, the most literal (OpenAPI matches a concrete path before a
    templated one). Round 29: `/v1/self-assessments/published` (POST) also matched the `{self_assessment_id}` GET's
    route, and its 405 said `Allow: GET, HEAD, POST` where its document has POST alone. A path of no operation (the
    framework's own pages) by the routes."""
    path, document = request.scope["path"], getattr(request.app, "openapi", None)
    paths: dict[str, Any] = document().get("paths", {}) if callable(document) else {}
    matching = [(template.count("{"), item) for template, item in paths.items() if _template(template).fullmatch(path)]
    if matching:
        literal = min(n for n, _ in matching)
        documented = {method.upper() for n, item in matching if n == literal for method in item}
        methods = [m for m in _METHODS if m in documented]
    else:
        methods = [m for m in _METHODS if any(route.matches({**request.scope, "method": m})[0] is Match.FULL
                                              for route in request.app.routes)]
    return methods[:1] + ["HEAD"] + methods[1:] if "GET" in methods else methods


#: what a document's path item holds beside its operations
_OPERATIONS = frozenset(m.lower() for m in _METHODS)


def literal_templates(paths: dict[str, Any]) -> list[tuple[str, re.Pattern[str], frozenset[str]]]:
    """Each template of a document's `paths` that another template matches too — one with a parameter where it has a
    fixed segment (`/v1/self-assessments/published` and `/v1/self-assessments/{self_assessment_id}`) — with its
    pattern and the methods it answers; the most literal first (fewest parameters)."""
    parts = {template: template.strip("/").split("/") for template in paths}
    found = []
    for literal, fixed in parts.items():
        for other, general in parts.items():
            if len(general) != len(fixed) or other == literal:
                continue
            if all(g == f or g.startswith("{") for g, f in zip(general, fixed, strict=True)) and any(
                    g.startswith("{") and not f.startswith("{") for g, f in zip(general, fixed, strict=True)):
                methods = frozenset(m.upper() for m in paths[literal] if m in _OPERATIONS)
                found.append((literal, _template(literal), methods))
                break
    return sorted(found, key=lambda item: item[0].count("{"))


def literal_templates_of(app: Any) -> list[tuple[str, re.Pattern[str], frozenset[str]]]:
    """`literal_templates` of the app's routes (those its document lists), found once per app (the service's start
    asks, so that no request waits for it): from the routes, not the document, whose first build takes most of a
    second."""
    literal: list[tuple[str, re.Pattern[str], frozenset[str]]] | None = getattr(app.state, "literal_templates", None)
    if literal is None:
        served: dict[str, dict[str, Any]] = {}
        for context in iter_route_contexts(app.routes):  # FastAPI ≥ 0.163 nests included routers
            if isinstance(context.original_route, APIRoute):
                served.setdefault(str(context.path), {}).update(dict.fromkeys(
                    (m.lower() for m in context.methods or ()), {}))
        literal = app.state.literal_templates = literal_templates(served)
    return literal


async def literal_path_first(request: Request) -> None:
    """Every operation (an app-wide dependency, the first): a path that a template with fixed segments matches is that
    template's, as OpenAPI matches a concrete path before a templated one; a method it does not answer is a 405 (its
    `Allow` by `allowed_methods`), never the templated route's answer. The router takes the first route that answers
    the method: `GET /v1/self-assessments/published` (POST only) reached the `{self_assessment_id}` GET and was a 422
    naming an id no client sent (round 30a)."""
    literal = literal_templates_of(request.app)
    if not literal:
        return
    path = request.scope["path"]
    for _, pattern, methods in literal:
        if pattern.fullmatch(path):
            if request.method not in methods:
                raise StarletteHTTPException(405)
            return


def _answers_a_file(responses: dict[str, Any]) -> bool:
    """Whether an operation's success is documented in a type other than JSON (a CSV, a workbook)."""
    return any(str(status).startswith("2") and any(not media.endswith("json") for media in
                                                   (response.get("content") or {}))
               for status, response in responses.items())


def document_problems(openapi: dict[str, Any]) -> dict[str, Any]:
    """Every operation's 4xx as problem+json in the OpenAPI document: 422 for every operation (an unknown query
    parameter is refused by each; instead of FastAPI's own validation schema), 400 for every operation (an Accept
    weight that is no qvalue, a path no operation can mean), 413 for every operation (a declared length over the
    bound), 408/415 for every POST, PUT and PATCH and wherever there is a body, 404 where a parameter names something, 409 on every write, 429 on every write and file. Routes add what only they return (409, …) with
    `problem_responses`."""
    schemas = openapi.setdefault("components", {}).setdefault("schemas", {})
    schemas.setdefault("ProblemDetails", ProblemDetails.model_json_schema(ref_template="#/components/schemas/{model}"))
    schemas.setdefault("FieldError", FieldError.model_json_schema())
    schemas["ProblemDetails"].pop("$defs", None)
    for name in ("HTTPValidationError", "ValidationError"):
        schemas.pop(name, None)
    ref = {"$ref": "#/components/schemas/ProblemDetails"}
    for path, path_item in openapi.get("paths", {}).items():
        for method, operation in path_item.items():
            if not isinstance(operation, dict) or method.startswith("x-"):
                continue
            responses = operation.setdefault("responses", {})
            params = operation.get("parameters", [])
            statuses: set[int] = set()
            statuses.add(422)  # every operation: a query parameter it does not take, or not UTF-8 (`parameters`)
            # the `RequestGuard` judges a body before routing, by the method alone: a body method's body is timed,
            # typed and measured whether the operation reads one or not (round 29: reporting's alert sweeps, which read
            # none, answered 413 and 415 their documents did not name), and a declared length over the bound is a
            # 413 on any method
            statuses.add(413)
            if "requestBody" in operation or method in ("post", "put", "patch"):
                statuses |= {400, 408, 415}
            # every operation: an Accept weight that is no qvalue (`negotiation`), a path holding an encoded '/', a
            # dot segment or a control character (`RequestGuard`)
            statuses.add(400)
            if params:  # a record named by a path or query parameter may not exist
                statuses.add(404)
            if method in ("post", "put", "patch", "delete"):  # a write may conflict with stored state
                statuses.add(409)
            if path.startswith("/v1/"):  # every operation of the service's own (they use its database)
                statuses.add(503)
                # one client's bounds (`admission`): its writes at once, and its files (an operation answering a
                # type other than JSON for a success)
                if method in ("post", "put", "patch", "delete") or _answers_a_file(responses):
                    statuses.add(429)
            statuses.add(406)  # the Accept rule holds for every operation (`negotiation.acceptable`)
            statuses |= {int(code) for code in responses if str(code).startswith("4")}
            for status in sorted(statuses):
                entry = responses.setdefault(str(status), {"description": MEANINGS.get(status, "Problem")})
                entry["content"] = {PROBLEM_JSON: {"schema": ref}}
                if status in (429, 503):
                    entry["headers"] = {"Retry-After": {"description": "Seconds to wait before sending it again.",
                                                        "schema": {"type": "integer"}}}
    return openapi

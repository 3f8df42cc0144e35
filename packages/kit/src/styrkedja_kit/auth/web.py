"""FastAPI side of access: a middleware that requires a valid bearer token on every route but the
probes, and route guards (`authorize`) that every route must declare — `routes_without_guard`
lists the routes that forgot, so a service's test fails when a new route comes without a rule.

The middleware authenticates (401); the guard and the pure policy functions authorise (403).
A route without a guard is therefore still closed to anonymous callers, and a guard on an app
without the middleware answers 401: there is no way to configure a route open by accident.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from fastapi import Depends, FastAPI, Request
from fastapi.responses import JSONResponse
from fastapi.routing import APIRoute, iter_route_contexts
from starlette.types import ASGIApp, Receive, Scope, Send

from styrkedja_contracts.identifiers import redact_personal_identity_numbers

from ..problems import MEANINGS, PROBLEM_JSON, field_error, problem_response
from .policy import GRANTS, Reach, Topic, Write, require_role
from .principal import InvalidClaims, Principal, Role, principal_from_claims
from .tokens import InvalidToken, IssuerUnavailable, TokenVerifier

log = logging.getLogger(__name__)

#: Probes and metrics: scraped by orchestrators that hold no token. Without one they reveal no data (round 30o:
#: /readyz's consumers, lag and event times, go to an `ops` token alone; /metrics is served here only where
#: `metrics_on_app_port` says so). A token sent to them is checked as on any other path.
OPEN_PATHS = frozenset({"/healthz", "/readyz", "/metrics"})
REALM = "styrkedja"


def unauthorized(error: InvalidToken | None, path: str) -> JSONResponse:
    """401 problem+json with the RFC 6750 challenge (no error code when no token was sent at all)."""
    challenge = f'Bearer realm="{REALM}"'
    detail = "a bearer token is required"
    if error is not None:
        # a header is not a problem body: the redaction `problem_response` applies is applied here too
        said = redact_personal_identity_numbers(error.description)[0]
        description = "".join(ch for ch in said if ch.isprintable() and ch.isascii() and ch not in '"\\')[:200]
        challenge += f', error="{error.error}", error_description="{description}"'
        detail = error.description
    # every 401 names the field and the rule, as every other refusal does (round 21: a missing or malformed header,
    # and a token refused as a whole, said neither): the claim at fault where one is, else the header
    if error is None:
        errors = [field_error("Authorization", "bearer_token_required", detail)]
    else:
        errors = [field_error(error.claim or "Authorization", error.rule or error.error, error.description)]
    response = problem_response(401, "Unauthorized", detail, errors, instance=path)
    response.headers["WWW-Authenticate"] = challenge
    return response


class TokenMiddleware:
    """Verifies `Authorization: Bearer <JWT>` before any route runs; the principal goes to
    `request.state.principal`."""

    #: principals remembered per token text, with the claims they were made from (see `_principal`)
    PRINCIPALS_KEPT = 10_000

    def __init__(self, app: ASGIApp, verifier: TokenVerifier, open_paths: Iterable[str] = OPEN_PATHS) -> None:
        self.app, self.verifier, self.open_paths = app, verifier, frozenset(open_paths)
        self._principals: dict[str, tuple[Mapping[str, Any], Principal]] = {}

    def _principal(self, token: str, claims: Mapping[str, Any]) -> Principal:
        """`principal_from_claims`, made once per verified claims: the verifier hands back the same
        claims object for a token it remembers, so the principal made from them is still right."""
        kept = self._principals.get(token)
        if kept is not None and kept[0] is claims:
            return kept[1]
        principal = principal_from_claims(claims)
        if len(self._principals) >= self.PRINCIPALS_KEPT:
            self._principals.pop(next(iter(self._principals)))
        self._principals[token] = (claims, principal)
        return principal

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)  # lifespan
            return
        sent = [v for k, v in scope["headers"] if k == b"authorization"]
        if scope["type"] == "http" and scope["path"] in self.open_paths and not sent:
            await self.app(scope, receive, send)  # a probe: no token; a token sent is checked (an ops token's detail)
            return
        error: InvalidToken | None = None
        if not sent:
            await self._refuse(None, scope, receive, send)
            return
        scheme, _, token = sent[0].decode("latin-1").partition(" ")
        if len(sent) > 1:  # which one counts is what a proxy in front and this service might disagree on
            error = InvalidToken("send one Authorization header, not several", "invalid_request",
                                 rule="single_header")
        elif scheme.lower() != "bearer" or not token.strip():
            error = InvalidToken("the Authorization header must be `Bearer <token>`", "invalid_request",
                                 rule="bearer_scheme")
        else:
            try:
                token = token.strip()
                principal = self._principal(token, await self.verifier.verify(token))
            except InvalidToken as exc:
                error = exc
            except InvalidClaims as exc:
                error = InvalidToken(f"scope claims: {exc}")
            except IssuerUnavailable as exc:
                log.warning("token not checked: %s", exc)
                await self._unavailable(exc, scope, receive, send)
                return
        if error is not None:
            log.info("token refused: %s", error.description)  # never the token itself
            await self._refuse(error, scope, receive, send)
            return
        scope.setdefault("state", {})["principal"] = principal
        await self.app(scope, receive, send)

    @staticmethod
    async def _unavailable(exc: IssuerUnavailable, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "websocket":
            await send({"type": "websocket.close", "code": 1013})  # try again later
            return
        detail = "the token issuer's keys could not be fetched: the token cannot be checked now; try again"
        response = problem_response(503, "Service Unavailable", detail,
                                    [field_error("Authorization", "issuer_unavailable", detail)],
                                    instance=scope["path"])
        response.headers["Retry-After"] = str(max(1, math.ceil(exc.retry_after_seconds)))
        await response(scope, receive, send)

    @staticmethod
    async def _refuse(error: InvalidToken | None, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "websocket":  # no route uses one today; should one appear, it is closed too
            await send({"type": "websocket.close", "code": 1008})
            return
        await unauthorized(error, scope["path"])(scope, receive, send)


class Guard:
    """A route's access rule: which roles may call it at all. Finer checks (which organiser,
    which unit) happen in the route with `policy.require_write` / `policy.require_read`."""

    def __init__(self, roles: Iterable[Role], description: str) -> None:
        self.roles = frozenset(roles)
        self.description = description
        if not self.roles:
            raise ValueError("a guard needs at least one role")

    async def __call__(self, request: Request) -> Principal:
        principal = getattr(request.state, "principal", None)
        if not isinstance(principal, Principal):
            raise _Unauthenticated()
        require_role(principal, *self.roles)
        return principal

    def __repr__(self) -> str:
        return f"Guard({self.description}: {', '.join(sorted(self.roles))})"


class _Unauthenticated(Exception):
    pass


def authorize(*roles: Role, description: str = "") -> Any:
    """`principal: Principal = authorize(Role.OPS)`: the route needs one of these roles."""
    return Depends(Guard(roles, description or "roles"))


def authorize_write(kind: Write) -> Any:
    """The roles that may write `kind` at all; the route then checks the organiser/unit."""
    return Depends(Guard((r for r, g in GRANTS.items() if kind in g.writes), f"writes {kind.value}"))


def authorize_read(topic: Topic | None = None) -> Any:
    """Any role that reads figures (of `topic`: not refused it, `Grant.refused`); the route then checks each node with
    `policy.may_read` (of `policy.reading(principal, topic)` where a topic is named)."""
    return Depends(Guard((r for r, g in GRANTS.items() if g.reads not in (Reach.NOTHING, Reach.OWN_WRITES)
                          and (topic is None or topic not in g.refused)),
                         "reads figures" if topic is None else f"reads {topic.value} figures"))


@dataclass(frozen=True)
class RouteInfo:
    methods: frozenset[str]
    path: str
    dependant: Any


def api_routes(app: FastAPI) -> list[RouteInfo]:
    """Every API route the app serves (what its OpenAPI document lists), with the dependencies in
    effect — including those an `include_router(..., dependencies=...)` adds."""
    found = []  # FastAPI ≥ 0.163 keeps included routers nested in app.routes: walk their contexts
    for context in iter_route_contexts(app.routes):
        if isinstance(context.original_route, APIRoute):
            dependant = getattr(context, "dependant", None) or context.original_route.dependant
            found.append(RouteInfo(frozenset(context.methods or ()), str(context.path), dependant))
    return found


def guards_of(dependant: Any) -> list[Guard]:
    found: list[Guard] = []
    stack = [dependant]
    while stack:
        current = stack.pop()
        if isinstance(current.call, Guard):
            found.append(current.call)
        stack.extend(current.dependencies)
    return found


def routes_without_guard(app: FastAPI, open_paths: Iterable[str] = OPEN_PATHS) -> list[str]:
    """Every API route (from the app itself, as OpenAPI sees them) that declares no `Guard`."""
    exempt = frozenset(open_paths)
    return [f"{','.join(sorted(route.methods))} {route.path}" for route in api_routes(app)
            if route.path not in exempt and not guards_of(route.dependant)]


def install_unauthenticated_handler(app: FastAPI) -> None:
    @app.exception_handler(_Unauthenticated)
    async def _no_principal(request: Request, exc: _Unauthenticated) -> JSONResponse:
        return unauthorized(None, request.url.path)


BEARER_SCHEME = "bearer"


def document_security(openapi: dict[str, Any], app: FastAPI, *, require_token: bool,
                      open_paths: Iterable[str] = OPEN_PATHS) -> dict[str, Any]:
    """The bearer scheme in the OpenAPI document, and on every operation that needs a token (every
    one but the open paths when tokens are required; otherwise those with a guard): `security`,
    401 (with its `WWW-Authenticate` challenge) and, where a guard decides, 403 — as problem+json."""
    exempt = frozenset(open_paths)
    guarded = {(method.lower(), route.path) for route in api_routes(app) for method in route.methods
               if guards_of(route.dependant)}
    ref = {"$ref": "#/components/schemas/ProblemDetails"}
    touched = False
    for path, path_item in openapi.get("paths", {}).items():
        for method, operation in path_item.items():
            if not isinstance(operation, dict):
                continue
            has_guard = (method, path) in guarded
            if not (require_token or has_guard):
                continue
            touched = True
            # an open path takes no token, and checks one sent (an `ops` token's /readyz detail: round 30o)
            operation["security"] = [{}, {BEARER_SCHEME: []}] if path in exempt else [{BEARER_SCHEME: []}]
            responses = operation.setdefault("responses", {})
            responses["401"] = {"description": MEANINGS[401], "content": {PROBLEM_JSON: {"schema": ref}},
                                "headers": {"WWW-Authenticate": {
                                    "description": "RFC 6750 challenge: `Bearer realm=...`, with `error` and "
                                                   "`error_description` when a token was sent",
                                    "schema": {"type": "string"}}}}
            if has_guard:
                responses["403"] = {"description": MEANINGS[403], "content": {PROBLEM_JSON: {"schema": ref}}}
    if touched:
        components = openapi.setdefault("components", {})
        components.setdefault("securitySchemes", {})[BEARER_SCHEME] = {
            "type": "http", "scheme": "bearer", "bearerFormat": "JWT",
            "description": "An OIDC access token (RS256/ES256) from the configured issuer, audience `styrkedja`; "
                           "scope claims `roles`, `organisers`, `areas`, `school_units`, `groups`."}
    return openapi

"""Response hardening and CORS for every service, and the switch that requires tokens.

`create_service_app` calls `install_security(app, settings, require_token=...)` for the token check, then, outside
its own guards, `install_cors` and `HardeningMiddleware` (the outermost).
"""

from __future__ import annotations

from dataclasses import dataclass

from fastapi import FastAPI
from starlette.datastructures import Headers
from starlette.middleware.cors import ALL_METHODS, SAFELISTED_HEADERS, CORSMiddleware
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from .problems import TITLES, problem_response
from .settings import ServiceSettings

#: on every answer (the HTTP server's own refusals too: `server.problem_bytes`)
SECURITY_HEADERS = [
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"no-referrer"),
    (b"content-security-policy", b"frame-ancestors 'none'"),
    (b"x-frame-options", b"DENY"),
]


class HardeningMiddleware:
    """Security headers on every response; `Cache-Control: no-store` unless a route chose its own
    caching; any `server` header the app sets is dropped (uvicorn's own banner is switched off
    with `--no-server-header` / `server_header=False`, which only the server can do)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_hardened(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = [(k, v) for k, v in message.get("headers", []) if k.lower() != b"server"]
                names = {k.lower() for k, _ in headers}
                headers += [h for h in SECURITY_HEADERS if h[0] not in names]
                if b"cache-control" not in names:
                    headers.append((b"cache-control", b"no-store"))
                message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, send_hardened)


#: what a refused CORS preflight names: the request header, and the rule it broke
_CORS_REFUSALS = {
    "origin": ("origin", "cors_origin", "origin: not one of the origins this service answers browsers of "
                                        "(`cors_allow_origins`)"),
    "method": ("access-control-request-method", "cors_method", "access-control-request-method: not a method this "
                                                               "service answers browsers with"),
    "headers": ("access-control-request-headers", "cors_headers", "access-control-request-headers: a header this "
                                                                  "service does not take from browsers"),
    "private-network": ("access-control-request-private-network", "cors_private_network",
                        "access-control-request-private-network: not answered to browsers"),
}

#: the methods and headers the services answer browsers with (the origins are the settings' `cors_allow_origins`)
CORS_METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE")
CORS_HEADERS = ("Authorization", "Content-Type")
#: the response headers the services send that a browser app of an allowed origin must be able to read, none of them
#: CORS-safelisted (round 25: none was exposed, so such an app could not honour a 503's or 429's `Retry-After`, read a
#: 401's challenge, a 405's `Allow`, a file's name, reporting's `ETag` for `If-None-Match`, a replayed write's
#: `Idempotent-Replayed` or the freshness of a figure)
CORS_EXPOSED = ("Retry-After", "WWW-Authenticate", "Allow", "Content-Disposition", "ETag", "Idempotent-Replayed",
                "X-Styrkedja-Newest-Event-Time", "X-Styrkedja-Consumer-Lag")


@dataclass(frozen=True)
class CorsPolicy:
    """What a service answers browsers of: origins, methods and request headers, each list as Starlette's
    `CORSMiddleware` takes it (`*` for any; the CORS-safelisted headers are always taken)."""

    origins: tuple[str, ...]
    methods: tuple[str, ...] = CORS_METHODS
    headers: tuple[str, ...] = CORS_HEADERS
    private_network: bool = False

    @property
    def any_origin(self) -> bool:
        return "*" in self.origins

    def origin_allowed(self, origin: str) -> bool:
        return self.any_origin or origin in self.origins

    def method_allowed(self, method: str) -> bool:
        return method in (ALL_METHODS if "*" in self.methods else self.methods)

    def header_allowed(self, header: str) -> bool:
        """`header` as the browser lists it (one element of `Access-Control-Request-Headers`)."""
        return "*" in self.headers or header.lower().strip() in {
            h.lower() for h in (*SAFELISTED_HEADERS, *self.headers)}


def cors_refusals(policy: CorsPolicy, origin: str, method: str, request_headers: str | None = None,
                  private_network: str | None = None) -> list[str]:
    """Why a preflight (`Origin`, `Access-Control-Request-Method`, `-Headers`, `-Private-Network`, None where not
    sent) is refused under `policy`, in Starlette's words and order (`origin`, `method`, `headers`,
    `private-network`); empty when it is answered. Pure, so that it is decided as Starlette's `CORSMiddleware`
    decides (tests/test_cors.py holds them equal under hypothesis) without reading its plain-text answer back, as
    this did: a list of words parsed from a body. Every value is compared exactly, never reflected: an origin is
    allowed only as listed (`null` only if listed, which the settings refuse)."""
    refusals = []
    if not policy.origin_allowed(origin):
        refusals.append("origin")
    if not policy.method_allowed(method):
        refusals.append("method")
    if request_headers is not None and "*" not in policy.headers and not all(
            policy.header_allowed(header) for header in request_headers.split(",")):
        refusals.append("headers")
    if private_network is not None and not policy.private_network:
        refusals.append("private-network")
    return refusals


class ProblemCORSMiddleware(CORSMiddleware):
    """Starlette's CORS, each preflight decided by `cors_refusals`, a refused one answered as every other refusal:
    a 400 problem naming the header and the rule (`cors_origin`, `cors_method`, `cors_headers`), not Starlette's
    plain-text "Disallowed CORS origin"; and to an origin not listed without the lists of methods and headers the
    service takes (they are for the origins it answers). Round 19: an unknown origin's preflight was `text/plain`.
    Round 21: `Access-Control-Request-Headers` sent on two lines was judged by its first alone (Starlette's
    `Headers.get`), `authorization` then `x-evil` answered 200; now the lines are one list (RFC 9110 §5.3)."""

    def __init__(self, app: ASGIApp, policy: CorsPolicy, max_age: int = 600) -> None:
        super().__init__(app, allow_origins=policy.origins, allow_methods=policy.methods,
                         allow_headers=policy.headers, allow_credentials=False, expose_headers=CORS_EXPOSED,
                         allow_private_network=policy.private_network, max_age=max_age)
        self.policy = policy

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        # `Origin` or the preflight's method on two lines with different values: Starlette reads the first, a proxy or
        # cache in front may read the last. The kit's RequestGuard refuses them too, but this middleware runs outside
        # it (round 25), so it refuses them itself before judging either (round 21's rule, `single_header`)
        if scope["type"] == "http":
            for name in (b"origin", b"access-control-request-method"):
                if len({value for key, value in scope["headers"] if key == name}) > 1:
                    field = name.decode()
                    detail = f"{field}: sent more than once, with different values"
                    await problem_response(400, TITLES[400], detail, [
                        {"field": field, "rule": "single_header", "message": detail}],
                        instance=scope.get("path"))(scope, receive, send)
                    return
        await super().__call__(scope, receive, send)

    def preflight_response(self, request_headers: Headers) -> Response:
        origin = request_headers["origin"]
        listed = request_headers.getlist("access-control-request-headers")
        failures = cors_refusals(self.policy, origin, request_headers["access-control-request-method"],
                                 ",".join(listed) if listed else None,
                                 request_headers.get("access-control-request-private-network"))
        if not failures:
            return super().preflight_response(request_headers)
        errors = [dict(zip(("field", "rule", "message"), _CORS_REFUSALS[f], strict=True)) for f in failures]
        response = problem_response(400, TITLES[400], "; ".join(e["message"] for e in errors), errors)
        if "origin" not in failures:  # a listed origin learns what it may ask instead
            allowed = {**self.preflight_headers, **({"Access-Control-Allow-Origin": origin}
                                                    if self.preflight_explicit_allow_origin else {})}
            for name in ("Access-Control-Allow-Origin", "Access-Control-Allow-Methods",
                         "Access-Control-Allow-Headers", "Access-Control-Max-Age"):
                if name in allowed:
                    response.headers[name] = allowed[name]
        response.headers["vary"] = "Origin"
        return response


def install_security(app: FastAPI, settings: ServiceSettings, *, require_token: bool) -> None:
    """The token check (and the 401 of a guarded route on an app without one). CORS and `HardeningMiddleware` are not
    added here: each must wrap every middleware that answers by itself (the kit's `RequestGuard` and
    `OverloadGuard`), so `create_service_app` adds them after those (`install_cors`, then the hardening as the
    outermost). Round 25: added here, both sat inside the guards, whose 400s, 408s, 413s, 415s and 503s went out
    without `Cache-Control: no-store`, nosniff or the frame rules, and without `Access-Control-Allow-Origin`: a
    browser app of an allowed origin saw a CORS failure instead of the problem naming the field and the rule."""
    from .auth.tokens import TokenVerifier
    from .auth.web import TokenMiddleware, install_unauthenticated_handler

    install_unauthenticated_handler(app)  # a guarded route on an app without tokens answers 401, never runs
    if require_token:
        app.add_middleware(TokenMiddleware, verifier=TokenVerifier.from_settings(settings))


def install_cors(app: FastAPI, settings: ServiceSettings) -> None:
    """CORS for the settings' `cors_allow_origins` (none: no CORS headers at all). Added outside every middleware
    that answers by itself, so a preflight is answered before them and each of their answers carries the CORS
    headers an allowed origin's browser needs to read it."""
    if settings.cors_allow_origins:
        app.add_middleware(ProblemCORSMiddleware, policy=CorsPolicy(tuple(settings.cors_allow_origins)))


def without_body(send: Send) -> Send:
    """`send` for a HEAD request answered as GET: the status and headers (Content-Length too), no body."""
    async def send_head(message: Message) -> None:
        if message["type"] == "http.response.body":
            if message.get("more_body", False):
                return
            message = {"type": "http.response.body", "body": b"", "more_body": False}
        await send(message)
    return send_head

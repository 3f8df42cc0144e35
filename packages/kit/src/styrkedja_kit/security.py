"""Response hardening and CORS for every service, and the switch that requires tokens.

`install_security(app, settings, require_token=...)` is the one call `create_service_app` makes.
"""

from __future__ import annotations

from fastapi import FastAPI
from starlette.datastructures import Headers
from starlette.middleware.cors import CORSMiddleware
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from .problems import TITLES, problem_response
from .settings import ServiceSettings

_HEADERS = [
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
                headers += [h for h in _HEADERS if h[0] not in names]
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


class ProblemCORSMiddleware(CORSMiddleware):
    """Starlette's CORS, with a refused preflight answered as every other refusal: a 400 problem naming the header
    and the rule (`cors_origin`, `cors_method`, `cors_headers`), not Starlette's plain-text "Disallowed CORS
    origin"; and to an origin not listed without the lists of methods and headers the service takes (they are for
    the origins it answers). Round 19: an unknown origin's preflight was `text/plain`."""

    def preflight_response(self, request_headers: Headers) -> Response:
        allowed = super().preflight_response(request_headers)
        if allowed.status_code < 400:
            return allowed
        said = bytes(allowed.body).decode("utf-8", "replace").removeprefix("Disallowed CORS ")
        failures = [f.strip() for f in said.split(",") if f.strip() in _CORS_REFUSALS] or ["origin"]
        errors = [dict(zip(("field", "rule", "message"), _CORS_REFUSALS[f], strict=True)) for f in failures]
        response = problem_response(400, TITLES[400], "; ".join(e["message"] for e in errors), errors)
        if "origin" not in failures:
            for name in ("access-control-allow-origin", "access-control-allow-methods",
                         "access-control-allow-headers", "access-control-max-age"):
                if name in allowed.headers:
                    response.headers[name] = allowed.headers[name]
        response.headers["vary"] = "Origin"
        return response


def install_security(app: FastAPI, settings: ServiceSettings, *, require_token: bool) -> None:
    """Middlewares run outside-in in reverse order of adding: hardening wraps everything (401s get
    the headers too), CORS answers preflights before the token check, then the token check."""
    from .auth.tokens import TokenVerifier
    from .auth.web import TokenMiddleware, install_unauthenticated_handler

    install_unauthenticated_handler(app)  # a guarded route on an app without tokens answers 401, never runs
    if require_token:
        app.add_middleware(TokenMiddleware, verifier=TokenVerifier.from_settings(settings))
    if settings.cors_allow_origins:
        app.add_middleware(ProblemCORSMiddleware, allow_origins=list(settings.cors_allow_origins),
                           allow_methods=["GET", "POST", "PUT", "PATCH", "DELETE"],
                           allow_headers=["Authorization", "Content-Type"], allow_credentials=False, max_age=600)
    app.add_middleware(HardeningMiddleware)

"""Response hardening and CORS for every service, and the switch that requires tokens.

`install_security(app, settings, require_token=...)` is the one call `create_service_app` makes.
"""

from __future__ import annotations

from fastapi import FastAPI
from starlette.middleware.cors import CORSMiddleware
from starlette.types import ASGIApp, Message, Receive, Scope, Send

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


def install_security(app: FastAPI, settings: ServiceSettings, *, require_token: bool) -> None:
    """Middlewares run outside-in in reverse order of adding: hardening wraps everything (401s get
    the headers too), CORS answers preflights before the token check, then the token check."""
    from .auth.tokens import TokenVerifier
    from .auth.web import TokenMiddleware, install_unauthenticated_handler

    install_unauthenticated_handler(app)  # a guarded route on an app without tokens answers 401, never runs
    if require_token:
        app.add_middleware(TokenMiddleware, verifier=TokenVerifier.from_settings(settings))
    if settings.cors_allow_origins:
        app.add_middleware(CORSMiddleware, allow_origins=list(settings.cors_allow_origins),
                           allow_methods=["GET", "POST", "PUT", "PATCH", "DELETE"],
                           allow_headers=["Authorization", "Content-Type"], allow_credentials=False, max_age=600)
    app.add_middleware(HardeningMiddleware)

"""Wiring only: settings, one shared HTTP client, sessions, routers, error pages."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from http import HTTPStatus
from pathlib import Path

import httpx
from fastapi import Depends, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import JSONResponse, RedirectResponse, Response

from styrkedja_kit.logging import configure_logging
from styrkedja_kit.parameters import strict_parameters

from .alerts.routes import router as alert_routes
from .auth.logs import redact_callback_secrets
from .auth.oidc import OidcClient
from .auth.routes import router as auth_routes
from .chain.routes import router as chain_routes
from .clients import UpstreamError
from .compliance.routes import router as compliance_routes
from .exports.routes import router as export_routes
from .lika.routes import router as lika_routes
from .names import NamesCache
from .report.routes import router as report_routes
from .settings import DashboardSettings
from .web.forms import (
    DropEmptyQueryValues,
    acceptable_to_the_browser,
    invalid_fields,
    no_personal_identity_number,
)
from .web.methods import BoundedBody, HeadAsGet
from .web.pages import NotSignedIn, login_url, render, store
from .web.security import CsrfFailed, SecurityHeaders
from .web.sessions import Session, SessionStore
from .web.static_files import DashboardStaticFiles

STATIC = Path(__file__).resolve().parent / "static"
#: what the framework's own refusals say, in the pages' language (their detail is the English status phrase)
_FRAMEWORK_MESSAGES = {404: "Sidan finns inte. Kontrollera adressen.",
                       405: "Sidan kan inte användas så (metoden stöds inte). Öppna den som en vanlig länk.",
                       416: "Den begärda delen av filen finns inte (Range). Hämta hela filen."}


def _same_page(request: Request) -> str | None:
    """This page's own path and query, for a "try again" link: only a path on this site (`//host` would be
    another site's)."""
    path = request.url.path
    if not path.startswith("/") or path.startswith("//") or "\\" in path:
        return None
    return path + (f"?{request.url.query}" if request.url.query else "")


def _signed_in(request: Request) -> bool:
    session = store(request).get(request)
    return session is not None and session.signed_in


def create_app(settings: DashboardSettings) -> FastAPI:
    # the services' logging, redaction included: uvicorn's access line carries every query string a browser
    # (or anyone) sends, and the dashboard's went out unredacted, a personal identity number as typed
    configure_logging("dashboard")
    redact_callback_secrets()  # and the sign-in's code and state, which the access line would carry as sent

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        # a pooled connection is given up after 2 s idle, before the services' uvicorn closes it (5 s): a request
        # sent as the server closes its side is lost ("Server disconnected without sending a response"; 2 of 200
        # requests sent at the server's keep-alive timeout here). `clients.RETRIED` covers what still happens
        limits = httpx.Limits(max_connections=100, max_keepalive_connections=20, keepalive_expiry=2.0)
        async with httpx.AsyncClient(timeout=settings.upstream_timeout_seconds, limits=limits) as http:
            app.state.http = http
            app.state.oidc = OidcClient(settings, http)
            yield

    # redirect_slashes off: Starlette's redirect of `/lika/` took its Location from the Host header (see the kit's app).
    # The pages' own parameters read as the services read theirs (`styrkedja_kit.parameters`: `omgang=1_0` is no
    # round, `enhet` twice is refused); unknown ones are ignored — a browser arrives with what links and the identity
    # provider add (`utm_source`, `session_state`) — and text is judged by `no_personal_identity_number`. A visitor
    # not signed in is sent to sign in first (the pages' own parameters were read after the session, too)
    app = FastAPI(title="Styrkedja dashboard", lifespan=lifespan, docs_url=None, redoc_url=None,
                  openapi_url=None, redirect_slashes=False,
                  dependencies=[Depends(acceptable_to_the_browser), Depends(no_personal_identity_number),
                                Depends(strict_parameters("ignore", text_rules=False, when=_signed_in))])
    app.state.settings = settings
    app.state.sessions = SessionStore(settings.session_seconds, secure=settings.secure_cookies)
    app.state.names_cache = NamesCache()
    # innermost: its refusal, raised as a route reads the body, must reach the error page's handler as it is
    # (through SecurityHeaders' task group it arrived as another exception, FastAPI's 400 "error parsing the body")
    app.add_middleware(BoundedBody)
    app.add_middleware(SecurityHeaders)
    app.add_middleware(DropEmptyQueryValues)
    app.add_middleware(HeadAsGet)
    app.mount("/static", DashboardStaticFiles(directory=STATIC), name="static")
    for router in (auth_routes, chain_routes, lika_routes, alert_routes, compliance_routes, export_routes,
                   report_routes):
        app.include_router(router)

    @app.get("/healthz", include_in_schema=False)
    async def healthz() -> JSONResponse:
        return JSONResponse({"status": "ok"})

    @app.get("/readyz", include_in_schema=False)
    async def readyz() -> JSONResponse:
        return JSONResponse({"status": "ready"})

    def _session(request: Request) -> Session | None:
        return store(request).get(request)

    @app.exception_handler(NotSignedIn)
    async def not_signed_in(request: Request, error: NotSignedIn) -> Response:
        return RedirectResponse(login_url(error.next_url), status_code=303)

    @app.exception_handler(CsrfFailed)
    async def csrf_failed(request: Request, error: CsrfFailed) -> Response:
        return render(request, "error.html", _session(request), status_code=403, title="Formuläret kunde inte skickas",
                      message="Sidan var för gammal eller kom inte härifrån (CSRF-kontroll). Ladda om och försök igen.")

    @app.exception_handler(UpstreamError)
    async def upstream(request: Request, error: UpstreamError) -> Response:
        wait = f"om {error.retry_after} s" if error.retry_after is not None else "om en stund"
        unavailable = {"unreachable": f"Tjänsten {error.service} går inte att nå just nu (den kan hålla på att "
                                      f"starta). Försök igen {wait}.",
                       "slow": f"Tjänsten {error.service} svarade inte i tid. Försök igen {wait}."}.get(
            error.why, f"Tjänsten {error.service} är upptagen just nu. Försök igen {wait}.")
        message = {401: "Din inloggning har gått ut. Logga in igen.",
                   403: "Du har inte behörighet att se de här uppgifterna.",
                   # the service's bound for one person (its exports, its writes at once): its own words name a
                   # setting in English, so they are not repeated
                   429: f"Du har redan lika många hämtningar igång hos tjänsten {error.service} som den tar emot på "
                        f"en gång. Försök igen {wait} när någon av dem är klar.",
                   404: "Uppgifterna finns inte.",
                   502: f"Tjänsten {error.service} gav ett svar som inte kunde läsas ({error.detail})." if error.unreadable
                   else f"Tjänsten {error.service} svarade med ett fel. Försök igen om en stund.",
                   503: unavailable}.get(error.status, f"Tjänsten {error.service} godtog inte frågan: {error.detail}")
        # the same page again, for a read that may well answer in a moment (never a form post's address)
        again = _same_page(request) if error.status in (429, 502, 503) and request.method == "GET" else None
        session, sign_in = _session(request), None
        if error.status == 401:
            # the service no longer takes the session's token (revoked, its keys rotated, a clock ahead): the
            # session is over here too. Kept, it read as signed in to every page — `/` sent the person to /kedjan and
            # its 401 again, and "log in again" had no way to — until the token's own expiry, hours later
            if session is not None:
                store(request).drop(session)
                session = None
            sign_in = login_url((_same_page(request) if request.method == "GET" else None) or "/kedjan")
        answer = render(request, "error.html", session, status_code=error.status,
                        title="Uppgifterna kunde inte hämtas", message=message, again=again, sign_in=sign_in)
        if error.status == 401:
            store(request).clear_cookie(answer)
        if error.status in (429, 503) and error.retry_after is not None:
            answer.headers["Retry-After"] = str(error.retry_after)
        return answer

    # Starlette's own refusals (an unknown path, a method a page does not take, a file /static lacks) are its
    # HTTPException, of which FastAPI's is a subclass: registered for FastAPI's only, they were answered with
    # FastAPI's JSON `{"detail": "Not Found"}`, no page, and a 405 lost nothing but its Allow here
    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, error: StarletteHTTPException) -> Response:
        message = _FRAMEWORK_MESSAGES.get(error.status_code) if isinstance(error.detail, str) and \
            error.detail == HTTPStatus(error.status_code).phrase else None
        answer = render(request, "error.html", _session(request), status_code=error.status_code,
                        title="Sidan kunde inte visas", message=message or str(error.detail))
        for name, value in (error.headers or {}).items():  # a 405's Allow (RFC 9110 §15.5.6)
            answer.headers[name] = value
        return answer

    @app.exception_handler(RequestValidationError)
    async def invalid(request: Request, error: RequestValidationError) -> Response:
        return render(request, "error.html", _session(request), status_code=422, title="Ogiltigt val",
                      message=f"Kontrollera: {invalid_fields(error.errors())}.")

    return app

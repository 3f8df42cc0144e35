"""Security headers on every response, and the CSRF check every form post goes through."""

from __future__ import annotations

import functools
import logging
import secrets
from urllib.parse import unquote

from fastapi import Request
from starlette.middleware.base import BaseHTTPMiddleware, RequestResponseEndpoint
from starlette.responses import HTMLResponse, Response

from ..auth.oidc import origin_of
from .pages import render

logger = logging.getLogger(__name__)

# No inline script or style anywhere: scripts and styles come from /static only. Chart data is
# handed to the scripts in <script type="application/json"> blocks, which CSP does not execute.
CSP = ("default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; font-src 'self'; "
       "connect-src 'self'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'; form-action 'self'")


@functools.lru_cache(maxsize=8)
def content_security_policy(issuer: str) -> str:
    """`CSP`, with the issuer's origin among the form targets: the sign-out form's answer sends the browser on to the
    provider's end-session endpoint, and browsers hold a form's redirects to `form-action` too."""
    origin = origin_of(issuer)
    return CSP + f" {origin}" if origin else CSP


class SecurityHeaders(BaseHTTPMiddleware):
    async def dispatch(self, request: Request, call_next: RequestResponseEndpoint) -> Response:
        try:
            response = await call_next(request)
        except Exception:
            # Starlette's own 500 is built outside every middleware: plain text without the headers below.
            # Caught here, the 500 carries them like any other answer and says nothing of what went wrong.
            logger.exception("unexpected error answering a page", extra={"path": request.url.path})
            response = _server_error(request)
        response.headers.setdefault("Content-Security-Policy",
                                    content_security_policy(request.app.state.settings.issuer))
        response.headers["X-Content-Type-Options"] = "nosniff"
        response.headers["Referrer-Policy"] = "no-referrer"
        response.headers["X-Frame-Options"] = "DENY"
        response.headers["Cross-Origin-Opener-Policy"] = "same-origin"
        # a static file may be cached; nothing else, nor an error answered under /static (its page is a signed-in
        # person's, the sign-out form's CSRF token in it)
        if not request.url.path.startswith("/static/") or response.status_code >= 400:
            response.headers["Cache-Control"] = "no-store"
        if request.app.state.settings.secure_cookies:
            # reached over https: a browser that once saw this never tries plain http again, where a
            # man in the middle could serve a look-alike sign-in page (the Secure cookie alone does not stop that)
            response.headers["Strict-Transport-Security"] = "max-age=31536000"
        return response


#: the 500 page if even the error template cannot be rendered: static text, nothing from the failure
_PLAIN_500 = ("<!doctype html><html lang=\"sv\"><head><meta charset=\"utf-8\"><title>Något gick fel</title></head>"
              "<body><h1>Något gick fel</h1><p>Sidan kunde inte visas. Försök igen om en stund.</p>"
              "<p><a href=\"/\">Till startsidan</a></p></body></html>")


def _server_error(request: Request) -> Response:
    try:
        return render(request, "error.html", None, status_code=500, title="Något gick fel",
                      message="Sidan kunde inte visas. Försök igen om en stund.")
    except Exception:
        logger.exception("the error page could not be rendered")
        return HTMLResponse(_PLAIN_500, status_code=500)


class CsrfFailed(Exception):
    """A form post without the session's CSRF token: 403."""


def check_csrf(expected: str | None, given: str | None) -> None:
    if not expected or not given or not secrets.compare_digest(expected, given):
        raise CsrfFailed()


def safe_next(value: str | None, default: str = "/kedjan") -> str:
    """Only a path on this site: an open redirect would hand the session to anyone's page. Printable ASCII
    only: a browser drops a tab or newline from a URL (`/<tab>/evil.com` is `//evil.com` to it) and reads some
    other characters as `/` (`\\`, and look-alikes such as `∕` on the way through an IDN step)."""
    if (not value or not value.startswith("/") or value.startswith("//") or "\\" in value
            or not all("!" <= character <= "~" for character in value)):
        return default
    # a dot segment: the browser resolves `/.//evil.example` and `/x/..//evil.example` to the path `//evil.example`,
    # which a proxy, a cache or a later redirect reading the path (not the URL) takes for another host (round 17)
    path = value.split("?", 1)[0].split("#", 1)[0]
    if any(unquote(segment) in (".", "..") for segment in path.split("/")):
        return default
    return value

"""Security headers on every response, and the CSRF check every form post goes through."""

from __future__ import annotations

import secrets

from fastapi import Request
from starlette.middleware.base import BaseHTTPMiddleware, RequestResponseEndpoint
from starlette.responses import Response

# No inline script or style anywhere: scripts and styles come from /static only. Chart data is
# handed to the scripts in <script type="application/json"> blocks, which CSP does not execute.
CSP = ("default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; font-src 'self'; "
       "connect-src 'self'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'; form-action 'self'")


class SecurityHeaders(BaseHTTPMiddleware):
    async def dispatch(self, request: Request, call_next: RequestResponseEndpoint) -> Response:
        response = await call_next(request)
        response.headers.setdefault("Content-Security-Policy", CSP)
        response.headers["X-Content-Type-Options"] = "nosniff"
        response.headers["Referrer-Policy"] = "no-referrer"
        response.headers["X-Frame-Options"] = "DENY"
        response.headers["Cross-Origin-Opener-Policy"] = "same-origin"
        if not request.url.path.startswith("/static/"):
            response.headers["Cache-Control"] = "no-store"
        if request.app.state.settings.secure_cookies:
            # reached over https: a browser that once saw this never tries plain http again, where a
            # man in the middle could serve a look-alike sign-in page (the Secure cookie alone does not stop that)
            response.headers["Strict-Transport-Security"] = "max-age=31536000"
        return response


class CsrfFailed(Exception):
    """A form post without the session's CSRF token: 403."""


def check_csrf(expected: str | None, given: str | None) -> None:
    if not expected or not given or not secrets.compare_digest(expected, given):
        raise CsrfFailed()

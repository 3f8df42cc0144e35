"""/logga-in, /auth/callback, /logga-ut."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Query, Request
from starlette.responses import RedirectResponse, Response

from ..web.pages import MAX_NEXT, render, store
from ..web.security import check_csrf, safe_next
from .oidc import SignInFailed

router = APIRouter()


@router.get("/")
async def start(request: Request) -> Response:
    session = store(request).get(request)
    if session and session.signed_in:
        return RedirectResponse("/kedjan", status_code=303)
    return render(request, "start.html", None)


@router.get("/logga-in")
async def login(request: Request, next: Annotated[str | None, Query(max_length=MAX_NEXT)] = None) -> Response:
    sessions = store(request)
    session = sessions.get_or_create(request)
    url, pending = await request.app.state.oidc.authorization()
    session.login = {**pending, "next": safe_next(next)}
    response = RedirectResponse(url, status_code=303)
    sessions.write_cookie(response, session)
    return response


@router.get("/auth/callback")
async def callback(request: Request, code: Annotated[str | None, Query(max_length=2000)] = None,
                   state: Annotated[str | None, Query(max_length=500)] = None,
                   error: Annotated[str | None, Query(max_length=200)] = None) -> Response:
    sessions = store(request)
    session = sessions.get(request)
    if session is None or not session.login or error or not code or not state:
        return render(request, "error.html", None, status_code=400,
                      title="Inloggningen misslyckades", message="Inloggningen avbröts eller har gått ut. Försök igen.")
    pending = session.login
    try:
        token, expires_at, principal, claims, id_token = await request.app.state.oidc.redeem(
            code=code, state=state, expected=pending)
    except SignInFailed:
        session.login = {}
        return render(request, "error.html", None, status_code=400, title="Inloggningen misslyckades",
                      message="Identitetsleverantörens svar kunde inte godtas. Försök igen.")
    fresh = sessions.sign_in(session, token=token, token_expires_at=expires_at, principal=principal, claims=claims,
                             id_token=id_token)
    response = RedirectResponse(pending.get("next") or "/kedjan", status_code=303)
    sessions.write_cookie(response, fresh)
    return response


@router.post("/logga-ut")
async def logout(request: Request, csrf: Annotated[str | None, Form()] = None) -> Response:
    sessions = store(request)
    session = sessions.get(request)
    check_csrf(session.csrf if session else None, csrf)
    id_token = session.id_token if session else None
    if session:
        sessions.drop(session)
    # signed out here first; then the provider's own session, so that the next "Logga in" on this browser asks again
    provider = await request.app.state.oidc.end_session(id_token) if session and session.token is not None else None
    response = RedirectResponse(provider or "/", status_code=303)
    sessions.clear_cookie(response)
    return response

"""Server-side sessions: the browser holds only a random id in an HttpOnly cookie; the access
token stays on the server, so no page script can read it.

One process keeps its sessions in memory: a restart signs everyone out, and more than one
replica needs sticky sessions (or a shared store behind this same interface).
"""

from __future__ import annotations

import secrets
import time
from dataclasses import dataclass, field
from typing import Any

from fastapi import Request, Response

from styrkedja_kit.auth import Principal

COOKIE = "styrkedja_session"
#: the name over https: a browser takes a `__Host-` cookie only Secure, for path `/` and from this host itself, so
#: a sibling host (`*.kommun.se`) cannot plant its own signed-in session id on a user (cookie tossing: the
#: victim then reads and acknowledges as the planter); rotation at sign-in alone does not stop a planted
#: session that is already signed in
SECURE_COOKIE = "__Host-styrkedja_session"
#: a sign-in in flight: the provider's round trip takes a minute, not a session's hours
PENDING_SECONDS = 600
#: at most this many sign-ins in flight, the oldest given up first: anyone may start one without signing in,
#: and each was kept for the whole session lifetime, so a loop over /logga-in grew the store without bound
MAX_PENDING = 10_000
#: signed-in sessions of one person (the token's `sub`) at most, the oldest signed out first: each sign-in kept its
#: session (token, claims) for the whole lifetime, so one person signing in over and over — a script with valid
#: credentials, a test client clearing its cookies, a browser in private mode — grew the store without bound
MAX_PER_SUBJECT = 10
#: signed-in sessions at most, the oldest signed out first (a few kB each: ~20,000 is tens of MB)
MAX_SIGNED_IN = 20_000


@dataclass
class Session:
    id: str
    csrf: str
    expires_at: float
    token: str | None = None
    token_expires_at: float | None = None
    principal: Principal | None = None
    claims: dict[str, Any] = field(default_factory=dict)
    # the provider's ID token, handed back to it at sign-out (`id_token_hint`): it ends the provider's own session
    id_token: str | None = None
    # an authorization in flight: state, PKCE verifier and where to go afterwards
    login: dict[str, str] = field(default_factory=dict)

    @property
    def signed_in(self) -> bool:
        return self.token is not None and (self.token_expires_at or 0) > time.time()


class SessionStore:
    def __init__(self, lifetime_seconds: int, *, secure: bool) -> None:
        self.lifetime, self.secure = lifetime_seconds, secure
        self.cookie = SECURE_COOKIE if secure else COOKIE
        self._sessions: dict[str, Session] = {}
        self._pending: dict[str, None] = {}  # ids of sessions not signed in yet, oldest first
        self._signed: dict[str, str] = {}  # ids of signed-in sessions, oldest first: their subject
        self._of_subject: dict[str, dict[str, None]] = {}  # a subject's signed-in session ids, oldest first

    def _new(self, lifetime: float | None = None) -> Session:
        if len(self._sessions) % 1000 == 999:  # abandoned sign-ins must not pile up
            self.sweep()
        session = Session(secrets.token_urlsafe(32), secrets.token_urlsafe(32),
                          time.time() + (self.lifetime if lifetime is None else lifetime))
        self._sessions[session.id] = session
        return session

    def _new_pending(self) -> Session:
        while len(self._pending) >= MAX_PENDING:
            oldest = next(iter(self._pending))
            self._pending.pop(oldest)
            found = self._sessions.get(oldest)
            if found is not None and not found.signed_in:
                self._sessions.pop(oldest)
        session = self._new(min(PENDING_SECONDS, self.lifetime))
        self._pending[session.id] = None
        return session

    def get(self, request: Request) -> Session | None:
        sid = request.cookies.get(self.cookie)
        session = self._sessions.get(sid) if sid else None
        if session and session.expires_at < time.time():
            self.drop(session)
            return None
        return session

    def get_or_create(self, request: Request) -> Session:
        """The request's session, else a new one for a sign-in in flight (short-lived until `rotate`)."""
        return self.get(request) or self._new_pending()

    def rotate(self, old: Session) -> Session:
        """A new id (and CSRF token) at sign-in, so an id planted before it is worth nothing."""
        self.drop(old)
        return self._new()

    def sign_in(self, old: Session, *, token: str, token_expires_at: float, principal: Principal,
                claims: dict[str, Any], id_token: str | None = None) -> Session:
        """The signed-in session that replaces `old` (`rotate`), counted against its person's and the store's
        bounds (`MAX_PER_SUBJECT`, `MAX_SIGNED_IN`): beyond one, the oldest signed-in session is signed out."""
        fresh = self.rotate(old)
        fresh.token, fresh.token_expires_at, fresh.principal, fresh.claims = token, token_expires_at, principal, claims
        fresh.id_token = id_token
        subject = principal.subject
        self._signed[fresh.id] = subject
        mine = self._of_subject.setdefault(subject, {})
        mine[fresh.id] = None
        while len(mine) > MAX_PER_SUBJECT:
            self._forget(next(iter(mine)))
        while len(self._signed) > MAX_SIGNED_IN:
            self._forget(next(iter(self._signed)))
        return fresh

    def drop(self, session: Session) -> None:
        self._forget(session.id)

    def _forget(self, sid: str) -> None:
        self._sessions.pop(sid, None)
        self._pending.pop(sid, None)
        subject = self._signed.pop(sid, None)
        if subject is not None:
            mine = self._of_subject.get(subject)
            if mine is not None:
                mine.pop(sid, None)
                if not mine:
                    del self._of_subject[subject]

    def write_cookie(self, response: Response, session: Session) -> None:
        response.set_cookie(self.cookie, session.id, max_age=self.lifetime, httponly=True, secure=self.secure,
                            samesite="lax", path="/")

    def clear_cookie(self, response: Response) -> None:
        response.delete_cookie(self.cookie, path="/", httponly=True, secure=self.secure, samesite="lax")

    def sweep(self) -> None:
        now = time.time()
        for sid in [s.id for s in self._sessions.values() if s.expires_at < now]:
            self._forget(sid)

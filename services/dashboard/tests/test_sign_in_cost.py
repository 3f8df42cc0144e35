"""What a sign-in costs the dashboard, and what it leaves behind (1,200 sign-ins in one test client slowed down).

Two things were found: every `/logga-in` and every callback made a TLS context (the CA bundle loaded: ~35 ms of CPU,
nine tenths of the request), and every finished sign-in kept a server-side session for the whole session lifetime, so
one person signing in over and over (cookies cleared, a script with valid credentials) grew the store without bound.
The test client's cookie jar was not it: it holds one cookie throughout (the session's, replaced at each answer)."""

from __future__ import annotations

import ssl
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient

from styrkedja_dashboard.app import create_app
from styrkedja_dashboard.settings import DashboardSettings
from styrkedja_dashboard.web import sessions as module
from styrkedja_kit.auth import principal_from_claims


class _Issuer:
    """The identity provider's side of a sign-in, answering at once: `redeem` signs in the person `self.subject`."""

    subject = "u-1"

    async def authorization(self) -> tuple[str, dict[str, str]]:
        return "http://issuer.test/authorize?state=s1", {"state": "s1", "verifier": "v"}

    async def redeem(self, *, code: str, state: str, expected: dict[str, str]
                     ) -> tuple[str, float, Any, dict, str | None]:
        claims = {"sub": self.subject, "roles": ["organiser_admin"], "organisers": ["2120000142"]}
        return "t" * 1200, time.time() + 600, principal_from_claims(claims), claims, None

    async def end_session(self, id_token: str | None) -> str | None:
        return None  # a provider without RP-initiated logout


@pytest.fixture
def dashboard() -> Iterator[TestClient]:
    with TestClient(create_app(DashboardSettings(issuer="http://issuer.test"))) as client:
        yield client


def sign_in(client: TestClient) -> str:
    assert client.get("/logga-in", follow_redirects=False).status_code == 303
    done = client.get("/auth/callback", params={"code": "c", "state": "s1"}, follow_redirects=False)
    assert done.status_code == 303
    return client.cookies["styrkedja_session"]


def test_one_person_signing_in_over_and_over_keeps_a_bounded_number_of_sessions(dashboard):
    """Failed on the old code: 1,200 sessions, each with its token, for 8 hours."""
    dashboard.app.state.oidc = _Issuer()  # type: ignore[attr-defined]
    store = dashboard.app.state.sessions  # type: ignore[attr-defined]
    ids = []
    for _ in range(1200):
        dashboard.cookies.clear()  # a fresh browser each time
        ids.append(sign_in(dashboard))
    assert len(dashboard.cookies.jar) == 1  # the client's jar never grew
    assert len(store._sessions) == module.MAX_PER_SUBJECT
    kept = {sid for sid in ids if store._sessions.get(sid)}
    assert kept == set(ids[-module.MAX_PER_SUBJECT:])  # the newest stay signed in, the oldest were signed out
    assert dashboard.get("/larm", follow_redirects=False).status_code != 303  # the last one is signed in
    dashboard.cookies.set("styrkedja_session", ids[0])
    assert dashboard.get("/larm", follow_redirects=False).headers["location"].startswith("/logga-in")


def test_many_people_signing_in_keep_at_most_the_stores_bound_and_a_sign_out_frees_a_place(dashboard, monkeypatch):
    monkeypatch.setattr(module, "MAX_SIGNED_IN", 30)
    issuer = _Issuer()
    dashboard.app.state.oidc = issuer  # type: ignore[attr-defined]
    store = dashboard.app.state.sessions  # type: ignore[attr-defined]
    ids = []
    for n in range(100):
        issuer.subject = f"u-{n}"
        dashboard.cookies.clear()
        ids.append(sign_in(dashboard))
    assert len(store._sessions) == 30 and len(store._signed) == 30 and len(store._of_subject) == 30
    assert all(store._sessions.get(sid) for sid in ids[-30:])
    csrf = store._sessions[ids[-1]].csrf
    assert dashboard.post("/logga-ut", data={"csrf": csrf}, follow_redirects=False).status_code == 303
    assert len(store._sessions) == 29 and len(store._signed) == 29 and f"u-{99}" not in store._of_subject


def test_a_sign_in_makes_no_tls_context_of_its_own(dashboard, monkeypatch):
    """Failed on the old code: one per `/logga-in` and one per callback (the CA bundle read each time)."""
    made = []
    real = ssl.create_default_context

    def counted(*args: Any, **kwargs: Any) -> ssl.SSLContext:
        made.append(1)
        return real(*args, **kwargs)

    oidc = dashboard.app.state.oidc  # type: ignore[attr-defined]
    oidc._discovery = {"authorization_endpoint": "http://issuer.test/authorize",
                       "token_endpoint": "http://issuer.test/token"}
    monkeypatch.setattr(ssl, "create_default_context", counted)
    # the test process shares one context among clients with httpx's defaults (the devstack's pytest plugin,
    # `share_default_tls_context`): a deployed dashboard has no such thing, so neither does this test
    monkeypatch.setattr(httpx._transports.default, "create_ssl_context", httpx._config.create_ssl_context)
    for _ in range(20):
        assert dashboard.get("/logga-in", follow_redirects=False).status_code == 303
        oidc._client()  # as the callback makes it to redeem the code
    assert len(made) <= 1, len(made)

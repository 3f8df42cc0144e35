"""The dashboard's tests: an app whose upstream (reporting, LIKA) is a function of the test's, signed in as a role."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient

from styrkedja_dashboard.app import create_app
from styrkedja_dashboard.settings import DashboardSettings
from styrkedja_dashboard.web.sessions import COOKIE
from styrkedja_kit.auth import principal_from_claims


@pytest.fixture
def signed_in_as() -> Iterator[Callable[..., TestClient]]:
    """`signed_in_as(upstream, role=…, organiser=…, **claims)`: the dashboard's client, its session signed in with
    those claims, its reads of reporting and LIKA answered by `upstream` (one function of the request)."""
    settings = DashboardSettings(reporting_url="http://reporting.test", lika_url="http://lika.test",
                                 issuer="http://issuer.test")
    with TestClient(create_app(settings), base_url="http://127.0.0.1:8100", raise_server_exceptions=False) as client:
        def signed_in(upstream: Callable[[httpx.Request], httpx.Response], *, role: str, organiser: str,
                      **claims: Any) -> TestClient:
            client.app.state.http = httpx.AsyncClient(transport=httpx.MockTransport(upstream))  # type: ignore[attr-defined]
            session = client.app.state.sessions._new()  # type: ignore[attr-defined]
            session.token, session.token_expires_at = "opaque-token", time.time() + 600
            session.principal = principal_from_claims({"sub": "u-1", "roles": [role], "organisers": [organiser],
                                                        **claims})
            client.cookies.set(COOKIE, session.id)
            return client
        yield signed_in

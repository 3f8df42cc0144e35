"""Reporting's tests go through real tokens: the dev issuer (`token_issuer`) signs them, the service
verifies them as in production (`STYRKEDJA_AUTH_ISSUER`); there is no bypass in the service.

`client` is the service in-process with a token of the organiser admin (exact figures), the platform
client (directory writes) and ops (admin endpoints) of the test organisers; `as_role(client, token)`
sends one request with another token."""

from __future__ import annotations

import pytest

from styrkedja_devstack.testing import service_client

ORGANISERS = ("2999", "3001", "2888")


@pytest.fixture(autouse=True)
def _auth_issuer(token_issuer, monkeypatch):
    """Before any `settings` fixture reads the environment (autouse fixtures come first)."""
    monkeypatch.setenv("STYRKEDJA_AUTH_ISSUER", token_issuer.url)


@pytest.fixture
def admin_token(token_issuer) -> str:
    return token_issuer.mint(roles=["organiser_admin", "platform", "ops"], organisers=list(ORGANISERS),
                             subject="test-admin", client_id="test-platform")


@pytest.fixture
async def client(settings, admin_token):
    async with service_client("styrkedja_reporting", settings) as client:
        client.headers["Authorization"] = f"Bearer {admin_token}"
        yield client


@pytest.fixture
async def bare_client(settings):
    """The service with no token on the client: each request names its own."""
    async with service_client("styrkedja_reporting", settings) as client:
        yield client

"""Every request of these tests carries a real token from the session's dev issuer: the service
verifies it like any other (no bypass). The default is a platform client of organiser 2999."""

from __future__ import annotations

import pytest

ORGANISER = "2999"


@pytest.fixture(autouse=True)
def _issuer(issuer_env):
    """`STYRKEDJA_AUTH_ISSUER` set before any settings are built."""
    return issuer_env


@pytest.fixture
def client_token(token_issuer) -> str:
    return token_issuer.mint(roles=["platform"], organisers=[ORGANISER], client_id="platform-test")

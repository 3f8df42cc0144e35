"""Every request of these tests carries a real token from the session's dev issuer: the service
verifies it like any other (no bypass). The default is the principal (rektor) of the school units the
tests use, of organiser 2999; ownership tests switch tokens with `testing.use_token`."""

from __future__ import annotations

import pytest

ORGANISER = "2999"
UNITS = ("29990011", "29990022", "12345678")


@pytest.fixture(autouse=True)
def _issuer(issuer_env):
    """`STYRKEDJA_AUTH_ISSUER` set before any settings are built."""
    return issuer_env


@pytest.fixture
def client_token(token_issuer) -> str:
    return token_issuer.mint(roles=["principal"], organisers=[ORGANISER], school_units=list(UNITS),
                             subject="rektor-test")

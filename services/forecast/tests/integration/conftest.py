"""Every request of these tests carries a real token from the session's dev issuer: the service
verifies it like any other (no bypass). The default is a platform client of organiser 2999."""

from __future__ import annotations

from styrkedja_devstack.pytest_plugin import token_fixtures

ORGANISER = "2999"

_issuer, client_token = token_fixtures(
    lambda issuer: issuer.mint(roles=["platform"], organisers=[ORGANISER], client_id="platform-test"))

"""Every request of these tests carries a real token from the session's dev issuer: the service
verifies it like any other (no bypass). The default is a platform client of organiser 2999."""

from __future__ import annotations

import pytest

from styrkedja_assessment.settings import AssessmentSettings
from styrkedja_devstack.pytest_plugin import token_fixtures

ORGANISER = "2999"

_issuer, client_token = token_fixtures(
    lambda issuer: issuer.mint(roles=["platform"], organisers=[ORGANISER], client_id="platform-test"))


@pytest.fixture
def settings(fresh_database, infrastructure) -> AssessmentSettings:
    """The service on a fresh database, its relay off (a module with other needs defines its own)."""
    return AssessmentSettings(database_url=fresh_database("styrkedja_assessment"), outbox_enabled=False,
                              kafka_bootstrap_servers=infrastructure.kafka_bootstrap_servers)

"""Every request of these tests carries a real token from the session's dev issuer: the service
verifies it like any other (no bypass). The default is a platform client of organiser 2999."""

from __future__ import annotations

import pytest

from styrkedja_devstack.pytest_plugin import token_fixtures
from styrkedja_forecast.settings import ForecastSettings

ORGANISER = "2999"

_issuer, client_token = token_fixtures(
    lambda issuer: issuer.mint(roles=["platform"], organisers=[ORGANISER], client_id="platform-test"))


@pytest.fixture
def settings(service_database) -> ForecastSettings:
    """The service's settings on a fresh database: `service_database` sets the STYRKEDJA_* environment
    that ForecastSettings() reads."""
    service_database("styrkedja_forecast")
    return ForecastSettings()

"""Every request of these tests carries a real token from the session's dev issuer: the service
verifies it like any other (no bypass). The default is the principal (rektor) of the school units the
tests use, of organiser 2999; ownership tests switch tokens with `testing.use_token`."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from styrkedja_devstack.pytest_plugin import token_fixtures
from styrkedja_lika.settings import LikaSettings

ORGANISER = "2999"
UNITS = ("29990011", "29990022", "12345678")

_issuer, client_token = token_fixtures(lambda issuer: issuer.mint(
    roles=["principal"], organisers=[ORGANISER], school_units=list(UNITS), subject="rektor-test"))


@pytest.fixture
def settings(service_database) -> LikaSettings:
    """The service's settings on a fresh database: `service_database` sets the STYRKEDJA_* environment
    that LikaSettings() reads."""
    service_database("styrkedja_lika")
    return LikaSettings()


@pytest.fixture
def swedish_midsummer_night(monkeypatch) -> datetime:
    """The LIKA service's clock at 00:30 on 1 July in Sweden, 22:30 UTC on 30 June: the school's day and year have
    turned, UTC's have not. The moment itself is returned."""
    from styrkedja_lika.self_assessments import service

    moment = datetime(2027, 6, 30, 22, 30, tzinfo=UTC)

    class SwedishMidsummerNight(datetime):
        @classmethod
        def now(cls, tz=None):  # type: ignore[override]
            return moment if tz is None else moment.astimezone(tz)

    monkeypatch.setattr(service, "datetime", SwedishMidsummerNight)
    return moment

"""Fixtures shared by reporting's integration tests: the service's settings on a database of its own
(the consumer off: the tests feed events by hand), and a `Database` on it. A module that needs another
database (a fresh one per test) defines its own `database`; `db` is a `Database` on a fresh migrated one per test."""

from __future__ import annotations

import pytest

from styrkedja_kit.db import Database
from styrkedja_reporting.settings import ReportingSettings


@pytest.fixture
def settings(service_database, monkeypatch) -> ReportingSettings:
    service_database("styrkedja_reporting")
    monkeypatch.setenv("STYRKEDJA_CONSUMER_ENABLED", "false")
    # no decisions taken in the background: tests that count reads or decisions see only their own
    # (`access.warm`'s tests turn it on)
    monkeypatch.setenv("STYRKEDJA_DECISION_WARM_SECONDS", "0")
    return ReportingSettings()


@pytest.fixture
async def database(settings):
    database = Database(settings.database_url)
    yield database
    await database.dispose()


@pytest.fixture
async def db(fresh_database):
    database = Database(fresh_database("styrkedja_reporting"))
    yield database
    await database.dispose()

"""Cross-service fixtures: the four services as real processes on a real PostgreSQL and broker,
checking bearer tokens against the session's dev OIDC issuer (`token_issuer`); `stack.tokens`
signs the tokens the tests send (see `support.Tokens`).

Each stack gets fresh databases and its own reporting consumer group, so stacks in one session
do not see each other's state; the tests use organisers, school units and groups of their own
(see `Mittkoping`), so events other tests left on the shared topics do not touch their figures.
A new group starts where the topics end when its stack starts (`stacks.start_at_log_end`, which
says why that is safe), instead of re-reading every event of the session before it.
"""

from __future__ import annotations

import pytest
from inprocess import SERVICES, start_service

from stacks import SKIPPED, running_stack


@pytest.fixture
def stack(infrastructure, token_issuer, tmp_path):
    """A stack of the test's own (the fault tests kill, stop and restart its processes and the broker
    under them); the end-to-end tests share one instead, see `tests/e2e/conftest.py`."""
    with running_stack(infrastructure, token_issuer, tmp_path / "logs") as own:
        yield own


@pytest.fixture
def reporting(infrastructure, token_issuer):
    """A reporting service of the test's own, in-process on a fresh database, its consumer off
    (`inprocess.start_service`): the SS 12000 import tests send it what they read and judge what its
    directory holds. A module that feeds it data first defines a `reporting` of its own."""
    service = start_service("reporting", infrastructure, token_issuer)
    try:
        yield service
    finally:
        service.stop()


@pytest.fixture(scope="session", params=list(SERVICES))
def running(request: pytest.FixtureRequest, infrastructure, token_issuer):
    """(name, service): one service in-process on a fresh database, its relay and consumer off
    (`inprocess.start_service`), for the tests of the HTTP door: the OpenAPI fuzz and the hostile
    requests. One per service for the session, not per module: those tests only send requests and judge
    each answer by itself (no 5xx, documented, problem+json naming field and rule), none counts rows or
    depends on what another stored, so they share it as the tests of one module always did; pytest
    runs every test of one service together and stops its service before the next one starts."""
    service = start_service(request.param, infrastructure, token_issuer)
    try:
        yield request.param, service
    finally:
        service.stop()


def pytest_terminal_summary(terminalreporter) -> None:
    if SKIPPED:
        terminalreporter.write_line(f"reporting consumers of fresh stacks started at the log end: {len(SKIPPED)} "
                                    f"groups, {sum(SKIPPED):,} earlier records not re-read (max {max(SKIPPED):,})")

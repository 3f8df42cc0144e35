"""Pytest fixtures: a real PostgreSQL and a real Kafka-protocol broker for the whole session.

PostgreSQL from testcontainers when a Docker engine answers, otherwise the embedded binaries (the
same ones `make run` uses). The broker is a matrix: every test that uses `infrastructure` runs on the
embedded Tansu broker and on Apache Kafka (KRaft, from Maven Central); `$STYRKEDJA_TEST_BROKERS`
picks one. Environment variables can point at an external PostgreSQL or Kafka instead.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import uuid
from collections import defaultdict
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from .apache_kafka import missing_requirements
from .postgres import EmbeddedPostgres
from .stack import BROKER_KINDS, ENV_KAFKA, ENV_POSTGRES, Infrastructure, start_broker

#: Which brokers the integration, end-to-end and fault tests run on (comma-separated): `embedded` (Tansu),
#: `kafka` (Apache Kafka from Maven Central). Default both; `STYRKEDJA_TEST_BROKERS=embedded` for one.
ENV_TEST_BROKERS = "STYRKEDJA_TEST_BROKERS"
#: Set by .ci/run: a missing Java/Maven fails the Apache Kafka half instead of skipping it.
ENV_REQUIRE_ALL = "STYRKEDJA_REQUIRE_KAFKA"

if TYPE_CHECKING:
    from .issuer import DevIssuer


def docker_available() -> bool:
    if os.environ.get("STYRKEDJA_TEST_NO_DOCKER"):
        return False
    try:
        import docker

        docker.from_env(timeout=3).ping()
        return True
    except Exception:
        return False


def broker_params() -> list[str]:
    """Read once at import, before any test's monkeypatch touches the environment."""
    if os.environ.get(ENV_KAFKA):
        return ["external"]
    kinds = [k.strip() for k in os.environ.get(ENV_TEST_BROKERS, ",".join(BROKER_KINDS)).split(",") if k.strip()]
    unknown = set(kinds) - set(BROKER_KINDS)
    if unknown or not kinds:
        raise pytest.UsageError(f"${ENV_TEST_BROKERS} takes {', '.join(BROKER_KINDS)}, not {sorted(unknown)}")
    return kinds


BROKERS = broker_params()
_durations: dict[str, float] = defaultdict(float)
_counts: dict[str, int] = defaultdict(int)


@pytest.fixture(scope="session")
def test_postgres() -> Iterator[str]:
    """One PostgreSQL server for the whole session, whichever broker: its server URL."""
    if os.environ.get(ENV_POSTGRES):
        yield os.environ[ENV_POSTGRES]
        return
    if docker_available():
        from testcontainers.postgres import PostgresContainer

        with PostgresContainer("postgres:18", driver=None) as pg:
            yield pg.get_connection_url().rsplit("/", 1)[0]
        return
    # not pytest's tmp_path: its folders are private to root, and the server runs as its own user
    state_dir = Path(tempfile.mkdtemp(prefix="styrkedja-test-pg-"))
    state_dir.chmod(0o755)
    postgres = EmbeddedPostgres(state_dir / "pgdata").start()
    try:
        yield postgres.server_url()
    finally:
        postgres.stop()
        shutil.rmtree(state_dir, ignore_errors=True)


@pytest.fixture(scope="session", params=BROKERS)
def infrastructure(request: pytest.FixtureRequest, test_postgres: str) -> Iterator[Infrastructure]:
    """PostgreSQL and one broker; parametrised, so every test that needs it runs once per broker.
    pytest groups the tests by broker, so each broker starts once per session."""
    kind = request.param
    if kind == "external":
        yield Infrastructure(test_postgres, os.environ[ENV_KAFKA], notes=["external Kafka"])
        return
    if kind == "kafka":
        missing = missing_requirements()
        if missing:
            if os.environ.get(ENV_REQUIRE_ALL):
                pytest.fail(f"{missing} (${ENV_REQUIRE_ALL} is set: the Apache Kafka half must run)")
            pytest.skip(missing)
    state_dir = Path(tempfile.mkdtemp(prefix=f"styrkedja-test-{kind}-"))
    broker = start_broker(kind, state_dir)
    infra = Infrastructure(test_postgres, broker.bootstrap_servers, broker=broker, notes=[kind])
    previous = {name: os.environ.get(name) for name in infra.service_env}
    os.environ.update(infra.service_env)  # seen by in-process services and by service processes
    try:
        yield infra
    finally:
        for name, value in previous.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
        broker.stop()
        shutil.rmtree(state_dir, ignore_errors=True)


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    kind = _broker_of(report.nodeid)
    _durations[kind] += report.duration
    if report.when == "call":
        _counts[kind] += 1


def _broker_of(nodeid: str) -> str:
    params = nodeid.rpartition("[")[2].rstrip("]").split("-") if nodeid.endswith("]") else []
    return next((p for p in params if p in (*BROKER_KINDS, "external")), "no broker")


def pytest_terminal_summary(terminalreporter: Any) -> None:
    if len(_durations) > 1 or set(_durations) - {"no broker"}:
        parts = [f"{kind}: {_counts[kind]} tests, {seconds:.0f} s" for kind, seconds in sorted(_durations.items())]
        terminalreporter.write_line("time per broker (setup + call + teardown): " + "; ".join(parts))


@pytest.fixture
def fresh_database(infrastructure: Infrastructure) -> Callable[[str], str]:
    """Factory: a new, empty database migrated with the given service package's migrations."""
    from styrkedja_kit.migrations import upgrade

    def make(package: str) -> str:
        url = infrastructure.create_database(f"t_{package.removeprefix('styrkedja_')}_{uuid.uuid4().hex[:8]}")
        upgrade(package, url)
        return url

    return make


@pytest.fixture
def service_database(fresh_database: Callable[[str], str], infrastructure: Infrastructure,
                     monkeypatch: pytest.MonkeyPatch) -> Callable[[str], str]:
    """Factory: `fresh_database(package)`, with the environment a service's settings read pointed at it
    and at the test broker, and the outbox relay off (the tests read the outbox table themselves)."""

    def make(package: str) -> str:
        url = fresh_database(package)  # call from a sync fixture: migrations run their own event loop
        monkeypatch.setenv("STYRKEDJA_DATABASE_URL", url)
        monkeypatch.setenv("STYRKEDJA_OUTBOX_ENABLED", "false")
        monkeypatch.setenv("STYRKEDJA_KAFKA_BOOTSTRAP_SERVERS", infrastructure.kafka_bootstrap_servers)
        return url

    return make


# `client` and `db` serve a test module that defines a `settings` fixture: the settings of the service
# under test (an instance of its `<package>.settings` class) pointing at a fresh database.


@pytest.fixture
def client_token() -> str | None:
    """The bearer token the `client` fixture sends: none here; a module whose service requires tokens
    overrides this fixture, e.g. `return token_issuer.mint(roles=["platform"], organisers=["2999"])`."""
    return None


@pytest.fixture
async def client(settings: Any, client_token: str | None) -> AsyncIterator[Any]:
    """The service of the module's `settings`, started in-process behind an httpx client that sends
    `client_token` (if any) on every request."""
    from .testing import service_client

    async with service_client(type(settings).__module__.partition(".")[0], settings, token=client_token) as client:
        yield client


@pytest.fixture
async def db(settings: Any) -> AsyncIterator[Any]:
    """An SQLAlchemy engine on the database of the module's `settings`."""
    from .testing import async_engine

    async with async_engine(settings.database_url) as engine:
        yield engine


@pytest.fixture
def issuer_env(token_issuer: DevIssuer, monkeypatch: pytest.MonkeyPatch) -> DevIssuer:
    """`STYRKEDJA_AUTH_ISSUER` pointed at the session's dev issuer for this test (settings built from
    the environment then verify its tokens); the issuer itself is returned, to mint with."""
    monkeypatch.setenv("STYRKEDJA_AUTH_ISSUER", token_issuer.url)
    return token_issuer


@pytest.fixture(scope="session")
def token_issuer() -> Iterator[DevIssuer]:
    """A dev OIDC issuer on a free loopback port for the session; `token_issuer.mint(roles=[...],
    organisers=[...], ...)` signs a token, `token_issuer.url` is the `STYRKEDJA_AUTH_ISSUER`."""
    from .issuer import DevIssuer

    state_dir = Path(tempfile.mkdtemp(prefix="styrkedja-issuer-"))
    issuer = DevIssuer(state_dir, port=None).start()
    try:
        yield issuer
    finally:
        issuer.stop()
        shutil.rmtree(state_dir, ignore_errors=True)

"""Pytest fixtures: a real PostgreSQL and a real Kafka-protocol broker for the whole session.

PostgreSQL from testcontainers when a Docker engine answers, otherwise the embedded binaries (the
same ones `make run` uses). The broker is a matrix: every test that uses `infrastructure` (or
`fresh_database`, `service_database`, which use it) runs on the embedded Tansu broker and on Apache
Kafka (KRaft, from Maven Central); `$STYRKEDJA_TEST_BROKERS` picks one. Environment variables can
point at an external PostgreSQL or Kafka instead.

A test that never talks to a broker says so with the marker `postgres_only` (usually for its whole
module: `pytestmark = [pytest.mark.integration, pytest.mark.postgres_only]`): it runs once, `[postgres]`
in its id, with the same fixtures, and its broker address is a trap: a listening socket that counts
connections, so a test that connects to it after all fails at teardown instead of silently losing its
broker runs. A test in such a module that does talk to the broker takes `@pytest.mark.broker_matrix`.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
import threading
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
#: The `infrastructure` parameter (and test id) of the tests marked `postgres_only`: no broker at all.
POSTGRES_ONLY = "postgres"

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
    postgres = EmbeddedPostgres(state_dir / "pgdata", durable=False).start()  # deleted after the session
    try:
        yield postgres.server_url()
    finally:
        postgres.stop()
        remove_in_background(state_dir)


_removals: list[subprocess.Popen[bytes]] = []


def remove_in_background(folder: Path) -> None:
    """Delete a throw-away folder without waiting: the test PostgreSQL's hundreds of databases took
    1-3 minutes of `rmtree` at the end of the session on busy disks (measured), time nothing needs."""
    try:
        _removals.append(subprocess.Popen(["rm", "-rf", "--", str(folder)], stdout=subprocess.DEVNULL,
                                          stderr=subprocess.DEVNULL, start_new_session=True))
    except OSError:
        shutil.rmtree(folder, ignore_errors=True)


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "postgres_only: the test needs PostgreSQL but never a broker: it runs once, "
                                       "not once per broker (a connection to the broker fails it)")
    config.addinivalue_line("markers", "broker_matrix: the test talks to the broker: once per broker, even in a "
                                       "module marked postgres_only")
    config.addinivalue_line("markers", "one_broker: the test drives a user-facing layer (browser, CLI) whose broker "
                                       "behaviour other tests prove on both: it runs on the first selected broker only")


def runs_without_broker(node: pytest.Item) -> bool:
    return bool(node.get_closest_marker("postgres_only") and not node.get_closest_marker("broker_matrix"))


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """`infrastructure` (and so `fresh_database`, `service_database`, `stack`, ...) once per broker, or once
    without a broker for a test marked `postgres_only`. Session-scoped: pytest groups the tests by it, so
    each broker starts once per session."""
    if "infrastructure" in metafunc.fixturenames:
        params = [POSTGRES_ONLY] if runs_without_broker(metafunc.definition) else BROKERS
        if params is BROKERS and metafunc.definition.get_closest_marker("one_broker"):
            params = BROKERS[:1]
        metafunc.parametrize("infrastructure", params, indirect=True, scope="session")


class BrokerTrap:
    """A listening socket where the postgres-only tests' broker would be: it accepts, counts and closes
    every connection, so a test that talks to a broker after all is caught (see `_no_broker_used`)."""

    def __init__(self) -> None:
        self._sock = socket.create_server(("127.0.0.1", 0))
        self.address = f"127.0.0.1:{self._sock.getsockname()[1]}"
        self.connections = 0
        threading.Thread(target=self._serve, name="broker-trap", daemon=True).start()

    def _serve(self) -> None:
        while True:
            try:
                conn, _ = self._sock.accept()
            except OSError:
                return
            self.connections += 1
            conn.close()

    def close(self) -> None:
        self._sock.close()


_trap: BrokerTrap | None = None


@pytest.fixture(scope="session")
def infrastructure(request: pytest.FixtureRequest, test_postgres: str) -> Iterator[Infrastructure]:
    """PostgreSQL and one broker; parametrised (see `pytest_generate_tests`), so every test that needs it
    runs once per broker; for a `postgres_only` test, PostgreSQL and a broker address nothing answers on."""
    global _trap
    kind = getattr(request, "param", BROKERS[0])
    if kind == POSTGRES_ONLY:
        _trap = BrokerTrap()
        try:
            yield Infrastructure(test_postgres, _trap.address, notes=["PostgreSQL only: no broker"])
        finally:
            _trap.close()
            _trap = None
        return
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


@pytest.fixture(autouse=True)
def _no_broker_used(request: pytest.FixtureRequest) -> Iterator[None]:
    """A `postgres_only` test that connected to the broker address fails: it must run on the brokers."""
    callspec = getattr(request.node, "callspec", None)
    if callspec is None or callspec.params.get("infrastructure") != POSTGRES_ONLY:
        yield
        return
    request.getfixturevalue("infrastructure")
    trap = _trap
    before = trap.connections if trap else 0
    yield
    if trap and trap.connections != before:
        pytest.fail(f"{request.node.nodeid} is marked postgres_only but connected to the broker "
                    f"({trap.connections - before} connections): give it @pytest.mark.broker_matrix", pytrace=False)


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    kind = _broker_of(report.nodeid)
    _durations[kind] += report.duration
    if report.when == "call":
        _counts[kind] += 1


def _broker_of(nodeid: str) -> str:
    params = nodeid.rpartition("[")[2].rstrip("]").split("-") if nodeid.endswith("]") else []
    return next((p for p in params if p in (*BROKER_KINDS, "external", POSTGRES_ONLY)), "no broker")


def pytest_terminal_summary(terminalreporter: Any) -> None:
    if len(_durations) > 1 or set(_durations) - {"no broker"}:
        parts = [f"{kind}: {_counts[kind]} tests, {seconds:.0f} s" for kind, seconds in sorted(_durations.items())]
        terminalreporter.write_line("time per broker (setup + call + teardown; postgres: the postgres_only "
                                    "tests, no broker): " + "; ".join(parts))


#: (PostgreSQL server, service package) → a database migrated once this session, cloned for each test
_migrated: dict[tuple[str, str], str] = {}


def _clone_database(server_url: str, name: str, template: str) -> bool:
    """CREATE DATABASE name TEMPLATE template; False if the server refuses (say, someone is connected)."""
    import asyncio

    import asyncpg

    from styrkedja_kit.db import outside_event_loop

    async def create() -> bool:
        conn = await asyncpg.connect(f"{server_url}/postgres")
        try:
            await conn.execute(f'CREATE DATABASE "{name}" TEMPLATE "{template}"')
            return True
        except asyncpg.PostgresError:
            return False
        finally:
            await conn.close()

    return bool(outside_event_loop(asyncio.run, create()))


def migrated_database(infrastructure: Infrastructure, package: str, name: str | None = None) -> str:
    """A new database (`name`, or a fresh one) migrated with the service package's migrations: they run
    once per package and session, into a template database, and each new database is a copy of it,
    which PostgreSQL makes faster than running a dozen migrations again. Its URL."""
    from styrkedja_kit.migrations import upgrade

    short = package.removeprefix("styrkedja_")
    name = name or f"t_{short}_{uuid.uuid4().hex[:8]}"
    key = (infrastructure.postgres_url, package)
    if key not in _migrated:
        template = f"template_{short}_{uuid.uuid4().hex[:8]}"
        upgrade(package, infrastructure.create_database(template))
        _migrated[key] = template
    if _clone_database(infrastructure.postgres_url, name, _migrated[key]):
        return infrastructure.database_url(name)
    url = infrastructure.create_database(name)
    upgrade(package, url)
    return url


@pytest.fixture
def fresh_database(infrastructure: Infrastructure) -> Callable[[str], str]:
    """Factory: a new, empty database migrated with the given service package's migrations."""

    def make(package: str) -> str:
        return migrated_database(infrastructure, package)

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


def token_fixtures(mint: Callable[[DevIssuer], str]) -> tuple[Any, Any]:
    """For the conftest of a service whose every test request carries a real token:
    `_issuer, client_token = token_fixtures(lambda issuer: issuer.mint(roles=[...], organisers=[...]))`.
    `_issuer` (autouse) points `STYRKEDJA_AUTH_ISSUER` at the session's dev issuer before any settings are
    built; `client_token` (what the `client` fixture sends) is `mint(token_issuer)`."""

    @pytest.fixture(autouse=True, name="_issuer")
    def issuer(issuer_env: DevIssuer) -> DevIssuer:
        return issuer_env

    @pytest.fixture(name="client_token")
    def token(token_issuer: DevIssuer) -> str:
        return mint(token_issuer)

    return issuer, token

"""Pytest fixtures: a real PostgreSQL and a real Kafka-protocol broker for the whole session.

From testcontainers when a Docker engine answers, otherwise the embedded binaries (the
same ones `make run` uses). Environment variables can point at external ones instead.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from .stack import ENV_KAFKA, ENV_POSTGRES, Infrastructure

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


@pytest.fixture(scope="session")
def infrastructure() -> Iterator[Infrastructure]:
    if os.environ.get(ENV_POSTGRES) or os.environ.get(ENV_KAFKA) or not docker_available():
        # not pytest's tmp_path: its folders are private to root, and the server runs as its own user
        state_dir = Path(tempfile.mkdtemp(prefix="styrkedja-test-"))
        state_dir.chmod(0o755)
        infra = Infrastructure.start(state_dir)
        try:
            yield infra
        finally:
            infra.stop()
            shutil.rmtree(state_dir, ignore_errors=True)
        return
    from testcontainers.kafka import KafkaContainer
    from testcontainers.postgres import PostgresContainer

    with PostgresContainer("postgres:18", driver=None) as pg, KafkaContainer().with_kraft() as kafka:
        url = pg.get_connection_url().replace("postgresql://", "postgresql://", 1)
        server_url = url.rsplit("/", 1)[0]
        yield Infrastructure(server_url, kafka.get_bootstrap_server(), notes=["testcontainers"])


@pytest.fixture
def fresh_database(infrastructure: Infrastructure):
    """Factory: a new, empty database migrated with the given service package's migrations."""
    from styrkedja_kit.migrations import upgrade

    def make(package: str) -> str:
        url = infrastructure.create_database(f"t_{package.removeprefix('styrkedja_')}_{uuid.uuid4().hex[:8]}")
        upgrade(package, url)
        return url

    return make


@pytest.fixture
def service_database(fresh_database, infrastructure: Infrastructure, monkeypatch: pytest.MonkeyPatch):
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
async def client(settings):
    """The service of the module's `settings`, started in-process behind an httpx client."""
    from .testing import service_client

    async with service_client(type(settings).__module__.partition(".")[0], settings) as client:
        yield client


@pytest.fixture
async def db(settings):
    """An SQLAlchemy engine on the database of the module's `settings`."""
    from .testing import async_engine

    async with async_engine(settings.database_url) as engine:
        yield engine


@pytest.fixture(scope="session")
def token_issuer() -> Iterator["DevIssuer"]:
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

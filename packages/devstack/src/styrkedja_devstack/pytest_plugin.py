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

import pytest

from .stack import ENV_KAFKA, ENV_POSTGRES, Infrastructure


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


@pytest.fixture(scope="session")
def repo_root() -> Path:
    return Path(__file__).resolve().parents[4]

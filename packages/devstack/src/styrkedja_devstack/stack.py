"""Infrastructure for a run or a test session: PostgreSQL and a Kafka-protocol broker, embedded
unless environment variables point at external ones."""

from __future__ import annotations

import asyncio
import logging
import os
from dataclasses import dataclass, field
from pathlib import Path

from .broker import EmbeddedBroker
from .postgres import EmbeddedPostgres, ensure_database
from .services import SERVICES, database_url

log = logging.getLogger(__name__)

#: External PostgreSQL server URL (`postgresql://user:password@host:port`), superuser-ish: it creates databases.
ENV_POSTGRES = "STYRKEDJA_POSTGRES_URL"
#: External Kafka bootstrap servers (`host:port[,host:port]`).
ENV_KAFKA = "STYRKEDJA_KAFKA_BOOTSTRAP_SERVERS"


@dataclass
class Infrastructure:
    postgres_url: str
    kafka_bootstrap_servers: str
    postgres: EmbeddedPostgres | None = None
    broker: EmbeddedBroker | None = None
    notes: list[str] = field(default_factory=list)

    @classmethod
    def start(cls, state_dir: Path, *, pg_port: int | None = None, kafka_port: int | None = None) -> "Infrastructure":
        state_dir.mkdir(parents=True, exist_ok=True)
        postgres = broker = None
        notes = []
        pg_url = os.environ.get(ENV_POSTGRES)
        if not pg_url:
            postgres = EmbeddedPostgres(state_dir / "pgdata", port=pg_port).start()
            pg_url = postgres.server_url()
            notes.append(f"embedded PostgreSQL 18 on {postgres.host}:{postgres.port} (data: {postgres.data_dir})")
        else:
            notes.append("external PostgreSQL from $" + ENV_POSTGRES)
        bootstrap = os.environ.get(ENV_KAFKA)
        if not bootstrap:
            broker = EmbeddedBroker(port=kafka_port, log_file=state_dir / "tansu.log").start()
            bootstrap = broker.bootstrap_servers
            notes.append(f"embedded Tansu broker on {bootstrap} (topics in memory only)")
        else:
            notes.append("external Kafka from $" + ENV_KAFKA)
        return cls(pg_url, bootstrap, postgres, broker, notes)

    def database_url(self, database: str) -> str:
        return database_url(self.postgres_url, database)

    def create_database(self, database: str) -> str:
        ensure_database(self.postgres_url, database)
        return self.database_url(database)

    def ensure_topics(self) -> None:
        from styrkedja_kit.kafka import ensure_topics, registry_topics
        from styrkedja_kit.settings import ServiceSettings

        settings = ServiceSettings(kafka_bootstrap_servers=self.kafka_bootstrap_servers)
        asyncio.run(ensure_topics(settings, registry_topics(["reporting"])))

    def migrate_all(self) -> dict[str, str]:
        """Create and migrate every service's database; returns service name → URL."""
        from styrkedja_kit.migrations import upgrade

        urls = {}
        for spec in SERVICES:
            url = self.create_database(spec.database)
            upgrade(spec.package, url)
            urls[spec.name] = url
        return urls

    def stop(self) -> None:
        if self.broker:
            self.broker.stop()
        if self.postgres:
            self.postgres.stop()

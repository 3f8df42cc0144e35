"""Infrastructure for a run or a test session: PostgreSQL and a Kafka-protocol broker, embedded
unless environment variables point at external ones."""

from __future__ import annotations

import asyncio
import logging
import os
from dataclasses import dataclass, field
from pathlib import Path

from .apache_kafka import ApacheKafka, kafka_setting_problems
from .broker import EmbeddedBroker
from .postgres import EmbeddedPostgres, ensure_database
from .services import SERVICES, database_url

log = logging.getLogger(__name__)

#: External PostgreSQL server URL (`postgresql://user:password@host:port`), superuser-ish: it creates databases.
ENV_POSTGRES = "STYRKEDJA_POSTGRES_URL"
#: External Kafka bootstrap servers (`host:port[,host:port]`).
ENV_KAFKA = "STYRKEDJA_KAFKA_BOOTSTRAP_SERVERS"
#: Which broker the devstack starts when no external one is given: `embedded` (Tansu, default) or `kafka`.
ENV_BROKER = "STYRKEDJA_BROKER"
BROKER_KINDS = ("embedded", "kafka")


def broker_kind_from_env() -> str:
    kind = os.environ.get(ENV_BROKER, "embedded").strip().lower() or "embedded"
    if kind not in BROKER_KINDS:
        raise ValueError(f"${ENV_BROKER} must be one of {', '.join(BROKER_KINDS)}, not {kind!r}")
    return kind


def broker_setting_problems() -> list[str]:
    """Why the broker variables `Infrastructure.start` reads would stop it after PostgreSQL had started, one line each
    naming the variable and its rule: the broker's kind, and the Apache Kafka node's heap and log level where it starts
    one. Nothing where an external broker is named (none is started)."""
    if os.environ.get(ENV_KAFKA):
        return []
    try:
        kind = broker_kind_from_env()
    except ValueError as error:
        return [str(error)]
    return kafka_setting_problems() if kind == "kafka" else []


def start_broker(kind: str, state_dir: Path, port: int | None = None) -> EmbeddedBroker | ApacheKafka:
    if kind == "kafka":
        return ApacheKafka(state_dir / "kafka", port=port).start()
    return EmbeddedBroker(port=port, log_file=state_dir / "tansu.log").start()


@dataclass
class Infrastructure:
    postgres_url: str
    kafka_bootstrap_servers: str
    postgres: EmbeddedPostgres | None = None
    broker: EmbeddedBroker | ApacheKafka | None = None
    notes: list[str] = field(default_factory=list)

    @classmethod
    def start(cls, state_dir: Path, *, pg_port: int | None = None, kafka_port: int | None = None,
              broker_kind: str | None = None) -> Infrastructure:
        state_dir.mkdir(parents=True, exist_ok=True)
        postgres: EmbeddedPostgres | None = None
        broker: EmbeddedBroker | ApacheKafka | None = None
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
            kind = broker_kind or broker_kind_from_env()
            try:
                broker = start_broker(kind, state_dir, kafka_port)
            except BaseException:
                if postgres:
                    postgres.stop()
                raise
            bootstrap = broker.bootstrap_servers
            if isinstance(broker, ApacheKafka):
                notes.append(f"Apache Kafka (KRaft) on {bootstrap} (logs: {broker.data_dir})")
            else:
                notes.append(f"embedded Tansu broker on {bootstrap} (topics in memory only)")
        else:
            notes.append("external Kafka from $" + ENV_KAFKA)
        return cls(pg_url, bootstrap, postgres, broker, notes)

    def database_url(self, database: str) -> str:
        return database_url(self.postgres_url, database)

    def create_database(self, database: str) -> str:
        ensure_database(self.postgres_url, database)
        return self.database_url(database)

    @property
    def broker_kind(self) -> str:
        """`embedded`, `kafka` (the devstack's own Apache Kafka) or `external`."""
        return self.broker.kind if self.broker else "external"

    @property
    def service_env(self) -> dict[str, str]:
        """Environment the services need for this broker: the embedded one may lose its topics and
        recreate them with the wrong partition count, so its services may repair that. (The consumer
        group session is chosen by the services themselves from the broker's capabilities:
        `styrkedja_kit.kafka.group_timing`.)"""
        if self.broker_kind != "embedded":
            return {}
        return {"STYRKEDJA_KAFKA_REPAIR_AUTO_CREATED_TOPICS": "true"}

    def ensure_topics(self, *, repair: bool = False) -> None:
        """The registry's topics (and reporting's dead-letter topic) with their partition counts; `repair`: a topic
        the broker made with another count (auto-created by a producer after it came back empty) made again."""
        from styrkedja_kit.db import outside_event_loop
        from styrkedja_kit.kafka import ensure_topics, registry_topics
        from styrkedja_kit.settings import ServiceSettings

        settings = ServiceSettings(kafka_bootstrap_servers=self.kafka_bootstrap_servers)
        outside_event_loop(asyncio.run, ensure_topics(settings, registry_topics(["reporting"]),
                                                      recreate_misshapen=repair))

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

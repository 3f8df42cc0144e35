"""The four services as real processes on a real PostgreSQL and broker, for the end-to-end and fault
tests: `running_stack` starts them on fresh databases (each stack with its own reporting consumer
group), `Stack` is what the tests get (see the `stack` fixtures in tests/conftest.py and
tests/e2e/conftest.py)."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from styrkedja_devstack.postgres import free_port
from styrkedja_devstack.pytest_plugin import migrated_database
from styrkedja_devstack.services import SERVICES, ServiceProcess
from support import Tokens

FAST_RECOVERY = {
    "STYRKEDJA_OUTBOX_LOSS_CHECK_INTERVAL_SECONDS": "1",
    "STYRKEDJA_LOG_LEVEL": "WARNING",
}
#: on Apache Kafka a SIGKILLed member is noticed within 3 s, not the default 6 s (the devstack's broker
#: allows sessions from 1 s); the embedded broker gets the services' own choice, 1 s (kafka.group_timing)
KAFKA_FAST_RECOVERY = {
    "STYRKEDJA_CONSUMER_SESSION_TIMEOUT_MS": "3000",
    "STYRKEDJA_CONSUMER_HEARTBEAT_INTERVAL_MS": "500",
}


def fast_recovery(infrastructure) -> dict[str, str]:
    return {**FAST_RECOVERY, **(KAFKA_FAST_RECOVERY if infrastructure.broker_kind != "embedded" else {})}


@dataclass
class Stack:
    processes: dict[str, ServiceProcess]
    log_dir: Path
    tokens: Tokens

    def url(self, name: str) -> str:
        return self.processes[name].url

    def stop(self) -> None:
        """SIGTERM to every service at once, then wait for each: the four graceful shutdowns overlap
        instead of following one another."""
        for process in self.processes.values():
            process.terminate()
        for process in self.processes.values():
            process.stop()

    def dead(self) -> list[str]:
        """The services whose process has exited (or was never started)."""
        return [name for name, p in self.processes.items() if p.process is None or p.process.poll() is not None]


@contextmanager
def running_stack(infrastructure, token_issuer, log_dir: Path) -> Iterator[Stack]:
    """The four services as processes on fresh databases (cloned from the migrated templates), with a
    reporting consumer group of their own; started together, ready when each answers /readyz."""
    run = uuid.uuid4().hex[:8]
    processes = {}
    for spec in SERVICES:
        url = migrated_database(infrastructure, spec.package, f"e2e_{spec.name}_{run}")
        processes[spec.name] = ServiceProcess(
            spec, database_url=url, kafka_bootstrap_servers=infrastructure.kafka_bootstrap_servers,
            port=free_port(), log_dir=log_dir,
            extra_env={**fast_recovery(infrastructure), "STYRKEDJA_CONSUMER_GROUP": f"reporting-{run}",
                       "STYRKEDJA_AUTH_ISSUER": token_issuer.url})
    stack = Stack(processes, log_dir, Tokens(token_issuer))
    try:
        for process in processes.values():
            process.start()
        for process in processes.values():
            process.wait_ready(90)
        yield stack
    finally:
        stack.stop()

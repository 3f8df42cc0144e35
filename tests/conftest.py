"""Cross-service fixtures: the four services as real processes on a real PostgreSQL and broker,
checking bearer tokens against the session's dev OIDC issuer (`token_issuer`); `stack.tokens`
signs the tokens the tests send (see `support.Tokens`).

Each stack gets fresh databases and its own reporting consumer group, so stacks in one session
do not see each other's state; the tests use organisers, school units and groups of their own
(see `Mittkoping`), so events other tests left on the shared topics do not touch their figures.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from pathlib import Path

import pytest

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
        for process in self.processes.values():
            process.stop()


@pytest.fixture
def stack(infrastructure, token_issuer, tmp_path):
    run = uuid.uuid4().hex[:8]
    processes = {}
    for spec in SERVICES:
        url = migrated_database(infrastructure, spec.package, f"e2e_{spec.name}_{run}")
        processes[spec.name] = ServiceProcess(
            spec, database_url=url, kafka_bootstrap_servers=infrastructure.kafka_bootstrap_servers,
            port=free_port(), log_dir=tmp_path / "logs",
            extra_env={**fast_recovery(infrastructure), "STYRKEDJA_CONSUMER_GROUP": f"reporting-{run}",
                       "STYRKEDJA_AUTH_ISSUER": token_issuer.url})
    stack = Stack(processes, tmp_path / "logs", Tokens(token_issuer))
    try:
        for process in processes.values():
            process.start()
        for process in processes.values():
            process.wait_ready(90)
        yield stack
    finally:
        stack.stop()


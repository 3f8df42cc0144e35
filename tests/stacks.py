"""The four services as real processes on a real PostgreSQL and broker, for the end-to-end and fault
tests: `running_stack` starts them on fresh databases (each stack with its own reporting consumer
group), `Stack` is what the tests get (see the `stack` fixtures in tests/conftest.py and
tests/e2e/conftest.py)."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient
from sqlalchemy import MetaData, func, select

from styrkedja_contracts import TOPICS
from styrkedja_devstack.postgres import free_port
from styrkedja_devstack.pytest_plugin import migrated_database, recycle_database
from styrkedja_devstack.services import SERVICES, ServiceProcess
from styrkedja_devstack.testing import async_engine
from styrkedja_kit.consumer import define_consumer_tables
from styrkedja_kit.db import outside_event_loop
from support import SERVICE_LOGS, Tokens

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


#: the topics the reporting consumer reads, from the contracts' registry (as reporting's main takes them)
REPORTING_TOPICS = tuple(t.name for t in TOPICS.values() if "reporting" in t.consumers)
#: per new consumer group placed at the log end this session: the records it did not have to read
#: (the session's summary line, see tests/conftest.py)
SKIPPED: list[int] = []


def start_at_log_end(bootstrap_servers: str, group: str, reporting_database_url: str) -> int:
    """Let a NEW reporting consumer group start where the shared topics end now, instead of re-reading
    every event earlier tests of the session left there (one fault test's stack read 55,395 of them).

    Call it before any process of the stack runs. It is safe because nothing this stack's consumer must
    see can lie below these offsets: the group is new (the broker holds no committed offset for it and
    its fresh database no stored offset: both are checked, else it raises), and the stack's services,
    the only writers of its events, have not started, so everything they, or the test, publish is
    appended after the end read here. A broker's end offset is at most the true end: exact on Apache
    Kafka, the start of the last record batch on the embedded Tansu build (see the README), so at worst
    a few foreign events are read again, which the event-id bookkeeping and the tests' own organisers
    make harmless, exactly as re-reading all of them was.

    The offsets go where the kit's consumer takes them from: its database table `consumer_offsets` (it
    seeks there on assignment), and the broker's committed offsets for the group (the marker without
    which a broker that may lose its logs makes the consumer re-read from the start). Returns how many
    records the group does not have to read."""
    async def seed() -> int:
        admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap_servers, client_id=f"styrkedja-tests-{group}")
        await admin.start()
        try:  # the partitions from the broker (a consumer's `topics()` keeps them only on Tansu)
            present = [topic for topic in REPORTING_TOPICS if topic in set(await admin.list_topics())]
            described = await admin.describe_topics(present) if present else []
        finally:
            await admin.close()
        partitions = [TopicPartition(d["topic"], p["partition"]) for d in described for p in d["partitions"]]
        if not partitions:
            return 0
        consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap_servers, group_id=group, enable_auto_commit=False,
                                    client_id=f"styrkedja-tests-{group}")
        await consumer.start()
        try:
            consumer.assign(partitions)
            for tp in partitions:
                if await consumer.committed(tp) is not None:
                    raise RuntimeError(f"consumer group {group} is not new: it has an offset on {tp}")
            ends = {tp: end for tp, end in (await consumer.end_offsets(partitions)).items() if end > 0}
            _, offsets = define_consumer_tables(MetaData())
            async with async_engine(reporting_database_url) as engine, engine.begin() as conn:
                stored = (await conn.execute(select(func.count()).select_from(offsets)
                                             .where(offsets.c.group_id == group))).scalar_one()
                if stored:
                    raise RuntimeError(f"consumer group {group} is not new: its database holds {stored} offsets")
                if ends:
                    await conn.execute(offsets.insert(), [
                        {"group_id": group, "topic": tp.topic, "partition": tp.partition, "next_offset": end}
                        for tp, end in ends.items()])
            if ends:
                await consumer.commit(ends)
            return sum(ends.values())
        finally:
            await consumer.stop()

    skipped = int(outside_event_loop(asyncio.run, seed()))
    SKIPPED.append(skipped)
    return skipped


@contextmanager
def running_stack(infrastructure, token_issuer, log_dir: Path,
                  services: tuple[str, ...] | None = None) -> Iterator[Stack]:
    """The four services (or those named in `services`) as processes on fresh databases (cloned from the
    migrated templates), with a reporting consumer group of their own that starts where the topics end
    (`start_at_log_end`: not at the events earlier tests left); started together, ready when each
    answers /readyz."""
    run = uuid.uuid4().hex[:8]
    group = f"reporting-{run}"
    processes = {}
    specs = [spec for spec in SERVICES if services is None or spec.name in services]
    # one database per service package, each its own template and idle list: made side by side
    with ThreadPoolExecutor(len(specs)) as pool:
        urls = list(pool.map(lambda spec: migrated_database(infrastructure, spec.package, f"e2e_{spec.name}_{run}"),
                             specs))
    for spec, url in zip(specs, urls, strict=True):
        processes[spec.name] = ServiceProcess(
            spec, database_url=url, kafka_bootstrap_servers=infrastructure.kafka_bootstrap_servers,
            port=free_port(), log_dir=log_dir,
            extra_env={**fast_recovery(infrastructure), "STYRKEDJA_CONSUMER_GROUP": group,
                       "STYRKEDJA_AUTH_ISSUER": token_issuer.url})
    if "reporting" in processes:
        start_at_log_end(infrastructure.kafka_bootstrap_servers, group,
                         processes["reporting"].env["STYRKEDJA_DATABASE_URL"])
    stack = Stack(processes, log_dir, Tokens(token_issuer))
    for process in processes.values():  # a failed wait for a service quotes what it logged (`consumer_diagnosis`)
        SERVICE_LOGS[process.url] = log_dir / f"{process.spec.name}.log"
    try:
        for process in processes.values():
            process.start()
        for process in processes.values():
            process.wait_ready(90)
        yield stack
    finally:
        stack.stop()
        # back for the next stack or test, if nothing holds them (see recycle_database); side by side
        with ThreadPoolExecutor(len(specs)) as pool:
            list(pool.map(lambda spec: recycle_database(infrastructure, spec.package,
                                                        processes[spec.name].env["STYRKEDJA_DATABASE_URL"]), specs))

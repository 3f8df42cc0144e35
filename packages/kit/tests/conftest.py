"""Fixtures shared by the kit's tests: a real PostgreSQL database, and a consumer loop's broker side replaced."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import pytest
from sqlalchemy import MetaData

from styrkedja_kit import consumer as consumer_module
from styrkedja_kit.db import Database
from styrkedja_kit.kafka import BrokerCapabilities

MakeDatabase = Callable[..., Awaitable[Database]]


@pytest.fixture
async def make_database(infrastructure) -> AsyncIterator[MakeDatabase]:
    """`await make_database(metadata, "claim")`: a fresh database holding `metadata`'s tables, disposed after the
    test — each test its own, so that tests on two pytest workers never share a table."""
    made: list[Database] = []

    async def make(metadata: MetaData, prefix: str, pool_size: int = 2) -> Database:
        database = Database(infrastructure.create_database(f"t_{prefix}_{uuid.uuid4().hex[:8]}"),
                            pool_size=pool_size)
        made.append(database)
        async with database.engine.begin() as conn:
            await conn.run_sync(metadata.create_all)
        return database

    yield make
    for database in made:
        await database.dispose()


#: what the embedded broker offers (`kafka.broker_capabilities`)
EMBEDDED = BrokerCapabilities(idempotent_producer=False, exact_offsets=False, static_membership=False)


@pytest.fixture
def no_broker(monkeypatch: pytest.MonkeyPatch) -> Callable[..., None]:
    """For tests of `ConsumerLoop._run_once` and what wraps it without Kafka: `no_broker(consumer=…, producer=…,
    capabilities=…)` makes no topics, answers the capabilities given (the embedded broker's by default) and hands
    out the clients the two factories make."""

    def replace(*, consumer: Callable[[], Any], producer: Callable[[], Any],
                capabilities: BrokerCapabilities = EMBEDDED) -> None:
        async def answered(*_: Any, **__: Any) -> BrokerCapabilities:
            return capabilities

        async def no_topics(*_: Any, **__: Any) -> None:
            return None

        monkeypatch.setattr(consumer_module, "ensure_topics", no_topics)
        monkeypatch.setattr(consumer_module, "broker_capabilities", answered)
        monkeypatch.setattr(consumer_module, "make_consumer", lambda *_, **__: consumer())
        monkeypatch.setattr(consumer_module, "make_producer", lambda *_, **__: producer())

    return replace

"""A member that holds no assignment for `ConsumerLoop.assignment_stall_seconds` makes its Kafka clients anew
(`_run_watched`, `AssignmentStalled`): in CI a reporting consumer stood "waiting for partition assignment" for over
180 s after Apache Kafka was SIGKILLed and restarted, with the broker and the database both answering, and applied
nothing more. Driven through `ConsumerLoop._run_noted` with the broker's side replaced by clients of this file (the
watch is what is tested, not Kafka's group protocol): no broker and no database."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from typing import Any

import pytest
from sqlalchemy import MetaData

from styrkedja_kit import consumer as consumer_module
from styrkedja_kit.consumer import AssignmentStalled, ConsumerLoop, define_consumer_tables
from styrkedja_kit.settings import ServiceSettings


class _Client:
    def __init__(self) -> None:
        self.started = self.stopped = False

    def subscribe(self, topics: list[str], listener: Any) -> None:
        self.topics = topics

    async def start(self) -> None:
        self.started = True

    async def stop(self) -> None:
        self.stopped = True


@pytest.fixture
def loop(monkeypatch: pytest.MonkeyPatch, no_broker) -> ConsumerLoop:
    clients: list[_Client] = []

    def client() -> _Client:
        clients.append(_Client())
        return clients[-1]

    no_broker(consumer=client, producer=client)
    applied, offsets = define_consumer_tables(MetaData())
    made = ConsumerLoop(ServiceSettings(), database=None, group_id="reporting", topics=["styrkedja.assessments"],
                        handler=None, applied_table=applied, offsets_table=offsets)
    made.assignment_stall_seconds = 0.3
    made.clients = clients  # type: ignore[attr-defined]

    @contextlib.asynccontextmanager
    async def no_connection() -> AsyncIterator[None]:  # no database: the run's connection is not taken
        yield

    monkeypatch.setattr(made, "holding_connection", no_connection)
    return made


async def test_a_run_that_never_gets_an_assignment_is_ended_and_its_clients_stopped(
        loop: ConsumerLoop, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture) -> None:
    waited = asyncio.Event()

    async def joining_for_ever(*_: Any) -> None:  # the client's join that never completes: no assignment
        waited.set()
        await asyncio.Event().wait()

    monkeypatch.setattr(loop, "_loop", joining_for_ever)
    caplog.set_level(logging.WARNING, logger=consumer_module.__name__)
    with pytest.raises(AssignmentStalled, match="no partition assignment for 0.3 s"):
        await asyncio.wait_for(loop._run_noted(), 10)
    assert waited.is_set()
    assert loop.last_failure is not None and loop.last_failure.startswith("AssignmentStalled")  # /readyz says so
    consumer, producer = loop.clients  # type: ignore[attr-defined]
    assert consumer.started and consumer.stopped and producer.stopped
    assert "no partition assignment for 0.3 s: the Kafka clients are made anew" in caplog.messages


async def test_a_run_that_holds_its_assignment_or_is_asked_to_stop_is_not_ended(
        loop: ConsumerLoop, monkeypatch: pytest.MonkeyPatch) -> None:
    async def assigned_then_stopped(*_: Any) -> None:
        loop.assigned = True  # the group's assignment, held three times the bound
        await asyncio.sleep(0.9)
        loop.assigned = False  # a rebalance, then a stop while unassigned (a shutdown mid-rebalance)
        loop.stop()
        await asyncio.sleep(0.9)

    monkeypatch.setattr(loop, "_loop", assigned_then_stopped)
    await asyncio.wait_for(loop._run_noted(), 10)  # ends as its run ends, with no AssignmentStalled
    assert loop.last_failure is None

"""The cyclic garbage collector does not run inside a batch's transaction (`consumer.collector_paused`): it ran
dozens of times in each transaction of thousands of events, walking the batch in hand each time. Counted
with `gc.callbacks`; the batch's own reference cycles are still collected, right after the transaction."""

from __future__ import annotations

import asyncio
import gc
import weakref
from collections.abc import Iterator
from datetime import UTC, datetime
from types import SimpleNamespace
from typing import Any

import pytest
from aiokafka import TopicPartition
from sqlalchemy import MetaData

from styrkedja_contracts import OrganisationUnitUpsertedV1, new_event
from styrkedja_kit.consumer import ConsumerLoop, Delivered, collector_paused, define_consumer_tables
from styrkedja_kit.settings import ServiceSettings

A = TopicPartition("t", 0)


def unit_event(n: int) -> bytes:
    return new_event(OrganisationUnitUpsertedV1(
        unit_type="organiser", unit_id=f"{2000 + n}", organiser_id=f"{2000 + n}", name=f"H{n}",
        updated_at=datetime(2026, 9, 1, tzinfo=UTC)), source="/test").to_bytes()


class Node:
    """A reference cycle (a node pointing at itself): freed only by the collector."""

    def __init__(self) -> None:
        self.me = self


@pytest.fixture
def collections() -> Iterator[list[int]]:
    """The generation of every collection while the test runs."""
    seen: list[int] = []

    def callback(phase: str, info: dict[str, Any]) -> None:
        if phase == "start":
            seen.append(info["generation"])

    was, thresholds = gc.isenabled(), gc.get_threshold()
    # Python's default thresholds, whatever ran in this process before (a service started in-process raises
    # the young generation's: `tune_garbage_collector`), so that the counts below mean what they say
    gc.set_threshold(700, 10, 10)
    gc.enable()
    gc.callbacks.append(callback)
    try:
        yield seen
    finally:
        gc.callbacks.remove(callback)
        gc.set_threshold(*thresholds)
        if not was:
            gc.disable()


class CyclesLoop(ConsumerLoop):
    """The real loop's batch (`process`) with a transaction that makes many reference cycles, waiting on
    "PostgreSQL" between them, and applies every event."""

    def __init__(self, collections: list[int]) -> None:
        applied_table, offsets_table = define_consumer_tables(MetaData())
        settings = ServiceSettings(service_name="collector-test", database_url="unused",
                                   kafka_bootstrap_servers="unused")
        super().__init__(settings, None, group_id="g-collector", topics=["t"],  # type: ignore[arg-type]
                         handler=self._no_handler, applied_table=applied_table, offsets_table=offsets_table)
        self.collections = collections
        self.in_transaction: list[int] = []  # collections counted inside each batch's transaction
        self.last: weakref.ref[Node] | None = None  # a cycle the last transaction made and dropped

    async def _apply_paused(self, delivered: list[Delivered], next_offsets: dict[TopicPartition, int]
                            ) -> list[Delivered]:
        before = len(self.collections)
        for _ in range(20):
            made = [Node() for _ in range(2_000)]  # 40,000 cycles: ~57 young collections by default thresholds
            self.last = weakref.ref(made[-1])
            del made
            await asyncio.sleep(0)
        self.in_transaction.append(len(self.collections) - before)
        return delivered

    async def _no_handler(self, session: Any, batch: Any) -> None:
        raise AssertionError("the fake transaction applies the events itself")


def test_no_collection_runs_inside_a_batch_s_transaction_and_its_cycles_are_collected_after(
        collections: list[int]) -> None:
    loop = CyclesLoop(collections)
    batch = {A: [SimpleNamespace(value=unit_event(n), offset=n, key=None, timestamp=-1, headers=[], topic=A.topic,
                                 partition=A.partition) for n in range(5)]}

    async def one_batch() -> None:
        await loop.process(batch, None)  # type: ignore[arg-type]  # no dead letters: no producer used

    asyncio.run(one_batch())
    assert loop.applied_count == 5
    assert loop.in_transaction == [0], f"collections inside the transaction: {loop.in_transaction}"
    assert gc.isenabled()
    for _ in range(2):
        [Node() for _ in range(1_000)]  # allocations after the commit: a young collection falls due, if none ran yet
    assert loop.last is not None and loop.last() is None, "the transaction's cycles were not collected after it"


def test_overlapping_transactions_keep_the_collector_paused_until_the_last_ends_and_leave_it_as_found(
        collections: list[int]) -> None:
    with collector_paused():
        with collector_paused():
            assert not gc.isenabled()
        assert not gc.isenabled()  # the other transaction still runs
    assert gc.isenabled()
    gc.disable()  # something else turned it off: a transaction does not turn it on
    try:
        with collector_paused():
            pass
        assert not gc.isenabled()
    finally:
        gc.enable()


def test_the_c_heaps_free_pages_are_given_back_every_so_many_records(monkeypatch: pytest.MonkeyPatch) -> None:
    """`release_memory`: glibc kept the pages a batch freed, a reporting worker's RSS ~50 MB above what it used
    (bench/results/rss25.json); trimmed once per `RELEASE_EVERY_RECORDS` records applied, never inside another
    loop's transaction (tried again after the next batch)."""
    from styrkedja_kit import consumer

    trims: list[int] = []
    monkeypatch.setattr(consumer, "_malloc_trim", lambda pad: trims.append(pad) or 1)
    monkeypatch.setattr(consumer, "_applied_since_release", 0)
    every = consumer.RELEASE_EVERY_RECORDS
    assert not consumer.release_memory(every - 1) and trims == []
    with collector_paused():  # another loop's transaction runs
        assert not consumer.release_memory(1) and trims == []
    assert consumer.release_memory(1) and trims == [0]
    assert not consumer.release_memory(every - 1) and trims == [0]
    assert consumer.release_memory(1) and trims == [0, 0]


def test_a_batch_counts_towards_the_release(monkeypatch: pytest.MonkeyPatch) -> None:
    """The loop's batch (`_apply_decoded`) tells `release_memory` how many records it handled."""
    from styrkedja_kit import consumer

    told: list[int] = []
    monkeypatch.setattr(consumer, "release_memory", lambda records: told.append(records) or False)
    loop = CyclesLoop([])
    batch = {A: [SimpleNamespace(value=unit_event(n), offset=n, key=None, timestamp=-1, headers=[], topic=A.topic,
                                 partition=A.partition) for n in range(5)]}
    asyncio.run(loop.process(batch, None))  # type: ignore[arg-type]  # no dead letters: no producer used
    assert told == [5]

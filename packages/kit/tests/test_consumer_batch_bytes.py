"""A consumer batch is bounded by its records' bytes as well as by their count (`consumer_max_batch_bytes`).

Large but valid events (a LIKA self-assessment at `max_event_bytes`, 256 kB, is ~0.95 MB in memory with its record
once decoded) filled a batch up to `consumer_max_records` (5,000): ~4.7 GB held until its transaction committed. The
process was killed for its memory, started again on the same batch, and killed again: nothing after it was applied.
Driven through the real loop (`test_consumer_prefetch`'s client of records in memory), with a client that hands out
a few records per fetch as aiokafka does (its fetch is bounded per partition by `max_partition_fetch_bytes`)."""

from __future__ import annotations

import asyncio
from typing import Any

from aiokafka import TopicPartition

from styrkedja_kit.consumer import Delivered, fill_batch, records_bytes

from .test_consumer_prefetch import A, Client, Loop, run_until, unit_event


class FewPerFetch(Client):
    """At most `per_fetch` records per `getmany`, as a fetch bounded by bytes hands out."""

    def __init__(self, logs: dict[TopicPartition, list[bytes]], per_fetch: int) -> None:
        super().__init__(logs)
        self.per_fetch = per_fetch

    async def getmany(self, timeout_ms: int = 0, max_records: int | None = None) -> dict:
        return await super().getmany(timeout_ms, min(max_records or self.per_fetch, self.per_fetch))


class Batches(Loop):
    def __init__(self, client: Client, **kwargs: Any) -> None:
        super().__init__(client, **kwargs)
        self.sizes: list[int] = []

    async def _apply(self, delivered: list[Delivered], next_offsets: dict[TopicPartition, int]) -> list[Delivered]:
        self.sizes.append(len(delivered))
        return await super()._apply(delivered, next_offsets)


def test_a_batch_stops_taking_fetches_at_its_byte_bound_and_every_event_is_applied_in_order() -> None:
    events = [unit_event(n) for n in range(120)]
    each = len(events[0])
    client = FewPerFetch({A: events}, per_fetch=3)
    loop = Batches(client, max_records=5_000)
    # waits for what the client holds (the prefetch test's loop takes no time for it), bounded at ~10 records' bytes
    loop.settings = loop.settings.model_copy(update={"consumer_batch_max_ms": 10_000,
                                                     "consumer_max_batch_bytes": 10 * each})

    asyncio.run(run_until(loop, lambda: len(loop.applied) == len(events)))

    assert loop.applied == [(0, n) for n in range(len(events))]  # nothing lost, in the log's order
    # the first fetch is taken whole, then fetches while the batch is below the bound: at most a fetch beyond it
    # (it was one batch of all 120: the count, 5,000, was the only bound)
    assert max(loop.sizes) <= 10 + 2 + 3, loop.sizes
    assert len(loop.sizes) >= 120 // 15


def test_fill_batch_counts_keys_and_values_and_takes_the_first_fetch_whole() -> None:
    client = FewPerFetch({A: [b"x" * 100] * 10}, per_fetch=4)
    first = asyncio.run(client.getmany(max_records=4))
    assert records_bytes(first) == 400
    # the first fetch already holds more than the bound: no fetch is added, none of it is left out
    batch = asyncio.run(fill_batch(client, first, limit=100, max_seconds=10, max_bytes=300))  # type: ignore[arg-type]
    assert len(batch[A]) == 4 and client.positions[A] == 4

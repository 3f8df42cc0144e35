"""A consumer loop asked to stop stops, even while its client waits without bound: aiokafka's `getmany` waits for
a rebalance's assignment whatever its timeout (the group coordinator unavailable, a crashed member's session not
yet out). Once, CI session 22, a Kafka test's `loop.stop()` then `await task` stood 240 s in it. Driven through
`ConsumerLoop._getmany` with the client replaced: no broker and no database."""

from __future__ import annotations

import asyncio
import contextlib
import time
from typing import Any

from aiokafka import TopicPartition
from sqlalchemy import MetaData

from styrkedja_kit.consumer import ConsumerLoop, define_consumer_tables
from styrkedja_kit.settings import ServiceSettings


class _RebalancingClient:
    """A client whose getmany waits for an assignment that does not come, as aiokafka's does mid-rebalance."""

    def __init__(self) -> None:
        self.cancelled = 0

    async def getmany(self, *_: Any, timeout_ms: int = 0, **__: Any) -> dict[Any, list[Any]]:
        if not timeout_ms:
            return {}
        try:
            await asyncio.sleep(3600)  # `wait_for_assignment`: the timeout is not looked at
        except asyncio.CancelledError:
            self.cancelled += 1
            raise
        return {}


def _loop() -> ConsumerLoop:
    applied, offsets = define_consumer_tables(MetaData())
    return ConsumerLoop(ServiceSettings(), database=None, group_id="reporting", topics=["styrkedja.assessments"],
                        handler=None, applied_table=applied, offsets_table=offsets)


async def test_a_stop_ends_a_fetch_waiting_for_a_rebalance() -> None:
    """Failed on the old code: the fetch went on waiting after the stop (`asyncio.wait_for` ran out here)."""
    loop, client = _loop(), _RebalancingClient()
    asyncio.get_running_loop().call_later(0.2, loop.stop)
    started = time.monotonic()
    assert await asyncio.wait_for(loop._getmany(client, timeout_ms=500, max_records=10), 10) == {}
    assert time.monotonic() - started < 5 and client.cancelled == 1


async def test_a_task_awaiting_the_fetch_is_cancelled_for_real() -> None:
    """A test's `task.cancel()` mid-stream (a crash) ends the fetch and the task: the cancellation is not taken
    for the fetch's own and swallowed."""
    loop, client = _loop(), _RebalancingClient()
    task = asyncio.create_task(loop._getmany(client, timeout_ms=500))
    await asyncio.sleep(0.1)
    task.cancel()
    outcome = await asyncio.wait_for(asyncio.gather(task, return_exceptions=True), 10)
    assert isinstance(outcome[0], asyncio.CancelledError) and client.cancelled == 1


class _IdleClient:
    """An assigned client with nothing to fetch: each fetch answers empty at once, and the loop then reads each
    partition's position against its high watermark (`_lag_after_empty_fetch`), as on Apache Kafka while idle."""

    def __init__(self) -> None:
        self.fetches = 0
        self.partitions = {TopicPartition("styrkedja.assessments", n) for n in range(3)}

    async def getmany(self, *_: Any, **__: Any) -> dict[Any, list[Any]]:
        self.fetches += 1
        await asyncio.sleep(0)
        return {}

    def assignment(self) -> set[TopicPartition]:
        return self.partitions

    def highwater(self, _: TopicPartition) -> int:
        return 7

    async def position(self, _: TopicPartition) -> int:
        return 7


async def _ends_when_cancelled(client: _IdleClient, steps_before_cancel: int) -> bool:
    """Run `ConsumerLoop.run` on `client`, cancel it after that many event-loop steps and say whether it ended
    cancelled within 200 more (no clock: a lost cancellation never ends it; one that is not has ended by then)."""
    loop = _loop()
    loop._exact_offsets = True
    loop._run_once = lambda: loop._loop(client, None)  # type: ignore[method-assign,arg-type]
    task = asyncio.create_task(loop.run())
    for _ in range(steps_before_cancel):
        await asyncio.sleep(0)
    task.cancel()
    for _ in range(200):
        if task.done():
            break
        await asyncio.sleep(0)
    ended = task.done() and task.cancelled()
    if not task.done():  # not left running behind the test
        loop.stop()
        await asyncio.wait_for(asyncio.gather(task, return_exceptions=True), 10)
    return ended


async def test_a_cancelled_loop_ends_wherever_in_its_turn_the_cancellation_comes() -> None:
    """A test's `task.cancel()` of `run()` (a crash) ends the loop at whatever step of its turn it lands. Failed on
    the old code: one landing just as an `asyncio.wait_for` of the loop's own (a partition's position after an empty
    fetch) got its answer was lost (Python 3.11's wait_for returns the answer then, cpython gh-86296), and the loop,
    never stopped, fetched on for ever (CI sessions 22, 27, 29: the crash of
    test_consumer_applies_each_event_once_despite_redelivery_and_restarts[kafka] not over in 180 s). Every landing
    over a few turns of the loop is tried; each must end the task within a bounded count of event-loop steps (no
    clock: a lost cancellation never ends it)."""
    client = _IdleClient()
    lost = [steps for steps in range(120) if not await _ends_when_cancelled(client, steps)]
    assert not lost and client.fetches > 0, f"cancelled after {lost} steps of the event loop: the loop went on"


class _SwallowingClient(_IdleClient):
    """A client one of whose calls in the loop's own task swallows a cancellation and answers (as aiokafka's
    `Fetcher.close` does with its `suppress(CancelledError)`)."""

    async def position(self, tp: TopicPartition) -> int:
        with contextlib.suppress(asyncio.CancelledError):
            await asyncio.sleep(0)
        return 7


async def test_a_cancelled_loop_ends_even_where_a_call_below_swallows_the_cancellation() -> None:
    """The loop looks at its task's cancellation requests each turn (`end_if_cancel_asked`): one swallowed on the way
    by code not ours still ends it at its next turn. Failed without that look (the loop fetched on)."""
    client = _SwallowingClient()
    lost = [steps for steps in range(120) if not await _ends_when_cancelled(client, steps)]
    assert not lost and client.fetches > 0, f"cancelled after {lost} steps of the event loop: the loop went on"

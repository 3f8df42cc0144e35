"""A consumer loop asked to stop stops, even while its client waits without bound: aiokafka's `getmany` waits for
a rebalance's assignment whatever its timeout (the group coordinator unavailable, a crashed member's session not
yet out). Once, CI session 22, a Kafka test's `loop.stop()` then `await task` stood 240 s in it. Driven through
`ConsumerLoop._getmany` with the client replaced: no broker and no database."""

from __future__ import annotations

import asyncio
import time
from typing import Any

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

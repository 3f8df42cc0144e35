"""A failing background loop is restarted with growing delays and stops when asked."""

from __future__ import annotations

import asyncio
import itertools
import time

from styrkedja_kit.supervise import run_until_stopped


async def test_restarts_with_backoff_and_stops_when_asked():
    stopping = asyncio.Event()
    starts: list[float] = []
    failures = []

    async def body() -> None:
        starts.append(time.monotonic())
        if len(starts) <= 3:
            raise RuntimeError("broker away")
        stopping.set()  # the fourth run is healthy until it is told to stop

    await asyncio.wait_for(run_until_stopped("test loop", body, stopping, lambda: failures.append(1)), 20)
    assert len(starts) == 4 and len(failures) == 3
    gaps = [b - a for a, b in itertools.pairwise(starts)]
    assert gaps[0] >= 0.4 and gaps[2] > gaps[0], f"the delay must grow: {gaps}"


async def test_a_stop_interrupts_the_backoff_wait():
    stopping = asyncio.Event()

    async def body() -> None:
        asyncio.get_running_loop().call_later(0.2, stopping.set)
        raise RuntimeError("down")

    started = time.monotonic()
    await asyncio.wait_for(run_until_stopped("test loop", body, stopping), 5)
    assert time.monotonic() - started < 2


async def test_cancel_and_wait_does_not_swallow_a_cancellation_of_the_caller():
    """Failed on the old pattern (`with suppress(CancelledError): await task`, the consumer loop's): the waiter
    cancelled while the task took its time to end went on as if it had not been, and a consumer loop ran on."""
    from styrkedja_kit.supervise import cancel_and_wait

    slow_started = asyncio.Event()

    async def slow_to_end() -> None:
        try:
            slow_started.set()
            await asyncio.sleep(60)
        except asyncio.CancelledError:
            await asyncio.sleep(0.2)  # cleaning up (a client closing), during which the caller is cancelled
            raise

    async def waiter(inner: asyncio.Task[None]) -> str:
        await cancel_and_wait(inner)
        return "went on"

    inner = asyncio.create_task(slow_to_end())
    await slow_started.wait()
    outer = asyncio.create_task(waiter(inner))
    await asyncio.sleep(0.05)
    outer.cancel()
    done = await asyncio.gather(outer, return_exceptions=True)
    assert isinstance(done[0], asyncio.CancelledError) and inner.cancelled()


async def test_cancel_and_wait_takes_the_task_ending_as_it_may():
    from styrkedja_kit.supervise import cancel_and_wait

    async def fails_when_cancelled() -> None:
        try:
            await asyncio.sleep(60)
        except asyncio.CancelledError:
            raise RuntimeError("closing failed") from None

    task = asyncio.create_task(fails_when_cancelled())
    await asyncio.sleep(0)
    await cancel_and_wait(task)  # not raised: the caller only wanted it over
    assert task.done() and isinstance(task.exception(), RuntimeError)


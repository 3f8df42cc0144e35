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

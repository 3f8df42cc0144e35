"""Waiting in tests for something another task does: bounded in time, never in loop turns.

A loop-turn bound is a timing assumption in disguise: on a loaded machine (CI at load 15) a token's check over
loopback takes more turns than any fixed count, and the test fails for the machine, not the code.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any


async def until(condition: Callable[[], Any], seconds: float = 30.0, what: str = "never came") -> None:
    """Return once `condition()` is true; fail naming `what` after `seconds` (a bound so a broken build fails the
    test instead of hanging it, not a measure of anything)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + seconds
    while not condition():
        if loop.time() > deadline:
            raise AssertionError(what)
        await asyncio.sleep(0.001)

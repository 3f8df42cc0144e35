"""Keep a background loop (outbox relay, consumer loop) running: restart it after a failure,
with exponential backoff and jitter (tenacity), until it is asked to stop."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from tenacity import wait_exponential_jitter

log = logging.getLogger(__name__)

T = TypeVar("T")

#: a loop that ran this long without failing starts its backoff from the beginning again
HEALTHY_AFTER_SECONDS = 60.0


async def run_until_stopped(name: str, body: Callable[[], Awaitable[None]], stopping: asyncio.Event,
                            on_failure: Callable[[], None] = lambda: None) -> None:
    wait = wait_exponential_jitter(multiplier=0.5, max=30.0)
    failures = 0
    while not stopping.is_set():
        end_if_cancel_asked()
        started = time.monotonic()
        try:
            await body()
        except asyncio.CancelledError:
            raise
        except Exception:
            on_failure()
            failures = 1 if time.monotonic() - started > HEALTHY_AFTER_SECONDS else failures + 1
            delay = wait(_Attempt(failures))  # type: ignore[arg-type]  # tenacity reads only attempt_number
            log.exception("%s failed; restarting in %.1f s", name, delay)
            with contextlib.suppress(asyncio.TimeoutError):
                await within(stopping.wait(), delay)


class _Attempt:
    """The one attribute of tenacity's RetryCallState that its wait strategies read."""

    def __init__(self, attempt_number: int) -> None:
        self.attempt_number = attempt_number


async def cancel_and_wait(task: asyncio.Future[Any]) -> None:
    """Cancel `task` and wait until it is over, whatever it ended with — without swallowing a cancellation of the
    caller's own. `with suppress(CancelledError): await task` (or `BaseException`) swallows both: the caller
    cancelled while it waits here (a test's `task.cancel()`, a shutdown) goes on as if it had not been, and a
    task awaiting the caller in turn gets a result instead of its CancelledError — a consumer loop asked to end
    ran on for ever. A cancellation asked of the caller (`Task.cancelling`) is raised here again."""
    task.cancel()
    try:
        await task
    except BaseException:
        current = asyncio.current_task()
        if current is not None and current.cancelling():
            raise



async def within(awaitable: Awaitable[T], seconds: float) -> T:
    """`awaitable`'s result, or TimeoutError after `seconds` — `asyncio.wait_for` without its lost cancellations.
    On Python 3.11 `wait_for` returns the result to a caller cancelled in the step its awaitable completed
    (cpython gh-86296, mended in 3.12 by rewriting it over `asyncio.timeout`): a consumer loop cancelled as a
    partition's position came back went on fetching for ever (CI sessions 22, 27, 29). `asyncio.timeout` runs the
    awaitable in the caller's own task and tells its own cancellation from the caller's (`Task.cancelling`)."""
    async with asyncio.timeout(seconds):
        return await awaitable


def end_if_cancel_asked() -> None:
    """Raise CancelledError where the running task was asked to cancel and that was swallowed below (a client's
    `suppress(CancelledError)`, 3.11's `wait_for`): the request still counts (`Task.cancelling`: only `uncancel`
    takes it back, as `asyncio.timeout` does with its own), so a loop that calls this each turn ends at its next
    turn instead of running on with nobody to stop it."""
    task = asyncio.current_task()
    if task is not None and task.cancelling():
        raise asyncio.CancelledError("cancelled earlier; the cancellation was swallowed on the way")

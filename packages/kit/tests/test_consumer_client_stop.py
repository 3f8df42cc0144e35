"""A Kafka client's stop is bounded as the consumer loop ends (`ConsumerLoop.client_stop_seconds`, `_stop_client`):
aiokafka's consumer stop waits for its coordination task, which looks for a group coordinator that is "not
available" without end (CI: a cancelled loop did not end 60 s after cancel). Driven through `ConsumerLoop._run_once`
with the broker's side replaced by clients of this file (the bound is what is tested, not Kafka): no broker and no
database. Without the bound the loop never ends (the test's timeout); with the 20 s one of before it was not
settable, and the warning said 20 s."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import pytest
from sqlalchemy import MetaData

from styrkedja_kit import consumer as consumer_module
from styrkedja_kit.consumer import ConsumerLoop, define_consumer_tables
from styrkedja_kit.settings import ServiceSettings


class _Client:
    """A client that starts, and whose stop hangs (`hangs`) until it is cancelled, or returns at once."""

    def __init__(self, hangs: bool) -> None:
        self.hangs = hangs
        self.stopped = False  # its stop returned
        self.cancelled = False  # its stop was given up on

    def subscribe(self, topics: list[str], listener: Any) -> None:
        self.topics = topics

    async def start(self) -> None:
        return None

    async def stop(self) -> None:
        if self.hangs:
            try:
                await asyncio.Event().wait()  # never set: a coordinator looked for without end
            except asyncio.CancelledError:
                self.cancelled = True
                raise
        self.stopped = True


async def test_a_client_whose_stop_hangs_is_left_after_the_bound_and_said(monkeypatch: pytest.MonkeyPatch, no_broker,
                                                                           caplog: pytest.LogCaptureFixture) -> None:
    consumer, producer = _Client(hangs=True), _Client(hangs=False)

    no_broker(consumer=lambda: consumer, producer=lambda: producer)
    applied, offsets = define_consumer_tables(MetaData())
    loop = ConsumerLoop(ServiceSettings(), database=None, group_id="reporting", topics=["styrkedja.assessments"],
                        handler=None, applied_table=applied, offsets_table=offsets)
    loop.client_stop_seconds = 0.05

    async def stopped_at_once(*_: Any) -> None:  # the loop asked to end (a shutdown) as soon as it runs
        return None

    monkeypatch.setattr(loop, "_loop", stopped_at_once)
    caplog.set_level(logging.WARNING, logger=consumer_module.__name__)
    await loop._run_once()  # ends: before the bound, it waited for the consumer's stop for ever
    assert consumer.cancelled and not consumer.stopped
    assert producer.stopped  # the next client is still stopped, after the one left
    assert [r.getMessage() for r in caplog.records if r.name == consumer_module.__name__] == [
        "the Kafka consumer did not stop within 0.05 s; left to the broker's session timeout"]

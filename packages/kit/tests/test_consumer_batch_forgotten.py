"""What a batch's handlers keep in `session.info` is freed as the batch's transaction ends (`consumer._forget_batch`),
by reference counts: a session sits in reference cycles, so its `info` (a deadline-week batch's facts, changes and
memos: ~15,000 objects per 5,000 events) was freed only by the cycle collector's young collection after the batch,
which walked all of it (bench/README.md apply35py)."""

from __future__ import annotations

import gc
import uuid
import weakref
from datetime import UTC, datetime

import pytest
from aiokafka import TopicPartition
from sqlalchemy import MetaData

from styrkedja_contracts import OrganisationUnitUpsertedV1, new_event
from styrkedja_kit.app import define_kit_tables
from styrkedja_kit.consumer import ConsumerLoop, Delivered
from styrkedja_kit.db import Database
from styrkedja_kit.settings import ServiceSettings

pytestmark = [pytest.mark.integration, pytest.mark.postgres_only]

metadata = MetaData()
define_kit_tables(metadata, consumer=True)
TOPIC = "test.forgotten"


@pytest.fixture
async def db(make_database):
    return await make_database(metadata, "forgotten")


class Kept:
    """Something a handler keeps for the rest of its batch (a weak reference tells whether it is still alive)."""


class Keeping:
    """A handler keeping, as reporting's do (its staged tables, its fact writers' locks), a note of its transaction
    beside what it kept: the transaction refers to the session, whose `info` refers to the transaction — a cycle."""

    def __init__(self) -> None:
        self.kept: list[weakref.ref[Kept]] = []

    async def __call__(self, session, batch) -> None:
        kept = Kept()
        session.info["test.kept"] = (session.sync_session.get_transaction(), kept)
        self.kept.append(weakref.ref(kept))


def unit_batch(start: int) -> tuple[list[Delivered], dict[TopicPartition, int]]:
    events = [new_event(OrganisationUnitUpsertedV1(
        unit_type="organiser", unit_id=f"{2000 + n}", organiser_id=f"{2000 + n}", name=f"H{n}",
        updated_at=datetime(2026, 9, 1, tzinfo=UTC)), source="/test") for n in range(start, start + 3)]
    return [Delivered(event, TOPIC, 0, start + n) for n, event in enumerate(events)], {TopicPartition(TOPIC, 0): start + 3}


def loop_of(db: Database, handler: Keeping) -> ConsumerLoop:
    return ConsumerLoop(ServiceSettings(database_url="unused", kafka_bootstrap_servers="127.0.0.1:9"), db,
                        group_id=f"forgotten-{uuid.uuid4().hex[:6]}", topics=[TOPIC], handler=handler,
                        applied_table=metadata.tables["consumer_applied_events"],
                        offsets_table=metadata.tables["consumer_offsets"])


@pytest.mark.parametrize("holding", [True, False], ids=["held connection", "pooled session"])
async def test_what_a_batch_kept_in_the_session_is_freed_without_the_collector(db, holding: bool) -> None:
    handler = Keeping()
    loop = loop_of(db, handler)
    was = gc.isenabled()
    gc.disable()  # no collection may free it: only reference counts
    try:
        if holding:
            async with loop.holding_connection():
                assert len(await loop._apply(*unit_batch(0))) == 3
                assert handler.kept[0]() is None
        else:
            assert len(await loop._apply(*unit_batch(0))) == 3
            assert handler.kept[0]() is None
    finally:
        if was:
            gc.enable()

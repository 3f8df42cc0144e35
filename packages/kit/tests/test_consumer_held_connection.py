"""The consumer loop's batches on one connection kept from batch to batch (`ConsumerLoop.holding_connection`):
no pool checkout (and its pre-ping: three round trips) per batch; a connection that went away between two
batches (the server ended it) is replaced and the batch applied once, a handler's failure lets the connection
go, and the claims and offsets stay exactly-once."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime

import pytest
from aiokafka import TopicPartition
from sqlalchemy import MetaData, select, text

from styrkedja_contracts import AssessmentPublishedV1, new_event
from styrkedja_kit.app import define_kit_tables
from styrkedja_kit.consumer import ConsumerLoop, Delivered
from styrkedja_kit.db import Database
from styrkedja_kit.settings import ServiceSettings

pytestmark = [pytest.mark.integration, pytest.mark.postgres_only]

metadata = MetaData()
define_kit_tables(metadata, consumer=True)
TOPIC = "test.held"


@pytest.fixture
async def db(make_database):
    return await make_database(metadata, "held")


class Recording:
    """A handler that notes the backend each batch ran on and the events it was handed; fails when told."""

    def __init__(self) -> None:
        self.backends: list[int] = []
        self.applied: list[uuid.UUID] = []
        self.fail = False

    async def __call__(self, session, batch) -> None:
        self.backends.append((await session.execute(text("SELECT pg_backend_pid()"))).scalar_one())
        if self.fail:
            raise RuntimeError("told to fail")
        self.applied += [item.event.id for item in batch]


def assessment_event(n: int) -> object:
    return new_event(AssessmentPublishedV1(
        assessment_id=uuid.uuid4(), revision=1, organiser_id="2999", school_unit_code="12345678", group_id="7A",
        student_id=f"stu-{n}", teacher_id="t-1", gender="female", year=7, subject_code="GRGRMAT01",
        kind="assessment", scale="AF", value="C", unmet_criteria=(), school_year="2026/27", term="HT", round=1,
        assessed_on=date(2026, 11, 1), published_at=datetime.now(UTC)), source="/test")


def loop_of(db: Database, handler: Recording) -> ConsumerLoop:
    return ConsumerLoop(ServiceSettings(database_url="unused", kafka_bootstrap_servers="127.0.0.1:9"), db,
                        group_id=f"held-{uuid.uuid4().hex[:6]}", topics=[TOPIC], handler=handler,
                        applied_table=metadata.tables["consumer_applied_events"],
                        offsets_table=metadata.tables["consumer_offsets"])


def batch(start: int, n: int = 3) -> tuple[list[Delivered], dict[TopicPartition, int]]:
    items = [Delivered(assessment_event(start + i), TOPIC, 0, start + i) for i in range(n)]
    return items, {TopicPartition(TOPIC, 0): start + n}


async def stored_offset(db: Database, loop: ConsumerLoop) -> int:
    async with db.sessions() as session:
        return (await session.execute(select(loop.offsets.c.next_offset).where(
            loop.offsets.c.group_id == loop.group_id))).scalar_one()


async def test_the_batches_run_on_one_connection_and_one_the_server_ended_is_replaced(db) -> None:
    handler = Recording()
    loop = loop_of(db, handler)
    first, second, third = batch(0), batch(3), batch(6)
    async with loop.holding_connection():
        assert len(await loop._apply(*first)) == 3
        assert len(await loop._apply(*second)) == 3
        assert handler.backends[0] == handler.backends[1]  # kept: no checkout between the batches
        async with db.engine.connect() as other:  # the server ends the held connection between two batches
            await other.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": handler.backends[1]})
        assert [item.event.id for item in await loop._apply(*third)] == [item.event.id for item in third[0]]
    assert handler.backends[-1] != handler.backends[1]  # a new connection, the batch applied once on it
    assert handler.applied == [item.event.id for item in (*first[0], *second[0], *third[0])]
    assert await stored_offset(db, loop) == 9
    assert loop._held is None  # let go when the holding ends


async def test_a_failed_batch_lets_the_connection_go_and_commits_nothing(db) -> None:
    handler = Recording()
    loop = loop_of(db, handler)
    first, second = batch(0), batch(3)
    async with loop.holding_connection():
        await loop._apply(*first)
        handler.fail = True
        with pytest.raises(RuntimeError, match="told to fail"):
            await loop._apply(*second)
        assert loop._held is None
        handler.fail = False
        # the same batch again: nothing of the failed try was claimed, so all of it is applied now, once
        assert len(await loop._apply(*second)) == 3
        assert await loop._apply(*second) == []  # and a re-delivery after that applies nothing
    assert handler.applied == [item.event.id for item in (*first[0], *second[0])]
    assert await stored_offset(db, loop) == 6


async def test_without_holding_each_batch_takes_a_connection_from_the_pool(db) -> None:
    handler = Recording()
    loop = loop_of(db, handler)
    await loop._apply(*batch(0))
    await loop._apply(*batch(3))
    assert loop._held is None
    assert len(handler.applied) == 6

"""Writes deferred to a batch's last statement (`registry.defer`): sent with the freshness note in ONE statement
(data-modifying CTEs, the NOTIFY among them), committed with the batch, rolled back with it, and written at
once outside a batch (the caller's own statement). The alerts' writes go that way in a live batch: a batch that
raises an alert writes the alert, its event in the outbox and the freshness note in one round trip."""

from __future__ import annotations

from uuid import uuid4, uuid5

import pytest
from sqlalchemy import event, select, text
from sqlalchemy.engine import Engine

from styrkedja_contracts.events.alert import AlertRule
from styrkedja_kit.consumer import Delivered
from styrkedja_kit.db import Database
from styrkedja_kit.outbox import NOTIFY_CHANNEL, Outbox
from styrkedja_reporting.metadata import metadata
from styrkedja_reporting.registry import HandlerRegistry, defer

from .test_alerts_batch_judgement import results
from .test_apply_batch import NS, TOPIC, published

pytestmark = [pytest.mark.integration, pytest.mark.postgres_only]

TYPE = "se.styrkedja.assessment.published.v1"


@pytest.fixture
def sent():
    """The statements sent while `sent[0]` is True (a switch: the setup's own are left out)."""
    noted: list = [False]

    def note(conn, cursor, statement, parameters, context, executemany) -> None:  # noqa: ANN001
        if noted[0]:
            noted.append(statement)

    event.listen(Engine, "before_cursor_execute", note)
    yield noted
    event.remove(Engine, "before_cursor_execute", note)


WRITTEN: list = []  # the events a deferring handler put in the outbox (this test module's)


async def outbox_ids(db: Database) -> set:
    outbox = metadata.tables["outbox"]
    async with db.sessions() as session:
        return set((await session.execute(select(outbox.c.event_id))).scalars())


def registry_deferring(fail_after: bool = False) -> HandlerRegistry:
    registry = HandlerRegistry()

    async def deferring(session, batch) -> None:
        events = [published(uuid5(NS, f"out-{item.offset}"), 1) for item in batch]
        WRITTEN[:] = events
        sql, params = Outbox(metadata.tables["outbox"]).insert_of(events)
        assert defer(session, sql, params, notify=NOTIFY_CHANNEL)

    async def failing(session, batch) -> None:
        raise RuntimeError("a later handler fails")

    registry.register([TYPE], deferring)
    if fail_after:
        registry.register([TYPE], failing)
    return registry


def delivered(n: int) -> list[Delivered]:
    return [Delivered(published(uuid4(), 1), TOPIC["assessment"], 0, i) for i in range(n)]


async def test_a_deferred_write_goes_with_the_freshness_note_in_one_statement(db, sent) -> None:
    batch = delivered(3)
    async with db.sessions.begin() as session:
        sent[0] = True
        await registry_deferring()(session, batch)
        sent[0] = False
    sent = sent[1:]
    assert len(sent) == 1  # the outbox rows, the NOTIFY and the freshness note: one statement
    assert "INSERT INTO freshness" in sent[0] and 'INSERT INTO "outbox"' in sent[0] and "pg_notify" in sent[0]
    assert await outbox_ids(db) == {e.id for e in WRITTEN} and len(WRITTEN) == 3
    async with db.sessions() as session:
        newest = (await session.execute(text("SELECT newest_event_time FROM freshness WHERE topic = :t"),
                                        {"t": TOPIC["assessment"]})).scalar_one()
    assert newest == max(item.event.time for item in batch)


async def test_a_deferred_write_is_rolled_back_with_its_batch(db) -> None:
    with pytest.raises(RuntimeError, match="a later handler fails"):
        async with db.sessions.begin() as session:
            await registry_deferring(fail_after=True)(session, delivered(2))
    assert await outbox_ids(db) == set()


async def test_outside_a_batch_nothing_is_deferred(db) -> None:
    async with db.sessions.begin() as session:
        assert defer(session, "INSERT INTO freshness (topic, newest_event_time) VALUES ('x', now())", {}) is False
        assert (await session.execute(text("SELECT count(*) FROM freshness"))).scalar_one() == 0


async def test_a_batch_that_raises_an_alert_writes_it_with_its_event_and_the_freshness_note(db, sent) -> None:
    from styrkedja_reporting.main import handler_registry

    live = handler_registry()
    before, after = results("deferred", 1, failing=0), results("deferred", 2, failing=10)
    async with db.sessions.begin() as session:
        await live(session, [Delivered(e, TOPIC["assessment"], 0, i) for i, e in enumerate(before)])
    async with db.sessions.begin() as session:
        sent[0] = True
        await live(session, [Delivered(e, TOPIC["assessment"], 0, 100 + i) for i, e in enumerate(after)])
        sent[0] = False
    sent = sent[1:]
    last = sent[-1]
    assert 'INSERT INTO "alerts"' in last and 'INSERT INTO "outbox"' in last and "INSERT INTO freshness" in last
    assert not any('INSERT INTO "alerts"' in s or 'INSERT INTO "outbox"' in s for s in sent[:-1])
    async with db.sessions() as session:
        raised = (await session.execute(text("SELECT count(*) FROM alerts WHERE rule = :rule"),
                                        {"rule": AlertRule.pass_share_drop.value})).scalar_one()
        events = (await session.execute(text("SELECT count(*) FROM outbox"))).scalar_one()
    assert raised > 0 and events == raised  # each raised alert's event in the outbox, in the same transaction

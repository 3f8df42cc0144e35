"""A batch's transaction (issue 16, write6): the relay's wake-up (`pg_notify`) is the statement that begins it,
so a batch of new assessments sends no statement of its own before its COPYs; the notification still arrives
once per stored batch, at commit, and never for a batch that is rolled back."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Iterator

import asyncpg
import pytest
from sqlalchemy import event, text
from sqlalchemy.engine import Engine

from styrkedja_kit.outbox import NOTIFY_CHANNEL

pytestmark = [pytest.mark.integration, pytest.mark.postgres_only]


@pytest.fixture
def statements() -> Iterator[list[str]]:
    """Every statement SQLAlchemy sends (the COPYs go by the driver itself and are not among them)."""
    sent: list[str] = []

    def record(conn, cursor, statement, parameters, context, executemany) -> None:  # noqa: ARG001 (the event's signature)
        sent.append(statement)

    event.listen(Engine, "before_cursor_execute", record)
    try:
        yield sent
    finally:
        event.remove(Engine, "before_cursor_execute", record)


@pytest.fixture
async def wake_ups(settings) -> AsyncIterator[asyncio.Queue[str]]:
    """The notifications on the relay's channel, as the relay would get them."""
    conn = await asyncpg.connect(settings.database_url.replace("postgresql+asyncpg", "postgresql"))
    queue: asyncio.Queue[str] = asyncio.Queue()
    await conn.add_listener(NOTIFY_CHANNEL, lambda *args: queue.put_nowait(args[2]))
    try:
        yield queue
    finally:
        await conn.close()


async def _quiet(queue: asyncio.Queue[str]) -> bool:
    """No notification within a moment (a LISTEN connection gets one as soon as its sender commits)."""
    try:
        await asyncio.wait_for(queue.get(), 0.5)
    except TimeoutError:
        return True
    return False


async def test_a_batch_of_new_assessments_sends_one_statement_besides_its_copies(client, assessment, statements,
                                                                                 wake_ups, scalar):
    await client.post("/v1/assessments/batch", json={"items": [assessment("s-warm")]})  # the app's first use
    await asyncio.wait_for(wake_ups.get(), 10)
    statements.clear()
    response = await client.post("/v1/assessments/batch",
                                 json={"items": [assessment(f"s-{n}") for n in range(50)]})
    assert response.status_code == 201, response.text
    assert [s for s in statements if "pg_notify" not in s] == []  # no `SELECT 1` to begin the transaction
    assert sum("pg_notify" in s for s in statements) == 1
    await asyncio.wait_for(wake_ups.get(), 10)  # woken once, at commit
    assert await _quiet(wake_ups)
    assert await scalar("SELECT count(*) FROM outbox") == 51


async def test_a_batch_rolled_back_after_the_wake_up_wakes_nobody(client, db, assessment, wake_ups, scalar):
    """The notification is sent first, then a COPY fails (a revision row of the same id and revision is
    there): both tries roll back, 409, and the relay is not woken."""
    taken = uuid.uuid4()
    async with db.begin() as conn:
        await conn.execute(text("INSERT INTO assessment_revisions (assessment_id, revision, event_id, retraction, "
                                "content) VALUES (:id, 1, :event, false, '{}')"),
                           {"id": taken, "event": uuid.uuid4()})
    response = await client.post("/v1/assessments/batch", json={"items": [
        assessment("s-other"), assessment("s-copy", assessment_id=str(taken))]})
    assert response.status_code == 409, response.text
    assert await _quiet(wake_ups)
    assert await scalar("SELECT count(*) FROM outbox") == 0

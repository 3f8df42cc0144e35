"""Plain helpers for the services' in-process integration tests: a started app behind an httpx
client, the outbox rows as decoded events, problem+json answers, a producer that only records.

No fixtures here (those are in `pytest_plugin`): each test module keeps its own service-specific
fixtures and calls these.
"""

from __future__ import annotations

import asyncio
import importlib
import json
from collections.abc import AsyncIterator, Collection, Mapping
from contextlib import AsyncExitStack, asynccontextmanager
from typing import Any

import httpx
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from styrkedja_contracts import CloudEvent, decode_event

PROBLEM_JSON = "application/problem+json"


@asynccontextmanager
async def service_client(package: str, settings: Any, *, token: str | None = None) -> AsyncIterator[httpx.AsyncClient]:
    """The app from `<package>.main.create_app(settings)`, started (its lifespan runs, as under a server)
    and answered in-process by an httpx client at `http://<service>`; with `token`, every request
    sends it as `Authorization: Bearer <token>` (the service verifies it like any other)."""
    async with app_and_client(package, settings, token=token) as (_, client):
        yield client


@asynccontextmanager
async def app_and_client(package: str, settings: Any, *, token: str | None = None
                         ) -> AsyncIterator[tuple[Any, httpx.AsyncClient]]:
    """`service_client`, with the app itself too (for tests that enumerate its routes)."""
    app = importlib.import_module(f"{package}.main").create_app(settings)
    base_url = f"http://{package.removeprefix('styrkedja_')}"
    async with app.router.lifespan_context(app), \
            httpx.AsyncClient(transport=httpx.ASGITransport(app), base_url=base_url, headers=bearer(token)) as client:
        yield app, client


@asynccontextmanager
async def service_clients(package: str, settings: Mapping[str, Any], *, token: str | None = None
                          ) -> AsyncIterator[dict[str, httpx.AsyncClient]]:
    """`service_client` for each of several settings of one service (each on a database of its own), by
    name: two write paths of the same service side by side, answering the same requests."""
    async with AsyncExitStack() as stack:
        yield {name: await stack.enter_async_context(service_client(package, each, token=token))
               for name, each in settings.items()}


def bearer(token: str | None) -> dict[str, str]:
    """`{"Authorization": "Bearer <token>"}`, or no header for None."""
    return {"Authorization": f"Bearer {token}"} if token else {}


def use_token(client: httpx.AsyncClient, token: str | None) -> None:
    """From now on `client` sends `token` (None: no token at all)."""
    client.headers.pop("Authorization", None)
    client.headers.update(bearer(token))


@asynccontextmanager
async def async_engine(database_url: str) -> AsyncIterator[AsyncEngine]:
    """An SQLAlchemy engine on the URL, disposed afterwards."""
    engine = create_async_engine(database_url)
    try:
        yield engine
    finally:
        await engine.dispose()


async def outbox_events(db: AsyncEngine | str, topic: str) -> list[CloudEvent]:
    """Every outbox row in order, decoded; asserts each is on `topic`, keyed by its event's partition key."""
    if isinstance(db, str):
        async with async_engine(db) as engine:
            return await outbox_events(engine, topic)
    async with db.connect() as conn:
        rows = (await conn.execute(text("SELECT topic, key, payload FROM outbox ORDER BY id"))).all()
    events = []
    for row in rows:
        assert row.topic == topic
        event = decode_event(row.payload)
        assert row.key == event.partition_key()
        events.append(event)
    return events


async def outbox_rows_without(url: str, topic: str, made_at: Collection[str]) -> list[tuple[str, bytes, dict[str, Any]]]:
    """(topic, key, event) of every outbox row in order, after asserting that every payload decodes by its
    contract (`outbox_events`); each event without what differs from run to run (its id and time, and the
    data's `made_at` fields), with the order of its fields and of its data's fields (`fields`,
    `data_fields`): two write paths that make the same events give equal lists."""
    assert await outbox_events(url, topic)
    async with async_engine(url) as engine, engine.connect() as conn:
        rows = (await conn.execute(text("SELECT topic, key, payload FROM outbox ORDER BY id"))).all()
    out = []
    for row in rows:
        envelope = json.loads(row.payload)
        order = {"fields": list(envelope), "data_fields": list(envelope["data"])}
        del envelope["id"], envelope["time"]
        for name in made_at:
            del envelope["data"][name]
        out.append((row.topic, bytes(row.key), envelope | order))
    return out


def problem_fields(response: httpx.Response) -> list[tuple[str, str]]:
    """The (field, rule) pairs of a problem+json answer, after asserting it is one: the content type, a
    `status` equal to the HTTP status, a title and a detail."""
    assert response.headers["content-type"].startswith(PROBLEM_JSON), response.text
    body = response.json()
    assert body["status"] == response.status_code and body["title"] and body["detail"]
    return [(e["field"], e["rule"]) for e in body["errors"]]


class RecordingProducer:
    """Stands in for aiokafka's producer where a test only needs what would have been sent
    (dead letters, alerts): `send` records (topic, value, headers) and resolves at once."""

    def __init__(self) -> None:
        self.sent: list[tuple[str, bytes, dict[str, bytes]]] = []

    async def send(self, topic: str, value: bytes, key: bytes | None = None,
                   headers: list[tuple[str, bytes]] | None = None) -> asyncio.Future[None]:
        self.sent.append((topic, value, dict(headers or [])))
        done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        done.set_result(None)
        return done

"""/readyz never hangs on a stuck pool (round 21): the database is pinged on a connection of its own
(`Database.ping(timeout)`), not one of the app's pool, which slow queries may hold whole; the checks run at once,
each within `readiness_timeout_seconds`.

Failed on the old code: with every connection of the pool held, the database check waited for one and said
`unreachable: TimeoutError` of a database that answers (and a broker that accepts but never answers added its own
wait after the database's)."""

from __future__ import annotations

import asyncio
import socket
import threading
import uuid
from collections.abc import Iterator

import httpx
import pytest
from sqlalchemy import MetaData, text

from styrkedja_devstack.postgres import free_port
from styrkedja_kit.app import Runtime, create_service_app, define_kit_tables
from styrkedja_kit.db import Database
from styrkedja_kit.settings import ServiceSettings

pytestmark = pytest.mark.postgres_only


@pytest.fixture
def silent_broker() -> Iterator[str]:
    """An address that accepts connections and never answers a byte: a broker hung."""
    server = socket.create_server(("127.0.0.1", 0))
    held: list[socket.socket] = []

    def accept() -> None:
        while True:
            try:
                held.append(server.accept()[0])
            except OSError:
                return

    threading.Thread(target=accept, daemon=True).start()
    yield f"127.0.0.1:{server.getsockname()[1]}"
    server.close()
    for conn in held:
        conn.close()


async def _readyz(settings: ServiceSettings, pool_size: int, hold: int) -> httpx.Response:
    metadata = MetaData()
    define_kit_tables(metadata)
    app = create_service_app(settings, metadata, [], title="ready", uses_outbox=False)
    db = Database(settings.database_url, pool_size=pool_size, pool_timeout=60)
    app.state.runtime = Runtime(settings=settings, db=db, metadata=metadata)
    release = asyncio.Event()
    holding = 0

    async def slow_query() -> None:  # a connection of the pool held, as a slow statement holds it
        nonlocal holding
        async with db.engine.connect() as conn:
            await conn.execute(text("SELECT 1"))
            holding += 1
            await release.wait()

    held = [asyncio.ensure_future(slow_query()) for _ in range(hold)]
    try:
        while holding < hold:
            await asyncio.sleep(0.01)
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://svc",
                                     timeout=120) as client:
            return await client.get("/readyz")
    finally:
        release.set()
        await asyncio.gather(*held)
        await db.dispose()


async def test_readyz_answers_with_the_pool_exhausted(infrastructure):
    url = infrastructure.create_database(f"t_ready_{uuid.uuid4().hex[:8]}")
    settings = ServiceSettings(service_name="ready", database_url=url, readiness_timeout_seconds=2,
                               kafka_bootstrap_servers=f"127.0.0.1:{free_port()}", outbox_enabled=False)
    answer = await _readyz(settings, pool_size=1, hold=2)  # pool 1 + overflow 1: both held
    checks = answer.json()["checks"]
    assert checks["database"] == "ok", checks  # the database answers: it was the pool that was full
    assert checks["broker"].startswith("unreachable"), checks
    assert answer.status_code == 503


async def test_a_hung_broker_is_named_by_its_timeout_and_the_database_still_judged(infrastructure, silent_broker):
    url = infrastructure.create_database(f"t_ready_{uuid.uuid4().hex[:8]}")
    settings = ServiceSettings(service_name="ready", database_url=url, readiness_timeout_seconds=1,
                               kafka_bootstrap_servers=silent_broker, outbox_enabled=False)
    answer = await _readyz(settings, pool_size=2, hold=4)
    assert answer.json()["checks"] == {"database": "ok", "broker": "unreachable: TimeoutError"}


async def test_a_hung_database_and_broker_are_each_named_by_their_timeout(silent_broker):
    silent = f"postgresql+asyncpg://postgres@{silent_broker}/none"
    settings = ServiceSettings(service_name="ready", database_url=silent, readiness_timeout_seconds=1,
                               kafka_bootstrap_servers=silent_broker, outbox_enabled=False)
    answer = await _readyz(settings, pool_size=1, hold=0)
    assert answer.json()["checks"] == {"database": "unreachable: TimeoutError", "broker": "unreachable: TimeoutError"}
    with pytest.raises(TimeoutError):
        await Database(silent).ping(0.5)


async def test_a_not_ready_answer_is_the_json_its_document_says(silent_broker):
    """Round 26's fuzzing: /readyz's 503 answered JSON (service, status, checks) its OpenAPI document gave no content at
    all, and its 200 was documented as any JSON. Failed on the old code: no content under 503. Now both say the
    readiness object, and a not-ready answer validates against it."""
    import jsonschema

    silent = f"postgresql+asyncpg://postgres@{silent_broker}/none"
    settings = ServiceSettings(service_name="ready", database_url=silent, readiness_timeout_seconds=1,
                               kafka_bootstrap_servers=silent_broker, outbox_enabled=False)
    metadata = MetaData()
    define_kit_tables(metadata)
    document = create_service_app(settings, metadata, [], title="ready", uses_outbox=False).openapi()
    responses = document["paths"]["/readyz"]["get"]["responses"]
    schemas = {status: responses[status].get("content", {}).get("application/json", {}).get("schema")
               for status in ("200", "503")}
    assert schemas["503"] and schemas["503"] == schemas["200"], responses
    answer = await _readyz(settings, pool_size=1, hold=0)
    assert answer.status_code == 503
    jsonschema.validate(answer.json(), schemas["503"])

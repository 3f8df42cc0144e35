"""A politician's first visit to /kedjan, against a real reporting service: the dashboard and reporting each a
uvicorn server in a thread of the test (reporting on a fresh, migrated database, its consumer off), tokens signed
by the session's dev issuer. The conditions under which the first page could fail: reporting not started yet,
restarted between two visits (the dashboard's pooled connection to it dead), and many first visits at once on a
cold reporting (its answers kept per state version, none kept yet). Each must be a page a person can act on —
the chain, or a 503 with a Retry-After naming reporting — never a 502."""

from __future__ import annotations

import asyncio
import json
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx
import pytest
import uvicorn
from aiokafka import ConsumerRecord, TopicPartition

from styrkedja_contracts import example_bytes
from styrkedja_dashboard.app import create_app as create_dashboard
from styrkedja_dashboard.settings import DashboardSettings
from styrkedja_dashboard.web.sessions import COOKIE
from styrkedja_devstack.postgres import free_port
from styrkedja_devstack.pytest_plugin import migrated_database
from styrkedja_devstack.testing import RecordingProducer
from styrkedja_kit.auth import principal_from_claims
from styrkedja_kit.consumer import ConsumerLoop
from styrkedja_kit.db import Database
from styrkedja_kit.server import ProblemHttpProtocol
from styrkedja_reporting.main import create_app as create_reporting
from styrkedja_reporting.main import handler_registry
from styrkedja_reporting.persistence import metadata
from styrkedja_reporting.settings import ReportingSettings

pytestmark = [pytest.mark.integration, pytest.mark.postgres_only]

ORGANISER = "2980"  # a municipality code; the database is the test's own
NORTH, SOUTH, UNKNOWN = "12345678", "23456789", "34567890"  # the last one not in the directory
UNIT_UPSERTED = "se.styrkedja.organisation.unit_upserted.v1"
#: the directory as an SS 12000 import sends it: (unit type, id, parent, name, school unit code)
DIRECTORY = [("organiser", ORGANISER, None, "Mittköpings kommun", None),
             ("area", "omr-n", ORGANISER, "Område Norr", None), ("area", "omr-s", ORGANISER, "Område Söder", None),
             ("school_unit", "su-n", "omr-n", "Norrskolan", NORTH), ("school_unit", "su-s", "omr-s", "Söderskolan", SOUTH)]


def _apply_directory(database_url: str) -> None:
    """The directory's events applied by reporting's own handlers, as its consumer would (the consumer is off)."""
    def event(offset: int, unit_type: str, unit_id: str, parent: str | None, name: str | None,
              code: str | None) -> ConsumerRecord:
        document = json.loads(example_bytes(UNIT_UPSERTED))
        document["id"], document["subject"] = str(uuid.uuid4()), unit_id
        document["data"] = {"unit_type": unit_type, "unit_id": unit_id, "organiser_id": ORGANISER,
                            "parent_id": parent, "name": name, "school_unit_code": code, "year": None,
                            "roster_size": None, "updated_at": "2026-08-14T06:30:00+02:00"}
        value = json.dumps(document, ensure_ascii=False).encode()
        return ConsumerRecord("styrkedja.organisation", 0, offset, -1, 0, ORGANISER.encode(), value, None,
                              len(ORGANISER), len(value), ())

    async def apply() -> None:
        settings = ReportingSettings(database_url=database_url, kafka_bootstrap_servers="unused:9092",
                                     outbox_enabled=False, consumer_enabled=False)
        database, registry = Database(database_url, pool_size=2), handler_registry()
        loop = ConsumerLoop(settings, database, group_id="first-visit", topics=["styrkedja.organisation"],
                            handler=registry, applied_table=metadata.tables["consumer_applied_events"],
                            offsets_table=metadata.tables["consumer_offsets"], handles=registry.handles)
        try:
            await loop.process({TopicPartition("styrkedja.organisation", 0): [
                event(n, *unit) for n, unit in enumerate(DIRECTORY)]}, RecordingProducer())
            assert loop.applied_count == len(DIRECTORY)
        finally:
            await database.dispose()

    asyncio.run(apply())


class Served:
    """An ASGI app served by uvicorn on a port of the test's choice, in a thread; `stop` then `start` again is a
    restart on the same address."""

    def __init__(self, app: Any, port: int, name: str) -> None:
        self.app, self.port, self.name = app, port, name
        self.server: uvicorn.Server | None = None
        self.thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> Served:
        self.server = uvicorn.Server(uvicorn.Config(self.app, host="127.0.0.1", port=self.port, log_level="warning",
                                                    lifespan="on", access_log=False, http=ProblemHttpProtocol))
        self.thread = threading.Thread(target=self.server.run, name=self.name, daemon=True)
        self.thread.start()
        deadline = time.monotonic() + 60
        while not self.server.started:
            if time.monotonic() > deadline or not self.thread.is_alive():
                raise RuntimeError(f"{self.name} did not start")
            time.sleep(0.05)
        return self

    def stop(self) -> None:
        if self.server is not None and self.thread is not None:
            self.server.should_exit = True
            self.thread.join(30)
            assert not self.thread.is_alive(), f"{self.name} did not stop"
        self.server = self.thread = None


@pytest.fixture
def town(infrastructure, token_issuer):
    """(dashboard, reporting not started yet, a way to sign someone in)."""
    database_url = migrated_database(infrastructure, "styrkedja_reporting", f"t_first_{uuid.uuid4().hex[:8]}")
    _apply_directory(database_url)
    reporting_port = free_port()

    def reporting_app() -> Any:  # a new process would build a new app: nothing kept from before
        return create_reporting(ReportingSettings(
            database_url=database_url, outbox_enabled=False, consumer_enabled=False,
            kafka_bootstrap_servers=infrastructure.kafka_bootstrap_servers, log_level="WARNING",
            auth_issuer=token_issuer.url))

    dashboard_app = create_dashboard(DashboardSettings(reporting_url=f"http://127.0.0.1:{reporting_port}",
                                                       lika_url="http://127.0.0.1:9", issuer=token_issuer.url))
    dashboard = Served(dashboard_app, free_port(), "dashboard").start()
    organiser = ORGANISER

    def signed_in(role: str, **scope: Any) -> httpx.Client:
        claims = {"roles": [role], "organisers": [organiser], **scope}
        token = token_issuer.mint(**claims, subject=f"u-{uuid.uuid4().hex[:6]}")
        session = dashboard_app.state.sessions._new()
        session.token, session.token_expires_at = token, time.time() + 600
        session.principal = principal_from_claims({"sub": "u", **claims})
        return httpx.Client(base_url=dashboard.url, cookies={COOKIE: session.id}, timeout=60,
                            follow_redirects=True)

    reporting = Served(reporting_app, reporting_port, "reporting")
    try:
        yield dashboard, reporting, reporting_app, signed_in, organiser
    finally:
        reporting.stop()
        dashboard.stop()


def _unavailable(page: httpx.Response) -> None:
    assert page.status_code == 503, (page.status_code, page.text[:300])
    assert page.headers["retry-after"].isdigit() and "Tjänsten reporting" in page.text
    assert "går inte att nå just nu" in page.text and "Försök igen</a>" in page.text


def test_first_visits_before_during_and_after_a_reporting_restart_are_never_a_502(town):
    dashboard, reporting, reporting_app, signed_in, organiser = town
    politician = signed_in("politician")

    # reporting not started yet (make run's dashboard answers before reporting does)
    _unavailable(politician.get("/kedjan"))

    # many first visits at once on a cold reporting: politicians, the head of education, a principal
    reporting.app = reporting_app()
    reporting.start()
    visitors = [signed_in("politician") for _ in range(4)] + [
        signed_in("organiser_admin"), signed_in("principal", school_units=[NORTH, UNKNOWN])]
    with ThreadPoolExecutor(len(visitors)) as pool:
        pages = list(pool.map(lambda client: client.get("/kedjan"), visitors))
    assert [p.status_code for p in pages] == [200] * len(visitors), [(p.status_code, p.text[:200]) for p in pages]
    # the names as reporting's directory has them: the politician's areas, the principal's own units
    assert "Områden hos Mittköpings kommun</caption>" in pages[0].text, pages[0].text
    assert "Norrskolan per årskurs</caption>" in pages[-1].text, pages[-1].text
    assert f'Norrskolan <span class="id">{NORTH}</span></a>, <a' in pages[-1].text  # the principal's units
    assert f'>{UNKNOWN}</a>' in pages[-1].text  # not in the directory: its code
    assert f"Huvudman {organiser}" not in pages[0].text + pages[-1].text

    # the same politician again: its connection to reporting is now pooled in the dashboard
    assert politician.get("/kedjan").status_code == 200

    # reporting restarts under the pooled connection: while it is away a 503, then the chain again
    reporting.stop()
    _unavailable(politician.get("/kedjan"))
    reporting.app = reporting_app()
    reporting.start()
    assert politician.get("/kedjan").status_code == 200
    for client in [politician, *visitors]:
        client.close()

"""The four services in-process (uvicorn in a thread of the test process) on fresh, migrated databases,
their outbox relay and consumer off: for the tests of the HTTP door (the OpenAPI fuzz, the hostile
requests), not the pipeline. `running` in tests/conftest.py is one of them per service, shared by
those tests (see there)."""

from __future__ import annotations

import importlib
import threading
import time
import uuid
from dataclasses import dataclass
from typing import Any

import uvicorn

from styrkedja_devstack.postgres import free_port
from styrkedja_devstack.pytest_plugin import migrated_database
from styrkedja_kit.server import ProblemHttpProtocol

#: the organiser (and its units) the broad token holds; the tests' explicit examples use it too
ORGANISER = "2999"
#: every writer and reader role the services know, short of the unit-bound ICT coordinator: reporting reads
#: for organiser_admin and ops, the writers platform, principal and organiser_admin
BROAD_ROLES = ["platform", "principal", "organiser_admin", "ops"]

SERVICES = {
    "assessment": ("styrkedja_assessment", "AssessmentSettings"),
    "forecast": ("styrkedja_forecast", "ForecastSettings"),
    "lika": ("styrkedja_lika", "LikaSettings"),
    "reporting": ("styrkedja_reporting", "ReportingSettings"),
}


@dataclass
class RunningService:
    url: str
    server: uvicorn.Server
    thread: threading.Thread
    #: the service's own database (a test that feeds reporting's handlers straight, as its consumer would)
    database_url: str = ""

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(30)


def broad_token(issuer: Any) -> str:
    return issuer.mint(roles=BROAD_ROLES, organisers=[ORGANISER], school_units=["12345678", "29990011"],
                       subject="fuzz", client_id="platform-fuzz", ttl_seconds=4 * 3600)


def auth(issuer: Any) -> dict[str, str]:
    return {"Authorization": f"Bearer {broad_token(issuer)}"}


def start_service(name: str, infrastructure: Any, issuer: Any, **overrides: Any) -> RunningService:
    """`overrides`: settings of the test's own (a small pool, a short pool timeout)."""
    package, settings_class = SERVICES[name]
    database_url = migrated_database(infrastructure, package, f"t_fuzz_{name}_{uuid.uuid4().hex[:8]}")
    settings_type = getattr(importlib.import_module(f"{package}.settings"), settings_class)
    service_settings = settings_type(database_url=database_url, outbox_enabled=False, consumer_enabled=False,
                                     kafka_bootstrap_servers=infrastructure.kafka_bootstrap_servers,
                                     log_level="WARNING", auth_issuer=issuer.url, **overrides)
    app = importlib.import_module(f"{package}.main").create_app(service_settings)
    port = free_port()
    # the protocol the services run under (their images, the devstack): what uvicorn refuses by itself is then
    # judged as in production (problem+json), not by uvicorn's own plain-text 400
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning",
                                           lifespan="on", access_log=False, http=ProblemHttpProtocol))
    thread = threading.Thread(target=server.run, name=f"fuzz-{name}", daemon=True)
    thread.start()
    deadline = time.monotonic() + 60
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError(f"{name} did not start")
        time.sleep(0.05)
    return RunningService(f"http://127.0.0.1:{port}", server, thread, database_url)

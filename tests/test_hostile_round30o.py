"""Hostile round 30o: what a caller with no token learns from the paths that take none.

Found (privacy rounds 30/30b left it open): the kit's open paths (`OPEN_PATHS`: `/healthz`, `/readyz`, `/metrics`)
answered anyone who reached a service's port. Reporting's `/readyz` carried its consumer's lag, the time of the newest
event it applied and how many it applied since its start — each moves with every organiser's writes, the timing
across tenants the `X-Styrkedja-Newest-Event-Time` and `X-Styrkedja-Consumer-Lag` headers were withheld for — and
`/metrics` the same counts by topic (events applied, outbox rows published, the backlog) on the API's own port, which
deploy/README only asked to keep off a public proxy.

Every open path, as found (the four services and the dashboard):
- `/healthz`: `{"status": "alive"}` (the dashboard's `{"status": "ok"}`): nothing of any tenant.
- `/readyz`: the service's name, ready or not, each check (database, broker, consumer group: `ok` or why not) — and,
  with a consumer (reporting), its lag, newest applied event time, events applied, generation, log gaps: now to an
  `ops` token alone (a token sent to an open path is checked as anywhere; none: the probe's answer). The dashboard's
  `{"status": "ready"}` carries nothing.
- `/metrics`: label values are service, topic, consumer group, partition, reasons and event types (no organiser,
  unit or student: checked below after two organisers' events); the values move with the tenants' data. Now served on
  the API's port only where `metrics_on_app_port` says so (the devstack, on 127.0.0.1), else on a listener of its own
  (`metrics_port`, `metrics_bind`: deploy/k8s's `metrics` port), else nowhere; a type no contract names counts under
  `unregistered` (whoever writes a topic cannot add series).
- `/openapi.json`, `/docs`, `/redoc`: a token needed where tokens are (they were never open paths); the dashboard
  serves none. The dashboard's `/static/*` holds its CSS and scripts (files of the image, no data); `/login`,
  `/callback` start and end a sign-in.
"""

from __future__ import annotations

import re
import time

import httpx
import pytest
from inprocess import start_service

from styrkedja_devstack.postgres import free_port
from support import Mittkoping, ingest

pytestmark = [pytest.mark.integration]

SERVICES = ("reporting", "assessment", "forecast", "lika")  # reporting first: the consumer detail was the leak
#: what a probe is told: no consumer detail, nothing counted
PROBE_KEYS = {"service", "status", "checks"}


def _tenant_values(data: Mittkoping) -> set[str]:
    return {*data.organisers, *(unit for units in data.units.values() for unit in units), data.tag}


def _label_values(exposition: str) -> set[str]:
    return {value for line in exposition.splitlines() if not line.startswith("#")
            for value in re.findall(r'="((?:[^"\\]|\\.)*)"', line)}


def _applied(reporting_url: str, ops: dict[str, str], at_least: int, timeout: float = 120) -> dict:
    """Reporting's consumer, as an `ops` token sees it in /readyz, once it applied `at_least` events."""
    deadline = time.monotonic() + timeout
    body: dict = {}
    while time.monotonic() < deadline:
        response = httpx.get(reporting_url + "/readyz", headers=ops, timeout=10)
        body = response.json()
        consumers = body.get("consumers") or []
        if response.status_code == 200 and consumers and consumers[0].get("applied_since_start", 0) >= at_least:
            return consumers[0]
        time.sleep(0.2)
    raise AssertionError(f"reporting never applied {at_least} events: {body}")


@pytest.mark.timeout(300)
def test_open_paths_tell_a_caller_without_a_token_nothing_that_moves_with_a_tenant(stack):
    """Two organisers' assessments applied by reporting; then every open path of every service, asked with no token,
    names no organiser, unit or student, and its readiness body holds what a probe needs and nothing counted. An ops
    token still gets reporting's consumer detail; a bad token on an open path is refused, as anywhere. Failed on the old
    code: reporting's /readyz told anyone `consumers` (lag, `newest_applied_event_time`, `applied_since_start`)."""
    data = Mittkoping(seed=30)
    ingest(stack.url("assessment"), data, new=12, revisions=0, retractions=0, duplicates=0, tokens=stack.tokens)
    detail = _applied(stack.url("reporting"), stack.tokens.ops(), 12)
    assert detail["newest_applied_event_time"] and "lag" in detail  # the detail is there, for ops
    tenants = _tenant_values(data)
    for name in SERVICES:
        url = stack.url(name)
        for path in ("/healthz", "/readyz"):
            response = httpx.get(url + path, timeout=10)
            assert response.status_code == 200, (name, path, response.text)
            assert not [t for t in tenants if t in response.text], (name, path, response.text)
        ready = httpx.get(url + "/readyz", timeout=10).json()
        assert set(ready) == PROBE_KEYS, (name, ready)
        assert set(ready["checks"].values()) == {"ok"}, (name, ready)  # nothing counted, no time
        refused = httpx.get(url + "/readyz", headers={"Authorization": "Bearer not-a-token"}, timeout=10)
        assert refused.status_code == 401, (name, refused.text)
        # the devstack serves /metrics on the API's port (127.0.0.1): no tenant among its label values
        metrics = httpx.get(url + "/metrics", timeout=10)
        assert metrics.status_code == 200, name
        labels = _label_values(metrics.text)
        assert labels and not [v for v in labels if any(t in v for t in tenants)], (name, labels)
        for page in ("/openapi.json", "/docs"):
            assert httpx.get(url + page, timeout=10).status_code == 401, (name, page)
    # reporting applied them (the label set above is of a consumer that saw both organisers' events)
    reporting_metrics = httpx.get(stack.url("reporting") + "/metrics", timeout=10).text
    assert "styrkedja_consumer_events_applied_total{" in reporting_metrics


@pytest.mark.postgres_only
def test_metrics_are_served_on_the_api_port_only_where_configured_else_on_a_listener_of_their_own(
        infrastructure, token_issuer):
    """By default no /metrics on the API's port (a 404, as any path not served; not in the OpenAPI document); with
    `metrics_port` a listener of its own (here on 127.0.0.1) serves them. Failed on the old code: /metrics answered
    200 on the API's port to anyone, whatever the settings."""
    port = free_port()
    service = start_service("assessment", infrastructure, token_issuer, metrics_port=port)
    try:
        assert httpx.get(service.url + "/metrics", timeout=10).status_code == 404
        token = {"Authorization": f"Bearer {token_issuer.mint(roles=['ops'])}"}
        document = httpx.get(service.url + "/openapi.json", headers=token, timeout=10).json()
        assert "/metrics" not in document["paths"] and "/readyz" in document["paths"]
        readyz = document["paths"]["/readyz"]["get"]  # no token needed; one sent is checked (a 401 if bad)
        assert readyz["security"] == [{}, {"bearer": []}] and "401" in readyz["responses"]
        own = httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=10)
        assert own.status_code == 200 and "styrkedja_" in own.text
    finally:
        service.stop()
    with pytest.raises(httpx.ConnectError):  # the listener ends with the service
        httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=5)


def test_the_dashboards_open_paths_carry_nothing_of_any_tenant():
    """The dashboard's probes answer fixed bodies, its /metrics and framework pages do not exist, and /static serves
    its own files. A guard, not a mend: found so, kept so (a probe calling the services would carry their detail)."""
    from fastapi.testclient import TestClient

    from styrkedja_dashboard.app import create_app
    from styrkedja_dashboard.settings import DashboardSettings

    settings = DashboardSettings(reporting_url="http://reporting.test", lika_url="http://lika.test",
                                 issuer="http://issuer.test")
    with TestClient(create_app(settings), base_url="http://127.0.0.1:8100") as client:
        assert client.get("/healthz").json() == {"status": "ok"}
        assert client.get("/readyz").json() == {"status": "ready"}
        for path in ("/metrics", "/openapi.json", "/docs", "/redoc"):
            assert client.get(path).status_code == 404, path
        assert client.get("/static/app.css").status_code == 200


#: every label a metric of the kit or a service may carry: what the process is, not whose data it holds
LABELS_ALLOWED = {"service", "topic", "group", "partition", "kind", "source", "reason", "type", "bound"}


def test_no_metric_of_any_service_has_a_label_that_names_a_tenant():
    """Every metric registered once the four services' apps are imported (the kit's, reporting's own) carries labels
    from `LABELS_ALLOWED` alone: none for an organiser, area, school unit, group or student, whose values would be
    tenant names told to the scraper (and a series per tenant). A guard: found so."""
    import importlib

    from prometheus_client import REGISTRY

    for name in SERVICES:
        importlib.import_module(f"styrkedja_{name}.main")
    labels = {family.name: {label for sample in family.samples for label in sample.labels} - {"le"}
              for family in REGISTRY.collect() if family.name.startswith("styrkedja_")}
    assert labels  # the kit's metrics are there
    assert {name: names - LABELS_ALLOWED for name, names in labels.items() if names - LABELS_ALLOWED} == {}
    declared = {label for collector in list(REGISTRY._collector_to_names)  # labelled ones with no sample yet
                for label in getattr(collector, "_labelnames", ())}
    assert declared and declared <= LABELS_ALLOWED, declared


def test_a_second_worker_finds_the_metrics_port_taken_and_serves_on():
    """`metrics_port` with several uvicorn workers in one container (compose's reporting runs two): the first binds
    it, the next logs and goes on without one — the start never fails for it."""
    from styrkedja_kit.app import serve_metrics
    from styrkedja_kit.settings import ServiceSettings

    settings = ServiceSettings(metrics_port=free_port())
    first = serve_metrics(settings)
    try:
        assert first is not None
        assert serve_metrics(settings) is None
        assert httpx.get(f"http://127.0.0.1:{settings.metrics_port}/metrics", timeout=10).status_code == 200
    finally:
        first.shutdown()
        first.server_close()
    assert serve_metrics(ServiceSettings()) is None  # none unless configured

"""The dashboard against a real reporting's read APIs as sessions 30-31 left them (reporting and the dashboard each a
uvicorn server in a thread of the test, as in `test_dashboard_first_visit`): the alert list paged by keyset — the
`Link: rel="next"` reporting writes (a reference relative to its own path) followed by the alert page's "more" link and
by the download —, and the support and alert reads refused to an ICT coordinator (403 `role`), whose quality report
says those sections are not for its role. The in-process tests with a fake reporting are `services/dashboard/tests/
test_read_api_changes.py`; this one holds that the fake answers as the service does."""

from __future__ import annotations

import asyncio
import csv
import io
import re
import time
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import insert

from styrkedja_dashboard.app import create_app as create_dashboard
from styrkedja_dashboard.settings import DashboardSettings
from styrkedja_dashboard.web.sessions import COOKIE
from styrkedja_devstack.postgres import free_port
from styrkedja_devstack.pytest_plugin import migrated_database
from styrkedja_kit.auth import principal_from_claims
from styrkedja_kit.db import Database
from styrkedja_reporting.alerts.tables import alerts
from styrkedja_reporting.main import create_app as create_reporting
from styrkedja_reporting.settings import ReportingSettings

from .test_dashboard_first_visit import NORTH, ORGANISER, Served, _apply_directory

pytestmark = [pytest.mark.integration, pytest.mark.postgres_only]

#: more than two of the alert page's pages (100), fewer than one of the download's (5,000)
ALERTS = 205
T0 = datetime(2026, 10, 1, 8, tzinfo=UTC)


async def _store_alerts(database_url: str) -> None:
    rows = [dict(alert_id=uuid.uuid4(), organiser_id=ORGANISER, level="school_unit", unit_id=NORTH,
                 school_unit_code=NORTH, subject_code="GRGRMAT01", year=None, school_year="2026/27", term=None,
                 round=2, rule="pass_share_drop", status="open", episode=1, raised_at=T0 + timedelta(minutes=n),
                 changed_at=T0 + timedelta(minutes=n),
                 figures={"students": 40, "compared_students": 40, "share": 0.5, "compared_share": 0.75,
                          "change_points": -25.0, "threshold_points": 10.0}) for n in range(ALERTS)]
    database = Database(database_url, pool_size=1)
    try:
        async with database.sessions.begin() as session:
            await session.execute(insert(alerts), rows)
    finally:
        await database.dispose()


@pytest.fixture
def served(infrastructure, token_issuer):
    """(a way to sign someone in to a dashboard before a running reporting that holds `ALERTS` open alerts)."""
    database_url = migrated_database(infrastructure, "styrkedja_reporting", f"t_reads_{uuid.uuid4().hex[:8]}")
    _apply_directory(database_url)
    asyncio.run(_store_alerts(database_url))
    reporting = Served(create_reporting(ReportingSettings(
        database_url=database_url, outbox_enabled=False, consumer_enabled=False,
        kafka_bootstrap_servers=infrastructure.kafka_bootstrap_servers, log_level="WARNING",
        auth_issuer=token_issuer.url)), free_port(), "reporting").start()
    app = create_dashboard(DashboardSettings(reporting_url=reporting.url, lika_url="http://127.0.0.1:9",
                                             issuer=token_issuer.url))
    dashboard = Served(app, free_port(), "dashboard").start()
    clients: list[httpx.Client] = []

    def signed_in(role: str, **scope: Any) -> httpx.Client:
        claims = {"roles": [role], "organisers": [ORGANISER], **scope}
        session = app.state.sessions._new()
        session.token = token_issuer.mint(**claims, subject=f"u-{uuid.uuid4().hex[:6]}")
        session.token_expires_at = time.time() + 600
        session.principal = principal_from_claims({"sub": "u", **claims})
        clients.append(httpx.Client(base_url=dashboard.url, cookies={COOKIE: session.id}, timeout=120))
        return clients[-1]

    try:
        yield signed_in
    finally:
        for client in clients:
            client.close()
        dashboard.stop()
        reporting.stop()


def _acknowledge_forms(html: str) -> set[str]:
    return set(re.findall(r'action="/larm/([0-9a-f-]{36})/kvittera"', html))


def test_the_alert_page_pages_through_reportings_list_and_the_download_holds_all(served):
    admin = served("organiser_admin")
    seen: list[set[str]] = []
    path = "/larm"
    while path:
        page = admin.get(path)
        assert page.status_code == 200, (path, page.status_code, page.text[:300])
        seen.append(_acknowledge_forms(page.text))
        following = re.search(r'<a href="(/larm\?[^"]+)">Visa fler larm</a>', page.text)
        path = following.group(1).replace("&amp;", "&") if following else ""
    assert [len(s) for s in seen] == [100, 100, 5]
    assert len(set().union(*seen)) == ALERTS  # each alert on exactly one page
    download = admin.get("/larm/export.csv")
    assert download.status_code == 200, download.text[:300]
    rows = list(csv.reader(io.StringIO(download.content.decode("utf-8-sig")), delimiter=";"))
    assert len(rows) == 1 + ALERTS


def test_an_ict_coordinators_report_leaves_support_to_the_roles_that_read_it(served):
    report = served("ict_coordinator", school_units=[NORTH]).get(f"/rapport?enhet={NORTH}")
    assert report.status_code == 200, report.text[:300]
    assert "<strong>Stödinsatser:</strong> visas inte för din roll." in report.text
    # reporting's alert list is not for the role either: its 403 names the rule `role`, not the level
    assert "<strong>Larm:</strong> visas inte för din roll." in report.text
    assert "du har inte behörighet att se den här nivån" not in report.text
    principal = served("principal", school_units=[NORTH]).get(f"/rapport?enhet={NORTH}")
    assert principal.status_code == 200 and "<strong>Stödinsatser:</strong>" not in principal.text
    assert f"<caption>{ALERTS} larm</caption>" in principal.text  # every page of the unit's alerts

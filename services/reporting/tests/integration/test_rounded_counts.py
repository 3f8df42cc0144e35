"""Counts rounded everywhere the deployment rounds them (hostile round 24a).

Found and fixed: with `disclosure_round_counts_to` set (the optional rule: shown counts rounded to a multiple of N,
at the levels suppressed for the reader), only the results endpoint rounded. Every figure table (trend, history,
gender gap, coverage, drill-down, forecast against outcome, merit), the support tables and summary, the roster
sizes and an area's alert showed the same students exactly: a politician read 20 in the results and 22 in the
trend for one area. Now the one place every figure and support table passes (`access.guard.withhold_small`)
rounds each count column at a suppressed level, and so do the support summary, the roster sizes and the alerts;
the organiser admin (no level suppressed) still reads exact counts.

Three areas of one organiser, one school unit and group each, one result per student: 12, 22 and 31 students
(none small: nothing withheld), rounded to 5."""

from __future__ import annotations

from datetime import date
from uuid import uuid5

import pytest

from styrkedja_kit.db import Database
from styrkedja_reporting.settings import ReportingSettings

from .test_directory import NS, Feeder, membership, unit
from .test_figures import result

pytestmark = [pytest.mark.integration, pytest.mark.postgres_only]

ORG = "2999"
AREAS = {"north": ("11111111", 12), "south": ("22222222", 22), "east": ("33333333", 31)}
ROUNDED = {"north": 10, "south": 20, "east": 30}
EXACT = {area: n for area, (_, n) in AREAS.items()}
PERIOD = {"school_year": "2026/27", "term": "HT", "subject_code": "GRGRMAT01"}


@pytest.fixture
def settings(settings, monkeypatch) -> ReportingSettings:
    """The shared `settings` (conftest) with counts rounded to 5."""
    monkeypatch.setenv("STYRKEDJA_DISCLOSURE_ROUND_COUNTS_TO", "5")
    return ReportingSettings()


@pytest.fixture
async def fed(settings):
    database = Database(settings.database_url)
    events = [unit("organiser", ORG, ORG, None)]
    for area, (code, n) in AREAS.items():
        events += [unit("area", area, ORG, ORG), unit("school_unit", f"su-{area}", ORG, area, code=code),
                   unit("group", "7A", ORG, f"su-{area}", code=code, year=7)]
        for i in range(n):
            events.append(result(uuid5(NS, f"round-{area}-{i}"), 1, "C" if i % 4 else "F", ORG, code, "7A",
                                 f"s-{area}-{i}", gender="female" if i % 2 else "male", year=7,
                                 on=date(2026, 10, 1)))
            events.append(membership(f"m-{area}-{i}", ORG, code, "7A", f"s-{area}-{i}", date(2026, 8, 1)))
    await Feeder(database)(events)
    yield database
    await database.dispose()


def _bearer(token_issuer, role: str) -> dict:
    return {"Authorization": "Bearer " + token_issuer.mint(roles=[role], organisers=[ORG])}


async def _views(client, headers) -> dict[str, dict[str, object]]:
    async def figure(path: str, column: str, **extra) -> dict[str, object]:
        response = await client.get(f"/v1/figures/{path}", headers=headers,
                                    params={"level": "area", "organiser_id": ORG, **PERIOD, **extra})
        assert response.status_code == 200, response.text
        return {r["unit_id"]: r[column] for r in response.json()["rows"]}

    results = await client.get("/v1/results/assessments", headers=headers,
                               params={"level": "area", "organiser_id": ORG, **PERIOD})
    assert results.status_code == 200, results.text
    rosters = await client.get("/v1/directory/roster-sizes", headers=headers,
                               params={"level": "area", "organiser_id": ORG, "on": "2026-10-01"})
    assert rosters.status_code == 200, rosters.text
    summaries = {}
    for area in AREAS:
        summary = await client.get("/v1/support/summary", headers=headers,
                                   params={"level": "area", "unit_id": area, "organiser_id": ORG})
        assert summary.status_code == 200, summary.text
        summaries[area] = summary.json()["students_assessed"]
    return {"results": {c["unit_id"]: c["assessed"] for c in results.json()},
            "support summary": summaries,
            "trend": await figure("trend", "assessed"),
            "history": await figure("history", "assessed", periods=1),
            "gender-gap": await figure("gender-gap", "assessed"),
            "coverage": await figure("coverage", "with_result", on="2026-10-01"),
            "coverage roster": await figure("coverage", "roster_size", on="2026-10-01"),
            "drill-down": await figure("drill-down", "assessed", level="organiser", unit_id=ORG),
            "roster-sizes": {r["unit_id"]: r["students"] for r in rosters.json()}}


async def test_a_politician_reads_every_count_rounded(fed, bare_client, token_issuer):
    views = await _views(bare_client, _bearer(token_issuer, "politician"))
    for name, view in views.items():
        assert view == ROUNDED, name


async def test_the_organiser_admin_reads_every_count_exactly(fed, bare_client, token_issuer):
    views = await _views(bare_client, _bearer(token_issuer, "organiser_admin"))
    for name, view in views.items():
        assert view == EXACT, name


async def store_area_alert(settings: ReportingSettings, share: float, change_points: float) -> None:
    """An open pass-share-drop alert of area north (22 students against 31 at 1.0), stored as the alerts' handler
    stores one."""
    from datetime import UTC, datetime
    from uuid import uuid4

    from sqlalchemy import insert

    from styrkedja_reporting.alerts.tables import alerts

    database = Database(settings.database_url)
    await Feeder(database)([unit("organiser", ORG, ORG, None), unit("area", "north", ORG, ORG)])
    at = datetime(2026, 10, 1, 8, tzinfo=UTC)
    async with database.sessions.begin() as session:
        await session.execute(insert(alerts).values(
            alert_id=uuid4(), organiser_id=ORG, level="area", unit_id="north", school_unit_code=None,
            subject_code="GRGRMAT01", year=None, school_year="2026/27", term=None, round=2, rule="pass_share_drop",
            status="open", episode=1, raised_at=at, changed_at=at,
            figures={"students": 22, "compared_students": 31, "share": share, "compared_share": 1.0,
                     "change_points": change_points, "threshold_points": 10.0}))
    await database.dispose()


async def test_an_area_managers_area_alert_shows_its_students_rounded(settings, bare_client, token_issuer):
    """An alert of an area carries the students behind it: rounded as the area's figures are, where rounded."""
    await store_area_alert(settings, 0.5, -50.0)
    for claims, students in ((dict(roles=["area_manager"], areas=["north"]), (20, 30)),
                             (dict(roles=["organiser_admin"]), (22, 31))):
        headers = {"Authorization": "Bearer " + token_issuer.mint(organisers=[ORG], **claims)}
        response = await bare_client.get("/v1/alerts", headers=headers)
        assert response.status_code == 200, response.text
        assert [(a["figures"]["students"], a["figures"]["compared_students"]) for a in response.json()] == [students]

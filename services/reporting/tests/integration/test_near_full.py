"""The optional `~100` rule over HTTP (`STYRKEDJA_DISCLOSURE_NEAR_FULL=true`): a politician sees an
area where 1–4 students fail with `approximately: "~100"` in the results JSON (reason `EXISTS`, its
students shown, its outcome `null`), `~100` in the CSV share; the gender gap's row says the same
(`approximately: {"share": "~100"}`); the area withheld with it as the complement is the same in
both endpoints; the organiser admin sees the exact share."""

from __future__ import annotations

import csv
import io
from datetime import date
from uuid import uuid5

import pytest

from styrkedja_kit.db import Database
from styrkedja_reporting.settings import ReportingSettings

from .test_directory import NS, Feeder, unit
from .test_figures import result

pytestmark = [pytest.mark.integration, pytest.mark.postgres_only]

ORG = "2999"
#: area → (school unit code, students, failing)
AREAS = {"north": ("11111111", 30, 2), "south": ("22222222", 30, 15), "east": ("33333333", 40, 10)}
PARAMS = {"level": "area", "organiser_id": ORG, "school_year": "2026/27", "term": "HT", "subject_code": "GRGRMAT01"}


@pytest.fixture
def settings(service_database, monkeypatch) -> ReportingSettings:
    """The shared `settings` (conftest) with the optional `~100` rule on."""
    service_database("styrkedja_reporting")
    monkeypatch.setenv("STYRKEDJA_CONSUMER_ENABLED", "false")
    monkeypatch.setenv("STYRKEDJA_DISCLOSURE_NEAR_FULL", "true")
    return ReportingSettings()


@pytest.fixture
async def fed(settings):
    database = Database(settings.database_url)
    events = [unit("organiser", ORG, ORG, None)]
    for area, (code, n, failing) in AREAS.items():
        events += [unit("area", area, ORG, ORG), unit("school_unit", f"su-{area}", ORG, area, code=code),
                   unit("group", "7A", ORG, f"su-{area}", code=code, year=7)]
        events += [result(uuid5(NS, f"near-{area}-{i}"), 1, "F" if i < failing else "C", ORG, code, "7A",
                          f"s-{area}-{i}", gender="female", year=7, on=date(2026, 10, 1)) for i in range(n)]
    await Feeder(database)(events)
    yield database
    await database.dispose()


def _headers(token_issuer, role: str) -> dict:
    return {"Authorization": "Bearer " + token_issuer.mint(roles=[role], organisers=[ORG])}


async def test_a_near_full_share_is_marked_and_its_complement_is_the_same_everywhere(fed, bare_client, token_issuer):
    politician = _headers(token_issuer, "politician")
    response = await bare_client.get("/v1/results/assessments", headers=politician,
                                      params=PARAMS)
    assert response.status_code == 200, response.text
    cells = {c["unit_id"]: c for c in response.json()}
    north = cells["north"]
    assert north["approximately"] == "~100" and north["reason"] == "EXISTS"
    assert north["assessed"] == 30 and north["share_reaching_pass"] is None and north["reaching_pass"] is None
    outcome_hidden = {u for u, c in cells.items() if c["reaching_pass"] is None}
    assert "north" in outcome_hidden and len(outcome_hidden) >= 2  # a complement: else 100 − the others
    assert all(c["approximately"] is None for u, c in cells.items() if u != "north")

    text = (await bare_client.get("/v1/results/assessments", headers=politician,
                                  params={**PARAMS, "format": "csv"})).content.decode("utf-8-sig")
    lines = {r["Enhet"]: r for r in csv.DictReader(io.StringIO(text), delimiter=";")}
    assert lines["north"]["Andel"] == "~100" and lines["north"]["Når godtagbar nivå"] == ".."
    assert lines["north"]["Bedömda"] == "30"

    gap = await bare_client.get("/v1/figures/gender-gap", headers=politician, params=PARAMS)
    assert gap.status_code == 200, gap.text
    rows = {r["unit_id"]: r for r in gap.json()["rows"]}
    assert rows["north"]["share"] is None and rows["north"]["approximately"]["share"] == "~100"
    assert rows["north"]["assessed"] == 30
    assert {u for u, r in rows.items() if r["share"] is None} == outcome_hidden  # one decision


async def test_the_organiser_admin_sees_the_exact_share(fed, bare_client, token_issuer):
    admin = _headers(token_issuer, "organiser_admin")
    cells = {c["unit_id"]: c for c in (await bare_client.get("/v1/results/assessments", headers=admin,
                                                             params=PARAMS)).json()}
    assert cells["north"]["share_reaching_pass"] == pytest.approx(28 / 30, abs=1e-4)
    assert all(c["approximately"] is None for c in cells.values())

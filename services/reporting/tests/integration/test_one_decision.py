"""One disclosure decision per cell across endpoints, over HTTP with a politician's token.

Three areas of one organiser, one school unit and group each, one result per student in the same
subject, year and term (so the figures' students assessed, coverage's students with a result and
the results endpoint's students assessed are one number, shown by several endpoints):

- north: 5 girls (small: withheld);
- south: 10 girls, 10 boys;
- east: 27 girls, 3 boys (the boys small).

Before one decision per cell, the gender gap (whose complement of north was east: east's row already
held a withheld cell) showed south's 20, while coverage (totals only: the smaller sibling) showed
east's 30 — and the organiser's 55 is shown: north = 55 − 20 − 30 = 5. Now every endpoint withholds
the same areas, and the organiser admin still sees every value exactly."""

from __future__ import annotations

from datetime import date
from uuid import uuid5

import pytest

from styrkedja_kit.db import Database

from .test_directory import NS, Feeder, unit
from .test_figures import result

pytestmark = [pytest.mark.integration, pytest.mark.postgres_only]

ORG = "2999"
#: area → (school unit code, girls, boys)
AREAS = {"north": ("11111111", 5, 0), "south": ("22222222", 10, 10), "east": ("33333333", 27, 3)}
EXACT = {"north": 5, "south": 20, "east": 30}
PERIOD = {"school_year": "2026/27", "term": "HT", "subject_code": "GRGRMAT01"}
WITHHELD = "OMITTED_DUE_TO_BASED_ON_FEW_PUPILS"


@pytest.fixture
async def fed(settings):
    database = Database(settings.database_url)
    events = [unit("organiser", ORG, ORG, None)]
    for area, (code, girls, boys) in AREAS.items():
        events += [unit("area", area, ORG, ORG), unit("school_unit", f"su-{area}", ORG, area, code=code),
                   unit("group", "7A", ORG, f"su-{area}", code=code, year=7)]
        for i in range(girls + boys):
            events.append(result(uuid5(NS, f"one-{area}-{i}"), 1, "C" if i % 4 else "F", ORG, code, "7A",
                                 f"s-{area}-{i}", gender="female" if i < girls else "male", year=7,
                                 on=date(2026, 10, 1)))
    await Feeder(database)(events)
    yield database
    await database.dispose()


def _headers(token_issuer, role: str) -> dict:
    return {"Authorization": "Bearer " + token_issuer.mint(roles=[role], organisers=[ORG])}


async def _figure(client, headers, path: str, column: str, level: str = "area", **extra) -> dict[str, object]:
    response = await client.get(f"/v1/figures/{path}", headers=headers,
                                params={"level": level, "organiser_id": ORG, **PERIOD, **extra})
    assert response.status_code == 200, response.text
    return {r["unit_id"]: r[column] for r in response.json()["rows"]}


async def _results(client, headers, level: str = "area") -> dict[str, object]:
    response = await client.get("/v1/results/assessments", headers=headers, params={
        "level": level, "organiser_id": ORG, "school_year": "2026/27", "term": "HT", "subject_code": "GRGRMAT01"})
    assert response.status_code == 200, response.text
    return {c["unit_id"]: c["assessed"] for c in response.json()}


async def _views(client, headers) -> dict[str, dict[str, object]]:
    """Every endpoint's count of each area's students (None: withheld)."""
    return {
        "gender-gap": await _figure(client, headers, "gender-gap", "assessed"),
        "coverage": await _figure(client, headers, "coverage", "with_result"),
        "trend": await _figure(client, headers, "trend", "assessed"),
        "history": await _figure(client, headers, "history", "assessed", periods=1),
        "drill-down": await _figure(client, headers, "drill-down", "assessed", level="organiser", unit_id=ORG),
        "results": await _results(client, headers),
    }


async def test_gender_gap_and_coverage_withhold_the_same_complement(fed, bare_client, token_issuer):
    politician = _headers(token_issuer, "politician")
    gap = await _figure(bare_client, politician, "gender-gap", "assessed")
    coverage = await _figure(bare_client, politician, "coverage", "with_result")
    organiser = await _figure(bare_client, politician, "coverage", "with_result", level="organiser")
    assert organiser == {ORG: 55}  # the parent total is shown
    assert gap["north"] is None and coverage["north"] is None
    # the values two endpoints show together must leave north (and its complement) unknown
    shown = {area: n for view in (gap, coverage) for area, n in view.items() if n is not None}
    assert len(shown) <= len(AREAS) - 2, f"{shown} and the organiser's 55 give north away"
    assert {a for a, n in gap.items() if n is None} == {a for a, n in coverage.items() if n is None}


async def test_every_endpoint_withholds_the_same_areas_and_nothing_is_computable(fed, bare_client, token_issuer):
    views = await _views(bare_client, _headers(token_issuer, "politician"))
    hidden = {name: frozenset(a for a, n in view.items() if n is None) for name, view in views.items()}
    assert len(set(hidden.values())) == 1, hidden
    withheld = next(iter(hidden.values()))
    assert "north" in withheld and len(withheld) >= 2
    for name, view in views.items():  # what is shown is exact
        assert {a: n for a, n in view.items() if n is not None} == {a: EXACT[a] for a in AREAS if a not in withheld}, name


async def test_the_organiser_admin_sees_every_area_exactly(fed, bare_client, token_issuer):
    views = await _views(bare_client, _headers(token_issuer, "organiser_admin"))
    for name, view in views.items():
        assert view == EXACT, name

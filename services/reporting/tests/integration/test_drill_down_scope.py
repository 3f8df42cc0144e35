"""Who reads the level below in a drill-down (hostile round 24a).

Found and fixed: `GET /v1/figures/drill-down` judged the reader at the level asked alone. An ICT coordinator (its
school units, at school-unit level only: no group, no student data) named its school unit and read each group of it
one level down — students assessed, reaching the pass level and the share, exact: a group of one student is that
student's result — where the trend, the results and the roster sizes refuse it the group level. Now the level
below must be one the reader reads, or one whose figures it sees withheld where small (the politician's school units
under an area, the public's areas under an organiser), for every figure of the drill-down.

The data is `test_one_decision`'s: school unit 11111111 (area north) with one group 7A of 5 students."""

from __future__ import annotations

import pytest

from .test_one_decision import ORG, PERIOD, fed  # noqa: F401  (fed: the fixture)

pytestmark = [pytest.mark.integration, pytest.mark.postgres_only]

UNIT = "11111111"


def _bearer(token_issuer, *roles: str, **claims) -> dict:
    return {"Authorization": "Bearer " + token_issuer.mint(roles=list(roles), organisers=[ORG], **claims)}


async def _drill(client, headers, figure: str, level: str = "school_unit", unit_id: str = UNIT):
    return await client.get("/v1/figures/drill-down", headers=headers, params={
        "level": level, "organiser_id": ORG, "unit_id": unit_id, **PERIOD, "figure": figure})


@pytest.mark.parametrize("figure", ["pass", "forecast-outcome", "merit"])
async def test_an_ict_coordinator_reads_no_group_of_its_unit(fed, bare_client, token_issuer, figure):  # noqa: F811
    response = await _drill(bare_client, _bearer(token_issuer, "ict_coordinator", school_units=[UNIT]), figure)
    assert response.status_code == 403, response.text
    assert response.json()["errors"][0]["field"] == "level"
    assert response.json()["errors"][0]["rule"] == "read_scope"


async def test_the_principal_of_the_unit_reads_its_groups_exactly(fed, bare_client, token_issuer):  # noqa: F811
    response = await _drill(bare_client, _bearer(token_issuer, "principal", school_units=[UNIT]), "pass")
    assert response.status_code == 200, response.text
    assert [(r["unit_id"], r["assessed"]) for r in response.json()["rows"]] == [(f"{UNIT}/7A", 5)]


async def test_a_politician_still_reads_the_school_units_of_an_area_withheld_where_small(fed, bare_client,  # noqa: F811
                                                                                       token_issuer):
    response = await _drill(bare_client, _bearer(token_issuer, "politician"), "pass", level="area", unit_id="north")
    assert response.status_code == 200, response.text
    assert [(r["unit_id"], r["assessed"]) for r in response.json()["rows"]] == [(UNIT, None)]

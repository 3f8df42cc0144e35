"""The organiser's compliance view as an area manager reads it: its areas' school units (hostile round 23a).

Found and fixed: `GET /v1/compliance/organisers/{o}/school-units` (and the assessment rounds' view) answered an area
manager every school unit of the organiser — each unit's expected, reported and missing reports — where every other
read gives it the units of its own areas. Now the rows of the units placed in its areas; the organiser admin's view
is whole as before."""

from __future__ import annotations

import pytest

from .test_compliance import DIRECTORY, FORECASTS, ORG, UNIT, WINDOW
from .test_directory import Feeder

pytestmark = [pytest.mark.integration, pytest.mark.postgres_only]


async def test_an_area_manager_reads_its_own_areas_units_only(bare_client, database, token_issuer):
    # failed before: the area manager of south read north's 11111111
    await Feeder(database)(DIRECTORY, FORECASTS)

    async def units(**claims) -> list[str]:
        headers = {"Authorization": "Bearer " + token_issuer.mint(organisers=[ORG], **claims)}
        answer = await bare_client.get(f"/v1/compliance/organisers/{ORG}/school-units", params=WINDOW,
                                       headers=headers)
        assert answer.status_code == 200, answer.text
        return [r["school_unit_code"] for r in answer.json()["rows"]]

    assert await units(roles=["organiser_admin"]) == [UNIT]
    assert await units(roles=["area_manager"], areas=["north"]) == [UNIT]
    assert await units(roles=["area_manager"], areas=["south"]) == []
    assert await units(roles=["area_manager"], areas=["south"], subject="other") == []  # never the kept answer

"""Who reads which unit's newest LIKA self-assessment (hostile round 23a).

Found and fixed: `GET /v1/lika/school-units` let an area manager read every school unit of its organiser (each
unit's ratings and comments), where the compilation of the same data asks it to name one of its own areas and
the LIKA service lets it read the units of its token alone. Now the units placed in its areas."""

from __future__ import annotations

import pytest

from .test_answers_other_reads import _bearer, _get, more  # noqa: F401  (the fixture)
from .test_one_decision import ORG, fed  # noqa: F401  (the fixture)

pytestmark = [pytest.mark.integration, pytest.mark.postgres_only]


async def test_an_area_manager_reads_the_lika_of_its_own_areas_units_only(bare_client, token_issuer, more):  # noqa: F811
    # failed before: the area manager of north read south's 22222222 too
    north = _bearer(token_issuer, "area_manager", areas=["north"])
    for params in ({"organiser_id": ORG}, {}, {"school_unit_code": "22222222"}):
        units = (await _get(bare_client, north, "/v1/lika/school-units", params)).json()
        assert {u["school_unit_code"] for u in units} <= {"11111111"}, params
    assert [u["school_unit_code"] for u in (await _get(bare_client, north, "/v1/lika/school-units",
                                                        {"organiser_id": ORG})).json()] == ["11111111"]
    nowhere = _bearer(token_issuer, "area_manager", areas=["far"])
    assert (await _get(bare_client, nowhere, "/v1/lika/school-units", {"organiser_id": ORG})).json() == []
    admin = _bearer(token_issuer, "organiser_admin")
    every = (await _get(bare_client, admin, "/v1/lika/school-units", {"organiser_id": ORG})).json()
    assert {u["school_unit_code"] for u in every} == {"11111111", "22222222"}

"""A principal's or teacher's reach is its school units and groups within its own organisers (hostile round 23a).

Found and fixed: the kit's read policy let a unit-bound role (principal, ICT coordinator, teacher) read its school
unit (or group) under any organiser a request named, the token's organisers unasked. A school unit code is the same
under every organiser, so a principal of organiser 2999 asked for `organiser_id=3001` with its own unit's code and
read 3001's results there (the facts 3001's platform published for that code: the school before a change of
organiser, a mistake), its compliance lists and the students they name."""

from __future__ import annotations

from uuid import uuid5

import pytest

from styrkedja_kit.db import Database

from .test_directory import NS, Feeder, directory, published

pytestmark = [pytest.mark.integration, pytest.mark.postgres_only]

ORG, OTHER, UNIT = "2999", "3001", "11111111"  # 11111111 is placed under 2999


@pytest.fixture
async def fed(settings):
    database = Database(settings.database_url)
    await Feeder(database)(directory() + [
        published(uuid5(NS, "reach-own"), 1, "A", ORG, UNIT, "7A", "s-own"),
        published(uuid5(NS, "reach-other"), 1, "F", OTHER, UNIT, "7A", "s-other")])
    yield database
    await database.dispose()


def _bearer(token_issuer, role: str, **claims) -> dict:
    return {"Authorization": "Bearer " + token_issuer.mint(roles=[role], organisers=[ORG], **claims)}


async def test_a_unit_role_reads_its_unit_under_its_own_organisers_only(fed, bare_client, token_issuer):
    # failed before: each read below under 3001 was a 200 (the results naming 3001's student's F)
    principal = _bearer(token_issuer, "principal", school_units=[UNIT])
    teacher = _bearer(token_issuer, "teacher", groups=[f"{UNIT}/7A"])
    reads = [
        (principal, "/v1/results/assessments", {"level": "school_unit", "unit_id": UNIT}),
        (principal, "/v1/results/assessments", {"level": "student", "unit_id": UNIT}),
        (principal, "/v1/figures/trend", {"level": "school_unit", "unit_id": UNIT, "school_year": "2026/27",
                                          "term": "HT"}),
        (teacher, "/v1/results/assessments", {"level": "group", "unit_id": f"{UNIT}/7A"}),
        (principal, "/v1/compliance/organisers/{organiser}/school-units/" + UNIT,
         {"school_year": "2026/27", "term": "HT"}),
        (principal, "/v1/compliance/organisers/{organiser}/school-units/" + UNIT + "/items",
         {"school_year": "2026/27", "term": "HT"}),
    ]
    for headers, path, params in reads:
        own = await bare_client.get(path.format(organiser=ORG), headers=headers,
                                    params={**params, "organiser_id": ORG} if "{" not in path else params)
        assert own.status_code == 200, (path, own.text)
        other = await bare_client.get(path.format(organiser=OTHER), headers=headers,
                                      params={**params, "organiser_id": OTHER} if "{" not in path else params)
        assert other.status_code == 403, (path, params, other.status_code, other.text[:300])
        assert "s-other" not in other.text

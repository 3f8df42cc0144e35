"""The directory tree shows a unit's roster size only to a reader who may read that unit (hostile round 23a).

Found and fixed: the tree (and one unit) showed the source's roster size of every group and school unit of the
organiser to any reader whose role does not suppress that level: a teacher of one group read every group's size
in every school, a principal every other school's, an area manager the other areas' — sizes `/roster-sizes` gives
each of them for its own units alone."""

from __future__ import annotations

from datetime import timedelta

import pytest

from styrkedja_contracts import OrganisationUnitUpsertedV1, new_event
from styrkedja_kit.db import Database

from .test_directory import T0, Feeder, directory

pytestmark = [pytest.mark.integration, pytest.mark.postgres_only]

ORG = "2999"


def sized(kind: str, unit_id: str, parent: str, code: str, size: int):
    return new_event(OrganisationUnitUpsertedV1(
        unit_type=kind, unit_id=unit_id, organiser_id=ORG, parent_id=parent, name=f"{kind} {unit_id}",
        school_unit_code=code, year=7 if kind == "group" else None, roster_size=size,
        updated_at=T0 + timedelta(minutes=5)), source="/test")


@pytest.fixture
async def fed(settings):
    database = Database(settings.database_url)
    await Feeder(database)(directory() + [
        sized("school_unit", "su-a", "north", "11111111", 40), sized("school_unit", "su-b", "south", "22222222", 30),
        sized("group", "7A", "su-a", "11111111", 21), sized("group", "7A", "su-b", "22222222", 3)])
    yield database
    await database.dispose()


def _sizes(units: list[dict], into: dict | None = None) -> dict:
    into = {} if into is None else into
    for u in units:
        if u["unit_type"] in ("school_unit", "group"):
            into[(u["unit_type"], u["school_unit_code"])] = u["roster_size"]
        _sizes(u["children"], into)
    return into


async def test_each_reader_sees_the_roster_sizes_of_its_own_units_only(fed, bare_client, token_issuer):
    # failed before: the teacher, the principal and the area manager each read south's group of 3 (and su-b's 30)
    def bearer(role: str, **claims) -> dict:
        return {"Authorization": "Bearer " + token_issuer.mint(roles=[role], organisers=[ORG], **claims)}

    expected = {
        "teacher": (bearer("teacher", groups=["11111111/7A"]), {("group", "11111111"): 21}),
        "principal": (bearer("principal", school_units=["11111111"]),
                      {("school_unit", "11111111"): 40, ("group", "11111111"): 21}),
        "area_manager": (bearer("area_manager", areas=["north"]),
                         {("school_unit", "11111111"): 40, ("group", "11111111"): 21}),
        "organiser_admin": (bearer("organiser_admin"), {("school_unit", "11111111"): 40, ("group", "11111111"): 21,
                                                        ("school_unit", "22222222"): 30, ("group", "22222222"): 3}),
    }
    for role, (headers, shown) in expected.items():
        tree = await bare_client.get(f"/v1/directory/organisers/{ORG}/tree", headers=headers)
        assert tree.status_code == 200, tree.text
        sizes = _sizes(tree.json())
        assert {k: v for k, v in sizes.items() if v is not None} == shown, role
        assert set(sizes) == {("school_unit", "11111111"), ("school_unit", "22222222"), ("group", "11111111"),
                              ("group", "22222222")}, role  # every unit is still named: only its size is not shown
        one = await bare_client.get("/v1/directory/units/su-b", params={"organiser_id": ORG}, headers=headers)
        assert one.status_code == 200, one.text
        assert one.json()["roster_size"] == shown.get(("school_unit", "22222222")), role
        assert [c["roster_size"] for c in one.json()["children"]] == [shown.get(("group", "22222222"))], role

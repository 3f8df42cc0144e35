"""A reader's kept answers are found by the class its routes decide alike (hostile round 23a).

The answer cache learns a reader's class once per family of reads (`/v1/directory/`: the tree, one unit, the roster
sizes) and looks every read of that family up by it. Found and fixed: the tree and one unit decided the class from
the token alone, the roster sizes from the token completed from the directory (a teacher's groups from its teaching
assignments). A teacher whose token names no group read the tree (as the dashboard does for names on every page),
then the roster sizes: it was answered from memory with the sizes kept for another teacher of no group at all
(`[]`), never its own groups'. Now every read of the family decides the class from the completed reader."""

from __future__ import annotations

import pytest

from styrkedja_kit.db import Database

from .test_compliance import DIRECTORY, ORG
from .test_directory import Feeder

pytestmark = [pytest.mark.integration, pytest.mark.postgres_only]


@pytest.fixture
async def fed(settings):
    database = Database(settings.database_url)
    await Feeder(database)(DIRECTORY)  # t-anna teaches 7A of 11111111 (4 students); t-nobody teaches nothing
    yield database
    await database.dispose()


async def test_a_teacher_reads_its_own_groups_sizes_after_the_tree(fed, bare_client, token_issuer):
    # failed before: t-anna's roster sizes were the `[]` kept for t-nobody
    def bearer(subject: str) -> dict:
        return {"Authorization": "Bearer " + token_issuer.mint(roles=["teacher"], organisers=[ORG], subject=subject)}

    anna, nobody = bearer("t-anna"), bearer("t-nobody")
    sizes = {"level": "group", "organiser_id": ORG}
    assert (await bare_client.get(f"/v1/directory/organisers/{ORG}/tree", headers=anna)).status_code == 200
    assert (await bare_client.get("/v1/directory/units/su-a", params={"organiser_id": ORG},
                                  headers=nobody)).status_code == 200
    assert (await bare_client.get("/v1/directory/roster-sizes", params=sizes, headers=nobody)).json() == []
    own = await bare_client.get("/v1/directory/roster-sizes", params=sizes, headers=anna)
    assert own.status_code == 200
    assert [(r["unit_id"], r["students"]) for r in own.json()] == [("11111111/7A", 4)]
    # and the other way round: what anna was answered is never nobody's
    assert (await bare_client.get("/v1/directory/roster-sizes", params=sizes, headers=nobody)).json() == []

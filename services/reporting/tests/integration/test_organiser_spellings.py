"""One organiser, one id: an organisation number spelled `2120001234`, `212000-1234` or `162120001234` — in
events already on the topics, in new events, in the directory, in a token's claim and in a query — is one
organiser, with one set of aggregates. Failed on the old code: ids were kept as given, so the three events
below made three organiser cells, and a token for one spelling was refused on the others' data."""

from __future__ import annotations

import json
from uuid import uuid5

import pytest

from styrkedja_contracts import decode_event
from styrkedja_kit.db import Database

from .test_directory import NS, Feeder, published, unit

pytestmark = [pytest.mark.integration, pytest.mark.postgres_only]

CANONICAL = "212000-1234"


def stored_as(event, spelling: str):
    """The event as a producer that kept ids as given wrote it to the topic, read back (a live consumer, a
    rebuild): its data's organiser id in `spelling`, wherever the canonical one stood."""
    doc = json.loads(event.to_bytes())
    doc["data"] = {k: (spelling if v == CANONICAL else v) for k, v in doc["data"].items()}
    return decode_event(json.dumps(doc).encode())


@pytest.fixture
async def fed(settings):
    database = Database(settings.database_url)
    feed = Feeder(database)
    await feed([
        stored_as(unit("organiser", CANONICAL, CANONICAL, None), "2120001234"),
        stored_as(unit("school_unit", "su-x", CANONICAL, "2120001234", code="44444444"), "2120001234"),
        unit("group", "7A", "2120001234", "su-x", code="44444444", year=7),
        stored_as(published(uuid5(NS, "spelt-1"), 1, "A", CANONICAL, "44444444", "7A", "s-1"), "2120001234"),
        published(uuid5(NS, "spelt-2"), 1, "C", "212000-1234", "44444444", "7A", "s-2"),
        published(uuid5(NS, "spelt-3"), 1, "F", "2120001234", "44444444", "7A", "s-3"),  # a producer of its own
    ])
    yield
    await database.dispose()


@pytest.mark.parametrize("claimed", ["2120001234", "162120001234"])
async def test_every_spelling_lands_in_one_aggregate_and_one_token_reads_it_by_any_spelling(
        bare_client, token_issuer, fed, claimed):
    token = token_issuer.mint(roles=["organiser_admin"], organisers=[claimed], subject="admin")
    headers = {"Authorization": f"Bearer {token}"}
    for asked in ("2120001234", "212000-1234", "162120001234", "16212000-1234"):
        response = await bare_client.get("/v1/results/assessments", headers=headers,
                                         params={"level": "organiser", "organiser_id": asked})
        assert response.status_code == 200, (asked, response.text)
        cells = response.json()
        assert [(c["organiser_id"], c["unit_id"], c["assessed"]) for c in cells] == [(CANONICAL, CANONICAL, 3)]
        assert cells[0]["distribution"] == {"A": 1, "C": 1, "F": 1}
    nation = (await bare_client.get("/v1/results/assessments", headers=headers, params={"level": "nation"})).json()
    assert sum(c["assessed"] for c in nation) == 3
    tree = await bare_client.get("/v1/directory/organisers/16212000-1234/tree", headers=headers)
    assert tree.status_code == 200, tree.text
    # one tree: the organiser, its school unit, its group (a unit id that spells the organiser is kept in the
    # organiser's spelling too: `directory.rules.organiser_spelt`)
    [root] = tree.json()
    assert [(u["unit_id"], [g["unit_id"] for g in u["children"]]) for u in root["children"]] == [("su-x", ["7A"])]

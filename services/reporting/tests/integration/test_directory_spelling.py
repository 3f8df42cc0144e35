"""Round 26 (dir26): the organiser's own unit named in two spellings at the directory's door (reporting's
`POST /v1/directory/changes`) — against a real PostgreSQL.

Round 13 made the handler keep the organiser's unit (and a parent naming it) in the organiser's kept spelling
(`rules.organiser_spelt`): `2120001234` and `212000-1234` are one unit. The write path did not: it keyed what it
published by the id as sent, so the two spellings were two entities (`created` twice, two events), `/held` listed
both, and a full import that removed the one it no longer sent (its source now spelling the id the other way)
removed the organiser's root from the tree while `/held` still listed it. Failed on the old code. Now the door keys
and publishes the kept spelling, as the handler applies it: the second spelling is the same entity, unchanged."""

from __future__ import annotations

import importlib

import pytest
from sqlalchemy import text

#: reporting 0035: the fix-up `writes._respell` did on every write (until round 32), done once by the upgrade
keep_unit_spelling = importlib.import_module(
    "styrkedja_reporting.migrations.versions.0035_directory_published_unit_kept_spelling").keep_unit_spelling

pytestmark = [pytest.mark.integration, pytest.mark.postgres_only]

ORG = "212000-1234"
UNIT = "se.styrkedja.organisation.unit_upserted.v1"


def root(unit_id: str) -> dict:
    return {"items": [{"type": UNIT, "source_id": "org-root", "data": {
        "unit_type": "organiser", "unit_id": unit_id, "organiser_id": ORG, "parent_id": None,
        "name": "Kommunen", "updated_at": "2026-09-01T08:00:00+00:00"}}, {"type": UNIT, "data": {
        "unit_type": "area", "unit_id": "norr", "organiser_id": ORG, "parent_id": unit_id,
        "name": "Norr", "updated_at": "2026-09-01T08:00:00+00:00"}}]}


async def test_the_organisers_unit_in_two_spellings_is_one_entity_at_the_door(bare_client, token_issuer) -> None:
    token = token_issuer.mint(roles=["organiser_admin", "platform"], organisers=[ORG], subject="s", client_id="c")
    headers = {"Authorization": f"Bearer {token}"}
    first = await bare_client.post("/v1/directory/changes", json=root("2120001234"), headers=headers)
    assert first.status_code == 200 and first.json()["created"] == 2, first.text
    assert [i["entity_key"] for i in first.json()["items"]] == ["unit:organiser::212000-1234", "unit:area::norr"]
    again = await bare_client.post("/v1/directory/changes", json=root("16212000-1234"), headers=headers)
    assert again.status_code == 200 and again.json()["unchanged"] == 2, again.text
    held = await bare_client.get("/v1/directory/held", params={"organiser_id": ORG}, headers=headers)
    assert [i["entity_key"] for i in held.json()["items"]] == ["unit:area::norr", "unit:organiser::212000-1234"]


async def published_in_the_old_spelling(bare_client, database, token_issuer) -> dict[str, str]:
    """The organiser's unit published as sent (2120001234) before the door kept the spelling (212000-1234), then
    the upgrade (0035) over it: the client's headers."""
    token = token_issuer.mint(roles=["organiser_admin", "platform"], organisers=[ORG], subject="s", client_id="c")
    headers = {"Authorization": f"Bearer {token}"}
    first = await bare_client.post("/v1/directory/changes", json=root("2120001234"), headers=headers)
    assert first.status_code == 200, first.text
    async with database.sessions.begin() as session:  # as the old door kept it
        await session.execute(text("UPDATE directory_published SET entity_key = 'unit:organiser::2120001234' "
                                   "WHERE entity_key = 'unit:organiser::212000-1234'"))
    async with database.sessions.begin() as session:
        assert await session.run_sync(lambda sync: keep_unit_spelling(sync.connection())) == (0, 1)
    return headers


async def test_a_unit_published_in_another_spelling_before_is_held_once_when_sent_again(bare_client, database,
                                                                                         token_issuer) -> None:
    """A directory published before the door kept the spelling held the key as it was sent; after the upgrade the
    next import that sends the unit again holds it under its kept key alone, unchanged (else `/held` listed the old
    key, the import removed it as vanished, and that removal named the organiser's unit: the root gone from the tree
    it had just sent)."""
    headers = await published_in_the_old_spelling(bare_client, database, token_issuer)
    again = await bare_client.post("/v1/directory/changes", json=root("2120001234"), headers=headers)
    assert again.status_code == 200 and again.json()["unchanged"] == 2, again.text
    held = await bare_client.get("/v1/directory/held", params={"organiser_id": ORG}, headers=headers)
    assert [i["entity_key"] for i in held.json()["items"]] == ["unit:area::norr", "unit:organiser::212000-1234"]


async def test_a_unit_published_in_another_spelling_before_is_removed_by_the_key_held(bare_client, database,
                                                                                        token_issuer) -> None:
    """After the upgrade `/held` lists the unit under its kept key, and that key named in a removal — the full
    import's, the unit no longer in its source — removes the unit."""
    headers = await published_in_the_old_spelling(bare_client, database, token_issuer)
    held = await bare_client.get("/v1/directory/held", params={"organiser_id": ORG}, headers=headers)
    assert [i["entity_key"] for i in held.json()["items"]] == ["unit:area::norr", "unit:organiser::212000-1234"]
    removed = await bare_client.post("/v1/directory/removals", headers=headers, json={
        "entities": [{"organiser_id": ORG, "entity_key": "unit:organiser::212000-1234"}],
        "removed_at": "2026-09-02T08:00:00+00:00"})
    assert removed.status_code == 200 and removed.json()["removed"] == 1, removed.text
    held = await bare_client.get("/v1/directory/held", params={"organiser_id": ORG}, headers=headers)
    assert [i["entity_key"] for i in held.json()["items"]] == ["unit:area::norr"]


async def test_a_removal_naming_the_key_listed_before_the_upgrade_removes_the_unit(bare_client, database,
                                                                                 token_issuer) -> None:
    """Failed before: a client that listed `/held` before migration 0035 names the organiser's unit by its old key
    (`unit:organiser::2120001234`); the directory holds it under the kept one now, and the removal removed 0."""
    headers = await published_in_the_old_spelling(bare_client, database, token_issuer)
    removed = await bare_client.post("/v1/directory/removals", headers=headers, json={
        "entities": [{"organiser_id": ORG, "entity_key": "unit:organiser::2120001234"}],
        "removed_at": "2026-09-02T08:00:00+00:00"})
    assert removed.status_code == 200 and removed.json()["removed"] == 1, removed.text
    held = await bare_client.get("/v1/directory/held", params={"organiser_id": ORG}, headers=headers)
    assert [i["entity_key"] for i in held.json()["items"]] == ["unit:area::norr"]

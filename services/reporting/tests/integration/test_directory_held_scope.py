"""`GET /v1/directory/held` lists a platform client the directory entities it sent, the organiser admin all of its
organiser's (`directory.rules.held_by`), over HTTP against a real PostgreSQL: two platform clients of one organiser,
an entity written before writers were recorded (0026), an entity sent again by another client, a token of both roles, another organiser's."""

from __future__ import annotations

import pytest
from sqlalchemy import text

from styrkedja_contracts import OrganisationUnitUpsertedV1

pytestmark = [pytest.mark.integration, pytest.mark.postgres_only]

ORG = "2999"
AT = "2026-09-01T08:00:00+00:00"


def groups(*names: str, label: str = "") -> dict:
    return {"items": [{"type": OrganisationUnitUpsertedV1.event_type, "source_id": f"src-{name}", "data": {
        "unit_type": "group", "unit_id": f"held-{name}", "organiser_id": ORG, "parent_id": "29990011",
        "name": f"Grupp {name}{label}", "school_unit_code": "29990011", "year": 7, "updated_at": AT}} for name in names]}


def key(name: str) -> str:
    return f"unit:group:29990011:held-{name}"


async def held(client, token: str) -> dict[str, str]:
    answer = await client.get("/v1/directory/held", params={"organiser_id": ORG},
                              headers={"Authorization": f"Bearer {token}"})
    assert answer.status_code == 200, answer.text
    body = answer.json()
    return {item["entity_key"]: source for item, source in zip(body["items"], body["source_ids"], strict=True)}


async def test_a_platform_lists_what_it_wrote_the_organiser_admin_everything(bare_client, database,
                                                                             token_issuer) -> None:
    """Failed on the old code: platform A was listed platform B's keys and source ids (and its full import would
    have removed them as vanished from its source); the organiser admin was refused (403)."""
    a, b = (token_issuer.mint(roles=["platform"], organisers=[ORG], subject=f"svc-{n}", client_id=f"platform-{n}")
            for n in ("a", "b"))
    admin = token_issuer.mint(roles=["organiser_admin"], organisers=[ORG], subject="admin-1")
    both = token_issuer.mint(roles=["platform", "organiser_admin"], organisers=[ORG], client_id="platform-c")
    for token, names in ((a, ("a1", "a2")), (b, ("b1",))):
        made = await bare_client.post("/v1/directory/changes", json=groups(*names),
                                      headers={"Authorization": f"Bearer {token}"})
        assert made.status_code == 200 and made.json()["created"] == len(names), made.text
    # an entity published before writers were recorded (0026): no writer
    made = await bare_client.post("/v1/directory/changes", json=groups("old"),
                                  headers={"Authorization": f"Bearer {b}"})
    assert made.status_code == 200, made.text
    async with database.sessions.begin() as session:
        await session.execute(text("UPDATE directory_published SET written_by = NULL WHERE entity_key = :k"),
                              {"k": key("old")})

    assert await held(bare_client, a) == {key("a1"): "src-a1", key("a2"): "src-a2"}
    assert await held(bare_client, b) == {key("b1"): "src-b1"}
    everything = {key(n): f"src-{n}" for n in ("a1", "a2", "b1", "old")}
    assert await held(bare_client, admin) == everything
    assert await held(bare_client, both) == everything  # the union of its roles' lists
    elsewhere = token_issuer.mint(roles=["organiser_admin", "platform"], organisers=["3001"], client_id="platform-a")
    refused = await bare_client.get("/v1/directory/held", params={"organiser_id": ORG},
                                    headers={"Authorization": f"Bearer {elsewhere}"})
    assert refused.status_code == 403 and refused.json()["errors"][0]["field"] == "organiser_id", refused.text

    # the same content sent again by another client (an import re-run under its own client): that client holds it
    # now, and so it does an entity without a writer
    again = await bare_client.post("/v1/directory/changes", json=groups("a2", "old"),
                                   headers={"Authorization": f"Bearer {b}"})
    assert again.json()["unchanged"] == 2, again.text
    assert await held(bare_client, a) == {key("a1"): "src-a1"}
    assert await held(bare_client, b) == {key("a2"): "src-a2", key("b1"): "src-b1", key("old"): "src-old"}
    # changed by A: A holds it again
    changed = await bare_client.post("/v1/directory/changes", json=groups("a2", label=" (ny)"),
                                     headers={"Authorization": f"Bearer {a}"})
    assert changed.json()["changed"] == 1, changed.text
    assert await held(bare_client, a) == {key("a1"): "src-a1", key("a2"): "src-a2"}


async def remove(client, token: str, body: dict) -> dict:
    answer = await client.post("/v1/directory/removals", json={**body, "removed_at": "2026-09-02T08:00:00+00:00"},
                               headers={"Authorization": f"Bearer {token}"})
    assert answer.status_code == 200, answer.text
    summary: dict = answer.json()
    return summary


async def test_a_platform_removes_what_it_wrote_the_organiser_admin_anything(bare_client, database,
                                                                             token_issuer) -> None:
    """Failed on the old code: platform B removed by source id (and by key) the entities platform A wrote in the same
    organiser, and one written before writers were recorded; the organiser admin was refused (403). Now removals
    reach what `/held` lists (`rules.removed_by`): B's own, the admin's all, the unrecorded one the admin's alone."""
    a, b = (token_issuer.mint(roles=["platform"], organisers=[ORG], subject=f"svc-{n}", client_id=f"platform-{n}")
            for n in ("a", "b"))
    admin = token_issuer.mint(roles=["organiser_admin"], organisers=[ORG], subject="admin-1")
    for token, names in ((a, ("a1", "a2", "a3")), (b, ("b1", "old"))):
        made = await bare_client.post("/v1/directory/changes", json=groups(*names),
                                      headers={"Authorization": f"Bearer {token}"})
        assert made.status_code == 200 and made.json()["created"] == len(names), made.text
    async with database.sessions.begin() as session:  # published before writers were recorded (0026)
        await session.execute(text("UPDATE directory_published SET written_by = NULL WHERE entity_key = :k"),
                              {"k": key("old")})

    # B names A's entities (by source id and by key) and the unrecorded one: only its own is removed
    gone = await remove(bare_client, b, {"source_ids": ["src-a1", "src-old", "src-b1"],
                                         "entities": [{"organiser_id": ORG, "entity_key": key("a2")}]})
    assert (gone["removed"], [i["entity_key"] for i in gone["items"]]) == (1, [key("b1")]), gone
    assert await held(bare_client, a) == {key(n): f"src-{n}" for n in ("a1", "a2", "a3")}
    # A removes its own; the admin anything of its organiser, the unrecorded one too
    gone = await remove(bare_client, a, {"source_ids": ["src-a1"]})
    assert gone["removed"] == 1, gone
    gone = await remove(bare_client, admin, {"source_ids": ["src-old", "src-a2"]})
    assert gone["removed"] == 2, gone
    assert await held(bare_client, admin) == {key("a3"): "src-a3"}
    # a key of an organiser outside the token's reach: 403 naming it, nothing removed
    refused = await bare_client.post("/v1/directory/removals", json={
        "entities": [{"organiser_id": ORG, "entity_key": key("a3")}, {"organiser_id": "3001", "entity_key": "x:y"}],
        "removed_at": AT}, headers={"Authorization": f"Bearer {admin}"})
    assert refused.status_code == 403 and refused.json()["errors"][0]["field"] == "entities.1.organiser_id", \
        refused.text
    assert await held(bare_client, admin) == {key("a3"): "src-a3"}


async def test_a_platform_removal_says_how_many_it_named_have_no_recorded_writer(bare_client, database,
                                                                                   token_issuer) -> None:
    """Failed on the old code: a platform's removal by source id of entities written before writers were recorded
    (0026) removed none of them and said nothing (`removed: 0`, as if reporting held none: an incremental import's
    /deletedEntities then left them for good, unsaid). Now the answer counts them (`unrecorded_writer`), naming none;
    another client's entities are not counted (not this client's business); the admin's removal has none left."""
    a, b = (token_issuer.mint(roles=["platform"], organisers=[ORG], subject=f"svc-{n}", client_id=f"platform-{n}")
            for n in ("a", "b"))
    admin = token_issuer.mint(roles=["organiser_admin"], organisers=[ORG], subject="admin-1")
    for token, names in ((a, ("a1",)), (b, ("b1", "old1", "old2", "old3"))):
        made = await bare_client.post("/v1/directory/changes", json=groups(*names),
                                      headers={"Authorization": f"Bearer {token}"})
        assert made.status_code == 200, made.text
    async with database.sessions.begin() as session:  # published before writers were recorded (0026)
        await session.execute(text("UPDATE directory_published SET written_by = NULL WHERE entity_key = ANY(:k)"),
                              {"k": [key("old1"), key("old2"), key("old3")]})
    gone = await remove(bare_client, b, {"source_ids": ["src-a1", "src-b1", "src-old1", "src-old2"]})
    assert (gone["removed"], gone["unrecorded_writer"]) == (1, 2), gone
    nothing = await remove(bare_client, b, {"source_ids": ["src-old3"]})
    assert (nothing["removed"], nothing["unrecorded_writer"], nothing["items"]) == (0, 1, []), nothing
    gone = await remove(bare_client, admin, {"source_ids": ["src-old1", "src-old2", "src-old3"]})
    assert (gone["removed"], gone["unrecorded_writer"]) == (3, 0), gone


async def test_a_removal_under_the_admin_role_is_not_the_platform_tokens_replayed(bare_client, token_issuer) -> None:
    """Failed on the old code: keys were per client and organisers alone, so the organiser admin's token of a client
    sending the body its platform token had sent with the same key got the platform's outcome replayed (nothing
    removed: the entity is another client's) although its removal reaches every entity (`idempotency.client_of`)."""
    a = token_issuer.mint(roles=["platform"], organisers=[ORG], subject="svc-a", client_id="platform-a")
    b = token_issuer.mint(roles=["platform"], organisers=[ORG], subject="svc-b", client_id="platform-b")
    b_admin = token_issuer.mint(roles=["platform", "organiser_admin"], organisers=[ORG], subject="svc-b",
                                client_id="platform-b")
    made = await bare_client.post("/v1/directory/changes", json=groups("k1"), headers={"Authorization": f"Bearer {a}"})
    assert made.status_code == 200 and made.json()["created"] == 1, made.text
    body = {"source_ids": ["src-k1"], "removed_at": AT}
    outcomes = []
    for token in (b, b_admin):
        answer = await bare_client.post("/v1/directory/removals", json=body, headers={
            "Authorization": f"Bearer {token}", "Idempotency-Key": "removal-1"})
        assert answer.status_code == 200, answer.text
        outcomes.append((answer.json()["removed"], answer.headers.get("idempotent-replayed")))
    assert outcomes == [(0, None), (1, None)], outcomes

"""`Idempotency-Key` on the directory writes, over HTTP against a real PostgreSQL: the same key and body again get the
first attempt's outcome and apply nothing; the same key with another body is refused naming the header and the rule;
a malformed key is refused; keys are the client's own; a refused write leaves no key behind; a retry while its
first attempt is still processed is a 409 (as the IETF draft answers each)."""

from __future__ import annotations

import asyncio
import json

import pytest
from sqlalchemy import text

from styrkedja_contracts import OrganisationUnitUpsertedV1

pytestmark = [pytest.mark.integration, pytest.mark.postgres_only]

ORG = "2999"
AT = "2026-09-01T08:00:00+00:00"


def groups(*names: str, organiser: str = ORG) -> dict:
    return {"items": [{"type": OrganisationUnitUpsertedV1.event_type, "data": {
        "unit_type": "group", "unit_id": f"idem-{name}", "organiser_id": organiser, "parent_id": "29990011",
        "name": f"Grupp {name}", "school_unit_code": "29990011", "year": 7, "updated_at": AT}} for name in names]}


async def outbox_rows(database) -> int:
    async with database.sessions() as session:
        return (await session.execute(text("SELECT count(*) FROM outbox"))).scalar_one()


async def test_the_same_key_and_body_again_answers_the_first_outcome_and_applies_nothing(client, database) -> None:
    """Without the key the second attempt was applied again (answered `unchanged`): a client retrying after a lost
    answer could not tell what its first attempt did, and a retried removal was another removal pass."""
    body = groups("a", "b")
    # refused (another organiser's: 403), nothing is kept under its key: the key then names the request applied
    refused = await client.post("/v1/directory/changes", json=groups("a", organiser="1480"),
                                headers={"Idempotency-Key": "chunk-1"})
    assert refused.status_code == 403, refused.text
    first = await client.post("/v1/directory/changes", json=body, headers={"Idempotency-Key": "chunk-1"})
    assert first.status_code == 200, first.text
    assert (first.json()["created"], "idempotent-replayed" in first.headers) == (2, False)
    events = await outbox_rows(database)
    again = await client.post("/v1/directory/changes", json=body, headers={"Idempotency-Key": "chunk-1"})
    assert again.status_code == 200, again.text
    assert again.json() == first.json() and again.headers["idempotent-replayed"] == "true"
    assert await outbox_rows(database) == events
    # spelled otherwise on the wire (key order, blanks), it is the same request
    respelled = json.dumps({"items": [{"data": dict(reversed(item["data"].items())), "type": item["type"]}
                                      for item in body["items"]]}, indent=2)
    same = await client.post("/v1/directory/changes", content=respelled,
                             headers={"Idempotency-Key": "chunk-1", "Content-Type": "application/json"})
    assert same.status_code == 200 and same.json() == first.json(), same.text
    # without a key it is compared with what was published, as ever
    plain = await client.post("/v1/directory/changes", json=body)
    assert plain.json()["unchanged"] == 2


async def test_the_same_key_with_another_body_is_refused_naming_the_header_and_the_rule(client, database,
                                                                                        token_issuer) -> None:
    assert (await client.post("/v1/directory/changes", json=groups("c"),
                              headers={"Idempotency-Key": "chunk-2"})).status_code == 200
    events = await outbox_rows(database)
    other = await client.post("/v1/directory/changes", json=groups("d"), headers={"Idempotency-Key": "chunk-2"})
    assert other.status_code == 422, other.text
    problem = other.json()
    assert problem["errors"][0]["field"] == "Idempotency-Key"
    assert problem["errors"][0]["rule"] == "idempotency_key_reused"
    assert "already used with another request" in problem["detail"]
    assert await outbox_rows(database) == events  # nothing of it applied
    # a removal is another request too, under one key of one client
    removal = await client.post("/v1/directory/removals", headers={"Idempotency-Key": "chunk-2"}, json={
        "entities": [{"organiser_id": ORG, "entity_key": "unit:group:29990011:idem-c"}], "removed_at": AT})
    assert removal.status_code == 422 and removal.json()["errors"][0]["field"] == "Idempotency-Key"
    # the key is this client's: another client's request under it is its own
    other = token_issuer.mint(roles=["platform"], organisers=[ORG], subject="other", client_id="other-platform")
    answer = await client.post("/v1/directory/changes", json=groups("d"),
                               headers={"Idempotency-Key": "chunk-2", "Authorization": f"Bearer {other}"})
    assert answer.status_code == 200 and answer.json()["created"] == 1, answer.text


@pytest.mark.parametrize("key", ["", " ", "a b", "å".encode(), "x" * 201, "tab\there"])
async def test_a_malformed_key_is_refused_naming_the_header(client, database, key) -> None:
    events = await outbox_rows(database)
    answer = await client.post("/v1/directory/changes", json=groups("e"), headers={"Idempotency-Key": key})
    assert answer.status_code == 422, answer.text
    assert answer.json()["errors"][0] == {"field": "Idempotency-Key", "rule": "idempotency_key_invalid",
                                          "message": answer.json()["errors"][0]["message"]}
    assert await outbox_rows(database) == events


async def test_a_removal_sent_again_with_its_key_answers_what_it_removed(client, database) -> None:
    assert (await client.post("/v1/directory/changes", json=groups("f"))).json()["created"] == 1
    removal = {"entities": [{"organiser_id": ORG, "entity_key": "unit:group:29990011:idem-f"}], "removed_at": AT}
    first = await client.post("/v1/directory/removals", json=removal, headers={"Idempotency-Key": "rm-1"})
    assert first.json()["removed"] == 1, first.text
    again = await client.post("/v1/directory/removals", json=removal, headers={"Idempotency-Key": "rm-1"})
    assert again.json() == first.json() and again.headers["idempotent-replayed"] == "true"


async def test_a_retry_while_its_first_attempt_is_still_processed_is_a_409_naming_the_header(client, database,
                                                                                            monkeypatch) -> None:
    """Failed on the old code: a retry racing its first attempt waited for it (holding a connection meanwhile) and was
    answered 200; the IETF draft answers a request whose key is "still being processed" with a 409. The first
    attempt is held inside its transaction (its key claimed) while the retry is sent: a 409 naming the header and
    the rule, `Retry-After`, nothing applied; once the first is done, the retry gets its outcome."""
    from styrkedja_reporting.directory import routes

    inside, release = asyncio.Event(), asyncio.Event()
    write_changes = routes.write_changes

    async def held(*args, **kwargs):
        inside.set()
        await release.wait()
        return await write_changes(*args, **kwargs)

    monkeypatch.setattr(routes, "write_changes", held)
    events = await outbox_rows(database)
    body = groups("j", "k", "l")
    first = asyncio.create_task(client.post("/v1/directory/changes", json=body, headers={"Idempotency-Key": "race"}))
    await asyncio.wait_for(inside.wait(), 30)
    monkeypatch.setattr(routes, "write_changes", write_changes)
    retry = await client.post("/v1/directory/changes", json=body, headers={"Idempotency-Key": "race"})
    assert retry.status_code == 409, retry.text
    assert retry.json()["errors"] == [{"field": "Idempotency-Key", "rule": "idempotency_key_in_progress",
                                       "message": retry.json()["errors"][0]["message"]}]
    assert retry.headers["retry-after"] == "1"
    release.set()
    done = await first
    assert done.status_code == 200 and done.json()["created"] == 3, done.text
    again = await client.post("/v1/directory/changes", json=body, headers={"Idempotency-Key": "race"})
    assert again.json() == done.json() and again.headers["idempotent-replayed"] == "true"
    assert await outbox_rows(database) == events + 3


async def test_one_key_and_body_under_two_organisers_scopes_are_two_requests(client, database, token_issuer) -> None:
    """Failed on the old code: the second organiser's removal by source id was answered with the first's outcome
    (`Idempotent-Replayed: true`, `removed: 1`: the first organiser's group) and never applied — keys were the client's alone, while a removal by
    source ids acts within the token's organisers (a platform writing for two with one client id, its key a SHA-256
    of the body as docs/platforms.md suggests)."""
    def token(organiser: str) -> str:
        return token_issuer.mint(roles=["platform"], organisers=[organiser], subject="one-platform",
                                 client_id="one-platform")

    for organiser in (ORG, "1480"):  # one group each, from a source id the two sources share
        body = groups("shared", organiser=organiser)
        body["items"][0]["source_id"] = "shared-source-1"
        made = await client.post("/v1/directory/changes", json=body,
                                 headers={"Authorization": f"Bearer {token(organiser)}"})
        assert made.status_code == 200 and made.json()["created"] == 1, made.text
    removal = {"source_ids": ["shared-source-1"], "removed_at": AT}
    for organiser in (ORG, "1480"):
        answer = await client.post("/v1/directory/removals", json=removal, headers={
            "Authorization": f"Bearer {token(organiser)}", "Idempotency-Key": "sha256-of-the-body"})
        assert answer.status_code == 200 and "idempotent-replayed" not in answer.headers, (organiser, answer.text)
        assert answer.json()["removed"] == 1, (organiser, answer.text)


async def test_two_clients_whose_long_ids_differ_only_at_their_end_have_keys_of_their_own(client, database,
                                                                                         token_issuer) -> None:
    """Failed on the old code: the writer in a key's client was cut to its first 183 characters (the column holds
    200), so two platform clients whose ids (a token's holds up to 255) differ after them shared their keys — the
    second's write answered with the first's outcome (`Idempotent-Replayed: true`) and never applied. Now the whole
    client (the kit's `idempotency.client_of`) is hashed into it."""
    stem = "platform-" + "x" * 230

    def token(end: str) -> str:
        return token_issuer.mint(roles=["platform"], organisers=[ORG], subject=stem + end, client_id=stem + end)

    body = groups("long-ids")
    first = await client.post("/v1/directory/changes", json=body,
                              headers={"Authorization": f"Bearer {token('-a')}", "Idempotency-Key": "long-1"})
    assert first.status_code == 200 and first.json()["created"] == 1, first.text
    second = await client.post("/v1/directory/changes", json=body,
                               headers={"Authorization": f"Bearer {token('-b')}", "Idempotency-Key": "long-1"})
    assert second.status_code == 200 and "idempotent-replayed" not in second.headers, second.text
    async with database.sessions() as session:
        clients = (await session.execute(text(
            "SELECT client FROM directory_idempotency_keys WHERE idempotency_key = 'long-1'"))).scalars().all()
    assert len(set(clients)) == 2 and all(len(c) <= 200 for c in clients), clients

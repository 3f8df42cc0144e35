"""The write path's first try trusts what cannot be stored yet (`WritePath.publish`): ids the service
made for this request are not looked up, and the natural key is left to its unique index; the
retry after a unique violation looks everything up, so the answers are those of a full check."""

from __future__ import annotations

import uuid

import pytest

from styrkedja_assessment.assessments import service as service_module
from styrkedja_devstack import testing
from styrkedja_devstack.testing import problem_fields
from styrkedja_kit import writes
from styrkedja_kit.writes import WritePath

pytestmark = [pytest.mark.integration, pytest.mark.postgres_only]




@pytest.fixture
def looked_up(monkeypatch) -> dict[str, list]:
    """What the write path looks up: the ids it locks and the natural keys it checks, per call."""
    seen: dict[str, list] = {"ids": [], "keys": []}
    lock, owners = WritePath._lock, service_module.owners_of_natural_keys

    async def counting_lock(self, session, ids):
        seen["ids"].append(list(ids))
        return await lock(self, session, ids)

    async def counting_owners(session, keys):
        seen["keys"].append(list(keys))
        return await owners(session, keys)

    monkeypatch.setattr(WritePath, "_lock", counting_lock)
    monkeypatch.setattr(service_module, "owners_of_natural_keys", counting_owners)
    return seen


async def test_new_assessments_are_stored_without_looking_anything_up(client, looked_up, assessment, scalar):
    items = [assessment(f"s-{n}") for n in range(5)]
    response = await client.post("/v1/assessments/batch", json={"items": items})
    assert response.status_code == 201, response.text
    assert looked_up == {"ids": [[]], "keys": []}
    # a revision names its id: that one is looked up (and locked), the new one is not
    revised = {**items[0], "assessment_id": response.json()["items"][0]["assessment_id"], "value": "A"}
    response = await client.post("/v1/assessments/batch", json={"items": [revised, assessment("s-new")]})
    assert response.status_code == 201, response.text
    assert looked_up["ids"][-1] == [uuid.UUID(revised["assessment_id"])] and looked_up["keys"] == []
    assert await scalar("SELECT count(*) FROM assessments") == 6


async def test_a_taken_natural_key_is_found_on_the_retry_and_named(client, db, looked_up, assessment,
                                                                  scalar):
    await client.post("/v1/assessments", json=assessment("s-1"))
    response = await client.post("/v1/assessments/batch", json={"items": [assessment("s-2"), assessment("s-1")]})
    assert response.status_code == 409, response.text
    assert problem_fields(response) == [("items.1", "one_result_per_key")]
    assert len(looked_up["keys"]) == 1  # the first try left it to the unique index; the retry checked
    assert await scalar("SELECT count(*) FROM assessments") == 1
    assert len(await testing.outbox_events(db, "styrkedja.assessments")) == 1


async def test_another_refusal_still_names_a_taken_key(client, db, looked_up, assessment):
    stored = (await client.post("/v1/assessments", json=assessment("s-1", revision=4))).json()
    await client.post("/v1/assessments", json=assessment("s-2"))
    items = [assessment("s-1", assessment_id=stored["assessment_id"], revision=2, value="A"), assessment("s-2")]
    response = await client.post("/v1/assessments/batch", json={"items": items})
    assert response.status_code == 409, response.text
    assert problem_fields(response) == [("items.1", "one_result_per_key"), ("items.0.revision",
                                                                             "revision_must_increase")]
    assert looked_up["keys"]  # checked before answering, on the first try (nothing was written)


async def test_a_made_id_that_is_stored_already_is_found_on_the_retry(client, db, monkeypatch, assessment):
    """Two random ids alike cannot be told from a stored row by the first try: its insert fails on
    the primary key and the retry looks the id up like any other (here: the same assessment again)."""
    first = await client.post("/v1/assessments", json=assessment("s-1"))
    stored = uuid.UUID(first.json()["assessment_id"])
    monkeypatch.setattr(writes, "random_uuids", lambda count: [stored] * count)
    again = await client.post("/v1/assessments/batch", json={"items": [assessment("s-1")]})
    assert again.status_code == 200, again.text
    assert again.json()["items"] == [{"assessment_id": str(stored), "revision": 1, "retracted": False,
                                      "status": "unchanged"}]
    assert len(await testing.outbox_events(db, "styrkedja.assessments")) == 1

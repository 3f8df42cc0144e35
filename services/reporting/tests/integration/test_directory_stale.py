"""Round 26 (dir26): a change older than the one the directory holds, at its door (reporting's
`POST /v1/directory/changes` and `/removals`) — against a real PostgreSQL.

The directory applies the newest change of an entity (`updated_at`, a removal's `removed_at`): an older one changes
nothing. The door compared content alone, so it answered an older change `changed` (a removal `removed`) and
published its event, which the directory then ignored — the door and the directory disagreed: a retried old batch
was said to be in force, and a removal dated before the entity's last change was said done while the unit stayed in
the tree, and `/held` no longer listed it, so no later import could remove it again. Failed on the old code. Now the
door judges by the directory's own rule (`rules.applies`): an older change is `unchanged`, nothing published.

Re-adding after a removal: an import removes what vanished at the time it runs, and the source keeps the entity's
own older time when it comes back — the door answered `created`, the directory kept it removed (the removal was
newer). Now it is brought back, published at the removal's time and a microsecond."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import text

pytestmark = [pytest.mark.integration, pytest.mark.postgres_only]

UNIT = "se.styrkedja.organisation.unit_upserted.v1"
KEY = "unit:group:29990061:stale-7a"


def group(name: str, at: str) -> dict:
    return {"items": [{"type": UNIT, "source_id": "src-stale", "data": {
        "unit_type": "group", "unit_id": "stale-7a", "organiser_id": "2999", "parent_id": "su-stale",
        "name": name, "school_unit_code": "29990061", "year": 7, "updated_at": at}}]}


async def test_a_change_older_than_the_one_held_changes_nothing_and_says_so(client, database) -> None:
    made = await client.post("/v1/directory/changes", json=group("7A", "2026-09-10T08:00:00+00:00"))
    assert made.status_code == 200 and made.json()["created"] == 1, made.text
    older = await client.post("/v1/directory/changes", json=group("7A gammal", "2026-09-01T08:00:00+00:00"))
    assert older.status_code == 200 and older.json()["unchanged"] == 1, older.text
    newer = await client.post("/v1/directory/changes", json=group("7A ny", "2026-09-11T08:00:00+00:00"))
    assert newer.status_code == 200 and newer.json()["changed"] == 1, newer.text
    removed_before = await client.post("/v1/directory/removals", json={
        "source_ids": ["src-stale"], "removed_at": "2026-09-05T08:00:00+00:00"})
    assert removed_before.status_code == 200 and removed_before.json()["removed"] == 0, removed_before.text
    held = await client.get("/v1/directory/held", params={"organiser_id": "2999"})
    assert [i["entity_key"] for i in held.json()["items"]] == [KEY]
    removed = await client.post("/v1/directory/removals", json={
        "source_ids": ["src-stale"], "removed_at": "2026-09-11T08:00:00+00:00"})  # at the same time: a removal wins
    assert removed.status_code == 200 and removed.json()["removed"] == 1, removed.text
    # sent again after its removal with its own older time (the source's): brought back, after the removal
    back = await client.post("/v1/directory/changes", json=group("7A ny", "2026-09-02T08:00:00+00:00"))
    assert back.status_code == 200 and back.json()["created"] == 1, back.text
    async with database.sessions() as session:
        [event] = [json.loads(p) for p in (await session.execute(text(
            "SELECT payload FROM outbox ORDER BY id DESC LIMIT 1"))).scalars()]
    assert event["data"]["updated_at"] == "2026-09-11T08:00:00.000001Z", event
    held = await client.get("/v1/directory/held", params={"organiser_id": "2999"})
    assert [i["entity_key"] for i in held.json()["items"]] == [KEY]

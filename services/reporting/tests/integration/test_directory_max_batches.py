"""Round 27a: the directory's write doors at the LARGEST input each accepts — large but valid.

`make bench --full` (290 organisers) posted 4,870 directory changes (the limit is 5,000) and got a 500: one multi-row
`INSERT ... VALUES` of `directory_published` carried 8 columns x 4,870 rows = 38,960 bind parameters, over the 32,767
one statement may have (asyncpg's InterfaceError). Every statement of the write path now sends a batch's rows as one
array per column (`unnest`), whatever the batch's size. Each test here sends a door's maximum (`MAX_ITEMS`), all
items valid and distinct, and checks everything was taken: 200 and every item published (or removed)."""

from __future__ import annotations

import pytest
from sqlalchemy import text

from styrkedja_reporting.directory.writes import MAX_ITEMS

pytestmark = [pytest.mark.integration, pytest.mark.postgres_only]

MEMBERSHIP = "se.styrkedja.organisation.membership_upserted.v1"


def memberships(count: int, *, organiser: str = "2999", group: str = "7A",
                at: str = "2026-09-01T08:00:00+00:00") -> list[dict]:
    """`count` distinct memberships, each from a source id of its own."""
    return [{"type": MEMBERSHIP, "source_id": f"src-m{n}", "data": {
        "membership_id": f"m{n}", "organiser_id": organiser, "school_unit_code": "29990001", "group_id": group,
        "student_id": f"s{n}", "start_date": "2026-08-15", "updated_at": at}} for n in range(count)]


async def _live(database) -> int:
    async with database.sessions() as session:
        return (await session.execute(text(
            "SELECT count(*) FROM directory_published WHERE content_hash <> 'removed'"))).scalar_one()


async def test_a_full_batch_of_new_entities_is_published(client, database) -> None:
    answer = await client.post("/v1/directory/changes", json={"items": memberships(MAX_ITEMS)})
    assert answer.status_code == 200, answer.text[:2000]
    assert answer.json()["created"] == MAX_ITEMS
    assert await _live(database) == MAX_ITEMS

"""A request body's organiser id in any spelling of one organisation number is one organiser: one token
writes it, one row holds it, its events carry and are keyed by `212000-1234`. Failed on the old code: a token
for `2120001234` was refused on `212000-1234`, and the same assessment sent in the other spelling was a
new revision whose event went to another key (another partition, another organiser's aggregates)."""

from __future__ import annotations

import pytest
from sqlalchemy import text

from styrkedja_devstack import testing
from styrkedja_devstack.pytest_plugin import token_fixtures

pytestmark = [pytest.mark.integration, pytest.mark.postgres_only]

_issuer, client_token = token_fixtures(  # the issuer writes the claim without the hyphen
    lambda issuer: issuer.mint(roles=["platform"], organisers=["2120001234"], client_id="platform-test"))


async def test_one_assessment_in_three_spellings_is_one_row_and_one_event(client, db, assessment):
    first = await client.post("/v1/assessments", json=assessment("s-1", organiser_id="212000-1234"))
    assert first.status_code == 201, first.text
    assessment_id = first.json()["assessment_id"]
    for spelling in ("2120001234", "162120001234", "16212000-1234"):
        again = await client.post("/v1/assessments",
                                  json=assessment("s-1", organiser_id=spelling, assessment_id=assessment_id))
        assert again.status_code == 200, (spelling, again.text)
        assert (again.json()["status"], again.json()["revision"]) == ("unchanged", 1)
    batch = await client.post("/v1/assessments/batch", json={"items": [
        assessment("s-2", organiser_id="2120001234"), assessment("s-3", organiser_id="212000-1234")]})
    assert batch.status_code in (200, 201, 207), batch.text
    events = await testing.outbox_events(db, "styrkedja.assessments")  # asserts each row's key is its event's
    assert [e.data.organiser_id for e in events] == ["212000-1234"] * 3
    assert {e.partition_key() for e in events} == {b"212000-1234"}
    async with db.connect() as conn:
        stored = (await conn.execute(text("SELECT DISTINCT organiser_id FROM assessments"))).scalars().all()
    assert stored == ["212000-1234"]


async def test_a_foreign_organiser_in_any_spelling_is_still_refused(client, assessment):
    for spelling in ("2120001235", "212000-1235", "162120001235"):
        response = await client.post("/v1/assessments", json=assessment("s-1", organiser_id=spelling))
        assert response.status_code == 403, (spelling, response.text)

"""Round 26 (dir26): a school unit code is one school (Skolverket's register), placed under one organiser at a time
(`school_unit_placements`, keyed by the code alone) — over HTTP against a real PostgreSQL.

Failed on the old code ("directory takeover by content, last writer wins"): a platform client of organiser 3001 sent a
school unit with the code organiser 2999's directory holds, 200 `created`, and the newest upsert won the placement —
2999's school unit, and the results reported under its code, moved into 3001's tree and areas, out of 2999's area
managers' reach. Least privilege: a platform writes its own organiser's directory, never re-places another's school.
Now `POST /v1/directory/changes` refuses it, 409 naming `items.N.data.school_unit_code` and the rule, nothing stored;
the code comes free when its organiser removes it (a school changing organiser: the old organiser's import drops it,
the new one's adds it), or by a writer of both organisers' directories. The code itself is public (the register), so the
refusal tells nothing that is not; it does not name the organiser holding it."""

from __future__ import annotations

import pytest
from sqlalchemy import text

pytestmark = [pytest.mark.integration, pytest.mark.postgres_only]

CODE = "29990041"
UNIT = "se.styrkedja.organisation.unit_upserted.v1"
REMOVED = "se.styrkedja.organisation.entity_removed.v1"


def school(organiser: str, unit_id: str, at: str = "2026-09-01T08:00:00+00:00", code: str = CODE) -> dict:
    return {"type": UNIT, "source_id": f"src-{unit_id}", "data": {
        "unit_type": "school_unit", "unit_id": unit_id, "organiser_id": organiser, "parent_id": organiser,
        "name": f"Skola {unit_id}", "school_unit_code": code, "updated_at": at}}


async def _published(database) -> list[tuple[str, str]]:
    async with database.sessions() as session:
        return [tuple(r) for r in (await session.execute(text(
            "SELECT organiser_id, entity_key FROM directory_published WHERE school_unit_code = :c "
            "AND content_hash <> 'removed' ORDER BY 1, 2"), {"c": CODE})).all()]


async def test_a_platform_of_one_organiser_may_not_re_place_another_organisers_school_unit(
        client, bare_client, database, token_issuer) -> None:
    other = token_issuer.mint(roles=["platform"], organisers=["3001"], subject="p-3001", client_id="p-3001")
    made = await client.post("/v1/directory/changes", json={"items": [school("2999", "held")]})
    assert made.status_code == 200, made.text
    # 3001's platform names 2999's code: refused, naming the item's field and the rule, nothing stored
    taken = await bare_client.post("/v1/directory/changes", json={"items": [
        school("3001", "ours", code="30010041"), school("3001", "grab", at="2026-09-05T08:00:00+00:00")]},
        headers={"Authorization": f"Bearer {other}"})
    assert taken.status_code == 409, taken.text
    assert taken.headers["content-type"].startswith("application/problem+json")
    [error] = taken.json()["errors"]
    assert error["field"] == "items.1.data.school_unit_code" and error["rule"] == "school_unit_code_held"
    assert "2999" not in taken.text.replace(CODE, "")  # the code itself begins so
    assert await _published(database) == [("2999", "unit:school_unit::held")]
    # 2999 itself may change its school (the same code, its own unit) as before
    again = school("2999", "held", at="2026-09-02T08:00:00+00:00")
    renamed = await client.post("/v1/directory/changes", json={"items": [
        {**again, "data": {**again["data"], "name": "Skola omdöpt"}}]})
    assert renamed.status_code == 200 and renamed.json()["changed"] == 1, renamed.text
    # once 2999 removed it, 3001 may add it (a school changing organiser)
    removed = await client.post("/v1/directory/removals", json={
        "source_ids": ["src-held"], "removed_at": "2026-09-03T08:00:00+00:00"})
    assert removed.status_code == 200 and removed.json()["removed"] == 1, removed.text
    added = await bare_client.post("/v1/directory/changes", json={"items": [school("3001", "grab")]},
                                   headers={"Authorization": f"Bearer {other}"})
    assert added.status_code == 200 and added.json()["created"] == 1, added.text
    assert await _published(database) == [("3001", "unit:school_unit::grab")]


async def test_a_writer_of_both_organisers_moves_a_school_between_them(client, bare_client, database,
                                                                         token_issuer) -> None:
    """A school changing organiser in one import of both (its new organiser's school unit is sent before the old one's
    is removed as vanished): the token writes both directories, so it may; a platform of the new organiser alone
    may not, also not in a batch that names the old organiser's removal (403: not its organiser)."""
    made = await client.post("/v1/directory/changes", json={"items": [school("2999", "held")]})
    assert made.status_code == 200, made.text
    removal = {"type": REMOVED, "data": {"entity": "unit", "entity_id": "held", "organiser_id": "2999",
                                         "unit_type": "school_unit", "school_unit_code": CODE,
                                         "removed_at": "2026-09-02T08:00:00+00:00"}}
    other = token_issuer.mint(roles=["platform"], organisers=["3001"], subject="p-3001", client_id="p-3001")
    alone = await bare_client.post("/v1/directory/changes", json={"items": [removal, school("3001", "moved")]},
                                   headers={"Authorization": f"Bearer {other}"})
    assert alone.status_code == 403, alone.text
    moved = await client.post("/v1/directory/changes", json={"items": [school("3001", "moved")]})
    assert moved.status_code == 200 and moved.json()["created"] == 1, moved.text
    gone = await client.post("/v1/directory/changes", json={"items": [removal]})
    assert gone.status_code == 200 and gone.json()["removed"] == 1, gone.text
    assert await _published(database) == [("3001", "unit:school_unit::moved")]

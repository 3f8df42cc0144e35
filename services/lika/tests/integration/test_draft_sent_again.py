"""A draft sent again under its id (`POST /v1/self-assessments` with `self_assessment_id`): the same draft is answered
as stored (200), another one is a 409 — its assessment day included."""

from __future__ import annotations

import pytest

from styrkedja_devstack.testing import problem_fields

pytestmark = [pytest.mark.integration, pytest.mark.postgres_only]

DRAFT = {"self_assessment_id": "6f1c2b9e-4d3a-4e8b-9c7d-2a1b3c4d5e6f", "organiser_id": "2999",
         "school_unit_code": "29990011", "school_form": "grundskola", "respondent_role": "rektor",
         "catalogue_version": "2026.1", "assessed_on": "2026-10-05"}


async def test_a_draft_sent_again_with_another_day_is_another_draft(client):
    """Round 23c, failed on the old code: the re-send naming 2026-10-12 was answered 200 "the same draft again" with
    the stored 2026-10-05, the day the client sent dropped without a word."""
    first = await client.post("/v1/self-assessments", json=DRAFT)
    assert first.status_code == 201, first.text
    same = await client.post("/v1/self-assessments", json=DRAFT)
    assert same.status_code == 200 and same.json()["assessed_on"] == "2026-10-05"
    without_day = await client.post("/v1/self-assessments", json={k: v for k, v in DRAFT.items() if k != "assessed_on"})
    assert without_day.status_code == 200 and without_day.json()["assessed_on"] == "2026-10-05"  # omitted: today
    other_day = await client.post("/v1/self-assessments", json=DRAFT | {"assessed_on": "2026-10-12"})
    assert other_day.status_code == 409, other_day.text
    assert problem_fields(other_day) == [("self_assessment_id", "id_taken")]
    stored = await client.get(f"/v1/self-assessments/{DRAFT['self_assessment_id']}")
    assert stored.json()["assessed_on"] == "2026-10-05"

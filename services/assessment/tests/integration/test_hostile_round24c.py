"""Round 24 (c), the assessment service's writes: lists whose values are each given once, and revisions that can
always be revised (see tests/test_hostile_round24c.py for the round)."""

from __future__ import annotations

import pytest

from styrkedja_devstack.testing import problem_fields

pytestmark = [pytest.mark.integration, pytest.mark.postgres_only]


def plan(**overrides) -> dict:
    body = {"organiser_id": "2999", "school_unit_code": "12345678", "group_id": "7A", "subject_code": "GRGRMAT01",
            "school_year": "2026/27", "term": "HT", "title": "Bråk och procent", "criteria_codes": ["MA9E1"],
            "published_on": "2026-08-25"}
    return body | overrides


@pytest.mark.parametrize(("path", "field", "twice"), [
    ("/v1/plans", "criteria_codes", ["MA9E1", "MA9E2", "MA9E1"]),
    ("/v1/assessments", "unmet_criteria", ["Kan resonera", "Kan resonera"]),
    ("/v1/assessments", "unmet_criteria", ["Å", "A\u030a"]),  # one text, composed and decomposed
    ("/v1/assessments", "unmet_criteria", ["Kan  resonera", " Kan resonera"]),  # one text, spaced otherwise
])
async def test_a_value_given_twice_in_a_list_is_a_422_naming_it(client, scalar, assessment, path, field, twice):
    """Failed on the old code: stored (201) with the value twice, in the row and the event."""
    body = plan(criteria_codes=twice) if path == "/v1/plans" else assessment("s-1", value="F", unmet_criteria=twice)
    single = await client.post(path, json=body)
    assert single.status_code == 422, single.text
    assert problem_fields(single) == [(field, "unique")]
    assert "repeats item" in single.json()["errors"][0]["message"]
    batch = await client.post(f"{path}/batch", json={"items": [{**body, field: twice[:1]}, body]})
    assert batch.status_code == 422, batch.text
    assert problem_fields(batch) == [(f"items.1.{field}", "unique")]
    assert await scalar("SELECT count(*) FROM outbox") == 0
    once = await client.post(path, json={**body, field: twice[:1]})
    assert once.status_code == 201, once.text

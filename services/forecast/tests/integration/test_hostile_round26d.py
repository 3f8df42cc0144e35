"""Round 26 (d), the forecast service's domain rules as a platform sees them next to the assessment service's:
one mistake answered with one code at every door."""

from __future__ import annotations

import pytest

from styrkedja_devstack.testing import problem_fields

pytestmark = [pytest.mark.integration, pytest.mark.postgres_only]


def forecast(**overrides) -> dict:
    return {"organiser_id": "2999", "school_unit_code": "12345678", "group_id": "7A", "student_id": "s-1",
            "teacher_id": "t-1", "gender": "female", "year": 7, "subject_code": "GRGRMAT01",
            "school_year": "2026/27", "term": "HT", "value": "ACCEPTABLE"} | overrides


@pytest.mark.parametrize("value", ["acceptable", "Acceptable", "E", "ACCEPTABLE ", "GODTAGBAR"])
async def test_a_value_off_the_scale_is_value_on_scale_as_at_an_assessment(client, value):
    """A value off the three-level scale is 422 `value_on_scale` at `value`, single and batch, with the scale's values
    in the words — the rule and code an assessment's value off its scale answers (and the forecast's own
    `check_value`). Failed on the old code: the door answered pydantic's `literal_error` (a forecast's value was a
    `Literal`), so one mistake of one client — `acceptable` on the THREE_LEVEL scale — had two codes, by service."""
    single = await client.post("/v1/forecasts", json=forecast(value=value))
    assert single.status_code == 422, single.text
    assert problem_fields(single) == [("value", "value_on_scale")]
    assert "THREE_LEVEL" in single.json()["errors"][0]["message"]
    assert "MORE_THAN_ACCEPTABLE" in single.json()["errors"][0]["message"]
    batch = await client.post("/v1/forecasts/batch", json={"items": [forecast(student_id="s-2"),
                                                                     forecast(value=value)]})
    assert batch.status_code == 422, batch.text
    assert problem_fields(batch) == [("items.1.value", "value_on_scale")]
    stored = await client.post("/v1/forecasts", json=forecast())
    assert stored.status_code == 201, stored.text

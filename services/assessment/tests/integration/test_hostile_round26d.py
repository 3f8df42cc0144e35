"""Round 26 (d), the assessment service's domain rules as school platforms, another organiser's platform and a buggy
client see them (the forecast service's: services/forecast/tests/integration/test_hostile_round26d.py)."""

from __future__ import annotations

import pytest

from styrkedja_devstack.testing import problem_fields

pytestmark = [pytest.mark.integration, pytest.mark.postgres_only]


@pytest.mark.parametrize(("scale", "value"), [("AF", "Anna Andersson"), ("AF", "<b>C</b>"),
                                              ("THREE_LEVEL", "godtagbar nivå")])
async def test_a_value_off_its_scale_is_refused_without_repeating_it(client, assessment, scale, value):
    """A refusal names the field and the rule, never the value sent (docs/platforms.md): a value off its scale is
    422 `value_on_scale` naming the scale's values, not the text sent. Failed on the old code: the message (and the
    problem's `detail`) began with the value as sent — free text a client put in a result's field, a name as well as
    a typo, answered back and written wherever the answer is logged."""
    for path, body, field in (("/v1/assessments", assessment("s-1", scale=scale, value=value), "value"),
                              ("/v1/assessments/batch", {"items": [assessment("s-1", scale=scale, value=value)]},
                               "items.0.value")):
        response = await client.post(path, json=body)
        assert response.status_code == 422, response.text
        assert problem_fields(response) == [(field, "value_on_scale")]
        assert value not in response.text and repr(value) not in response.text
        assert f"scale {scale}" in response.json()["errors"][0]["message"]

"""The action plan's filters (`GET .../action-plan` and its to-do export) over HTTP: what a filter given says.

Round 23c: `?owner=` (and `?tag=`, `?owner`, `?owner=+`) was a filter by "" — no item matched and the answer echoed
`"owner": ""` as the filter applied, where an empty status or priority is a 422. Now a 422 naming the parameter and
`not_blank` (the kit's strict parameters). And an owner or a tag in a filter is a name like the owner or tag it is
compared with (the contracts' `Name`): `?owner=%20IT%20` found "IT" but echoed " IT " as the filter, and
`?owner=a%09b` (a tab: no owner can hold one) was taken."""

from __future__ import annotations

import pytest

from styrkedja_devstack.testing import problem_fields

pytestmark = [pytest.mark.integration, pytest.mark.postgres_only]

DRAFT = {"organiser_id": "2999", "school_unit_code": "29990011", "school_form": "grundskola",
         "respondent_role": "rektor", "catalogue_version": "2026.1"}


async def test_an_empty_or_unformed_filter_is_named_never_a_filter_by_nothing(client):
    """Failed on the old code: `owner=` and `tag=` answered 200 with no items and `"owner": ""` as the filter,
    `owner=%20IT-avdelningen%20` echoed the spaces, `owner=a%09b` was a 200."""
    ids = [i["id"] for a in (await client.get("/v1/catalogue/2026.1", params={"school_form": "grundskola"})).json()[
        "areas"] for i in a["indicators"]]
    sa_id = (await client.post("/v1/self-assessments", json=DRAFT)).json()["self_assessment_id"]
    await client.patch(f"/v1/self-assessments/{sa_id}/ratings",
                       json={"ratings": [{"indicator_id": i, "rating": "PLANNED"} for i in ids]})
    assert (await client.post(f"/v1/self-assessments/{sa_id}/publish")).status_code == 200
    plan = f"/v1/self-assessments/{sa_id}/action-plan"
    target = (await client.get(plan)).json()["items"][0]["activity_id"]
    edited = await client.patch(f"{plan}/items/{target}", json={"owner": "IT-avdelningen", "tags": ["wifi"]})
    assert edited.status_code == 200, edited.text

    for path in (plan, f"{plan}/export.xlsx"):
        for query, field, rule in [("owner=", "owner", "not_blank"), ("owner", "owner", "not_blank"),
                                   ("owner=+", "owner", "not_blank"), ("tag=", "tag", "not_blank"),
                                   ("owner=a%09b", "owner", "no_control_characters"),
                                   ("tag=%E3%80%80", "tag", "not_blank")]:
            refused = await client.get(f"{path}?{query}")
            assert refused.status_code == 422, (path, query, refused.status_code, refused.text[:200])
            assert problem_fields(refused) == [(field, rule)], (path, query)

    found = await client.get(f"{plan}?owner=%20it-AVDELNINGEN%20&tag=%20wifi")
    assert found.status_code == 200, found.text
    assert [i["activity_id"] for i in found.json()["items"]] == [target]
    assert found.json()["filters"] == {"owner": "it-AVDELNINGEN", "tag": "wifi"}

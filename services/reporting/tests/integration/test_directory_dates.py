"""Round 26 (dir26): the dates of a teaching assignment and a duty at the directory's door (reporting's
`POST /v1/directory/changes`) — against a real PostgreSQL.

Failed on the old code: a teaching assignment or a duty that ends before it starts was stored (200 `created`, its
event published): a period that holds no day, which no reader could tell from a real one (a teacher's access, a
principal's school units: never current, without a word). A membership was refused so (its contract's rule), these
two not. Now the contracts hold the same rule for all three (`end_date` not before `start_date`; equal dates are one
day; an open end or start as before): 422 naming `items.N.data` and the rule, nothing stored, as the SS 12000 import
refuses the item naming the source's fields (it validates by the contract)."""

from __future__ import annotations

import pytest

pytestmark = [pytest.mark.integration, pytest.mark.postgres_only]

AT = "2026-09-01T08:00:00+00:00"
KINDS = {
    "teaching_assigned": {"assignment_id": "ta-1", "organiser_id": "2999", "school_unit_code": "29990051",
                          "group_id": "7A", "teacher_id": "t-1", "subject_code": "GRGRMAT01", "updated_at": AT},
    "duty_upserted": {"duty_id": "d-1", "organiser_id": "2999", "school_unit_code": "29990051", "person_id": "t-1",
                      "duty_role": "Rektor", "updated_at": AT},
    "membership_upserted": {"membership_id": "m-1", "organiser_id": "2999", "school_unit_code": "29990051",
                            "group_id": "7A", "student_id": "s-1", "updated_at": AT},
}


@pytest.mark.parametrize("kind", sorted(KINDS))
async def test_a_dated_entity_ending_before_it_starts_is_refused_naming_the_rule(client, kind) -> None:
    def post(**dates):
        return client.post("/v1/directory/changes", json={"items": [{
            "type": f"se.styrkedja.organisation.{kind}.v1", "data": {**KINDS[kind], **dates}}]})

    refused = await post(start_date="2026-08-20", end_date="2026-08-19")
    assert refused.status_code == 422, refused.text
    [error] = refused.json()["errors"]
    assert (error["field"], error["rule"]) == ("items.0.data.end_date", "end_not_before_start"), error
    assert "must not be before start_date" in error["message"]
    held = await client.get("/v1/directory/held", params={"organiser_id": "2999"})
    assert held.json()["items"] == []  # nothing stored
    one_day = await post(start_date="2026-08-20", end_date="2026-08-20")
    assert one_day.status_code == 200 and one_day.json()["created"] == 1, one_day.text
    open_end = await post(start_date="2026-08-20")
    assert open_end.status_code == 200 and open_end.json()["changed"] == 1, open_end.text

"""The support figures' list of students is a student-level read (hostile round 23a).

Found and fixed: `GET /v1/support/below-pass-without-support/students` judged the reader at the level asked
(school unit or group) alone, then audited a student-level read it never checked: an area manager (its levels stop
at the group) and an ICT coordinator ("unit level, no student data") read the pseudonymous ids of the students
below the pass level without support, by that route and in `/v1/support/summary`'s `list`. Now the reader must read
students there, as every other list of students: the route is a 403, the summary's list `null` (its figures stay).
Since privacy round 30 the ICT coordinator reads no support figure at all: every support read is a 403 `roles`."""

from __future__ import annotations

import pytest

from .test_access import AREA, GROUP, ORG, UNIT, fed  # noqa: F401  (the fixture)

pytestmark = [pytest.mark.integration, pytest.mark.postgres_only]

PATH = "/v1/support/below-pass-without-support/students"


async def test_only_readers_of_students_read_the_list(fed, bare_client, token_issuer):  # noqa: F811
    # failed before: the area manager and the ICT coordinator were answered 200
    def bearer(role: str, **claims) -> dict:
        return {"Authorization": "Bearer " + token_issuer.mint(roles=[role], organisers=[ORG], **claims)}

    at_unit = {"level": "school_unit", "unit_id": UNIT, "organiser_id": ORG}
    at_group = {"level": "group", "unit_id": GROUP, "organiser_id": ORG}
    # (reader, where, the list's status, whether the summary is the reader's at all, the rule of a 403)
    cases = [
        (bearer("area_manager", areas=[AREA]), at_unit, 403, True, "read_scope"),
        (bearer("area_manager", areas=[AREA]), at_group, 403, True, "read_scope"),
        (bearer("ict_coordinator", school_units=[UNIT]), at_unit, 403, False, "role"),
        (bearer("principal", school_units=[UNIT]), at_unit, 200, True, None),
        (bearer("organiser_admin"), at_unit, 200, True, None), (bearer("teacher", groups=[GROUP]), at_group, 200, True, None),
        (bearer("teacher", groups=[GROUP]), at_unit, 403, False, "read_scope"),
    ]
    for headers, params, status, summarised, rule in cases:
        for fmt in ("json", "csv", "xlsx"):
            answer = await bare_client.get(PATH, params={**params, "format": fmt}, headers=headers)
            assert answer.status_code == status, (params, fmt, answer.text[:300])
            if status == 403:
                assert answer.json()["errors"][0]["rule"] == rule
        summary = await bare_client.get("/v1/support/summary", params=params, headers=headers)
        if not summarised:
            assert summary.status_code == 403
            continue
        assert summary.status_code == 200, summary.text
        listed = summary.json()["below_pass_without_support"]["list"]
        assert (listed is not None) is (status == 200), (params, listed)

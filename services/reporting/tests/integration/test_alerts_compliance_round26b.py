"""Round 26 (b): reporting's alerts and compliance as a head of education, a principal, a politician, an ops user
and a buggy client see them — the domain rules, not the shapes.

Found and fixed (each test failed on the old code, as said at it):
- An alert's id told whoever held it that it exists, and whose: `POST /v1/alerts/{id}/acknowledge` answered an id
  never stored 404 and another organiser's, or another area's, 403. Now an alert the caller may not read (as
  `GET /v1/alerts` lists it) is answered as an id never stored; a 403 is left for an alert the caller lists but
  whose place its acknowledging roles do not reach (a teacher role's group). As LIKA's ids (round 26).
"""

from __future__ import annotations

from uuid import uuid4

import pytest

from .test_alert_scope import ORG, _bearer, alerted  # noqa: F401  (a fixture)

pytestmark = [pytest.mark.integration, pytest.mark.postgres_only]


async def _acknowledge(client, alert_id, headers):
    return await client.post(f"/v1/alerts/{alert_id}/acknowledge", json={"comment": "sett"}, headers=headers)


def _without_id(answer, alert_id) -> dict:
    body = answer.json()
    return {k: str(v).replace(str(alert_id), "ID") for k, v in body.items()}


async def test_an_alert_the_caller_may_not_read_is_answered_as_an_id_never_stored(alerted, bare_client,  # noqa: F811
                                                                                  token_issuer):
    # failed before: 403 write_scope for each of these (the id exists, and is not yours), 404 for an unknown one
    unknown = uuid4()
    never = await _acknowledge(bare_client, unknown, _bearer(token_issuer, roles=["organiser_admin"]))
    assert never.status_code == 404
    other_admin = {"Authorization": "Bearer " + token_issuer.mint(organisers=["3001"], roles=["organiser_admin"],
                                                                  subject="reader-2")}
    north = _bearer(token_issuer, roles=["area_manager"], areas=["north"])
    principal = _bearer(token_issuer, roles=["principal"], school_units=["22222222"])
    for headers, place in ((other_admin, "11111111"), (other_admin, ORG), (north, "south"), (north, "22222222"),
                           (north, ORG), (principal, "11111111:7A"), (principal, "north")):
        answer = await _acknowledge(bare_client, alerted[place], headers)
        assert answer.status_code == 404, (place, answer.text)
        assert _without_id(answer, alerted[place]) == _without_id(never, unknown)
    # nothing acknowledged
    admin = _bearer(token_issuer, roles=["organiser_admin"])
    rows = (await bare_client.get("/v1/alerts", params={"organiser_id": ORG}, headers=admin)).json()
    assert {r["status"] for r in rows} == {"open"}


async def test_an_alert_the_caller_lists_but_may_not_acknowledge_stays_403(alerted, bare_client,  # noqa: F811
                                                                           token_issuer, settings):
    """The area manager of south who teaches 11111111's 7A (its token's groups) lists 7A's alert: it sees the alert,
    and its acknowledging role does not reach it — a 403, not a 404."""
    teacher = _bearer(token_issuer, roles=["area_manager", "teacher"], areas=["south"], groups=["11111111/7A"])
    listed = await bare_client.get("/v1/alerts", params={"organiser_id": ORG}, headers=teacher)
    assert "11111111:7A" in {r["unit_id"] for r in listed.json()}
    refused = await _acknowledge(bare_client, alerted["11111111:7A"], teacher)
    assert refused.status_code == 403 and refused.json()["errors"][0]["rule"] == "write_scope", refused.text

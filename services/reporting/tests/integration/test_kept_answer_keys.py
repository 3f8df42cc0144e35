"""A kept answer is found by the request's query read losslessly (hostile round 23a).

Found and fixed: the answer cache keyed a request by its query percent-decoded with errors replaced, so `%FF` (no
UTF-8: every route refuses it, `utf8`) read as U+FFFD, the key of a request naming U+FFFD itself (`%EF%BF%BD`, a
character a name may hold); a raw byte that is no ASCII likewise. Once that request's answer was kept, the one
sent with `%FF` was answered 200 with it from memory, never reaching the parameter checks that refuse it (its
answer depended on what another client had asked before)."""

from __future__ import annotations

import pytest

from .test_answers_other_reads import _bearer, _get, more  # noqa: F401  (the fixture)
from .test_one_decision import ORG, fed  # noqa: F401  (the fixture)

pytestmark = [pytest.mark.integration, pytest.mark.postgres_only]

PATH = "/v1/lika/compilation/activities"


async def test_a_query_the_route_refuses_is_refused_after_a_lookalike_was_kept(bare_client, token_issuer, more):  # noqa: F811
    # failed before: the second request was answered 200 from memory
    admin = _bearer(token_issuer, "organiser_admin")
    kept = await bare_client.get(f"{PATH}?organiser_id={ORG}&owner=%EF%BF%BD", headers=admin)
    assert kept.status_code == 200, kept.text
    again = await bare_client.get(f"{PATH}?organiser_id={ORG}&owner=%EF%BF%BD", headers=admin)
    assert again.status_code == 200 and again.headers.get("etag") == kept.headers.get("etag")
    for odd in ("%FF", "%C3", "%ED%A0%80"):
        refused = await bare_client.get(f"{PATH}?organiser_id={ORG}&owner={odd}", headers=admin)
        assert refused.status_code == 422, (odd, refused.status_code, refused.text)
        assert [(e["field"], e["rule"]) for e in refused.json()["errors"]] == [("owner", "utf8")], refused.text
    # the same request spelt otherwise (order, `+` or `%20`, an escaped letter) still finds the kept answer
    await _get(bare_client, admin, PATH, {"organiser_id": ORG, "owner": "Anna Berg"})
    for query in (f"owner=Anna+Berg&organiser_id={ORG}", f"organiser_id={ORG}&owner=Anna%20Berg",
                  f"organiser_id={ORG}&owner=%41nna+Berg"):
        hit = await bare_client.get(f"{PATH}?{query}", headers=admin)
        assert hit.status_code == 200 and "etag" in hit.headers, query

"""Hostile inputs, round 26 (c): what a long, stateful fuzz campaign found (many examples per operation, tokens of
every role, ids taken from earlier answers, boundary values, conditional requests), each judged against the
service's own OpenAPI document.

Found and fixed (each test failed on the old code, as said at it):
- Reporting's kept answers (`access.answers.AnswerCache`) answer `If-None-Match` naming their `ETag` with a 304, on
  every GET of results, figures, support, LIKA, compliance, directory and alerts: no operation's document had a 304
  (nor the `ETag` header), so a generated client or schemathesis' status check took a cache revalidation for an
  undocumented answer. Now documented on each of them (`access.answers.document_kept_answers`).
- A list query parameter given one value twice (reporting's `?split=gender&split=gender` on both results reads, at
  every level and in every format) grouped the cells by one column twice: an ambiguous column, a 500. Now a 422 naming
  the parameter and `unique` for every list parameter of every service (the kit's `parameters.judge`, as a body's
  arrays are `unique_items`), and each such parameter's schema says `uniqueItems`.
- Reporting's freshness sweep took `at` in any year a date-time parameter allows (1900-2199 as written), but the alert
  events it writes carry `at` as their time, which the envelope bounds to 2000-01-01T00:00:00Z-2199-12-31T23:59:59Z:
  a sweep at `2199-12-31T23:59:59-12:00` or before 2000 that raised or resolved an alert was a 500. Now a 422 naming
  `at` outside the events' range.
- Reporting's `POST /v1/alerts/{alert_id}/acknowledge` documented `comment` up to 4000 characters while its rule takes
  2000 (`alerts.rules.COMMENT_MAX`): a comment valid by the document was refused. The document now says the rule's
  bound.
- LIKA's `PATCH …/action-plan/items/{activity_id}` documented up to 100 tags of any length while its rules take 20 of
  at most 40 characters: the document now says the rules' bounds (a small LIKA change: the schema only, the rules and
  their names unchanged).
- Every service's `/readyz` answered a not-ready 503 with JSON (`service`, `status`, `checks`) its document gave no
  content at all, and its 200 was documented as any JSON: both now carry the readiness schema (the kit's
  `READINESS_SCHEMA`; packages/kit/tests/test_readiness.py).

Tried and held (tests/campaign26_local.py, run locally: ~100k generated requests over every operation, both modes,
tokens of eleven roles and scopes, path ids taken from earlier answers, reporting fed a directory and results):
revisions backwards and at the documented maximum, the same id twice with other bodies (and in one batch, and in
another case), UUIDs upper-case, braced, `urn:uuid:`, unhyphenated, nil and max; dates and date-times at the years'
ends with offsets of ±14 h, week dates, leap days; enum values in other cases; `Idempotency-Key` reused with another
body, endpoint, scope and after a retraction; 16 concurrent writes of one id, one natural key, one key, one calendar
revision, one directory entity (never a 5xx: 200/201/409/422); directory parent cycles and self-parents; another
organiser's ids (403); alert acknowledgement after resolution (409); `Accept` against `format=`; trailing and double
slashes, HEAD and OPTIONS on every path.
"""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
import pytest
import schemathesis
from inprocess import ORGANISER, auth
from schemathesis.specs.openapi.checks import content_type_conformance, status_code_conformance
from test_api_conformance import _first_activity
from test_hostile_round13 import feed, organiser_events

pytestmark = [pytest.mark.integration, pytest.mark.postgres_only]


def _schema(url: str, headers: dict[str, str]) -> Any:
    return schemathesis.openapi.from_url(f"{url}/openapi.json", headers=headers)


@pytest.mark.parametrize("running", ["reporting"], indirect=True)
def test_a_revalidated_kept_answer_is_a_documented_304(running, token_issuer):
    """Failed on the old code: `ST103 Undocumented status code — Received: 304`."""
    _name, service = running
    headers = auth(token_issuer)
    schema = _schema(service.url, headers)
    query = {"level": "organiser", "unit_id": ORGANISER, "organiser_id": ORGANISER, "school_year": "2026/27",
             "term": "HT"}
    for path in ("/v1/results/assessments", "/v1/lika/school-units", "/v1/alerts"):
        operation = schema[path]["get"]
        names = {p["name"] for p in operation.definition.raw.get("parameters", [])}
        case = operation.Case(query={k: v for k, v in query.items() if k in names})
        first = case.call(base_url=service.url, headers=headers)
        assert first.status_code == 200, (path, first.text[:300])
        etag = first.headers["etag"][0]
        documented = operation.definition.raw["responses"]["200"].get("headers", {})
        assert "ETag" in documented, path
        for sent in (etag, "*", f'W/{etag}'):
            again = case.call(base_url=service.url, headers=headers | {"If-None-Match": sent})
            assert again.status_code == 304, (path, sent, again.status_code)
            case.validate_response(again, checks=[status_code_conformance, content_type_conformance])
            assert "ETag" in operation.definition.raw["responses"]["304"]["headers"], path


@pytest.mark.parametrize("running", ["reporting"], indirect=True)
def test_a_list_parameter_given_one_value_twice_is_refused_naming_it(running, token_issuer):
    """`?split=gender&split=gender` grouped the cells by one column twice: an ambiguous column in the read, a 500 on
    every results read at any level and format. Failed on the old code: 500. Now a 422 naming `split` and `unique`
    (the kit's `parameters.judge`, for every list parameter of every service), and the document says so
    (`uniqueItems`)."""
    _name, service = running
    asyncio.run(feed(service.database_url, organiser_events((ORGANISER,), "29992626", "r26c")))  # cells to group
    headers = auth(token_issuer)
    schema = _schema(service.url, headers)
    for path in ("/v1/results/assessments", "/v1/results/forecasts"):
        operation = schema[path]["get"]
        for query in ({"level": "organiser", "unit_id": ORGANISER, "organiser_id": ORGANISER,
                       "split": ["gender", "gender"]},
                      {"level": "group", "organiser_id": ORGANISER, "split": ["year", "gender", "year"],
                       "format": "csv"}):
            response = operation.Case(query=query).call(base_url=service.url, headers=headers)
            assert response.status_code == 422, (path, query, response.status_code, response.text[:300])
            problem = response.json()
            assert ("split", "unique") in [(e["field"], e["rule"]) for e in problem["errors"]], problem
        # each value once is still a split
        fine = operation.Case(query={"level": "organiser", "unit_id": ORGANISER, "organiser_id": ORGANISER,
                                     "split": ["gender", "year"]}).call(base_url=service.url, headers=headers)
        assert fine.status_code == 200, fine.text[:300]
        split = next(p for p in operation.definition.raw["parameters"] if p["name"] == "split")
        assert split["schema"].get("uniqueItems") is True, split


@pytest.mark.parametrize("running", ["reporting"], indirect=True)
def test_a_freshness_sweep_is_judged_only_at_a_moment_an_event_can_carry(running, token_issuer):
    """`POST /v1/admin/alerts/freshness-sweep?at=` took any moment of the years every date-time parameter allows
    (1900-2199, as written), and the alert events the sweep wrote carry it as their time, which the envelope bounds to
    2000-01-01T00:00:00Z-2199-12-31T23:59:59Z: at `2199-12-31T23:59:59-12:00` (2200 in UTC) or before 2000 the
    envelope's refusal was a 500. Failed on the old code: 500. Now a 422 naming `at`."""
    _name, service = running
    organiser = "2626"
    asyncio.run(feed(service.database_url, organiser_events((organiser,), "26262626", "r26c-sweep")))
    headers = {"Authorization": "Bearer " + token_issuer.mint(roles=["ops"], organisers=[organiser], subject="r26c")}
    schema = _schema(service.url, headers)
    operation = schema["/v1/admin/alerts/freshness-sweep"]["post"]
    for at, rule in (("2199-12-31T23:59:59-12:00", "less_than_equal"), ("1999-12-31T23:59:59Z", "greater_than_equal"),
                     ("1900-01-01T00:00:00+14:00", "greater_than_equal")):
        case = operation.Case(query={"organiser_id": organiser, "at": at})
        response = case.call(base_url=service.url, headers=headers)
        assert response.status_code == 422, (at, response.status_code, response.text[:300])
        case.validate_response(response, checks=[status_code_conformance, content_type_conformance])
        assert ("at", rule) in [(e["field"], e["rule"]) for e in response.json()["errors"]], response.text[:300]
    for at in ("2199-12-31T23:59:59Z", "2000-01-01T00:00:00Z"):  # the range's ends: judged (raised, then resolved)
        response = operation.Case(query={"organiser_id": organiser, "at": at}).call(base_url=service.url,
                                                                                    headers=headers)
        assert response.status_code == 200, (at, response.text[:300])


@pytest.mark.parametrize("running", ["reporting"], indirect=True)
def test_an_acknowledgement_documents_the_comment_length_its_rule_takes(running, token_issuer):
    """`POST /v1/alerts/{alert_id}/acknowledge` documented `comment` up to 4000 characters, and its rule refused any
    over 2000 (`comment_length`): a comment valid by the document was a 422. Failed on the old code: maxLength 4000.
    Now the document says 2000; 2000 is taken, 2001 refused naming `comment`."""
    _name, service = running
    organiser = "2627"
    asyncio.run(feed(service.database_url, organiser_events((organiser,), "26272627", "r26c-ack")))
    headers = {"Authorization": "Bearer " + token_issuer.mint(
        roles=["ops", "organiser_admin"], organisers=[organiser], subject="r26c-ack")}
    schema = _schema(service.url, headers)
    sweep = schema["/v1/admin/alerts/freshness-sweep"]["post"].Case(
        query={"organiser_id": organiser, "at": "2199-12-31T23:59:59Z"})  # every unit late then: alerts raised
    assert sweep.call(base_url=service.url, headers=headers).status_code == 200
    alerts = schema["/v1/alerts"]["get"].Case(query={"organiser_id": organiser}).call(base_url=service.url,
                                                                                      headers=headers)
    assert alerts.status_code == 200 and alerts.json(), alerts.text[:300]
    operation = schema["/v1/alerts/{alert_id}/acknowledge"]["post"]
    comment = operation.definition.raw["requestBody"]["content"]["application/json"]["schema"]
    components = schema.raw_schema["components"]["schemas"]
    comment = components[comment["$ref"].rsplit("/", 1)[1]]["properties"]["comment"] if "$ref" in comment else comment
    assert comment["maxLength"] == 2000, comment
    alert_id = alerts.json()[0]["alert_id"]
    for length, status in ((2000, 200), (2001, 422)):
        case = operation.Case(path_parameters={"alert_id": alert_id}, body={"comment": "å" * length},
                              media_type="application/json")
        response = case.call(base_url=service.url, headers=headers)
        assert response.status_code == status, (length, response.status_code, response.text[:300])
        case.validate_response(response, checks=[status_code_conformance, content_type_conformance])
        if status == 422:
            assert "comment" in [e["field"] for e in response.json()["errors"]], response.text[:300]


@pytest.mark.parametrize("running", ["lika"], indirect=True)
def test_an_action_plan_edit_documents_the_tags_its_rules_take(running, token_issuer):
    """`PATCH …/action-plan/items/{activity_id}` documented up to 100 tags of any length, and its rules take 20 of at
    most 40 characters: 21-100 tags, or a tag of 41, valid by the document, were a 422. Failed on the old code:
    maxItems 100. Now the document says the rules' bounds; 20 tags of 40 characters are taken, a 21st refused."""
    _name, service = running
    headers = auth(token_issuer)
    schema = _schema(service.url, headers)
    with httpx.Client(base_url=service.url, headers=headers, timeout=60) as client:
        catalogue = client.get("/v1/catalogue/2026.1", params={"school_form": "grundskola"}).json()
        draft = client.post("/v1/self-assessments", json={
            "organiser_id": ORGANISER, "school_unit_code": "29990011", "school_form": "grundskola",
            "respondent_role": "rektor", "catalogue_version": "2026.1"})
        assert draft.status_code == 201, draft.text[:300]
        sid = draft.json()["self_assessment_id"]
        rated = client.patch(f"/v1/self-assessments/{sid}/ratings", json={"ratings": [
            {"indicator_id": i["id"], "rating": "PLANNED"} for a in catalogue["areas"] for i in a["indicators"]]})
        assert rated.status_code == 200, rated.text[:300]
        assert client.post(f"/v1/self-assessments/{sid}/keep-private").status_code == 200
        plan = client.get(f"/v1/self-assessments/{sid}/action-plan").json()
    activity = _first_activity(plan)
    operation = schema["/v1/self-assessments/{self_assessment_id}/action-plan/items/{activity_id}"]["patch"]
    body = operation.definition.raw["requestBody"]["content"]["application/json"]["schema"]
    body = schema.raw_schema["components"]["schemas"][body["$ref"].rsplit("/", 1)[1]] if "$ref" in body else body
    documented = body["properties"]["tags"]  # not nullable since round 29 (tags are changed, never cleared)
    tags = next(o for o in documented.get("anyOf", [documented]) if o.get("type") == "array")
    assert (tags["maxItems"], tags["items"].get("maxLength")) == (20, 40), tags
    for given, status in (([f"{n:02d}" + "å" * 38 for n in range(20)], 200), ([f"t{n}" for n in range(21)], 422)):
        case = operation.Case(path_parameters={"self_assessment_id": sid, "activity_id": activity},
                              body={"tags": given}, media_type="application/json")
        response = case.call(base_url=service.url, headers=headers)
        assert response.status_code == status, (len(given), response.status_code, response.text[:300])
        case.validate_response(response, checks=[status_code_conformance, content_type_conformance])

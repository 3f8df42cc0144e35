"""Access to the assessment service: every route of the app × every role × a token for the record's
organiser (in scope) or for another one (out of scope) → the expected status, a 403 storing nothing;
the token attacks on every route → 401; a batch with one foreign item → 403 naming it.

Platform clients are the only writers (assessments and plans under `assessments`, interventions under
`support`), each for its own organiser(s). The service has no read routes: a platform reads back
nothing but the ids and revisions its own writes answer with."""

from __future__ import annotations

import itertools

import pytest

from styrkedja_devstack import testing
from styrkedja_devstack.access_matrix import (
    Request,
    fill,
    role_token,
    route_keys,
    scope_matrix_failures,
    table_counts,
    token_attack_failures,
)
from styrkedja_devstack.testing import problem_fields, use_token
from styrkedja_kit.auth import routes_without_guard

pytestmark = [pytest.mark.integration, pytest.mark.postgres_only]

ORG, OTHER_ORG = "2999", "1480"
TABLES = ("assessments", "assessment_revisions", "plans", "plan_revisions", "support_interventions",
          "support_intervention_revisions", "outbox")
_n = itertools.count()


def assessment(**overrides) -> dict:
    return {"organiser_id": ORG, "school_unit_code": "12345678", "group_id": "7A", "student_id": f"s-{next(_n)}",
            "teacher_id": "t-1", "gender": "female", "year": 7, "subject_code": "GRGRMAT01", "kind": "assessment",
            "scale": "AF", "value": "C", "school_year": "2026/27", "term": "HT", "round": 1,
            "assessed_on": "2026-10-01"} | overrides


def plan(**overrides) -> dict:
    return {"organiser_id": ORG, "school_unit_code": "12345678", "group_id": "7A", "subject_code": "GRGRMAT01",
            "school_year": "2026/27", "term": "HT", "title": "Bråk", "criteria_codes": ["MA9E1"],
            "published_on": "2026-08-25", "link": "https://platform.example/plans/77"} | overrides


def intervention(**overrides) -> dict:
    return {"organiser_id": ORG, "school_unit_code": "12345678", "group_id": "7A", "student_id": f"s-{next(_n)}",
            "subject_code": "GRGRMAT01", "kind": "extra_adjustment", "status": "decided",
            "start_date": "2026-09-01", "evaluation_date": "2026-11-01", "decided_by_role": "teacher",
            "decided_by": "t-1", "decided_on": "2026-09-01", "description": "Lugn miljö"} | overrides


# route → the roles that may call it for their own organiser
WRITERS = frozenset({"platform"})
EXPECTED = {
    "POST /v1/assessments": WRITERS,
    "POST /v1/assessments/batch": WRITERS,
    "POST /v1/assessments/{assessment_id}/retract": WRITERS,
    "POST /v1/plans": WRITERS,
    "POST /v1/plans/batch": WRITERS,
    "POST /v1/plans/{plan_id}/retract": WRITERS,
    "POST /v1/support-interventions": WRITERS,
    "POST /v1/support-interventions/batch": WRITERS,
    "POST /v1/support-interventions/{intervention_id}/retract": WRITERS,
}
NEW = {"assessments": assessment, "plans": plan, "support-interventions": intervention}
ID_OF = {"assessments": "assessment_id", "plans": "plan_id", "support-interventions": "intervention_id"}

def requests_for(client, owner_token: str) -> dict[str, Request]:
    """How to call each route afresh: path and body (a retraction first stores a record of ORG)."""

    def single(kind: str) -> Request:
        async def make() -> tuple[str, dict]:
            return f"/v1/{kind}", NEW[kind]()
        return make

    def batch(kind: str) -> Request:
        async def make() -> tuple[str, dict]:
            return f"/v1/{kind}/batch", {"items": [NEW[kind](), NEW[kind]()]}
        return make

    def retract(kind: str) -> Request:
        async def make() -> tuple[str, dict]:
            stored = await client.post(f"/v1/{kind}", json=NEW[kind](), headers=testing.bearer(owner_token))
            assert stored.status_code == 201, stored.text
            return fill(f"/v1/{kind}/{{id}}/retract", id=stored.json()[ID_OF[kind]]), {}
        return make

    out: dict[str, Request] = {}
    for kind, id_name in ID_OF.items():
        out[f"POST /v1/{kind}"] = single(kind)
        out[f"POST /v1/{kind}/batch"] = batch(kind)
        out[f"POST /v1/{kind}/{{{id_name}}}/retract"] = retract(kind)
    return out


async def test_every_route_declares_a_guard_and_has_an_expected_answer(settings):
    async with testing.app_and_client("styrkedja_assessment", settings) as (app, _):
        assert routes_without_guard(app) == []
        assert set(EXPECTED) == route_keys(app)


async def test_scope_matrix_every_route_every_role_in_and_out_of_scope(settings, token_issuer, db):
    async with testing.app_and_client("styrkedja_assessment", settings) as (app, client):
        requests = requests_for(client, role_token(token_issuer, "platform", [ORG]))
        assert set(requests) == route_keys(app) == set(EXPECTED)
        wrong = await scope_matrix_failures(
            client, token_issuer, db, expected=EXPECTED, requests=requests, tables=TABLES, organiser=ORG,
            other_organiser=OTHER_ORG, refusal_rules=("role", "write_scope"),
            hidden_out_of_scope={route for route in EXPECTED if route.endswith(("/retract", "/withdraw"))},
            school_units=["12345678"], areas=["north"], groups=["12345678/7A"])
    assert not wrong, "\n".join(wrong)


async def test_token_attacks_on_every_route_are_401(settings, token_issuer):
    async with testing.app_and_client("styrkedja_assessment", settings) as (app, client):
        assert await token_attack_failures(client, app, token_issuer) == []


@pytest.mark.parametrize("kind", list(NEW))
async def test_a_batch_with_one_foreign_item_is_403_naming_it_and_stores_nothing(settings, token_issuer, db, kind):
    token = role_token(token_issuer, "platform", [ORG])
    async with testing.app_and_client("styrkedja_assessment", settings, token=token) as (_, client):
        items = [NEW[kind](), NEW[kind](organiser_id=OTHER_ORG), NEW[kind](), NEW[kind](organiser_id="0000")]
        response = await client.post(f"/v1/{kind}/batch", json={"items": items})
        assert response.status_code == 403, response.text
        assert problem_fields(response) == [("items.1.organiser_id", "write_scope"),
                                            ("items.3.organiser_id", "write_scope")]
        assert await table_counts(db, TABLES) == (0,) * len(TABLES)


async def test_a_platform_of_two_organisers_writes_for_both(settings, token_issuer, db):
    token = role_token(token_issuer, "platform", [ORG, OTHER_ORG])
    async with testing.app_and_client("styrkedja_assessment", settings, token=token) as (_, client):
        response = await client.post("/v1/assessments/batch", json={"items": [
            assessment(), assessment(organiser_id=OTHER_ORG)]})
        assert response.status_code == 201, response.text


@pytest.mark.parametrize("kind", list(NEW))
async def test_another_organisers_record_cannot_be_revised_or_retracted_by_id(settings, token_issuer, db, kind):
    """Ids are the platform's to choose: a record stored for one organiser is not another's to change,
    even when the request names the other organiser in its body."""
    ours = role_token(token_issuer, "platform", [ORG])
    theirs = role_token(token_issuer, "platform", [OTHER_ORG])
    async with testing.app_and_client("styrkedja_assessment", settings, token=ours) as (_, client):
        first = NEW[kind]()
        stored = await client.post(f"/v1/{kind}", json=first)
        assert stored.status_code == 201, stored.text
        record_id = stored.json()[ID_OF[kind]]
        before = await table_counts(db, TABLES)
        use_token(client, theirs)
        revised = await client.post(f"/v1/{kind}", json=first | {ID_OF[kind]: record_id, "organiser_id": OTHER_ORG})
        assert revised.status_code == 403 and problem_fields(revised) == [(ID_OF[kind], "write_scope")]
        in_batch = await client.post(f"/v1/{kind}/batch", json={"items": [
            NEW[kind](organiser_id=OTHER_ORG), first | {ID_OF[kind]: record_id, "organiser_id": OTHER_ORG}]})
        assert in_batch.status_code == 403 and problem_fields(in_batch) == [(f"items.1.{ID_OF[kind]}", "write_scope")]
        # answered as an id never stored (the same 404 and words), not a 403 telling the id is stored for another
        retracted = await client.post(f"/v1/{kind}/{record_id}/retract", json={})
        never = await client.post(f"/v1/{kind}/00000000-0000-4000-8000-000000000000/retract", json={})
        assert retracted.status_code == never.status_code == 404, retracted.text
        assert retracted.json()["errors"] == never.json()["errors"] == [
            {"field": ID_OF[kind], "rule": "must_exist", "message": never.json()["errors"][0]["message"]}]
        assert await table_counts(db, TABLES) == before

"""Access to reporting with real tokens: every route of the app (enumerated from it) × every role ×
in / out of scope; token attacks on every route; suppression of small groups on the server; the
audit trail of student-level reads."""

from __future__ import annotations

from datetime import date
from uuid import uuid4, uuid5

import pytest

from styrkedja_devstack.testing import service_client
from styrkedja_devstack.token_attacks import attack_authorizations
from styrkedja_kit.auth import OPEN_PATHS, api_routes, routes_without_guard
from styrkedja_kit.db import Database
from styrkedja_reporting.main import create_app
from styrkedja_reporting.settings import ReportingSettings

from .test_directory import NS, Feeder, directory, membership, published

pytestmark = [pytest.mark.integration, pytest.mark.postgres_only]

ORG, UNIT, GROUP, AREA = "2999", "11111111", "11111111/7A", "north"
ROLES = ("platform", "teacher", "principal", "ict_coordinator", "area_manager", "organiser_admin", "politician", "public",
         "ops")
YEAR_TERM = {"school_year": "2026/27", "term": "HT"}
FIGURE = {"level": "school_unit", "organiser_id": ORG, "unit_id": UNIT, **YEAR_TERM}
SUPPORT = {"level": "school_unit", "unit_id": UNIT, "organiser_id": ORG}
#: the support reads that take a period (the others refuse a parameter they do not take: `unknown_parameter`)
PERIOD_OF = {"summary": YEAR_TERM, "plan-coverage": YEAR_TERM}
READ_GROUP = {"level": "group", "organiser_id": ORG, "unit_id": GROUP}
ADMIN, AREA_M, PRINC, TEACH, POL, OPS, PLAT, ICT = ("organiser_admin", "area_manager", "principal", "teacher",
                                                    "politician", "ops", "platform", "ict_coordinator")
MEMBERSHIP = membership("m-x", ORG, UNIT, "7A", "p-x", date(2026, 8, 17))
CHANGES = {"items": [{"type": MEMBERSHIP.type, "data": MEMBERSHIP.data.model_dump(mode="json")}]}
REMOVALS = {"entities": [{"organiser_id": ORG, "entity_key": "membership:m-none"}],
            "removed_at": "2026-09-01T08:00:00+00:00"}
ALERT = str(uuid4())

#: "METHOD path" → (path filled in, query, JSON body, roles that may call it in scope). A route of
#: the app missing here fails the matrix: a new route needs its rule written down.
MATRIX: dict[str, tuple[str, dict, dict | None, set[str]]] = {
    "GET /v1/results/assessments": ("/v1/results/assessments", READ_GROUP, None, {TEACH, PRINC, AREA_M, ADMIN}),
    "GET /v1/results/forecasts": ("/v1/results/forecasts", READ_GROUP, None, {TEACH, PRINC, AREA_M, ADMIN}),
    # the ICT coordinator reads its own units at unit level (`policy.GRANTS`): the figures there, never a group's or a
    # student's (the drill-down is into groups), nor a compliance list (privacy round 29), nor a support figure
    # (`Grant.refused`, privacy round 30)
    **{f"GET /v1/figures/{name}": (f"/v1/figures/{name}", FIGURE, None,
                                   {PRINC, AREA_M, ADMIN} | ({ICT} if name != "drill-down" else set()))
       for name in ("trend", "history", "gender-gap", "freshness", "coverage", "drill-down", "forecast-outcome",
                    "merit")},
    "GET /v1/directory/organisers/{organiser_id}/tree": (f"/v1/directory/organisers/{ORG}/tree", {}, None,
                                                         {ADMIN, AREA_M, PRINC, TEACH, POL}),
    "GET /v1/directory/units/{unit_id}": ("/v1/directory/units/su-a", {"organiser_id": ORG}, None,
                                          {ADMIN, AREA_M, PRINC, TEACH, POL}),
    "GET /v1/directory/roster-sizes": ("/v1/directory/roster-sizes", {"level": "group", "organiser_id": ORG}, None,
                                       {ADMIN, AREA_M, PRINC, TEACH}),
    "POST /v1/directory/changes": ("/v1/directory/changes", {}, CHANGES, {PLAT}),
    "POST /v1/directory/removals": ("/v1/directory/removals", {}, REMOVALS, {PLAT, ADMIN}),
    "GET /v1/directory/held": ("/v1/directory/held", {"organiser_id": ORG}, None, {PLAT, ADMIN}),
    "GET /v1/lika/school-units": ("/v1/lika/school-units", {"organiser_id": ORG}, None, {ADMIN, AREA_M, PRINC}),
    "GET /v1/lika/compilation": ("/v1/lika/compilation", {"organiser_id": ORG, "area_id": AREA,
                                                          "school_unit_code": UNIT}, None, {ADMIN, AREA_M, PRINC}),
    "GET /v1/lika/compilation/activities": ("/v1/lika/compilation/activities", {
        "organiser_id": ORG, "area_id": AREA, "school_unit_code": UNIT}, None, {ADMIN, AREA_M, PRINC}),
    "GET /v1/lika/compilation/over-time": ("/v1/lika/compilation/over-time", {"organiser_id": ORG, "area_id": AREA},
                                           None, {ADMIN, AREA_M}),
    "GET /v1/alerts": ("/v1/alerts", {"organiser_id": ORG}, None, {ADMIN, AREA_M, PRINC, TEACH}),
    "POST /v1/alerts/{alert_id}/acknowledge": (f"/v1/alerts/{ALERT}/acknowledge", {}, {"comment": "ok"},
                                               {ADMIN, AREA_M, PRINC}),
    "GET /v1/alert-thresholds/{organiser_id}": (f"/v1/alert-thresholds/{ORG}", {}, None, {ADMIN}),
    "PUT /v1/alert-thresholds/{organiser_id}": (f"/v1/alert-thresholds/{ORG}", {}, {"min_students": 12}, {ADMIN}),
    "GET /v1/school-units/{school_unit_code}/students-at-risk": (
        f"/v1/school-units/{UNIT}/students-at-risk", YEAR_TERM, None, {ADMIN, PRINC}),
    "POST /v1/admin/alerts/reevaluate": ("/v1/admin/alerts/reevaluate", {}, None, {OPS}),
    "POST /v1/admin/alerts/freshness-sweep": ("/v1/admin/alerts/freshness-sweep", {}, None, {OPS}),
    "GET /v1/compliance/organisers/{organiser_id}/school-units": (
        f"/v1/compliance/organisers/{ORG}/school-units", YEAR_TERM, None, {ADMIN, AREA_M}),
    "GET /v1/compliance/organisers/{organiser_id}/school-units/{school_unit_code}": (
        f"/v1/compliance/organisers/{ORG}/school-units/{UNIT}", YEAR_TERM, None, {ADMIN, AREA_M, PRINC}),
    "GET /v1/compliance/organisers/{organiser_id}/school-units/{school_unit_code}/items": (
        f"/v1/compliance/organisers/{ORG}/school-units/{UNIT}/items", YEAR_TERM, None, {ADMIN, PRINC}),
    "GET /v1/compliance/organisers/{organiser_id}/rounds/{round}/school-units": (
        f"/v1/compliance/organisers/{ORG}/rounds/2/school-units", {"school_year": "2026/27"}, None, {ADMIN, AREA_M}),
    "GET /v1/compliance/organisers/{organiser_id}/rounds/{round}/school-units/{school_unit_code}": (
        f"/v1/compliance/organisers/{ORG}/rounds/2/school-units/{UNIT}", {"school_year": "2026/27"}, None,
        {ADMIN, AREA_M, PRINC}),
    "GET /v1/compliance/organisers/{organiser_id}/rounds/{round}/school-units/{school_unit_code}/items": (
        f"/v1/compliance/organisers/{ORG}/rounds/2/school-units/{UNIT}/items", {"school_year": "2026/27"}, None,
        {ADMIN, PRINC}),
    **{f"GET /v1/support/{name}": (f"/v1/support/{name}", {**SUPPORT, **PERIOD_OF.get(name, {})}, None,
                                   {ADMIN, AREA_M, PRINC})
       for name in ("summary", "kinds", "below-pass-without-support", "open-investigations", "results-before-after",
                    "plan-coverage")},
    # a list of students: student level, which an area manager does not read (round 23a)
    "GET /v1/support/below-pass-without-support/students": ("/v1/support/below-pass-without-support/students",
                                                            SUPPORT, None, {ADMIN, PRINC}),
    "GET /v1/admin/consistency": ("/v1/admin/consistency", {}, None, {OPS}),
    "GET /v1/admin/unplaced": ("/v1/admin/unplaced", {}, None, {OPS}),
    "GET /v1/audit/reads": ("/v1/audit/reads", {"organiser_id": ORG}, None, {ADMIN}),
}
#: More places for routes whose rule depends on the level: "METHOD path" → [(query, roles that may call
#: it in scope, roles that may call it for any organiser)]. Support and roster aggregates: the politician
#: at area and organiser level, the public at organiser level of any organiser (both suppressed).
PUBLIC = "public"
AREA_PLACE = {"level": "area", "unit_id": AREA, "organiser_id": ORG}
ORG_PLACE = {"level": "organiser", "unit_id": ORG, "organiser_id": ORG}
MORE_PLACES: dict[str, list[tuple[dict, set[str], set[str]]]] = {
    **{f"GET /v1/support/{name}": [({**AREA_PLACE, **PERIOD_OF.get(name, {})}, {ADMIN, AREA_M, POL}, set()),
                                   ({**ORG_PLACE, **PERIOD_OF.get(name, {})}, {ADMIN, POL, PUBLIC}, {PUBLIC})]
       for name in ("summary", "kinds", "below-pass-without-support", "open-investigations",
                    "results-before-after", "plan-coverage")},
    "GET /v1/directory/roster-sizes": [({"level": "area", "organiser_id": ORG}, {ADMIN, AREA_M, POL}, set()),
                                       ({"level": "organiser", "organiser_id": ORG}, {ADMIN, POL, PUBLIC}, {PUBLIC})],
}
NOT_ORGANISER_BOUND = {"POST /v1/admin/alerts/reevaluate", "POST /v1/admin/alerts/freshness-sweep", "GET /v1/admin/consistency", "GET /v1/admin/unplaced"}


def claims(role: str, inside: bool) -> dict:
    """A token of `role` whose scope holds the matrix's place (inside) or another organiser's."""
    if not inside:
        return {"organisers": ["9999"], "school_units": ["99999999"], "areas": ["far"], "groups": ["99999999/9Z"]}
    return {"platform": {"organisers": [ORG], "client_id": "platform-a"},
            "teacher": {"organisers": [ORG], "groups": [GROUP]},
            "principal": {"organisers": [ORG], "school_units": [UNIT]},
            "ict_coordinator": {"organisers": [ORG], "school_units": [UNIT]},
            "area_manager": {"organisers": [ORG], "areas": [AREA]},
            "organiser_admin": {"organisers": [ORG]}, "politician": {"organisers": [ORG]},
            "public": {}, "ops": {}}[role]


@pytest.fixture
async def fed(settings):
    database = Database(settings.database_url)
    await Feeder(database)(directory() + [
        published(uuid5(NS, "acc-1"), 1, "A", ORG, UNIT, "7A", "s-1"),
        published(uuid5(NS, "acc-2"), 1, "F", ORG, "22222222", "7A", "s-2"),
        published(uuid5(NS, "acc-3"), 1, "C", "3001", "33333333", "7A", "s-3"),
        membership("m1", ORG, UNIT, "7A", "s-1", date(2026, 8, 17)),
    ])
    yield database
    await database.dispose()


def _request(client, method: str, path: str, params: dict, body: dict | None, token: str | None):
    headers = {} if token is None else {"Authorization": token}
    return client.request(method, path, params=params, json=body, headers=headers)


async def test_every_route_has_a_guard_and_a_rule_in_the_matrix(settings):
    app = create_app(settings)
    assert routes_without_guard(app) == []
    routes = {f"{m} {r.path}" for r in api_routes(app) if r.path not in OPEN_PATHS for m in r.methods}
    assert routes == set(MATRIX), f"routes without a rule: {routes - set(MATRIX)}; stale: {set(MATRIX) - routes}"


async def test_scope_matrix_every_route_every_role_in_and_out_of_scope(fed, bare_client, token_issuer):
    failures = []
    places = [(route, path, params, body, allowed, set()) for route, (path, params, body, allowed) in MATRIX.items()]
    places += [(route, MATRIX[route][0], params, None, allowed, anywhere)
               for route, more in MORE_PLACES.items() for params, allowed, anywhere in more]
    for route, path, params, body, allowed, anywhere in places:
        method = route.split(" ", 1)[0]
        for role in ROLES:
            for inside in (True, False):
                if not inside and route in NOT_ORGANISER_BOUND:
                    continue
                token = "Bearer " + token_issuer.mint(roles=[role], **claims(role, inside))
                response = await _request(bare_client, method, path, params, body, token)
                may = role in allowed and (inside or role in anywhere)
                if may and (response.status_code in (401, 403) or response.status_code >= 500):
                    failures.append((route, role, inside, response.status_code, response.text[:200]))
                refused = {403, 404} if route.startswith("POST /v1/alerts/") else {403}
                if not may and response.status_code not in refused:
                    failures.append((route, role, inside, response.status_code, response.text[:200]))
                if response.status_code == 403:
                    assert response.headers["content-type"].startswith("application/problem+json")
                    assert "s-1" not in response.text and "11111111/7A" not in response.text
    assert failures == []


async def test_token_attacks_on_every_route_are_401(fed, bare_client, token_issuer):
    attacks = attack_authorizations(token_issuer, organisers=[ORG])
    for route, (path, params, body, _) in MATRIX.items():
        for name, authorization in attacks.items():
            response = await _request(bare_client, route.split(" ", 1)[0], path, params, body, authorization)
            assert response.status_code == 401, (route, name, response.text)
            assert response.headers["WWW-Authenticate"].startswith("Bearer")


async def test_a_write_for_another_organiser_is_403_and_stores_nothing(fed, bare_client, token_issuer):
    token = "Bearer " + token_issuer.mint(roles=["platform"], organisers=["3001"], client_id="platform-b")
    response = await bare_client.post("/v1/directory/changes", json=CHANGES, headers={"Authorization": token})
    assert response.status_code == 403 and "organiser_id" in response.text
    async with fed.sessions() as session:
        from sqlalchemy import text
        assert (await session.execute(text("SELECT count(*) FROM outbox"))).scalar_one() == 0


async def test_politician_sees_small_groups_withheld_admin_sees_exact_values(fed, bare_client, token_issuer):
    politician = {"Authorization": "Bearer " + token_issuer.mint(roles=["politician"], organisers=[ORG])}
    admin = {"Authorization": "Bearer " + token_issuer.mint(roles=["organiser_admin"], organisers=[ORG])}
    params = {"level": "area", "organiser_id": ORG}
    hidden = (await bare_client.get("/v1/results/assessments", params=params, headers=politician)).json()
    assert {c["unit_id"] for c in hidden} == {"north", "south"}
    for cell in hidden:
        assert cell["reason"] == "OMITTED_DUE_TO_BASED_ON_FEW_PUPILS"
        assert cell["assessed"] is None and cell["distribution"] is None and cell["share_reaching_pass"] is None
    csv = await bare_client.get("/v1/results/assessments", params={**params, "format": "csv"}, headers=politician)
    assert csv.status_code == 200 and ".." in csv.text
    exact = (await bare_client.get("/v1/results/assessments", params=params, headers=admin)).json()
    assert {c["unit_id"]: c["distribution"] for c in exact} == {"north": {"A": 1}, "south": {"F": 1}}
    assert all(c["reason"] == "EXISTS" for c in exact)
    for name in ("trend", "gender-gap", "drill-down", "merit", "forecast-outcome", "coverage"):
        for fmt in ("json", "csv", "xlsx"):
            figure = await bare_client.get(f"/v1/figures/{name}", headers=politician, params={
                "level": "organiser", "organiser_id": ORG, "unit_id": ORG, **YEAR_TERM, "format": fmt})
            assert figure.status_code == 200, (name, fmt, figure.text)
    trend = (await bare_client.get("/v1/figures/trend", headers=politician, params={
        "level": "area", "organiser_id": ORG, "unit_id": AREA, **YEAR_TERM})).json()
    assert trend["rows"] and all(r["assessed"] is None for r in trend["rows"])  # 1 student: withheld
    exact = (await bare_client.get("/v1/figures/trend", headers=admin, params={
        "level": "area", "organiser_id": ORG, "unit_id": AREA, **YEAR_TERM})).json()
    assert [r["assessed"] for r in exact["rows"]] == [1]
    # the politician reads no school-unit level at all; the area manager sees its unit exactly
    assert (await bare_client.get("/v1/results/assessments", params={"level": "school_unit", "organiser_id": ORG},
                                  headers=politician)).status_code == 403
    manager = {"Authorization": "Bearer " + token_issuer.mint(roles=["area_manager"], organisers=[ORG],
                                                              areas=[AREA])}
    units = (await bare_client.get("/v1/results/assessments", params={"level": "school_unit", "organiser_id": ORG},
                                   headers=manager)).json()
    assert [(c["unit_id"], c["assessed"]) for c in units] == [(UNIT, 1)]  # its own area only, exact


async def test_a_teacher_gets_own_groups_from_the_directory(fed, bare_client, token_issuer):
    teacher = {"Authorization": "Bearer " + token_issuer.mint(roles=["teacher"], organisers=[ORG])}
    params = {"level": "group", "organiser_id": ORG}
    assert (await bare_client.get("/v1/results/assessments", params=params, headers=teacher)).json() == []
    with_group = {"Authorization": "Bearer " + token_issuer.mint(roles=["teacher"], organisers=[ORG],
                                                                 groups=[GROUP])}
    cells = (await bare_client.get("/v1/results/assessments", params=params, headers=with_group)).json()
    assert [c["unit_id"] for c in cells] == [GROUP]


async def test_student_level_reads_are_audited_for_the_organiser_admin(fed, bare_client, token_issuer):
    admin = {"Authorization": "Bearer " + token_issuer.mint(roles=["organiser_admin"], organisers=[ORG],
                                                            subject="admin-1")}
    principal = {"Authorization": "Bearer " + token_issuer.mint(roles=["principal"], organisers=[ORG],
                                                                school_units=[UNIT], subject="rektor-1")}
    students = (await bare_client.get("/v1/results/assessments", params={"level": "student", "organiser_id": ORG},
                                      headers=principal)).json()
    assert [c["unit_id"] for c in students] == ["s-1"]  # only its own unit's students
    assert (await bare_client.get(f"/v1/school-units/{UNIT}/students-at-risk", params=YEAR_TERM,
                                  headers=principal)).status_code == 200
    # a figure above student level is not audited
    await bare_client.get("/v1/results/assessments", params={"level": "school_unit", "organiser_id": ORG},
                          headers=principal)
    rows = (await bare_client.get("/v1/audit/reads", params={"organiser_id": ORG}, headers=admin)).json()
    assert [(r["subject"], r["roles"], r["level"]) for r in rows] == [("rektor-1", "principal", "student")] * 2
    assert {r["what"].split("?")[0] for r in rows} == {"GET /v1/results/assessments",
                                                      f"GET /v1/school-units/{UNIT}/students-at-risk"}
    other = {"Authorization": "Bearer " + token_issuer.mint(roles=["organiser_admin"], organisers=["3001"])}
    assert (await bare_client.get("/v1/audit/reads", params={"organiser_id": ORG}, headers=other)).status_code == 403
    assert (await bare_client.get("/v1/audit/reads", params={"organiser_id": ORG},
                                  headers=principal)).status_code == 403


async def test_the_service_refuses_to_start_without_an_issuer(settings, monkeypatch):
    monkeypatch.delenv("STYRKEDJA_AUTH_ISSUER")
    with pytest.raises(RuntimeError, match="STYRKEDJA_AUTH_ISSUER"):
        async with service_client("styrkedja_reporting", ReportingSettings()):
            pass


async def test_a_disclosure_decision_is_kept_until_the_state_changes(fed, bare_client, token_issuer):
    """The decision is computed once per state (`access.decision.decision_for`): the same read again
    takes it from the cache; after a batch is applied it is decided again on the new state."""
    from styrkedja_reporting.access import decision as disclose

    politician = {"Authorization": "Bearer " + token_issuer.mint(roles=["politician"], organisers=[ORG])}
    params = {"level": "area", "organiser_id": ORG}
    computed = []
    original = disclose.components_read

    async def counting(*args, **kwargs):
        computed.append(sorted(args[1]))
        return await original(*args, **kwargs)

    disclose.components_read = counting
    try:
        first = (await bare_client.get("/v1/results/assessments", params=params, headers=politician)).json()
        again = (await bare_client.get("/v1/results/assessments", params=params, headers=politician)).json()
        assert first == again and len(computed) == 1
        assert all(c["reason"] == "OMITTED_DUE_TO_BASED_ON_FEW_PUPILS" for c in first)
        # ten more students in each area: a new state, decided again, both cells now shown
        await Feeder(fed)([published(uuid5(NS, f"acc-{code}-{i}"), 1, "B", ORG, code, "7A", f"s-{code}-{i}")
                           for code in (UNIT, "22222222") for i in range(10)])
        after = {c["unit_id"]: c for c in (await bare_client.get(
            "/v1/results/assessments", params=params, headers=politician)).json()}
        assert len(computed) == 2
        assert {unit: (c["assessed"], c["reason"]) for unit, c in after.items()} == {
            "north": (11, "EXISTS"), "south": (11, "EXISTS")}
    finally:
        disclose.components_read = original

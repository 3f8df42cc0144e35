"""Access to the forecast service: every route of the app × every role × a token for the forecast's
organiser (in scope) or another one (out of scope) → the expected status, a 403 storing nothing; the
token attacks on every route → 401; a batch with one foreign item → 403 naming it.

Platform clients are the only writers of forecasts, each for its own organiser(s); the organiser
admin sets its organiser's reporting calendar, which every role that reads figures may read. A forecast's id is derived from
its organiser and key, so one organiser's submission never lands on another's forecast; a withdrawal
names an id, and the stored forecast's organiser must be the token's. The service has no read routes."""

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
TABLES = ("forecasts", "forecast_revisions", "organiser_calendars", "organiser_calendar_revisions", "outbox")
_n = itertools.count()


def forecast(**overrides) -> dict:
    return {"organiser_id": ORG, "school_unit_code": "12345678", "group_id": "7A", "student_id": f"s-{next(_n)}",
            "teacher_id": "t-1", "gender": "female", "year": 7, "subject_code": "GRGRMAT01",
            "school_year": "2098/99", "term": "HT", "value": "ACCEPTABLE"} | overrides


#: route → the roles that may call it for their own organiser
EXPECTED = {
    "POST /v1/forecasts": frozenset({"platform"}),
    "POST /v1/forecasts/batch": frozenset({"platform"}),
    "POST /v1/forecasts/{forecast_id}/withdraw": frozenset({"platform"}),
    # the reporting calendar (årshjul): read by every role that reads figures, set by the organiser admin
    "GET /v1/calendars/{organiser_id}": frozenset({"teacher", "principal", "ict_coordinator", "area_manager",
                                                   "organiser_admin", "politician", "public"}),
    "PUT /v1/calendars/{organiser_id}": frozenset({"organiser_admin"}),
}
#: reads any organiser's (published figures' calendars are public): in scope for another organiser too
EVERY_ORGANISER = {("GET /v1/calendars/{organiser_id}", "public")}

def requests_for(client, owner_token: str) -> dict[str, Request]:
    async def single() -> tuple[str, dict | None]:
        return "/v1/forecasts", forecast()

    async def batch() -> tuple[str, dict | None]:
        return "/v1/forecasts/batch", {"items": [forecast(), forecast()]}

    async def withdraw() -> tuple[str, dict | None]:
        stored = await client.post("/v1/forecasts", json=forecast(), headers=testing.bearer(owner_token))
        assert stored.status_code == 201, stored.text
        return fill("/v1/forecasts/{id}/withdraw", id=stored.json()["forecast_id"]), {}

    async def read_calendar() -> tuple[str, dict | None]:
        return f"/v1/calendars/{ORG}", None

    weeks = itertools.cycle([43, 44])

    async def set_calendar() -> tuple[str, dict | None]:
        return f"/v1/calendars/{ORG}", {"forecast_windows": [
            {"term": "HT", "iso_week": next(weeks), "deadline_weekday": 5},
            {"term": "VT", "iso_week": 13, "deadline_weekday": 5}],
            "grace_days": 0, "round_deadlines": [], "timezone": "Europe/Stockholm"}

    return {"POST /v1/forecasts": single, "POST /v1/forecasts/batch": batch,
            "POST /v1/forecasts/{forecast_id}/withdraw": withdraw,
            "GET /v1/calendars/{organiser_id}": read_calendar, "PUT /v1/calendars/{organiser_id}": set_calendar}


async def test_every_route_declares_a_guard_and_has_an_expected_answer(settings):
    async with testing.app_and_client("styrkedja_forecast", settings) as (app, _):
        assert routes_without_guard(app) == []
        assert set(EXPECTED) == route_keys(app)


async def test_scope_matrix_every_route_every_role_in_and_out_of_scope(settings, token_issuer, db):
    async with testing.app_and_client("styrkedja_forecast", settings) as (app, client):
        requests = requests_for(client, role_token(token_issuer, "platform", [ORG]))
        assert set(requests) == route_keys(app) == set(EXPECTED)
        wrong = await scope_matrix_failures(
            client, token_issuer, db, expected=EXPECTED, requests=requests, tables=TABLES, organiser=ORG,
            other_organiser=OTHER_ORG, refusal_rules=("role", "write_scope", "read_scope"),
            hidden_out_of_scope={route for route in EXPECTED if route.endswith(("/retract", "/withdraw"))},
            reaches_every_organiser=EVERY_ORGANISER, school_units=["12345678"], areas=["north"],
            groups=["12345678/7A"])
    assert not wrong, "\n".join(wrong)


async def test_token_attacks_on_every_route_are_401(settings, token_issuer):
    async with testing.app_and_client("styrkedja_forecast", settings) as (app, client):
        assert await token_attack_failures(client, app, token_issuer) == []


async def test_a_batch_with_one_foreign_item_is_403_naming_it_and_stores_nothing(settings, token_issuer, db):
    token = role_token(token_issuer, "platform", [ORG])
    async with testing.app_and_client("styrkedja_forecast", settings, token=token) as (_, client):
        response = await client.post("/v1/forecasts/batch", json={"items": [
            forecast(), forecast(), forecast(organiser_id=OTHER_ORG)]})
        assert response.status_code == 403, response.text
        assert problem_fields(response) == [("items.2.organiser_id", "write_scope")]
        assert await table_counts(db, TABLES) == (0,) * len(TABLES)


async def test_another_organisers_forecast_cannot_be_withdrawn(settings, token_issuer, db):
    async with testing.app_and_client("styrkedja_forecast", settings,
                                      token=role_token(token_issuer, "platform", [ORG])) as (_, client):
        stored = await client.post("/v1/forecasts", json=forecast())
        assert stored.status_code == 201, stored.text
        before = await table_counts(db, TABLES)
        use_token(client, role_token(token_issuer, "platform", [OTHER_ORG]))
        # a forecast's id is derived from organiser, student, subject and period: anyone may compute another
        # organiser's, so it is answered as an id never stored (the same 404 and words), not a 403 telling it is stored
        response = await client.post(f"/v1/forecasts/{stored.json()['forecast_id']}/withdraw", json={})
        never = await client.post("/v1/forecasts/00000000-0000-4000-8000-000000000000/withdraw", json={})
        assert response.status_code == never.status_code == 404, response.text
        assert response.json()["errors"] == never.json()["errors"]
        assert problem_fields(response) == [("forecast_id", "must_exist")]
        assert await table_counts(db, TABLES) == before

"""The reporting calendar (årshjul) API of the forecast service, in-process against a real
PostgreSQL, with tokens from the dev issuer: read/set per organiser, one `calendar.changed.v1`
per change in the outbox, and the late flag of later forecasts by the organiser's calendar."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest

from styrkedja_contracts.calendar import DEFAULT_CALENDAR, forecast_window, is_forecast_late
from styrkedja_contracts.events.calendar import ReportingCalendar
from styrkedja_devstack import testing
from styrkedja_devstack.testing import problem_fields
from styrkedja_forecast.settings import ForecastSettings
from styrkedja_kit.auth import routes_without_guard

pytestmark = [pytest.mark.integration, pytest.mark.postgres_only]

ORG, OTHER = "2999", "1480"
DEFAULT = {"forecast_windows": [{"term": "HT", "iso_week": 43, "deadline_weekday": 5},
                                {"term": "VT", "iso_week": 13, "deadline_weekday": 5}],
           "grace_days": 0, "round_deadlines": [], "timezone": "Europe/Stockholm"}
# an organiser's own calendar: each week in its term (HT 27–52, VT 1–26)
OWN = {"forecast_windows": [{"term": "HT", "iso_week": 45, "deadline_weekday": 5},
                            {"term": "VT", "iso_week": 12, "deadline_weekday": 4}],
       "grace_days": 3, "round_deadlines": [{"round": 2, "term": "HT", "iso_week": 47}],
       "timezone": "Europe/Stockholm"}


@pytest.fixture
def settings(service_database, token_issuer, monkeypatch) -> ForecastSettings:
    service_database("styrkedja_forecast")
    monkeypatch.setenv("STYRKEDJA_AUTH_ISSUER", token_issuer.url)
    return ForecastSettings()


@pytest.fixture
def client_token() -> None:
    """This module's client sends no token of its own: each request names its caller."""
    return None


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


@pytest.fixture
def admin(token_issuer) -> dict[str, str]:
    return bearer(token_issuer.mint(roles=["organiser_admin"], organisers=[ORG], subject="admin-1"))


async def calendar_events(db) -> list:
    return [e for e in await testing.outbox_events(db, "styrkedja.forecasts")
            if e.type == "se.styrkedja.calendar.changed.v1"]


def test_every_calendar_route_declares_a_guard(settings):
    from styrkedja_forecast.main import create_app  # with the issuer set: the app refuses to start without

    assert [r for r in routes_without_guard(create_app(settings)) if "/v1/calendars" in r] == []


async def test_defaults_until_set_then_one_event_per_change(client, db, admin):
    got = await client.get(f"/v1/calendars/{ORG}", headers=admin)
    assert got.status_code == 200, got.text
    assert got.json() == {"organiser_id": ORG, "revision": 0, "default": True, "calendar": DEFAULT,
                          "status": "current"}

    put = await client.put(f"/v1/calendars/{ORG}", json=OWN, headers=admin)
    assert put.status_code == 200, put.text
    assert (put.json()["revision"], put.json()["status"], put.json()["default"]) == (1, "stored", False)
    assert put.json()["calendar"]["round_deadlines"] == [{"round": 2, "term": "HT", "iso_week": 47,
                                                         "deadline_weekday": 5}]
    again = await client.put(f"/v1/calendars/{ORG}", json=OWN, headers=admin)
    assert (again.json()["revision"], again.json()["status"]) == (1, "unchanged")

    [event] = await calendar_events(db)
    assert event.data.organiser_id == ORG and event.data.revision == 1
    assert event.data.calendar.grace_days == 3 and event.partition_key() == ORG.encode()

    reset = await client.put(f"/v1/calendars/{ORG}", json={"revision": 2}, headers=admin)  # omitted = defaults
    assert (reset.json()["revision"], reset.json()["calendar"]) == (2, DEFAULT)
    assert [e.data.revision for e in await calendar_events(db)] == [1, 2]
    assert (await client.get(f"/v1/calendars/{ORG}", headers=admin)).json()["revision"] == 2

    stale = await client.put(f"/v1/calendars/{ORG}", json=OWN | {"revision": 2}, headers=admin)
    assert stale.status_code == 409 and ("revision", "next_revision") in problem_fields(stale)
    assert len(await calendar_events(db)) == 2


async def test_later_forecasts_are_flagged_by_the_organisers_calendar(client, admin, token_issuer):
    # the service judges by its clock: a window two weeks ago is past whatever day the test runs
    past = date.today() - timedelta(days=14)
    year, week = past.isocalendar().year, min(past.isocalendar().week, 52)
    # the window moved to that week, of the term it lies in (a window's week lies in its term)
    term, first = ("HT", year) if week >= 27 else ("VT", year - 1)
    school_year = f"{first}/{(first + 1) % 100:02d}"
    platform = bearer(token_issuer.mint(roles=["platform"], organisers=[ORG, OTHER], client_id="unikum-like"))
    body = {"school_unit_code": "12345678", "group_id": "7A", "student_id": "s-1", "teacher_id": "t-1",
            "gender": "female", "year": 7, "subject_code": "GRGRMAT01", "school_year": school_year, "term": term,
            "value": "ACCEPTABLE"}
    by_default = forecast_window(school_year, term)
    default_late = is_forecast_late(datetime.now(UTC), school_year, term)
    before = await client.post("/v1/forecasts", json=body | {"organiser_id": ORG}, headers=platform)
    assert before.status_code == 201, before.text
    assert (before.json()["late"], before.json()["window_deadline"]) == (default_late, str(by_default.deadline))

    other_term = "VT" if term == "HT" else "HT"
    own = OWN | {"forecast_windows": [{"term": term, "iso_week": week, "deadline_weekday": 1},
                                      {"term": other_term, "iso_week": 12 if other_term == "VT" else 45}],
                 "grace_days": 0}
    assert (await client.put(f"/v1/calendars/{ORG}", json=own, headers=admin)).status_code == 200
    after = await client.post("/v1/forecasts", json=body | {"organiser_id": ORG, "student_id": "s-2"},
                              headers=platform)
    assert (after.json()["late"], after.json()["window_deadline"]) == (True, str(date.fromisocalendar(year, week, 1)))
    other = await client.post("/v1/forecasts", json=body | {"organiser_id": OTHER}, headers=platform)
    assert (other.json()["late"], other.json()["window_deadline"]) == (default_late, str(by_default.deadline))
    # one batch of both organisers, the same period: each item by its own organiser's calendar (a
    # batch computes each window once per organiser and period, never once for the whole batch)
    batch = await client.post("/v1/forecasts/batch", headers=platform, json={"items": [
        body | {"organiser_id": OTHER, "student_id": "s-3"}, body | {"organiser_id": ORG, "student_id": "s-3"},
        body | {"organiser_id": OTHER, "student_id": "s-4"}, body | {"organiser_id": ORG, "student_id": "s-4"}]})
    assert batch.status_code == 201, batch.text
    by_own = (True, str(date.fromisocalendar(year, week, 1)))
    by_default_window = (default_late, str(by_default.deadline))
    assert [(i["late"], i["window_deadline"]) for i in batch.json()["items"]] == [by_default_window, by_own,
                                                                                 by_default_window, by_own]


async def test_only_the_organisers_admin_sets_it_and_bad_calendars_are_named(client, token_issuer, admin):
    url = f"/v1/calendars/{ORG}"
    assert (await client.get(url)).status_code == 401
    assert (await client.put(url, json=OWN)).status_code == 401
    other_admin = bearer(token_issuer.mint(roles=["organiser_admin"], organisers=[OTHER]))
    refused = await client.put(url, json=OWN, headers=other_admin)
    assert refused.status_code == 403 and ("organiser_id", "write_scope") in problem_fields(refused)
    for roles in (["principal"], ["platform"], ["teacher"], ["ops"]):
        token = bearer(token_issuer.mint(roles=roles, organisers=[ORG], school_units=["12345678"]))
        assert (await client.put(url, json=OWN, headers=token)).status_code == 403, roles
    principal = bearer(token_issuer.mint(roles=["principal"], organisers=[ORG], school_units=["12345678"]))
    assert (await client.get(url, headers=principal)).status_code == 200  # the deadlines are no secret inside
    assert (await client.get(url, headers=other_admin)).status_code == 403

    for bad, field in ((OWN | {"grace_days": 61}, "grace_days"), (OWN | {"timezone": "Mars/Olympus"}, "timezone"),
                       (OWN | {"forecast_windows": [{"term": "HT", "iso_week": 53}] * 2}, "forecast_windows"),
                       (OWN | {"surprise": 1}, "surprise"), (OWN | {"revision": 0}, "revision")):
        response = await client.put(url, json=bad, headers=admin)
        assert response.status_code == 422, (bad, response.text)
        assert any(f.startswith(field) for f, _ in problem_fields(response)), (field, response.json())
    bad_id = await client.get("/v1/calendars/19800101-1234", headers=admin)
    assert bad_id.status_code == 422


async def test_one_organisers_calendar_by_any_spelling_of_its_number(client, db, token_issuer):
    """The path's organiser id and the token's claim in one spelling: set under `212000-1234` with a token
    for `2120001234`, the calendar is read back under `162120001234`, one revision, one event key.
    Failed on the old code: a 403 (the claim kept as typed, the path as typed)."""
    admin = bearer(token_issuer.mint(roles=["organiser_admin"], organisers=["2120001234"], subject="admin-2"))
    put = await client.put("/v1/calendars/212000-1234", json=OWN, headers=admin)
    assert put.status_code == 200, put.text
    assert (put.json()["organiser_id"], put.json()["revision"]) == ("212000-1234", 1)
    got = await client.get("/v1/calendars/162120001234", headers=admin)
    assert got.status_code == 200, got.text
    assert (got.json()["organiser_id"], got.json()["revision"], got.json()["default"]) == ("212000-1234", 1, False)
    again = await client.put("/v1/calendars/2120001234", json=OWN, headers=admin)
    assert (again.json()["revision"], again.json()["status"]) == (1, "unchanged")
    [event] = await calendar_events(db)
    assert event.data.organiser_id == "212000-1234" and event.partition_key() == b"212000-1234"


async def test_a_calendars_numbers_are_json_integers_never_text_decimals_or_booleans(client, db, admin):
    """Round 23c, failed on the old code: `"grace_days": "3"`, `true` (stored as 1), `3.0` and `1e0`, and an
    `iso_week` or `deadline_weekday` as text, were taken and stored as a new revision (one `calendar.changed.v1`
    each), where every other integer of a body is strict (round 22): the body is the contracts' `ReportingCalendar`,
    not the kit's `InputModel`. Now `int_type` naming the field, nothing stored."""
    url = f"/v1/calendars/{ORG}"
    windows = OWN["forecast_windows"]
    cases = [(OWN | {"grace_days": odd}, "grace_days") for odd in ("3", True, 3.0, 1e0)]
    cases += [(OWN | {"forecast_windows": [windows[0] | {"iso_week": "45"}, windows[1]]}, "forecast_windows.0.iso_week"),
              (OWN | {"forecast_windows": [windows[0], windows[1] | {"deadline_weekday": 4.0}]},
               "forecast_windows.1.deadline_weekday"),
              (OWN | {"round_deadlines": [{"round": 2, "term": "HT", "iso_week": "47"}]}, "round_deadlines.0.iso_week")]
    for body, field in cases:
        response = await client.put(url, json=body, headers=admin)
        assert response.status_code == 422, (body, response.text)
        assert (field, "int_type") in problem_fields(response), (field, response.json())
    assert (await client.get(url, headers=admin)).json()["revision"] == 0
    assert await calendar_events(db) == []


async def test_the_same_calendar_in_another_order_is_unchanged(client, db, admin):
    """Round 23c, failed on the old code: the same calendar with its two windows (or its round deadlines) listed in
    another order was a new revision and a second `calendar.changed.v1` — every consumer re-judging the organiser's
    lateness for no change — where "the same calendar again is `unchanged`". Now each list is kept in one order
    (windows HT then VT, deadlines by round), whatever order the request gives."""
    url = f"/v1/calendars/{ORG}"
    rounds = [{"round": 3, "term": "VT", "iso_week": 10}, {"round": 1, "term": "HT", "iso_week": 40}]
    first = await client.put(url, json=OWN | {"round_deadlines": rounds}, headers=admin)
    assert first.status_code == 200 and first.json()["revision"] == 1, first.text
    assert [d["round"] for d in first.json()["calendar"]["round_deadlines"]] == [1, 3]
    assert [w["term"] for w in first.json()["calendar"]["forecast_windows"]] == ["HT", "VT"]
    again = await client.put(url, json=OWN | {"forecast_windows": OWN["forecast_windows"][::-1],
                                              "round_deadlines": rounds[::-1]}, headers=admin)
    assert (again.json()["revision"], again.json()["status"]) == (1, "unchanged"), again.text
    assert len(await calendar_events(db)) == 1


@pytest.mark.parametrize("changed_at_read", [1, 2])
async def test_a_calendar_changed_while_a_forecast_is_judged_never_gives_it_the_replaced_ones_flag(
        client, db, admin, token_issuer, monkeypatch, changed_at_read):
    """The calendar is changed (and committed) right after the forecast's write read it — the first read, or
    the second: the one inside the write's transaction. Whatever the interleaving, the forecast's deadline is
    that of the calendar whose event precedes the forecast's in the outbox (the order reporting reads them in):
    a flag of the replaced calendar behind the `calendar.changed.v1` that replaced it is the bug."""
    import asyncio

    from sqlalchemy import text

    from styrkedja_forecast.calendar import tables

    body = {"organiser_id": ORG, "school_unit_code": "12345678", "group_id": "7A", "student_id": "s-1",
            "teacher_id": "t-1", "gender": "female", "year": 7, "subject_code": "GRGRMAT01",
            "school_year": "2025/26", "term": "HT", "value": "ACCEPTABLE"}
    platform = bearer(token_issuer.mint(roles=["platform"], organisers=[ORG], client_id="unikum-like"))
    load_many, reads, changes = tables.load_many, [], []

    async def read_then_change(session, organiser_ids):
        found = await load_many(session, organiser_ids)
        reads.append(1)
        if len(reads) == changed_at_read:
            change = asyncio.create_task(client.put(f"/v1/calendars/{ORG}", json=OWN, headers=admin))
            changes.append(change)
            # until the change has committed, or waits for this write (its lock not granted): never by the clock
            async with db.connect() as conn:
                while not change.done() and not (await conn.execute(text(
                        "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted"))).scalar():
                    await asyncio.sleep(0.01)
        return found

    monkeypatch.setattr(tables, "load_many", read_then_change)
    posted = await client.post("/v1/forecasts", json=body, headers=platform)
    assert posted.status_code == 201, posted.text
    assert changes, "the calendar was read once only: never inside the forecast's transaction"
    assert (await changes[0]).status_code == 200

    events = await testing.outbox_events(db, "styrkedja.forecasts")
    assert [e.type.split(".")[2] for e in events] in (["calendar", "forecast"], ["forecast", "calendar"])
    own_first = events[0].type == "se.styrkedja.calendar.changed.v1"
    judged_by = ReportingCalendar.model_validate(OWN) if own_first else DEFAULT_CALENDAR
    assert posted.json()["window_deadline"] == str(forecast_window("2025/26", "HT", judged_by).deadline)

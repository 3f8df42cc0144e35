"""Round 24 (c), the forecast service's writes: revisions that can always be revised and withdrawn, and a calendar
stored in another order (see tests/test_hostile_round24c.py for the round)."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import text

from styrkedja_devstack import testing
from styrkedja_devstack.testing import problem_fields

pytestmark = [pytest.mark.integration, pytest.mark.postgres_only]

MAX_INT4 = 2**31 - 1
MAX_NAMED_REVISION = MAX_INT4 - 2**20  # the contracts' MAX_NAMED_REVISION


def forecast(**overrides) -> dict:
    body = {"organiser_id": "2999", "school_unit_code": "12345678", "group_id": "7A", "student_id": "s-1",
            "teacher_id": "t-1", "gender": "female", "year": 7, "subject_code": "GRGRMAT01",
            "school_year": "2098/99", "term": "HT", "value": "ACCEPTABLE"}
    return body | overrides


async def set_revision(db, forecast_id: str, revision: int) -> None:
    async with db.begin() as conn:
        await conn.execute(text(f"UPDATE forecasts SET revision = {revision} WHERE forecast_id = :id"),
                           {"id": forecast_id})


async def test_a_forecast_at_the_highest_revision_a_sender_names_can_be_revised_and_withdrawn(client, db):
    """Failed on the old code: revision 2147483647 was taken (201), and then neither a change nor a withdrawal was
    possible (each a 422 `less_than_equal`: the next revision fits no database integer)."""
    last = await client.post("/v1/forecasts", json=forecast(revision=MAX_INT4))
    assert last.status_code == 422 and problem_fields(last) == [("revision", "less_than_equal")], last.text
    named = await client.post("/v1/forecasts", json=forecast(revision=MAX_NAMED_REVISION))
    assert named.status_code == 201, named.text
    forecast_id = named.json()["forecast_id"]
    await set_revision(db, forecast_id, MAX_INT4)  # as a sender could name it before this rule: 409, no 500
    for stuck in (await client.post("/v1/forecasts", json=forecast(value="NOT_REACHED")),
                  await client.post(f"/v1/forecasts/{forecast_id}/withdraw")):
        assert stuck.status_code == 409 and problem_fields(stuck) == [("revision", "revisions_exhausted")], stuck.text
    await set_revision(db, forecast_id, MAX_NAMED_REVISION)
    revised = await client.post("/v1/forecasts", json=forecast(value="NOT_REACHED"))
    assert (revised.status_code, revised.json()["revision"]) == (201, MAX_NAMED_REVISION + 1), revised.text
    withdrawn = await client.post(f"/v1/forecasts/{forecast_id}/withdraw")
    assert (withdrawn.status_code, withdrawn.json()["revision"]) == (200, MAX_NAMED_REVISION + 2), withdrawn.text
    # round 26: withdrawn above the highest revision a request may name, it cannot be restored, and the 409 says so
    # (it asked for "a revision above" one, which validation always refuses)
    for restore in (forecast(value="MORE_THAN_ACCEPTABLE", forecast_id=forecast_id, revision=MAX_NAMED_REVISION),
                    forecast(value="MORE_THAN_ACCEPTABLE", forecast_id=forecast_id), forecast(value="MORE_THAN_ACCEPTABLE")):
        refused = await client.post("/v1/forecasts", json=restore)
        assert refused.status_code == 409, refused.text
        assert problem_fields(refused) == [("revision", "removed_for_good")], refused.text
        assert "cannot be restored" in refused.json()["errors"][0]["message"]
    assert len(await testing.outbox_events(db, "styrkedja.forecasts")) == 3


CALENDAR = {"forecast_windows": [{"term": "HT", "iso_week": 44, "deadline_weekday": 5},
                                 {"term": "VT", "iso_week": 12, "deadline_weekday": 4}],
            "grace_days": 2, "round_deadlines": [{"round": 1, "term": "HT", "iso_week": 40},
                                                 {"round": 3, "term": "VT", "iso_week": 10}],
            "timezone": "Europe/Stockholm"}


async def test_a_calendar_stored_in_another_order_is_the_same_calendar_when_sent_again(client, db, token_issuer):
    """Failed on the old code: a calendar stored (before round 23c's one order) with VT's window first, or its round
    deadlines out of order, took a second revision and `calendar.changed.v1` on its next identical PUT (the request
    was put in order, the stored one compared as stored)."""
    admin = {"Authorization": "Bearer " + token_issuer.mint(roles=["organiser_admin"], organisers=["2999"],
                                                             subject="admin-1")}
    first = await client.put("/v1/calendars/2999", json=CALENDAR, headers=admin)
    assert first.status_code == 200 and first.json()["revision"] == 1, first.text
    stored_otherwise = {**CALENDAR, "forecast_windows": CALENDAR["forecast_windows"][::-1],
                        "round_deadlines": CALENDAR["round_deadlines"][::-1]}
    async with db.begin() as conn:  # as a calendar set before the one order was kept
        await conn.execute(text("UPDATE organiser_calendars SET calendar = CAST(:c AS jsonb)"),
                           {"c": json.dumps(stored_otherwise)})
    for body in (CALENDAR, stored_otherwise, {**CALENDAR, "revision": 1}):
        again = await client.put("/v1/calendars/2999", json=body, headers=admin)
        assert (again.status_code, again.json()["revision"], again.json()["status"]) == (200, 1, "unchanged"), \
            again.text
    changed = await client.put("/v1/calendars/2999", json={**stored_otherwise, "grace_days": 3}, headers=admin)
    assert (changed.json()["revision"], changed.json()["status"]) == (2, "stored"), changed.text
    assert [e.type for e in await testing.outbox_events(db, "styrkedja.forecasts")].count(
        "se.styrkedja.calendar.changed.v1") == 2


async def test_a_forecast_whose_window_ends_after_2199_is_a_422_naming_the_school_year(client, db, token_issuer):
    """Failed on the old code: stored (201, `window_deadline` 2500-10-29 or 2200-02-27) with a
    `forecast.submitted.v1` whose date no consumer takes (`date_range`: reporting dead-lettered it, the forecast
    never counted), on the single and the batch door alike."""
    too_late = await client.post("/v1/forecasts", json=forecast(school_year="2500/01"))
    assert too_late.status_code == 422, too_late.text
    assert problem_fields(too_late) == [("school_year", "date_range")]
    admin = {"Authorization": "Bearer " + token_issuer.mint(roles=["organiser_admin"], organisers=["2999"],
                                                             subject="admin-1")}
    late_weeks = {"forecast_windows": [{"term": "HT", "iso_week": 52, "deadline_weekday": 7},
                                       {"term": "VT", "iso_week": 52, "deadline_weekday": 7}], "grace_days": 60}
    assert (await client.put("/v1/calendars/2999", json=CALENDAR, headers=admin)).status_code == 200
    async with db.begin() as conn:  # as a calendar set before a window's week was held to its term (VT in December)
        await conn.execute(text("UPDATE organiser_calendars SET calendar = CAST(:c AS jsonb)"),
                           {"c": json.dumps(late_weeks)})
    batch = await client.post("/v1/forecasts/batch", json={"items": [
        forecast(school_year="2198/99"), forecast(school_year="2198/99", term="VT", student_id="s-3")]})
    assert batch.status_code == 422, batch.text
    assert problem_fields(batch) == [("items.1.school_year", "date_range")]
    ok = await client.post("/v1/forecasts/batch", json={"items": [forecast(school_year="2198/99")]})
    assert ok.status_code == 201 and ok.json()["items"][0]["window_deadline"] == "2199-02-28", ok.text
    events = await testing.outbox_events(db, "styrkedja.forecasts")  # every one decodes (a date_range did not)
    assert [e.type for e in events].count("se.styrkedja.forecast.submitted.v1") == 1


async def test_the_same_calendar_under_the_lock_of_its_next_revision_is_unchanged(client, db, token_issuer):
    """Failed on the old code: a client that reads the calendar (revision 1) and saves it as it stands, naming the
    next revision as its lock (`"revision": 2`), made revision 2 and a second `calendar.changed.v1` with the same
    calendar, where "the same calendar again is unchanged"."""
    admin = {"Authorization": "Bearer " + token_issuer.mint(roles=["organiser_admin"], organisers=["2999"],
                                                             subject="admin-1")}
    assert (await client.put("/v1/calendars/2999", json=CALENDAR, headers=admin)).json()["revision"] == 1
    again = await client.put("/v1/calendars/2999", json=CALENDAR | {"revision": 2}, headers=admin)
    assert (again.status_code, again.json()["revision"], again.json()["status"]) == (200, 1, "unchanged"), again.text
    changed = await client.put("/v1/calendars/2999", json=CALENDAR | {"grace_days": 5, "revision": 2}, headers=admin)
    assert (changed.json()["revision"], changed.json()["status"]) == (2, "stored"), changed.text
    stale = await client.put("/v1/calendars/2999", json=CALENDAR | {"grace_days": 6, "revision": 2}, headers=admin)
    assert stale.status_code == 409 and problem_fields(stale) == [("revision", "next_revision")], stale.text
    assert [e.type for e in await testing.outbox_events(db, "styrkedja.forecasts")].count(
        "se.styrkedja.calendar.changed.v1") == 2


async def test_a_calendar_at_the_last_database_integer_is_a_409_not_a_500(client, db, token_issuer):
    """Failed on the old code: the next revision overflowed the column in the database (a 500)."""
    admin = {"Authorization": "Bearer " + token_issuer.mint(roles=["organiser_admin"], organisers=["2999"],
                                                             subject="admin-1")}
    assert (await client.put("/v1/calendars/2999", json=CALENDAR, headers=admin)).status_code == 200
    async with db.begin() as conn:
        await conn.execute(text(f"UPDATE organiser_calendars SET revision = {MAX_INT4}"))
    changed = await client.put("/v1/calendars/2999", json=CALENDAR | {"grace_days": 9}, headers=admin)
    assert changed.status_code == 409 and problem_fields(changed) == [("revision", "revisions_exhausted")], \
        changed.text


@pytest.mark.parametrize(("stored_zone", "read_as"), [("posix/Europe/Helsinki", "Europe/Helsinki"),
                                                      ("localtime", "Europe/Stockholm"),
                                                      ("Mars/Olympus_Mons", "Europe/Stockholm")])
async def test_a_calendar_stored_with_a_time_zone_no_longer_taken_is_read_not_a_500(
        client, db, token_issuer, stored_zone, read_as):
    """Failed on the old code: a calendar stored before its time zone was held to an IANA zone (`posix/…`,
    `localtime`), or naming one this host's zone data lacks, failed validation on every read: its GET, every forecast
    of the organiser and the PUT that would mend it were 500s. Now read as the zone it copies, else Swedish time; a
    PUT stores a taken one."""
    admin = {"Authorization": "Bearer " + token_issuer.mint(roles=["organiser_admin"], organisers=["2999"],
                                                             subject="admin-1")}
    assert (await client.put("/v1/calendars/2999", json=CALENDAR, headers=admin)).status_code == 200
    async with db.begin() as conn:
        await conn.execute(text("UPDATE organiser_calendars SET calendar = jsonb_set(calendar, '{timezone}', "
                                "CAST(:zone AS jsonb))"), {"zone": json.dumps(stored_zone)})
    read = await client.get("/v1/calendars/2999", headers=admin)
    assert (read.status_code, read.json()["calendar"]["timezone"]) == (200, read_as), read.text
    submitted = await client.post("/v1/forecasts", json=forecast())
    assert submitted.status_code == 201, submitted.text
    mended = await client.put("/v1/calendars/2999", json=CALENDAR | {"timezone": "Europe/Stockholm"}, headers=admin)
    assert (mended.status_code, mended.json()["revision"], mended.json()["status"]) == (200, 2, "stored"), \
        mended.text  # stored taken, and sent on, even where it reads as the same calendar
    assert (await client.get("/v1/calendars/2999", headers=admin)).json()["calendar"]["timezone"] == \
        "Europe/Stockholm"


async def test_an_autumn_forecast_of_2199_00_is_a_422_like_every_school_year_past_2198_99(client, db):
    """Failed on the old code: HT 2199/00 was taken (its window ends in autumn 2199) where its VT was a 422, and an
    assessment or a plan of it was taken too: now one bound for every school year a request names (1900/01–2198/99,
    `SchoolYearIn`), said before any calendar is read."""
    refused = await client.post("/v1/forecasts", json=forecast(school_year="2199/00"))
    assert refused.status_code == 422 and problem_fields(refused) == [("school_year", "date_range")], refused.text
    assert "1900/01 to 2198/99" in refused.json()["errors"][0]["message"]
    taken = await client.post("/v1/forecasts", json=forecast(school_year="2198/99", term="VT"))
    assert taken.status_code == 201, taken.text
    assert len(await testing.outbox_events(db, "styrkedja.forecasts")) == 1


@pytest.mark.parametrize(("windows", "rounds", "fields"), [
    ([{"term": "HT", "iso_week": 44}, {"term": "VT", "iso_week": 50}], [], ["forecast_windows.1.iso_week"]),
    ([{"term": "VT", "iso_week": 27}, {"term": "HT", "iso_week": 3}], [],
     ["forecast_windows.0.iso_week", "forecast_windows.1.iso_week"]),
    ([{"term": "HT", "iso_week": 26}, {"term": "VT", "iso_week": 12}],
     [{"round": 1, "term": "HT", "iso_week": 40}, {"round": 4, "term": "VT", "iso_week": 40}],
     ["forecast_windows.0.iso_week", "round_deadlines.1.iso_week"]),
])
async def test_a_window_or_round_whose_week_is_not_in_its_term_is_a_422_naming_it(
        client, db, token_issuer, windows, rounds, fields):
    """Failed on the old code: stored (200, revision 1, a `calendar.changed.v1`): a VT window in week 50 has its
    deadline in December of the *next* school year (VT 2026/27: 2027-12-17), an HT one in week 3 in January before
    its school year began; a round deadline alike. Now each week lies in its term (the contracts' `TERM_WEEKS`: HT
    27–52, VT 1–26), a 422 `week_in_term` naming each one in the order the request gave."""
    admin = {"Authorization": "Bearer " + token_issuer.mint(roles=["organiser_admin"], organisers=["2999"],
                                                             subject="admin-1")}
    refused = await client.put("/v1/calendars/2999", json={"forecast_windows": windows, "round_deadlines": rounds},
                               headers=admin)
    assert refused.status_code == 422, refused.text
    assert problem_fields(refused) == [(field, "week_in_term") for field in fields]
    assert "HT" in refused.json()["errors"][0]["message"] or "VT" in refused.json()["errors"][0]["message"]
    assert await testing.outbox_events(db, "styrkedja.forecasts") == []
    edges = {"forecast_windows": [{"term": "HT", "iso_week": 27}, {"term": "VT", "iso_week": 26}],
             "round_deadlines": [{"round": 2, "term": "HT", "iso_week": 52}, {"round": 3, "term": "VT", "iso_week": 1}]}
    taken = await client.put("/v1/calendars/2999", json=edges, headers=admin)
    assert (taken.status_code, taken.json()["revision"]) == (200, 1), taken.text

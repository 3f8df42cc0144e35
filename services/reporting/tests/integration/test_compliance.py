"""Compliance end to end against a real PostgreSQL: a window with some teachers missing, one late
report, and a teacher who left the group mid-window. The lists and counts equal the numbers worked
out by hand here, and a recomputation from scratch (`/v1/admin/consistency`), whatever order the
directory and the forecasts arrive in, after a replay, a withdrawal and a calendar change."""

from __future__ import annotations

import random
from datetime import date, timedelta

import pytest

from styrkedja_contracts import (
    ForecastSubmittedV1,
    ForecastWithdrawnV1,
    GroupMembershipUpsertedV1,
    OrganisationEntityRemovedV1,
    TeachingAssignmentUpsertedV1,
    forecast_id_for,
    new_event,
)
from styrkedja_contracts.events.calendar import CalendarChangedV1, ForecastWindow, ReportingCalendar

from .test_directory import T0, Feeder, directory

pytestmark = [pytest.mark.integration, pytest.mark.postgres_only]

ORG, UNIT = "2999", "11111111"
WINDOW = {"school_year": "2026/27", "term": "HT"}  # default: week 43 of 2026, Mon 19 – Fri 23 October


def member(student: str, group: str):
    return new_event(GroupMembershipUpsertedV1(
        membership_id=f"m-{group}-{student}", organiser_id=ORG, school_unit_code=UNIT, group_id=group,
        student_id=student, start_date=date(2026, 8, 17), updated_at=T0), source="/test")


def assigned(aid: str, group: str, subject: str, teacher: str, start: date | None = None, end: date | None = None):
    return new_event(TeachingAssignmentUpsertedV1(
        assignment_id=aid, organiser_id=ORG, school_unit_code=UNIT, group_id=group, teacher_id=teacher,
        subject_code=subject, start_date=start, end_date=end, updated_at=T0), source="/test")


def forecast(student: str, group: str, subject: str, late: bool = False, revision: int = 1):
    return new_event(ForecastSubmittedV1(
        forecast_id=forecast_id_for(ORG, student, subject, "2026/27", "HT"), revision=revision, organiser_id=ORG,
        school_unit_code=UNIT, group_id=group, student_id=student, teacher_id="t-x", gender="female", year=7,
        subject_code=subject, value="ACCEPTABLE", school_year="2026/27", term="HT",
        submitted_at=T0 + timedelta(days=60), window_deadline=date(2026, 10, 23), late=late), source="/test")


def withdrawn(student: str, group: str, subject: str):
    return new_event(ForecastWithdrawnV1(
        forecast_id=forecast_id_for(ORG, student, subject, "2026/27", "HT"),
        revision=2, organiser_id=ORG, school_unit_code=UNIT,
        group_id=group, student_id=student, subject_code=subject, school_year="2026/27", term="HT",
        withdrawn_at=T0 + timedelta(days=61)), source="/test")


MATHS, ENGLISH = "GRGRMAT01", "GRGRENG01"
DIRECTORY = directory() + [member(s, "7A") for s in ("s-1", "s-2", "s-3", "s-4")] + [
    member(s, "7B") for s in ("s-5", "s-6")] + [
    assigned("a-1", "7A", MATHS, "t-anna"),
    assigned("a-2", "7A", ENGLISH, "t-bo", end=date(2026, 10, 20)),  # left the group mid-window
    assigned("a-3", "7A", ENGLISH, "t-cia", start=date(2026, 10, 21)),  # ... and was succeeded
    assigned("a-4", "7B", MATHS, "t-dan")]
FORECASTS = [forecast("s-1", "7A", MATHS), forecast("s-2", "7A", MATHS, late=True), forecast("s-1", "7A", ENGLISH),
             forecast("s-5", "7B", MATHS)]


async def view(client, list_: str = "teacher") -> dict:
    response = await client.get(f"/v1/compliance/organisers/{ORG}/school-units/{UNIT}",
                                params={**WINDOW, "list": list_})
    assert response.status_code == 200
    return {(r["group_id"], r["subject_code"], r["teacher_id"]): (r["expected"], r["on_time"], r["late"],
                                                                  r["missing"]) for r in response.json()["rows"]}


async def consistent(client) -> bool:
    body = (await client.get("/v1/admin/consistency")).json()
    return body["compliance_cell_mismatches"] == 0 and body["consistent"]


@pytest.mark.parametrize("order", ["directory_first", "forecasts_first", "shuffled"])
async def test_missing_late_and_a_teacher_who_left(client, database, order):
    feed = Feeder(database)
    if order == "directory_first":
        await feed(DIRECTORY, FORECASTS)
    elif order == "forecasts_first":
        await feed(FORECASTS, DIRECTORY)
    else:
        log = DIRECTORY + FORECASTS
        random.Random(3).shuffle(log)
        await feed(*[log[i:i + 4] for i in range(0, len(log), 4)])

    units = (await client.get(f"/v1/compliance/organisers/{ORG}/school-units", params=WINDOW)).json()["rows"]
    assert [(r["school_unit_code"], r["expected"], r["reported"], r["on_time"], r["late"], r["missing"],
             r["share_reported"]) for r in units] == [(UNIT, 10, 4, 3, 1, 6, 0.4)]
    # the unit's own row, the organiser view's, from the unit's read (which a principal may make)
    assert await view(client, "school_unit") == {(None, None, None): (10, 3, 1, 6)}
    # t-bo left before the deadline: on no list; t-cia, the successor, answers for English
    assert await view(client) == {(None, None, "t-anna"): (4, 1, 1, 2), (None, None, "t-cia"): (4, 1, 0, 3),
                                  (None, None, "t-dan"): (2, 1, 0, 1)}
    assert await view(client, "group_subject") == {("7A", MATHS, None): (4, 1, 1, 2),
                                                   ("7A", ENGLISH, None): (4, 1, 0, 3),
                                                   ("7B", MATHS, None): (2, 1, 0, 1)}
    missing = (await client.get(f"/v1/compliance/organisers/{ORG}/school-units/{UNIT}/items",
                                params=WINDOW)).json()["rows"]
    assert sorted((r["group_id"], r["subject_code"], r["student_id"], r["teachers"]) for r in missing) == [
        ("7A", ENGLISH, "s-2", "t-cia"), ("7A", ENGLISH, "s-3", "t-cia"), ("7A", ENGLISH, "s-4", "t-cia"),
        ("7A", MATHS, "s-3", "t-anna"), ("7A", MATHS, "s-4", "t-anna"), ("7B", MATHS, "s-6", "t-dan")]
    late = (await client.get(f"/v1/compliance/organisers/{ORG}/school-units/{UNIT}/items",
                             params={**WINDOW, "status": "late"})).json()["rows"]
    assert [(r["subject_code"], r["student_id"]) for r in late] == [(MATHS, "s-2")]  # late, never missing
    assert await consistent(client)

    await feed(DIRECTORY + FORECASTS)  # a replay straight into the handlers: nothing moves
    assert (await view(client))[(None, None, "t-anna")] == (4, 1, 1, 2) and await consistent(client)


async def test_withdrawal_directory_changes_and_calendar_change_stay_exact(client, database):
    feed = Feeder(database)
    await feed(DIRECTORY, FORECASTS)
    await feed([withdrawn("s-1", "7A", MATHS)])  # withdrawn: missing again
    assert (await view(client))[(None, None, "t-anna")] == (4, 0, 1, 3)
    # t-cia's assignment is removed, s-4 leaves 7A: English in 7A is now nobody's, and one item fewer
    await feed([new_event(OrganisationEntityRemovedV1(entity="teaching_assignment", entity_id="a-3",
                                                      organiser_id=ORG, removed_at=T0 + timedelta(hours=1)),
                          source="/test"),
                new_event(GroupMembershipUpsertedV1(
                    membership_id="m-7A-s-4", organiser_id=ORG, school_unit_code=UNIT, group_id="7A",
                    student_id="s-4", start_date=date(2026, 8, 17), end_date=date(2026, 9, 30),
                    updated_at=T0 + timedelta(hours=1)), source="/test")])
    assert await view(client, "unassigned") == {("7A", ENGLISH, None): (3, 1, 0, 2)}
    assert (await view(client))[(None, None, "t-anna")] == (3, 0, 1, 2)
    assert await consistent(client)
    await feed([assigned("a-5", "7B", ENGLISH, "t-eva", end=date(2026, 10, 30))])  # ends after week 43
    assert (await view(client))[(None, None, "t-eva")] == (2, 0, 0, 2)
    # the organiser moves its HT window to week 45 (2–6 November): no English assignment overlaps it
    # any more (t-bo and t-eva ended before it opens, t-cia's was removed), so no English is expected
    calendar = ReportingCalendar(forecast_windows=(ForecastWindow(term="HT", iso_week=45),
                                                   ForecastWindow(term="VT", iso_week=13)))
    await feed([new_event(CalendarChangedV1(organiser_id=ORG, revision=1, calendar=calendar,
                                            changed_at=T0 + timedelta(hours=2)), source="/test")])
    assert await view(client) == {(None, None, "t-anna"): (3, 0, 1, 2), (None, None, "t-dan"): (2, 1, 0, 1)}
    assert await view(client, "unassigned") == {}
    units = (await client.get(f"/v1/compliance/organisers/{ORG}/school-units", params=WINDOW)).json()["rows"]
    assert [(r["expected"], r["on_time"], r["late"], r["missing"]) for r in units] == [(5, 1, 1, 3)]
    assert await consistent(client)
    csv = await client.get(f"/v1/compliance/organisers/{ORG}/school-units", params={**WINDOW, "format": "csv"})
    assert csv.status_code == 200 and csv.headers["content-type"].startswith("text/csv")
    assert "Saknas" in csv.text and UNIT in csv.text
    xlsx = await client.get(f"/v1/compliance/organisers/{ORG}/school-units", params={**WINDOW, "format": "xlsx"})
    assert xlsx.status_code == 200 and xlsx.content[:2] == b"PK"
    bad = await client.get(f"/v1/compliance/organisers/{ORG}/school-units", params={"school_year": "2026-27",
                                                                                   "term": "HT"})
    assert bad.status_code == 422 and "school_year" in bad.text

"""Compliance for an assessment round with a deadline, against a real PostgreSQL: expected =
teaching assignments × roster on the round's deadline, reported = a current assessment of the round;
one published exactly at the last on-time minute (on time), one a minute later (late, never missing),
a correction after the deadline (stays on time), a retraction (missing again), a retraction followed
by a new publication after the deadline (late), a teacher who left the group mid-window, another
round's assessment (not counted). The lists, the counts and the exports equal the hand count and a
recomputation (`/v1/admin/consistency`), whichever comes first, the calendar or the assessments —
and after a replay, a directory change and a calendar that drops the round's deadline."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from uuid import uuid5
from zoneinfo import ZoneInfo

import pytest

from styrkedja_contracts import (
    AssessmentPublishedV1,
    AssessmentRetractedV1,
    OrganisationEntityRemovedV1,
    TeachingAssignmentUpsertedV1,
    new_event,
)
from styrkedja_contracts.events.calendar import CalendarChangedV1, ReportingCalendar, RoundDeadline

from .test_compliance import DIRECTORY, ENGLISH, MATHS, ORG, UNIT, consistent
from .test_directory import NS, T0, Feeder

pytestmark = pytest.mark.integration

STOCKHOLM = ZoneInfo("Europe/Stockholm")
# round 2: week 43 of 2026, Friday 23 October + 2 grace days → last on-time day Sunday 25 October
# (the day summer time ends: 23:59 local is 22:59 UTC)
CALENDAR = ReportingCalendar(round_deadlines=(RoundDeadline(round=2, term="HT", iso_week=43),), grace_days=2)
LAST_MINUTE = datetime(2026, 10, 25, 23, 59, 59, tzinfo=STOCKHOLM)
ROUND = {"school_year": "2026/27"}
BASE = f"/v1/compliance/organisers/{ORG}/rounds/2/school-units"


def calendar(revision: int = 1, cal: ReportingCalendar = CALENDAR):
    return new_event(CalendarChangedV1(organiser_id=ORG, revision=revision, calendar=cal,
                                       changed_at=T0 + timedelta(hours=revision)), source="/test")


def published(student: str, group: str, subject: str, at: datetime, revision: int = 1, round_: int = 2):
    return new_event(AssessmentPublishedV1(
        assessment_id=uuid5(NS, f"round-{student}-{subject}-{round_}"), revision=revision, organiser_id=ORG,
        school_unit_code=UNIT, group_id=group, student_id=student, teacher_id="t-x", gender="female", year=7,
        subject_code=subject, kind="assessment", scale="AF", value="C", school_year="2026/27", term="HT",
        round=round_, assessed_on=date(2026, 10, 15), published_at=at), source="/test")


def retracted(student: str, group: str, subject: str, revision: int = 2):
    return new_event(AssessmentRetractedV1(
        assessment_id=uuid5(NS, f"round-{student}-{subject}-2"), revision=revision, organiser_id=ORG,
        school_unit_code=UNIT, group_id=group, student_id=student, subject_code=subject, school_year="2026/27",
        term="HT", round=2, retracted_at=datetime(2026, 10, 24, 9, tzinfo=STOCKHOLM)), source="/test")


ASSESSMENTS = [
    published("s-1", "7A", MATHS, datetime(2026, 10, 20, 10, tzinfo=STOCKHOLM)),
    published("s-2", "7A", MATHS, LAST_MINUTE),  # exactly at the deadline: on time
    published("s-3", "7A", MATHS, LAST_MINUTE + timedelta(seconds=1)),  # a second later: late
    published("s-1", "7A", ENGLISH, datetime(2026, 10, 22, 10, tzinfo=STOCKHOLM)),
    published("s-1", "7A", ENGLISH, datetime(2026, 10, 30, 10, tzinfo=STOCKHOLM), revision=2),  # correction
    published("s-4", "7A", ENGLISH, datetime(2026, 10, 20, 10, tzinfo=STOCKHOLM), round_=1),  # another round
    published("s-5", "7B", MATHS, datetime(2026, 10, 21, 10, tzinfo=STOCKHOLM)),
    retracted("s-5", "7B", MATHS),  # retracted: missing again
    published("s-6", "7B", MATHS, datetime(2026, 10, 21, 10, tzinfo=STOCKHOLM)),
    retracted("s-6", "7B", MATHS),
    published("s-6", "7B", MATHS, datetime(2026, 10, 28, 10, tzinfo=STOCKHOLM), revision=3),  # new run: late
]
async def teacher_view(client, list_: str = "teacher") -> dict:
    response = await client.get(f"{BASE}/{UNIT}", params={**ROUND, "list": list_})
    assert response.status_code == 200, response.text
    return {r["teacher_id"] or (r["group_id"], r["subject_code"]): (r["expected"], r["on_time"], r["late"],
                                                                    r["missing"]) for r in response.json()["rows"]}


async def unit_view(client) -> list:
    response = await client.get(BASE, params=ROUND)
    assert response.status_code == 200, response.text
    return [(r["school_unit_code"], r["expected"], r["reported"], r["on_time"], r["late"], r["missing"],
             r["share_reported"]) for r in response.json()["rows"]]


@pytest.mark.parametrize("order", ["calendar_first", "calendar_last", "one_by_one"])
async def test_round_lists_equal_the_hand_count(client, database, order):  # noqa: F811
    feed = Feeder(database)
    if order == "calendar_first":
        await feed([calendar()] + DIRECTORY, ASSESSMENTS)
    elif order == "calendar_last":
        await feed(DIRECTORY, ASSESSMENTS, [calendar()])
    else:
        await feed([calendar()], *[[e] for e in DIRECTORY + ASSESSMENTS])

    # 7A: 4 students × maths, English; 7B: 2 × maths = 10; on time s-1, s-2 maths, s-1 English; late s-3, s-6
    assert await unit_view(client) == [(UNIT, 10, 5, 3, 2, 5, 0.5)]
    assert await teacher_view(client) == {"t-anna": (4, 2, 1, 1), "t-cia": (4, 1, 0, 3), "t-dan": (2, 0, 1, 1)}
    missing = (await client.get(f"{BASE}/{UNIT}/items", params=ROUND)).json()["rows"]
    assert sorted((r["group_id"], r["subject_code"], r["student_id"], r["teachers"]) for r in missing) == [
        ("7A", ENGLISH, "s-2", "t-cia"), ("7A", ENGLISH, "s-3", "t-cia"), ("7A", ENGLISH, "s-4", "t-cia"),
        ("7A", MATHS, "s-4", "t-anna"), ("7B", MATHS, "s-5", "t-dan")]
    late = (await client.get(f"{BASE}/{UNIT}/items", params={**ROUND, "status": "late"})).json()["rows"]
    assert sorted((r["subject_code"], r["student_id"]) for r in late) == [(MATHS, "s-3"), (MATHS, "s-6")]
    assert await consistent(client)
    # the forecast window of the same term has its own lists: no forecasts, nothing tracked
    forecast = await client.get(f"/v1/compliance/organisers/{ORG}/school-units",
                                params={"school_year": "2026/27", "term": "HT"})
    assert forecast.json()["rows"] == []

    await feed(DIRECTORY + ASSESSMENTS + [calendar()])  # a replay straight into the handlers: nothing moves
    assert await unit_view(client) == [(UNIT, 10, 5, 3, 2, 5, 0.5)] and await consistent(client)


async def test_round_directory_changes_exports_scope_and_a_dropped_deadline(client, database, token_issuer):  # noqa: F811
    feed = Feeder(database)
    await feed([calendar()] + DIRECTORY, ASSESSMENTS)
    # t-anna's maths moves from 7A to 7B (same assignment id): 7A maths is nobody's, 7B maths is hers too
    await feed([new_event(TeachingAssignmentUpsertedV1(
        assignment_id="a-1", organiser_id=ORG, school_unit_code=UNIT, group_id="7B", teacher_id="t-anna",
        subject_code=MATHS, updated_at=T0 + timedelta(hours=3)), source="/test")])
    assert await teacher_view(client) == {"t-cia": (4, 1, 0, 3), "t-dan": (2, 0, 1, 1), "t-anna": (2, 0, 1, 1)}
    assert await teacher_view(client, "unassigned") == {}  # 7A maths: no assignment overlaps → not expected
    assert await unit_view(client) == [(UNIT, 6, 2, 1, 1, 4, 0.3333)]
    assert await consistent(client)
    await feed([new_event(OrganisationEntityRemovedV1(entity="teaching_assignment", entity_id="a-1",
                                                      organiser_id=ORG, removed_at=T0 + timedelta(hours=4)),
                          source="/test")])
    assert await teacher_view(client) == {"t-cia": (4, 1, 0, 3), "t-dan": (2, 0, 1, 1)}
    assert await consistent(client)

    csv = await client.get(BASE, params={**ROUND, "format": "csv"})
    assert csv.status_code == 200 and csv.headers["content-type"].startswith("text/csv")
    assert "Saknas" in csv.text and UNIT in csv.text
    xlsx = await client.get(f"{BASE}/{UNIT}/items", params={**ROUND, "format": "xlsx"})
    assert xlsx.status_code == 200 and xlsx.content[:2] == b"PK"
    bad = await client.get(f"/v1/compliance/organisers/{ORG}/rounds/5/school-units", params=ROUND)
    assert bad.status_code == 422 and "round" in bad.text
    # a principal reads their own unit (and its reminder list), not another's, and not the organiser view
    rektor = {"Authorization": "Bearer " + token_issuer.mint(roles=["principal"], organisers=[ORG],
                                                             school_units=[UNIT])}
    assert (await client.get(f"{BASE}/{UNIT}/items", params=ROUND, headers=rektor)).status_code == 200
    assert (await client.get(f"{BASE}/22222222", params=ROUND, headers=rektor)).status_code == 403
    assert (await client.get(BASE, params=ROUND, headers=rektor)).status_code == 403
    assert (await client.get(BASE, params=ROUND, headers={"Authorization": ""})).status_code == 401

    # the organiser drops round 2's deadline: the round has no lists any more
    await feed([calendar(2, ReportingCalendar())])
    assert await unit_view(client) == [] and await teacher_view(client) == {}
    assert await consistent(client)
    await feed([calendar(3)])  # … and sets it again: the lists come back from the kept reports
    assert await teacher_view(client) == {"t-cia": (4, 1, 0, 3), "t-dan": (2, 0, 1, 1)}
    assert await consistent(client)

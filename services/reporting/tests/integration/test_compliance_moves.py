"""Compliance stays exact when a fact or a membership moves to another student: an assessment revision
that names another student and subject, and a membership whose student changes. (A forecast cannot move so:
its id is its organiser's, student's, subject's, school year's and term's, `derived_from_key`, and an event
naming another student under it is dead-lettered; it stays where it is here.) The old student's items must be
re-derived in the same batch (not left stale until something else touches them): the lists equal the hand count and a recomputation
(`/v1/admin/consistency`), whether the moves come one per batch or all in one, and after a replay."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from uuid import uuid5
from zoneinfo import ZoneInfo

import pytest

from styrkedja_contracts import (
    AssessmentPublishedV1,
    ForecastSubmittedV1,
    GroupMembershipUpsertedV1,
    forecast_id_for,
    new_event,
)

from .test_compliance import DIRECTORY, ENGLISH, MATHS, ORG, UNIT, WINDOW, consistent
from .test_compliance_rounds import ROUND, calendar
from .test_directory import NS, T0, Feeder

pytestmark = [pytest.mark.integration, pytest.mark.postgres_only]

STOCKHOLM = ZoneInfo("Europe/Stockholm")


def forecast(student: str, subject: str, revision: int = 1, group: str = "7A"):
    return new_event(ForecastSubmittedV1(
        forecast_id=forecast_id_for(ORG, student, subject, "2026/27", "HT"), revision=revision, organiser_id=ORG,
        school_unit_code=UNIT, group_id=group, student_id=student, teacher_id="t-x", gender="female", year=7,
        subject_code=subject,
        value="ACCEPTABLE", school_year="2026/27", term="HT", submitted_at=T0 + timedelta(days=60, hours=revision),
        window_deadline=date(2026, 10, 23), late=False), source="/test")


def assessment(student: str, subject: str, revision: int = 1, group: str = "7A"):
    return new_event(AssessmentPublishedV1(
        assessment_id=uuid5(NS, "moving-assessment"), revision=revision, organiser_id=ORG, school_unit_code=UNIT,
        group_id=group, student_id=student, teacher_id="t-x", gender="female", year=7, subject_code=subject,
        kind="assessment", scale="AF", value="C", school_year="2026/27", term="HT", round=2,
        assessed_on=date(2026, 10, 15), published_at=datetime(2026, 10, 20, 10, revision, tzinfo=STOCKHOLM)),
        source="/test")


def membership(student: str, updated: int = 0):
    """`m-7A-s-2` of the directory: after the move it names another student (`s-9`)."""
    return new_event(GroupMembershipUpsertedV1(
        membership_id="m-7A-s-2", organiser_id=ORG, school_unit_code=UNIT, group_id="7A", student_id=student,
        start_date=date(2026, 8, 17), updated_at=T0 + timedelta(hours=updated)), source="/test")


BEFORE = [forecast("s-1", MATHS), assessment("s-2", MATHS)]
# the assessment moves from s-2 maths to s-4 English, and membership m-7A-s-2 now names s-9 (s-2 is in no group
# any more); the forecast of s-1 maths is revised where it is
MOVES = [forecast("s-1", MATHS, revision=2), assessment("s-4", ENGLISH, revision=2), membership("s-9", updated=1)]


async def reported(client, path: str, params: dict) -> dict[tuple[str, str], str]:
    """Every item of 7A (group × subject × student → status), by the reminder list of each status."""
    found = {}
    for status in ("missing", "on_time", "late"):
        response = await client.get(path, params={**params, "status": status})
        assert response.status_code == 200, response.text
        for r in response.json()["rows"]:
            if r["group_id"] == "7A":
                found[(r["subject_code"], r["student_id"])] = status
    return found


@pytest.mark.parametrize("batches", ["one_by_one", "all_at_once", "with_the_facts"])
async def test_a_revision_or_membership_that_moves_to_another_student(client, database, batches):  # noqa: F811
    feed = Feeder(database)
    if batches == "with_the_facts":  # the first revision and its move in one batch
        await feed([calendar()] + DIRECTORY, BEFORE + MOVES)
    else:
        await feed([calendar()] + DIRECTORY, BEFORE)
        before_forecasts = await reported(client, f"/v1/compliance/organisers/{ORG}/school-units/{UNIT}/items",
                                          WINDOW)
        assert before_forecasts[(MATHS, "s-1")] == "on_time" and await consistent(client)
        await feed(*([[e] for e in MOVES] if batches == "one_by_one" else [MOVES]))

    forecasts = await reported(client, f"/v1/compliance/organisers/{ORG}/school-units/{UNIT}/items", WINDOW)
    rounds = await reported(client, f"/v1/compliance/organisers/{ORG}/rounds/2/school-units/{UNIT}/items", ROUND)
    # 7A: s-1, s-3, s-4, s-9 × maths and English; s-2 is in no group any more
    students = ("s-1", "s-3", "s-4", "s-9")
    expected_forecasts = {(subject, s): "missing" for subject in (MATHS, ENGLISH) for s in students}
    assert forecasts == expected_forecasts | {(MATHS, "s-1"): "on_time"}
    assert rounds == expected_forecasts | {(ENGLISH, "s-4"): "on_time"}
    assert await consistent(client)

    await feed([calendar()] + DIRECTORY + BEFORE + MOVES)  # a replay: older revisions change nothing
    assert await reported(client, f"/v1/compliance/organisers/{ORG}/school-units/{UNIT}/items", WINDOW) == forecasts
    assert await consistent(client)

    # and back: the membership names s-2 again, the facts move back to where they started
    await feed([forecast("s-1", MATHS, revision=3), assessment("s-2", MATHS, revision=3), membership("s-2", 2)])
    forecasts = await reported(client, f"/v1/compliance/organisers/{ORG}/school-units/{UNIT}/items", WINDOW)
    rounds = await reported(client, f"/v1/compliance/organisers/{ORG}/rounds/2/school-units/{UNIT}/items", ROUND)
    back = {(subject, s): "missing" for subject in (MATHS, ENGLISH) for s in ("s-1", "s-2", "s-3", "s-4")}
    assert forecasts == back | {(MATHS, "s-1"): "on_time"}
    assert rounds == back | {(MATHS, "s-2"): "on_time"}
    assert await consistent(client)

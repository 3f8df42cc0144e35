"""freshness_red against a real PostgreSQL: time passes without events → the sweep raises one alert
per group and school unit (not above, not for a unit under the minimum), the same sweep again
raises nothing, and new results resolve them as they arrive."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from uuid import uuid5
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import text

from styrkedja_contracts import AssessmentPublishedV1, new_event
from styrkedja_contracts.events.alert import alert_id_for
from styrkedja_contracts.identifiers import school_year_of
from styrkedja_reporting.alerts.freshness import sweep

from .test_alerts import AUTUMN, GROUP, ORG, UNIT, YEAR, alert_events, round_of
from .test_directory import NS, Feeder, directory

pytestmark = [pytest.mark.integration, pytest.mark.postgres_only]

STOCKHOLM = ZoneInfo("Europe/Stockholm")
SPRING = AUTUMN + 1
PERIOD = f"{YEAR}:VT"  # results of 30 September (`test_alerts.AUTUMN`) turn red on 31 May
GROUP_ALERT = alert_id_for(ORG, "group", f"{UNIT}:{GROUP}", None, None, PERIOD, "freshness_red")
UNIT_ALERT = alert_id_for(ORG, "school_unit", UNIT, None, None, PERIOD, "freshness_red")


def fresh_result(n: int, assessed_on: date):
    return new_event(AssessmentPublishedV1(
        assessment_id=uuid5(NS, f"fresh-{n}"), revision=1, organiser_id=ORG, school_unit_code=UNIT, group_id=GROUP,
        student_id=f"s-{n}", teacher_id="t-1", gender="male", year=7, subject_code="GRGRENG01", kind="assessment",
        scale="AF", value="C", school_year=YEAR, term="VT", round=4, assessed_on=assessed_on,
        published_at=datetime(SPRING, 6, 2, tzinfo=STOCKHOLM)), source="/test")


def freshness_events(events: list[dict]) -> list[tuple[str, str, str]]:
    return [(e["type"].split(".")[3], e["data"]["level"], e["data"]["unit_id"]) for e in events
            if e["data"]["rule"] == "freshness_red"]


async def test_time_passing_raises_once_per_unit_and_new_results_resolve(database):  # noqa: F811
    feed = Feeder(database)
    small = "33333333"  # 9 students: under the minimum, never alerted
    await feed(directory(), round_of(1, failing=0, students=12), round_of(1, failing=0, students=9, unit=small))
    assert freshness_events(await alert_events(database)) == []  # judged on arrival: fresh

    on_the_boundary = datetime(SPRING, 5, 30, 23, 59, tzinfo=STOCKHOLM)  # exactly 8 months: yellow
    assert await sweep(database, on_the_boundary) == 0
    next_day = datetime(SPRING, 5, 31, 0, 1, tzinfo=STOCKHOLM)
    assert await sweep(database, next_day) == 2
    assert await sweep(database, datetime(SPRING, 6, 1, tzinfo=STOCKHOLM)) == 0  # still red: the same alerts
    assert await sweep(database, next_day, ORG) == 0
    events = await alert_events(database)
    assert sorted(freshness_events(events)) == [("raised", "group", f"{UNIT}:{GROUP}"),
                                               ("raised", "school_unit", UNIT)]
    assert {e["data"]["alert_id"] for e in events} == {str(GROUP_ALERT), str(UNIT_ALERT)}
    raised = next(e for e in events if e["data"]["level"] == "school_unit")
    assert raised["data"]["term"] == "VT" and raised["data"]["figures"] is None  # the event names the alert only
    async with database.sessions() as session:  # its figures are the alert's, read with GET /v1/alerts
        figures = (await session.execute(text("SELECT figures FROM alerts WHERE alert_id = :a"),
                                         {"a": UNIT_ALERT})).scalar_one()
    assert figures["newest_result_on"] == f"{AUTUMN}-09-30" and figures["students"] == 12

    await feed([fresh_result(100, date(SPRING, 6, 1))])  # a new result: fresh again, resolved on arrival
    events = freshness_events(await alert_events(database))
    assert sorted(events[2:]) == [("resolved", "group", f"{UNIT}:{GROUP}"), ("resolved", "school_unit", UNIT)]
    async with database.sessions() as session:
        rows = (await session.execute(text(
            "SELECT status, resolved_reason FROM alerts WHERE rule = 'freshness_red'"))).all()
    assert sorted(rows) == [("resolved", "recovered")] * 2
    assert await sweep(database, datetime(SPRING, 6, 3, tzinfo=STOCKHOLM)) == 0


def result_sent_at(n: int, assessed_on: date, time: datetime):
    """A result of `assessed_on` whose envelope claims `time` (the producer's word, not the clock)."""
    return new_event(AssessmentPublishedV1(
        assessment_id=uuid5(NS, f"claimed-{n}"), revision=1, organiser_id=ORG, school_unit_code=UNIT,
        group_id=GROUP, student_id=f"s-{n}", teacher_id="t-1", gender="male", year=7, subject_code="GRGRENG01",
        kind="assessment", scale="AF", value="C", school_year=school_year_of(assessed_on), term="HT", round=1,
        assessed_on=assessed_on, published_at=datetime(2026, 9, 30, tzinfo=STOCKHOLM)), source="/test", time=time)


async def test_an_old_event_time_does_not_make_stale_results_fresh(database):  # noqa: F811
    """Results 300 days old are red now, whatever the envelope's `time` says: the live judgement is made
    at the moment the batch is applied, not at the producer's claim (here: the day they were assessed)."""
    feed = Feeder(database)
    today = datetime.now(STOCKHOLM).date()
    old = today - timedelta(days=300)
    claimed = datetime(old.year, old.month, old.day, 12, tzinfo=STOCKHOLM)
    await feed(directory(), [result_sent_at(n, old, claimed) for n in range(12)])
    assert sorted(freshness_events(await alert_events(database))) == [
        ("raised", "group", f"{UNIT}:{GROUP}"), ("raised", "school_unit", UNIT)]


async def test_a_future_event_time_neither_raises_alerts_nor_fakes_the_newest_event(database):  # noqa: F811
    """Results of ten days ago are fresh, even in an event dated 2199; and the reads' newest event time
    (`X-Styrkedja-Newest-Event-Time`) is never later than the moment the event was applied."""
    feed = Feeder(database)
    recent = datetime.now(STOCKHOLM).date() - timedelta(days=10)
    future = datetime(2199, 1, 1, tzinfo=UTC)
    await feed(directory(), [result_sent_at(n, recent, future) for n in range(12)])
    assert freshness_events(await alert_events(database)) == []
    async with database.sessions() as session:
        newest, now = (await session.execute(text(
            "SELECT max(newest_event_time), now() FROM freshness"))).one()
    assert newest <= now

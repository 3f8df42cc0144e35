"""Large but valid event logs (round 27c): what the contracts accept must be applied whole, by the live consumer and
by the rebuild alike, whatever a statement's bind parameters come to. PostgreSQL (the asyncpg protocol) takes at
most 32,767 of them per statement; one INSERT … VALUES row per window, calendar or LIKA event ran past it."""

from __future__ import annotations

from datetime import UTC, date, datetime
from uuid import uuid5

import pytest
from sqlalchemy import text

from styrkedja_contracts import new_event
from styrkedja_contracts.events.assessment import AssessmentPublishedV1
from styrkedja_contracts.events.calendar import CalendarChangedV1, ReportingCalendar, RoundDeadline
from styrkedja_contracts.events.lika import LikaActionPlanChangedV1, LikaSelfAssessmentPublishedV1
from styrkedja_kit.db import Database
from styrkedja_reporting.main import handler_registry
from styrkedja_reporting.rebuild.bulk import rebuild

from .test_batch_split import NS, delivered, loop_on

pytestmark = [pytest.mark.integration, pytest.mark.postgres_only]

#: the school years an event may name (`school_year_within_years`): 1900/01 … 2197/98
FIRST_YEAR, LAST_YEAR = 1900, 2197


def _result(organiser: str, start: int, round_: int):
    school_year = f"{start}/{(start + 1) % 100:02d}"
    return new_event(AssessmentPublishedV1(
        assessment_id=uuid5(NS, f"big-{organiser}-{start}-{round_}"), revision=1, organiser_id=organiser,
        school_unit_code="11111111", group_id="7A", student_id="s-1", teacher_id="t-1", gender="female", year=7,
        subject_code="GRGRMAT01", kind="assessment", scale="AF", value="C", school_year=school_year, term="HT",
        round=round_, assessed_on=date(start, 10, 1), published_at=datetime(2026, 10, 1, tzinfo=UTC)), source="/t")


def _calendar(organiser: str):
    """A deadline for every round (without one a round has no window)."""
    return new_event(CalendarChangedV1(organiser_id=organiser, revision=1, changed_at=datetime(2026, 9, 1, tzinfo=UTC),
                                       calendar=ReportingCalendar(round_deadlines=tuple(
                                           RoundDeadline(round=r, term="HT", iso_week=40 + r) for r in (1, 2, 3, 4)))),
                     source="/t")


async def test_a_rebuild_tracks_more_compliance_windows_than_one_statement_has_parameters_for(fresh_database):
    """Five organisers' results in every school year and round the contracts allow: 5,960 round windows, six
    parameters each (35,760 in one INSERT … VALUES: the rebuild failed, `InterfaceError`/`the number of query
    arguments cannot exceed 32767`, and a log the live consumer applies could never be rebuilt)."""
    organisers = ("2981", "2982", "2983", "2984", "2985")
    log = [_calendar(org) for org in organisers] + [_result(org, start, round_) for org in organisers for start in range(FIRST_YEAR, LAST_YEAR + 1)
           for round_ in (1, 2, 3, 4)]
    db = Database(fresh_database("styrkedja_reporting"))
    try:
        report = await rebuild(db, delivered(log), group_id="reporting-large", next_offsets={},
                               handles=handler_registry(live_alerts=False).handles)
        assert report.failed == [] and report.applied == len(log)
        async with db.sessions() as session:
            windows = (await session.execute(text(
                "SELECT count(*) FROM compliance_windows WHERE kind = 'assessment_round'"))).scalar_one()
        assert windows == len(log) - len(organisers) > 32_767 // 6
    finally:
        await db.dispose()


def _lika(n: int) -> list:
    """A self-assessment and its plan (two items) of school unit n."""
    sid, org, code = uuid5(NS, f"lika-big-{n}"), "2981", f"{10_000_000 + n}"
    at = datetime(2026, 10, 1, tzinfo=UTC)
    common = {"self_assessment_id": sid, "organiser_id": org, "school_unit_code": code, "school_form": "grundskola"}
    return [
        new_event(LikaSelfAssessmentPublishedV1(**common, respondent_role="rektor", catalogue_version="2026.1",
                                                ratings=({"indicator_id": "L1", "area": "ledning", "rating": "ACHIEVED"},),
                                                published_at=at), source="/t"),
        new_event(LikaActionPlanChangedV1(**common, catalogue_version="2026.1", revision=1, changed_at=at, items=(
            {"activity_id": f"a{k}", "indicator_id": "L1", "area": "ledning", "position": k, "title": "T",
             "status": "planned", "priority": 2} for k in (1, 2))), source="/t"),
    ]


async def test_a_consumer_batch_of_lika_events_is_applied_in_one_transaction_whatever_its_size(settings, db):
    """4,700 self-assessments and their plans in one batch (the consumer takes up to `consumer_max_records`, 5,000 by
    default): 8 and 7 columns a row, one INSERT … VALUES each passed 32,767 parameters. The batch's transaction failed,
    and the loop applied it again in halves (each half its own transaction, the warning `batch failed`); the
    rebuild (chunks of 20,000) halved it twice."""
    log = [event for n in range(4_700) for event in _lika(n)]
    loop = loop_on(settings, db)
    fresh = await loop._apply(delivered(log), {})  # the batch's one transaction: it raised
    assert len(fresh) == len(log)
    async with db.sessions() as session:
        found = (await session.execute(text(
            "SELECT (SELECT count(*) FROM lika_self_assessments), (SELECT count(*) FROM lika_action_plans)"))).one()
    assert tuple(found) == (4_700, 4_700)

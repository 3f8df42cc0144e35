"""Hostile inputs, round 27 (b): large but valid input. A statement whose bind parameters grow with the input — a
many-row `INSERT … VALUES` (a parameter per value), an IN list (a parameter per element) — fails past PostgreSQL's
32,767 (asyncpg's InterfaceError: a 500 for a read, a batch retried, halved and dead-lettered for the consumer). Each
test here passes that limit at a door that accepts it, and failed on the old code as said at each; the statements
now take one array parameter per column (`styrkedja_kit.sets.insert_rows`, `any_of`)."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from uuid import UUID, uuid5

import pytest
from sqlalchemy import insert, text

from styrkedja_contracts import forecast_id_for, new_event
from styrkedja_contracts.events.lika import LikaActionPlanChangedV1, LikaSelfAssessmentPublishedV1
from styrkedja_kit.consumer import Delivered
from styrkedja_kit.db import Database
from styrkedja_reporting.alerts.tables import alerts
from styrkedja_reporting.lika.handlers import apply_lika

pytestmark = [pytest.mark.integration, pytest.mark.postgres_only]

NS = UUID("6f1d7c52-27b0-4c1e-9d55-27b27b27b27b")
ORG = "2999"
T0 = datetime(2026, 9, 1, 8, tzinfo=UTC)
#: PostgreSQL's (and asyncpg's) most bind parameters in one statement
MAX_PARAMETERS = 32_767


def _code(n: int) -> str:
    return f"{10_000_000 + n:08d}"


def _published(n: int) -> LikaSelfAssessmentPublishedV1:
    return LikaSelfAssessmentPublishedV1(
        self_assessment_id=uuid5(NS, f"sa-{n}"), organiser_id=ORG, school_unit_code=_code(n % 500),
        school_form="grundskola", respondent_role="rektor", catalogue_version="2026.1",
        ratings=({"indicator_id": "L1", "area": "ledning", "rating": "ACHIEVED"},), published_at=T0)


def _plan(n: int, revision: int) -> LikaActionPlanChangedV1:
    return LikaActionPlanChangedV1(
        self_assessment_id=uuid5(NS, f"sa-{n}"), organiser_id=ORG, school_unit_code=_code(n % 500),
        school_form="grundskola", catalogue_version="2026.1", revision=revision,
        items=({"activity_id": "a1", "indicator_id": "L1", "area": "ledning", "position": 1, "title": f"r{revision}",
                "status": "planned", "priority": 1},),
        changed_at=T0 + timedelta(days=revision))


def _delivered(data: list, start: int = 0) -> list[Delivered]:
    return [Delivered(new_event(d, source="/t"), "styrkedja.lika", 0, start + n) for n, d in enumerate(data)]


async def test_a_consumer_batch_of_lika_events_past_the_parameter_limit_is_applied(db: Database):
    # failed before: 4,200 self-assessments took 8 parameters each in one VALUES list (33,600), 4,700 plans 7 each
    # (32,900): InterfaceError, and the batch (a consumer's `consumer_max_records` is 5,000) never applied
    assessments, plans = 4_200, 4_700
    assert assessments * 8 > MAX_PARAMETERS and plans * 7 > MAX_PARAMETERS
    async with db.sessions.begin() as session:
        await apply_lika(session, _delivered([_published(n) for n in range(assessments)]))
        await apply_lika(session, _delivered([_plan(n, 2) for n in range(plans)], 10_000))
    # again, in one batch: the published ones re-delivered (no-ops), the plans one revision older (kept as they
    # are) for the even ones and newer for the odd ones
    again = [_published(n) for n in range(assessments)] + [_plan(n, 1 if n % 2 == 0 else 3) for n in range(plans)]
    async with db.sessions.begin() as session:
        await apply_lika(session, _delivered(again, 20_000))
    async with db.sessions() as session:
        stored = (await session.execute(text("SELECT count(*) FROM lika_self_assessments"))).scalar_one()
        revisions = dict((await session.execute(text(
            "SELECT revision, count(*) FROM lika_action_plans GROUP BY revision"))).all())
        newest = (await session.execute(text(
            "SELECT items->0->>'title' FROM lika_action_plans WHERE self_assessment_id = :id"),
            {"id": uuid5(NS, "sa-1")})).scalar_one()
    assert stored == assessments
    assert revisions == {2: plans // 2, 3: plans // 2}
    assert newest == "r3"


@pytest.mark.parametrize("role", ["teacher", "principal"])
async def test_a_reader_the_directory_gives_more_school_units_than_the_parameter_limit_lists_its_alerts(
        settings, bare_client, token_issuer, role):
    # failed before (a 500): the alert list narrowed the reader to its school units by an IN list, a parameter per
    # unit, and the directory (a platform's teaching assignments or duties) bounds them by nothing. The token
    # itself cannot: its length is at most 16,384 characters (~1,100 school units)
    units = MAX_PARAMETERS + 100
    database = Database(settings.database_url)
    try:
        async with database.sessions.begin() as session:
            table, key, person, extra, values = (
                ("directory_teaching_assignments", "assignment_id", "teacher_id", "group_id, subject_code",
                 "'7A', 'GRGRMAT01'") if role == "teacher"
                else ("directory_duties", "duty_id", "person_id", "duty_role", "'rektor'"))
            await session.execute(text(
                f"INSERT INTO {table} (organiser_id, {key}, school_unit_code, {person}, {extra}, start_date, "
                f"end_date, updated_at, removed) SELECT :org, 'x' || n, lpad((10000000 + n)::text, 8, '0'), "
                f"'reader-1', {values}, NULL, NULL, now(), false FROM generate_series(1, :units) AS n"),
                {"org": ORG, "units": units})
            at = datetime(2026, 10, 1, 8, tzinfo=UTC)
            for code in (_code(7), _code(units + 5)):  # one of the reader's units, one not
                unit_id = f"{code}:7A" if role == "teacher" else code
                await session.execute(insert(alerts).values(
                    alert_id=uuid5(NS, code), organiser_id=ORG, level="group" if role == "teacher" else "school_unit",
                    unit_id=unit_id, school_unit_code=code, subject_code="GRGRMAT01", year=None,
                    school_year="2026/27", term=None, round=2, rule="pass_share_drop", status="open", episode=1,
                    raised_at=at, changed_at=at,
                    figures={"students": 12, "compared_students": 12, "share": 0.5, "compared_share": 1.0,
                             "change_points": -50.0, "threshold_points": 10.0}))
    finally:
        await database.dispose()
    token = token_issuer.mint(organisers=[ORG], subject="reader-1", roles=[role])
    answer = await bare_client.get("/v1/alerts", params={"organiser_id": ORG},
                                   headers={"Authorization": f"Bearer {token}"})
    assert answer.status_code == 200, answer.text
    assert [row["school_unit_code"] for row in answer.json()] == [_code(7)]


async def test_a_rebuild_of_more_organisers_windows_than_the_parameter_limit_takes_every_window(db: Database):
    # failed before: the rebuild wrote every window in one VALUES list, 6 parameters a window — 5,600 forecast
    # windows (2,800 organisers × HT and VT) are 33,600: InterfaceError, the rebuild stopped
    from styrkedja_contracts.events.forecast import ForecastSubmittedV1
    from styrkedja_reporting.main import handler_registry
    from styrkedja_reporting.rebuild.bulk import rebuild

    from .test_batch_split import SUBJECTS, delivered

    organisers = 2_800
    assert organisers * 2 * 6 > MAX_PARAMETERS
    events = [new_event(ForecastSubmittedV1(
        forecast_id=forecast_id_for(f"{1000 + n}", f"s-{n}", SUBJECTS[0], "2026/27", term),
        revision=1, organiser_id=f"{1000 + n}",
        school_unit_code=_code(n), group_id="7A", student_id=f"s-{n}", teacher_id="t-1", gender="female", year=7,
        subject_code=SUBJECTS[0], value="ACCEPTABLE", school_year="2026/27", term=term,
        submitted_at=T0 + timedelta(days=20), window_deadline=date(2026, 10, 23), late=False), source="/t")
        for n in range(organisers) for term in ("HT", "VT")]
    await rebuild(db, delivered(events), group_id="reporting-round27b", next_offsets={},
                  handles=handler_registry(live_alerts=False).handles)
    async with db.sessions() as session:
        windows = dict((await session.execute(text(
            "SELECT kind, count(*) FROM compliance_windows GROUP BY kind"))).all())
    assert windows == {"forecast": organisers * 2}

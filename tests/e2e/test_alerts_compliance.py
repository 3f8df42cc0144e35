"""End to end, broker → reporting (a real process) → its outbox → `styrkedja.alerts`:

* a school whose maths results drop raises exactly one school-unit alert, visible in the API and
  as one `alert.raised.v1` on the topic; replaying every event raises no second one; the recovery
  (corrected results) resolves it — one `alert.resolved.v1`;
* a forecast window with some teachers missing, one report late and a teacher who left the group
  mid-window: the lists and counts equal the hand count and a recomputation (consistency check);
* a school of 320 expected forecasts and as many round assessments (late ones, revisions,
  withdrawals, retractions, a teacher who left, one nobody took over), streamed while reporting is
  SIGKILLed three times, then replayed whole: the stored items equal the pure rules' recomputation
  made here, and the consistency check (items and cells against the service's own recomputation) holds.

Events are produced straight to Kafka, keyed by organiser, as a school platform may."""

from __future__ import annotations

import asyncio
import json
import random
import time
import uuid
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import httpx
import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from sqlalchemy import text

from stacks import start_at_log_end
from styrkedja_contracts import (
    AssessmentPublishedV1,
    AssessmentRetractedV1,
    CloudEvent,
    ForecastSubmittedV1,
    ForecastWithdrawnV1,
    GroupMembershipUpsertedV1,
    OrganisationUnitUpsertedV1,
    TeachingAssignmentUpsertedV1,
    forecast_id_for,
    new_event,
    topic_for_event_type,
)
from styrkedja_contracts.calendar import forecast_window, round_window
from styrkedja_contracts.events.alert import alert_id_for
from styrkedja_contracts.events.calendar import CalendarChangedV1, ReportingCalendar, RoundDeadline
from styrkedja_devstack.postgres import free_port
from styrkedja_devstack.pytest_plugin import migrated_database
from styrkedja_devstack.services import SERVICES, ServiceProcess
from styrkedja_devstack.testing import async_engine
from styrkedja_reporting.compliance.rules import (
    Assignment,
    Item,
    ItemStatus,
    Report,
    Roster,
    WindowKey,
    WindowKind,
    items,
)
from support import killed_meanwhile

pytestmark = [pytest.mark.integration, pytest.mark.e2e]

RNG = random.Random()
ORG = f"{RNG.randint(5000, 9899)}"  # this run's own organiser and units on the shared topics
UNIT, QUIET = f"9{RNG.randint(1000000, 9999999)}", f"8{RNG.randint(1000000, 9999999)}"
MATHS, ENGLISH = "GRGRMAT01", "GRGRENG01"
T0 = datetime(2026, 9, 1, 8, tzinfo=UTC)
NS = uuid.UUID("6c0d5e2a-1b3f-4a7e-9d8c-5e4f3a2b1c0d")
UNIT_ALERT = alert_id_for(ORG, "school_unit", UNIT, MATHS, None, "2026/27:R2", "pass_share_drop")


@pytest.fixture
def reporting(infrastructure, tmp_path, token_issuer):
    spec = next(s for s in SERVICES if s.name == "reporting")
    url = migrated_database(infrastructure, spec.package, f"e2e_alerts_{uuid.uuid4().hex[:8]}")
    group = f"reporting-alerts-{uuid.uuid4().hex[:8]}"
    process = ServiceProcess(spec, database_url=url, kafka_bootstrap_servers=infrastructure.kafka_bootstrap_servers,
                             port=free_port(), log_dir=tmp_path / "logs", extra_env={
                                 "STYRKEDJA_CONSUMER_GROUP": group,
                                 "STYRKEDJA_AUTH_ISSUER": token_issuer.url, "STYRKEDJA_LOG_LEVEL": "WARNING"})
    start_at_log_end(infrastructure.kafka_bootstrap_servers, group, url)  # not the session's earlier events
    process.start()
    try:
        process.wait_ready(90)
        yield process
    finally:
        process.stop()


def headers(token_issuer, *roles: str) -> dict[str, str]:
    return {"Authorization": "Bearer " + token_issuer.mint(roles=list(roles), organisers=[ORG])}


# ---------------------------------------------------------------- events

def unit(kind: str, unit_id: str, parent: str | None, code: str | None = None, year: int | None = None):
    return new_event(OrganisationUnitUpsertedV1(
        unit_type=kind, unit_id=unit_id, organiser_id=ORG, parent_id=parent, name=f"{kind} {unit_id}",
        school_unit_code=code, year=year, updated_at=T0), source="/e2e")


def result(n: int, value: str, round_: int, revision: int = 1, code: str = UNIT):
    return new_event(AssessmentPublishedV1(
        assessment_id=uuid.uuid5(NS, f"{ORG}-{code}-{round_}-{n}"), revision=revision, organiser_id=ORG,
        school_unit_code=code, group_id="7A", student_id=f"s-{n}", teacher_id="t-1", gender="female", year=7,
        subject_code=MATHS, kind="assessment", scale="AF", value=value,
        unmet_criteria=("Taluppfattning",) if value == "F" else (), school_year="2026/27", term="HT",
        round=round_, assessed_on=date(2026, 9, 30), published_at=T0 + timedelta(days=round_, minutes=revision)),
        source="/e2e")


def member(student: str, group: str):
    return new_event(GroupMembershipUpsertedV1(
        membership_id=f"m-{ORG}-{group}-{student}", organiser_id=ORG, school_unit_code=QUIET, group_id=group,
        student_id=student, start_date=date(2026, 8, 17), updated_at=T0), source="/e2e")


def assigned(aid: str, group: str, subject: str, teacher: str, start: date | None = None, end: date | None = None):
    return new_event(TeachingAssignmentUpsertedV1(
        assignment_id=f"{ORG}-{aid}", organiser_id=ORG, school_unit_code=QUIET, group_id=group, teacher_id=teacher,
        subject_code=subject, start_date=start, end_date=end, updated_at=T0), source="/e2e")


def forecast(student: str, group: str, subject: str, late: bool = False):
    return new_event(ForecastSubmittedV1(
        forecast_id=forecast_id_for(ORG, student, subject, "2026/27", "HT"), revision=1, organiser_id=ORG,
        school_unit_code=QUIET, group_id=group, student_id=student, teacher_id="t-x", gender="male", year=8,
        subject_code=subject, value="ACCEPTABLE", school_year="2026/27", term="HT",
        submitted_at=T0 + timedelta(days=60), window_deadline=date(2026, 10, 23), late=late), source="/e2e")


async def _produce(bootstrap: str, events: list[CloudEvent]) -> None:
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap)
    await producer.start()
    try:
        for event in events:
            await producer.send_and_wait(topic_for_event_type(event.type).name, event.to_bytes(),
                                         key=event.partition_key())
    finally:
        await producer.stop()


def produce(infrastructure, events: list[CloudEvent]) -> None:
    asyncio.run(_produce(infrastructure.kafka_bootstrap_servers, events))


async def _alert_records(bootstrap: str) -> list[dict]:
    """Every record of the alerts topic, from the beginning. Subscribed without a consumer group (all
    partitions, no commits): assigning needs the topic's partitions, and on Apache Kafka
    `consumer.topics()` fetches them into a metadata object the consumer does not keep."""
    consumer = AIOKafkaConsumer("styrkedja.alerts", bootstrap_servers=bootstrap, enable_auto_commit=False,
                                group_id=None, auto_offset_reset="earliest")
    await consumer.start()
    try:
        records, quiet = [], 0
        while quiet < (2 if records else 8):
            batches = await consumer.getmany(timeout_ms=1000)
            quiet = 0 if batches else quiet + 1
            for batch in batches.values():
                records += [json.loads(r.value) for r in batch]
        # one record per event id: the topic is at-least-once and its readers dedupe by id. Another
        # reporting on the same topics (the shared end-to-end stack's, when it runs) raises the same
        # alert with the same deterministic event id, so the topic may hold it twice
        unique = {r["id"]: r for r in records if r["data"]["organiser_id"] == ORG}
        return list(unique.values())
    finally:
        await consumer.stop()


def topic_alerts(infrastructure) -> list[tuple[str, str, int]]:
    """(type, level, episode) of this organiser's maths pass-share alerts of the school unit, on the topic."""
    records = asyncio.run(_alert_records(infrastructure.kafka_bootstrap_servers))
    return [(r["type"].rsplit(".", 2)[1], r["data"]["level"], r["data"]["episode"]) for r in records
            if r["data"]["alert_id"] == str(UNIT_ALERT)]


def wait_for(check, timeout: float = 90.0):
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value or time.monotonic() > deadline:
            return value
        time.sleep(0.3)


def unit_alerts(client: httpx.Client) -> list[dict]:
    response = client.get("/v1/alerts", params={"organiser_id": ORG, "level": "school_unit",
                                                "rule": "pass_share_drop"})
    assert response.status_code == 200, response.text
    return response.json()


# ---------------------------------------------------------------- the tests

def test_a_maths_drop_raises_one_unit_alert_replay_none_recovery_resolves(infrastructure, reporting, token_issuer):
    directory = [unit("organiser", ORG, None), unit("area", f"{ORG}-north", ORG),
                 unit("school_unit", f"{ORG}-su", f"{ORG}-north", code=UNIT),
                 unit("group", "7A", f"{ORG}-su", code=UNIT, year=7)]
    first = [result(n, "F" if n < 2 else "C", 1) for n in range(20)]  # 90 % reach the pass level
    drop = [result(n, "F" if n < 6 else "C", 2) for n in range(20)]  # 70 %: −20 points > 10
    produce(infrastructure, directory + first + drop)
    with httpx.Client(base_url=reporting.url, headers=headers(token_issuer, "organiser_admin"), timeout=30) as client:
        raised = wait_for(lambda: unit_alerts(client))
        assert [(a["alert_id"], a["status"], a["episode"], a["round"]) for a in raised] == [
            (str(UNIT_ALERT), "open", 1, 2)]
        # the figures that triggered it: those of the batch that crossed the threshold — round 2's 20
        # results may arrive over several batches (0.5 after 12 of them, 0.7 after all), round 1 is whole
        assert raised[0]["figures"]["share"] <= 0.8 and raised[0]["figures"]["compared_share"] == 0.9
        assert wait_for(lambda: topic_alerts(infrastructure)) == [("raised", "school_unit", 1)]

        produce(infrastructure, directory + first + drop)  # a replay: the very same events again
        marker = result(99, "C", 1, code=QUIET)  # behind the replay on the same partition: once applied, so is it
        produce(infrastructure, [marker])
        assert wait_for(lambda: client.get("/v1/alerts", params={"organiser_id": ORG}).status_code == 200)
        time.sleep(2)
        assert [(a["status"], a["episode"]) for a in unit_alerts(client)] == [("open", 1)]
        assert topic_alerts(infrastructure) == [("raised", "school_unit", 1)]

        produce(infrastructure, [result(n, "C", 2, revision=2) for n in range(2, 6)])  # corrected: 90 % again
        resolved = wait_for(lambda: [a for a in unit_alerts(client) if a["status"] == "resolved"])
        assert [(a["alert_id"], a["resolved_reason"], a["episode"]) for a in resolved] == [
            (str(UNIT_ALERT), "recovered", 1)]
        assert wait_for(lambda: len(topic_alerts(infrastructure)) == 2)
        assert topic_alerts(infrastructure) == [("raised", "school_unit", 1), ("resolved", "school_unit", 1)]


# broker-agnostic: the compliance lists' arithmetic; the broker paths (replay, SIGKILL) are the other two tests'
@pytest.mark.one_broker
def test_compliance_lists_equal_the_hand_count_and_a_recomputation(infrastructure, reporting, token_issuer):
    directory = [unit("organiser", ORG, None), unit("school_unit", f"{ORG}-q", ORG, code=QUIET),
                 unit("group", "8A", f"{ORG}-q", code=QUIET, year=8), unit("group", "8B", f"{ORG}-q", code=QUIET,
                                                                         year=8)]
    directory += [member(s, "8A") for s in ("s-1", "s-2", "s-3", "s-4")] + [member(s, "8B") for s in ("s-5", "s-6")]
    directory += [assigned("a-1", "8A", MATHS, "t-anna"),
                  assigned("a-2", "8A", ENGLISH, "t-bo", end=date(2026, 10, 20)),  # left mid-window (week 43)
                  assigned("a-3", "8A", ENGLISH, "t-cia", start=date(2026, 10, 21)),  # her successor
                  assigned("a-4", "8B", MATHS, "t-dan")]
    forecasts = [forecast("s-1", "8A", MATHS), forecast("s-2", "8A", MATHS, late=True),
                 forecast("s-1", "8A", ENGLISH), forecast("s-5", "8B", MATHS)]
    produce(infrastructure, directory + forecasts)
    window = {"school_year": "2026/27", "term": "HT"}
    with httpx.Client(base_url=reporting.url, headers=headers(token_issuer, "organiser_admin", "ops"),
                      timeout=30) as client:
        def units() -> list:
            # this test's school unit only: the module's other tests write other units of the same organiser to
            # the same topics, and the embedded broker's end offset (`start_at_log_end`) may lie before some of them
            response = client.get(f"/v1/compliance/organisers/{ORG}/school-units", params=window)
            rows = response.json()["rows"] if response.status_code == 200 else []
            return [(r["school_unit_code"], r["expected"], r["on_time"], r["late"], r["missing"]) for r in rows
                    if r["school_unit_code"] == QUIET]

        # 8A: 4 students × (maths, English) = 8; 8B: 2 × maths = 2 → 10 expected; 3 on time, 1 late
        assert wait_for(lambda: units() == [(QUIET, 10, 3, 1, 6)]), units()
        teachers = client.get(f"/v1/compliance/organisers/{ORG}/school-units/{QUIET}",
                              params={**window, "list": "teacher"}).json()["rows"]
        assert {r["teacher_id"]: (r["expected"], r["on_time"], r["late"], r["missing"]) for r in teachers} == {
            "t-anna": (4, 1, 1, 2), "t-cia": (4, 1, 0, 3), "t-dan": (2, 1, 0, 1)}  # t-bo left: on no list
        missing = client.get(f"/v1/compliance/organisers/{ORG}/school-units/{QUIET}/items",
                             params={**window, "status": "missing"}).json()["rows"]
        assert len(missing) == 6 and all("t-bo" not in r["teachers"] for r in missing)
        late = client.get(f"/v1/compliance/organisers/{ORG}/school-units/{QUIET}/items",
                          params={**window, "status": "late"}).json()["rows"]
        assert [(r["subject_code"], r["student_id"]) for r in late] == [(MATHS, "s-2")]  # late, never missing
        consistency = client.get("/v1/admin/consistency").json()
        assert consistency["compliance_cell_mismatches"] == 0 and consistency["consistent"], consistency


# ---------------------------------------------------------------- replay and SIGKILL

KILLED = f"7{RNG.randint(1000000, 9999999)}"  # the school unit of the SIGKILL test
ROUND_CALENDAR = ReportingCalendar(round_deadlines=(RoundDeadline(round=2, term="HT", iso_week=43),), grace_days=2)
STOCKHOLM = ZoneInfo("Europe/Stockholm")
SUBJECTS = (MATHS, ENGLISH, "GRGRSVE01", "GRGRBIO01")


def chaos_events(rng: random.Random) -> tuple[list[CloudEvent], list[Item]]:
    """A school of 4 groups × 20 students × 4 subjects: assignments (one teacher leaves mid-window and
    is succeeded, one group × subject is left without anyone), forecasts (some late, some revised,
    some withdrawn) and round-2 assessments (some late, some corrected, some retracted) — and the
    items the pure rules expect of them, in both windows."""
    events: list[CloudEvent] = [
        unit("organiser", ORG, None), unit("school_unit", f"{ORG}-k", ORG, code=KILLED),
        new_event(CalendarChangedV1(organiser_id=ORG, revision=1, calendar=ROUND_CALENDAR, changed_at=T0),
                  source="/e2e")]
    rosters, assignments, forecasts, rounds = [], [], {}, {}
    for g in range(4):
        group = f"9{'ABCD'[g]}"
        events.append(unit("group", group, f"{ORG}-k", code=KILLED, year=9))
        students = [f"k-{g}-{n}" for n in range(20)]
        rosters.append(Roster(KILLED, group, frozenset(students)))
        for s in students:
            events.append(new_event(GroupMembershipUpsertedV1(
                membership_id=f"m-{ORG}-{s}", organiser_id=ORG, school_unit_code=KILLED, group_id=group,
                student_id=s, start_date=date(2026, 8, 17), updated_at=T0), source="/e2e"))
        for x, subject in enumerate(SUBJECTS):
            if (g, x) == (1, 1):  # left on the 20th, succeeded on the 21st
                spans = [("t-left", None, date(2026, 10, 20)), ("t-next", date(2026, 10, 21), None)]
            elif (g, x) == (2, 2):  # left on the 20th, nobody took over: unassigned
                spans = [("t-gone", None, date(2026, 10, 20))]
            else:
                spans = [(f"t-{g}-{x}", None, None)]
            for n, (teacher, start, end) in enumerate(spans):
                assignment = Assignment(KILLED, group, subject, teacher, start, end)
                assignments.append(assignment)
                events.append(new_event(TeachingAssignmentUpsertedV1(
                    assignment_id=f"{ORG}-k-{g}-{x}-{n}", organiser_id=ORG, school_unit_code=KILLED, group_id=group,
                    teacher_id=teacher, subject_code=subject, start_date=start, end_date=end, updated_at=T0),
                    source="/e2e"))
            for s in students:
                fid = uuid.uuid5(NS, f"{ORG}-kf-{s}-{subject}")
                roll = rng.random()
                if roll < 0.6:
                    late = rng.random() < 0.2
                    events.append(kforecast(fid, 1, s, group, subject, late))
                    forecasts[(s, subject)] = late
                    if rng.random() < 0.15:  # withdrawn
                        events.append(new_event(ForecastWithdrawnV1(
                            forecast_id=forecast_id_for(ORG, s, subject, "2026/27", "HT"),
                            revision=2, organiser_id=ORG, school_unit_code=KILLED, group_id=group,
                            student_id=s, subject_code=subject, school_year="2026/27", term="HT",
                            withdrawn_at=T0 + timedelta(days=61)), source="/e2e"))
                        del forecasts[(s, subject)]
                    elif rng.random() < 0.15:  # revised (the service's flag of the newest counts)
                        events.append(kforecast(fid, 2, s, group, subject, late))
                aid = uuid.uuid5(NS, f"{ORG}-ka-{s}-{subject}")
                if rng.random() < 0.7:
                    day = rng.choice([20, 23, 25, 26, 27])  # deadline: Sunday 25 October (2 grace days)
                    at = datetime(2026, 10, day, 15, tzinfo=STOCKHOLM)
                    events.append(kassessment(aid, 1, s, group, subject, at))
                    rounds[(s, subject)] = at
                    if rng.random() < 0.15:
                        events.append(new_event(AssessmentRetractedV1(
                            assessment_id=aid, revision=2, organiser_id=ORG, school_unit_code=KILLED, group_id=group,
                            student_id=s, subject_code=subject, school_year="2026/27", term="HT", round=2,
                            retracted_at=at + timedelta(days=1)), source="/e2e"))
                        del rounds[(s, subject)]
                    elif rng.random() < 0.2:  # a correction later: the first time still counts
                        events.append(kassessment(aid, 2, s, group, subject, at + timedelta(days=9)))
    forecast_key = WindowKey(WindowKind.forecast, ORG, "2026/27:HT")
    forecast_w = forecast_window("2026/27", "HT")
    round_key = WindowKey(WindowKind.assessment_round, ORG, "2026/27:R2")
    round_w = round_window("2026/27", 2, ROUND_CALENDAR)
    assert round_w is not None
    stand_in = {False: datetime(2026, 10, 19, 12, tzinfo=STOCKHOLM), True: datetime(2026, 11, 2, 12, tzinfo=STOCKHOLM)}
    expected = items(forecast_key, forecast_w, rosters, assignments,
                     [Report(s, x, stand_in[late]) for (s, x), late in forecasts.items()])
    expected += items(round_key, round_w, rosters, assignments, [Report(s, x, at) for (s, x), at in rounds.items()])
    return events, expected


def kforecast(fid: uuid.UUID, revision: int, student: str, group: str, subject: str, late: bool):
    return new_event(ForecastSubmittedV1(
        forecast_id=forecast_id_for(ORG, student, subject, "2026/27", "HT"),
        revision=revision, organiser_id=ORG, school_unit_code=KILLED, group_id=group,
        student_id=student, teacher_id="t-x", gender="male", year=9, subject_code=subject, value="ACCEPTABLE",
        school_year="2026/27", term="HT", submitted_at=T0 + timedelta(days=60, minutes=revision),
        window_deadline=date(2026, 10, 23), late=late), source="/e2e")


def kassessment(aid: uuid.UUID, revision: int, student: str, group: str, subject: str, at: datetime):
    return new_event(AssessmentPublishedV1(
        assessment_id=aid, revision=revision, organiser_id=ORG, school_unit_code=KILLED, group_id=group,
        student_id=student, teacher_id="t-x", gender="male", year=9, subject_code=subject, kind="assessment",
        scale="AF", value="C", school_year="2026/27", term="HT", round=2, assessed_on=date(2026, 10, 15),
        published_at=at), source="/e2e")


async def _stored_items(database_url: str) -> set[tuple]:
    async with async_engine(database_url) as engine, engine.connect() as conn:
        rows = (await conn.execute(text(
            "SELECT kind, period, school_unit_code, group_id, subject_code, student_id, teachers, status "
            "FROM compliance_items WHERE organiser_id = :org AND school_unit_code = :unit"),
            {"org": ORG, "unit": KILLED})).all()
    return {(r[0], r[1], r[2], r[3], r[4], r[5], tuple(r[6]), r[7]) for r in rows}


def as_rows(found: list[Item]) -> set[tuple]:
    return {(i.window.kind.value, i.window.period, i.school_unit_code, i.group_id, i.subject_code, i.student_id,
             i.teachers, i.status.value) for i in found}


def test_compliance_after_sigkill_and_replay_equals_a_recomputation(infrastructure, reporting, token_issuer):
    events, expected = chaos_events(random.Random(13))
    # SIGKILL while the stream (and then its replay) is being applied; start again each time
    with killed_meanwhile(reporting, (1.0, 1.5, 1.0), down=0.3, ready_timeout=90) as kills:
        for start in range(0, len(events), 100):
            produce(infrastructure, events[start:start + 100])
        produce(infrastructure, events)  # the whole stream again: a replay
    assert len(kills) == 3, "the reporting process must really have been killed mid-stream"
    wanted = as_rows(expected)
    database_url = reporting.env["STYRKEDJA_DATABASE_URL"]
    # this school's items only: the other tests of the module wrote to the same organiser on the same topics
    assert wait_for(lambda: asyncio.run(_stored_items(database_url)) == wanted, 180)
    with httpx.Client(base_url=reporting.url, headers=headers(token_issuer, "organiser_admin", "ops"),
                      timeout=30) as client:
        consistency = client.get("/v1/admin/consistency").json()
        assert consistency["compliance_cell_mismatches"] == 0 and consistency["consistent"], consistency
        units = client.get(f"/v1/compliance/organisers/{ORG}/school-units",
                           params={"school_year": "2026/27", "term": "HT"}).json()["rows"]
        forecast_items = [i for i in expected if i.window.kind is WindowKind.forecast]
        assert [(r["school_unit_code"], r["expected"], r["on_time"], r["late"]) for r in units
                if r["school_unit_code"] == KILLED] == [
            (KILLED, len(forecast_items), sum(i.status is ItemStatus.on_time for i in forecast_items),
             sum(i.status is ItemStatus.late for i in forecast_items))]

"""End to end, broker → reporting (a real process) → its outbox → `styrkedja.alerts`:

* a school whose maths results drop raises exactly one school-unit alert, visible in the API and
  as one `alert.raised.v1` on the topic; replaying every event raises no second one; the recovery
  (corrected results) resolves it — one `alert.resolved.v1`;
* a forecast window with some teachers missing, one report late and a teacher who left the group
  mid-window: the lists and counts equal the hand count and a recomputation (consistency check).

Events are produced straight to Kafka, keyed by organiser, as a school platform may."""

from __future__ import annotations

import asyncio
import json
import random
import time
import uuid
from datetime import UTC, date, datetime, timedelta

import httpx
import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition

from styrkedja_contracts import (
    AssessmentPublishedV1,
    CloudEvent,
    ForecastSubmittedV1,
    GroupMembershipUpsertedV1,
    OrganisationUnitUpsertedV1,
    TeachingAssignmentUpsertedV1,
    new_event,
    topic_for_event_type,
)
from styrkedja_contracts.events.alert import alert_id_for
from styrkedja_devstack.postgres import free_port
from styrkedja_devstack.services import SERVICES, ServiceProcess
from styrkedja_kit.migrations import upgrade

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
    url = infrastructure.create_database(f"e2e_alerts_{uuid.uuid4().hex[:8]}")
    upgrade(spec.package, url)
    process = ServiceProcess(spec, database_url=url, kafka_bootstrap_servers=infrastructure.kafka_bootstrap_servers,
                             port=free_port(), log_dir=tmp_path / "logs", extra_env={
                                 "STYRKEDJA_CONSUMER_GROUP": f"reporting-alerts-{uuid.uuid4().hex[:8]}",
                                 "STYRKEDJA_AUTH_ISSUER": token_issuer.url, "STYRKEDJA_LOG_LEVEL": "WARNING"})
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
        forecast_id=uuid.uuid5(NS, f"{ORG}-{student}-{subject}"), revision=1, organiser_id=ORG,
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
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False, group_id=None)
    await consumer.start()
    try:
        await consumer.topics()
        partitions = [TopicPartition("styrkedja.alerts", p)
                      for p in (consumer.partitions_for_topic("styrkedja.alerts") or set())]
        if not partitions:
            return []
        consumer.assign(partitions)
        await consumer.seek_to_beginning(*partitions)
        records, quiet = [], 0
        while quiet < (2 if records else 8):
            batches = await consumer.getmany(timeout_ms=1000)
            quiet = 0 if batches else quiet + 1
            for batch in batches.values():
                records += [json.loads(r.value) for r in batch]
        return [r for r in records if r["data"]["organiser_id"] == ORG]
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
        assert raised[0]["figures"]["share"] == 0.7 and raised[0]["figures"]["compared_share"] == 0.9
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
            response = client.get(f"/v1/compliance/organisers/{ORG}/school-units", params=window)
            rows = response.json()["rows"] if response.status_code == 200 else []
            return [(r["school_unit_code"], r["expected"], r["on_time"], r["late"], r["missing"]) for r in rows]

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

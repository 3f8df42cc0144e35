"""LIKA in reporting against a real PostgreSQL: events through the kit's consumer loop (its
dead-lettering with a recording producer), keyed by organiser + school unit; the newest plan
revision wins in any order; an unknown school unit is held unplaced; the compilation routes
answer JSON, CSV and xlsx and refuse bad parameters with problem+json."""

from __future__ import annotations

import io
import random
from datetime import UTC, date, datetime, timedelta
from uuid import UUID, uuid5

import openpyxl
import pytest
from aiokafka import ConsumerRecord, TopicPartition
from sqlalchemy import text

from styrkedja_contracts import new_event
from styrkedja_contracts.events.lika import LikaActionPlanChangedV1, LikaSelfAssessmentPublishedV1
from styrkedja_devstack.testing import RecordingProducer
from styrkedja_kit.consumer import ConsumerLoop
from styrkedja_kit.db import Database
from styrkedja_reporting.main import handler_registry
from styrkedja_reporting.persistence import metadata

from .test_directory import Feeder, directory

pytestmark = [pytest.mark.integration, pytest.mark.postgres_only]

NS = UUID("5b1f0c1e-0000-4000-8000-00000000a1ca")
T0 = datetime(2026, 10, 1, 8, 0, tzinfo=UTC)


def published(name: str, organiser: str, code: str, ratings: dict[str, str], at: datetime = T0):
    return new_event(LikaSelfAssessmentPublishedV1(
        self_assessment_id=uuid5(NS, name), organiser_id=organiser, school_unit_code=code, school_form="grundskola",
        respondent_role="rektor", catalogue_version="2026.1",
        ratings=[{"indicator_id": i, "area": "ledning", "rating": r, "comment": f"om {i}"} for i, r in ratings.items()],
        published_at=at), source="/test")


def plan(name: str, organiser: str, code: str, revision: int, statuses: dict[str, tuple[str, int]]):
    return new_event(LikaActionPlanChangedV1(
        self_assessment_id=uuid5(NS, name), organiser_id=organiser, school_unit_code=code, school_form="grundskola",
        catalogue_version="2026.1", revision=revision,
        items=[{"activity_id": f"{i}-a", "indicator_id": i, "area": "ledning", "position": n + 1,
                "title": f"Aktivitet för {i}", "status": s, "priority": p}
               for n, (i, (s, p)) in enumerate(statuses.items())],
        changed_at=T0 + timedelta(minutes=revision)), source="/test")


def record(event, offset: int) -> ConsumerRecord:
    value = event.to_bytes()
    return ConsumerRecord("styrkedja.lika", 0, offset, 0, 0, event.data.organiser_id.encode(), value, None, 10,
                          len(value), ())


@pytest.fixture
async def fed(settings):
    """Directory of test_directory (2999: 11111111 north, 22222222 south; 3001: 33333333, no area),
    then LIKA events through the consumer loop in one batch."""
    database = Database(settings.database_url)
    await Feeder(database)(directory())
    loop = ConsumerLoop(settings, database, group_id="lika-test", topics=[], handler=handler_registry(),
                        applied_table=metadata.tables["consumer_applied_events"],
                        offsets_table=metadata.tables["consumer_offsets"], handles=handler_registry().handles)
    plans = [plan("north", "2999", "11111111", r, {"L1": (s, p), "L2": ("planned", 2)})
             for r, (s, p) in ((1, ("planned", 1)), (2, ("in_progress", 1)), (3, ("done", 1)))]
    random.Random(3).shuffle(plans)  # the revisions arrive in any order: the newest wins
    events = [published("north", "2999", "11111111", {"L1": "PLANNED", "L2": "NOT_PLANNED"}),
              published("south", "2999", "22222222", {"L1": "ACHIEVED", "L2": "PLANNED"}),
              published("claim", "3001", "11111111", {"L1": "ACHIEVED", "L2": "ACHIEVED"},
                        at=T0 + timedelta(days=1)),  # 3001 does not own 11111111
              published("unknown", "2999", "44444444", {"L1": "STARTED"}),  # not in the directory yet
              plan("south", "2999", "22222222", 1, {"L2": ("planned", 1)}), *plans]
    producer = RecordingProducer()
    await loop.process({TopicPartition("styrkedja.lika", 0): [record(e, n) for n, e in enumerate(events)]}, producer)
    yield database, producer, events
    await database.dispose()


async def test_another_organisers_event_is_kept_shown_to_no_one_and_the_rest_applied(fed, client):
    """Another organiser's self-assessment for a unit the directory places under 2999 is kept (whose the unit is
    decides the read, not the apply: test_lika_ownership_order) and shown to no one: not in 3001's compilation, not
    among the unit's self-assessments."""
    database, producer, events = fed
    assert producer.sent == []
    async with database.sessions() as session:
        kept = (await session.execute(text("SELECT organiser_id FROM lika_self_assessments WHERE self_assessment_id "
                                           "= :id"), {"id": events[2].data.self_assessment_id})).scalars().all()
    assert kept == ["3001"]
    assert (await client.get("/v1/lika/compilation", params={"organiser_id": "3001"})).json()["rows"] == []
    units = (await client.get("/v1/lika/school-units", params={"school_unit_code": "11111111"})).json()
    assert [(u["organiser_id"], u["self_assessment_id"]) for u in units] == [("2999", str(uuid5(NS, "north")))]


async def test_compilation_newest_plan_unplaced_unit_and_filters(fed, client):
    rows = (await client.get("/v1/lika/compilation", params={"organiser_id": "2999"})).json()["rows"]
    cells = {(r["area_id"], r["school_unit_code"], r["indicator_id"]): (r["rating"], r["plan_status"],
                                                                          r["plan_revision"]) for r in rows}
    assert cells == {
        ("north", "11111111", "L1"): ("PLANNED", "done", 3), ("north", "11111111", "L2"): ("NOT_PLANNED", "planned", 3),
        ("south", "22222222", "L1"): ("ACHIEVED", None, 1), ("south", "22222222", "L2"): ("PLANNED", "planned", 1),
        (None, "44444444", "L1"): ("STARTED", None, None)}
    assert rows[0]["school_unit_name"] == "school_unit su-a" and rows[0]["comment"] == "om L1"
    north = (await client.get("/v1/lika/compilation", params={"organiser_id": "2999", "area_id": "north",
                                                              "indicator_id": "L2"})).json()["rows"]
    assert [(r["school_unit_code"], r["indicator_id"]) for r in north] == [("11111111", "L2")]
    todo = (await client.get("/v1/lika/compilation/activities", params={
        "organiser_id": "2999", "status": "planned", "priority": 1})).json()["rows"]
    assert [(r["school_unit_code"], r["activity_id"]) for r in todo] == [("22222222", "L2-a")]


async def test_compilation_exports_and_bad_parameters(fed, client):
    csv = await client.get("/v1/lika/compilation", params={"organiser_id": "2999", "format": "csv"})
    assert csv.status_code == 200 and "attachment" in csv.headers["content-disposition"]
    lines = csv.content.decode("utf-8-sig").splitlines()
    assert lines[0].split(";")[:3] == ["Huvudman", "Verksamhetsområde", "Skolenhetskod"] and len(lines) == 6
    xlsx = await client.get("/v1/lika/compilation/over-time", params={
        "organiser_id": "2999", "school_year": "2026/27", "format": "xlsx"})
    sheet = openpyxl.load_workbook(io.BytesIO(xlsx.content), read_only=True).active
    rows = list(sheet.iter_rows(values_only=True))
    assert rows[0][:3] == ("Skolform", "LIKA-område", "Indikator (tom: hela området)")
    by_indicator = {r[2]: r for r in rows[1:]}
    assert by_indicator["L1"][3] == 3 and by_indicator["L1"][5] == 0  # three units this year, none last year
    for params in ({"organiser_id": "nope"}, {"organiser_id": "2999", "school_form": "universitet"},
                   {"organiser_id": "2999", "format": "pdf"}):
        response = await client.get("/v1/lika/compilation", params=params)
        assert response.status_code == 422, response.text
        assert response.headers["content-type"].startswith("application/problem+json")
    bad_year = await client.get("/v1/lika/compilation/over-time", params={"organiser_id": "2999",
                                                                          "school_year": "2026"})
    assert bad_year.status_code == 422 and "school_year" in bad_year.text


async def test_over_time_counts_a_self_assessment_in_the_school_year_of_its_day(settings, client):
    """Made 30 June, published 1 July 00:30 in Sweden: counted in the school year ending that June (the day it was
    made, `assessed_on`, kept as applied — live and rebuilt alike, the rebuild applies the same handler). Failed
    on the old code: counted in the next school year, by `published_at`."""
    made = published("june", "2999", "11111111", {"L1": "STARTED"}, at=datetime(2026, 6, 30, 22, 30, tzinfo=UTC))
    made = new_event(made.data.model_copy(update={"assessed_on": date(2026, 6, 30)}), source="/test")
    database = Database(settings.database_url)
    try:
        await Feeder(database)(directory())
        loop = ConsumerLoop(settings, database, group_id="lika-test", topics=[], handler=handler_registry(),
                            applied_table=metadata.tables["consumer_applied_events"],
                            offsets_table=metadata.tables["consumer_offsets"], handles=handler_registry().handles)
        await loop.process({TopicPartition("styrkedja.lika", 0): [record(made, 0)]}, RecordingProducer())
    finally:
        await database.dispose()
    answer = await client.get("/v1/lika/compilation/over-time", params={
        "organiser_id": "2999", "school_year": "2025/26", "compare_to": "2024/25"})
    assert answer.status_code == 200, answer.text
    [l1] = [r for r in answer.json()["rows"] if r["indicator_id"] == "L1"]
    assert (l1["units_now"], l1["mean_now"]) == (1, 2.0), l1

"""End to end, LIKA service → broker → reporting: self-assessments drafted, saved and published in
the tool, one kept private, action plans edited; the organiser's compilation in reporting equals an
independent recomputation from the events on `styrkedja.lika`; the private one never shows; another
organiser's event for a school unit is shown to no one; last year's
self-assessment (produced straight to Kafka, as a platform may) shows in the comparison over time;
CSV and xlsx of the compilation."""

from __future__ import annotations

import asyncio
import io
import json
import random
import time
from datetime import UTC, datetime, timedelta
from uuid import uuid4

import httpx
import openpyxl
import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer

from styrkedja_contracts import new_event
from styrkedja_contracts.events.lika import LikaSelfAssessmentPublishedV1
from support import Mittkoping, Tokens, publish_directory

pytestmark = [pytest.mark.integration, pytest.mark.e2e]

RATINGS = ("NOT_PLANNED", "PLANNED", "STARTED", "ALMOST_THERE", "ACHIEVED", "NOT_RELEVANT")
LEVEL = {r: i for i, r in enumerate(RATINGS[:5])}


async def _read_topic(bootstrap: str, topic: str) -> list:
    """Every record on the topic, from the beginning. Subscribed without a consumer group (every
    partition, no commits): an assigning reader must first ask for the topic's partitions, and
    `partitions_for_topic` only knows topics the client already tracks — on Apache Kafka, whose
    metadata answer lists only the topics asked for, it stayed empty and so did the reader."""
    consumer = AIOKafkaConsumer(topic, bootstrap_servers=bootstrap, enable_auto_commit=False, group_id=None,
                                auto_offset_reset="earliest")
    await consumer.start()
    try:
        # read until the topic is quiet: the embedded broker's end offsets are not reliable; the
        # first fetch of a fresh consumer can take seconds on a loaded machine, so wait longer for it
        records, quiet = [], 0
        while quiet < (2 if records else 10):
            batches = await consumer.getmany(timeout_ms=1000)
            quiet = 0 if batches else quiet + 1
            for batch in batches.values():
                records += batch
        return records
    finally:
        await consumer.stop()


def read_topic(bootstrap: str, topic: str) -> list:
    return asyncio.run(_read_topic(bootstrap, topic))


def cloud_events(records: list) -> list[tuple[dict, object]]:
    """The records that are CloudEvents with data, and the record; anything else (other tests'
    poison on shared brokers) is passed over."""
    found = []
    for r in records:
        try:
            event = json.loads(r.value)
        except (TypeError, ValueError):
            continue
        if isinstance(event, dict) and isinstance(event.get("data"), dict) and "type" in event:
            found.append((event, r))
    return found


async def _produce(bootstrap: str, topic: str, key: str, value: bytes) -> None:
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap)
    await producer.start()
    try:
        await producer.send_and_wait(topic, value=value, key=key.encode())
    finally:
        await producer.stop()


def recompute(events: list[dict], organiser: str) -> dict[tuple, tuple]:
    """(school unit, school form, indicator) → (rating, comment, plan status, activities, top open
    priority), from the published events alone — the test's own rules, not reporting's."""
    latest: dict[tuple, dict] = {}
    plans: dict[str, dict] = {}
    for event in events:
        data = event["data"]
        if not event["type"].startswith("se.styrkedja.lika.") or data.get("organiser_id") != organiser:
            continue
        if event["type"].endswith("self_assessment_published.v1"):
            key = (data["school_unit_code"], data["school_form"])
            held = latest.get(key)
            if held is None or (data["published_at"], data["self_assessment_id"]) > (
                    held["published_at"], held["self_assessment_id"]):
                latest[key] = data
        elif data["self_assessment_id"] not in plans or data["revision"] > plans[data["self_assessment_id"]]["revision"]:
            plans[data["self_assessment_id"]] = data
    cells = {}
    for (unit, form), data in latest.items():
        items = plans.get(data["self_assessment_id"], {"items": []})["items"]
        for rating in data["ratings"]:
            mine = [i for i in items if i["indicator_id"] == rating["indicator_id"]]
            statuses = {i["status"] for i in mine}
            status = next((s for s in ("in_progress", "planned", "done", "dropped") if s in statuses), None)
            open_ = [i["priority"] for i in mine if i["status"] in ("planned", "in_progress")]
            cells[(unit, form, rating["indicator_id"])] = (rating["rating"], rating.get("comment"), status, len(mine),
                                                          min(open_, default=None))
    return cells


def compiled(reporting_url: str, organiser: str, tokens: Tokens, **params) -> dict[tuple, tuple]:
    body = httpx.get(reporting_url + "/v1/lika/compilation", params={"organiser_id": organiser, **params},
                     headers=tokens.admin(organiser), timeout=30).json()
    return {(r["school_unit_code"], r["school_form"], r["indicator_id"]):
            (r["rating"], r["comment"], r["plan_status"], r["activities"], r["top_priority"]) for r in body["rows"]}


def wait_until_placed(reporting_url: str, organiser: str, school_unit_code: str, tokens: Tokens,
                      timeout: float = 180) -> None:
    """Until reporting's directory places the school unit under the organiser: reporting shows a LIKA event for a
    unit its directory does not know yet (unplaced) to its organiser, and hides one for a unit the directory places
    under another organiser; the foreign claim is judged once the directory holds the unit."""
    deadline = time.monotonic() + timeout
    while True:
        response = httpx.get(f"{reporting_url}/v1/directory/units/su-{school_unit_code}",
                             params={"organiser_id": organiser}, headers=tokens.admin(organiser), timeout=30)
        if response.status_code == 200 or time.monotonic() > deadline:
            break
        time.sleep(0.5)
    assert response.status_code == 200, f"the directory never placed {school_unit_code}: {response.text}"


# broker-agnostic: the compilation's content; dead-lettering on both brokers is the kit's and test_hostile_events'
@pytest.mark.one_broker
def test_lika_compilation_follows_the_tool_and_equals_a_recomputation(stack, infrastructure):
    lika, reporting = stack.url("lika"), stack.url("reporting")
    bootstrap = infrastructure.kafka_bootstrap_servers
    data = Mittkoping(seed=11)
    tokens = stack.tokens
    publish_directory(reporting, data, tokens=tokens)
    organiser, other = data.organisers
    units = data.units[organiser]
    admin = tokens.admin(organiser)
    wait_until_placed(reporting, organiser, units[0], tokens)  # before another organiser claims the unit
    rng = random.Random(11)
    # the principal of the three schools: LIKA of own units
    with httpx.Client(base_url=lika, timeout=30, headers=tokens.principal(organiser, *units[:3])) as client:
        catalogue = client.get("/v1/catalogue/2026.1", params={"school_form": "grundskola"}).json()
        indicators = [i["id"] for area in catalogue["areas"] for i in area["indicators"]]
        published, private = [], None
        for n, unit in enumerate(units[:3]):
            draft = client.post("/v1/self-assessments", json={
                "organiser_id": organiser, "school_unit_code": unit, "school_form": "grundskola",
                "respondent_role": "rektor", "catalogue_version": "2026.1"})
            assert draft.status_code == 201, draft.text
            sa_id = draft.json()["self_assessment_id"]
            ratings = [{"indicator_id": i, "rating": rng.choice(RATINGS[:4]), "comment": f"Skola {unit}: {i}"}
                       for i in indicators]
            half = len(ratings) // 2
            for part in (ratings[half:], ratings[:half]):  # partial saves, in any order
                assert client.patch(f"/v1/self-assessments/{sa_id}/ratings",
                                    json={"ratings": part}).status_code == 200
            if n == 2:
                assert client.post(f"/v1/self-assessments/{sa_id}/keep-private", json={}).status_code == 200
                private = (unit, sa_id)
                continue
            response = client.post(f"/v1/self-assessments/{sa_id}/publish", json={})
            assert response.status_code == 200, response.text
            published.append(sa_id)
        # edits of the first unit's plan: each one is a new revision of the whole plan
        plan = client.get(f"/v1/self-assessments/{published[0]}/action-plan").json()
        assert plan["items"], "ratings below the top level give activities"
        for item, edit in zip(plan["items"], ({"status": "in_progress", "priority": 1},
                                              {"status": "done"}, {"priority": 1, "owner": "IKT-samordnare"},
                                              {"status": "dropped"}), strict=False):
            assert client.patch(f"/v1/self-assessments/{published[0]}/action-plan/items/{item['activity_id']}",
                                json=edit).status_code == 200
        # another organiser claims the first unit through the import door: reporting must not show it
        # (a token of the other organiser that claims the unit: the LIKA service cannot know better)
        foreign = client.post("/v1/self-assessments/published", headers=tokens.principal(other, units[0]), json={
            "organiser_id": other, "school_unit_code": units[0], "school_form": "grundskola",
            "respondent_role": "rektor", "catalogue_version": "2026.1",
            "ratings": [{"indicator_id": indicators[0], "area": catalogue["areas"][0]["id"], "rating": "ACHIEVED"}]})
        assert foreign.status_code == 201, foreign.text
        foreign_id = foreign.json()["self_assessment_id"]

    # last school year's self-assessment of the second unit, produced straight to the topic
    last_year = LikaSelfAssessmentPublishedV1(
        self_assessment_id=uuid4(), organiser_id=organiser, school_unit_code=units[1], school_form="grundskola",
        respondent_role="rektor", catalogue_version="2026.1",
        ratings=[{"indicator_id": i, "area": a["id"], "rating": "NOT_PLANNED"}
                 for a in catalogue["areas"] for i in (x["id"] for x in a["indicators"])],
        published_at=datetime.now(UTC) - timedelta(days=365))
    asyncio.run(_produce(bootstrap, "styrkedja.lika", organiser,
                         new_event(last_year, source="/tests/e2e", subject=units[1]).to_bytes()))

    def events() -> list[dict]:
        return [event for event, _ in cloud_events(read_topic(bootstrap, "styrkedja.lika"))]

    deadline, expected, actual = time.monotonic() + 120, {}, None
    while time.monotonic() < deadline:
        expected = recompute(events(), organiser)
        actual = compiled(reporting, organiser, tokens)
        if expected and actual == expected and len({k[0] for k in expected}) == 2:
            break
        time.sleep(1)
    assert actual == expected
    assert {k[0] for k in actual} == set(units[:2])
    on_topic = [e["data"].get("self_assessment_id") for e in events()]
    assert private[1] not in on_topic  # the private one never left the tool
    assert private[0] not in {k[0] for k in compiled(reporting, organiser, tokens)}
    assert compiled(reporting, other, tokens) == {}  # the foreign claim was not applied
    edited = [v for k, v in actual.items() if k[0] == units[0] and v[2] == "in_progress"]
    assert edited and edited[0][4] == 1  # the edit made it through the plan event

    # the foreign event is kept by reporting and shown to no one while the directory places the unit under the
    # organiser (whose the unit is decides the read, not the apply: reporting's test_lika_ownership_order)
    shown = httpx.get(reporting + "/v1/lika/school-units", headers=tokens.admin(other),
                      params={"organiser_id": other}, timeout=30)
    assert shown.status_code == 200, shown.text
    assert foreign_id not in {row["self_assessment_id"] for row in shown.json()}

    # the to-do list: planned, priority 1, from the same events
    todo = httpx.get(reporting + "/v1/lika/compilation/activities", headers=admin,
                     params={"organiser_id": organiser, "status": "planned", "priority": 1}).json()["rows"]
    plans = {}
    for e in events():
        d = e["data"]
        if e["type"].endswith("action_plan_changed.v1") and d["self_assessment_id"] in published and (
                d["self_assessment_id"] not in plans or d["revision"] > plans[d["self_assessment_id"]]["revision"]):
                plans[d["self_assessment_id"]] = d
    wanted = {(p["school_unit_code"], i["activity_id"]) for p in plans.values() for i in p["items"]
              if i["status"] == "planned" and i["priority"] == 1}
    assert {(r["school_unit_code"], r["activity_id"]) for r in todo} == wanted and wanted
    one_area = httpx.get(reporting + "/v1/lika/compilation", headers=admin, params={
        "organiser_id": organiser, "area_id": data.area_of[units[0]]}).json()["rows"]
    assert {r["school_unit_code"] for r in one_area} == {u for u in units[:2] if data.area_of[u] == data.area_of[units[0]]}

    # this year against last: the second unit moved up from NOT_PLANNED everywhere it rated
    year = datetime.now(UTC)
    over = httpx.get(reporting + "/v1/lika/compilation/over-time", headers=admin,
                     params={"organiser_id": organiser}).json()["rows"]
    now_levels = {k[2]: LEVEL[v[0]] for k, v in actual.items() if k[0] == units[1] and v[0] in LEVEL}
    for row in (r for r in over if r["indicator_id"] in now_levels):
        assert row["units_before"] == 1 and row["mean_before"] == 0, (year, row)
        assert row["improved"] == (1 if now_levels[row["indicator_id"]] > 0 else 0)

    # CSV and xlsx of the compilation, with the comments
    csv = httpx.get(reporting + "/v1/lika/compilation", headers=admin,
                    params={"organiser_id": organiser, "format": "csv"})
    assert csv.status_code == 200 and csv.headers["content-type"].startswith("text/csv")
    lines = csv.content.decode("utf-8-sig").splitlines()
    assert lines[0].startswith("Huvudman;Verksamhetsområde;Skolenhetskod") and len(lines) == len(expected) + 1
    xlsx = httpx.get(reporting + "/v1/lika/compilation", headers=admin,
                     params={"organiser_id": organiser, "format": "xlsx"})
    sheet = openpyxl.load_workbook(io.BytesIO(xlsx.content), read_only=True).active
    rows = list(sheet.iter_rows(values_only=True))
    assert "Kommentar" in rows[0] and len(rows) == len(expected) + 1
    comments = {r[rows[0].index("Kommentar")] for r in rows[1:]}
    assert f"Skola {units[0]}: {indicators[0]}" in comments

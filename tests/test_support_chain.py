"""Support interventions from the assessment service's HTTP door to reporting's tables and read
API, in-process on real PostgreSQL: the free-text description is stored in the assessment
service and nowhere else — not in an event, not in a reporting table, not in a log — while the
figures count it. Every request carries a token: the platform client's for the writes, the
organiser admin's for the reads."""

from __future__ import annotations

import logging

import pytest
from sqlalchemy import text

from styrkedja_assessment.settings import AssessmentSettings
from styrkedja_contracts import decode_event
from styrkedja_devstack import testing
from styrkedja_kit.consumer import Delivered
from styrkedja_kit.db import Database
from styrkedja_reporting.main import handler_registry
from styrkedja_reporting.settings import ReportingSettings
from support import Tokens

# where the free text is stored, sent and logged does not depend on the broker (the events are applied by
# hand here): the first selected broker only
pytestmark = [pytest.mark.integration, pytest.mark.one_broker]

SECRET = "Pappan sjuk, eleven sover dåligt QWERTY-4471"
ORG, UNIT = "2999", "12345678"


def assessment_body(student: str) -> dict:
    return {"organiser_id": ORG, "school_unit_code": UNIT, "group_id": "7A", "student_id": student,
            "teacher_id": "t-1", "gender": "male", "year": 7, "subject_code": "GRGRMAT01", "kind": "assessment",
            "scale": "AF", "value": "F", "unmet_criteria": ["K1"], "school_year": "2026/27", "term": "HT",
            "round": 1, "assessed_on": "2026-10-01"}


async def all_text(url: str) -> str:
    """Every row of every table of the database, as text."""
    async with testing.async_engine(url) as engine, engine.connect() as conn:
        tables = (await conn.execute(text("SELECT tablename FROM pg_tables WHERE schemaname = 'public'"))).scalars()
        dumped = []
        for table in list(tables):
            rows = (await conn.execute(text(f'SELECT CAST(t AS text) FROM "{table}" t'))).scalars().all()
            dumped += rows
    return "\n".join(dumped)


async def test_free_text_stays_in_the_assessment_service(fresh_database, infrastructure, token_issuer, caplog):
    caplog.set_level(logging.DEBUG)
    a_url, r_url = fresh_database("styrkedja_assessment"), fresh_database("styrkedja_reporting")
    common = {"outbox_enabled": False, "kafka_bootstrap_servers": infrastructure.kafka_bootstrap_servers,
              "auth_issuer": token_issuer.url}
    tokens = Tokens(token_issuer)
    body = {"organiser_id": ORG, "school_unit_code": UNIT, "group_id": "7A", "student_id": "s-1",
            "subject_code": "GRGRMAT01", "start_date": "2026-09-01", "decided_on": "2026-09-01",
            "description": SECRET}
    async with testing.service_client("styrkedja_assessment", AssessmentSettings(database_url=a_url, **common)) as a:
        a.headers.update(tokens.platform(ORG))
        investigation = await a.post("/v1/support-interventions", json=body | {
            "kind": "investigation", "status": "decided", "decided_by_role": "principal", "subject_code": None})
        assert investigation.status_code == 201, investigation.text
        batch = await a.post("/v1/support-interventions/batch", json={"items": [
            body | {"kind": "action_programme", "status": "in_progress", "decided_by_role": "principal",
                    "investigation_id": investigation.json()["intervention_id"]},
            body | {"kind": "extra_adjustment", "status": "decided", "decided_by_role": "teacher",
                    "student_id": "s-2"}]})
        assert batch.status_code == 201, batch.text
        assessment = await a.post("/v1/assessments", json=assessment_body("s-3"))
        assert assessment.status_code == 201, assessment.text
        supported = await a.post("/v1/assessments", json=assessment_body("s-1"))
        assert supported.status_code == 201, supported.text
    assert SECRET in await all_text(a_url)  # stored where it belongs: the check below can fail

    async with testing.async_engine(a_url) as engine, engine.connect() as conn:
        rows = (await conn.execute(text("SELECT topic, payload FROM outbox ORDER BY id"))).all()
    assert rows and all(b"QWERTY" not in bytes(r.payload) for r in rows)
    delivered = [Delivered(decode_event(bytes(r.payload)), r.topic, 0, i) for i, r in enumerate(rows)]
    database = Database(r_url)
    try:
        async with database.sessions.begin() as session:
            await handler_registry(live_alerts=False)(session, delivered)
    finally:
        await database.dispose()
    assert "QWERTY" not in await all_text(r_url)

    # the school unit in reporting's directory: an organiser admin reads student lists of its own units only
    at = "2026-08-01T00:00:00+00:00"
    async with testing.service_client("styrkedja_reporting", ReportingSettings(database_url=r_url, **common)) as r:
        placed = await r.post("/v1/directory/changes", headers=tokens.platform(ORG), json={"items": [
            {"type": "se.styrkedja.organisation.unit_upserted.v1", "data": {
                "unit_type": "organiser", "unit_id": ORG, "organiser_id": ORG, "name": "Huvudman", "updated_at": at}},
            {"type": "se.styrkedja.organisation.unit_upserted.v1", "data": {
                "unit_type": "school_unit", "unit_id": f"su-{UNIT}", "organiser_id": ORG, "parent_id": ORG,
                "name": "Skolan", "school_unit_code": UNIT, "updated_at": at}}]})
        assert placed.status_code == 200, placed.text
    async with testing.async_engine(r_url) as engine, engine.connect() as conn:
        own = (await conn.execute(text("SELECT topic, payload FROM outbox ORDER BY id"))).all()
    database = Database(r_url)
    try:
        async with database.sessions.begin() as session:
            await handler_registry(live_alerts=False)(session, [
                Delivered(decode_event(bytes(row.payload)), row.topic, 1, i) for i, row in enumerate(own)])
    finally:
        await database.dispose()

    async with testing.service_client("styrkedja_reporting", ReportingSettings(database_url=r_url, **common)) as r:
        r.headers.update(tokens.admin(ORG))
        summary = await r.get("/v1/support/summary", params={"level": "school_unit", "unit_id": UNIT,
                                                              "organiser_id": ORG})
        assert summary.status_code == 200, summary.text
        figures = summary.json()
        assert figures["active_interventions"] == {"extra_adjustment": 1, "investigation": 1,
                                                   "special_support": 0, "action_programme": 1}
        assert figures["below_pass_without_support"]["students"] == 1
        assert [s["student_id"] for s in figures["below_pass_without_support"]["list"]] == ["s-3"]
        assert "below_pass_without_support" in figures["sensitive"]
        at_risk = await r.get(f"/v1/school-units/{UNIT}/students-at-risk",
                              params={"school_year": "2026/27", "term": "HT", "min_subjects": 1})
        assert at_risk.status_code == 200, at_risk.text
        support_of = {s["student_id"]: s["active_support"] for s in at_risk.json()}
        assert support_of["s-3"] == []
        assert support_of["s-1"] == [
            {"kind": "action_programme", "subject_code": "GRGRMAT01", "status": "in_progress"},
            {"kind": "investigation", "subject_code": None, "status": "decided"}]
        bad = await r.get("/v1/support/summary", params={"level": "school_unit", "unit_id": UNIT})
        assert bad.status_code == 422 and testing.problem_fields(bad) == [("organiser_id", "required_below_nation")]
    assert "QWERTY" not in caplog.text

"""Self-assessments stored before the tool (migration 0001) stay published imports after 0002, and
the tool reads them."""

from __future__ import annotations

import io
import json
import uuid

import pytest
from openpyxl import load_workbook
from sqlalchemy import text

from styrkedja_devstack import testing
from styrkedja_kit.migrations import upgrade
from styrkedja_lika.settings import LikaSettings

pytestmark = [pytest.mark.integration, pytest.mark.postgres_only]

BEFORE_THE_TOOL = "eacf83e69315"


async def test_rows_from_before_the_tool(infrastructure, monkeypatch, client_token):
    url = infrastructure.create_database(f"t_lika_mig_{uuid.uuid4().hex[:8]}")
    upgrade("styrkedja_lika", url, BEFORE_THE_TOOL)
    sa_id = uuid.uuid4()
    ratings = [{"indicator_id": "GR-LED-01", "area": "ledning", "rating": "STARTED", "comment": "Plan finns"}]
    async with testing.async_engine(url) as engine:
        async with engine.begin() as conn:
            await conn.execute(text(
                "INSERT INTO self_assessments (self_assessment_id, organiser_id, school_unit_code, school_form, "
                "respondent_role, catalogue_version, ratings, event_id, published_at) VALUES (:id, '2999', "
                "'29990011', 'grundskola', 'rektor', '2026.1', CAST(:ratings AS jsonb), :event, now())"),
                {"id": sa_id, "ratings": json.dumps(ratings), "event": uuid.uuid4()})
        upgrade("styrkedja_lika", url, "head")
        async with engine.connect() as conn:
            row = (await conn.execute(text("SELECT status, origin, finalised_at = published_at AS same "
                                           "FROM self_assessments"))).one()
    assert (row.status, row.origin, row.same) == ("PUBLISHED", "import", True)

    monkeypatch.setenv("STYRKEDJA_DATABASE_URL", url)
    monkeypatch.setenv("STYRKEDJA_OUTBOX_ENABLED", "false")
    monkeypatch.setenv("STYRKEDJA_KAFKA_BOOTSTRAP_SERVERS", infrastructure.kafka_bootstrap_servers)
    async with testing.service_client("styrkedja_lika", LikaSettings(), token=client_token) as client:
        body = (await client.get(f"/v1/self-assessments/{sa_id}")).json()
        assert (body["status"], body["origin"], body["rated"]) == ("PUBLISHED", "import", 1)
        assert body["ratings"] == [ratings[0]]
        export = await client.get(f"/v1/self-assessments/{sa_id}/export.xlsx")
        sheet = load_workbook(io.BytesIO(export.content))["Självskattning"]
        assert ("Ledning", "GR-LED-01") in [r[:2] for r in sheet.iter_rows(values_only=True)]
        assert "Plan finns" in [r[4] for r in sheet.iter_rows(values_only=True) if len(r) > 4]
        plan = await client.get(f"/v1/self-assessments/{sa_id}/action-plan")
        assert plan.status_code == 404

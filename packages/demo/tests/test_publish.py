"""The publisher against the real assessment, forecast and LIKA services (in-process, real PostgreSQL):
everything arrives through the HTTP APIs, with a platform client's token for assessments and forecasts
and each school unit's principal's for its LIKA, and a second run changes nothing."""

from __future__ import annotations

from contextlib import AsyncExitStack
from datetime import date

import pytest
from sqlalchemy import text

from styrkedja_assessment.settings import AssessmentSettings
from styrkedja_demo.generator import generate
from styrkedja_demo.publisher import Services, publish
from styrkedja_demo.tokens import DemoTokens
from styrkedja_devstack.testing import async_engine, service_client
from styrkedja_forecast.forecasts.rules import window_deadline
from styrkedja_forecast.settings import ForecastSettings
from styrkedja_lika.settings import LikaSettings

pytestmark = [pytest.mark.integration, pytest.mark.postgres_only]

SERVICES = {"assessment": AssessmentSettings, "forecast": ForecastSettings, "lika": LikaSettings}


@pytest.fixture
def databases(fresh_database, infrastructure, monkeypatch) -> dict[str, str]:
    # the outbox relay is off: the test reads the outbox tables itself
    monkeypatch.setenv("STYRKEDJA_OUTBOX_ENABLED", "false")
    monkeypatch.setenv("STYRKEDJA_KAFKA_BOOTSTRAP_SERVERS", infrastructure.kafka_bootstrap_servers)
    return {name: fresh_database(f"styrkedja_{name}") for name in SERVICES}


async def count(url: str, sql: str) -> int:
    async with async_engine(url) as engine, engine.connect() as conn:
        return (await conn.execute(text(sql))).scalar_one()


async def test_small_mittkoping_is_published_and_a_second_run_changes_nothing(databases, token_issuer) -> None:
    muni = generate(5, 200)
    tokens = DemoTokens.minted(token_issuer, muni.organiser_code)
    async with AsyncExitStack() as stack:
        clients = {name: await stack.enter_async_context(service_client(
            f"styrkedja_{name}", settings(database_url=databases[name], auth_issuer=token_issuer.url)))
            for name, settings in SERVICES.items()}
        for name in ("assessment", "forecast"):
            clients[name].headers["Authorization"] = f"Bearer {tokens.platform}"
        services = Services(clients["assessment"], clients["forecast"], clients["lika"], tokens.principal)

        first = await publish(muni, services)
        events = {name: await count(url, "SELECT count(*) FROM outbox") for name, url in databases.items()}
        second = await publish(muni, services)

        lika = clients["lika"]
        scores = {}
        assert tokens.principal is not None

        def rektor(unit: str) -> dict[str, str]:  # reads as the unit's principal
            return {"Authorization": f"Bearer {tokens.principal(unit)}"}  # type: ignore[misc]

        for plan in muni.lika:
            body = (await lika.get(f"/v1/self-assessments/{plan.id}", headers=rektor(plan.unit_code))).json()
            assert body["status"] == ("PUBLISHED" if plan.publish else "DRAFT"), plan
            assert not body["missing"] if plan.publish else True
            if plan.respondent_role == "rektor":
                scores[plan.unit_code] = body["scores"][-1]["percent"]
        ahead = muni.unit_named(muni.story.lika_ahead).code
        behind = muni.unit_named(muni.story.lika_behind).code
        assert scores[ahead] > 75 > 25 > scores[behind], scores
        plan = next(p for p in muni.lika if p.unit_code == ahead)
        items = (await lika.get(f"/v1/self-assessments/{plan.id}/action-plan", headers=rektor(ahead))).json()["items"]
        assert items and {"planned"} < {i["status"] for i in items} | {"planned"}

    assert first.counts["assessments"] == {"stored": len(muni.assessments)}
    assert first.counts["forecasts"]["stored"] == len(muni.forecasts)
    # late is decided by the service's clock: every window whose deadline has passed
    past = [f for f in muni.forecasts if window_deadline(f["school_year"], f["term"]) < date.today()]
    assert first.counts["forecasts"]["late"] == len(past)
    assert 0 < len(past) < len(muni.forecasts) or date.today() > window_deadline(*muni.story.early_window)
    published = sum(p.publish for p in muni.lika)
    assert first.counts["lika"]["published"] == published
    assert first.counts["lika"]["drafts_created"] == len(muni.lika)
    assert first.counts["lika"]["action_items_edited"] > 0

    assert second.changed() == 0, second.counts
    assert second.counts["assessments"] == {"unchanged": len(muni.assessments)}
    assert second.counts["forecasts"] == {"unchanged": len(muni.forecasts)}
    assert second.counts["lika"] == {"unchanged": len(muni.lika)}
    # not one more event: nothing was stored the second time
    assert events["assessment"] == len(muni.assessments)
    assert events["forecast"] == len(muni.forecasts)
    for name, url in databases.items():
        assert await count(url, "SELECT count(*) FROM outbox") == events[name], name
    assert await count(databases["assessment"], "SELECT count(*) FROM assessments") == len(muni.assessments)

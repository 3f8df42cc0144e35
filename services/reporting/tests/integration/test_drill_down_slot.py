"""A figure answered as a file takes an export slot before its transaction commits (`figures.routes._respond`: a read
refused for want of one is not audited), and gives it back when it is sent. Where what comes between fails (the
freshness read, the commit of a drill-down's audit row), the answer is never sent: the slot must be given back all the
same, or each such failure loses one for good and every export is then refused 503."""

from __future__ import annotations

from typing import Any

import pytest

from styrkedja_devstack.testing import app_and_client
from styrkedja_reporting.figures import routes

from .test_one_decision import ORG, PERIOD, fed  # noqa: F401  (the fixture)

pytestmark = [pytest.mark.integration, pytest.mark.postgres_only]


async def test_a_drill_down_that_fails_before_it_is_sent_gives_its_export_slot_back(settings, token_issuer, fed,  # noqa: F811
                                                                                   monkeypatch):
    """Failed before: the first read's failure after `export_response` kept its slot, and with one slot the next
    student-level drill-down as CSV was refused 503 `overloaded`."""
    admin = {"Authorization": "Bearer " + token_issuer.mint(roles=["organiser_admin"], organisers=[ORG])}
    params = {"level": "group", "organiser_id": ORG, "unit_id": "22222222/7A", "format": "csv", **PERIOD}
    one_slot = settings.model_copy(update={"max_exports_in_flight": 1})
    fresh = routes.set_freshness

    async def failing(*args: Any, **kwargs: Any) -> None:
        raise ConnectionResetError("the database went away")

    async with app_and_client("styrkedja_reporting", one_slot) as (_, client):
        monkeypatch.setattr(routes, "set_freshness", failing)
        failed = await client.get("/v1/figures/drill-down", params=params, headers=admin)
        assert failed.status_code >= 500, failed.text  # answered as an error, the file never sent
        monkeypatch.setattr(routes, "set_freshness", fresh)
        answered = await client.get("/v1/figures/drill-down", params=params, headers=admin)
        assert answered.status_code == 200, answered.text
        assert answered.headers["content-type"].startswith("text/csv")

"""A large results answer is built and encoded a slice of cells at a time, with a turn of the event loop between
(`results.read.CELLS_PER_TURN`): its bytes are those of the answer built at once — here with a turn after every
cell, so each level of the small state below takes the path of a national read."""

from __future__ import annotations

import pytest

from styrkedja_devstack.testing import service_client
from styrkedja_reporting.results import read, routes

from .test_read_api import fed  # noqa: F401  (the fixture: three students of two organisers)

pytestmark = [pytest.mark.integration, pytest.mark.postgres_only]

READS = [{"level": level} for level in ("student", "group", "school_unit", "area", "organiser", "nation")] + [
    {"level": "student", "organiser_id": "2999"}, {"level": "group", "format": "csv"},
    {"level": "student", "format": "csv"}]


async def _answers(settings, token: str) -> list[tuple[int, str | None, bytes]]:
    """Every read of `READS` from a fresh app without the answer cache, nothing kept (the routes run)."""
    read.KEPT.clear()
    out = []
    async with service_client("styrkedja_reporting", settings.model_copy(update={"read_cache_enabled": False})) as c:
        for params in READS:
            response = await c.get("/v1/results/assessments", params=params,
                                   headers={"Authorization": f"Bearer {token}"})
            out.append((response.status_code, response.headers.get("content-type"), response.content))
    return out


async def test_an_answer_in_turns_is_the_answer_at_once(settings, admin_token, fed, monkeypatch):  # noqa: F811
    at_once = await _answers(settings, admin_token)
    monkeypatch.setattr(read, "CELLS_PER_TURN", 1)
    monkeypatch.setattr(routes, "CELLS_PER_TURN", 1)
    in_turns = await _answers(settings, admin_token)
    assert [status for status, _, _ in at_once] == [200] * len(READS)
    assert in_turns == at_once
    assert all(body.count(b'"unit_id"') >= 2 for _, _, body in at_once[:2])  # several cells: several turns

"""Round 27a: the forecast batch door at the largest batch it can be set to accept (`max_batch_items`' bound,
10,000), every item valid and distinct — all new, all changed, all the same again; and a withdrawal after it.

A large but valid input is no reason for a 500: a statement whose bind parameters grow with the batch (an IN list, a
multi-row VALUES) passes the 32,767 one statement may have (reporting's directory did, round 27)."""

from __future__ import annotations

import pytest

from styrkedja_forecast.settings import ForecastSettings
from styrkedja_kit.settings import ServiceSettings

pytestmark = [pytest.mark.integration, pytest.mark.postgres_only]

MAX = ServiceSettings.model_fields["max_batch_items"].metadata[-1].le  # the most a deployment may let a batch hold


@pytest.fixture
def settings(service_database, monkeypatch) -> ForecastSettings:
    service_database("styrkedja_forecast")
    monkeypatch.setenv("STYRKEDJA_MAX_BATCH_ITEMS", str(MAX))
    return ForecastSettings()


def forecast(n: int, value: str = "ACCEPTABLE") -> dict:
    return {"organiser_id": "2999", "school_unit_code": "12345678", "group_id": "7A", "student_id": f"s-{n}",
            "teacher_id": "t-1", "gender": "female", "year": 7, "subject_code": "GRGRMAT01",
            "school_year": "2098/99", "term": "HT", "value": value}


async def test_a_full_batch_of_forecasts(client) -> None:
    made = await client.post("/v1/forecasts/batch", json={"items": [forecast(n) for n in range(MAX)]})
    assert made.status_code == 201, made.text[:2000]
    assert made.json()["stored"] == MAX
    changed = [forecast(n, "NOT_REACHED") for n in range(MAX)]
    revised = await client.post("/v1/forecasts/batch", json={"items": changed})
    assert revised.status_code == 201, revised.text[:2000]
    assert revised.json()["stored"] == MAX
    again = await client.post("/v1/forecasts/batch", json={"items": changed})
    assert again.status_code == 200 and again.json()["unchanged"] == MAX, again.text[:2000]
    withdrawn = await client.post(f"/v1/forecasts/{made.json()['items'][-1]['forecast_id']}/withdraw")
    assert withdrawn.status_code == 200, withdrawn.text

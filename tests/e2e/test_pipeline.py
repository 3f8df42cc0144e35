"""End to end: assessments posted over HTTP → assessment service → outbox → Kafka → reporting,
and every reported figure equals an independent recomputation."""

from __future__ import annotations

import time
from collections import Counter

import httpx
import pytest

from support import THREE, Mittkoping, ingest, wait_until_exact

pytestmark = [pytest.mark.integration, pytest.mark.e2e]


def test_five_thousand_assessments_with_revisions_retractions_and_resends(stack):
    data = Mittkoping(seed=1)
    report = ingest(stack.url("assessment"), data, new=5000, revisions=1000, retractions=300, duplicates=500,
                    tokens=stack.tokens)
    assert report.unchanged == 500
    caught_up = wait_until_exact(stack.url("reporting"), data, tokens=stack.tokens)
    consistency = httpx.get(stack.url("reporting") + "/v1/admin/consistency", timeout=120, headers=stack.tokens.ops()).json()
    assert consistency["consistent"], consistency
    print(f"\ningest: {report.posted} requests' items in {report.seconds:.1f} s = {report.rate:.0f}/s; "
          f"reporting exact {caught_up:.1f} s after the last request")


def test_one_assessment_is_visible_in_reporting_promptly(stack):
    # a new stack first reads what earlier tests left on the shared topics: let it catch up
    warm_up = Mittkoping(seed=2)
    ingest(stack.url("assessment"), warm_up, new=1, revisions=0, retractions=0, duplicates=0, tokens=stack.tokens)
    wait_until_exact(stack.url("reporting"), warm_up, timeout=180, tokens=stack.tokens)
    wait_for_no_lag(stack.url("reporting"))  # every partition, not only the warm-up's
    data = Mittkoping(seed=5)
    ingest(stack.url("assessment"), data, new=1, revisions=0, retractions=0, duplicates=0, tokens=stack.tokens)
    seconds = wait_until_exact(stack.url("reporting"), data, timeout=30, tokens=stack.tokens)
    print(f"\none assessment visible in reporting after {seconds:.2f} s")


def wait_for_no_lag(reporting_url: str, timeout: float = 180) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        lags = [float(line.rsplit(" ", 1)[1]) for line in httpx.get(reporting_url + "/metrics").text.splitlines()
                if line.startswith("styrkedja_consumer_lag_events{")]
        if lags and not any(lags):
            return
        time.sleep(0.2)
    raise AssertionError("the reporting consumer did not catch up")


def test_forecasts_and_lika_self_assessments_reach_reporting(stack):
    data = Mittkoping(seed=6)
    rng = data.rng
    forecasts: dict[str, dict] = {}
    with httpx.Client(base_url=stack.url("forecast"), timeout=60, headers=stack.tokens.platform(*data.organisers)) as client:
        bodies = []
        for item in data.new_assessments(600):
            bodies.append({k: item[k] for k in ("organiser_id", "school_unit_code", "group_id", "student_id",
                                                "teacher_id", "gender", "year", "subject_code", "school_year",
                                                "term")} | {"value": rng.choice(THREE)})
        for start in range(0, len(bodies), 200):
            response = client.post("/v1/forecasts/batch", json={"items": bodies[start:start + 200]})
            assert response.status_code == 201, response.text
            for body, result in zip(bodies[start:start + 200], response.json()["items"], strict=True):
                forecasts[result["forecast_id"]] = body
        for forecast_id in rng.sample(sorted(forecasts), 100):  # a changed forecast: the next revision
            body = forecasts[forecast_id] | {"value": rng.choice(
                [v for v in THREE if v != forecasts[forecast_id]["value"]])}
            assert client.post("/v1/forecasts", json=body).json()["revision"] == 2
            forecasts[forecast_id] = body
        for forecast_id in rng.sample(sorted(forecasts), 50):
            assert client.post(f"/v1/forecasts/{forecast_id}/withdraw").status_code == 200
            forecasts[forecast_id] = None
    expected: dict[tuple, Counter] = {}
    for body in filter(None, forecasts.values()):
        for level, unit in (("group", f"{body['school_unit_code']}/{body['group_id']}"),
                            ("school_unit", body["school_unit_code"]),
                            ("organiser", body["organiser_id"])):
            key = (level, unit, body["subject_code"], body["school_year"], body["term"])
            expected.setdefault(key, Counter())[body["value"]] += 1

    admin = stack.tokens.admin(*data.organisers)

    def reported_forecasts() -> dict[tuple, Counter]:
        cells = {}
        for level in ("group", "school_unit", "organiser"):
            for organiser in data.organisers:
                for cell in httpx.get(stack.url("reporting") + "/v1/results/forecasts", headers=admin,
                                      params={"level": level, "organiser_id": organiser}).json():
                    key = (cell["level"], cell["unit_id"], cell["subject_code"], cell["school_year"], cell["term"])
                    cells[key] = Counter(cell["distribution"])
        return cells

    deadline = time.monotonic() + 120
    while reported_forecasts() != expected and time.monotonic() < deadline:
        time.sleep(0.5)
    assert reported_forecasts() == expected

    unit = data.units[data.organisers[0]][0]
    ids = []
    with httpx.Client(base_url=stack.url("lika"), timeout=30,
                      headers=stack.tokens.principal(data.organisers[0], unit)) as client:
        for rating in ("PLANNED", "STARTED"):  # the second publication is the newer one
            response = client.post("/v1/self-assessments/published", json={
                "organiser_id": data.organisers[0], "school_unit_code": unit, "school_form": "grundskola",
                "respondent_role": "rektor", "catalogue_version": "2026.1",
                "ratings": [{"indicator_id": "GR-LED-01", "area": "ledning", "rating": rating,
                             "comment": "Skolans digitaliseringsplan revideras i vår"}]})
            assert response.status_code == 201, response.text
            ids.append(response.json()["self_assessment_id"])
    deadline = time.monotonic() + 60
    latest = []
    while time.monotonic() < deadline:
        latest = httpx.get(stack.url("reporting") + "/v1/lika/school-units", headers=admin,
                           params={"organiser_id": data.organisers[0], "school_unit_code": unit}).json()
        if latest and latest[0]["self_assessment_id"] == ids[1]:
            break
        time.sleep(0.3)
    assert latest and latest[0]["self_assessment_id"] == ids[1]
    assert latest[0]["ratings"][0]["rating"] == "STARTED"

"""The demo at small scale against the four services as processes: the story reaches reporting's
API (the dip, the gender gap, LIKA ahead and behind), and a second run changes nothing.

Still to come when those features land: the directory import (SS 12000) and the compliance list of
the silent teacher team."""

from __future__ import annotations

import asyncio
import time

import httpx
import pytest

from styrkedja_demo import generator, publisher

pytestmark = [pytest.mark.integration, pytest.mark.e2e]


def wait_for_no_lag(reporting_url: str, timeout: float = 180) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        lags = [float(line.rsplit(" ", 1)[1]) for line in httpx.get(reporting_url + "/metrics").text.splitlines()
                if line.startswith("styrkedja_consumer_lag_events{")]
        if lags and not any(lags):
            return
        time.sleep(0.5)
    raise AssertionError("the reporting consumer did not catch up")


async def run(muni: generator.Municipality, stack) -> publisher.Summary:
    async with publisher.client(stack.url("assessment")) as a, publisher.client(stack.url("forecast")) as f, \
            publisher.client(stack.url("lika")) as lk:
        return await publisher.publish(muni, publisher.Services(a, f, lk))


def share(cells: list[dict]) -> float:
    assessed = sum(c["assessed"] for c in cells)
    assert assessed, "no figures"
    return sum(c["reaching_pass"] for c in cells) / assessed


def test_the_story_of_mittkoping_is_visible_in_reporting(stack) -> None:
    muni = generator.generate(11, 600)
    story, code = muni.story, muni.organiser_code
    first = asyncio.run(run(muni, stack))
    assert first.counts["assessments"]["stored"] == len(muni.assessments)
    reporting = stack.url("reporting")
    wait_for_no_lag(reporting)

    def cells(path: str, **params) -> list[dict]:
        response = httpx.get(reporting + path, params={"organiser_id": code, **params}, timeout=60)
        assert response.status_code == 200, response.text
        return response.json()

    # every level has figures
    for level in ("organiser", "school_unit", "group"):
        assert cells("/v1/results/assessments", level=level), level
        assert cells("/v1/results/forecasts", level=level), level

    dip = muni.unit_named(story.dip_school).code
    maths = cells("/v1/results/assessments", level="school_unit", unit_id=dip, subject_code=story.dip_subject,
                  kind="assessment")
    now, before = (vars(r) for r in (story.rounds[-1], story.rounds[-2]))

    def of(r: dict) -> list[dict]:
        return [c for c in maths if (c["school_year"], c["term"], c["round"]) == (r["school_year"], r["term"],
                                                                                  r["round"])]

    assert share(of(before)) - share(of(now)) > 0.15, maths

    gap = muni.unit_named(story.gap_school).code
    swedish = cells("/v1/results/assessments", level="school_unit", unit_id=gap, subject_code=story.gap_subject,
                    split="gender")
    girls = share([c for c in swedish if c["gender"] == "female"])
    boys = share([c for c in swedish if c["gender"] == "male"])
    assert girls - boys > 0.15, (girls, boys)

    lika = {u["school_unit_code"]: u for u in cells("/v1/lika/school-units")}
    assert set(lika) == {p.unit_code for p in muni.lika if p.publish}

    def achieved(name: str) -> int:
        return sum(r["rating"] == "ACHIEVED" for r in lika[muni.unit_named(name).code]["ratings"])

    assert achieved(story.lika_ahead) > 3 * max(1, achieved(story.lika_behind))

    second = asyncio.run(run(muni, stack))
    assert second.changed() == 0, second.counts

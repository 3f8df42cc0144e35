"""End to end through a real broker: assessments, term grades (assessment service) and forecasts
(forecast service) posted over HTTP, the directory through reporting's write API; every figure —
share and gender gap per term and round, freshness, coverage, forecast against outcome, merit,
all pass, eligibility, and the drill-down of each — at every level equals an independent
recomputation from the facts the test posted (`support.expected_*`), and the consistency check
(which covers the figures' materialised state) finds nothing."""

from __future__ import annotations

import time
from collections import Counter
from datetime import UTC, datetime, timedelta

import httpx
import pytest

from styrkedja_contracts.identifiers import school_year_of
from styrkedja_contracts.subjects import is_known_subject_code
from support import (
    THREE,
    Mittkoping,
    expected_figures,
    expected_forecast_outcomes,
    expected_merit,
    ingest,
    publish_directory,
)

pytestmark = [pytest.mark.integration, pytest.mark.e2e]

SUBJECTS_9 = [s for s in ("GRGRSVE01", "GRGRENG01", "GRGRMAT01", "GRGRBIO01", "GRGRFYS01", "GRGRKEM01", "GRGRGEO01",
                          "GRGRHIS01", "GRGRREL01", "GRGRSAM01", "GRGRBIL01", "GRGRIDR01", "GRGRMUS01", "GRGRSLJ01",
                          "GRGRHKK01", "GRGRTEK01", "GRGRMSP01") if is_known_subject_code(s)]
LEVELS = ("group", "school_unit", "area", "organiser", "nation")
#: the grades are dated ten days ahead (after every forecast's day) and an assessment lies in its school year
#: (`within_school_year`): the school year of that day, so the test holds on any day it runs
GRADED_ON = (datetime.now(UTC) + timedelta(days=10)).date()
SY = school_year_of(GRADED_ON)


def post_year9(stack, data: Mittkoping, students: int) -> tuple[dict, dict]:
    """Term grades (in 9A/9B; some students change group for their last grades) and forecasts,
    some revised or withdrawn. Returns (assessment id → body, forecast id → body or None)."""
    rng, grades, forecasts = data.rng, {}, {}
    graded_on = GRADED_ON.isoformat()
    grade_bodies, forecast_bodies = [], []
    for n in range(students):
        organiser = data.organisers[n % 2]
        unit = rng.choice(data.units[organiser])
        group = rng.choice(("9A", "9B"))
        student, gender = f"y9-{data.tag}-{n}", rng.choice(("female", "male", "unknown"))
        common = {"organiser_id": organiser, "school_unit_code": unit, "student_id": student, "gender": gender,
                  "year": 9, "school_year": SY, "term": "HT"}
        subjects = rng.sample(SUBJECTS_9, rng.choice((len(SUBJECTS_9), 16, 12, 4)))
        for i, subject in enumerate(subjects):
            if rng.random() < 0.7:
                forecast_bodies.append({**common, "group_id": group, "teacher_id": f"t-{group}",
                                        "subject_code": subject, "value": rng.choice(THREE)})
            if n % 5 == 4:
                continue  # a student with only forecasts
            place = {"school_unit_code": unit, "group_id": "9B" if group == "9A" else "9A"} \
                if i > 10 and n % 3 == 0 else {"group_id": group}
            grade_bodies.append(data.with_criteria({
                **common, **place, "teacher_id": "t-9", "subject_code": subject, "kind": "term_grade", "scale": "AF",
                "value": rng.choice("ABCDEEF"), "round": 2, "assessed_on": graded_on}))
    with httpx.Client(base_url=stack.url("assessment"), timeout=60,
                      headers=stack.tokens.platform(*data.organisers)) as client:
        for start in range(0, len(grade_bodies), 400):
            chunk = grade_bodies[start:start + 400]
            response = client.post("/v1/assessments/batch", json={"items": chunk})
            assert response.status_code == 201, response.text
            for body, item in zip(chunk, response.json()["items"], strict=True):
                grades[item["assessment_id"]] = {**body, "assessment_id": item["assessment_id"]}
    with httpx.Client(base_url=stack.url("forecast"), timeout=60,
                      headers=stack.tokens.platform(*data.organisers)) as client:
        for start in range(0, len(forecast_bodies), 400):
            chunk = forecast_bodies[start:start + 400]
            submitted_at = datetime.now(UTC).isoformat()
            response = client.post("/v1/forecasts/batch", json={"items": chunk})
            assert response.status_code == 201, response.text
            for body, item in zip(chunk, response.json()["items"], strict=True):
                forecasts[item["forecast_id"]] = {**body, "submitted_at": submitted_at}
        for forecast_id in rng.sample(sorted(forecasts), len(forecasts) // 10):
            body = forecasts[forecast_id]
            changed = {k: v for k, v in body.items() if k != "submitted_at"} | {
                "value": rng.choice([v for v in THREE if v != body["value"]])}
            assert client.post("/v1/forecasts", json=changed).json()["revision"] == 2
            forecasts[forecast_id] = {**changed, "submitted_at": datetime.now(UTC).isoformat()}
        for forecast_id in rng.sample(sorted(f for f, b in forecasts.items() if b), len(forecasts) // 20):
            assert client.post(f"/v1/forecasts/{forecast_id}/withdraw").status_code == 200
            forecasts[forecast_id] = None
    return grades, forecasts


def _get(reporting_url: str, path: str, headers: dict[str, str], **params) -> list[dict]:
    response = httpx.get(f"{reporting_url}/v1/figures/{path}", params={"school_year": SY, **params}, timeout=60,
                         headers=headers)
    assert response.status_code == 200, response.text
    return response.json()["rows"]


def _summed(expected: dict, level: str, organiser: str, period: str, width: int, key_of) -> dict:
    out: dict = {}
    for key, values in expected.items():
        if key[0] == level and key[2] == organiser and key[-1] == period:
            k = key_of(key)
            out[k] = [a + b for a, b in zip(out.get(k, [0] * width), values, strict=True)]
    return out


def reported_and_expected(reporting_url: str, data: Mittkoping, results: list, forecasts: list,
                          headers: dict[str, str]) -> tuple[dict, dict]:
    area_of = dict(data.area_of)
    figures = expected_figures(results, area_of)
    outcomes = expected_forecast_outcomes(forecasts, results, area_of)
    merit = expected_merit(results, area_of)
    newest: dict = {}
    for (*cell, day), _ in figures["dates"].items():
        newest[tuple(cell)] = max(newest.get(tuple(cell), ""), day)
    got: dict = {}
    want: dict = {}
    for organiser in data.organisers:
        for level in LEVELS:
            q = {"level": level, "organiser_id": organiser}
            for period in ("HT", "R1", "R2"):
                p = {"term": period} if period == "HT" else {"round": int(period[1])}
                cell = (organiser, level, period)
                got[("gap", *cell)] = {(r["unit_id"], r["subject_code"], r["year"]): [
                    r["girls_assessed"], r["boys_assessed"], r["assessed"], r["girls_share"], r["boys_share"]]
                    for r in _get(reporting_url, "gender-gap", headers, **q, **p)}
                want[("gap", *cell)] = {}
                for k, v in _summed(figures["pass"], level, organiser, period, 7,
                                    lambda key: (key[1], key[3], key[4])).items():
                    want[("gap", *cell)][k] = [v[0], v[2], v[0] + v[2] + v[4], round(v[1] / v[0], 4) if v[0] else None,
                                               round(v[3] / v[2], 4) if v[2] else None]
                got[("coverage", *cell)] = {(r["unit_id"], r["subject_code"], r["year"]): r["with_result"]
                                            for r in _get(reporting_url, "coverage", headers, **q, **p)}
                want[("coverage", *cell)] = {k: v[6] for k, v in _summed(
                    figures["pass"], level, organiser, period, 7, lambda key: (key[1], key[3], key[4])).items()}
                got[("freshness", *cell)] = {(r["unit_id"], r["subject_code"], r["year"]): r["newest"]
                                             for r in _get(reporting_url, "freshness", headers, **q, **p)}
                want[("freshness", *cell)] = {(c[1], c[3], c[4]): day for c, day in newest.items()
                                              if c[0] == level and c[2] == organiser and c[-1] == period}
            got[("forecast", organiser, level)] = {(r["unit_id"], r["subject_code"], r["year"]): [
                r["held"], r["said_reaches_did_not"], r["said_not_reached_did"], r["no_outcome"]]
                for r in _get(reporting_url, "forecast-outcome", headers, **q, term="HT")}
            want[("forecast", organiser, level)] = _summed(outcomes, level, organiser, "HT", 4,
                                                           lambda key: (key[1], key[3], key[4]))
            got[("merit", organiser, level)] = {(r["unit_id"], r["year"]): [
                r["graded_students"], r["all_pass"], r["merit_students"], r["eligible_vocational"],
                r["eligible_preparatory_ek_hu_sa"], r["eligible_preparatory_na_te"], r["eligible_preparatory_es"]]
                for r in _get(reporting_url, "merit", headers, **q, term="HT")}
            want[("merit", organiser, level)] = {k: v[:3] + v[4:] for k, v in _summed(
                merit, level, organiser, "HT", 8, lambda key: (key[1], key[3])).items()}
    return got, want


def _round_shares(table: dict) -> dict:
    return {k: {c: [round(x, 2) if isinstance(x, float) else x for x in v] if isinstance(v, list) else v
                for c, v in cells.items()} for k, cells in table.items()}


# broker-agnostic: reporting's figures against a recomputation; what the broker does to them (order, resends,
# replay, restarts) test_pipeline, test_six_levels and tests/faults prove on both brokers
@pytest.mark.one_broker
def test_every_figure_at_every_level_equals_a_recomputation(stack):
    reporting_url, tokens = stack.url("reporting"), stack.tokens
    data = Mittkoping(seed=41)
    headers = tokens.admin(*data.organisers)
    assert publish_directory(reporting_url, data, tokens=tokens)["created"] == len(data.directory_changes())
    ingest(stack.url("assessment"), data, new=1500, revisions=300, retractions=100, duplicates=50, tokens=tokens)
    grades, forecasts = post_year9(stack, data, 60)
    moving = data.units[data.organisers[0]][0]
    publish_directory(reporting_url, data, [data.move(moving)], tokens=tokens)  # a school moves between areas
    results = [{**body, "assessment_id": aid} if body else None for aid, body in data.final.items()]
    results += list(grades.values())
    forecast_list = list(forecasts.values())

    deadline, got, want = time.monotonic() + 240, {}, {}
    while time.monotonic() < deadline:
        got, want = reported_and_expected(reporting_url, data, results, forecast_list, headers)
        if _round_shares(got) == _round_shares(want):
            break
        time.sleep(0.5)
    differing = {k: (got.get(k), want[k]) for k in want if _round_shares({k: got.get(k) or {}}) !=
                 _round_shares({k: want[k]})}
    assert not differing, list(differing.items())[:2]
    assert any(want[("forecast", o, "group")] for o in data.organisers)
    assert any(want[("merit", o, "area")] for o in data.organisers)
    held = Counter()
    for key, cells in want.items():
        if key[0] == "forecast":
            for counts in cells.values():
                held.update(dict(zip(("held", "wrong", "reverse", "none"), counts, strict=True)))
    assert held["held"] and held["none"] and (held["wrong"] or held["reverse"])  # every verdict occurs

    consistency = httpx.get(reporting_url + "/v1/admin/consistency", timeout=120, headers=tokens.ops()).json()
    assert consistency["consistent"], consistency

    # the drill-down of each figure lists exactly the children the level below reports
    organiser = data.organisers[0]
    for figure, kind in (("pass", "gap"), ("forecast-outcome", "forecast"), ("merit", "merit")):
        rows = _get(reporting_url, "drill-down", headers, level="organiser", unit_id=organiser, organiser_id=organiser,
                    term="HT", figure=figure)
        below = got[(kind, organiser, "area", "HT")] if kind == "gap" else got[(kind, organiser, "area")]
        assert {r["unit_id"] for r in rows} == {k[0] for k in below}, figure
    group = f"{moving}/9A"
    students = _get(reporting_url, "drill-down", headers, level="group", unit_id=group, organiser_id=organiser, term="HT",
                    figure="merit")
    assert len(students) == sum(v[0] for (u, _), v in want[("merit", organiser, "group")].items() if u == group)
    assert all(r["student_id"].startswith(f"y9-{data.tag}-") for r in students)
    print(f"\nfigures equal the recomputation at {len(LEVELS)} levels; consistency {consistency['consistent']}")

"""Hostile input never gets a 500: every write endpoint, fed valid bodies with one field replaced by
something it should not be, answers 2xx or a 4xx problem+json."""

from __future__ import annotations

import json

import pytest

from styrkedja_devstack.testing import PROBLEM_JSON

pytestmark = [pytest.mark.integration, pytest.mark.postgres_only]

NASTY = [None, True, -1, 0, 2**63, 1.5e308, "", " ", "x" * 70_000, "\x00", "\ud800", "'; DROP TABLE x; --",
         "=cmd|' /C calc'!A0", "19900101-0017", "../../etc/passwd", "💥" * 50, [], {}, [[[]]], {"a": {"b": {}}},
         "NOT_RELEVANT", "GR-LED-01", "2026.1", "HT 2026/27", "0b0b0b0b-0000-4000-8000-000000000000"]


def mutations(body: dict) -> list[object]:
    """The body whole in the wrong shape, then each field (and one unknown field) set to each nasty value."""
    out: list[object] = [None, [], "text", NASTY[8]]
    for key in [*body, "extra"]:
        out += [body | {key: value} for value in NASTY]
    return out


async def test_no_write_answers_500(client):
    draft = {"organiser_id": "2999", "school_unit_code": "29990011", "school_form": "grundskola",
             "respondent_role": "rektor", "catalogue_version": "2026.1"}
    sa_id = (await client.post("/v1/self-assessments", json=draft)).json()["self_assessment_id"]
    ids = [i["id"] for a in (await client.get("/v1/catalogue/2026.1", params={"school_form": "grundskola"})).json()[
        "areas"] for i in a["indicators"]]
    done = (await client.post("/v1/self-assessments", json=draft)).json()["self_assessment_id"]
    await client.patch(f"/v1/self-assessments/{done}/ratings",
                       json={"ratings": [{"indicator_id": i, "rating": "PLANNED"} for i in ids]})
    await client.post(f"/v1/self-assessments/{done}/publish")
    activity = (await client.get(f"/v1/self-assessments/{done}/action-plan")).json()["items"][0]["activity_id"]

    rating = {"indicator_id": "GR-LED-01", "rating": "STARTED", "comment": "ok"}
    calls = [("POST", "/v1/self-assessments", b) for b in mutations(draft)]
    calls += [("PATCH", f"/v1/self-assessments/{sa_id}/ratings", {"ratings": [b]})
              for b in mutations(rating)]
    calls += [("POST", f"/v1/self-assessments/{sa_id}/publish", b)
              for b in mutations({"start_term": "HT 2026/27"})]
    calls += [("PATCH", f"/v1/self-assessments/{done}/action-plan/items/{activity}", b)
              for b in mutations({"status": "done", "priority": 2, "owner": "IT", "due_date": "2026-12-01",
                                  "tags": ["a"], "note": "n"})]
    calls += [("POST", "/v1/self-assessments/published", b) for b in mutations(
        draft | {"ratings": [rating | {"area": "ledning"}]})]
    calls += [("GET", path, None) for path in (
        "/v1/self-assessments/compare?first=x&second=y", f"/v1/self-assessments/{sa_id}/action-plan?priority=x",
        "/v1/self-assessments?organiser_id=2999&school_unit_code=29990011&status=NOPE",
        f"/v1/self-assessments/{done}/action-plan/items/{'x' * 5000}", "/v1/catalogue/%00",
        f"/v1/self-assessments/{sa_id}/ratings/{'y' * 5000}")]
    for method, path, body in calls:
        # ensure_ascii: a lone surrogate travels as the escape `\ud800`, as a hostile client would send it
        content = json.dumps(body, ensure_ascii=True) if method != "GET" else None
        response = await client.request(method, path, content=content,
                                        headers={"content-type": "application/json"} if content else None)
        assert response.status_code < 500, (method, path, body, response.text)
        if response.status_code >= 400 and response.status_code != 405:
            assert response.headers["content-type"].startswith(PROBLEM_JSON), (method, path, response.text)


@pytest.mark.parametrize("spelling", ["urn:uuid:{}", "{{{}}}", "{}hex"])
async def test_the_published_door_takes_one_spelling_of_an_id(client, spelling: str):
    """The door for self-assessments published elsewhere read `urn:uuid:…`, `{…}` and 32 hex digits as the same id
    (pydantic's lax reading): a re-send spelled otherwise matched another text than the one stored and logged.
    Now `uuid_format`, as every other body's UUID."""
    canonical = "0b0b0b0b-0000-4000-8000-00000000000a"
    sa_id = canonical.replace("-", "") if spelling == "{}hex" else spelling.format(canonical)
    body = {"self_assessment_id": sa_id, "organiser_id": "2999", "school_unit_code": "29990011",
            "school_form": "grundskola", "respondent_role": "rektor", "catalogue_version": "2026.1",
            "ratings": [{"indicator_id": "GR-LED-01", "area": "ledning", "rating": "STARTED"}]}
    r = await client.post("/v1/self-assessments/published", json=body)
    assert r.status_code == 422, r.text
    problem = r.json()
    assert r.headers["content-type"].startswith(PROBLEM_JSON)
    assert [(e["field"], e["rule"]) for e in problem["errors"]] == [("self_assessment_id", "uuid_format")], problem

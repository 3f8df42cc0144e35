"""Round 27a: each batch door of the assessment service at the largest batch it can be set to accept
(`max_batch_items`' bound, 10,000), every item valid and distinct — all new, all changed, all the same again.

A large but valid input is no reason for a 500: a statement whose bind parameters grow with the batch (an IN list, a
multi-row VALUES: one per value per column) passes the 32,767 one statement may have (reporting's directory did, round
27). The write path sends a batch's rows as arrays (`styrkedja_kit.sets`), so every door takes its maximum whole."""

from __future__ import annotations

import uuid
from typing import Any

import pytest

from styrkedja_assessment.settings import AssessmentSettings
from styrkedja_kit.settings import ServiceSettings

pytestmark = [pytest.mark.integration, pytest.mark.postgres_only]

MAX = ServiceSettings.model_fields["max_batch_items"].metadata[-1].le  # the most a deployment may let a batch hold


@pytest.fixture
def settings(fresh_database, infrastructure) -> AssessmentSettings:
    return AssessmentSettings(database_url=fresh_database("styrkedja_assessment"), outbox_enabled=False,
                              kafka_bootstrap_servers=infrastructure.kafka_bootstrap_servers, max_batch_items=MAX)


def _ids(answer: Any) -> list[str]:
    return [item[next(k for k in item if k.endswith("_id"))] for item in answer.json()["items"]]


async def _all_three_ways(client, path: str, items: list[dict[str, Any]], change: dict[str, Any]) -> list[str]:
    """`items` stored new, then each changed by `change`, then the same again: every item each time."""
    made = await client.post(path, json={"items": items})
    assert made.status_code == 201, made.text[:2000]
    assert made.json()["stored"] == len(items)
    ids = _ids(made)
    id_field = next(k for k in made.json()["items"][0] if k.endswith("_id"))
    changed = [item | change | {id_field: id_} for item, id_ in zip(items, ids, strict=True)]
    revised = await client.post(path, json={"items": changed})
    assert revised.status_code == 201, revised.text[:2000]
    assert revised.json()["stored"] == len(items)
    again = await client.post(path, json={"items": changed})
    assert again.status_code == 200, again.text[:2000]
    assert {item["status"] for item in again.json()["items"]} == {"unchanged"}
    return ids


async def test_a_full_batch_of_assessments(client, assessment) -> None:
    await _all_three_ways(client, "/v1/assessments/batch", [assessment(f"s-{n}") for n in range(MAX)],
                          {"value": "B"})


async def test_a_full_batch_of_support_interventions_each_on_an_investigation(client) -> None:
    """10,000 decided investigations, then 10,000 action programmes each resting on one of them (looked up, locked,
    in one statement)."""
    def intervention(n: int, **overrides: Any) -> dict[str, Any]:
        return {"organiser_id": "2999", "school_unit_code": "12345678", "group_id": "7A", "student_id": f"s-{n}",
                "kind": "investigation", "status": "decided", "start_date": "2026-09-01",
                "decided_by_role": "principal", "decided_by": "r-1", "decided_on": "2026-09-01"} | overrides

    investigations = await _all_three_ways(client, "/v1/support-interventions/batch",
                                           [intervention(n) for n in range(MAX)], {"decided_by": "r-2"})
    programmes = [intervention(n, kind="action_programme", investigation_id=investigation_id,
                               intervention_id=str(uuid.uuid4()))
                  for n, investigation_id in enumerate(investigations)]
    made = await client.post("/v1/support-interventions/batch", json={"items": programmes})
    assert made.status_code == 201 and made.json()["stored"] == MAX, made.text[:2000]


async def test_a_full_batch_of_plans(client) -> None:
    plans = [{"organiser_id": "2999", "school_unit_code": "12345678", "group_id": f"g-{n}", "subject_code": "GRGRMAT01",
              "school_year": "2026/27", "term": "HT", "title": f"Planering {n}", "published_on": "2026-08-25"}
             for n in range(MAX)]
    await _all_three_ways(client, "/v1/plans/batch", plans, {"title": "Bråk och procent"})


async def test_assessments_with_every_field_at_its_largest(client, assessment) -> None:
    """Every text at its longest (ids of 64 characters, 100 unmet criteria of 500 characters of 4 UTF-8 bytes,
    the largest year and round: 200 kB an item): as many as the body limit holds (19) are stored whole; more is a
    413 naming the body and the limit, long before the item limit (docs/platforms.md: both bounds hold, split by
    size as well as by count)."""
    import json

    from styrkedja_kit.settings import ServiceSettings

    def longest(n: int) -> dict[str, Any]:
        return assessment(f"{n:064d}", group_id="g" * 64, teacher_id="t" * 64, year=9, round=4, value="F",
                          unmet_criteria=[f"{c:03d}" + "\N{GRINNING FACE}" * 497 for c in range(100)])

    limit = ServiceSettings.model_fields["max_request_body_bytes"].default
    size = len(json.dumps({"items": [longest(0)]}, ensure_ascii=False).encode())
    fits = limit // size - 1
    made = await client.post("/v1/assessments/batch", json={"items": [longest(n) for n in range(fits)]})
    assert made.status_code == 201 and made.json()["stored"] == fits, made.text[:2000]
    # twice as many, far below the most items a batch may hold (the most would be a 2 GB body to build here)
    refused = await client.post("/v1/assessments/batch", json={"items": [longest(n) for n in range(2 * fits)]})
    assert refused.status_code == 413, refused.text[:2000]
    assert [(e["field"], e["rule"]) for e in refused.json()["errors"]] == [("body", "max_body_bytes")]

"""The batch endpoint's fast path (every rule applied once, at the door; the event made of the checked
values, not validated again) against the per-item path (every event validated again by its contract
model, `write_events_checked_once=False`): the same events, and the same 4xx for every kind of bad item."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from sqlalchemy import text

from styrkedja_assessment.settings import AssessmentSettings
from styrkedja_devstack import testing
from styrkedja_devstack.testing import problem_fields

pytestmark = [pytest.mark.integration, pytest.mark.postgres_only]

MAX_NAMED_REVISION = 2**31 - 1 - 2**20  # the highest revision a sender may name (the contracts' MAX_NAMED_REVISION)

MAX_INT4 = 2**31 - 1


def assessment(n: int, **overrides: Any) -> dict[str, Any]:
    body = {"assessment_id": str(uuid.UUID(int=n + 1)), "organiser_id": "2999", "school_unit_code": "12345678",
            "group_id": "7A", "student_id": f"s-{n}", "teacher_id": "t-1", "gender": "female", "year": 7,
            "subject_code": "GRGRMAT01", "kind": "assessment", "scale": "AF", "value": "C",
            "school_year": "2026/27", "term": "HT", "round": 1, "assessed_on": "2026-10-01"}
    return body | overrides


def varied(count: int) -> list[dict[str, Any]]:
    """Every shape an assessment takes: both scales, below pass with criteria, term grades, rounds."""
    items = []
    for n in range(count):
        if n % 5 == 0:
            item = assessment(n, value="F", unmet_criteria=["Taluppfattning", "Eleven för ”enkla” resonemang"])
        elif n % 5 == 1:
            item = assessment(n, scale="THREE_LEVEL", value="NOT_REACHED", unmet_criteria=["Algebra"])
        elif n % 5 == 2:
            item = assessment(n, kind="term_grade", value="A", gender="unknown", round=2)
        elif n % 5 == 3:
            item = assessment(n, scale="THREE_LEVEL", value="MORE_THAN_ACCEPTABLE", kind="written_report")
        else:
            item = assessment(n, subject_code="GRGRSVE01", year=0, term="VT", assessed_on="2027-03-01")
        items.append(item)
    return items


@pytest.fixture
async def both(fresh_database, infrastructure, client_token) -> AsyncIterator[dict[str, tuple[httpx.AsyncClient, str]]]:
    """Two assessment services on databases of their own: the fast path (the default) and the per-item path."""
    urls = {name: fresh_database("styrkedja_assessment") for name in ("fast", "per_item")}
    settings = {name: AssessmentSettings(database_url=url, outbox_enabled=False,
                                         kafka_bootstrap_servers=infrastructure.kafka_bootstrap_servers,
                                         write_events_checked_once=name == "fast") for name, url in urls.items()}
    async with testing.service_clients("styrkedja_assessment", settings, token=client_token) as clients:
        yield {name: (client, urls[name]) for name, client in clients.items()}


async def post_both(both, body: dict[str, Any], path: str = "/v1/assessments/batch") -> list[httpx.Response]:
    return [await client.post(path, json=body) for client, _ in both.values()]


async def outbox_rows(url: str) -> list[tuple[str, bytes, dict[str, Any]]]:
    return await testing.outbox_rows_without(url, "styrkedja.assessments", made_at=["published_at"])


async def test_fast_and_per_item_paths_make_the_same_events(both):
    items = varied(50)
    for response in await post_both(both, {"items": items}):
        assert response.status_code == 201, response.text
    revised = [item | {"value": "B"} for item in items[2::5]] + [item | {"value": "E", "revision": 7}
                                                               for item in items[4::5]]
    responses = await post_both(both, {"items": revised})
    assert [r.status_code for r in responses] == [201, 201], responses[0].text
    assert responses[0].json() == responses[1].json()
    fast, per_item = [await outbox_rows(url) for _, url in both.values()]
    assert len(fast) == 50 + len(revised)
    assert fast == per_item  # the same events, their fields in the same order: the same encoder


BAD_ITEMS: list[tuple[dict[str, Any], str, str]] = [
    ({"student_id": "19900101-0017"}, "student_id", "no_personal_identity_number"),
    ({"student_id": "s-19121212\u20131212"}, "student_id", "no_personal_identity_number"),
    ({"value": "F", "unmet_criteria": ["Eleven 900101-0017 når inte målen"]}, "unmet_criteria.0",
     "no_personal_identity_number"),
    ({"value": "F", "unmet_criteria": ["nul\x00byte"]}, "unmet_criteria.0", "no_control_characters"),
    ({"value": "F", "unmet_criteria": ["x" * 501]}, "unmet_criteria.0", "too_long"),
    ({"value": "F", "unmet_criteria": [""]}, "unmet_criteria.0", "too_short"),
    ({"school_unit_code": "\uff11\uff12\uff13\uff14\uff15\uff16\uff17\uff18"}, "school_unit_code", "ascii_only"),
    ({"revision": "1"}, "revision", "int_type"),
    ({"revision": 2**31}, "revision", "less_than_equal"),
    ({"revision": 0}, "revision", "greater_than_equal"),
    ({"year": 10}, "year", "less_than_equal"),
    ({"round": 0}, "round", "greater_than_equal"),
    ({"subject_code": "GRGRXYZ01"}, "subject_code", "unknown_subject_code"),
    ({"kind": "exam"}, "kind", "enum"),
    ({"school_year": "2026/28"}, "school_year", "value_error"),
    ({"value": "x" * 33}, "value", "string_too_long"),
    ({"assessed_on": "yesterday"}, "assessed_on", "date_format"),  # RFC 3339 full-date only (round 28t)
    ({"extra": 1}, "extra", "extra_forbidden"),
]
DOMAIN_ITEMS: list[tuple[dict[str, Any], str, str]] = [
    ({"value": "G"}, "value", "value_on_scale"),
    ({"value": "F"}, "unmet_criteria", "criteria_required_below_pass"),
    ({"kind": "term_grade", "scale": "THREE_LEVEL", "value": "ACCEPTABLE"}, "scale", "term_grade_on_af_scale"),
]


async def same_problem(both, body: dict[str, Any]) -> list[tuple[str, str]]:
    fast, per_item = await post_both(both, body)
    assert 400 <= fast.status_code < 500 and fast.status_code == per_item.status_code, (fast.text, per_item.text)
    assert problem_fields(fast) == problem_fields(per_item)
    return problem_fields(fast)


async def test_every_kind_of_bad_item_is_the_same_4xx_on_both_paths(both):
    # the request's rules (schema, text rules) and the event model's rules (the domain checks)
    for bad, field, rule in BAD_ITEMS + DOMAIN_ITEMS:
        items = [assessment(n) for n in range(4)]
        items[2] |= bad
        assert (f"items.2.{field}", rule) in await same_problem(both, {"items": items}), (bad, field, rule)
    # every bad item of one batch named at once
    items = [assessment(n) | bad for n, (bad, _, _) in enumerate(DOMAIN_ITEMS)] + [assessment(9), assessment(9)]
    items[-1]["student_id"] = "s-10"
    assert set(await same_problem(both, {"items": items})) == {
        (f"items.{n}.{field}", rule) for n, (_, field, rule) in enumerate(DOMAIN_ITEMS)} | {
        ("items.4.assessment_id", "unique_in_batch")}
    # the same key twice in one batch
    assert await same_problem(both, {"items": [assessment(1), assessment(2, student_id="s-1")]}) == [
        ("items.1", "one_result_per_key")]
    for _, url in both.values():
        assert await testing.outbox_events(url, "styrkedja.assessments") == []


async def test_conflicts_with_stored_state_are_the_same_4xx_on_both_paths(both):
    for response in await post_both(both, {"items": [assessment(0, revision=5), assessment(1),
                                                     assessment(2, revision=MAX_NAMED_REVISION)]}):
        assert response.status_code == 201, response.text
    for response in await post_both(both, {}, path=f"/v1/assessments/{assessment(1)['assessment_id']}/retract"):
        assert response.status_code == 200, response.text
    assert set(await same_problem(both, {"items": [
        assessment(0, revision=3, value="A"),  # not above the stored revision
        assessment(1, value="A"),  # retracted: only a revision above the retraction restores it
        assessment(7, student_id="s-2"),  # another assessment holds this key
        assessment(3),
    ]})) == {("items.0.revision", "revision_must_increase"), ("items.1.revision", "removed_needs_revision"),
             ("items.2", "one_result_per_key")}
    # a revision named above the highest a sender may name, and the next revision of one stored at the largest
    # database integer before that rule (no event could carry its next one)
    assert await same_problem(both, {"items": [assessment(3), assessment(4, revision=MAX_INT4)]}) == [
        ("items.1.revision", "less_than_equal")]
    await at_last_revision(both, "assessments", "assessment_id", assessment(2)["assessment_id"])
    assert await same_problem(both, {"items": [assessment(3), assessment(2, value="A")]}) == [
        ("items.1.revision", "revisions_exhausted")]
    for _, url in both.values():
        assert len(await testing.outbox_events(url, "styrkedja.assessments")) == 4


async def at_last_revision(both, table: str, id_column: str, record_id: Any) -> None:
    """The record stored at the largest database integer, as a sender could name it before revisions were bounded."""
    for _, url in both.values():
        async with testing.async_engine(url) as engine, engine.begin() as conn:
            await conn.execute(text(f"UPDATE {table} SET revision = {MAX_INT4} WHERE {id_column} = :id"),
                               {"id": str(record_id)})

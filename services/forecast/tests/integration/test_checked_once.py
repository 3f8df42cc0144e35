"""The batch endpoint's fast path (every rule applied once, at the door; the event made of the checked
values, not validated again) against the per-item path (every event validated again by its contract
model, `write_events_checked_once=False`): the same events, and the same 4xx for every kind of bad item."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from sqlalchemy import text

from styrkedja_contracts import forecast_id_for
from styrkedja_devstack import testing
from styrkedja_devstack.testing import problem_fields

pytestmark = [pytest.mark.integration, pytest.mark.postgres_only]

MAX_NAMED_REVISION = 2**31 - 1 - 2**20  # the highest revision a sender may name (the contracts' MAX_NAMED_REVISION)

MAX_INT4 = 2**31 - 1
LATE_YEAR = "2020/21"     # its windows are long past: always late
ON_TIME_YEAR = "2098/99"  # its windows are far ahead: always on time
TOPIC = "styrkedja.forecasts"


def forecast(n: int, **overrides: Any) -> dict[str, Any]:
    body = {"organiser_id": "2999", "school_unit_code": "12345678", "group_id": "7A", "student_id": f"s-{n}",
            "teacher_id": "t-1", "gender": "female", "year": 7, "subject_code": "GRGRMAT01",
            "school_year": ON_TIME_YEAR, "term": "HT", "value": "ACCEPTABLE"}
    return body | overrides


def varied(count: int) -> list[dict[str, Any]]:
    values = ("NOT_REACHED", "ACCEPTABLE", "MORE_THAN_ACCEPTABLE")
    return [forecast(n, value=values[n % 3], term="VT" if n % 2 else "HT", gender="unknown" if n % 4 else "male",
                     school_year=LATE_YEAR if n % 5 == 0 else ON_TIME_YEAR, year=n % 10) for n in range(count)]


@pytest.fixture
async def both(settings, fresh_database) -> AsyncIterator[dict[str, tuple[httpx.AsyncClient, str]]]:
    """Two forecast services on databases of their own: the fast path (the default) and the per-item path."""
    urls = {name: fresh_database("styrkedja_forecast") for name in ("fast", "per_item")}
    each = {name: settings.model_copy(update={"database_url": url, "write_events_checked_once": name == "fast"})
            for name, url in urls.items()}
    async with testing.service_clients("styrkedja_forecast", each) as clients:
        yield {name: (client, urls[name]) for name, client in clients.items()}


async def post_both(both, client_token, body: dict[str, Any], path: str = "/v1/forecasts/batch") -> list[httpx.Response]:
    headers = {"authorization": f"Bearer {client_token}"} if client_token else {}
    return [await client.post(path, json=body, headers=headers) for client, _ in both.values()]


async def outbox_rows(url: str) -> list[tuple[str, bytes, dict[str, Any]]]:
    return await testing.outbox_rows_without(url, TOPIC, made_at=["submitted_at"])


async def test_fast_and_per_item_paths_make_the_same_events(both, client_token):
    items = varied(40)
    for response in await post_both(both, client_token, {"items": items}):
        assert response.status_code == 201, response.text
    revised = [item | {"value": "NOT_REACHED" if item["value"] != "NOT_REACHED" else "ACCEPTABLE"}
               for item in items[::3]] + [item | {"revision": 9, "value": "MORE_THAN_ACCEPTABLE"}
                                          for item in items[1::3] if item["value"] != "MORE_THAN_ACCEPTABLE"]
    responses = await post_both(both, client_token, {"items": revised})
    assert [r.status_code for r in responses] == [201, 201], responses[0].text
    assert responses[0].json() == responses[1].json()
    fast, per_item = [await outbox_rows(url) for _, url in both.values()]
    assert len(fast) == 40 + len(revised)
    assert {row[2]["data"]["late"] for row in fast} == {True, False}
    assert fast == per_item


BAD_ITEMS: list[tuple[dict[str, Any], str, str]] = [
    ({"value": "E"}, "value", "value_on_scale"),
    ({"student_id": "19900101-0017"}, "student_id", "no_personal_identity_number"),
    ({"student_id": "s-121212\u20131212"}, "student_id", "no_personal_identity_number"),
    ({"subject_code": "199001010017"}, "subject_code", "no_personal_identity_number"),
    ({"group_id": "7A\x00"}, "group_id", "no_control_characters"),
    ({"school_unit_code": "1234"}, "school_unit_code", "string_pattern_mismatch"),
    ({"school_unit_code": "\uff11\uff12\uff13\uff14\uff15\uff16\uff17\uff18"}, "school_unit_code", "ascii_only"),
    ({"school_year": "2026/28"}, "school_year", "value_error"),
    ({"school_year": "9999/00"}, "school_year", "value_error"),
    ({"term": "ST"}, "term", "enum"),
    ({"year": 10}, "year", "less_than_equal"),
    ({"year": True}, "year", "int_type"),
    ({"revision": 0}, "revision", "greater_than_equal"),
    ({"revision": 2**31}, "revision", "less_than_equal"),
    ({"subject_code": "GRGRXYZ01"}, "subject_code", "unknown_subject_code"),
    ({"forecast_id": "00000000-0000-0000-0000-000000000001"}, "forecast_id", "derived_from_key"),
    ({"extra": 1}, "extra", "extra_forbidden"),
]


async def same_problem(both, client_token, body: dict[str, Any]) -> list[tuple[str, str]]:
    fast, per_item = await post_both(both, client_token, body)
    assert 400 <= fast.status_code < 500 and fast.status_code == per_item.status_code, (fast.text, per_item.text)
    assert problem_fields(fast) == problem_fields(per_item)
    return problem_fields(fast)


async def test_every_kind_of_bad_item_is_the_same_4xx_on_both_paths(both, client_token):
    for bad, field, rule in BAD_ITEMS:
        items = [forecast(n) for n in range(4)]
        items[2] |= bad
        assert (f"items.2.{field}", rule) in await same_problem(both, client_token, {"items": items}), bad
    assert await same_problem(both, client_token, {"items": [forecast(1), forecast(1, value="NOT_REACHED")]}) == [
        ("items.1.forecast_id", "unique_in_batch")]
    for _, url in both.values():
        assert await testing.outbox_events(url, TOPIC) == []


async def test_conflicts_with_stored_state_are_the_same_4xx_on_both_paths(both, client_token):
    for response in await post_both(both, client_token, {"items": [forecast(0, revision=5), forecast(1),
                                                                   forecast(2, revision=MAX_NAMED_REVISION)]}):
        assert response.status_code == 201, response.text
    one = forecast(1)
    path = f"/v1/forecasts/{forecast_id_for('2999', 's-1', 'GRGRMAT01', ON_TIME_YEAR, 'HT')}/withdraw"
    for response in await post_both(both, client_token, {}, path=path):
        assert response.status_code == 200, response.text
    assert set(await same_problem(both, client_token, {"items": [
        forecast(0, revision=3, value="NOT_REACHED"),  # not above the stored revision
        one | {"value": "NOT_REACHED"},  # withdrawn: only a revision above the withdrawal's restores it
        forecast(3),
    ]})) == {("items.0.revision", "revision_must_increase"), ("items.1.revision", "removed_needs_revision")}
    # a revision named above the highest a sender may name, and the next revision of one stored at the largest
    # database integer before that rule (no event could carry its next one)
    assert await same_problem(both, client_token, {"items": [forecast(3), forecast(4, revision=MAX_INT4)]}) == [
        ("items.1.revision", "less_than_equal")]
    await at_last_revision(both, "forecasts", "forecast_id",
                           forecast_id_for("2999", "s-2", "GRGRMAT01", ON_TIME_YEAR, "HT"))
    assert await same_problem(both, client_token, {"items": [forecast(3), forecast(2, value="NOT_REACHED")]}) == [
        ("items.1.revision", "revisions_exhausted")]
    for _, url in both.values():
        assert len(await testing.outbox_events(url, TOPIC)) == 4


async def at_last_revision(both, table: str, id_column: str, record_id: Any) -> None:
    """The record stored at the largest database integer, as a sender could name it before revisions were bounded."""
    for _, url in both.values():
        async with testing.async_engine(url) as engine, engine.begin() as conn:
            await conn.execute(text(f"UPDATE {table} SET revision = {MAX_INT4} WHERE {id_column} = :id"),
                               {"id": str(record_id)})

"""The read API over HTTP (in-process): six levels, directory tree, roster sizes, ops, freshness,
and problem+json for bad query parameters. Events are applied straight to the database (the
consumer loop is off), the API answers from it."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from uuid import uuid5

import pytest

from styrkedja_kit.db import Database

from .test_directory import NS, Feeder, directory, membership, published

pytestmark = [pytest.mark.integration, pytest.mark.postgres_only]


@pytest.fixture
async def fed(settings):
    database = Database(settings.database_url)
    feed = Feeder(database)
    await feed(directory() + [
        published(uuid5(NS, "api-1"), 1, "A", "2999", "11111111", "7A", "s-1"),
        published(uuid5(NS, "api-2"), 1, "F", "2999", "22222222", "7A", "s-2"),
        published(uuid5(NS, "api-3"), 1, "C", "3001", "33333333", "7A", "s-3"),
        membership("m1", "2999", "11111111", "7A", "p1", date(2026, 8, 17)),
        membership("m2", "2999", "22222222", "7A", "p2", date(2026, 8, 17)),
    ])
    yield
    await database.dispose()


async def test_area_and_nation_levels_and_freshness(client, fed):
    response = await client.get("/v1/results/assessments", params={"level": "area", "organiser_id": "2999"})
    assert response.status_code == 200
    cells = {c["unit_id"]: c for c in response.json()}
    assert cells["north"]["distribution"] == {"A": 1} and cells["south"]["distribution"] == {"F": 1}
    assert cells["south"]["reaching_pass"] == 0 and cells["north"]["share_reaching_pass"] == 1.0
    # the newest event's time (the events are made now), never later than the moment they were applied
    newest = datetime.fromisoformat(response.headers["X-Styrkedja-Newest-Event-Time"])
    assert datetime.now(UTC) - timedelta(days=1) < newest <= datetime.now(UTC)
    assert response.headers["X-Styrkedja-Consumer-Lag"] == "unknown"

    nation = (await client.get("/v1/results/assessments", params={"level": "nation"})).json()
    assert sum(c["assessed"] for c in nation) >= 3
    groups = (await client.get("/v1/results/assessments", params={"level": "group", "organiser_id": "2999"})).json()
    assert sorted((c["school_unit_code"], c["group_id"]) for c in groups) == [
        ("11111111", "7A"), ("22222222", "7A")]
    female = (await client.get("/v1/results/assessments", params={
        "level": "organiser", "organiser_id": "3001", "gender": "female", "year": 7, "round": 1})).json()
    assert [c["assessed"] for c in female] == [1]


async def test_directory_tree_unit_and_roster_sizes(client, fed):
    tree = (await client.get("/v1/directory/organisers/2999/tree")).json()
    assert [u["unit_id"] for u in tree] == ["2999"]
    areas = {a["unit_id"]: a for a in tree[0]["children"]}
    assert set(areas) == {"north", "south"}
    assert [s["school_unit_code"] for s in areas["north"]["children"]] == ["11111111"]
    assert [g["unit_id"] for g in areas["north"]["children"][0]["children"]] == ["7A"]

    one = (await client.get("/v1/directory/units/su-a", params={"organiser_id": "2999"})).json()
    assert one["school_unit_code"] == "11111111" and [c["unit_id"] for c in one["children"]] == ["7A"]
    group = await client.get("/v1/directory/units/7A", params={"organiser_id": "2999", "unit_type": "group"})
    assert group.status_code == 422 and group.json()["errors"][0]["field"] == "school_unit_code"
    missing = await client.get("/v1/directory/units/nope", params={"organiser_id": "2999"})
    assert missing.status_code == 404

    sizes = (await client.get("/v1/directory/roster-sizes", params={
        "organiser_id": "2999", "level": "area", "on": "2026-09-01"})).json()
    assert {s["unit_id"]: s["students"] for s in sizes} == {"north": 1, "south": 1}


async def test_ops_consistency_per_level_and_unplaced(client, fed):
    body = (await client.get("/v1/admin/consistency")).json()
    assert body["consistent"] is True
    assert set(body["per_level"]["assessments"]) == {"student", "group", "school_unit", "area", "organiser",
                                                     "nation"}
    assert (await client.get("/v1/admin/unplaced", params={"organiser_id": "3001"})).json() == [
        {"kind": "school_unit", "organiser_id": "3001", "school_unit_code": "33333333", "group_id": None,
         "assessments": 1, "forecasts": 0}]


@pytest.mark.parametrize("params, field", [
    ({"level": "galaxy"}, "level"),
    ({"level": "area", "organiser_id": "19121212-1212"}, "organiser_id"),
    ({"level": "area", "school_year": "２０２６/27"}, "school_year"),
    ({"level": "area", "round": 9}, "round"),
])
async def test_bad_query_parameters_are_a_problem_naming_the_field(client, fed, params, field):
    response = await client.get("/v1/results/assessments", params=params)
    assert response.status_code == 422
    assert response.headers["content-type"].startswith("application/problem+json")
    assert field in str(response.json()["errors"])

"""Answers kept per state version and reader class (`access.answers`), over HTTP with real tokens:
a kept answer is the answer the route gives, a batch makes the next read compute afresh, readers
of different scopes or suppression never share an answer, and audited reads are never kept.

The data is `test_one_decision`'s: three areas of organiser 2999 (north 5 students: withheld for a
politician; south 20; east 30), one subject, year and term."""

from __future__ import annotations

from datetime import date
from uuid import uuid5

import pytest

from styrkedja_devstack.testing import service_client
from styrkedja_reporting.access.answers import ANSWERS

from .test_directory import NS, Feeder, unit
from .test_figures import result
from .test_one_decision import ORG, PERIOD, fed  # noqa: F401  (the fixture)

pytestmark = [pytest.mark.integration, pytest.mark.postgres_only]

READS = [
    ("/v1/figures/trend", {"level": "area", "organiser_id": ORG, **PERIOD}),
    ("/v1/figures/coverage", {"level": "area", "organiser_id": ORG, **PERIOD, "format": "csv"}),
    ("/v1/figures/drill-down", {"level": "organiser", "organiser_id": ORG, "unit_id": ORG, **PERIOD}),
    ("/v1/results/assessments", {"level": "area", "organiser_id": ORG, "school_year": "2026/27"}),
    ("/v1/results/assessments", {"level": "organiser", "organiser_id": ORG, "split": ["gender", "year"]}),
]


def _bearer(token_issuer, role: str, *, organisers=(ORG,), subject: str | None = None, **claims) -> dict:
    return {"Authorization": "Bearer " + token_issuer.mint(roles=[role], organisers=list(organisers),
                                                          subject=subject, **claims)}


async def _get(client, headers, path, params, **extra):
    response = await client.get(path, params=params, headers={**headers, **extra})
    assert response.status_code in (200, 304), response.text
    return response


async def test_a_kept_answer_equals_the_routes_answer(settings, bare_client, token_issuer, fed):  # noqa: F811
    """The same reads from a service without the cache: the same bytes; the second read is a hit."""
    admin = _bearer(token_issuer, "organiser_admin")
    politician = _bearer(token_issuer, "politician")
    uncached = settings.model_copy(update={"read_cache_enabled": False})
    async with service_client("styrkedja_reporting", uncached) as plain:
        for headers in (admin, politician):
            for path, params in READS:
                first = await _get(bare_client, headers, path, params)
                hits = ANSWERS.hits
                kept = await _get(bare_client, headers, path, params)
                assert ANSWERS.hits == hits + 1, path  # from memory
                fresh = await _get(plain, headers, path, params)
                assert "etag" not in fresh.headers  # the route itself, uncached
                assert kept.content == first.content == fresh.content, (path, params)
                assert kept.headers["content-type"] == fresh.headers["content-type"]
                assert kept.headers.get("content-disposition") == fresh.headers.get("content-disposition")
                for header in ("x-styrkedja-newest-event-time", "x-styrkedja-consumer-lag"):
                    assert kept.headers[header] == fresh.headers[header]
                assert kept.headers["etag"] == first.headers["etag"]
                unchanged = await _get(bare_client, headers, path, params, **{"If-None-Match": kept.headers["etag"]})
                assert unchanged.status_code == 304 and unchanged.content == b""
                assert unchanged.headers["etag"] == kept.headers["etag"]


async def test_an_applied_batch_is_read_at_once(settings, bare_client, token_issuer, fed):  # noqa: F811
    admin = _bearer(token_issuer, "organiser_admin")
    path, params = "/v1/results/assessments", {"level": "area", "organiser_id": ORG, "school_year": "2026/27"}
    before = {c["unit_id"]: c["assessed"] for c in (await _get(bare_client, admin, path, params)).json()}
    etag = (await _get(bare_client, admin, path, params)).headers["etag"]
    figure = {r["unit_id"]: r["assessed"] for r in (await _get(
        bare_client, admin, "/v1/figures/trend", {"level": "area", "organiser_id": ORG, **PERIOD})).json()["rows"]}
    assert before["south"] == figure["south"] == 20
    await Feeder(fed)([result(uuid5(NS, "answers-new"), 1, "B", ORG, "22222222", "7A", "s-new", gender="male",
                              year=7, on=date(2026, 10, 2))])
    after = await _get(bare_client, admin, path, params, **{"If-None-Match": etag})
    assert after.status_code == 200 and after.headers["etag"] != etag
    assert {c["unit_id"]: c["assessed"] for c in after.json()}["south"] == 21
    figure = {r["unit_id"]: r["assessed"] for r in (await _get(
        bare_client, admin, "/v1/figures/trend", {"level": "area", "organiser_id": ORG, **PERIOD})).json()["rows"]}
    assert figure["south"] == 21
    # the directory too: a new area of the organiser is in the next drill-down
    drill = {"level": "organiser", "organiser_id": ORG, "unit_id": ORG, **PERIOD}
    assert "west" not in {r["unit_id"] for r in (await _get(bare_client, admin, "/v1/figures/drill-down",
                                                             drill)).json()["rows"]}
    await Feeder(fed)([unit("area", "west", ORG, ORG), unit("school_unit", "su-west", ORG, "west", code="44444444"),
                       unit("group", "7A", ORG, "su-west", code="44444444", year=7),
                       result(uuid5(NS, "answers-west"), 1, "C", ORG, "44444444", "7A", "s-west", year=7,
                              on=date(2026, 10, 2))])
    assert "west" in {r["unit_id"] for r in (await _get(bare_client, admin, "/v1/figures/drill-down",
                                                         drill)).json()["rows"]}


async def test_readers_of_different_scopes_never_share_an_answer(bare_client, token_issuer, fed):  # noqa: F811
    """The same request by the admin of the whole organiser, a principal of one school unit and an
    admin of another organiser: three answers; a second admin of the same organiser shares the first's."""
    path, params = "/v1/results/assessments", {"level": "school_unit", "school_year": "2026/27"}
    admin = _bearer(token_issuer, "organiser_admin", subject="admin-1")
    principal = _bearer(token_issuer, "principal", school_units=["22222222"])
    other = _bearer(token_issuer, "organiser_admin", organisers=("3001",))
    for _ in range(2):  # the second round from memory, each reader's own answer
        units = {name: {c["unit_id"] for c in (await _get(bare_client, headers, path, params)).json()}
                 for name, headers in (("admin", admin), ("principal", principal), ("other", other))}
        assert units == {"admin": {"11111111", "22222222", "33333333"}, "principal": {"22222222"}, "other": set()}
    hits = ANSWERS.hits
    second_admin = _bearer(token_issuer, "organiser_admin", subject="admin-2")
    await _get(bare_client, second_admin, path, params)  # learns the class (the route runs once)
    again = await _get(bare_client, second_admin, path, params)
    assert ANSWERS.hits == hits + 1
    assert {c["unit_id"] for c in again.json()} == units["admin"]


async def test_politician_and_admin_differ_where_suppression_differs(bare_client, token_issuer, fed):  # noqa: F811
    params = {"level": "area", "organiser_id": ORG, **PERIOD}
    admin, politician = _bearer(token_issuer, "organiser_admin"), _bearer(token_issuer, "politician")
    for _ in range(2):
        exact = {r["unit_id"]: r["assessed"] for r in (await _get(
            bare_client, admin, "/v1/figures/gender-gap", params)).json()["rows"]}
        shown = {r["unit_id"]: r["assessed"] for r in (await _get(
            bare_client, politician, "/v1/figures/gender-gap", params)).json()["rows"]}
        assert exact == {"north": 5, "south": 20, "east": 30}
        assert shown["north"] is None and shown != exact


async def test_audited_reads_are_never_kept(bare_client, token_issuer, fed):  # noqa: F811
    """A drill-down into a group's students writes an audit row on every read."""
    admin = _bearer(token_issuer, "organiser_admin")
    params = {"level": "group", "organiser_id": ORG, "unit_id": "22222222/7A", **PERIOD}
    for _ in range(2):
        assert len((await _get(bare_client, admin, "/v1/figures/drill-down", params)).json()["rows"]) == 20
    students = await _get(bare_client, admin, "/v1/results/assessments",
                          {"level": "student", "organiser_id": ORG, "school_year": "2026/27"})
    assert "etag" not in students.headers
    await _get(bare_client, admin, "/v1/results/assessments",
               {"level": "student", "organiser_id": ORG, "school_year": "2026/27"})
    trail = await _get(bare_client, admin, "/v1/audit/reads", {"organiser_id": ORG})
    whats = [row["what"] for row in trail.json()]
    assert sum("/v1/figures/drill-down" in w for w in whats) == 2
    assert sum("/v1/results/assessments" in w for w in whats) == 2

"""Answers kept for the other organiser-level reads (support, LIKA, compliance's organiser views), as
for figures and results (`test_answers.py`): a kept answer is the route's answer, an applied batch is
read at once, readers of different scopes never share an answer (a 403 stays a 403 after another
reader's answer was kept for the same request), two readers of one class do.

The data is `test_one_decision`'s (organiser 2999: north 11111111, south 22222222, east 33333333),
plus support interventions and LIKA self-assessments fed here through the handler registry."""

from __future__ import annotations

from datetime import UTC, date, datetime
from uuid import uuid5

import pytest

from styrkedja_contracts import new_event
from styrkedja_contracts.events.lika import LikaSelfAssessmentPublishedV1
from styrkedja_contracts.events.support import SupportInterventionRecordedV1
from styrkedja_devstack.testing import service_client
from styrkedja_kit.consumer import Delivered
from styrkedja_reporting.access.answers import ANSWERS
from styrkedja_reporting.main import handler_registry
from support import decision

from .test_directory import NS
from .test_one_decision import ORG, fed  # noqa: F401  (the fixture)

pytestmark = [pytest.mark.integration, pytest.mark.postgres_only]

T0 = datetime(2026, 10, 1, 8, 0, tzinfo=UTC)
TOPIC = {"support": "styrkedja.support", "lika": "styrkedja.lika"}
SUMMARY = ("/v1/support/summary", {"level": "organiser", "unit_id": ORG, "organiser_id": ORG})
COMPILATION = ("/v1/lika/compilation", {"organiser_id": ORG})
READS = [
    SUMMARY,
    ("/v1/support/kinds", {"level": "area", "unit_id": "south", "organiser_id": ORG, "format": "csv"}),
    COMPILATION,
    ("/v1/lika/school-units", {"organiser_id": ORG}),
    (f"/v1/compliance/organisers/{ORG}/school-units", {"school_year": "2026/27", "term": "HT"}),
    (f"/v1/compliance/organisers/{ORG}/rounds/1/school-units", {"school_year": "2026/27", "format": "csv"}),
]


class Feed:
    """Batches straight through the handler registry, as the consumer loop applies them."""

    def __init__(self, db) -> None:
        self.db, self.handler, self.offset = db, handler_registry(), 50_000

    async def __call__(self, *events) -> None:
        delivered = [Delivered(e, TOPIC[e.type.split(".")[2]], 0, self.offset + n) for n, e in enumerate(events)]
        self.offset += len(events)
        async with self.db.sessions.begin() as session:
            await self.handler(session, delivered)


def support(student: str, code: str, kind: str = "extra_adjustment"):
    return new_event(SupportInterventionRecordedV1(
        intervention_id=uuid5(NS, f"kept-{student}-{kind}"), revision=1, organiser_id=ORG, school_unit_code=code,
        group_id="7A", student_id=student, subject_code="GRGRMAT01", kind=kind, status="decided",
        start_date=date(2026, 9, 1), recorded_at=T0, **decision(kind, "decided", date(2026, 9, 1))), source="/t")


def lika(name: str, code: str, rating: str):
    return new_event(LikaSelfAssessmentPublishedV1(
        self_assessment_id=uuid5(NS, f"kept-{name}"), organiser_id=ORG, school_unit_code=code,
        school_form="grundskola", respondent_role="rektor", catalogue_version="2026.1",
        ratings=[{"indicator_id": "L1", "area": "ledning", "rating": rating, "comment": "om L1"}],
        published_at=T0), source="/t")


def _bearer(token_issuer, role: str, *, organisers=(ORG,), subject: str | None = None, **claims) -> dict:
    return {"Authorization": "Bearer " + token_issuer.mint(roles=[role], organisers=list(organisers),
                                                          subject=subject, **claims)}


async def _get(client, headers, path, params, status=200):
    response = await client.get(path, params=params, headers=headers)
    assert response.status_code == status, (path, response.text)
    return response


@pytest.fixture
async def more(fed):  # noqa: F811
    await Feed(fed)(support("s-south-1", "22222222"), support("s-east-1", "33333333", "special_support"),
                    lika("north", "11111111", "PLANNED"), lika("south", "22222222", "ACHIEVED"))
    return fed


async def test_kept_answers_equal_the_routes_answers(settings, bare_client, token_issuer, more):
    admin = _bearer(token_issuer, "organiser_admin")
    uncached = settings.model_copy(update={"read_cache_enabled": False})
    async with service_client("styrkedja_reporting", uncached) as plain:
        for path, params in READS:
            first = await _get(bare_client, admin, path, params)
            hits = ANSWERS.hits
            kept = await _get(bare_client, admin, path, params)
            assert ANSWERS.hits == hits + 1, path  # from memory
            fresh = await _get(plain, admin, path, params)
            assert "etag" not in fresh.headers
            assert kept.content == first.content == fresh.content, path
            assert kept.headers["content-type"] == fresh.headers["content-type"]
            assert kept.headers.get("content-disposition") == fresh.headers.get("content-disposition")


async def test_an_applied_batch_is_read_at_once(bare_client, token_issuer, more):
    admin = _bearer(token_issuer, "organiser_admin")

    async def summary() -> dict:
        return (await _get(bare_client, admin, *SUMMARY)).json()["students_with_kind_active"]

    async def ratings() -> dict:
        return {r["school_unit_code"]: r["rating"] for r in (await _get(bare_client, admin, *COMPILATION)).json()["rows"]}

    assert (await summary())["extra_adjustment"] == 1
    assert await ratings() == {"11111111": "PLANNED", "22222222": "ACHIEVED"}
    for _ in range(2):  # kept
        assert (await summary())["extra_adjustment"] == 1
        assert await ratings() == {"11111111": "PLANNED", "22222222": "ACHIEVED"}
    await Feed(more)(support("s-north-1", "11111111"), lika("east", "33333333", "STARTED"))
    assert (await summary())["extra_adjustment"] == 2
    assert await ratings() == {"11111111": "PLANNED", "22222222": "ACHIEVED", "33333333": "STARTED"}


async def test_readers_of_different_scopes_never_share_an_answer(bare_client, token_issuer, more):
    """The organiser's admin reads first (its answers kept); a principal of one school unit, an area
    manager and an admin of another organiser ask the very same requests: each gets its own answer
    or its own refusal. A second admin of the organiser shares the first's answers."""
    admin = _bearer(token_issuer, "organiser_admin", subject="admin-1")
    for path, params in READS:
        await _get(bare_client, admin, path, params)
    principal = _bearer(token_issuer, "principal", school_units=["22222222"])
    other = _bearer(token_issuer, "organiser_admin", organisers=("3001",))
    for _ in range(2):  # the second round with every answer kept
        # the compilation and the compliance views are the organiser's: not the principal's, not 3001's
        for headers in (principal, other):
            await _get(bare_client, headers, *COMPILATION, status=403)
            await _get(bare_client, headers, *READS[4], status=403)
        units = (await _get(bare_client, principal, "/v1/lika/school-units", {"organiser_id": ORG})).json()
        assert [u["school_unit_code"] for u in units] == ["22222222"]
        await _get(bare_client, other, "/v1/lika/school-units", {"organiser_id": ORG}, status=403)
        own = (await _get(bare_client, principal, "/v1/lika/compilation",
                          {"organiser_id": ORG, "school_unit_code": "22222222"})).json()["rows"]
        assert {r["school_unit_code"] for r in own} == {"22222222"}
        await _get(bare_client, principal, *SUMMARY, status=403)  # not the organiser's level
        await _get(bare_client, other, *SUMMARY, status=403)
    every = {r["school_unit_code"] for r in (await _get(bare_client, admin, "/v1/lika/school-units",
                                                          {"organiser_id": ORG})).json()}
    assert every == {"11111111", "22222222"}
    second_admin = _bearer(token_issuer, "organiser_admin", subject="admin-2")
    for path, params in READS:
        await _get(bare_client, second_admin, path, params)  # learns its class per family of reads
    hits = ANSWERS.hits
    for path, params in READS:
        await _get(bare_client, second_admin, path, params)
    assert ANSWERS.hits == hits + len(READS)


async def test_the_politician_reads_support_withheld_as_the_route_decides(settings, bare_client, token_issuer, more):
    """Suppression is part of the class: the politician's kept summary is not the admin's."""
    params = {"level": "area", "unit_id": "north", "organiser_id": ORG}
    admin, politician = _bearer(token_issuer, "organiser_admin"), _bearer(token_issuer, "politician")
    uncached = settings.model_copy(update={"read_cache_enabled": False})
    async with service_client("styrkedja_reporting", uncached) as plain:
        for _ in range(2):
            for headers in (admin, politician):
                kept = await _get(bare_client, headers, "/v1/support/summary", params)
                assert kept.content == (await _get(plain, headers, "/v1/support/summary", params)).content
    shown = (await _get(bare_client, politician, "/v1/support/summary", params)).json()
    exact = (await _get(bare_client, admin, "/v1/support/summary", params)).json()
    assert "withheld" in shown and "withheld" not in exact

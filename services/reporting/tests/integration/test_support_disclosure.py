"""Support figures and roster sizes are withheld like every figure, over HTTP with real tokens: a
politician (and an area manager above its units) sees `null` + the reason in JSON and `..` in CSV
for a small count of students with support *and* for the sibling withheld with it, so the small one
cannot be worked out from the organiser's total; the organiser admin sees every count exactly; the
politician and the public read support and roster aggregates at their levels, never a student list."""

from __future__ import annotations

import csv
import io
from datetime import date
from uuid import uuid5

import pytest

from styrkedja_contracts import new_event
from styrkedja_contracts.events.support import SupportInterventionRecordedV1
from styrkedja_kit.db import Database
from support import decision

from .test_directory import NS, T0, membership, unit
from .test_support import feed

pytestmark = [pytest.mark.integration, pytest.mark.postgres_only]

ORG = "2999"
WITHHELD = "OMITTED_DUE_TO_BASED_ON_FEW_PUPILS"
#: area → (school unit code, students with special support = students in its rosters)
AREAS = {"north": ("11111111", 2), "south": ("22222222", 12), "east": ("33333333", 15)}


def _support(code: str, student: str, *, organiser_id: str = ORG, tag: str = "disc") -> object:
    """A decided special support for `student` in GRGRMAT01 (its id from `tag` and the student)."""
    return new_event(SupportInterventionRecordedV1(
        intervention_id=uuid5(NS, f"{tag}-{student}"), revision=1, organiser_id=organiser_id, school_unit_code=code,
        group_id="7A", student_id=student, subject_code="GRGRMAT01", kind="special_support", status="decided",
        start_date=date(2026, 9, 1), recorded_at=T0, **decision("special_support", "decided", date(2026, 9, 1))),
        source="/test")


@pytest.fixture
async def fed(settings):
    database = Database(settings.database_url)
    events = [unit("organiser", ORG, ORG, None)]
    for area, (code, n) in AREAS.items():
        events += [unit("area", area, ORG, ORG), unit("school_unit", f"su-{area}", ORG, area, code=code),
                   unit("group", "7A", ORG, f"su-{area}", code=code, year=7)]
        for i in range(n):
            events += [membership(f"m-{area}-{i}", ORG, code, "7A", f"s-{area}-{i}", date(2026, 8, 17)),
                       _support(code, f"s-{area}-{i}")]
    await feed(database, [events])
    yield database
    await database.dispose()


def _headers(token_issuer, role: str, **claims) -> dict:
    return {"Authorization": "Bearer " + token_issuer.mint(roles=[role], **claims)}


async def _special_support(client, headers, area: str) -> object:
    response = await client.get("/v1/support/summary", headers=headers, params={
        "level": "area", "unit_id": area, "organiser_id": ORG})
    assert response.status_code == 200, response.text
    return response.json()


async def test_a_politician_sees_a_small_support_count_and_its_complement_withheld(fed, bare_client, token_issuer):
    politician = _headers(token_issuer, "politician", organisers=[ORG])
    bodies = {area: await _special_support(bare_client, politician, area) for area in AREAS}
    got = {area: b["students_with_kind_active"]["special_support"] for area, b in bodies.items()}
    # north (2) is small; south (12, the smaller sibling) is withheld with it, or north = 29 − 15 − south
    assert got == {"north": None, "south": None, "east": 15}
    for area in ("north", "south"):
        body = bodies[area]
        assert body["withheld"]["students_with_kind_active.special_support"] == WITHHELD
        assert body["active_interventions"]["special_support"] is None  # tied to its students
        assert body["share_with_kind_active"]["special_support"] is None
        assert body["students_with_any_active"] is None
    assert "withheld" not in bodies["east"] or "students_with_kind_active.special_support" \
        not in bodies["east"]["withheld"]
    # the organiser's total is shown: it rests on 29 students
    total = (await bare_client.get("/v1/support/summary", headers=politician, params={
        "level": "organiser", "unit_id": ORG, "organiser_id": ORG})).json()
    assert total["students_with_kind_active"]["special_support"] == 29
    # the table says the same, `..` in CSV and null + reason in JSON
    for area, expected in (("north", None), ("south", None), ("east", 15)):
        params = {"level": "area", "unit_id": area, "organiser_id": ORG}
        table = (await bare_client.get("/v1/support/kinds", headers=politician, params=params)).json()
        row = next(r for r in table["rows"] if r["kind"] == "special_support")
        assert row["students"] == expected and row["active_interventions"] == expected, area
        if expected is None:
            assert row["withheld"]["students"] == WITHHELD and row["share"] is None
        text = (await bare_client.get("/v1/support/kinds", headers=politician,
                                      params={**params, "format": "csv"})).content.decode("utf-8-sig")
        line = next(r for r in csv.DictReader(io.StringIO(text), delimiter=";") if r["Insats"] == "special_support")
        assert line["Elever med aktiv insats"] == (".." if expected is None else str(expected)), area


async def test_the_organiser_admin_sees_every_support_count_exactly(fed, bare_client, token_issuer):
    admin = _headers(token_issuer, "organiser_admin", organisers=[ORG])
    for area, (_, n) in AREAS.items():
        body = await _special_support(bare_client, admin, area)
        assert body["students_with_kind_active"]["special_support"] == n
        assert "withheld" not in body


async def test_an_area_manager_sees_its_area_withheld_like_everyone_above_the_unit(fed, bare_client, token_issuer):
    manager = _headers(token_issuer, "area_manager", organisers=[ORG], areas=["north"])
    body = await _special_support(bare_client, manager, "north")
    assert body["students_with_kind_active"]["special_support"] is None
    unit_body = (await bare_client.get("/v1/support/summary", headers=manager, params={
        "level": "school_unit", "unit_id": AREAS["north"][0], "organiser_id": ORG})).json()
    assert unit_body["students_with_kind_active"]["special_support"] == 2  # its own unit: exact


async def test_roster_sizes_are_withheld_with_their_complement_for_the_politician(fed, bare_client, token_issuer):
    politician = _headers(token_issuer, "politician", organisers=[ORG])
    params = {"level": "area", "organiser_id": ORG, "on": "2026-10-01"}
    sizes = (await bare_client.get("/v1/directory/roster-sizes", headers=politician, params=params)).json()
    assert {s["unit_id"]: (s["students"], s["reason"]) for s in sizes} == {
        "north": (None, WITHHELD), "south": (None, WITHHELD), "east": (15, "EXISTS")}
    admin = _headers(token_issuer, "organiser_admin", organisers=[ORG])
    exact = (await bare_client.get("/v1/directory/roster-sizes", headers=admin, params=params)).json()
    assert {s["unit_id"]: s["students"] for s in exact} == {"north": 2, "south": 12, "east": 15}
    public = _headers(token_issuer, "public")
    organiser = (await bare_client.get("/v1/directory/roster-sizes", headers=public, params={
        **params, "level": "organiser"})).json()
    assert organiser == [{"level": "organiser", "unit_id": ORG, "students": 29, "reason": "EXISTS"}]
    # the politician reads no group or school-unit sizes
    assert (await bare_client.get("/v1/directory/roster-sizes", headers=politician, params={
        **params, "level": "group"})).status_code == 403


async def test_politician_and_public_read_aggregates_but_never_a_student_list(fed, bare_client, token_issuer):
    politician = _headers(token_issuer, "politician", organisers=[ORG])
    public = _headers(token_issuer, "public")
    organiser = {"level": "organiser", "unit_id": ORG, "organiser_id": ORG}
    for headers in (politician, public):
        assert (await bare_client.get("/v1/support/kinds", headers=headers, params=organiser)).status_code == 200
        listed = await bare_client.get("/v1/support/below-pass-without-support/students", headers=headers, params={
            "level": "school_unit", "unit_id": AREAS["north"][0], "organiser_id": ORG})
        assert listed.status_code == 403 and "s-north" not in listed.text
    assert (await bare_client.get("/v1/support/kinds", headers=public, params={
        "level": "area", "unit_id": "north", "organiser_id": ORG})).status_code == 403
    other = _headers(token_issuer, "politician", organisers=["3001"])
    assert (await bare_client.get("/v1/support/kinds", headers=other, params=organiser)).status_code == 403

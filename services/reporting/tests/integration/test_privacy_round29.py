"""Privacy round 29: a legitimate, signed-in reader combining what the API answers (differencing, across routes,
across time, scope edges), against a real reporting service on a real PostgreSQL (the report lists what was tried).

Found and fixed (each test failed on the old code, as said at it):
- An ICT coordinator read one school unit's compliance list of an assessment round — per teacher, per group and
  subject, with counts of the assessments expected, late and missing — while the same list of a forecast window
  refused it (`authorize(ORGANISER_ADMIN, AREA_MANAGER, PRINCIPAL)`): the round's doors took any reader
  (`authorize_read`) and judged the unit's level alone, which an ICT coordinator reads (its LIKA work). Who has
  not reported, teacher by teacher, is the list a principal reminds people with (DESIGN §5): now the round's doors
  take the readers the window's take.
- A politician read a small count of students with support by the difference of two routes: north's 25 students in
  mathematics all below the pass level (the results' F, a cell of 25: shown), 3 of them with special support
  (withheld, with south as its complement) and the support figures' 22 below the pass level *without* support
  (shown): 25 - 22 = 3. The support figures' one decision knew nothing of the results. Now a below-pass count
  without support is withheld wherever the unit's students with support in that subject are (the support decision's
  `below_forced`, a `forced` cell of `access.disclosure.disclose`), with its own complements.
- A teacher drilling into its group's students' merit (`/v1/figures/drill-down?figure=merit`) read each student's
  merit value, number of grades, all pass and eligibility, built from every subject's term grade — set in other
  teachers' groups too, which the same teacher's results refuse: a merit value of 35 beside its own C (15) was the
  student's A in Swedish in 9B. Now a student's figures there are withheld unless the reader reads every group its
  grades were set in (`access.guard.reads_every_place`); the principal, the organiser admin and a teacher of every
  group read them as before.
"""

from __future__ import annotations

from datetime import date
from uuid import uuid5

import pytest

from styrkedja_kit.db import Database

from .test_compliance import DIRECTORY, ORG, UNIT, WINDOW
from .test_compliance_rounds import ASSESSMENTS, BASE, ROUND, calendar
from .test_directory import NS, Feeder, membership, unit
from .test_figures import result
from .test_support import feed
from .test_support_disclosure import _support

pytestmark = pytest.mark.integration


def _token(token_issuer, role: str) -> dict[str, str]:
    return {"Authorization": "Bearer " + token_issuer.mint(roles=[role], organisers=[ORG], school_units=[UNIT])}


async def test_an_ict_coordinator_reads_no_compliance_list_of_its_unit(client, database, token_issuer):
    """Failed on the old code: the round's unit list answered the ICT coordinator 200 with a row per teacher, where
    the window's refused it 403."""
    await Feeder(database)([calendar()] + DIRECTORY, ASSESSMENTS)
    ict, rektor = _token(token_issuer, "ict_coordinator"), _token(token_issuer, "principal")
    window = f"/v1/compliance/organisers/{ORG}/school-units/{UNIT}"
    for path, params in ((window, WINDOW), (f"{BASE}/{UNIT}", ROUND), (f"{BASE}/{UNIT}", {**ROUND, "list": "group"})):
        refused = await client.get(path, params=params, headers=ict)
        assert refused.status_code == 403, (path, refused.text)
        assert refused.json()["errors"][0]["field"] == "roles"
        read = await client.get(path, params=params, headers=rektor)  # the unit's principal reads it
        assert read.status_code == 200, (path, read.text)
    missing = await client.get(f"{BASE}/{UNIT}/items", params=ROUND, headers=ict)
    assert missing.status_code == 403
    assert (await client.get(BASE, params=ROUND, headers=ict)).status_code == 403


#: area → (school unit code, students assessed in mathematics, of them below the pass level, of those with support)
BELOW = {"north": ("11111111", 25, 25, 3), "south": ("22222222", 20, 0, 0), "east": ("33333333", 30, 0, 0)}


@pytest.fixture
async def below(settings):
    database = Database(settings.database_url)
    events = [unit("organiser", ORG, ORG, None)]
    for area, (code, assessed, failing, supported) in BELOW.items():
        events += [unit("area", area, ORG, ORG), unit("school_unit", f"su-{area}", ORG, area, code=code),
                   unit("group", "7A", ORG, f"su-{area}", code=code, year=7)]
        for i in range(assessed):
            student = f"s-{area}-{i}"
            events += [membership(f"m-{area}-{i}", ORG, code, "7A", student, date(2026, 8, 17)),
                       result(uuid5(NS, f"p29-{area}-{i}"), 1, "F" if i < failing else "C", ORG, code, "7A",
                              student, year=7, on=date(2026, 10, 1))]
            if i < supported:
                events.append(_support(code, student))
    await feed(database, [events])
    yield database
    await database.dispose()


async def _below_views(client, headers) -> dict[str, tuple[object, list[object]]]:
    """Each area's students below the pass level without support: the summary's and the table's."""
    views = {}
    for area in BELOW:
        place = {"level": "area", "unit_id": area, "organiser_id": ORG}
        summary = await client.get("/v1/support/summary", headers=headers, params=place)
        table = await client.get("/v1/support/below-pass-without-support", headers=headers,
                                 params={**place, "subject_code": "GRGRMAT01"})
        assert summary.status_code == table.status_code == 200, (summary.text, table.text)
        views[area] = (summary.json()["below_pass_without_support"]["students"],
                       [r["students"] for r in table.json()["rows"]])
    return views


@pytest.mark.postgres_only
async def test_below_pass_without_support_less_the_results_gives_no_withheld_support_count(below, bare_client,
                                                                                         token_issuer):
    """Failed on the old code: north's 22 below the pass level without support were shown beside its 25 F."""
    politician = {"Authorization": "Bearer " + token_issuer.mint(roles=["politician"], organisers=[ORG])}
    results = await bare_client.get("/v1/results/assessments", headers=politician, params={
        "level": "area", "organiser_id": ORG, "subject_code": "GRGRMAT01"})
    assert results.status_code == 200, results.text
    failing = {c["unit_id"]: c["distribution"].get("F") for c in results.json() if c["distribution"]}
    assert failing["north"] == 25  # a cell of 25 students: shown, with its distribution
    north = (await bare_client.get("/v1/support/summary", headers=politician, params={
        "level": "area", "unit_id": "north", "organiser_id": ORG})).json()
    assert north["students_with_kind_active"]["special_support"] is None  # 3: withheld
    views = await _below_views(bare_client, politician)
    # 25 − 22 was north's 3 students with special support, which every support read withholds
    assert views["north"] == (None, [None]), views
    # … and the organiser's count less the areas shown does not give it back
    organiser = (await bare_client.get("/v1/support/summary", headers=politician, params={
        "level": "organiser", "unit_id": ORG, "organiser_id": ORG})).json()
    if organiser["below_pass_without_support"]["students"] is not None:
        hidden = [area for area, (n, _) in views.items() if n is None]
        assert len(hidden) >= 2, (organiser["below_pass_without_support"], views)


@pytest.mark.postgres_only
async def test_the_organiser_admin_reads_the_below_pass_counts_exactly(below, bare_client, token_issuer):
    admin = {"Authorization": "Bearer " + token_issuer.mint(roles=["organiser_admin"], organisers=[ORG])}
    views = await _below_views(bare_client, admin)
    assert views == {"north": (22, [22]), "south": (0, []), "east": (0, [])}


MERIT_UNIT = "44444444"


@pytest.fixture
async def two_groups(settings):
    """s-1 in year 9: a C in mathematics in 9A (t-a's), an A in Swedish in 9B (another teacher's); the maths grade is
    the newer, so 9A's merit drill-down lists the student."""
    database = Database(settings.database_url)
    await Feeder(database)([
        unit("organiser", ORG, ORG, None), unit("area", "north", ORG, ORG),
        unit("school_unit", "su-m", ORG, "north", code=MERIT_UNIT),
        unit("group", "9A", ORG, "su-m", code=MERIT_UNIT, year=9), unit("group", "9B", ORG, "su-m", code=MERIT_UNIT, year=9),
        result(uuid5(NS, "p29-sve"), 1, "A", ORG, MERIT_UNIT, "9B", "s-1", subject="GRGRSVE01", year=9,
               kind="term_grade", on=date(2026, 12, 1)),
        result(uuid5(NS, "p29-mat"), 1, "C", ORG, MERIT_UNIT, "9A", "s-1", subject="GRGRMAT01", year=9,
               kind="term_grade", on=date(2026, 12, 10))])
    yield database
    await database.dispose()


def _as(token_issuer, claims: dict) -> dict[str, str]:
    return {"Authorization": "Bearer " + token_issuer.mint(organisers=[ORG], **claims)}


async def _merit_of_s1(client, token_issuer, claims: dict) -> dict:
    token = _as(token_issuer, claims)
    response = await client.get("/v1/figures/drill-down", headers=token, params={
        "level": "group", "unit_id": f"{MERIT_UNIT}/9A", "organiser_id": ORG, "school_year": "2026/27", "term": "HT",
        "figure": "merit"})
    assert response.status_code == 200, response.text
    (row,) = response.json()["rows"]
    assert row["student_id"] == "s-1"
    return row


@pytest.mark.postgres_only
async def test_a_teacher_of_one_group_reads_no_merit_value_resting_on_another_groups_grade(two_groups, bare_client,
                                                                                          token_issuer):
    """Failed on the old code: 9A's teacher read s-1's merit value 35.0 (and 2 grades), while its results at student
    level list the maths C (15) alone: 35 − 15 = 20, the A in Swedish set in 9B."""
    own = {"roles": ["teacher"], "groups": [f"{MERIT_UNIT}/9A"]}
    teacher = await _merit_of_s1(bare_client, token_issuer, own)
    assert teacher["merit_value"] is None and teacher["grades"] is None and teacher["all_pass"] is None, teacher
    results = await bare_client.get("/v1/results/assessments", params={"level": "student", "organiser_id": ORG},
                                    headers=_as(token_issuer, own))
    assert [c["subject_code"] for c in results.json()] == ["GRGRMAT01"]  # the teacher's own grade only
    # a reader of both groups reads the student's figures exactly
    both = {"roles": ["teacher"], "groups": [f"{MERIT_UNIT}/9A", f"{MERIT_UNIT}/9B"]}
    for claims in (both, {"roles": ["principal"], "school_units": [MERIT_UNIT]}, {"roles": ["organiser_admin"]}):
        row = await _merit_of_s1(bare_client, token_issuer, claims)
        assert (row["merit_value"], row["grades"], row["all_pass"]) == (35.0, 2, "ja"), (claims, row)

"""The groups of a token suppressed as a politician (hostile round 26c).

Found and fixed: a politician who is also a teacher (or a principal) is suppressed as the politician, at every level
(round 24a), and reads groups through its narrow role. The one decision of the politician's class leaves the group
level out (`access.decision.left_out`: no politician reads a group), and the support figures' decisions never hold
groups (`COUNT_LEVELS`) — so nothing decided the group cells: the results showed a group of 5 students' distribution
exactly (reason `EXISTS`, its counts `null`), the support summary its students assessed exactly, and a large group
whose school unit the decision withheld as a complement would give that unit back. Now a level the class suppresses
but no decision of it covers has every figure withheld (`complement.EveryCellWithheld`), in every read and format;
the teacher alone still reads its group exactly.

Data: `test_one_decision` — north's one school unit 11111111 and its group 7A hold 5 students."""

from __future__ import annotations

import csv
import io

import pytest

from .test_one_decision import ORG, PERIOD, WITHHELD, fed  # noqa: F401  (fed: the fixture)

pytestmark = [pytest.mark.integration, pytest.mark.postgres_only]

GROUP = "11111111/7A"
TOKENS = [(["politician", "teacher"], {"groups": [GROUP]}),
          (["politician", "principal"], {"school_units": ["11111111"]})]


def _headers(token_issuer, roles: list[str], claims: dict) -> dict:
    return {"Authorization": "Bearer " + token_issuer.mint(roles=roles, organisers=[ORG], **claims)}


@pytest.mark.parametrize(("roles", "claims"), TOKENS)
async def test_a_politicians_group_results_are_withheld_in_every_format(fed, bare_client, token_issuer,  # noqa: F811
                                                                        roles, claims):
    headers = _headers(token_issuer, roles, claims)
    params = {"level": "group", "organiser_id": ORG, "unit_id": GROUP, **PERIOD}
    response = await bare_client.get("/v1/results/assessments", headers=headers, params=params)
    assert response.status_code == 200, response.text
    cells = response.json()
    assert cells and all(c["distribution"] is None and c["reason"] == WITHHELD for c in cells), cells
    text = (await bare_client.get("/v1/results/assessments", headers=headers,
                                  params={**params, "format": "csv"})).text
    rows = list(csv.DictReader(io.StringIO(text.lstrip("\ufeff")), delimiter=";"))
    assert rows and all(r["C"] == ".." and r["F"] == ".." for r in rows), rows


@pytest.mark.parametrize(("roles", "claims"), TOKENS)
async def test_a_politicians_group_figures_and_support_are_withheld(fed, bare_client, token_issuer,  # noqa: F811
                                                                    roles, claims):
    headers = _headers(token_issuer, roles, claims)
    response = await bare_client.get("/v1/figures/coverage", headers=headers,
                                     params={"level": "group", "organiser_id": ORG, "unit_id": GROUP, **PERIOD})
    assert response.status_code == 200, response.text
    rows = response.json()["rows"]
    assert rows and all(r["with_result"] is None for r in rows), rows
    summary = await bare_client.get("/v1/support/summary", headers=headers,
                                    params={"level": "group", "organiser_id": ORG, "unit_id": GROUP})
    assert summary.status_code == 200, summary.text
    assert summary.json()["students_assessed"] is None, summary.json()


async def test_the_teacher_alone_reads_its_group_exactly(fed, bare_client, token_issuer):  # noqa: F811
    headers = _headers(token_issuer, ["teacher"], {"groups": [GROUP]})
    response = await bare_client.get("/v1/results/assessments", headers=headers, params={
        "level": "group", "organiser_id": ORG, "unit_id": GROUP, **PERIOD})
    assert response.status_code == 200, response.text
    assert sum(c["assessed"] for c in response.json()) == 5


async def test_a_politicians_student_level_reads_agree_across_doors(fed, bare_client, token_issuer):  # noqa: F811
    """Found and fixed: the results withheld each student cell of a politician who is also a principal (its class
    suppresses the student level), but the drill-down into the group listed each student's result exactly and the
    support list named the students below the pass level. Now every student-level door withholds them."""
    headers = _headers(token_issuer, ["politician", "principal"], {"school_units": ["11111111"]})
    results = await bare_client.get("/v1/results/assessments", headers=headers,
                                    params={"level": "student", "organiser_id": ORG, **PERIOD})
    assert results.status_code == 200 and all(c["distribution"] is None for c in results.json()), results.text
    drill = await bare_client.get("/v1/figures/drill-down", headers=headers,
                                  params={"level": "group", "organiser_id": ORG, "unit_id": GROUP, **PERIOD})
    assert drill.status_code == 200, drill.text
    rows = drill.json()["rows"]
    assert rows and all(r["value"] is None and r["reaches"] is None for r in rows), rows
    listing = await bare_client.get("/v1/support/below-pass-without-support/students", headers=headers,
                                    params={"level": "group", "organiser_id": ORG, "unit_id": GROUP})
    assert listing.status_code == 403, listing.text
    summary = await bare_client.get("/v1/support/summary", headers=headers,
                                    params={"level": "school_unit", "organiser_id": ORG, "unit_id": "11111111"})
    assert summary.status_code == 200, summary.text
    assert summary.json()["below_pass_without_support"]["list"] is None, summary.json()


async def test_the_principal_alone_reads_its_students(fed, bare_client, token_issuer):  # noqa: F811
    headers = _headers(token_issuer, ["principal"], {"school_units": ["11111111"]})
    drill = await bare_client.get("/v1/figures/drill-down", headers=headers,
                                  params={"level": "group", "organiser_id": ORG, "unit_id": GROUP, **PERIOD})
    assert drill.status_code == 200, drill.text
    assert sorted(r["value"] for r in drill.json()["rows"]) == ["C", "C", "C", "F", "F"]
    listing = await bare_client.get("/v1/support/below-pass-without-support/students", headers=headers,
                                    params={"level": "group", "organiser_id": ORG, "unit_id": GROUP})
    assert listing.status_code == 200 and len(listing.json()["rows"]) == 2, listing.text

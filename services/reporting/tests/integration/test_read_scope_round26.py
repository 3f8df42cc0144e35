"""Least privilege and suppression of reporting's reads as each reader sees them (hostile round 26c).

Found and fixed:
- the support figures of the nation narrowed to one organiser (`level=nation&organiser_id=…`, `unit_id=SE`): the
  access check took it as that organiser's share (only its exact readers, judged unsuppressed), but the read dropped
  the organiser and read the whole nation — every organiser's students — exactly: an organiser admin read the
  nation's figures unsuppressed (a small other organiser's students in a subject only it teaches), where the
  nation without `organiser_id` is read as the public reads it. Now it is that organiser's share, as the results'
  and the figures' nation narrowed to one organiser is;
- a student-level read naming no organiser was audited with no organiser: in no organiser admin's trail.

Fixture: `test_nation_scope.fed` — three organisers, 2999 with 12 students assessed, 3001 with 3, 3002 with 20."""

from __future__ import annotations

import pytest

from .test_nation_scope import OTHER, OWN, fed  # noqa: F401  (the fixture)

pytestmark = [pytest.mark.integration, pytest.mark.postgres_only]

SUPPORT = {"level": "nation", "unit_id": "SE", "subject_code": "GRGRMAT01"}


def _bearer(token_issuer, roles: list[str], organisers: list[str]) -> dict[str, str]:
    return {"Authorization": "Bearer " + token_issuer.mint(roles=roles, organisers=organisers)}


@pytest.mark.parametrize("path", ["/v1/support/kinds", "/v1/support/summary"])
async def test_the_support_nation_narrowed_to_one_organiser_is_its_share_alone(fed, bare_client, token_issuer,  # noqa: F811
                                                                                path):
    admin = _bearer(token_issuer, ["organiser_admin"], [OWN])
    response = await bare_client.get(path, headers=admin, params={**SUPPORT, "organiser_id": OWN})
    assert response.status_code == 200, response.text
    body = response.json()
    assessed = body["students_assessed"] if "students_assessed" in body else {
        r["students_assessed"] for r in body["rows"]}
    assert assessed in (12, {12}), body  # its own 12, not the nation's 35 (every organiser's, read exactly)
    other = await bare_client.get(path, headers=admin, params={**SUPPORT, "organiser_id": OTHER})
    assert other.status_code == 403, other.text



async def test_a_student_level_read_naming_no_organiser_is_in_its_organisers_audit_trail(fed, bare_client,  # noqa: F811
                                                                                         token_issuer):
    """Found and fixed: `level=student` without `organiser_id` read the reader's students of every organiser it
    reaches, and its audit row kept no organiser: no organiser admin's trail held it."""
    principal = {"Authorization": "Bearer " + token_issuer.mint(roles=["principal"], organisers=[OWN, OTHER],
                                                                school_units=["11111111", "33333333"],
                                                                subject="rektor-26c")}
    response = await bare_client.get("/v1/results/assessments", headers=principal,
                                     params={"level": "student", "subject_code": "GRGRMAT01"})
    assert response.status_code == 200 and response.json(), response.text
    for organiser in (OWN, OTHER):
        admin = _bearer(token_issuer, ["organiser_admin"], [organiser])
        rows = (await bare_client.get("/v1/audit/reads", params={"organiser_id": organiser}, headers=admin)).json()
        assert [(r["subject"], r["level"]) for r in rows] == [("rektor-26c", "student")], (organiser, rows)


async def test_a_politicians_own_share_of_the_nation_is_its_organiser_judged_so(fed, bare_client,  # noqa: F811
                                                                                  token_issuer):
    """Found and fixed: the results' nation narrowed to the politician's own organiser passed the access check (as
    that organiser, which it reads) and then had every row dropped as a nation row (no politician reads the nation):
    200 and `[]`, an organiser with no students. Now it is the organiser's cells, judged as the organiser's are."""
    politician = _bearer(token_issuer, ["politician"], [OWN])
    params = {"subject_code": "GRGRMAT01", "school_year": "2026/27", "term": "HT"}
    nation = await bare_client.get("/v1/results/assessments", headers=politician,
                                   params={"level": "nation", "organiser_id": OWN, **params})
    organiser = await bare_client.get("/v1/results/assessments", headers=politician,
                                      params={"level": "organiser", "organiser_id": OWN, **params})
    assert nation.status_code == organiser.status_code == 200, (nation.text, organiser.text)
    assert organiser.json(), organiser.text
    assert [(c["assessed"], c["distribution"]) for c in nation.json()] == [
        (c["assessed"], c["distribution"]) for c in organiser.json()]

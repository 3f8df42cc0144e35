"""Round 26 (d), the assessment service's domain rules as school platforms, another organiser's platform and a buggy
client see them (the forecast service's: services/forecast/tests/integration/test_hostile_round26d.py)."""

from __future__ import annotations

import asyncio

import pytest
from sqlalchemy import text

from styrkedja_devstack.testing import problem_fields

pytestmark = [pytest.mark.integration, pytest.mark.postgres_only]


@pytest.mark.parametrize(("scale", "value"), [("AF", "Anna Andersson"), ("AF", "<b>C</b>"),
                                              ("THREE_LEVEL", "godtagbar nivå")])
async def test_a_value_off_its_scale_is_refused_without_repeating_it(client, assessment, scale, value):
    """A refusal names the field and the rule, never the value sent (docs/platforms.md): a value off its scale is
    422 `value_on_scale` naming the scale's values, not the text sent. Failed on the old code: the message (and the
    problem's `detail`) began with the value as sent — free text a client put in a result's field, a name as well as
    a typo, answered back and written wherever the answer is logged."""
    for path, body, field in (("/v1/assessments", assessment("s-1", scale=scale, value=value), "value"),
                              ("/v1/assessments/batch", {"items": [assessment("s-1", scale=scale, value=value)]},
                               "items.0.value")):
        response = await client.post(path, json=body)
        assert response.status_code == 422, response.text
        assert problem_fields(response) == [(field, "value_on_scale")]
        assert value not in response.text and repr(value) not in response.text
        assert f"scale {scale}" in response.json()["errors"][0]["message"]


@pytest.mark.parametrize("kind", ["assessment", "term_grade"])
async def test_an_f_in_a_subject_of_the_anpassad_grundskola_is_off_its_scale(client, scalar, assessment, kind):
    """The anpassad grundskola (grundsärskola) grades A–E, no F (docs/DESIGN.md, the contracts' `scale_values(AF,
    special_school=True)`): an F in one of its subjects (`GRSA…`, school form `anpassad_grundskola` on the subject list)
    is 422 `value_on_scale` at `value` naming A–E, single and batch alike; an E is stored, and an F in the grundskola's
    subject still is. Failed on the old code: stored (201) and sent on as below pass — a grade the school form does not
    have, counted in every figure of the unit."""
    f = assessment("s-1", subject_code="GRSAMAT01", kind=kind, value="F", unmet_criteria=["Taluppfattning"])
    single = await client.post("/v1/assessments", json=f)
    assert single.status_code == 422, single.text
    assert problem_fields(single) == [("value", "value_on_scale")]
    assert "A, B, C, D, E)" in single.json()["errors"][0]["message"]
    batch = await client.post("/v1/assessments/batch", json={"items": [assessment("s-2", subject_code="GRSAMAT01"), f]})
    assert batch.status_code == 422, batch.text
    assert problem_fields(batch) == [("items.1.value", "value_on_scale")]
    assert await scalar("SELECT count(*) FROM outbox") == 0
    e = await client.post("/v1/assessments", json=f | {"value": "E", "unmet_criteria": []})
    assert e.status_code == 201, e.text
    grundskola = await client.post("/v1/assessments", json=f | {"subject_code": "GRGRMAT01"})
    assert grundskola.status_code == 201, grundskola.text


BLANK = ["", " ", "   ", "\n", " \r\n\t ", "\u00a0", "\u3000"]


@pytest.mark.parametrize("blank", BLANK[1:])
async def test_a_blank_unmet_criterion_names_none(client, scalar, assessment, blank):
    """A result below the pass level names the unmet knowledge criteria: a criterion of spaces or line breaks names
    none, 422 `not_blank` at `unmet_criteria.0` (`items.N.unmet_criteria.0` in a batch), as LIKA's free text and the
    kit's query parameters refuse one. Failed on the old code: an F naming `"  "` was stored (201) and sent on — the
    rule `criteria_required_below_pass` met by nothing said."""
    body = assessment("s-1", value="F", unmet_criteria=[blank])
    single = await client.post("/v1/assessments", json=body)
    assert single.status_code == 422, single.text
    assert ("unmet_criteria.0", "not_blank") in problem_fields(single)
    batch = await client.post("/v1/assessments/batch", json={"items": [assessment("s-2"), body]})
    assert batch.status_code == 422, batch.text
    assert ("items.1.unmet_criteria.0", "not_blank") in problem_fields(batch)
    assert await scalar("SELECT count(*) FROM outbox") == 0


def _intervention(**overrides) -> dict:
    return {"organiser_id": "2999", "school_unit_code": "12345678", "group_id": "7A", "student_id": "s-1",
            "subject_code": "GRGRMAT01", "kind": "extra_adjustment", "status": "decided",
            "start_date": "2026-09-01", "evaluation_date": "2026-11-01", "decided_by_role": "teacher",
            "decided_by": "t-1", "decided_on": "2026-09-01", "description": "Lugn miljö"} | overrides


@pytest.mark.parametrize("blank", BLANK)
async def test_optional_free_text_saying_nothing_is_refused(client, scalar, assessment, blank):
    """An intervention's description and a retraction's reason — free text people type — say something or are left
    out (`null`): "", spaces or line breaks are 422 `not_blank` naming the field, nothing stored, as LIKA's comments
    and notes. Failed on the old code: stored as given (201, 200), a reason or description "there" that says nothing;
    a retraction's blank reason was one more revision and event."""
    described = await client.post("/v1/support-interventions", json=_intervention(description=blank))
    assert described.status_code == 422, described.text
    assert problem_fields(described) == [("description", "not_blank")]
    batch = await client.post("/v1/support-interventions/batch", json={"items": [_intervention(description=blank)]})
    assert batch.status_code == 422 and problem_fields(batch) == [("items.0.description", "not_blank")], batch.text
    stored = await client.post("/v1/assessments", json=assessment("s-1"))
    assert stored.status_code == 201, stored.text
    retracted = await client.post(f"/v1/assessments/{stored.json()['assessment_id']}/retract", json={"reason": blank})
    assert retracted.status_code == 422, retracted.text
    assert problem_fields(retracted) == [("reason", "not_blank")]
    assert await scalar("SELECT count(*) FROM outbox") == 1
    for left_out in ({}, {"reason": None}, {"reason": "Fel elev"}):
        done = await client.post(f"/v1/assessments/{stored.json()['assessment_id']}/retract", json=left_out)
        assert done.status_code == 200, done.text
    assert (await client.post("/v1/support-interventions", json=_intervention(description=None))).status_code == 201


async def test_an_action_programme_waits_for_its_investigation_being_retracted(client, db, scalar):
    """An action programme rests on a decided investigation, checked in its write's transaction: the investigation
    read is locked against a change (FOR SHARE), so an investigation retracted (or revised) by a write at the same
    time is seen once that write commits — 409 `investigation_must_exist`, nothing stored. Failed on the old code: the
    check read the investigation without a lock, so the programme was stored (201) on an investigation retracted in
    the same moment, and the retraction stored too — an action programme resting on none (write skew)."""
    investigation = await client.post("/v1/support-interventions", json=_intervention(
        kind="investigation", decided_by_role="principal", subject_code=None))
    assert investigation.status_code == 201, investigation.text
    basis = investigation.json()["intervention_id"]
    programme = _intervention(kind="action_programme", decided_by_role="principal", investigation_id=basis)
    async with db.connect() as other:
        # another write retracting the investigation, not yet committed (the write path's own retraction holds the
        # same row lock between its read and its commit)
        await other.execute(text("UPDATE support_interventions SET retracted = true, revision = 2 "
                                 "WHERE intervention_id = :id"), {"id": basis})
        recorded = asyncio.create_task(client.post("/v1/support-interventions", json=programme))
        while not recorded.done() and not await _waits_for_a_lock(db):
            await asyncio.sleep(0.01)  # until the programme's write waits for the row, or is answered without waiting
        await other.commit()
    answer = await recorded
    assert answer.status_code == 409, answer.text
    assert problem_fields(answer) == [("investigation_id", "investigation_must_exist")]
    assert await scalar("SELECT count(*) FROM support_interventions WHERE kind = 'action_programme'") == 0


async def _waits_for_a_lock(db) -> bool:
    async with db.connect() as conn:
        return bool((await conn.execute(text(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'"
        ))).scalar_one())


@pytest.mark.parametrize("year", [0, 1, 3, 5])
async def test_a_term_grade_before_year_6_is_refused(client, scalar, assessment, year):
    """Grades (terminsbetyg) are given from year 6 (skollagen 10 kap. 13 §; the demo grades years 6 and 9 only): a
    term grade in years 0–5 is 422 `term_grade_from_year_6` naming `year`, single and batch; an assessment or a
    written report of those years is stored, and a term grade of year 6. Failed on the old code: a term grade of
    year 3 was stored (201) and counted among the grades of the unit."""
    body = assessment("s-1", kind="term_grade", year=year)
    single = await client.post("/v1/assessments", json=body)
    assert single.status_code == 422, single.text
    assert problem_fields(single) == [("year", "term_grade_from_year_6")]
    batch = await client.post("/v1/assessments/batch", json={"items": [assessment("s-2"), body]})
    assert batch.status_code == 422 and problem_fields(batch) == [("items.1.year", "term_grade_from_year_6")]
    assert await scalar("SELECT count(*) FROM outbox") == 0
    for fine in (body | {"kind": "assessment"}, body | {"kind": "written_report"}, body | {"year": 6}):
        stored = await client.post("/v1/assessments", json=fine)
        assert stored.status_code == 201, stored.text

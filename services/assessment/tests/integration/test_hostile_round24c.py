"""Round 24 (c), the assessment service's writes: lists whose values are each given once, and revisions that can
always be revised (see tests/test_hostile_round24c.py for the round)."""

from __future__ import annotations

import asyncio

import pytest
from sqlalchemy import text

from styrkedja_devstack.testing import problem_fields

pytestmark = [pytest.mark.integration, pytest.mark.postgres_only]


def plan(**overrides) -> dict:
    body = {"organiser_id": "2999", "school_unit_code": "12345678", "group_id": "7A", "subject_code": "GRGRMAT01",
            "school_year": "2026/27", "term": "HT", "title": "Bråk och procent", "criteria_codes": ["MA9E1"],
            "published_on": "2026-08-25"}
    return body | overrides


@pytest.mark.parametrize(("path", "field", "twice"), [
    ("/v1/plans", "criteria_codes", ["MA9E1", "MA9E2", "MA9E1"]),
    ("/v1/assessments", "unmet_criteria", ["Kan resonera", "Kan resonera"]),
    ("/v1/assessments", "unmet_criteria", ["Å", "A\u030a"]),  # one text, composed and decomposed
    ("/v1/assessments", "unmet_criteria", ["Kan  resonera", " Kan resonera"]),  # one text, spaced otherwise
])
async def test_a_value_given_twice_in_a_list_is_a_422_naming_it(client, scalar, assessment, path, field, twice):
    """Failed on the old code: stored (201) with the value twice, in the row and the event."""
    body = plan(criteria_codes=twice) if path == "/v1/plans" else assessment("s-1", value="F", unmet_criteria=twice)
    single = await client.post(path, json=body)
    assert single.status_code == 422, single.text
    assert problem_fields(single) == [(field, "unique")]
    assert "repeats item" in single.json()["errors"][0]["message"]
    batch = await client.post(f"{path}/batch", json={"items": [{**body, field: twice[:1]}, body]})
    assert batch.status_code == 422, batch.text
    assert problem_fields(batch) == [(f"items.1.{field}", "unique")]
    assert await scalar("SELECT count(*) FROM outbox") == 0
    once = await client.post(path, json={**body, field: twice[:1]})
    assert once.status_code == 201, once.text


MAX_INT4 = 2**31 - 1
MAX_NAMED_REVISION = MAX_INT4 - 2**20  # the contracts' MAX_NAMED_REVISION


def intervention(**overrides) -> dict:
    body = {"organiser_id": "2999", "school_unit_code": "12345678", "group_id": "7A", "student_id": "s-1",
            "subject_code": "GRGRMAT01", "kind": "extra_adjustment", "status": "decided",
            "start_date": "2026-09-01", "evaluation_date": "2026-11-01", "decided_by_role": "teacher",
            "decided_by": "t-1", "decided_on": "2026-09-01", "description": "Lugn miljö"}
    return body | overrides


@pytest.mark.parametrize(("path", "id_field", "table", "make", "changed"), [
    ("/v1/assessments", "assessment_id", "assessments", lambda a: a("s-7"), {"value": "A"}),
    ("/v1/plans", "plan_id", "plans", lambda a: plan(), {"title": "Algebra"}),
    ("/v1/support-interventions", "intervention_id", "support_interventions", lambda a: intervention(),
     {"status": "evaluated", "evaluation_outcome": "better"}),
])
async def test_a_record_at_the_highest_revision_a_sender_names_can_be_revised_and_retracted(
        client, db, scalar, assessment, path, id_field, table, make, changed):
    """Failed on the old code: revision 2147483647 was taken (201), and then neither a change (422 `body`
    `less_than_equal`: its next revision fits no database integer) nor a retraction (422) was possible: the record
    was stuck for good."""
    body = make(assessment)
    last = await client.post(path, json=body | {"revision": MAX_INT4})
    assert last.status_code == 422, last.text
    assert problem_fields(last) == [("revision", "less_than_equal")]
    named = await client.post(path, json=body | {"revision": MAX_NAMED_REVISION})
    assert named.status_code == 201, named.text
    record_id = named.json()[id_field]
    # stored at the last database integer (a sender could name it before this rule): a 409 naming the rule, no 500
    await set_revision(db, table, id_field, record_id, MAX_INT4)
    for stuck in (await client.post(path, json=body | changed | {id_field: record_id}),
                  await client.post(f"{path}/{record_id}/retract")):
        assert stuck.status_code == 409 and problem_fields(stuck) == [("revision", "revisions_exhausted")], stuck.text
    await set_revision(db, table, id_field, record_id, MAX_NAMED_REVISION)
    revised = await client.post(path, json=body | changed | {id_field: record_id})
    assert (revised.status_code, revised.json()["revision"]) == (201, MAX_NAMED_REVISION + 1), revised.text
    too_far = await client.post(f"{path}/{record_id}/retract", json={"revision": MAX_INT4})
    assert too_far.status_code == 422 and problem_fields(too_far) == [("revision", "less_than_equal")], too_far.text
    retracted = await client.post(f"{path}/{record_id}/retract")
    assert (retracted.status_code, retracted.json()["revision"]) == (200, MAX_NAMED_REVISION + 2), retracted.text
    # round 26: retracted above the highest revision a request may name, it cannot be restored, and the 409 says so
    # (it asked for "a revision above" one, which validation always refuses)
    for restore in (body | changed | {id_field: record_id, "revision": MAX_NAMED_REVISION},
                    body | changed | {id_field: record_id}):
        refused = await client.post(path, json=restore)
        assert refused.status_code == 409, refused.text
        assert problem_fields(refused) == [("revision", "removed_for_good")], refused.text
        assert "cannot be restored" in refused.json()["errors"][0]["message"]
    assert await scalar("SELECT count(*) FROM outbox") == 3


async def set_revision(db, table: str, id_column: str, record_id: str, revision: int) -> None:
    async with db.begin() as conn:
        await conn.execute(text(f"UPDATE {table} SET revision = {revision} WHERE {id_column} = :id"), {"id": record_id})


@pytest.mark.parametrize(("path", "id_field", "field", "values"), [
    ("/v1/plans", "plan_id", "criteria_codes", ["MA9E1", "MA9E2", "MA9E3"]),
    ("/v1/assessments", "assessment_id", "unmet_criteria", ["Taluppfattning", "Algebra"]),
])
async def test_a_list_of_unique_values_sent_again_in_another_order_is_unchanged(
        client, scalar, assessment, path, id_field, field, values):
    """Failed on the old code: the same record sent again with its criteria in another order (a client building them
    from a set) was a new revision and event each time; the values are a set, their order says nothing."""
    body = plan(criteria_codes=values) if path == "/v1/plans" else assessment("s-3", value="F", unmet_criteria=values)
    first = await client.post(path, json=body)
    assert first.status_code == 201, first.text
    record_id = first.json()[id_field]
    for again in (values[::-1], values[1:] + values[:1]):
        same = await client.post(path, json=body | {id_field: record_id, field: again})
        assert (same.status_code, same.json()["revision"], same.json()["status"]) == (200, 1, "unchanged"), same.text
        batch = await client.post(f"{path}/batch", json={"items": [body | {id_field: record_id, field: again,
                                                                           "revision": 1}]})
        assert (batch.status_code, batch.json()["unchanged"]) == (200, 1), batch.text
    fewer = await client.post(path, json=body | {id_field: record_id, field: values[:1]})
    assert (fewer.status_code, fewer.json()["revision"]) == (201, 2), fewer.text
    assert await scalar("SELECT count(*) FROM outbox") == 2


@pytest.mark.parametrize("school_year", ["2199/00", "9998/99"])
async def test_a_school_year_past_2198_99_is_a_422_naming_it(client, scalar, assessment, school_year):
    """Failed on the old code: an assessment of 2199/00 (assessed in autumn 2199) and a plan of any school year to
    9998/99 (a plan names no date of it) were stored (201) and sent on, where a forecast of the same school year was a
    422: now one bound for every school year a request names (`SchoolYearIn`: 1900/01–2198/99, its days in the
    years every date may have), on the single and the batch door alike."""
    first = int(school_year[:4])
    last = {"/v1/assessments": assessment("s-9", school_year="2198/99", assessed_on="2199-06-30"),
            "/v1/plans": plan(school_year="2198/99", published_on="2199-01-10")}
    bodies = {"/v1/assessments": assessment("s-9", school_year=school_year, assessed_on=f"{min(first, 2199)}-10-01"),
              "/v1/plans": plan(school_year=school_year, published_on="2199-08-25")}
    for path, body in bodies.items():
        single = await client.post(path, json=body)
        assert single.status_code == 422, single.text
        assert problem_fields(single) == [("school_year", "date_range")]
        assert "1900/01 to 2198/99" in single.json()["errors"][0]["message"]
        batch = await client.post(f"{path}/batch", json={"items": [last[path], body]})
        assert batch.status_code == 422 and problem_fields(batch) == [("items.1.school_year", "date_range")], batch.text
    assert await scalar("SELECT count(*) FROM outbox") == 0
    for path, body in last.items():
        taken = await client.post(path, json=body)
        assert taken.status_code == 201, taken.text


@pytest.mark.parametrize(("path", "id_field", "table", "make", "other"), [
    ("/v1/support-interventions", "intervention_id", "support_interventions", lambda: intervention(),
     {"description": "Anpassad text"}),
    ("/v1/plans", "plan_id", "plans", lambda: plan(), {"title": "Algebra"}),
])
async def test_a_new_record_sent_again_with_its_idempotency_key_is_the_first_one(
        client, scalar, path, id_field, table, make, other):
    """Failed on the old code: a new support intervention or plan sent again without its id (a retry of an answer
    lost) was a second record and event, the header ignored. Now, with an `Idempotency-Key`, the key makes the
    record's id: the same request again is the first record (200 `unchanged`, `Idempotent-Replayed: true`), the
    same key with another body a 422 naming the header (a 409 until the IETF draft's answers were followed), nothing
    stored."""
    body = make()
    keyed = {"Idempotency-Key": "3f1c9e0a-retry-1"}
    first = await client.post(path, json=body, headers=keyed)
    assert first.status_code == 201, first.text
    again = await client.post(path, json=body, headers=keyed)
    assert (again.status_code, again.json()[id_field], again.json()["revision"], again.json()["status"]) == (
        200, first.json()[id_field], 1, "unchanged"), again.text
    assert again.headers["Idempotent-Replayed"] == "true"
    reused = await client.post(path, json=body | other, headers=keyed)
    assert reused.status_code == 422 and problem_fields(reused) == [("Idempotency-Key", "idempotency_key_reused")], \
        reused.text
    bad = await client.post(path, json=body, headers={"Idempotency-Key": "two words"})
    assert bad.status_code == 422 and problem_fields(bad) == [("Idempotency-Key", "idempotency_key_invalid")], bad.text
    assert (await scalar(f"SELECT count(*) FROM {table}"), await scalar("SELECT count(*) FROM outbox")) == (1, 1)
    another = await client.post(path, json=body, headers={"Idempotency-Key": "3f1c9e0a-retry-2"})
    assert another.status_code == 201 and another.json()[id_field] != first.json()[id_field], another.text
    named = await client.post(path, json=body | {id_field: first.json()[id_field]}, headers=keyed)  # its id: as ever
    assert (named.status_code, named.json()["status"]) == (200, "unchanged"), named.text
    assert (await scalar(f"SELECT count(*) FROM {table}"), await scalar("SELECT count(*) FROM outbox")) == (2, 2)


@pytest.mark.parametrize(("path", "make"), [("/v1/support-interventions", lambda: intervention()),
                                            ("/v1/plans", lambda: plan())])
async def test_a_new_record_sent_again_while_its_first_attempt_is_written_is_a_409_naming_the_header(
        client, scalar, monkeypatch, path, make):
    """Failed on the old code: the retry's insert lost the race to its first attempt and was tried again (answered 200
    `unchanged` once the first committed); the IETF draft answers a key "still being processed" with a 409. The first
    attempt is held inside its transaction (its key claimed) while the retry is sent: 409, `Retry-After`, nothing
    stored; once the first is done, the retry is answered its record."""
    from styrkedja_kit.writes import WritePath

    inside, release = asyncio.Event(), asyncio.Event()
    lock = WritePath._lock

    async def held(self, session, ids):
        if not inside.is_set():
            inside.set()
            await release.wait()
        return await lock(self, session, ids)

    monkeypatch.setattr(WritePath, "_lock", held)
    body, keyed = make(), {"Idempotency-Key": "in-flight-1"}
    first = asyncio.create_task(client.post(path, json=body, headers=keyed))
    await asyncio.wait_for(inside.wait(), 30)
    retry = await client.post(path, json=body, headers=keyed)
    assert retry.status_code == 409, retry.text
    assert problem_fields(retry) == [("Idempotency-Key", "idempotency_key_in_progress")]
    assert retry.headers["Retry-After"] == "1"
    release.set()
    done = await first
    assert done.status_code == 201, done.text
    again = await client.post(path, json=body, headers=keyed)
    assert (again.status_code, again.json()["status"], again.headers["Idempotent-Replayed"]) == (200, "unchanged", "true")
    assert await scalar("SELECT count(*) FROM outbox") == 1

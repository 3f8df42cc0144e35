"""`Idempotency-Key` on the batch doors of assessments, plans and support interventions (the kit's
`record_routes`, `idempotency.take_claimed`), over HTTP against a real PostgreSQL. Failed on the old code: the
batch doors took no key — a support batch sent again without ids (its answer lost) was a second set of records and
events, an assessment batch's second attempt a 409 `one_result_per_key` for the records its first made."""

from __future__ import annotations

import asyncio

import pytest

from styrkedja_devstack.testing import problem_fields

from .test_hostile_round24c import intervention, plan

pytestmark = [pytest.mark.integration, pytest.mark.postgres_only]

DOORS = [
    ("/v1/support-interventions/batch", "support_interventions", "intervention_id",
     lambda a: [intervention(student_id="s-1"), intervention(student_id="s-2")], {"description": "Annan text"}),
    ("/v1/plans/batch", "plans", "plan_id", lambda a: [plan(title="Bråk"), plan(title="Procent")],
     {"title": "Algebra"}),
    ("/v1/assessments/batch", "assessments", "assessment_id", lambda a: [a("s-1"), a("s-2")], {"value": "A"}),
]


@pytest.mark.parametrize(("path", "table", "id_field", "make", "other"), DOORS)
async def test_a_batch_sent_again_with_its_key_is_answered_its_first_answer(client, scalar, assessment, path,
                                                                            table, id_field, make, other):
    items, keyed = make(assessment), {"Idempotency-Key": "batch-retry-1"}
    first = await client.post(path, json={"items": items}, headers=keyed)
    assert first.status_code == 201 and first.json()["stored"] == 2, first.text
    assert "Idempotent-Replayed" not in first.headers
    counts = (await scalar(f"SELECT count(*) FROM {table}"), await scalar("SELECT count(*) FROM outbox"))
    again = await client.post(path, json={"items": items}, headers=keyed)
    assert (again.status_code, again.content) == (201, first.content), again.text
    assert again.headers["Idempotent-Replayed"] == "true"
    # another body under the key: refused naming the header and the rule, nothing stored
    reused = await client.post(path, json={"items": [items[0] | other, items[1]]}, headers=keyed)
    assert reused.status_code == 422 and problem_fields(reused) == [("Idempotency-Key", "idempotency_key_reused")], \
        reused.text
    fewer = await client.post(path, json={"items": items[:1]}, headers=keyed)
    assert fewer.status_code == 422, fewer.text
    assert (await scalar(f"SELECT count(*) FROM {table}"), await scalar("SELECT count(*) FROM outbox")) == counts
    # another key is another request (the ids it names are what the write path compares, as ever)
    named = [item | {id_field: made[id_field]} for item, made in zip(items, first.json()["items"], strict=True)]
    plain = await client.post(path, json={"items": named}, headers={"Idempotency-Key": "batch-retry-2"})
    assert (plain.status_code, plain.json()["unchanged"]) == (200, 2), plain.text


async def test_a_support_batch_whose_answer_was_never_kept_is_the_same_records_again(client, scalar, db):
    """The key's answer is kept once the write committed; lost between (the process ended), the batch sent again is
    written again: its new records' ids are the key's, so it is the same records, `unchanged`, not a second set."""
    items, keyed = [intervention(student_id="s-1"), intervention(student_id="s-2")], {"Idempotency-Key": "lost-1"}
    first = await client.post("/v1/support-interventions/batch", json={"items": items}, headers=keyed)
    assert first.status_code == 201, first.text
    async with db.begin() as conn:
        await conn.exec_driver_sql("UPDATE idempotency_keys SET status = NULL, answer = NULL")
    again = await client.post("/v1/support-interventions/batch", json={"items": items}, headers=keyed)
    assert (again.status_code, again.json()["unchanged"]) == (200, 2), again.text
    assert [i["intervention_id"] for i in again.json()["items"]] == [i["intervention_id"] for i in first.json()["items"]]
    assert (await scalar("SELECT count(*) FROM support_interventions"), await scalar("SELECT count(*) FROM outbox")) \
        == (2, 2)


async def test_a_batch_sent_again_while_its_first_attempt_is_written_is_a_409(client, scalar, monkeypatch):
    from styrkedja_kit.writes import WritePath

    inside, release = asyncio.Event(), asyncio.Event()
    lock = WritePath._lock

    async def held(self, session, ids):
        if not inside.is_set():
            inside.set()
            await release.wait()
        return await lock(self, session, ids)

    monkeypatch.setattr(WritePath, "_lock", held)
    body, keyed = {"items": [intervention()]}, {"Idempotency-Key": "in-flight-batch"}
    first = asyncio.create_task(client.post("/v1/support-interventions/batch", json=body, headers=keyed))
    await asyncio.wait_for(inside.wait(), 30)
    retry = await client.post("/v1/support-interventions/batch", json=body, headers=keyed)
    assert retry.status_code == 409, retry.text
    assert problem_fields(retry) == [("Idempotency-Key", "idempotency_key_in_progress")]
    release.set()
    done = await first
    assert done.status_code == 201, done.text
    again = await client.post("/v1/support-interventions/batch", json=body, headers=keyed)
    assert (again.status_code, again.content, again.headers["Idempotent-Replayed"]) == (201, done.content, "true")
    assert await scalar("SELECT count(*) FROM outbox") == 1


async def test_a_refused_batch_keeps_no_key_and_a_bad_key_is_refused(client, scalar):
    bad = await client.post("/v1/support-interventions/batch", json={"items": [intervention()]},
                            headers={"Idempotency-Key": "two words"})
    assert bad.status_code == 422 and problem_fields(bad) == [("Idempotency-Key", "idempotency_key_invalid")]
    refused = await client.post("/v1/support-interventions/batch", json={"items": [intervention(organiser_id="1480")]},
                                headers={"Idempotency-Key": "k-refused"})
    assert refused.status_code == 403, refused.text
    taken = await client.post("/v1/support-interventions/batch", json={"items": [intervention()]},
                              headers={"Idempotency-Key": "k-refused"})
    assert taken.status_code == 201, taken.text
    assert await scalar("SELECT count(*) FROM idempotency_keys") == 1

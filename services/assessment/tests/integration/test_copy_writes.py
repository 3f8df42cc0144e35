"""Revision and outbox rows go by COPY (`styrkedja_kit.sets.copy_rows`): a unique violation inside
COPY must still be the concurrent-change path (retried, then 409), never a 500, and racing
batches on the same records store successive revisions with one event each."""

from __future__ import annotations

import asyncio
import uuid

import pytest
from sqlalchemy import text

from styrkedja_devstack import testing
from styrkedja_devstack.testing import problem_fields
from styrkedja_kit.writes import WritePath

pytestmark = [pytest.mark.integration, pytest.mark.postgres_only]




def test_the_write_path_stores_revisions_and_outbox_rows_by_copy() -> None:
    assert WritePath.by_copy  # what the tests below exercise


@pytest.mark.parametrize("batch", [False, True])
async def test_a_unique_violation_inside_copy_answers_409_and_stores_nothing(client, db, batch, assessment,
                                                                            scalar):
    """A revision row that exists without its current row (what a racing request's commit leaves
    for this one): COPY of the same revision fails on the primary key, both tries; the answer is
    409 `concurrent_change`, and nothing of the request is stored."""
    taken = uuid.uuid4()
    async with db.begin() as conn:
        await conn.execute(text("INSERT INTO assessment_revisions (assessment_id, revision, event_id, retraction, "
                                "content) VALUES (:id, 1, :event, false, '{}')"),
                           {"id": taken, "event": uuid.uuid4()})
    item = assessment("s-copy", assessment_id=str(taken))
    if batch:
        response = await client.post("/v1/assessments/batch", json={"items": [assessment("s-other"), item]})
    else:
        response = await client.post("/v1/assessments", json=item)
    assert response.status_code == 409, response.text
    assert problem_fields(response) == [("assessment_id", "concurrent_change")]
    assert await scalar("SELECT count(*) FROM assessments") == 0
    assert await scalar("SELECT count(*) FROM assessment_revisions") == 1
    assert await testing.outbox_events(db, "styrkedja.assessments") == []


async def test_racing_batches_on_the_same_records_answer_201_or_409_never_500(client, db, assessment,
                                                                               scalar):
    ids = [str(uuid.uuid4()) for _ in range(30)]
    values = ["A", "B", "C", "D", "E"]
    batches = [[assessment(f"s-{n}", assessment_id=ids[n], value=value) for n in range(len(ids))]
               for value in values]
    responses = await asyncio.gather(*(client.post("/v1/assessments/batch", json={"items": items})
                                       for items in batches))
    statuses = [r.status_code for r in responses]
    assert set(statuses) <= {201, 409}, [r.text for r in responses]
    assert 201 in statuses
    stored = sum(s == 201 for s in statuses)
    # every record: one revision per stored batch, numbered 1..n, and one event per revision, in order
    assert await scalar("SELECT count(*) FROM assessment_revisions") == stored * len(ids)
    assert await scalar("SELECT count(DISTINCT revision) FROM assessment_revisions") == stored
    assert await scalar("SELECT max(revision) FROM assessments") == stored
    events = await testing.outbox_events(db, "styrkedja.assessments")
    assert len(events) == stored * len(ids)
    for record in ids[:3]:
        revisions = [e.data.revision for e in events if str(e.data.assessment_id) == record]
        assert revisions == list(range(1, stored + 1))

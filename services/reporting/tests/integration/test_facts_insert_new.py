"""`FactStore.insert_new` (issue 16, apply38): the facts `apply_facts` found none of stored go in as a plain
insert — a binary COPY straight into the table when many, one INSERT over arrays when few — the same rows `save`
writes, and a fact stored after all is refused (a unique violation: the batch fails whole), never upserted."""

from __future__ import annotations

import random
import uuid
from datetime import UTC, date, datetime

import asyncpg
import pytest
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from styrkedja_reporting.results.handlers import apply_facts
from styrkedja_reporting.results.rules import assessment_cells, assessment_signature
from styrkedja_reporting.results.tables import ASSESSMENTS, assessment_facts
from styrkedja_reporting.staging import SMALL_ROWS

pytestmark = [pytest.mark.integration, pytest.mark.postgres_only]


def _facts(rng: random.Random, n: int) -> list:
    rows = [{"assessment_id": uuid.UUID(int=rng.getrandbits(128)), "revision": rng.randint(1, 3),
             "retracted": rng.random() < 0.05, "organiser_id": rng.choice(("2999", "3001")),
             "school_unit_code": "12345678", "group_id": rng.choice(("7A", "7B")), "student_id": f"st-{k}",
             "gender": rng.choice(("female", "male")), "year": 7, "subject_code": "GRGRMAT01",
             "kind": rng.choice(("assessment", "term_grade")), "scale": "AF", "value": rng.choice("ABCDEF"),
             "school_year": "2026/27", "term": rng.choice(("HT", "VT")), "round": rng.choice((1, 2, 3)),
             "assessed_on": rng.choice((None, date(2027, 3, 1))),
             "received_at": rng.choice((None, datetime(2027, 3, 2, 8, 30, tzinfo=UTC)))} for k in range(n)]
    return [ASSESSMENTS.make(*(row[name] for name in ASSESSMENTS.fact_fields)) for row in rows]


@pytest.mark.parametrize("n", [SMALL_ROWS + 500, 40], ids=["copied", "over arrays"])
async def test_new_facts_are_inserted_as_they_are_and_a_stored_one_is_refused(db, n) -> None:
    rng = random.Random(n)
    facts = _facts(rng, n)
    async with db.sessions.begin() as session:
        await ASSESSMENTS.insert_new(session, facts)
    async with db.sessions() as session:
        stored = (await session.execute(select(*[assessment_facts.c[name] for name in ASSESSMENTS.fact_fields]))).all()
    assert sorted(map(tuple, stored), key=str) == sorted((ASSESSMENTS._row_of(f) for f in facts), key=str)

    # one of them again among new ones (another writer's, had the organisers' lock not held it off): refused whole
    again = [*_facts(random.Random(n + 1), n - 1), facts[n // 2]]
    with pytest.raises((IntegrityError, asyncpg.UniqueViolationError)):
        async with db.sessions.begin() as session:
            await ASSESSMENTS.insert_new(session, again)
    async with db.sessions() as session:
        assert len((await session.execute(select(assessment_facts.c.assessment_id))).all()) == n


async def test_a_batch_of_new_results_is_applied_by_insert_new_and_a_revision_by_save(db, monkeypatch) -> None:
    """`apply_facts`' usual batch (none of its facts stored) takes `insert_new`; a stored fact's new version `save`,
    also among new ones (those by `insert_new`)."""
    called: list[str] = []
    for name in ("insert_new", "save"):
        original = getattr(type(ASSESSMENTS), name)

        async def spy(self, session, facts, __name=name, __original=original):  # noqa: ANN001, ANN202
            called.append(__name)
            return await __original(self, session, facts)

        monkeypatch.setattr(type(ASSESSMENTS), name, spy)
    facts = _facts(random.Random(3), 30)
    async with db.sessions.begin() as session:
        await apply_facts(session, ASSESSMENTS, assessment_cells, [(ASSESSMENTS.key_of(f), f) for f in facts],
                          assessment_signature)
    revised = [ASSESSMENTS.make(*(getattr(facts[0], n) if n != "revision" else facts[0].revision + 5
                                  for n in ASSESSMENTS.fact_fields))]
    async with db.sessions.begin() as session:
        await apply_facts(session, ASSESSMENTS, assessment_cells, [(ASSESSMENTS.key_of(f), f) for f in revised],
                          assessment_signature)
    # a batch of new facts with a stored one among them: the stored one by `save`, the rest by `insert_new`
    more = _facts(random.Random(4), 1200)
    revised_again = ASSESSMENTS.make(*(getattr(revised[0], n) if n != "revision" else revised[0].revision + 1
                                       for n in ASSESSMENTS.fact_fields))
    async with db.sessions.begin() as session:
        await apply_facts(session, ASSESSMENTS, assessment_cells,
                          [(ASSESSMENTS.key_of(f), f) for f in [*more, revised_again]], assessment_signature)
    assert called == ["insert_new", "save", "save", "insert_new"]
    async with db.sessions() as session:
        assert len((await session.execute(select(assessment_facts.c.assessment_id))).all()) == 30 + 1200
    async with db.sessions() as session:
        assert (await session.execute(select(assessment_facts.c.revision).where(
            assessment_facts.c.assessment_id == facts[0].assessment_id,
            assessment_facts.c.organiser_id == facts[0].organiser_id))).scalar_one() == facts[0].revision + 6

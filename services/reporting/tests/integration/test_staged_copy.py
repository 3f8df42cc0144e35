"""The apply path's binary COPY (`staging.Staged`) failing inside the consumer's transaction:
its errors are asyncpg's own, not SQLAlchemy's. A batch whose COPY the server refuses is rolled back
(the temporary table made in it too), halved until the event is found, that event dead-lettered and
the rest applied: the aggregates and figures then equal a recomputation from the facts."""

from __future__ import annotations

from datetime import UTC, date, datetime
from uuid import UUID, uuid5

import asyncpg
import pytest
from aiokafka import ConsumerRecord, TopicPartition
from sqlalchemy import text

from styrkedja_contracts import dead_letter_topic, new_event
from styrkedja_contracts.events.assessment import AssessmentPublishedV1
from styrkedja_devstack.testing import RecordingProducer
from styrkedja_kit.consumer import ConsumerLoop
from styrkedja_kit.db import Database
from styrkedja_reporting.figures import tables as figures
from styrkedja_reporting.main import handler_registry
from styrkedja_reporting.persistence import metadata
from styrkedja_reporting.results import tables as results
from styrkedja_reporting.staging import Staged

pytestmark = [pytest.mark.integration, pytest.mark.postgres_only]

NS = UUID("5b1f0c1e-0000-4000-8000-0000000c0b1e")
T0 = datetime(2026, 10, 1, 8, 0, tzinfo=UTC)
POISON = "s-poison"


def published(n: int, student: str):
    return new_event(AssessmentPublishedV1(
        assessment_id=uuid5(NS, str(n)), revision=1, organiser_id="2999", school_unit_code="12345678",
        group_id="7A", student_id=student, teacher_id="t-1", gender="female", year=7, subject_code="GRGRMAT01",
        kind="assessment", scale="AF", value="CDE"[n % 3], unmet_criteria=(), school_year="2026/27", term="HT",
        round=1, assessed_on=date(2026, 9, 30), published_at=T0), source="/test")


def record(event, offset: int) -> ConsumerRecord:
    value = event.to_bytes()
    return ConsumerRecord("styrkedja.assessments", 0, offset, 0, 0, b"2999", value, None, 10, len(value), ())


async def test_a_copy_the_server_refuses_is_halved_dead_lettered_and_the_rest_applied(settings, monkeypatch):
    stage = Staged.stage
    refused: list[type] = []

    async def poisoned(self, session, rows):
        # the server refuses a NUL byte in text: an error of the COPY itself, raised by asyncpg
        rows = [tuple(v.replace(POISON, "s-\x00") if isinstance(v, str) else v for v in row) for row in rows]
        try:
            await stage(self, session, rows)
        except Exception as error:
            refused.append(type(error))
            raise

    monkeypatch.setattr(Staged, "stage", poisoned)
    database = Database(settings.database_url)
    try:
        loop = ConsumerLoop(settings, database, group_id="copy-test", topics=[], handler=handler_registry(),
                            applied_table=metadata.tables["consumer_applied_events"],
                            offsets_table=metadata.tables["consumer_offsets"], handles=handler_registry().handles)
        events = [published(n, POISON if n == 5 else f"s-{n}") for n in range(12)]
        producer = RecordingProducer()
        await loop.process({TopicPartition("styrkedja.assessments", 0): [record(e, n) for n, e in enumerate(events)]},
                           producer)

        assert refused and all(issubclass(t, asyncpg.PostgresError) for t in refused)  # not SQLAlchemy's
        assert [topic for topic, _, _ in producer.sent] == [dead_letter_topic("copy-test")]
        assert str(events[5].id).encode() in producer.sent[0][1]
        async with database.sessions() as session:
            facts = (await session.execute(text("SELECT count(*) FROM assessment_facts"))).scalar_one()
            group = (await session.execute(text(
                "SELECT sum(count) FROM assessment_aggregates WHERE level = 'group'"))).scalar_one()
            assert (facts, group) == (11, 11)
            assert set((await results.ASSESSMENTS.mismatches(session)).values()) == {0}
            found = await figures.mismatches(session)
            assert {n for levels in found.values() for n in levels.values()} == {0}
    finally:
        await database.dispose()

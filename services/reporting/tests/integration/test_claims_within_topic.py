"""An event id is unique within its organiser and topic only: the same id on two topics is two events (round 27).

A hostile or buggy producer gave an assessment event and a support event of one organiser the same CloudEvents `id`.
The consumer claimed an applied event by (id, organiser), so only the first one read counted, the other was a
`conflicting_duplicate`: the live consumer (which reads the topics side by side) applied the support event where the
bulk rebuild (another order) applied the assessment — live != rebuild. Now a claim is (id, organiser, topic), as
CloudEvents has it (`source` and `id` identify an event, and each topic carries its own event types): both are
applied, live in either order, in a replay from the start, and in the rebuild, with the same rows in every table. The
same id twice on one topic is still one event (packages/kit/tests/test_consumer_claim.py,
tests/test_claims_within_organiser.py)."""

from __future__ import annotations

import pytest
from sqlalchemy import text

from styrkedja_contracts import topic_for_event_type
from styrkedja_contracts.events.assessment import AssessmentPublishedV1
from styrkedja_contracts.events.support import SupportInterventionRecordedV1
from styrkedja_kit.db import Database
from styrkedja_reporting.rebuild.bulk import APPLIED, OFFSETS

from .test_batch_split import in_batches, loop_on
from .test_rebuild import database_rows, full_log, rebuilt

pytestmark = [pytest.mark.integration, pytest.mark.postgres_only]


def _twinned_log() -> tuple[list, list, object, object]:
    """The log with one support event given the id of an assessment event of the same organiser (both applied by the
    log's own rules), as (assessment first, support first, the assessment event, the support twin)."""
    log = full_log()
    at = next(n for n, e in enumerate(log) if e.type == AssessmentPublishedV1.event_type)
    assessment = log[at]
    support_at = next(n for n, e in enumerate(log) if e.type == SupportInterventionRecordedV1.event_type and
                      e.data.organiser_id == assessment.data.organiser_id)
    twin = log[support_at].model_copy(update={"id": assessment.id})
    rest = [e for n, e in enumerate(log) if n not in (at, support_at)]
    middle = len(rest) // 2
    # in batches of 25: apart (other batches) one way, side by side (one batch) the other
    return (rest[:6] + [assessment] + rest[6:middle] + [twin] + rest[middle:],
            rest[:middle] + [twin, assessment] + rest[middle:], assessment, twin)


@pytest.fixture
def urls(fresh_database) -> dict[str, str]:
    ways = ("assessment first", "support first", "rebuild assessment first", "rebuild support first")
    return {way: fresh_database("styrkedja_reporting") for way in ways}


async def test_the_same_id_on_two_topics_is_two_events_live_replayed_and_rebuilt(settings, urls):
    """Failed on the old code: one of the pair was not applied (the one read second), so the two live orders differed
    from each other and each from the rebuild of the other order; the claims held one row under the id."""
    assessment_first, support_first, assessment, twin = _twinned_log()
    # the log's events (some delivered twice), the twins two of them
    claims = len({(e.id, topic_for_event_type(e.type).name) for e in assessment_first})
    assert claims == len({e.id for e in assessment_first}) + 1
    dbs = {way: Database(url) for way, url in urls.items()}
    try:
        for way, log in (("assessment first", assessment_first), ("support first", support_first)):
            loop = loop_on(settings, dbs[way])
            await in_batches(loop, log, 25)
            live = await database_rows(dbs[way])
            assert sum(live[APPLIED].values()) == claims, way  # every event claimed: none kept out
            # a replay from offset 0: every event a duplicate, nothing applied twice
            await in_batches(loop, log, 25)
            assert await database_rows(dbs[way]) == live, way
        for way, log in (("rebuild assessment first", assessment_first), ("rebuild support first", support_first)):
            report = await rebuilt(settings, dbs[way], log)
            assert report.failed == [] and report.conflicts == [] and report.applied == claims, way

        reference = await database_rows(dbs["assessment first"])
        for way in ("support first", "rebuild assessment first", "rebuild support first"):
            found = await database_rows(dbs[way])
            for table, expected in reference.items():
                if table != OFFSETS:
                    assert found[table] == expected, (way, table, found[table] - expected, expected - found[table])
        for way, db in dbs.items():
            async with db.sessions() as session:
                topics = (await session.execute(text(
                    "SELECT topic FROM consumer_applied_events WHERE event_id = :e ORDER BY topic"),
                    {"e": assessment.id})).scalars().all()
                facts = [(await session.execute(text(f"SELECT count(*) FROM {table} WHERE {column} = :f"),
                                                {"f": fact})).scalar_one()
                         for table, column, fact in (
                             ("assessment_facts", "assessment_id", assessment.data.assessment_id),
                             ("support_facts", "intervention_id", twin.data.intervention_id))]
            assert topics == sorted([topic_for_event_type(assessment.type).name,
                                     topic_for_event_type(twin.type).name]), way
            assert facts == [1, 1], way
    finally:
        for db in dbs.values():
            await db.dispose()

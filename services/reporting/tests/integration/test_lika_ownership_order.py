"""Hostile inputs, round 25 (b): a LIKA event's school unit is judged by the directory as it stands when the
compilation is read, not as it stood when the event was applied — so the live consumer and the rebuild agree.

The live consumer refused a LIKA event (`school_unit_of_another_organiser`, dead-lettered) when the directory placed
its school unit under another organiser *at the moment the event was applied*, and held it when the directory did not
know the unit yet. The rebuild applies the whole directory before any LIKA event: an event applied live before its
unit's placement was refused there, and one refused live before the unit moved to its organiser (or was removed)
was applied there, shown in that organiser's compilation. Which of a LIKA record and a directory record a live
consumer applies first is not even fixed (two topics, fetched as they come). Failed on the old code as said at each.
"""

from __future__ import annotations

from collections import Counter
from datetime import timedelta
from uuid import uuid5

import pytest
from aiokafka import ConsumerRecord, TopicPartition
from sqlalchemy import text

from styrkedja_contracts import message_key, new_event, topic_for_event_type
from styrkedja_contracts.events.lika import LikaSelfAssessmentPublishedV1
from styrkedja_contracts.events.organisation import OrganisationEntityRemovedV1
from styrkedja_devstack.testing import RecordingProducer
from styrkedja_kit.db import Database
from styrkedja_reporting.lika.tables import read_lika, read_organiser

from .test_batch_split import CODES, NS, ORG, T0, _unit, loop_on
from .test_rebuild import rebuilt

pytestmark = [pytest.mark.integration, pytest.mark.postgres_only]

OTHER = "2999"


def _lika(name: str):
    return new_event(LikaSelfAssessmentPublishedV1(
        self_assessment_id=uuid5(NS, name), organiser_id=OTHER, school_unit_code=CODES[0], school_form="grundskola",
        respondent_role="rektor", catalogue_version="2026.1",
        ratings=({"indicator_id": "L1", "area": "ledning", "rating": "ACHIEVED"},), published_at=T0), source="/t")


def _placed():
    """The directory places CODES[0] under ORG."""
    return [_unit("organiser", ORG, None, None, T0), _unit("school_unit", f"su-{CODES[0]}", ORG, CODES[0], T0)]


def _removed():
    """ORG's school unit CODES[0] is removed from the directory: no organiser holds the code."""
    return [new_event(OrganisationEntityRemovedV1(entity="unit", entity_id=f"su-{CODES[0]}", organiser_id=ORG,
                                                  unit_type="school_unit", school_unit_code=CODES[0],
                                                  removed_at=T0 + timedelta(days=1)),
                      source="/t")]


async def _live(settings, db: Database, events: list) -> list[bytes]:
    """Each event as a record of its topic, one batch each, in log order, through the live loop; the dead letters'
    reasons."""
    loop, producer, offsets = loop_on(settings, db), RecordingProducer(), Counter()
    for event in events:
        topic, value = topic_for_event_type(event.type).name, event.to_bytes()
        record = ConsumerRecord(topic, 0, offsets[topic], -1, 0, message_key(event), value, None, 0, len(value), [])
        offsets[topic] += 1
        await loop.process({TopicPartition(topic, 0): [record]}, producer)
    return [headers["dlq.reason"] for _, _, headers in producer.sent]


async def _lika_state(db: Database) -> tuple[list, list, list]:
    """The LIKA rows, what the organiser's compilation reads of them and what the school units' read returns."""
    async with db.sessions() as session:
        stored = sorted(tuple(map(str, row)) for row in (await session.execute(text(
            "SELECT self_assessment_id, organiser_id, school_unit_code FROM lika_self_assessments"))).all())
        compiled, _, _ = await read_organiser(session, OTHER)
        units = await read_lika(session, OTHER, None)
    return stored, sorted(str(a.self_assessment_id) for a in compiled), sorted(str(r.self_assessment_id) for r in units)


@pytest.mark.parametrize("case", ["applied before the placement", "refused before the removal"])
async def test_a_lika_event_is_read_alike_live_and_rebuilt_whatever_the_directory_said_when_it_came(
        settings, fresh_database, case):
    """Failed on the old code: "applied before the placement" — live held the event (no dead letter, a row), the
    rebuild refused it (no row): the school units' read showed it to its organiser live only; "refused before the
    removal" — live dead-lettered it, the rebuild applied it: the organiser's compilation showed it after the rebuild
    only. Now both keep the event, and the reads decide by the directory as it stands: hidden while another
    organiser holds the unit, shown once none does."""
    lika = _lika(case)
    log = [lika, *_placed()] if case == "applied before the placement" else [*_placed(), lika, *_removed()]
    live_db, rebuilt_db = Database(fresh_database("styrkedja_reporting")), Database(fresh_database("styrkedja_reporting"))
    try:
        dead = await _live(settings, live_db, log)
        report = await rebuilt(settings, rebuilt_db, log)
        live, rebuilt_state = await _lika_state(live_db), await _lika_state(rebuilt_db)
        assert dead == [] and report.failed == []
        assert live == rebuilt_state
        stored, compiled, units = live
        assert stored == [(str(lika.data.self_assessment_id), OTHER, CODES[0])]
        shown = [] if case == "applied before the placement" else [str(lika.data.self_assessment_id)]
        assert compiled == shown and units == shown, live
    finally:
        await live_db.dispose()
        await rebuilt_db.dispose()

"""Round 24c: an event id is unique within its organiser only — in the consumer's claims too.

Reporting identifies every fact within its organiser (round 24b), but the kit consumer claimed an applied event by its
id alone: organiser B's event sent on its own partition under A's event id (ids are visible to every reader of the
topic) was a `conflicting_duplicate` of A's, or A's of B's — whichever partition was consumed first won, so B could
keep A's event from being applied, and the rebuild (which reads the partitions in its own order) could differ from the
live apply. Now a claim is (event id, organiser: the record's message key), live and rebuilt. Each test failed on the
old code (the second event of the pair dead-lettered, or left out of the rebuild, as said at it); a true re-delivery
is still a duplicate and another body under A's id and key still a `conflicting_duplicate`.
"""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from aiokafka import ConsumerRecord, TopicPartition
from sqlalchemy import select, text
from test_hostile_events import encoded, good

from styrkedja_devstack.pytest_plugin import migrated_database
from styrkedja_devstack.testing import RecordingProducer
from styrkedja_kit.consumer import ConsumerLoop
from styrkedja_kit.db import Database
from styrkedja_reporting.main import handler_registry
from styrkedja_reporting.persistence import metadata
from styrkedja_reporting.rebuild.bulk import Rebuilder
from styrkedja_reporting.settings import ReportingSettings

pytestmark = [pytest.mark.integration, pytest.mark.postgres_only]

UNIT = "se.styrkedja.organisation.unit_upserted.v1"
TOPIC = "styrkedja.organisation"
A, B = "2999", "0180"  # two organisers (an organisation's kommunkod each), on partitions 0 and 1


def _unit(organiser: str, event_id: str, label: str, name: str) -> dict[str, Any]:
    document = good(UNIT)
    document["id"] = event_id
    document["data"] = {**document["data"], "organiser_id": organiser, "unit_id": f"grp-{label}-{organiser}",
                        "parent_id": f"su-{label}-{organiser}", "school_unit_code": f"{organiser}0011", "name": name}
    return document


def _record(partition: int, offset: int, document: dict[str, Any]) -> ConsumerRecord:
    value, key = encoded(document), document["data"]["organiser_id"].encode()
    return ConsumerRecord(TOPIC, partition, offset, -1, 0, key, value, None, len(key), len(value), ())


def _pair(label: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """A's event, and B's under the same id (B's own unit)."""
    event_id = str(uuid.uuid4())
    return _unit(A, event_id, label, "A:s grupp"), _unit(B, event_id, label, "B:s grupp")


async def _names(database: Database, *documents: dict[str, Any]) -> dict[str, list[str]]:
    """Per organiser, the names of these events' units it holds."""
    units = metadata.tables["directory_units"]
    async with database.sessions() as session:
        rows = (await session.execute(select(units.c.organiser_id, units.c.name).where(
            units.c.unit_id.in_([d["data"]["unit_id"] for d in documents])))).all()
    out: dict[str, list[str]] = {}
    for organiser, name in sorted(rows):
        out.setdefault(organiser, []).append(name)
    return out


def _loop(database_url: str, group: str) -> tuple[ConsumerLoop, Database]:
    settings = ReportingSettings(database_url=database_url, kafka_bootstrap_servers="unused:9092",
                                 outbox_enabled=False, consumer_enabled=False)
    database = Database(database_url, pool_size=2)
    registry = handler_registry()
    return ConsumerLoop(settings, database, group_id=group, topics=[TOPIC], handler=registry,
                        applied_table=metadata.tables["consumer_applied_events"],
                        offsets_table=metadata.tables["consumer_offsets"], handles=registry.handles), database


@pytest.mark.parametrize("b_first", [False, True], ids=["a-first", "b-first"])
async def test_two_organisers_events_under_one_id_are_each_applied_live(infrastructure, b_first) -> None:
    """Failed on the old code: the partition consumed second had its event dead-lettered as `conflicting_duplicate`
    (A's own, where B's came first). In one batch or in two, in either order, each is applied to its organiser; a
    re-delivery of either is a duplicate, another body under A's id and key still a conflict (the first counts)."""
    loop, database = _loop(migrated_database(infrastructure, "styrkedja_reporting"), "claims24c-live")
    producer = RecordingProducer()
    first_a, first_b = _pair("apart")  # in two batches
    together_a, together_b = _pair("together")  # in one batch
    order = (1, 0) if b_first else (0, 1)
    try:
        records = {0: [_record(0, 0, first_a)], 1: [_record(1, 0, first_b)]}
        for partition in order:
            await loop.process({TopicPartition(TOPIC, partition): records[partition]}, producer)
        await loop.process({TopicPartition(TOPIC, p): [_record(p, 1, (together_a, together_b)[p])] for p in order},
                           producer)
        assert producer.sent == []
        assert loop.applied_count == 4
        assert await _names(database, first_a, first_b) == {A: ["A:s grupp"], B: ["B:s grupp"]}
        assert await _names(database, together_a, together_b) == {A: ["A:s grupp"], B: ["B:s grupp"]}

        changed = {**first_a, "data": {**first_a["data"], "name": "Ett annat namn"}}
        await loop.process({TopicPartition(TOPIC, 0): [_record(0, 2, first_a), _record(0, 3, changed)],
                            TopicPartition(TOPIC, 1): [_record(1, 2, first_b)]}, producer)
        assert [(h["dlq.partition"], h["dlq.offset"], h["dlq.reason"]) for _, _, h in producer.sent] == [
            (b"0", b"3", b"conflicting_duplicate")]
        assert loop.applied_count == 4  # the re-deliveries are duplicates
        assert await _names(database, first_a, first_b) == {A: ["A:s grupp"], B: ["B:s grupp"]}
        async with database.sessions() as session:
            claims = (await session.execute(text(
                "SELECT organiser_id FROM consumer_applied_events WHERE event_id = :e ORDER BY organiser_id"),
                {"e": uuid.UUID(first_a["id"])})).scalars().all()
        assert sorted(claims) == sorted([A, B])
    finally:
        await database.dispose()


async def test_a_claim_made_before_claims_were_per_organiser_counts_for_every_organiser(infrastructure) -> None:
    """A claim migrated from before (the kit's `LEGACY_ORGANISER`: whose it was is not known) keeps its event a
    duplicate whatever the key of its re-delivery — a re-read after the upgrade applies nothing twice — and another
    body under its id is a conflict, as before."""
    from styrkedja_contracts import decode_event
    from styrkedja_kit.consumer import LEGACY_ORGANISER, LEGACY_TOPIC, content_digest

    loop, database = _loop(migrated_database(infrastructure, "styrkedja_reporting"), "claims24c-legacy")
    producer = RecordingProducer()
    document, _ = _pair("legacy")
    value = encoded(document)
    try:
        async with database.sessions.begin() as session:
            await session.execute(text(
                "INSERT INTO consumer_applied_events (event_id, organiser_id, topic, group_id, digest) "
                "VALUES (:e, :o, :t, 'g', :d)"),  # a claim from before claims were per organiser: of unknown topic too
                {"e": uuid.UUID(document["id"]), "o": LEGACY_ORGANISER, "t": LEGACY_TOPIC,
                 "d": content_digest(value, decode_event(value))})
        changed = {**document, "data": {**document["data"], "name": "Ett annat namn"}}
        await loop.process({TopicPartition(TOPIC, 0): [_record(0, 0, document), _record(0, 1, changed)]}, producer)
        assert loop.applied_count == 0
        assert [(h["dlq.offset"], h["dlq.reason"]) for _, _, h in producer.sent] == [(b"1", b"conflicting_duplicate")]
        assert loop._legacy_claims is True
        fresh = _unit(A, str(uuid.uuid4()), "fresh", "Ny")
        await loop.process({TopicPartition(TOPIC, 0): [_record(0, 2, fresh)]}, producer)
        assert loop.applied_count == 1
    finally:
        await database.dispose()


async def _rebuilt(database_url: str, records: list[ConsumerRecord]) -> Any:
    database = Database(database_url)
    rebuilder = Rebuilder(database, group_id="claims24c-rebuild", handles=handler_registry(live_alerts=False).handles)
    try:
        await rebuilder.begin()
        await rebuilder.feed_records(records)
        await rebuilder.drain()
        offsets: dict[tuple[str, int], int] = {}
        for record in records:
            offsets[(record.topic, record.partition)] = max(offsets.get((record.topic, record.partition), 0),
                                                            record.offset + 1)
        report = await rebuilder.finish(offsets)
        await rebuilder.commit()
        return report
    finally:
        await rebuilder.close()
        await database.dispose()


@pytest.mark.parametrize("b_first", [False, True], ids=["a-first", "b-first"])
async def test_the_rebuild_claims_within_the_organiser_as_the_live_consumer_does(infrastructure, b_first) -> None:
    """Failed on the old code: the rebuild's claim was the first of an id in its read order, so the event read second
    was left out as a duplicate (and, other bytes, handed back as a conflict). Now both are applied to their own
    organiser in either order, claimed as (id, organiser); a re-delivery of A's is a duplicate and another body under
    A's id and key the one conflict."""
    url = migrated_database(infrastructure, "styrkedja_reporting")
    a, b = _pair("rebuilt")
    changed = {**a, "data": {**a["data"], "name": "Ett annat namn"}}
    ours = [_record(1, 0, b), _record(0, 0, a)] if b_first else [_record(0, 0, a), _record(1, 0, b)]
    report = await _rebuilt(url, [*ours, _record(0, 1, a), _record(0, 2, changed), _record(1, 1, b)])
    assert report.failed == []
    assert report.applied == 2 and report.duplicates == 3
    assert [(c.item.partition, c.item.offset, c.reason) for c in report.conflicts] == [
        (0, 2, "conflicting_duplicate")]
    database = Database(url)
    try:
        assert await _names(database, a, b) == {A: ["A:s grupp"], B: ["B:s grupp"]}
        async with database.sessions() as session:
            claims = (await session.execute(text(
                "SELECT organiser_id FROM consumer_applied_events WHERE event_id = :e"),
                {"e": uuid.UUID(a["id"])})).scalars().all()
        assert sorted(claims) == sorted([A, B])
    finally:
        await database.dispose()


def test_the_claim_is_the_organiser_in_its_one_spelling() -> None:
    """A key in another spelling of the same organiser (which `key_mismatch` lets through) is the same organiser's
    claim: its re-delivery stays a duplicate, not a second claim."""
    from styrkedja_kit.consumer import claim_organiser

    assert claim_organiser(b"2120001234") == claim_organiser(b"212000-1234") == "212000-1234"
    assert claim_organiser(b"2999") == "2999" and claim_organiser(None) == ""

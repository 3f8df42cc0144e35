"""Issue 16 (rebuildmem28): the rebuild's memory does not grow with the small events (directory, support, plans, LIKA,
calendar). They were held decoded from the read to their stage (a deadline week's hundreds of thousands of support
interventions, LIKA self-assessments of ~0.95 MB decoded each); now they are staged (as their records' bytes, or
pickled from 2 KB) and read back, made events again and applied a batch at a time — at most `chunk` events and about
`SMALL_BATCH_BYTES` of staged values — in log order, through the same handlers: the same tables as the live apply of
the same log."""

from __future__ import annotations

import gc
import multiprocessing
import random
from collections import Counter
from concurrent.futures import ProcessPoolExecutor
from datetime import timedelta
from uuid import uuid5

import pytest
from aiokafka import ConsumerRecord

from styrkedja_contracts import message_key, new_event, topic_for_event_type
from styrkedja_contracts.events.lika import LikaSelfAssessmentPublishedV1
from styrkedja_contracts.events.support import SupportInterventionRecordedV1
from styrkedja_kit.consumer import Delivered
from styrkedja_kit.db import Database
from styrkedja_reporting.lika import handlers as lika_handlers
from styrkedja_reporting.main import handler_registry
from styrkedja_reporting.rebuild import bulk
from styrkedja_reporting.rebuild.bulk import APPLIED, OFFSETS
from styrkedja_reporting.support import handlers as support_handlers
from support import decision

from .test_batch_split import CODES, NS, ORG, SUBJECTS, T0, in_batches, loop_on
from .test_rebuild import GROUP, database_rows, full_log, rebuilt_from_records

pytestmark = [pytest.mark.integration, pytest.mark.postgres_only]

#: `rebuilt_from_records`' chunk
CHUNK = 37


def _support(n: int):
    student = f"s-{n % 30}"
    return new_event(SupportInterventionRecordedV1(
        intervention_id=uuid5(NS, f"many-{n // 3}"), revision=n % 3 + 1, organiser_id=ORG,
        school_unit_code=CODES[n % 3], group_id=("7A", "7B")[n % 30 % 2], student_id=student,
        subject_code=SUBJECTS[n % 3], kind="extra_adjustment", status=("decided", "in_progress", "closed")[n % 3],
        start_date=T0.date(), recorded_at=T0 + timedelta(minutes=n),
        **decision("extra_adjustment", ("decided", "in_progress", "closed")[n % 3], T0.date())), source="/t")


def _lika(n: int):
    return new_event(LikaSelfAssessmentPublishedV1(
        self_assessment_id=uuid5(NS, f"many-lika-{n}"), organiser_id=ORG, school_unit_code=CODES[n % 3],
        school_form="grundskola", respondent_role="rektor", catalogue_version="2026.1",
        ratings=tuple({"indicator_id": f"L{i}", "area": "ledning", "rating": "ACHIEVED", "comment": "x" * 500}
                      for i in range(8)), published_at=T0 + timedelta(minutes=n)), source="/t")


def _log() -> list:
    """`test_rebuild`'s log with 400 more support events (revisions of one intervention in turn, out of order) and 12
    LIKA self-assessments among them, and re-deliveries."""
    log = full_log()
    extra = [_support(n) for n in range(400)] + [_lika(n) for n in range(12)]
    random.Random(28).shuffle(extra)
    log = log[:40] + extra + log[40:]
    return log + random.Random(29).sample(log[6:], 40)


def _decoded_held(types: tuple[str, ...]) -> int:
    """How many decoded events of `types` this process holds now (every `Delivered` the collector sees)."""
    gc.collect()
    return sum(1 for o in gc.get_objects() if type(o) is Delivered and o.event.type in types)


@pytest.fixture
def database_urls(fresh_database) -> dict[str, str]:
    return {way: fresh_database("styrkedja_reporting") for way in ("incremental", "rebuild")}


async def _with_decoders(db: Database, events: list, decoders: int) -> bulk.RebuildReport:
    """`rebuilt_from_records` with decoder processes, as the command has them (`begin_decoders`)."""
    offsets: Counter = Counter()
    records = []
    for event in events:
        topic, value = topic_for_event_type(event.type).name, event.to_bytes()
        records.append(ConsumerRecord(topic, 0, offsets[topic], 0, 0, message_key(event), value, None, 0, len(value),
                                      []))
        offsets[topic] += 1
    pool = ProcessPoolExecutor(decoders, mp_context=multiprocessing.get_context("fork"))
    rebuilder = bulk.Rebuilder(db, group_id=GROUP, handles=handler_registry(live_alerts=False).handles, chunk=CHUNK)
    try:
        await rebuilder.begin()
        rebuilder.begin_decoders(pool, 256_000)
        for start in range(0, len(records), 50):
            await rebuilder.feed_records(records[start:start + 50])
        await rebuilder.drain()
        report = await rebuilder.finish({(t, 0): n for t, n in offsets.items()})
        await rebuilder.commit()
        return report
    finally:
        await rebuilder.close()
        pool.shutdown()


async def _equal_to_live(settings, database_urls: dict[str, str], log: list, watch,
                         decoders: int = 0) -> bulk.RebuildReport:
    """The log applied live, then `watch()` (a handler replaced for the rebuild only), then rebuilt: the same tables."""
    dbs = {way: Database(url) for way, url in database_urls.items()}
    try:
        await in_batches(loop_on(settings, dbs["incremental"]), log, 25)
        watch()
        report = await (_with_decoders(dbs["rebuild"], log, decoders) if decoders else
                        rebuilt_from_records(dbs["rebuild"], log, as_text=True))
        assert report.failed == [] and report.applied == len({event.id for event in log})
        reference, found = await database_rows(dbs["incremental"]), await database_rows(dbs["rebuild"])
        assert reference["support_facts"] and reference["lika_self_assessments"]
        for table, expected in reference.items():
            if table == APPLIED:  # the records' digests here: compared by id
                assert {row[0] for row in found[table]} == {row[0] for row in expected}
            elif table != OFFSETS:
                assert found[table] == expected, (table, found[table] - expected, expected - found[table])
        return report
    finally:
        for db in dbs.values():
            await db.dispose()


async def test_many_support_events_are_held_decoded_a_chunk_at_a_time_and_make_the_live_tables(settings,
                                                                                                database_urls,
                                                                                                monkeypatch):
    # failed before: every support event of the log was held decoded from the read until the support stage (458 of
    # them here, each batch applied with all of them alive), whatever the chunk
    log = _log()
    support_events = sum(1 for e in log if e.type in support_handlers.EVENT_TYPES)
    assert support_events > 10 * CHUNK
    apply_support = support_handlers.apply_support
    held: list[int] = []
    batches: list[int] = []

    async def counting(session, batch):
        held.append(_decoded_held(support_handlers.EVENT_TYPES))
        batches.append(len(batch))
        await apply_support(session, batch)

    report = await _equal_to_live(settings, database_urls, log,
                                  lambda: monkeypatch.setattr(support_handlers, "apply_support", counting))
    # every claimed support event applied once, in batches of at most the chunk
    assert sum(batches) == report.counts["support"] and len(batches) >= 10
    assert max(held) <= CHUNK and max(batches) <= CHUNK, (held, batches)
    assert report.counts["small_held"] == CHUNK


async def test_big_small_events_are_read_back_a_few_bytes_at_a_time(settings, database_urls, monkeypatch):
    # the batch's bytes bound it before its count does: one LIKA self-assessment (~5 KB) past 4 KB ends a batch
    # (failed before: there was no bound of bytes, and the twelve went as one batch)
    monkeypatch.setattr(bulk, "SMALL_BATCH_BYTES", 4_096, raising=False)
    apply_lika = lika_handlers.apply_lika
    batches: list[list[str]] = []

    async def recording(session, batch):
        batches.append([item.event.type for item in batch])
        await apply_lika(session, batch)

    log = _log()
    await _equal_to_live(settings, database_urls, log,
                         lambda: monkeypatch.setattr(lika_handlers, "apply_lika", recording))
    unique = {event.id for event in log if event.type in lika_handlers.EVENT_TYPES}
    assert len(unique) == 12 and sum(len(b) for b in batches) == 12 and all(len(b) == 1 for b in batches), batches


async def test_with_decoder_processes_the_big_ones_staged_pickled_and_the_others_as_bytes_keep_the_log_order(
        settings, database_urls, monkeypatch):
    # the bigger half of the support events staged pickled by the decoder processes, the others as their records'
    # bytes (decoded again at their stage): each batch handed on in log order (one partition: its offsets
    # ascending), every claimed event once, the tables as live
    log = _log()
    sizes = sorted(len(e.to_bytes()) for e in log if e.type in support_handlers.EVENT_TYPES)
    assert sizes[0] < sizes[len(sizes) // 2]
    monkeypatch.setattr(bulk, "PICKLE_FROM_BYTES", sizes[len(sizes) // 2], raising=False)
    apply_support = support_handlers.apply_support
    batches: list[list[int]] = []

    async def recording(session, batch):
        batches.append([item.offset for item in batch])
        await apply_support(session, batch)

    report = await _equal_to_live(settings, database_urls, log,
                                  lambda: monkeypatch.setattr(support_handlers, "apply_support", recording), decoders=2)
    offsets = [offset for batch in batches for offset in batch]
    assert offsets == sorted(set(offsets)) and len(offsets) == report.counts["support"], batches

"""Transactional outbox (utkorg): the domain row and its event are written in one transaction;
a relay publishes the events to Kafka in order.

Ordering: rows are published in `id` order and aiokafka keeps one batch in flight per
partition, so events of one key (organiser) reach their partition in the order written.

Pipelining: while the broker acknowledges one read of rows, the relay reads the next (ids above
it) and queues it behind, then marks the first read published in one statement; so the database
round trips overlap the broker's. Should a send fail (or a loss be found), what was queued behind
it is left unmarked and sent again after the failed rows: a repeat, which consumers skip by event
id (and an older revision arriving after a newer one is ignored by revision number).

Broker state loss: the embedded broker keeps topics in memory only. Offsets in a partition
only ever grow while its log lives, so an acknowledged offset that is not above the highest
one seen before proves the log was lost (only without an idempotent producer: with one, a
batch retried across a broker restart is answered with the offset it was first written at); and
while idle, the relay checks that the broker
still holds the marker offsets it commits to a consumer group of its own. Either way it then
republishes every retained row of that topic; consumers deduplicate by event id.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import Counter
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from sqlalchemy import (
    BigInteger,
    Column,
    DateTime,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    Uuid,
    any_,
    func,
    literal,
    select,
    text,
    update,
)
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncSession

from styrkedja_contracts import TOPICS, CloudEvent, topic_for_event_type

from . import metrics
from .db import Database
from .kafka import broker_capabilities, ensure_topics, make_consumer, make_producer
from .sets import insert_rows
from .settings import ServiceSettings
from .supervise import run_until_stopped

log = logging.getLogger(__name__)

NOTIFY_CHANNEL = "styrkedja_outbox"
RELAY_LOCK_KEY = 0x5354594B  # advisory lock: one active relay per service database


def marker_group(service_name: str) -> str:
    """The consumer group in which a service's relay keeps its marker offsets (it reads nothing)."""
    return f"styrkedja.outbox-marks.{service_name}"


def define_outbox_tables(metadata: MetaData) -> tuple[Table, Table]:
    outbox = Table(
        "outbox", metadata,
        Column("id", BigInteger, primary_key=True, autoincrement=True),
        Column("event_id", Uuid, nullable=False, unique=True),
        Column("topic", String(200), nullable=False),
        Column("key", LargeBinary, nullable=False),
        Column("payload", LargeBinary, nullable=False),
        Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
        Column("published_at", DateTime(timezone=True)),
        Index("ix_outbox_unpublished", "id", postgresql_where=text("published_at IS NULL")),
        Index("ix_outbox_created_at", "created_at"),
    )
    marks = Table(
        "outbox_partition_marks", metadata,
        Column("topic", String(200), primary_key=True),
        Column("partition", Integer, primary_key=True),
        Column("highest_offset", BigInteger, nullable=False),
    )
    return outbox, marks


class Outbox:
    """Writes events into the outbox inside the caller's transaction."""

    def __init__(self, table: Table) -> None:
        self.table = table

    async def add(self, session: AsyncSession, events: Iterable[CloudEvent]) -> int:
        rows = [{"event_id": e.id, "topic": topic_for_event_type(e.type).name, "key": e.partition_key(),
                 "payload": e.to_bytes()} for e in events]
        if not rows:
            return 0
        await insert_rows(session, self.table, rows)
        # Delivered at commit only, so the relay never wakes for a rolled-back row.
        await session.execute(text("SELECT pg_notify(:channel, '')"), {"channel": NOTIFY_CHANNEL})
        return len(rows)

    async def mark_for_replay(self, session: AsyncSession, since: datetime, topic: str | None = None) -> int:
        """Republish everything written since `since` (the relay picks it up in id order)."""
        stmt = update(self.table).where(self.table.c.created_at >= since).values(published_at=None)
        if topic:
            stmt = stmt.where(self.table.c.topic == topic)
        result = await session.execute(stmt)
        await session.execute(text("SELECT pg_notify(:channel, '')"), {"channel": NOTIFY_CHANNEL})
        return int(result.rowcount)  # type: ignore[attr-defined]  # an UPDATE's CursorResult


class OutboxRelay:
    def __init__(self, settings: ServiceSettings, database: Database, outbox: Table, marks: Table) -> None:
        self.settings = settings
        self.db = database
        self.outbox = outbox
        self.marks = marks
        self._wake = asyncio.Event()
        self._stopping = asyncio.Event()
        self._highest: dict[TopicPartition, int] = {}  # highest offset acknowledged per partition
        self._marked: set[TopicPartition] = set()  # partitions whose marker offset the broker holds
        self._producer = None
        self._offsets_prove_loss = True
        self.published = 0
        # per topic: its partitions when last seen, and the partition of each key (organisers are few)
        self._partition_of: dict[str, tuple[list[int], dict[bytes, int]]] = {}

    def stop(self) -> None:
        self._stopping.set()
        self._wake.set()

    async def run(self) -> None:
        """Publish until stopped; only the holder of the advisory lock publishes."""
        await run_until_stopped("outbox relay", self._run_as_leader, self._stopping,
                                metrics.OUTBOX_PUBLISH_ERRORS.labels(self.settings.service_name).inc)

    async def _sleep(self, seconds: float) -> None:
        with contextlib.suppress(asyncio.TimeoutError):
            await asyncio.wait_for(self._stopping.wait(), seconds)

    async def _run_as_leader(self) -> None:
        conn = await asyncpg.connect(self.db.asyncpg_dsn)
        try:
            while not await conn.fetchval("SELECT pg_try_advisory_lock($1)", RELAY_LOCK_KEY):
                await self._sleep(self.settings.outbox_poll_interval_seconds * 2)
                if self._stopping.is_set():
                    return
            await conn.add_listener(NOTIFY_CHANNEL, lambda *_: self._wake.set())
            await ensure_topics(self.settings, [(t.name, t.partitions) for t in TOPICS.values()])
            await self._load_marks()
            # A relay that ran a check interval committed a marker for every partition it had
            # published to; missing markers for those after a restart mean the broker lost them
            # (at worst one needless republish if the last run died before its first check).
            self._marked = set(self._highest)
            capabilities = await broker_capabilities(self.settings, refresh=True)
            producer = make_producer(self.settings, f"{self.settings.client_id}-outbox",
                                     idempotent=capabilities.idempotent_producer,
                                     # record batches of up to 512 KiB (well under the brokers'
                                     # 1 MiB message limit): a few requests per thousand rows
                                     max_batch_size=512 * 1024)
            # an idempotent producer's retried batch is acknowledged at its first offset: there an
            # offset that does not grow proves nothing, and the marker check alone tells a loss
            self._offsets_prove_loss = not capabilities.idempotent_producer
            watcher = make_consumer(self.settings, f"{self.settings.client_id}-outbox-watch",
                                    group_id=marker_group(self.settings.service_name), enable_auto_commit=False)
            await producer.start()
            await watcher.start()
            self._producer = producer
            try:
                await self._publish_loop(producer, watcher, conn)
            finally:
                self._producer = None
                await producer.stop()
                await watcher.stop()
        finally:
            await conn.close()

    async def _publish_loop(self, producer: AIOKafkaProducer, watcher: AIOKafkaConsumer,
                            lock_connection: asyncpg.Connection) -> None:
        last_check = time.monotonic()
        last_prune = 0.0
        in_flight: tuple[Sequence[Any], asyncio.Future[list[tuple[Any, int]]]] | None = None
        try:
            while not self._stopping.is_set():
                if lock_connection.is_closed():  # the advisory lock went with it: another relay may lead now
                    raise ConnectionError("lost the connection holding the relay's advisory lock")
                self._wake.clear()
                # the next rows (besides those in flight) are read and queued while the broker acknowledges
                rows = await self._fetch(besides=(in_flight[0][0].id, in_flight[0][-1].id) if in_flight else None)
                queued = (rows, asyncio.ensure_future(self._results(await self._enqueue(producer, rows)))) \
                    if rows else None
                if in_flight is not None:
                    _, clean = await self._settle(in_flight[0], await in_flight[1])
                    if not clean and queued is not None:  # what went after a failure goes again, after it
                        await queued[1]
                        queued = None
                in_flight = queued
                if in_flight is None and not rows:  # idle: nothing in flight, nothing new
                    await self._update_backlog_metrics()
                    with contextlib.suppress(asyncio.TimeoutError):
                        await asyncio.wait_for(self._wake.wait(), self.settings.outbox_poll_interval_seconds)
                now = time.monotonic()
                if now - last_check >= self.settings.outbox_loss_check_interval_seconds:
                    await self._check_broker_kept_the_logs(watcher)
                    last_check = now
                if now - last_prune >= 3600:
                    await self._prune()
                    last_prune = now
        finally:
            if in_flight is not None:  # stopping: settle what the broker was given, so it is not sent twice
                rows_in_flight, results = in_flight

                async def settle_last() -> None:
                    await self._settle(rows_in_flight, await results)

                with contextlib.suppress(Exception):
                    await asyncio.wait_for(settle_last(), 10)

    async def _fetch(self, besides: tuple[int, int] | None = None) -> Sequence[Any]:
        """The next unpublished rows in id order; `besides`: the first and last id of the rows in
        flight, skipped (a row committed late with a lower id is still read, after the rest)."""
        o = self.outbox
        query = select(o.c.id, o.c.topic, o.c.key, o.c.payload).where(o.c.published_at.is_(None))
        if besides is not None:
            query = query.where(~o.c.id.between(*besides))
        async with self.db.sessions() as session:
            return (await session.execute(query.order_by(o.c.id).limit(self.settings.outbox_batch_size))).all()

    async def publish_once(self, producer: AIOKafkaProducer) -> int:
        """Read, publish and mark one batch of rows, waiting for every acknowledgement."""
        rows = await self._fetch()
        if not rows:
            return 0
        done, _ = await self._settle(rows, await self._send_batches(producer, rows))
        return done

    async def _settle(self, rows: Sequence[Any], sent: list[tuple[Any, int]]) -> tuple[int, bool]:
        """Mark the rows the broker acknowledged (those before the first failure) as published, in
        one statement. Returns how many, and whether all went well (no failure, no loss found)."""
        o = self.outbox
        done_ids, lost_topics = [], set()
        for row, (result, position) in zip(rows, sent, strict=True):
            if isinstance(result, BaseException):
                # Only the rows before the first failure count as published: the rest go again,
                # after it, so no key's events overtake each other (consumers skip the repeats).
                metrics.OUTBOX_PUBLISH_ERRORS.labels(self.settings.service_name).inc()
                log.warning("publish failed; will retry", extra={"outbox_id": row.id, "error": repr(result)})
                break
            done_ids.append(row.id)
            tp = result.topic_partition
            if result.offset < 0:  # a retried batch the broker had already (duplicate sequence): no offset, no evidence
                continue
            offset = result.offset + position
            if self._offsets_prove_loss and offset <= self._highest.get(tp, -1):
                lost_topics.add(tp.topic)
            self._highest[tp] = max(offset, self._highest.get(tp, -1))
        for topic, count in Counter(row.topic for row in rows[:len(done_ids)]).items():
            metrics.OUTBOX_PUBLISHED.labels(self.settings.service_name, topic).inc(count)
        async with self.db.sessions.begin() as session:
            # one array parameter: one prepared statement whatever the batch
            await session.execute(update(o).where(o.c.id == any_(literal(done_ids, ARRAY(BigInteger))))
                                  .values(published_at=func.now()))
            await self._save_marks(session)
        self.published += len(done_ids)
        for topic in lost_topics:
            await self._republish_topic(topic, {"acknowledged offset not above one seen before": True})
        if len(done_ids) < len(rows):
            await self._sleep(1.0)  # back off before retrying the failed rows
        return len(done_ids), len(done_ids) == len(rows) and not lost_topics

    async def _send_batches(self, producer: AIOKafkaProducer, rows: Sequence[Any]) -> list[tuple[Any, int]]:
        """Send the rows and wait for the broker: per row its batch's result and its position."""
        return await self._results(await self._enqueue(producer, rows))

    @staticmethod
    async def _results(placed: list[tuple[Any, int, Any]]) -> list[tuple[Any, int]]:
        """Per row: its batch's result (metadata with the base offset, or the exception), its position."""
        futures = list({id(future): future for _, _, future in placed}.values())
        results = await asyncio.gather(*futures, return_exceptions=True)
        outcome = {id(f): r for f, r in zip(futures, results, strict=True)}
        return [(outcome[id(future)], position) for _, position, future in placed]

    async def _enqueue(self, producer: AIOKafkaProducer, rows: Sequence[Any]) -> list[tuple[Any, int, Any]]:
        """Queue the rows as record batches built here, one open batch per partition, in row
        order: per row its batch, its position in that batch and the batch's future. Batches of
        one partition are queued in order and aiokafka keeps one in flight per partition, so the
        order per key holds as with single sends (and a later call's batches queue behind)."""
        partitions: dict[str, list[int]] = {}
        open_batches: dict[tuple[str, int], Any] = {}
        placed: list[tuple[Any, int]] = []  # per row: (its batch builder, position)
        futures: dict[int, Any] = {}  # id(builder) → its future once sent

        async def flush(topic: str, partition: int) -> None:
            batch = open_batches.pop((topic, partition))
            futures[id(batch)] = await producer.send_batch(batch, topic, partition=partition)

        for row in rows:
            if row.topic not in partitions:
                partitions[row.topic] = sorted(await producer.partitions_for(row.topic))
                if self._partition_of.get(row.topic, (None,))[0] != partitions[row.topic]:
                    self._partition_of[row.topic] = (partitions[row.topic], {})  # a recreated topic
            known = self._partition_of[row.topic][1]
            partition = known.get(row.key)
            if partition is None:  # the producer's own partitioner (murmur2, as Kafka's clients), once per key
                partition = known[row.key] = producer._partitioner(row.key, partitions[row.topic],
                                                                   partitions[row.topic])
            key = (row.topic, partition)
            batch = open_batches.get(key)
            if batch is None:
                batch = open_batches[key] = producer.create_batch()
            position = batch.record_count()
            if batch.append(key=row.key, value=row.payload, timestamp=None) is None:  # full: send it
                await flush(*key)
                batch = open_batches[key] = producer.create_batch()
                position = 0
                if batch.append(key=row.key, value=row.payload, timestamp=None) is None:
                    raise ValueError(f"outbox row {row.id} is larger than a record batch")
            placed.append((batch, position))
        for key in list(open_batches):
            await flush(*key)
        return [(batch, position, futures[id(batch)]) for batch, position in placed]

    async def _check_broker_kept_the_logs(self, watcher: AIOKafkaConsumer) -> None:
        """Did the broker lose its state since the last check? The relay commits a marker offset
        per partition to a consumer group of its own; a broker that restarted empty has no
        committed offsets. (Not the end offsets: the embedded broker reports the start of the
        last record batch as the end of the log, which would look like a loss.)"""
        if not self._highest:
            return
        partitions = list(self._highest)
        if set(watcher.assignment()) != set(partitions):
            watcher.assign(partitions)
            watcher.pause(*partitions)  # the watcher never reads records, it only keeps markers
        try:
            lost = [tp for tp in partitions if tp in self._marked and await watcher.committed(tp) is None]
            for topic in {tp.topic for tp in lost}:
                await self._republish_topic(topic, {"partitions without the relay's marker":
                                                    [tp.partition for tp in lost if tp.topic == topic]})
            if self._highest:
                await watcher.commit({tp: offset + 1 for tp, offset in self._highest.items()})
                self._marked = set(self._highest)
        except Exception as exc:  # broker away: the next check (or publish) will tell
            log.info("broker state check failed", extra={"error": repr(exc)})

    async def _republish_topic(self, topic: str, evidence: dict[str, Any] | None = None) -> None:
        metrics.OUTBOX_BROKER_LOSS.labels(self.settings.service_name, topic).inc()
        log.warning("broker lost the log of a topic; republishing every retained outbox row",
                    extra={"topic": topic, "evidence": evidence})
        await ensure_topics(self.settings, [(t.name, t.partitions) for t in TOPICS.values()],
                            recreate_misshapen=self.settings.kafka_repair_auto_created_topics)
        if self._producer is not None:  # send by the recreated topic's partitions from now on
            await self._producer.client.force_metadata_update()
        for tp in [tp for tp in self._highest if tp.topic == topic]:
            del self._highest[tp]
        self._marked = {tp for tp in self._marked if tp.topic != topic}
        async with self.db.sessions.begin() as session:
            await session.execute(self.marks.delete().where(self.marks.c.topic == topic))
            await Outbox(self.outbox).mark_for_replay(session, datetime.min.replace(tzinfo=UTC), topic)

    async def _load_marks(self) -> None:
        async with self.db.sessions() as session:
            rows = (await session.execute(select(self.marks))).all()
        self._highest = {TopicPartition(r.topic, r.partition): r.highest_offset for r in rows}

    async def _save_marks(self, session: AsyncSession) -> None:
        if not self._highest:
            return
        stmt = pg_insert(self.marks)
        await session.execute(
            stmt.on_conflict_do_update(index_elements=["topic", "partition"],
                                       set_={"highest_offset": stmt.excluded.highest_offset}),
            [{"topic": tp.topic, "partition": tp.partition, "highest_offset": off}
             for tp, off in self._highest.items()])

    async def _update_backlog_metrics(self) -> None:
        o = self.outbox
        async with self.db.sessions() as session:
            count, oldest = (await session.execute(
                select(func.count(), func.min(o.c.created_at)).where(o.c.published_at.is_(None)))).one()
        metrics.OUTBOX_BACKLOG.labels(self.settings.service_name).set(count)
        age = (datetime.now(UTC) - oldest).total_seconds() if oldest else 0.0
        metrics.OUTBOX_OLDEST_AGE.labels(self.settings.service_name).set(age)

    async def _prune(self) -> None:
        cutoff = datetime.now(UTC) - timedelta(days=self.settings.outbox_retention_days)
        async with self.db.sessions.begin() as session:
            await session.execute(self.outbox.delete().where(self.outbox.c.published_at < cutoff))

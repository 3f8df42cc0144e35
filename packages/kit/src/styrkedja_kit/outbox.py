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

None of that runs against a durable broker (Apache Kafka: `kafka.broker_may_lose_logs`): its logs
outlive a restart, and right after one its group coordinator can answer "no committed offset" for
markers it holds, which would be taken for a loss and cost a needless republish of every topic.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import time
from collections import Counter, defaultdict
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
from aiokafka import AIOKafkaProducer, TopicPartition
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
    func,
    select,
    text,
    update,
)
from sqlalchemy.ext.asyncio import AsyncSession

from styrkedja_contracts import TOPICS, CloudEvent, topic_for_event_type

from . import metrics
from .db import Database
from .kafka import (
    CONTRACTS_FORM_HEADER,
    broker_capabilities,
    broker_may_lose_logs,
    ensure_topics,
    make_admin,
    make_consumer,
    make_producer,
)
from .leader import AdvisoryLock
from .sets import insert_rows, insert_statement
from .settings import ServiceSettings
from .supervise import end_if_cancel_asked, run_until_stopped, within

log = logging.getLogger(__name__)

NOTIFY_CHANNEL = "styrkedja_outbox"
#: the headers of every record the relay publishes (`kafka.CONTRACTS_FORM_HEADER`: its value is the contracts' form);
#: a list, as aiokafka's C batch builder takes no other sequence (it only reads it)
_FORM_HEADERS = [CONTRACTS_FORM_HEADER]
RELAY_LOCK_KEY = 0x5354594B  # advisory lock: one active relay per service database


def marker_group(service_name: str) -> str:
    """The consumer group in which a service's relay keeps its marker offsets (it reads nothing)."""
    return f"styrkedja.outbox-marks.{service_name}"


def define_outbox_tables(metadata: MetaData, *, lean: bool = False) -> tuple[Table, Table]:
    """The outbox and the relay's marks. `lean` (the bulk writers' outbox, issue 16): two indexes a row
    pays for instead of four. No unique index on `event_id`: every id is made by the writing service (a
    random version-4 UUID, `writes.random_uuids` or the envelope's), never looked up in the outbox, and its
    random keys cost each row a random page of a B-tree (WAL included); consumers deduplicate by event id
    anyway. `created_at` by a BRIN index (rows are written in time order): a row on a page beyond the
    summarised ranges costs it nothing, and a replay by time (`mark_for_replay`) still skips old ranges.
    What every row needs stays: the primary key (`id`: the relay's order) and the relay's partial index."""
    created_at_index = (Index("ix_outbox_created_at_brin", "created_at", postgresql_using="brin") if lean
                        else Index("ix_outbox_created_at", "created_at"))
    outbox = Table(
        "outbox", metadata,
        Column("id", BigInteger, primary_key=True, autoincrement=True),
        Column("event_id", Uuid, nullable=False, unique=not lean),
        Column("topic", String(200), nullable=False),
        Column("key", LargeBinary, nullable=False),
        Column("payload", LargeBinary, nullable=False),
        Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
        Column("published_at", DateTime(timezone=True)),
        Index("ix_outbox_unpublished", "id", postgresql_where=text("published_at IS NULL")),
        created_at_index,
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
        rows = self._rows(events)
        if not rows:
            return 0
        await insert_rows(session, self.table, rows)
        # Delivered at commit only, so the relay never wakes for a rolled-back row.
        await session.execute(text("SELECT pg_notify(:channel, '')"), {"channel": NOTIFY_CHANNEL})
        return len(rows)

    def insert_of(self, events: Iterable[CloudEvent]) -> tuple[str, dict[str, list[Any]]] | None:
        """`add`'s insert as SQL and parameters (None: no events), for a caller that sends it inside a
        statement of its own (a data-modifying CTE: one round trip with other writes). The caller then
        also sends `pg_notify(NOTIFY_CHANNEL, '')` in that transaction, as `add` does."""
        rows = self._rows(events)
        if not rows:
            return None
        statement, params = insert_statement(self.table, rows)
        return statement.text, params

    @staticmethod
    def _rows(events: Iterable[CloudEvent]) -> list[dict[str, Any]]:
        return [{"event_id": e.id, "topic": topic_for_event_type(e.type).name, "key": e.partition_key(),
                 "payload": e.to_bytes()} for e in events]

    async def mark_for_replay(self, session: AsyncSession, since: datetime, topic: str | None = None) -> int:
        """Republish everything written since `since` (the relay picks it up in id order)."""
        stmt = update(self.table).where(self.table.c.created_at >= since).values(published_at=None)
        if topic:
            stmt = stmt.where(self.table.c.topic == topic)
        result = await session.execute(stmt)
        await session.execute(text("SELECT pg_notify(:channel, '')"), {"channel": NOTIFY_CHANNEL})
        return int(result.rowcount)  # type: ignore[attr-defined]  # an UPDATE's CursorResult


def partitions_without_marker(partitions: Iterable[TopicPartition], marked: Collection[TopicPartition],
                              answer: Mapping[TopicPartition, int]) -> list[TopicPartition]:
    """The partitions whose marker the broker has lost: marked before, and answered with "no committed
    offset" (-1). A partition the answer leaves out is unknown, not lost: OffsetFetch v2+ carries a
    group-level error (coordinator loading or moved, while a broker restarts) at the top of the
    response with no partitions at all, and aiokafka reads that as "nothing committed"."""
    return [tp for tp in partitions if tp in marked and tp in answer and answer[tp] < 0]


class MarkerWatch:
    """The relay's marker offsets in a consumer group of its own (it reads no records): committed by a
    consumer that only commits, read back with OffsetFetch by an admin client, so that a partition the
    answer leaves out (a group-level error) is told apart from one without an offset (-1)."""

    def __init__(self, settings: ServiceSettings) -> None:
        self.group = marker_group(settings.service_name)
        self._consumer = make_consumer(settings, f"{settings.client_id}-outbox-watch", group_id=self.group,
                                       enable_auto_commit=False)
        self._admin = make_admin(settings, f"{settings.client_id}-outbox-watch-admin")

    async def start(self) -> None:
        await self._consumer.start()
        await self._admin.start()

    async def stop(self) -> None:
        try:
            await self._consumer.stop()
        finally:
            await self._admin.close()

    async def committed(self, partitions: list[TopicPartition]) -> dict[TopicPartition, int]:
        """Per partition the broker answered for: its committed offset, -1 for none."""
        answer = await self._admin.list_consumer_group_offsets(self.group, partitions=partitions)
        return {tp: meta.offset for tp, meta in answer.items()}

    async def commit(self, offsets: dict[TopicPartition, int]) -> None:
        partitions = list(offsets)
        if set(self._consumer.assignment()) != set(partitions):
            self._consumer.assign(partitions)
            self._consumer.pause(*partitions)  # never reads records, it only keeps markers
        await self._consumer.commit(offsets)


#: Set on the relay's own reading connection (the advisory lock's, which runs nothing else that sorts): its
#: reads (`ORDER BY id LIMIT n` over `published_at IS NULL`) are taken in id order from the partial index
#: `ix_outbox_unpublished`, never read whole and sorted. On an outbox with no statistics yet (a fresh database
#: before autovacuum's first analyze: a bulk load relayed at once) the planner takes `IS NULL` to match 0.5 % of
#: the rows, and chose to fetch every unpublished row (a bitmap heap scan) and sort them on disk for each read of
#: 5,000: 0.3–0.9 s a read at 64k–130k rows against 2 ms by the index (bench/results/write22.json), for each
#: read until the prepared statement's generic plan took over. With sorting off the index's order always wins.
READ_PLAN_SETTING = "SET enable_sort = off"

#: Apache Kafka's default limit of a record batch (`message.max.bytes`, 1 MiB + 12 bytes of log overhead):
#: assumed for a broker that names no limit of its own (the embedded Tansu describes only the settings a
#: topic was created with)
DEFAULT_MESSAGE_MAX_BYTES = 1_048_588
#: record batches are built this much below the limit (the batch header and the log's own overhead)
BATCH_MARGIN_BYTES = 16_384
#: where the broker could not be asked at all: half the default, as the relay always used
FALLBACK_BATCH_BYTES = 512 * 1024


def batch_bytes_within(limits: Iterable[str | None]) -> int:
    """The record batch size for topics whose `max.message.bytes` the broker described as `limits`
    (None: not named): the smallest, less the margin (a small limit: half of it)."""
    named = [int(limit) for limit in limits if limit is not None and str(limit).isdigit()]
    limit = min(named, default=DEFAULT_MESSAGE_MAX_BYTES)
    return max(limit - BATCH_MARGIN_BYTES, limit // 2)


async def record_batch_bytes(settings: ServiceSettings, topics: Sequence[str]) -> int:
    """The largest record batch the relay builds: under the smallest `max.message.bytes` the broker gives
    for `topics` (DescribeConfigs: Apache Kafka names it for every topic; a broker that names none is
    taken to have Kafka's default), or `FALLBACK_BATCH_BYTES` where it cannot be asked."""
    from aiokafka.admin.config_resource import ConfigResource, ConfigResourceType

    admin = make_admin(settings, f"{settings.client_id}-outbox-limits")
    try:
        await admin.start()
        # every setting of each topic, not a filtered list: the embedded broker drops the connection
        # on a DescribeConfigs that names the settings it wants
        answers = await admin.describe_configs([ConfigResource(ConfigResourceType.TOPIC, topic) for topic in topics])
        limits: dict[str, str | None] = dict.fromkeys(topics)
        for answer in answers:
            for error_code, _message, _type, name, entries in answer.resources:
                if error_code:
                    raise ConnectionError(f"DescribeConfigs of {name}: error code {error_code}")
                for entry in entries:
                    if entry[0] == "max.message.bytes":
                        limits[name] = entry[1]
        size = batch_bytes_within(limits.values())
    except Exception as exc:  # an older or stricter broker, or none yet: the size that always worked
        log.info("record batch limit not described; relay batches of the fallback size",
                 extra={"error": repr(exc), "bytes": FALLBACK_BATCH_BYTES})
        return FALLBACK_BATCH_BYTES
    finally:
        with contextlib.suppress(Exception):
            await admin.close()
    log.info("relay record batches", extra={"bytes": size})
    return size


def capped(size: int, cap: int) -> int:
    """The record batch size `size` (the broker's, `record_batch_bytes`) at most `cap` (0: no cap)."""
    return min(size, cap) if cap > 0 else size


#: markings of reads published that may run at once, each on a connection of its own
MARKINGS_AT_ONCE = 2


async def _settle_markings(markings: list[tuple[asyncio.Future[None], int, int]], keep: int) -> None:
    """Wait for the oldest markings until at most `keep` run (in order: a failed one raises here)."""
    while len(markings) > keep:
        await markings[0][0]
        markings.pop(0)


@dataclass(slots=True)
class _Batch:
    """A record batch handed to the producer: its partition, the index of its first row in the
    read it came from, how many records, and the future of the broker's answer."""

    tp: TopicPartition
    first_row: int
    count: int
    future: asyncio.Future[Any]


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
        self._conn: asyncpg.Connection | None = None  # the leader's own: holds the lock, listens, reads
        # the leader's others: each marks the rows of one read published (two reads' at a time)
        self._mark_conns: list[asyncpg.Connection] = []
        self._free_mark_conns: asyncio.Queue[asyncpg.Connection] = asyncio.Queue()
        self._loss_check = True  # set from the broker's capabilities (or the setting) at start
        self._offsets_prove_loss = True
        self.published = 0
        #: seconds the publish loop spent in (or waiting for) each step: the read of rows, queueing them
        #: to the producer, the broker's acknowledgement, the marking before (bench/speed.py reports them)
        self.seconds_in: defaultdict[str, float] = defaultdict(float)
        # per topic: its partitions when last seen, and the partition of each key (organisers are few)
        self._partition_of: dict[str, tuple[list[int], dict[bytes, int]]] = {}
        #: the highest id read since the last read from the start (None: the next read starts at the start)
        self._floor: int | None = None

    def stop(self) -> None:
        self._stopping.set()
        self._wake.set()

    async def run(self) -> None:
        """Publish until stopped; only the holder of the advisory lock publishes."""
        await run_until_stopped("outbox relay", self._run_as_leader, self._stopping,
                                metrics.OUTBOX_PUBLISH_ERRORS.labels(self.settings.service_name).inc)

    async def _sleep(self, seconds: float) -> None:
        with contextlib.suppress(asyncio.TimeoutError):
            await within(self._stopping.wait(), seconds)

    async def _run_as_leader(self) -> None:
        lock = AdvisoryLock(self.db.asyncpg_dsn, RELAY_LOCK_KEY)
        try:
            while not await lock.try_acquire():
                await self._sleep(self.settings.outbox_poll_interval_seconds * 2)
                if self._stopping.is_set():
                    return
            conn = lock.connection
            assert conn is not None
            await conn.execute(READ_PLAN_SETTING)
            self._conn = conn
            for _ in range(MARKINGS_AT_ONCE):
                self._mark_conns.append(await asyncpg.connect(self.db.asyncpg_dsn))
                self._free_mark_conns.put_nowait(self._mark_conns[-1])
            conn.add_termination_listener(lambda _connection: self._wake.set())  # an idle loop notices at once
            await conn.add_listener(NOTIFY_CHANNEL, lambda *_: self._wake.set())
            await ensure_topics(self.settings, [(t.name, t.partitions) for t in TOPICS.values()])
            await self._load_marks()
            # A relay that ran a check interval committed a marker for every partition it had
            # published to; missing markers for those after a restart mean the broker lost them
            # (at worst one needless republish if the last run died before its first check).
            self._marked = set(self._highest)
            capabilities = await broker_capabilities(self.settings, refresh=True)
            # the producer keeps one request in flight per broker, one record batch per partition in
            # it: the larger the batches the broker takes, the fewer round trips per page of rows
            producer = make_producer(self.settings, f"{self.settings.client_id}-outbox",
                                     idempotent=capabilities.idempotent_producer,
                                     max_batch_size=capped(await record_batch_bytes(
                                         self.settings, [t.name for t in TOPICS.values()]),
                                         self.settings.outbox_record_batch_max_bytes))
            # a durable broker keeps its logs across a restart: no check, no republish (see the module doc)
            self._loss_check = broker_may_lose_logs(self.settings, capabilities)
            # an idempotent producer's retried batch is acknowledged at its first offset: there an
            # offset that does not grow proves nothing, and the marker check alone tells a loss
            self._offsets_prove_loss = self._loss_check and not capabilities.idempotent_producer
            watcher = MarkerWatch(self.settings) if self._loss_check else None
            await producer.start()
            self._producer = producer
            try:
                if watcher is not None:
                    await watcher.start()
                await self._publish_loop(producer, watcher, lock)
            finally:
                self._producer = None
                await producer.stop()
                if watcher is not None:
                    await watcher.stop()
        finally:
            self._conn = None
            for mark_conn in self._mark_conns:
                with contextlib.suppress(Exception):
                    await mark_conn.close()
            self._mark_conns = []
            self._free_mark_conns = asyncio.Queue()
            await lock.release()

    async def _publish_loop(self, producer: AIOKafkaProducer, watcher: MarkerWatch | None,
                            lock: AdvisoryLock) -> None:
        """Reads overlap: while the broker acknowledges read n, read n+1 is fetched and queued behind
        it, and reads n-1 and n-2 are marked published, each in a transaction on a connection of its own
        (marking a row rewrites it: the slowest step, bench/results/flow.json)."""
        last_check = time.monotonic()
        last_prune = 0.0
        last_backlog = time.monotonic()
        in_flight: tuple[Sequence[Any], asyncio.Future[list[Any]], list[_Batch]] | None = None
        markings: list[tuple[asyncio.Future[None], int, int]] = []  # oldest first: task, first and last id
        # Reads start above the last id read (`_floor`), not at the start of the partial index: the
        # entries of rows marked published stay in it until vacuumed (and can't even be flagged dead while
        # an older snapshot lives), so a read from the start walks every row drained so far (issue 16).
        # What that skips is a row committed late below the floor: a read from the start now and then
        # finds it, at most every poll interval and at most a tenth of the time (a long one late in a
        # big drain), and always before the relay goes idle.
        self._floor = None
        next_full_read = 0.0
        try:
            while not self._stopping.is_set():
                end_if_cancel_asked()  # a cancellation swallowed on the way still ends the relay
                if not lock.held:  # the advisory lock went with its connection: another relay may lead now
                    raise ConnectionError("lost the connection holding the relay's advisory lock")
                self._wake.clear()
                # the next rows, besides those in flight or being marked (ids in between are read later)
                unsettled = [] if in_flight is None else [in_flight[0][0][0], in_flight[0][-1][0]]
                for _task, first_id, last_id in markings:
                    unsettled += [first_id, last_id]
                waited = time.monotonic()
                if waited >= next_full_read:
                    self._floor = None
                from_start = self._floor is None
                rows = await self._fetch(besides=(min(unsettled), max(unsettled)) if unsettled else None,
                                         above=self._floor)
                waited = self._waited("read", waited)
                if from_start:
                    next_full_read = waited + max(self.settings.outbox_poll_interval_seconds,
                                                  10 * self._last_read_seconds)
                if rows:
                    self._floor = max(self._floor or 0, rows[-1][0])
                else:  # nothing above the floor: the next read looks below it too
                    self._floor = None
                queued = None
                if rows:
                    batches = await self._enqueue(producer, rows)
                    waited = self._waited("enqueue", waited)
                    queued = (rows, asyncio.ensure_future(self._results(batches)), batches)
                if in_flight is not None:
                    sent, results, batches_sent = in_flight
                    done, lost_topics = self._acknowledged(sent, batches_sent, await results)
                    waited = self._waited("acknowledged", waited)
                    await _settle_markings(markings, MARKINGS_AT_ONCE - 1)
                    waited = self._waited("marked", waited)
                    markings.append((asyncio.ensure_future(self._mark(sent, done)), sent[0][0], sent[-1][0]))
                    if done < len(sent) or lost_topics:
                        self._floor = None  # the failed rows (and what went behind them) lie below it
                        await _settle_markings(markings, 0)
                        await self._after_trouble(lost_topics, failed=done < len(sent))
                        if queued is not None:  # what went after a failure goes again, after it
                            await queued[1]
                            queued = None
                in_flight = queued
                now = time.monotonic()
                if in_flight is None and not rows:
                    await _settle_markings(markings, 0)
                    # idle (nothing in flight, nothing new, no backlog) only after a read that skipped
                    # nothing: else read again at once (a row committed late among the skipped ids)
                    if not unsettled and from_start:
                        self._set_backlog_metrics(0, None)
                        with contextlib.suppress(asyncio.TimeoutError):
                            await within(self._wake.wait(), self.settings.outbox_poll_interval_seconds)
                        now = last_backlog = time.monotonic()
                elif now - last_backlog >= 10:  # busy: the backlog counted now and then
                    await self._update_backlog_metrics()
                    last_backlog = now
                if watcher is not None and now - last_check >= self.settings.outbox_loss_check_interval_seconds:
                    await _settle_markings(markings, 0)  # a republish after it must not be overtaken by a late mark
                    await self._check_broker_kept_the_logs(watcher)
                    last_check = now
                if now - last_prune >= 3600:
                    await self._prune()
                    last_prune = now
        finally:
            # stopping: settle what the broker was given, so it is not sent twice
            async def settle_last() -> None:
                await _settle_markings(markings, 0)
                if in_flight is not None:
                    rows_in_flight, results, batches_in_flight = in_flight
                    await self._settle(rows_in_flight, batches_in_flight, await results)

            with contextlib.suppress(Exception):
                await within(settle_last(), 10)

    def _waited(self, step: str, since: float) -> float:
        now = time.monotonic()
        self.seconds_in[step] += now - since
        return now

    @property
    def _connection(self) -> asyncpg.Connection:
        if self._conn is None:
            raise ConnectionError("the relay is not leading")
        return self._conn


    async def _fetch(self, besides: tuple[int, int] | None = None, above: int | None = None) -> Sequence[Any]:
        """The next unpublished rows in id order, each (id, topic, key, payload); `besides`: the first
        and last id of the rows in flight, skipped (a row committed late with a lower id is still
        read, after the rest); `above`: only ids above it. Plain asyncpg records on the relay's own
        connection: no ORM rows."""
        rows: Sequence[Any]
        started = time.monotonic()
        limit = self.settings.outbox_batch_size
        if besides is None and above is None:
            rows = await self._connection.fetch(self._read_sql, limit)
        elif besides is None:
            rows = await self._connection.fetch(self._read_after_sql, limit, above)
        else:  # ids start at 1: above 0 is every one
            rows = await self._connection.fetch(self._read_besides_sql, limit, *besides, above or 0)
        self._last_read_seconds = time.monotonic() - started
        return rows

    #: seconds the last read took (a read from the start is repeated at most a tenth of the time)
    _last_read_seconds = 0.0

    @functools.cached_property
    def _read_sql(self) -> str:
        return (f"SELECT id, topic, key, payload FROM {self.outbox.name} WHERE published_at IS NULL "
                "ORDER BY id LIMIT $1")

    @functools.cached_property
    def _read_after_sql(self) -> str:
        return (f"SELECT id, topic, key, payload FROM {self.outbox.name} WHERE published_at IS NULL AND id > $2 "
                "ORDER BY id LIMIT $1")

    @functools.cached_property
    def _read_besides_sql(self) -> str:
        """The unpublished rows above $4 below and above the unsettled ids ($2, $3), as two ranges of the
        partial index (`ix_outbox_unpublished`), merged in id order. Not `NOT (id BETWEEN …)`: no index
        can take that, so every read fetched and threw away the rows in flight and being marked (up to
        two pages) from the heap before reaching the new ones."""
        part = f"SELECT id, topic, key, payload FROM {self.outbox.name} WHERE published_at IS NULL AND {{}} " \
               "ORDER BY id LIMIT $1"
        return (f"SELECT * FROM (({part.format('id > $4 AND id < $2')}) UNION ALL "
                f"({part.format('id > greatest($3, $4)')})) AS unpublished ORDER BY id LIMIT $1")

    async def _settle(self, rows: Sequence[Any], batches: Sequence[_Batch], results: Sequence[Any],
                      ) -> tuple[int, bool]:
        """Mark the rows the broker acknowledged (those before the first failure) as published, in
        one statement. Returns how many, and whether all went well (no failure, no loss found)."""
        done, lost_topics = self._acknowledged(rows, batches, results)
        await self._mark(rows, done)
        await self._after_trouble(lost_topics, failed=done < len(rows))
        return done, done == len(rows) and not lost_topics

    def _acknowledged(self, rows: Sequence[Any], batches: Sequence[_Batch], results: Sequence[Any],
                      ) -> tuple[int, set[str]]:
        """How many rows, from the first, the broker acknowledged (those before the first failure),
        and the topics whose log an offset proved lost. Updates the highest offsets and the metrics."""
        done, error = len(rows), None
        for batch, result in zip(batches, results, strict=True):
            if isinstance(result, BaseException) and batch.first_row < done:
                done, error = batch.first_row, result
        if error is not None:
            # Only the rows before the first failure count as published: the rest go again,
            # after it, so no key's events overtake each other (consumers skip the repeats).
            metrics.OUTBOX_PUBLISH_ERRORS.labels(self.settings.service_name).inc()
            log.warning("publish failed; will retry", extra={"outbox_id": rows[done][0], "error": repr(error)})
        lost_topics = set()
        per_topic: Counter[str] = Counter()
        for batch, result in zip(batches, results, strict=True):  # each partition's batches in order
            if isinstance(result, BaseException):
                continue
            per_topic[batch.tp.topic] += batch.count
            if result.offset < 0:  # a retried batch the broker had already (duplicate sequence): no offset, no evidence
                continue
            tp, highest = batch.tp, self._highest.get(batch.tp, -1)
            # offsets grow within a batch: its first record tells whether the log went back
            if self._offsets_prove_loss and result.offset <= highest:
                lost_topics.add(tp.topic)
            self._highest[tp] = max(result.offset + batch.count - 1, highest)
        if error is not None:  # only what is marked counts as published
            per_topic = Counter(row[1] for row in rows[:done])
        for topic, count in per_topic.items():
            metrics.OUTBOX_PUBLISHED.labels(self.settings.service_name, topic).inc(count)
        return done, lost_topics

    async def _mark(self, rows: Sequence[Any], done: int) -> None:
        """The first `done` rows published, and the highest offsets as of now, in one transaction on a
        marking connection of the relay's (so it overlaps the next reads; two markings may run at once,
        and commit in either order: a marker offset only ever grows, see `_save_marks`). Not waited for
        on disk: marks lost in a crash only mean those rows are sent again, and consumers skip repeats."""
        ids, highest = [row[0] for row in rows[:done]], dict(self._highest)
        if not self._mark_conns:
            raise ConnectionError("the relay is not leading")
        conn = await self._free_mark_conns.get()
        try:
            async with conn.transaction():
                await conn.execute("SET LOCAL synchronous_commit = off")
                if ids:  # one array parameter: one prepared statement whatever the batch
                    await conn.execute(
                        f"UPDATE {self.outbox.name} SET published_at = now() WHERE id = ANY($1::bigint[])", ids)
                await self._save_marks(conn, highest)
        finally:
            self._free_mark_conns.put_nowait(conn)
        self.published += done

    async def _after_trouble(self, lost_topics: set[str], failed: bool) -> None:
        for topic in lost_topics:
            await self._republish_topic(topic, {"acknowledged offset not above one seen before": True})
        if failed:
            await self._sleep(1.0)  # back off before retrying the failed rows

    @staticmethod
    async def _results(batches: Sequence[_Batch]) -> list[Any]:
        """Per record batch: its result (metadata with the base offset, or the exception)."""
        return await asyncio.gather(*(batch.future for batch in batches), return_exceptions=True)

    async def _enqueue(self, producer: AIOKafkaProducer, rows: Sequence[Any]) -> list[_Batch]:
        """Queue the rows as record batches built here, one open batch per partition, in row
        order. Batches of one partition are queued in order and aiokafka keeps one in flight per
        partition, so the order per key holds as with single sends (and a later call's batches
        queue behind). Returns the batches in the order they were queued, each with the index of
        its first row and its record count."""
        queued: list[_Batch] = []
        # per (topic, partition): [builder, index of its first row, records in it]
        open_batches: dict[tuple[str, int], list[Any]] = {}
        keys: dict[str, dict[bytes, int]] = {}  # per topic: the partition of each key

        async def flush(slot: tuple[str, int]) -> None:
            builder, first_row, count = open_batches.pop(slot)
            builder.close()  # complete: sent at once, not after the producer's linger
            future = await producer.send_batch(builder, slot[0], partition=slot[1])
            queued.append(_Batch(TopicPartition(*slot), first_row, count, future))

        for index, (row_id, topic, key, payload) in enumerate(rows):
            known = keys.get(topic)
            if known is None:
                known = keys[topic] = await self._keys_of(producer, topic)
            partition = known.get(key)
            if partition is None:  # the producer's own partitioner (murmur2, as Kafka's clients), once per key
                partitions = self._partition_of[topic][0]
                partition = known[key] = producer._partitioner(key, partitions, partitions)
            slot = (topic, partition)
            batch = open_batches.get(slot)
            if batch is None:
                batch = open_batches[slot] = [producer.create_batch(), index, 0]
            # every record says its value is in the contracts' form (the consumers keep its bytes' digest as it is)
            if batch[0].append(key=key, value=payload, timestamp=None, headers=_FORM_HEADERS) is None:  # full: send it
                await flush(slot)
                batch = open_batches[slot] = [producer.create_batch(), index, 0]
                if batch[0].append(key=key, value=payload, timestamp=None, headers=_FORM_HEADERS) is None:
                    raise ValueError(f"outbox row {row_id} is larger than a record batch")
            batch[2] += 1
        for slot in list(open_batches):
            await flush(slot)
        return queued

    async def _keys_of(self, producer: AIOKafkaProducer, topic: str) -> dict[bytes, int]:
        """The partition of each key seen so far on `topic` (forgotten when its partitions change)."""
        partitions = sorted(await producer.partitions_for(topic))
        if self._partition_of.get(topic, (None,))[0] != partitions:
            self._partition_of[topic] = (partitions, {})  # a recreated topic
        return self._partition_of[topic][1]

    async def _check_broker_kept_the_logs(self, watcher: MarkerWatch) -> None:
        """Did the broker lose its state since the last check? The relay commits a marker offset
        per partition to a consumer group of its own; a broker that restarted empty has no
        committed offsets. (Not the end offsets: the embedded broker reports the start of the
        last record batch as the end of the log, which would look like a loss.)"""
        if not self._highest:
            return
        partitions = list(self._highest)
        try:
            lost = partitions_without_marker(partitions, self._marked, await watcher.committed(partitions))
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
        self._floor = None  # every retained row of the topic is unpublished again, below it too
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

    async def _save_marks(self, conn: asyncpg.Connection, highest: Mapping[TopicPartition, int]) -> None:
        if not highest:
            return
        # in one order (no two markings wait for each other's rows crosswise), and never lowered: of two
        # markings the later may commit first (a topic's marks are deleted before it is republished,
        # after every marking settled, so a lost log's offsets start afresh)
        topics, partitions, offsets = zip(*sorted((tp.topic, tp.partition, off) for tp, off in highest.items()),
                                          strict=True)
        await conn.execute(
            f"INSERT INTO {self.marks.name} AS m (topic, partition, highest_offset) "
            "SELECT * FROM unnest($1::text[], $2::int[], $3::bigint[]) "
            "ON CONFLICT (topic, partition) DO UPDATE "
            "SET highest_offset = greatest(m.highest_offset, excluded.highest_offset)",
            list(topics), list(partitions), list(offsets))

    async def _update_backlog_metrics(self) -> None:
        count, oldest = await self._connection.fetchrow(
            f"SELECT count(*), min(created_at) FROM {self.outbox.name} WHERE published_at IS NULL")
        self._set_backlog_metrics(count, oldest)

    def _set_backlog_metrics(self, count: int, oldest: datetime | None) -> None:
        metrics.OUTBOX_BACKLOG.labels(self.settings.service_name).set(count)
        age = (datetime.now(UTC) - oldest).total_seconds() if oldest else 0.0
        metrics.OUTBOX_OLDEST_AGE.labels(self.settings.service_name).set(age)

    async def _prune(self) -> None:
        cutoff = datetime.now(UTC) - timedelta(days=self.settings.outbox_retention_days)
        async with self.db.sessions.begin() as session:
            await session.execute(self.outbox.delete().where(self.outbox.c.published_at < cutoff))

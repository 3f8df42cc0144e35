"""Reading reporting's topics from the beginning to their end, decoded as the live consumer decodes.

Each partition's end is known before the read starts, and the read is done only when every partition was read
to it (`read_log`); events written meanwhile are left to the live consumer. Where the broker counts records in
its end offsets (Apache Kafka), the end is ListOffsets "latest". The embedded broker's (Tansu) "latest" does not
count records (it names the start of the last record batch, plus one: one batch of 100 ends at 1), but its fetch
answers carry the true high watermark: there the end is the high watermark of one fetch per partition at that
"latest" (its last batch only), and the read says so (`Log.ends`). A broker that goes away mid-read (stopped,
killed, or back without its logs: each fetch comes back empty, or the client cannot connect) is not an end: after
`stall_seconds` without a record while a partition is short of its end the read stops (`LogIncomplete`), and the
rebuild changes nothing."""

from __future__ import annotations

import asyncio
import itertools
import operator
import time
from collections.abc import Awaitable, Callable, Collection, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar

from aiokafka import AIOKafkaConsumer, ConsumerRecord, TopicPartition
from aiokafka.errors import KafkaError

from styrkedja_contracts import ContractError, decode_event
from styrkedja_contracts.kafka_binding import refusal
from styrkedja_kit.consumer import Delivered, claim_organiser, content_digest, undecodable_message, unfit
from styrkedja_kit.kafka import (
    RecordTuple,
    broker_capabilities,
    ensure_topics,
    make_consumer,
    record_runs,
    registry_topics,
    stand_in_refusal,
)
from styrkedja_kit.settings import ServiceSettings
from styrkedja_kit.supervise import within

#: how long one fetch waits for records (then it comes back empty, and the read asks again)
EMPTY_FETCH_MS = 1_500
#: no record for this long, while a partition is short of its end: the broker is gone (`LogIncomplete`). A rebuild
#: reads a log that is written already, so a live broker answers each fetch at once; 30 s outlasts a busy machine's
#: pause (and an Apache Kafka leader moving), not an outage.
STALL_SECONDS = 30.0
#: records handed out by one `getmany` at most (the read's memory: pieces for the decoders are made of them)
RECORDS_PER_GET = 20_000
#: runs handed out by the first `getmany` of records as runs (their size unknown yet: a relay's batch holds ~tens)
FIRST_RUNS = 64
T = TypeVar("T")


class LogIncomplete(Exception):
    """The log could not be read to the end taken at the start (the broker stopped answering, or came back without
    its logs): said in one line by the command (exit 1); nothing was changed."""


@dataclass
class Log:
    items: list[Delivered] = field(default_factory=list)  # decoded, per partition in offset order
    dead: list[tuple[ConsumerRecord, str, str]] = field(default_factory=list)  # record, reason, message
    next_offsets: dict[tuple[str, int], int] = field(default_factory=dict)
    records: int = 0
    decoded: int = 0  # handed to `on_chunk` (not kept in `items`)
    exact_offsets: bool = True
    ends: str = "end offsets"  # where each partition's end came from (`_log_ends`), for the command's summary line


async def read_log(settings: ServiceSettings, topics: Sequence[str], *, client_id: str,
                   progress: Callable[[int, float], None] = lambda n, s: None,
                   on_chunk: Callable[[list[Delivered]], Awaitable[None]] | None = None,
                   on_records: Callable[[list[ConsumerRecord]], Awaitable[None]] | None = None,
                   on_raw: Callable[[list[RecordTuple]], Awaitable[None]] | None = None,
                   stall_seconds: float = STALL_SECONDS) -> Log:
    """Every record of `topics` from offset 0 to the end taken at the start (see the module docstring), decoded;
    records that do not decode (the contracts' `decode_event`, with `max_event_bytes`) in `dead`.
    With `on_chunk`, each fetch's decoded events are handed to it (in log order per partition) and not
    kept: the memory does not grow with the log. With `on_records`, each fetch's records are handed to it
    undecoded (it decodes them, and keeps what does not decode); with `on_raw` likewise, as the kit's `RecordTuple`s
    made straight from the fetched batches (`kafka.record_runs`: no `ConsumerRecord` per record). Raises
    `LogIncomplete` where a partition was not read to its end: no record came for `stall_seconds`, or the client
    failed."""
    sizes = dict(registry_topics())
    await ensure_topics(settings, [(t, sizes[t]) for t in topics])
    exact = (await broker_capabilities(settings)).exact_offsets
    runs = on_raw is not None
    consumer = make_consumer(settings, client_id, group_id=None, enable_auto_commit=False,
                             auto_offset_reset="earliest", max_partition_fetch_bytes=4 * 1024 * 1024,
                             fetch_max_wait_ms=200, **({"value_deserializer": record_runs} if runs else {}))
    offset_of: Callable[[Any], int] = operator.itemgetter(2) if runs else operator.attrgetter("offset")
    # `getmany`'s `max_records` counts runs (batches) where the records come as runs: as many as hold ~RECORDS_PER_GET
    # records by the runs so far (one batch's records are ~its bytes over a record's, unknown before the first)
    got_records, got_runs = 0, 0
    out = Log(exact_offsets=exact)
    started = time.perf_counter()
    await consumer.start()
    try:
        partitions = [TopicPartition(t, p) for t in topics for p in range(sizes[t])]
        consumer.assign(partitions)
        for tp in partitions:  # from 0: a log that starts later resets to its start (auto_offset_reset)
            consumer.seek(tp, 0)
        ends, out.ends = await _log_ends(consumer, partitions, exact, stall_seconds)
        reading = {tp for tp in partitions if ends[tp] > 0}
        for tp in set(partitions) - reading:
            out.next_offsets[(tp.topic, tp.partition)] = 0
        consumer.pause(*(set(partitions) - reading))
        last_report = 0.0
        last_record = time.monotonic()
        while reading:
            most = (max(1, RECORDS_PER_GET * got_runs // got_records) if got_records else FIRST_RUNS) if runs \
                else RECORDS_PER_GET
            batch: dict[TopicPartition, list[Any]] = await _fetched(
                consumer.getmany(*reading, timeout_ms=EMPTY_FETCH_MS, max_records=most), reading, ends,
                out.next_offsets, stall_seconds)
            if runs:
                got_runs += sum(map(len, batch.values()))
                batch = {tp: list(itertools.chain.from_iterable(r)) for tp, r in batch.items()}
                got_records += sum(map(len, batch.values()))
            if not any(batch.values()) and time.monotonic() - last_record > stall_seconds:
                raise LogIncomplete(_short_of(reading, ends, out.next_offsets, stall_seconds))
            decoded: list[Delivered] = [] if on_chunk is not None else out.items
            for tp, records in batch.items():
                # written after the start: the live consumer's. The fetcher hands a partition's records out in strictly
                # ascending offsets (it skips any below the next it expects), so only a fetch whose last record lies past
                # the end holds any: looked at record by record only then (every record was ~0.4 us of this process's
                # ~9 per event: bench/README.md rebuild33)
                if records and offset_of(records[-1]) >= ends[tp]:
                    records = [r for r in records if offset_of(r) < ends[tp]]
                if on_raw is not None and records:
                    await on_raw(records)  # it decodes them
                elif on_records is not None and records:
                    await on_records(records)  # it decodes them
                for record in records if on_records is None and on_raw is None else ():
                    stand_in = stand_in_refusal(record.value)  # records the client could not read, as live names them
                    if stand_in is not None:
                        out.dead.append((record, *stand_in))
                        continue
                    try:
                        event = decode_event(record.value or b"", max_bytes=settings.max_event_bytes)
                    except ContractError as error:  # a refused value's headers may name its content mode, as live
                        out.dead.append((record, *refusal(error, record.value, record.headers)))
                    except Exception as error:  # noqa: BLE001 - as the live consumer: a fault of the decode's own
                        out.dead.append((record, "undecodable", undecodable_message(error)))
                    else:
                        wrong = unfit(event, tp.topic, record.timestamp, key=record.key)  # the live consumer's rules
                        if wrong is not None:
                            out.dead.append((record, *wrong))
                        else:
                            decoded.append(Delivered(event, tp.topic, tp.partition, record.offset,
                                                     content_digest(record.value or b"", event, record.headers),
                                                     organiser=claim_organiser(record.key)))
                if records:
                    out.records += len(records)
                    out.next_offsets[(tp.topic, tp.partition)] = offset_of(records[-1]) + 1
            await _fetched(_past_markers(consumer, reading, ends, out.next_offsets), reading, ends, out.next_offsets,
                           stall_seconds)
            if on_chunk is not None and decoded:
                out.decoded += len(decoded)
                await on_chunk(decoded)
            if any(batch.values()):  # after its staging: the wait is counted from here, not the staging's time
                last_record = time.monotonic()
            now = time.perf_counter()
            if now - last_report >= 1.0:
                last_report = now
                progress(out.records, now - started)
        for tp in partitions:
            out.next_offsets.setdefault((tp.topic, tp.partition), 0)
    finally:
        await stopped(consumer)
    progress(out.records, time.perf_counter() - started)
    return out


async def stopped(consumer: AIOKafkaConsumer) -> None:
    """`consumer.stop()`. With the broker gone, aiokafka's stop can raise a CancelledError of its own (a retry's sleep
    it cancelled); that one is not this task's cancellation (SIGTERM, Ctrl-C), which is passed on: it would have
    turned a clear line (`LogIncomplete`, or a rebuild that committed) into "stopped by SIGTERM"."""
    try:
        await consumer.stop()
    except asyncio.CancelledError:
        task = asyncio.current_task()
        if task is not None and task.cancelling():
            raise


async def _log_ends(consumer: AIOKafkaConsumer, partitions: list[TopicPartition], exact: bool, stall_seconds: float
                    ) -> tuple[dict[TopicPartition, int], str]:
    """Each partition's end before the read, and where it came from (see the module docstring). Where the end offsets
    do not count records, one fetch per non-empty partition at its "latest" brings its last batch and the high
    watermark; the partitions are then put back to 0. A partition that answers no fetch within `stall_seconds`
    has no known end: `LogIncomplete`."""
    listed = await _fetched(consumer.end_offsets(partitions), partitions, {}, {}, stall_seconds)
    if exact:
        return listed, "end offsets"
    asked = [tp for tp in partitions if listed[tp] > 0]
    for tp in asked:
        consumer.seek(tp, listed[tp] - 1)
    started = time.monotonic()
    while any(consumer.highwater(tp) is None for tp in asked):
        if time.monotonic() - started > stall_seconds:
            unknown = [f"{tp.topic}:{tp.partition}" for tp in asked if consumer.highwater(tp) is None]
            raise LogIncomplete(f"the broker told no end of {', '.join(unknown)} in {stall_seconds:.0f} s (a fetch's "
                                "high watermark); nothing was changed. Is the broker up? Run the rebuild again")
        await _fetched(consumer.getmany(*asked, timeout_ms=EMPTY_FETCH_MS), asked, {}, {}, stall_seconds)
    ends = {tp: max(listed[tp], consumer.highwater(tp) or 0) for tp in partitions}
    for tp in asked:
        consumer.seek(tp, 0)
    below = sum(1 for tp in asked if ends[tp] > listed[tp])
    return ends, (f"ends from a fetch's high watermark: ListOffsets \"latest\" was below it on {below} of "
                  f"{len(asked)} non-empty partitions")


async def _fetched(call: Awaitable[T], partitions: Collection[TopicPartition], ends: dict[TopicPartition, int],
                   next_offsets: dict[tuple[str, int], int], stall_seconds: float) -> T:
    """`call` to the broker, within `stall_seconds`; a failure of the client (it cannot connect, the broker refused)
    or no answer by then: `LogIncomplete`, naming the partitions short of their end."""
    try:
        return await within(call, stall_seconds)
    except (KafkaError, TimeoutError) as error:
        raise LogIncomplete(_short_of(partitions, ends, next_offsets, stall_seconds, error)) from None


def _short_of(partitions: Collection[TopicPartition], ends: dict[TopicPartition, int],
              next_offsets: dict[tuple[str, int], int], stall_seconds: float, error: BaseException | None = None) -> str:
    """The one line a read that stopped short says: which partitions, how far, why, and that nothing changed."""
    short = sorted(partitions)
    where = ", ".join(f"{tp.topic}:{tp.partition} at {next_offsets.get((tp.topic, tp.partition), 0):,}"
                      + (f" of {ends[tp]:,}" if tp in ends else "") for tp in short[:3])
    more = f" and {len(short) - 3} more" if len(short) > 3 else ""
    why = (f"the broker failed ({type(error).__name__})" if isinstance(error, KafkaError)
           else f"no record came for {stall_seconds:.0f} s")
    return (f"the log was not read to its end: {where}{more} ({why}: the broker stopped, or came back without "
            "its logs); nothing was changed, the live tables are as they were. Once the broker is back with its "
            "log (after a restart of the embedded broker: once the services' outboxes have republished), run the "
            "rebuild again")


async def _past_markers(consumer: AIOKafkaConsumer, reading: set[TopicPartition], ends: dict[TopicPartition, int],
                        next_offsets: dict[tuple[str, int], int]) -> None:
    """Each partition still read whose client position reached its end: done (paused), its next offset the
    position. A transaction's marker (commit or abort) holds an offset no record is handed out at, and a
    partition may end with one (or with an aborted transaction's records and its marker): the last record's
    offset + 1 never reached the end there, and the read never finished. A position beyond the end (records
    fetched past it, left to the live consumer) counts as the end."""
    for tp in list(reading):
        position = min(await consumer.position(tp), ends[tp])
        key = (tp.topic, tp.partition)
        next_offsets[key] = max(next_offsets.get(key, 0), position)
        if next_offsets[key] >= ends[tp]:
            reading.discard(tp)
            consumer.pause(tp)


async def records_at(settings: ServiceSettings, positions: Sequence[tuple[str, int, int]], *, client_id: str
                     ) -> dict[tuple[str, int, int], ConsumerRecord]:
    """The records at (topic, partition, offset), read again (a refused event the rebuild kept no bytes of)."""
    out: dict[tuple[str, int, int], ConsumerRecord] = {}
    if not positions:
        return out
    consumer = make_consumer(settings, client_id, group_id=None, enable_auto_commit=False,
                             auto_offset_reset="earliest", fetch_max_wait_ms=200)
    await consumer.start()
    try:
        for topic, partition, offset in sorted(set(positions)):
            tp = TopicPartition(topic, partition)
            consumer.assign([tp])
            consumer.seek(tp, offset)
            for _ in range(20):  # an embedded broker's batch may start before the offset
                found = [r for rs in (await consumer.getmany(tp, timeout_ms=EMPTY_FETCH_MS)).values() for r in rs
                         if r.offset >= offset]
                if found:
                    if found[0].offset == offset:
                        out[(topic, partition, offset)] = found[0]
                    break
    finally:
        await stopped(consumer)
    return out

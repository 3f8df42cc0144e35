"""Reading reporting's topics from the beginning to their end, decoded as the live consumer decodes.

Where the broker counts records in its end offsets (Apache Kafka), the end is each partition's
ListOffsets "latest" taken at the start: events written meanwhile are left to the live consumer.
The embedded broker's end offsets do not count records (one batch of 100 ends at 1), so there the
end is where a fetch comes back empty for every partition still being read — the same proof of "no
lag" the live consumer uses (`ConsumerLoop._caught_up`)."""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field

from aiokafka import AIOKafkaConsumer, ConsumerRecord, TopicPartition

from styrkedja_contracts import ContractError, decode_event
from styrkedja_contracts.kafka_binding import refusal
from styrkedja_kit.consumer import Delivered, record_digest, unfit
from styrkedja_kit.kafka import broker_capabilities, ensure_topics, make_consumer, registry_topics, stand_in_refusal
from styrkedja_kit.settings import ServiceSettings

#: a fetch that brings nothing for this long ends the read on a broker whose end offsets do not count records
EMPTY_FETCH_MS = 1_500


@dataclass
class Log:
    items: list[Delivered] = field(default_factory=list)  # decoded, per partition in offset order
    dead: list[tuple[ConsumerRecord, str, str]] = field(default_factory=list)  # record, reason, message
    next_offsets: dict[tuple[str, int], int] = field(default_factory=dict)
    records: int = 0
    decoded: int = 0  # handed to `on_chunk` (not kept in `items`)
    exact_offsets: bool = True


async def read_log(settings: ServiceSettings, topics: Sequence[str], *, client_id: str,
                   progress: Callable[[int, float], None] = lambda n, s: None,
                   on_chunk: Callable[[list[Delivered]], Awaitable[None]] | None = None,
                   on_records: Callable[[list[ConsumerRecord]], Awaitable[None]] | None = None) -> Log:
    """Every record of `topics` from offset 0 to the end (see the module docstring), decoded;
    records that do not decode (the contracts' `decode_event`, with `max_event_bytes`) in `dead`.
    With `on_chunk`, each fetch's decoded events are handed to it (in log order per partition) and not
    kept: the memory does not grow with the log. With `on_records`, each fetch's records are handed to it
    undecoded (it decodes them, and keeps what does not decode)."""
    sizes = dict(registry_topics())
    await ensure_topics(settings, [(t, sizes[t]) for t in topics])
    exact = (await broker_capabilities(settings)).exact_offsets
    consumer = make_consumer(settings, client_id, group_id=None, enable_auto_commit=False,
                             auto_offset_reset="earliest", max_partition_fetch_bytes=4 * 1024 * 1024,
                             fetch_max_wait_ms=200)
    out = Log(exact_offsets=exact)
    started = time.perf_counter()
    await consumer.start()
    try:
        partitions = [TopicPartition(t, p) for t in topics for p in range(sizes[t])]
        consumer.assign(partitions)
        for tp in partitions:  # from 0: a log that starts later resets to its start (auto_offset_reset)
            consumer.seek(tp, 0)
        ends = await consumer.end_offsets(partitions) if exact else {}
        reading = {tp for tp in partitions if not exact or ends[tp] > 0}
        for tp in set(partitions) - reading:
            out.next_offsets[(tp.topic, tp.partition)] = 0
        consumer.pause(*(set(partitions) - reading))
        last_report = 0.0
        while reading:
            batch = await consumer.getmany(*reading, timeout_ms=EMPTY_FETCH_MS, max_records=20_000)
            if not batch and not exact:
                break  # nothing more anywhere: the end
            decoded: list[Delivered] = [] if on_chunk is not None else out.items
            for tp, records in batch.items():
                if exact:
                    records = [r for r in records if r.offset < ends[tp]]
                if on_records is not None and records:
                    await on_records(records)  # it decodes them
                for record in records if on_records is None else ():
                    stand_in = stand_in_refusal(record.value)  # records the client could not read, as live names them
                    if stand_in is not None:
                        out.dead.append((record, *stand_in))
                        continue
                    try:
                        event = decode_event(record.value or b"", max_bytes=settings.max_event_bytes)
                    except ContractError as error:  # a refused value's headers may name its content mode, as live
                        out.dead.append((record, *refusal(error, record.value, record.headers)))
                    else:
                        wrong = unfit(event, tp.topic, record.timestamp, key=record.key)  # the live consumer's rules
                        if wrong is not None:
                            out.dead.append((record, *wrong))
                        else:
                            decoded.append(Delivered(event, tp.topic, tp.partition, record.offset,
                                                     record_digest(record.value or b"")))
                if records:
                    out.records += len(records)
                    out.next_offsets[(tp.topic, tp.partition)] = records[-1].offset + 1
            if exact:
                await _past_markers(consumer, reading, ends, out.next_offsets)
            if on_chunk is not None and decoded:
                out.decoded += len(decoded)
                await on_chunk(decoded)
            now = time.perf_counter()
            if now - last_report >= 1.0:
                last_report = now
                progress(out.records, now - started)
        for tp in partitions:
            out.next_offsets.setdefault((tp.topic, tp.partition), 0)
    finally:
        await consumer.stop()
    progress(out.records, time.perf_counter() - started)
    return out


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
        await consumer.stop()
    return out

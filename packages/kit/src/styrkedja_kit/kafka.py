"""Kafka clients configured the one way this system uses them.

Producers always wait for every in-sync replica (`acks=all`). They are idempotent where the
broker supports it (Apache Kafka); the embedded Tansu broker fails InitProducerId, so there they
are not. That is found out by asking the broker (`broker_capabilities`), not by its name.
Ordering per key holds either way because aiokafka keeps at most one batch in flight per
partition, and exactness comes from the outbox plus the consumers' event-id bookkeeping.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import importlib
import inspect
import logging
import operator
import struct
import zlib
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import aiokafka
import cramjam
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, codec
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.admin.config_resource import ConfigResource, ConfigResourceType
from aiokafka.client import AIOKafkaClient
from aiokafka.consumer import fetcher as _fetcher
from aiokafka.errors import CorruptRecordException, KafkaError
from aiokafka.helpers import create_ssl_context
from aiokafka.protocol.api import Request, RequestStruct, Response
from aiokafka.protocol.transaction import InitProducerIdRequest
from aiokafka.protocol.types import Array, Boolean, Int8, Int16, Int32, Schema, String
from aiokafka.record import default_records as _default_records
from aiokafka.record import legacy_records as _legacy_records
from aiokafka.record import memory_records as _memory_records

from . import record_batches
from .settings import INFLATED_BATCH_EVENTS, ServiceSettings
from .supervise import within

log = logging.getLogger(__name__)

TOPIC_ALREADY_EXISTS = 36
INIT_PRODUCER_ID = 22  # Kafka API key
RETRIABLE_COORDINATOR_ERRORS = {14, 15, 16}  # load in progress, not available, not coordinator

#: the record header the kit's outbox relay puts on every record it publishes: the value is the event in the
#: contracts' form (`CloudEvent.to_bytes`, as the outboxes store it). A consumer keeps the digest of such a record's
#: bytes as they are (`consumer.content_digests`: a header check, no serialisation); another producer's record, whose
#: bytes may begin as the contracts' do and go on in another key order or spacing, is judged by its contracts' form
CONTRACTS_FORM_HEADER: tuple[str, bytes] = ("styrkedja-form", b"contracts")


@dataclass(frozen=True)
class BrokerCapabilities:
    """What the broker behind the bootstrap servers can do, as it answered.

    `idempotent_producer`: it lists InitProducerId in ApiVersions AND hands out a producer id.
    `exact_offsets`: its log end offsets (ListOffsets "latest", a fetch's high watermark) count
    records. Tansu's do not (one batch of 100 records ends at 1). No request proves that cheaply,
    so it is inferred from the same probe: a broker that keeps producer state per partition is a
    real Kafka log; the consumer also distrusts an end offset that lies below its own position.
    """

    idempotent_producer: bool
    exact_offsets: bool
    #: its group coordinator honours `group.instance.id` (a restarted member with the same id takes its
    #: partitions back without a rebalance) and a session of several seconds costs a restart nothing.
    #: Tansu advertises JoinGroup v5+ but waits out the old member's session all the same, so this too
    #: is inferred from the probe, not from ApiVersions.
    static_membership: bool = False
    #: its logs outlive a restart (Apache Kafka). Tansu in the embedded build keeps topics in memory: a
    #: restart empties it. Inferred from the same probe (a broker that grants producer ids keeps a real log).
    durable_logs: bool = False


def broker_may_lose_logs(settings: ServiceSettings, capabilities: BrokerCapabilities) -> bool:
    """Whether the outbox relay looks for a broker that came back without its logs (and republishes),
    and the consumer takes a partition without its offset marker for one to re-read from the start.

    `kafka_broker_may_lose_logs` decides where it is set; unset, the broker's answer does: never against
    a durable broker (Apache Kafka), whose logs a restart keeps. There a missing marker proves nothing:
    right after a restart its group coordinator may answer "no committed offset" (or a group-level error
    that aiokafka reads as no offset) for markers it holds, and a republish would be needless."""
    if settings.kafka_broker_may_lose_logs is not None:
        return settings.kafka_broker_may_lose_logs
    return not capabilities.durable_logs


_capabilities: dict[str, BrokerCapabilities] = {}


async def broker_capabilities(settings: ServiceSettings, *, refresh: bool = False) -> BrokerCapabilities:
    """Ask the broker (once per bootstrap list per process) what it supports."""
    key = settings.kafka_bootstrap_servers
    if key in _capabilities and not refresh:
        return _capabilities[key]
    options = connection_options(settings)
    client = AIOKafkaClient(**options, client_id=f"{settings.client_id}-probe", request_timeout_ms=5000)
    idempotent = False
    try:
        await client.bootstrap()
        brokers = sorted(b.nodeId for b in client.cluster.brokers())
        if brokers:
            conn = await client._get_conn(brokers[0])
            versions = getattr(conn, "_versions", {}) if conn else {}
            if INIT_PRODUCER_ID in versions:
                idempotent = await _grants_producer_id(client, brokers[0])
    finally:
        await client.close()
    caps = BrokerCapabilities(idempotent_producer=idempotent, exact_offsets=idempotent, static_membership=idempotent,
                              durable_logs=idempotent)
    log.info("broker capabilities", extra={"idempotent_producer": caps.idempotent_producer,
                                           "exact_offsets": caps.exact_offsets,
                                           "static_membership": caps.static_membership,
                                           "durable_logs": caps.durable_logs})
    _capabilities[key] = caps
    return caps


#: consumer group session where the broker has static membership: Apache Kafka's smallest by default
#: (group.min.session.timeout.ms); a restart with the same group.instance.id does not wait for it
SESSION_WITH_STATIC_MEMBERSHIP_MS = 6_000
#: where it has not (the embedded broker): a restarted member joins only once the dead member's session
#: is over, and this broker's join waits about half a session besides (measured: 1.0 s after a SIGKILL
#: at 1 s, 4.1 s at 1.5-2 s, 7.1 s at 3 s, 11.1 s at 6 s); it checks sessions only when a member joins,
#: so a member whose loop stalls is not evicted unless another joins meanwhile
SESSION_WITHOUT_STATIC_MEMBERSHIP_MS = 1_000
#: likewise, where several sibling workers consume (`consumer_workers` > 1): the group has several members, and
#: each join (a restarted worker's, a rebalance's rejoin) evicts every member whose heartbeat is a session late.
#: At 1 s, on a busy machine (load 8 on two cores) a member applying a batch of 5,000 missed it, rejoined and
#: evicted the other in turn: the group rebalanced over and over and read partitions again (bench/README.md, apply16).
#: Not longer (scale28): at 6.4M both workers' sessions expired while a student-level read held each loop for
#: seconds; those reads now give the loop a turn every 2,000 cells (≤ ~0.1 s of CPU at 400k events). A session that
#: expires costs a rebalance, nothing applied is lost (exactly once), while a longer one makes every crashed member's
#: partitions wait that long (Apache Kafka: ready 6.0 s after a SIGKILL at 6 s; this broker 1.8 × the session).
#: uvicorn's worker health check waits 60 s (`styrkedja_devstack.services.WORKER_HEALTHCHECK_TIMEOUT_S`): a stalled
#: worker loses its partitions long before it is killed.
SESSION_SHARED_WITHOUT_STATIC_MEMBERSHIP_MS = 6_000


def group_timing(settings: ServiceSettings, capabilities: BrokerCapabilities) -> tuple[int, int]:
    """(session timeout, heartbeat interval) in ms for a consumer group member: the settings where
    given, else chosen for the broker (see the constants above); heartbeats a quarter of the session."""
    session = settings.consumer_session_timeout_ms or (
        SESSION_WITH_STATIC_MEMBERSHIP_MS if capabilities.static_membership
        else SESSION_SHARED_WITHOUT_STATIC_MEMBERSHIP_MS if settings.consumer_workers > 1
        else SESSION_WITHOUT_STATIC_MEMBERSHIP_MS)
    heartbeat = settings.consumer_heartbeat_interval_ms or max(100, session // 4)
    return session, min(heartbeat, session - 1)


def connection_options(settings: ServiceSettings) -> dict[str, Any]:
    """Where and how every Kafka client of a service connects (bootstrap, TLS, SASL)."""
    options: dict[str, Any] = {"bootstrap_servers": settings.kafka_bootstrap_servers,
                               "security_protocol": settings.kafka_security_protocol}
    if settings.kafka_security_protocol in ("SSL", "SASL_SSL"):
        options["ssl_context"] = create_ssl_context(cafile=settings.kafka_ssl_cafile)
    if settings.kafka_security_protocol.startswith("SASL"):
        options["sasl_mechanism"] = settings.kafka_sasl_mechanism or "SCRAM-SHA-512"
        options["sasl_plain_username"] = settings.kafka_sasl_username
        options["sasl_plain_password"] = (settings.kafka_sasl_password.get_secret_value()
                                          if settings.kafka_sasl_password else None)
    return options


async def _grants_producer_id(client: AIOKafkaClient, node_id: int) -> bool:
    request = InitProducerIdRequest(transactional_id=None, transaction_timeout_ms=60_000)
    for _ in range(40):
        try:
            response = await within(client.send(node_id, request), 10)
        except Exception as exc:  # Tansu closes the connection or answers with an error
            log.info("broker refused InitProducerId", extra={"error": repr(exc)})
            return False
        if response.error_code not in RETRIABLE_COORDINATOR_ERRORS:
            return bool(response.error_code == 0 and response.producer_id >= 0)
        await asyncio.sleep(0.25)  # a fresh cluster is still creating its transaction state topic
    # a broker that keeps answering "coordinator loading" is a Kafka broker not ready yet (restarting),
    # not one without producer ids: no answer rather than a wrong one (the caller tries again later)
    raise ConnectionError("the broker's producer id coordinator did not become ready")


def make_producer(settings: ServiceSettings, client_id: str, *, idempotent: bool = False,
                  max_batch_size: int = 16_384) -> AIOKafkaProducer:
    """`idempotent` only where `broker_capabilities` said so: the broker then drops a batch the
    producer retried after a lost acknowledgement, so no record is written twice."""
    return AIOKafkaProducer(
        **connection_options(settings),
        client_id=client_id,
        acks="all",
        enable_idempotence=idempotent,
        linger_ms=5,
        max_batch_size=max_batch_size,
        request_timeout_ms=settings.kafka_producer_request_timeout_ms,
        retry_backoff_ms=200,
    )


def make_consumer(settings: ServiceSettings, client_id: str, **kwargs: Any) -> AIOKafkaConsumer:
    """`read_committed`: a school platform producing with transactions (the Java client, librdkafka) may abort
    one; its records stay in the log, and aiokafka's default (`read_uncommitted`) hands them out as events."""
    kwargs.setdefault("isolation_level", "read_committed")
    _inflation.limit = settings.inflated_batch_limit
    return AIOKafkaConsumer(**connection_options(settings), client_id=client_id, **kwargs)


# -- record batches the client cannot decode ---------------------------------------------------------


class UndecodableBatch(bytes):
    """The value of the one record a consumer is handed for a record batch the client could not decode
    (a codec it lacks or does not know, compressed bytes that do not inflate, records that cannot be told
    apart): the fetcher raised the error on every fetch of that partition, so the consumer restarted on the
    same batch for ever and nothing after it was read. It stands at the batch's last offset, so that storing
    the offset past it passes the batch; it is empty (the batch's records stay in the log at the offsets
    `reason` names). Where the batch's records before a fault could be read (`record_batches`), they are
    handed out as usual and this stands for the rest of the batch only."""

    reason: str
    #: the dead letter's `dlq.reason`
    dead_letter_reason = "undecodable_batch"

    def __new__(cls, reason: str) -> UndecodableBatch:
        value = super().__new__(cls, b"")
        value.reason = reason
        return value


class UndecodableRecord(UndecodableBatch):
    """The value of a stand-in for one record of a batch that cannot be read (its fields do not fit its length:
    `record_batches`), at that record's own offset; the batch's other records are handed out as usual."""

    dead_letter_reason = "undecodable_record"


def stand_in_refusal(value: bytes | None) -> tuple[str, str] | None:
    """(reason, message) for a record's value that stands for records the client could not read (the fetcher's
    stand-in: `UndecodableBatch`, `UndecodableRecord`), None for any other value. Every reader of the kit's
    consumers (the live loop, the rebuild) asks this before it decodes a value: a stand-in's value is empty,
    and `decode_event` would call it a tombstone."""
    if isinstance(value, UndecodableBatch):
        return value.dead_letter_reason, value.reason
    return None


_CODECS = {0: "none", 1: "gzip", 2: "snappy", 3: "lz4", 4: "zstd"}


# -- compressed batches inflate within a limit -------------------------------------------------------


class InflationLimitExceeded(ValueError):
    """A compressed record batch would inflate beyond `max_inflated_batch_bytes` (a compression bomb: 200 MB of
    zeros is 6 KB of zstd): it is not inflated further, and the batch is an `undecodable_batch`."""

    def __init__(self, limit: int) -> None:
        super().__init__(f"it inflates to more than {limit} bytes, the limit (max_inflated_batch_bytes)")


class _Inflation:
    #: the process's limit: every consumer of a service is made (`make_consumer`) from the same settings
    limit = INFLATED_BATCH_EVENTS * ServiceSettings.model_fields["max_event_bytes"].default


_inflation = _Inflation()
#: cramjam's error when the output buffer is full: the bytes inflate to more than it holds
_BUFFER_FULL = "failed to write whole buffer"


def _zstd_content_size(data: bytes) -> int | None:
    """The inflated size a zstd frame states in its header (RFC 8878 §3.1.1.1), if it does (librdkafka's do)."""
    if len(data) < 6 or data[:4] != b"\x28\xb5\x2f\xfd":
        return None
    descriptor = data[4]
    single_segment, size_flag = descriptor >> 5 & 1, descriptor >> 6
    at = 5 + (0 if single_segment else 1) + (0, 1, 2, 4)[descriptor & 3]
    width = (single_segment, 2, 4, 8)[size_flag]
    if not width or len(data) < at + width:
        return None
    return int.from_bytes(data[at:at + width], "little") + (256 if width == 2 else 0)


def _lz4_content_size(data: bytes) -> int | None:
    """The inflated size an LZ4 frame states in its header (its FLG's content size bit), if it does."""
    if len(data) < 14 or data[:4] != b"\x04\x22\x4d\x18" or not data[4] & 0x08:
        return None
    return int.from_bytes(data[6:14], "little")


def _into_buffer(decompress_into: Any, payload: Any, stated: Any) -> bytes:
    """zstd and lz4 frames inflated into a buffer that cramjam streams into and stops at when it is full: first
    one of the size the frame states (`stated`), or 8 times the compressed size (64 kB at least), then 8 times
    larger each time it was too small, at most one byte over the limit. So a bomb never takes more memory than
    that (whatever its header says), and normal batches no zeroed buffer of the limit's size (11 ms a batch)."""
    limit, data = _inflation.limit, bytes(payload)
    size = min(limit + 1, (stated(data) or max(65_536, 8 * len(data))) + 1)
    while True:
        out = bytearray(size)
        try:
            inflated = decompress_into(data, out)
        except cramjam.DecompressionError as error:
            if _BUFFER_FULL not in str(error):
                raise
            if size > limit:
                raise InflationLimitExceeded(limit) from None
            size = min(limit + 1, 8 * size)
            continue
        if inflated > limit:
            raise InflationLimitExceeded(limit)
        del out[inflated:]
        return bytes(out)


def _zstd_decode(payload: Any) -> bytes:
    return _into_buffer(cramjam.zstd.decompress_into, payload, _zstd_content_size)


def _lz4_decode(payload: Any) -> bytes:
    return _into_buffer(cramjam.lz4.decompress_into, payload, _lz4_content_size)


def _gzip_decode(payload: Any) -> bytes:
    """Every gzip member in turn (as `gzip.GzipFile` reads them, zero padding after one skipped), at most the
    limit plus one byte inflated."""
    limit = _inflation.limit
    data, out = bytes(payload), bytearray()
    while data:
        inflater = zlib.decompressobj(16 + zlib.MAX_WBITS)
        out += inflater.decompress(data, limit + 1 - len(out))
        if len(out) > limit:
            raise InflationLimitExceeded(limit)
        if not inflater.eof:
            raise EOFError("compressed gzip data ended before the end-of-stream marker was reached")
        data = inflater.unused_data.lstrip(b"\0")
    return bytes(out)


def _snappy_decode(payload: Any) -> bytes:
    """Raw snappy states its inflated length first, and xerial's framing (the Java client's) is raw blocks:
    the lengths are added up and checked before anything is inflated."""
    data = memoryview(bytes(payload))
    blocks = [data]
    if codec._detect_xerial_stream(data):
        blocks, cursor = [], 16
        while cursor < len(data):
            (size,) = struct.unpack_from("!i", data, cursor)
            if size < 0:
                raise ValueError("a snappy block of negative length")
            blocks.append(data[cursor + 4:cursor + 4 + size])
            cursor += 4 + size
    limit = _inflation.limit
    if sum(cramjam.snappy.decompress_raw_len(block) for block in blocks) > limit:
        raise InflationLimitExceeded(limit)
    return b"".join(bytes(cramjam.snappy.decompress_raw(block)) for block in blocks)


_BOUNDED_DECODERS = {"gzip_decode": _gzip_decode, "snappy_decode": _snappy_decode, "lz4_decode": _lz4_decode,
                     "zstd_decode": _zstd_decode}


def _bound_inflation() -> None:
    """aiokafka's record batches (its C extension and the pure Python ones, the v2 format and the old v0/v1) call
    these module-level names to inflate a batch: each now stops at the limit."""
    modules = [_default_records, _legacy_records]
    for name in ("aiokafka.record._crecords.default_records", "aiokafka.record._crecords.legacy_records"):
        with contextlib.suppress(ImportError):
            modules.append(importlib.import_module(name))
    for module in modules:
        for name, decoder in _BOUNDED_DECODERS.items():
            if hasattr(module, name):
                setattr(module, name, decoder)


_bound_inflation()


@dataclass(frozen=True)
class _StandIn:
    """A record as aiokafka's fetcher reads one (`PartitionRecords._consumer_record`)."""

    offset: int
    timestamp: int
    timestamp_type: int
    value: UndecodableBatch
    key: None = None
    checksum: None = None
    headers: tuple[()] = ()


class _ReadBatch:
    """A batch whose records were read (inflated) when it was taken: its attributes are the batch's."""

    def __init__(self, batch: Any, records: list[Any]) -> None:
        self._batch = batch
        self._records = records

    def __getattr__(self, name: str) -> Any:
        return getattr(self._batch, name)

    def validate_crc(self) -> bool:  # checked before it was read (aiokafka's batches allow no check after)
        return True

    def __iter__(self) -> Any:
        return iter(self._records)


_HAS_CODEC = _default_records.DefaultRecordBase()  # aiokafka's check that a codec is known and its library here


def _inflate(codec: int, payload: bytes) -> bytes:
    """A batch's records inflated as aiokafka inflates them (its codec check, the bounded decoders)."""
    _HAS_CODEC._assert_has_codec(codec)
    return _BOUNDED_DECODERS[f"{_CODECS[codec]}_decode"](payload)


def _read_batch(batch: Any, raw: Any = None) -> Any:
    """`batch` with its records read now (`_ReadBatch`). Where aiokafka cannot read it whole, or its records' offsets
    do not ascend within the batch's (aiokafka hands such records out: the fetcher drops one whose offset goes back,
    and one beyond the batch's last offset would move the stored offset past records not read), and `raw` (a
    callable: `batch` → its bytes, format v2) is given, it is read again record by record
    (`record_batches.read_records`): its good records are handed out as usual, each unreadable record or run as a
    stand-in in its place. Where that cannot read it either (its bytes do not inflate), or there are no bytes,
    one stand-in at its last offset. So is a batch whose CRC does not match its bytes: no record of it can be
    trusted. aiokafka raised for it on every fetch (the consumer restarted on it for ever, the rebuild's read
    failed): bytes spoilt on the way would pass a fetch again, but the embedded broker keeps a batch of any CRC,
    and a broker's disk may spoil one for good. A batch spoilt on the way alone (TCP's and TLS's checks passed)
    is dead-lettered all the same: its records stay in the log at the offsets the dead letter names."""
    if batch is None or getattr(batch, "is_control_batch", False):  # markers: the fetcher reads them itself
        return batch
    if not hasattr(batch, "base_offset") and batch.validate_crc():  # the old formats (v0, v1): `_read_legacy`
        legacy = _read_legacy(batch, raw)
        if legacy is not None:
            return legacy
    if not batch.validate_crc():
        stored = getattr(batch, "crc", None)  # aiokafka's old-format batches do not show it
        return _whole(batch, "its CRC does not match its bytes" + (f" (stored {stored:#010x})" if stored else ""))
    try:
        records = list(batch)
    except Exception as error:  # whatever a codec raises for these bytes: unknown codec, zlib, cramjam, lz4 frames
        return _read_tolerantly(batch, raw, f"{type(error).__name__}: {str(error)[:200]}")
    if records and getattr(batch, "magic", 0) >= 2 and not _ascending(records, batch.base_offset, batch.next_offset):
        return _read_tolerantly(batch, raw, "its records' offsets do not ascend within its own")
    return _ReadBatch(batch, records)


_OFFSET = operator.attrgetter("offset")


def _ascending(records: list[Any], first: int, end: int) -> bool:
    """Whether the records' offsets ascend within [first, end): a producer's batch holds every offset of it."""
    offsets = list(map(_OFFSET, records))
    if len(offsets) == end - first:
        return offsets == list(range(first, end))
    return first <= offsets[0] and offsets[-1] < end and all(map(operator.lt, offsets, offsets[1:]))


def _read_tolerantly(batch: Any, raw: Any, why: str) -> _ReadBatch:
    if raw is not None and getattr(batch, "magic", 0) >= 2:
        read = _read_again(batch, raw)
        if read is not None:
            stamp, stamp_type = batch.max_timestamp, batch.timestamp_type or 0
            return _ReadBatch(batch, [item if isinstance(item, record_batches.Record) else
                                      _StandIn(item.offset, stamp, stamp_type,
                                               (UndecodableBatch if item.framing else UndecodableRecord)(item.reason))
                                      for item in read])
    return _whole(batch, why)


def _whole(batch: Any, why: str) -> _ReadBatch:
    """The batch as one stand-in at its last offset."""
    last = batch.next_offset - 1
    first = getattr(batch, "base_offset", last)
    codec = _CODECS.get(getattr(batch, "compression_type", -1), "unknown")
    reason = f"the record batch at offsets {first}..{last} (compression {codec}) cannot be decoded: {why}"
    stamp, stamp_type = getattr(batch, "max_timestamp", -1), getattr(batch, "timestamp_type", 0) or 0
    return _ReadBatch(batch, [_StandIn(last, stamp, stamp_type, UndecodableBatch(reason))])


def _read_legacy(batch: Any, raw: Any) -> _ReadBatch | None:
    """A compressed message of the old formats (v0, v1) read by the kit, message by message
    (`record_batches.read_legacy_records`): aiokafka checks none of its inner messages' CRCs (a record spoilt in it was
    handed out as if sound) and reads it whole (one inner message that does not fit cost the wrapper's good records).
    Each unreadable record or run is a stand-in in its place; a wrapper no record of which can be trusted is one
    stand-in at its offset. None where this is a plain message (aiokafka reads it: its CRC is the record's) or its
    bytes are not at hand (aiokafka reads it as before)."""
    last = batch.next_offset - 1
    data = raw(batch) if raw is not None else None
    if data is None or record_batches.legacy_codec(data) == 0:
        return None
    codec = _CODECS.get(record_batches.legacy_codec(data), "unknown")
    try:
        read = record_batches.read_legacy_records(data, _inflate_legacy)
    except Exception as error:  # noqa: BLE001 - its CRC, its fields, its codec or its bytes not inflating
        why = str(error) if isinstance(error, record_batches.BatchUnreadable) else f"{type(error).__name__}: {error}"
        reason = f"the compressed message at offset {last} (compression {codec}) cannot be decoded: {why[:200]}"
        return _ReadBatch(batch, [_StandIn(last, -1, 0, UndecodableBatch(reason))])
    return _ReadBatch(batch, [item if isinstance(item, record_batches.Record) else
                              _StandIn(item.offset, -1, 0,
                                       (UndecodableBatch if item.framing else UndecodableRecord)(item.reason))
                              for item in read])


def _inflate_legacy(codec: int, payload: bytes) -> bytes:
    """A compressed message's value inflated as aiokafka inflates it (the bounded decoders)."""
    return _BOUNDED_DECODERS[f"{_CODECS[codec]}_decode"](payload)


def _read_again(batch: Any, raw: Any) -> list[record_batches.Record | record_batches.Unreadable] | None:
    """The batch's records read one by one from its bytes (`raw(batch)`); None where no record of it can be trusted."""
    try:
        data = raw(batch)
        if data is None or record_batches.batch_offsets(data) != (batch.base_offset, batch.next_offset - 1):
            log.warning("a record batch's bytes were not where the fetcher read it", extra={
                "base_offset": batch.base_offset})
            return None
        return record_batches.read_records(data, _inflate)
    except Exception:  # noqa: BLE001 - the batch's bytes do not inflate (or check): the batch is one stand-in
        return None


_LOG_OVERHEAD = 12  # a batch's base offset and length, before the bytes its length counts


class _CheckedRecords:
    """aiokafka's `MemoryRecords` of one fetched partition, handing out each batch read (see `UndecodableBatch`).
    Made by the fetcher from the fetch's bytes (`_fetcher.MemoryRecords`, below), it keeps them: a batch aiokafka
    cannot read whole is found in them (`_bytes_of`) and read again from its own bytes, record by record."""

    def __init__(self, data: Any = None, *, records: Any = None) -> None:
        self._records = records if records is not None else _memory_records.MemoryRecords(data)
        # no bound method kept on the instance (`self._find = self._bytes_of` was a reference cycle): one
        # per fetched partition, each holding its fetch's bytes, freed only by a full collection that
        # the collector's counts of objects (not bytes) seldom asked for (~40 MB unreturned at 4,000
        # students, growing with the data: bench/results/rss25.json); acyclic, it is freed when dropped
        self._data = data

    def has_next(self) -> bool:
        return bool(self._records.has_next())

    def next_batch(self) -> Any:
        return _read_batch(self._records.next_batch(), None if self._data is None else self._bytes_of)

    def _bytes_of(self, batch: Any) -> bytes | None:
        """The bytes of `batch` (v2; or a message of the old formats) in the fetch's, sliced as `MemoryRecords` slices them (each its length after
        its base offset); None where no batch there starts at its base offset."""
        data, at = self._data, 0
        # a message of the old formats (v0, v1) has no base offset: it stands at its own (its last record's)
        first = batch.base_offset if hasattr(batch, "base_offset") else batch.next_offset - 1
        while at + _LOG_OVERHEAD <= len(data):
            end = at + _LOG_OVERHEAD + int.from_bytes(data[at + 8:at + _LOG_OVERHEAD], "big", signed=True)
            if int.from_bytes(data[at:at + 8], "big", signed=True) == first:
                return bytes(data[at:end])
            if end <= at:
                break
            at = end
        return None

    def size_in_bytes(self) -> int:
        return int(self._records.size_in_bytes())


class _PartitionRecords(_fetcher.PartitionRecords):  # type: ignore[misc]
    def __new__(cls, tp: Any, records: Any, aborted: Any = None, fetch_offset: int = 0, key_deserializer: Any = None,
                value_deserializer: Any = None, *args: Any, **kwargs: Any) -> _PartitionRecords:
        # a consumer made with `record_runs` (its value "deserializer" the mark) is handed its records as runs
        return object.__new__(_RecordRuns if value_deserializer is record_runs else cls)

    def __init__(self, tp: Any, records: Any, *args: Any, **kwargs: Any) -> None:
        if not isinstance(records, _CheckedRecords):  # made elsewhere than the fetcher: without its bytes
            records = _CheckedRecords(records=records)
        super().__init__(tp, records, *args, **kwargs)


#: a record as a run holds it (`record_runs`): (topic, partition, offset, value, timestamp, key, headers). The value
#: is bytes: a null one (a tombstone) is `NULL_VALUE`, a stand-in (`UndecodableBatch`) its own, both empty and equal to
#: b"" — a decoder reads them as an empty value, and whoever keeps the tuple can still tell them apart. The headers are
#: None where there are none, the relay's (`CONTRACTS_FORM_HEADER` alone) the one `FORM_HEADERS`, others a tuple
RecordTuple = tuple[str, int, int, bytes, int, bytes | None, Any]


class NullValue(bytes):
    """The value of a record whose value is null, in a `RecordTuple` (empty, equal to b"")."""


NULL_VALUE = NullValue()
#: the relay's headers as every `RecordTuple` that has exactly these holds them: one object, so that a list of them
#: pickled holds them once (pickle's memo) and is unpickled as one (bench/README.md rebuild33)
FORM_HEADERS: tuple[tuple[str, bytes], ...] = (CONTRACTS_FORM_HEADER,)
_FORM_HEADERS_LIST = [CONTRACTS_FORM_HEADER]


def record_runs(value: bytes | None) -> Any:
    """The mark a consumer is made with (`make_consumer(..., value_deserializer=record_runs)`) to have its records
    handed out as runs: `getmany` gives, per partition, a list of record batches' `RecordTuple` lists, not a
    `ConsumerRecord` each (aiokafka's path per record was ~80 % of the bulk rebuild's read in its main process:
    bench/README.md rebuild35), with the same records, position, control batches and aborted transactions skipped
    (`_RecordRuns`). Its `max_records` counts runs. Never called as a deserializer (`_RecordRuns` reads no value)."""
    raise TypeError("record_runs marks a consumer whose records are handed out as runs; it deserializes nothing")


def record_tuples(topic: str, partition: int, records: Iterable[Any], first: int = 0) -> list[RecordTuple]:
    """`records` (as a batch hands them out: aiokafka's, the kit's `record_batches.Record`, a stand-in; or a
    `ConsumerRecord`) from offset `first` on, as `RecordTuple`s."""
    form, form_list, null = FORM_HEADERS, _FORM_HEADERS_LIST, NULL_VALUE
    return [(topic, partition, r.offset, null if (value := r.value) is None else value, r.timestamp, r.key,
             form if (headers := r.headers) == form_list or headers == form else tuple(headers) or None)
            for r in records if r.offset >= first]


class _RecordRuns(_PartitionRecords):
    """A fetched partition's records handed out a batch at a time, as `RecordTuple`s (`record_runs`): aiokafka's
    `PartitionRecords._unpack_records`, the same decisions batch by batch — a transaction's control batch and an
    aborted transaction's batches skipped (read_committed), every control batch skipped, records below the fetch
    offset left out (a batch may start before it) — and the position after a run its batch's next offset, so a
    `getmany` that stops after a run stores no position inside one."""

    def _unpack_records(self) -> Any:
        tp = self._tp
        topic, partition = tp.topic, tp.partition
        records = self._records
        while records.has_next():
            batch = records.next_batch()
            if self._check_crcs and not batch.validate_crc():  # (the kit's batches are checked when read)
                raise CorruptRecordException(f"Invalid CRC - {tp}")
            if self._isolation_level == _fetcher.READ_COMMITTED and batch.producer_id is not None:
                self._consume_aborted_up_to(batch.base_offset)
                if batch.is_control_batch and self._contains_abort_marker(batch):
                    self._aborted_producers.discard(batch.producer_id)
                if batch.is_transactional and batch.producer_id in self._aborted_producers:
                    self.next_fetch_offset = batch.next_offset
                    continue
            if batch.is_control_batch:
                self.next_fetch_offset = batch.next_offset
                continue
            run = record_tuples(topic, partition, batch, self.next_fetch_offset)
            # before the run is handed out: a `getall` that stops after it stores this position
            self.next_fetch_offset = batch.next_offset
            if run:
                yield run


#: the aiokafka release whose fetcher `_RecordRuns` copies its decisions from and `_PartitionRecords` (its `__new__`:
#: the arguments' order) and `_CheckedRecords` are made for. aiokafka is pinned at it (requirements/runtime.in, the kit's
#: pyproject.toml); another release is taken only where its parts below are unchanged (`check_aiokafka`)
AIOKAFKA_WRITTEN_FOR = "0.14.0"
#: each part of aiokafka's fetcher the runs copy or lean on, by the blake2b (16 bytes, hex) of its source in
#: AIOKAFKA_WRITTEN_FOR: `PartitionRecords` (its constructor's arguments and attributes, `_unpack_records`'s decisions
#: that `_RecordRuns._unpack_records` repeats batch by batch, `_consume_aborted_up_to`, `_contains_abort_marker`),
#: `FetchResult` (`getall`/`getone`: where the position is stored when a `getmany` stops after a run) and the fetcher's
#: routine that builds both by their module-level names (below) with its arguments in that order
AIOKAFKA_PARTS: dict[str, str] = {
    "PartitionRecords": "4e18f12900dd4a2b18d897995833d3be",
    "FetchResult": "e026eba3b6c694442c8a1040cd2ee833",
    "Fetcher._fetch_requests_routine": "f10d234335a577c8fd002d645d90e5a4",
}
#: `PartitionRecords.__init__`'s arguments as `_PartitionRecords.__new__` takes them (checked at every import: cheap)
_PARTITION_RECORDS_ARGUMENTS = ("self", "tp", "records", "aborted_transactions", "fetch_offset", "key_deserializer",
                                "value_deserializer", "check_crcs", "isolation_level")
#: the attributes and methods of aiokafka's `PartitionRecords` `_RecordRuns` uses
_PARTITION_RECORDS_USED = ("_unpack_records", "_consume_aborted_up_to", "_contains_abort_marker", "__next__")


def _aiokafka_part(name: str) -> Any:
    """aiokafka's own part `name` (`AIOKAFKA_PARTS`), not the kit's replacement of it in the fetcher's module."""
    head, _, rest = name.partition(".")
    part = _AIOKAFKA_PARTITION_RECORDS if head == "PartitionRecords" else getattr(_fetcher, head, None)
    return getattr(part, rest, None) if rest else part


def aiokafka_parts_changed(parts: dict[str, str] | None = None) -> list[str]:
    """The parts of `AIOKAFKA_PARTS` (or `parts`) whose source in the installed aiokafka is not the one written for
    (missing, or its source unreadable, counts as changed)."""
    changed = []
    for name, digest in (AIOKAFKA_PARTS if parts is None else parts).items():
        try:
            source = inspect.getsource(_aiokafka_part(name))
        except (OSError, TypeError):
            changed.append(name)
            continue
        if hashlib.blake2b(source.encode(), digest_size=16).hexdigest() != digest:
            changed.append(name)
    return changed


class AiokafkaChanged(ImportError):
    """The installed aiokafka's fetcher is not the one the kit's record runs were written for."""


def check_aiokafka(version: str | None = None, parts: dict[str, str] | None = None) -> None:
    """Raise `AiokafkaChanged` where the installed aiokafka's fetcher may read otherwise than `_RecordRuns` repeats it:
    the constructor's arguments or a method it uses gone (checked always), or, in a release other than
    `AIOKAFKA_WRITTEN_FOR`, the source of a part it copies or leans on changed (`aiokafka_parts_changed`; read only
    then: the pinned release is the written-for one). A rebuild reading by runs that no longer match aiokafka's own
    path would skip or repeat records without a word: this makes an upgrade fail at the first import instead."""
    version = aiokafka.__version__ if version is None else version
    base = _AIOKAFKA_PARTITION_RECORDS
    arguments = getattr(getattr(base.__init__, "__code__", None), "co_varnames", ())[:len(_PARTITION_RECORDS_ARGUMENTS)]
    missing = [name for name in _PARTITION_RECORDS_USED if not callable(getattr(base, name, None))]
    if arguments != _PARTITION_RECORDS_ARGUMENTS or missing or not hasattr(_fetcher, "READ_COMMITTED"):
        changed = [*(["PartitionRecords.__init__'s arguments"] if arguments != _PARTITION_RECORDS_ARGUMENTS else []),
                   *missing, *([] if hasattr(_fetcher, "READ_COMMITTED") else ["READ_COMMITTED"])]
    elif version == AIOKAFKA_WRITTEN_FOR and parts is None:
        return
    else:
        changed = aiokafka_parts_changed(parts)
    if changed:
        raise AiokafkaChanged(
            f"styrkedja_kit.kafka's record runs (`_RecordRuns`, the bulk rebuild's read) follow aiokafka "
            f"{AIOKAFKA_WRITTEN_FOR}'s fetcher; aiokafka {version} changed {', '.join(changed)}: compare "
            f"`_RecordRuns._unpack_records` with its `PartitionRecords._unpack_records`, run "
            f"packages/kit/tests/test_record_runs.py, then set AIOKAFKA_WRITTEN_FOR and AIOKAFKA_PARTS")


_AIOKAFKA_PARTITION_RECORDS: Any = _PartitionRecords.__mro__[1]
check_aiokafka()

# aiokafka's fetcher builds its MemoryRecords and PartitionRecords by these module-level names
# (`Fetcher._fetch_requests_routine`)
_fetcher.MemoryRecords = _CheckedRecords
_fetcher.PartitionRecords = _PartitionRecords


def make_admin(settings: ServiceSettings, client_id: str, **kwargs: Any) -> AIOKafkaAdminClient:
    return AIOKafkaAdminClient(**connection_options(settings), client_id=client_id, **kwargs)


async def ensure_topics(settings: ServiceSettings, topics: Iterable[tuple[str, int]], *,
                        recreate_misshapen: bool = False) -> None:
    """Create missing topics with their partition count (and `TOPIC_CONFIG` where the broker takes
    it); an existing topic keeps its partitions and gets `TOPIC_CONFIG` where it differs (`_align_topic_config`),
    unless `recreate_misshapen` and it has another partition count. That is for a log already
    lost: a broker that restarted empty creates a topic with its own default partition count
    when a producer sends to it first, and keys would no longer map to their partitions.
    Callers pass `recreate_misshapen` only when `kafka_repair_auto_created_topics` is on (the
    embedded devstack): deleting topics in a production cluster must never happen."""
    wanted = dict(topics)
    admin = make_admin(settings, "styrkedja-topics")
    await admin.start()
    try:
        existing = set(await admin.list_topics())
        # a producer's metadata request between the delete and the create may auto-create the topic again with the
        # broker's default count (CI saw it): the shape is checked again after each create, a few times
        for _ in range(_REPAIR_ATTEMPTS if recreate_misshapen else 1):
            if not recreate_misshapen or not (misshapen := await _misshapen(admin, wanted, existing)):
                break
            log.warning("recreating topics with the wrong partition count", extra={"topics": misshapen})
            await admin.delete_topics(misshapen)
            existing -= set(misshapen)
            await _create_wanted(admin, {name: wanted[name] for name in misshapen})
            existing = set(await admin.list_topics())
        missing = [name for name in wanted if name not in existing]
        if missing:
            await _create_wanted(admin, {name: wanted[name] for name in missing})
        present = sorted(name for name in wanted if name in existing)
        if present:
            await _align_topic_config(admin, present, TOPIC_CONFIG)
    finally:
        await admin.close()


_REPAIR_ATTEMPTS = 5


async def _misshapen(admin: AIOKafkaAdminClient, wanted: dict[str, int], existing: set[str]) -> list[str]:
    """The present topics whose partition count is not the wanted one. A broker may describe a topic it
    has just made without its partitions for a moment (Apache Kafka did in CI): such a topic is described
    again, a few times, before its empty shape counts as wrong — deleting a topic is not done on a guess."""
    present = [name for name in wanted if name in existing]
    counts: dict[str, int] = {}
    for attempt in range(_DESCRIBE_ATTEMPTS):
        unknown = [name for name in present if not counts.get(name)]
        if not unknown:
            break
        if attempt:
            await asyncio.sleep(_DESCRIBE_PAUSE_S)
        counts.update({d["topic"]: len(d["partitions"]) for d in await admin.describe_topics(unknown)})
    return [name for name, count in counts.items() if count != wanted[name]]


_DESCRIBE_ATTEMPTS = 20
_DESCRIBE_PAUSE_S = 0.1


async def _create_wanted(admin: AIOKafkaAdminClient, topics: dict[str, int]) -> None:
    refused = await _create_topics(admin, topics, TOPIC_CONFIG)
    if refused:  # a broker that does not take the configuration: the topics as it makes them
        log.warning("broker refused the topic configuration; topics created without it",
                    extra={"topics": sorted(refused), "config": TOPIC_CONFIG})
        await _create_topics(admin, {name: topics[name] for name in refused}, None)
    log.info("created topics", extra={"topics": sorted(topics)})


#: every topic the kit creates: the broker stamps each record with the time it appended it, so a record's
#: timestamp is not the producer's to choose, and the consumer's `time_in_future` (an event dated after its
#: record) judges by the broker's clock. A broker that refuses the setting gets its default (CreateTime)
TOPIC_CONFIG = {"message.timestamp.type": "LogAppendTime"}
#: CreateTopics answers of a broker that does not take a topic configuration
_CONFIG_REFUSED = {35, 40, 42, 44}  # unsupported version, invalid config, invalid request, policy violation


async def _create_topics(admin: AIOKafkaAdminClient, topics: dict[str, int], config: dict[str, str] | None,
                         ) -> set[str]:
    """Create `topics` (name → partitions) with `config`; the names whose configuration the broker
    refused (nothing else was wrong), to be created without it."""
    response = await admin.create_topics([NewTopic(name, num_partitions=partitions, replication_factor=1,
                                                   topic_configs=config or {})
                                          for name, partitions in topics.items()])
    refused = set()
    for name, code, *_ in response.topic_errors:
        if config and code in _CONFIG_REFUSED:
            refused.add(name)
        elif code not in (0, TOPIC_ALREADY_EXISTS):
            raise RuntimeError(f"could not create topic {name}: error code {code}")
    return refused


class IncrementalAlterConfigsResponse_v0(Response):  # type: ignore[misc]  # aiokafka has no type hints
    API_KEY = 44
    API_VERSION = 0
    SCHEMA = Schema(("throttle_time_ms", Int32),
                    ("responses", Array(("error_code", Int16), ("error_message", String("utf-8")),
                                        ("resource_type", Int8), ("resource_name", String("utf-8")))))


class IncrementalAlterConfigsRequest_v0(RequestStruct):  # type: ignore[misc]
    """KIP-339's IncrementalAlterConfigs (API key 44), version 0: aiokafka has only the older AlterConfigs,
    which replaces a topic's whole dynamic configuration (every setting not sent goes back to its default)."""

    API_KEY = 44
    API_VERSION = 0
    RESPONSE_TYPE = IncrementalAlterConfigsResponse_v0
    SCHEMA = Schema(("resources", Array(("resource_type", Int8), ("resource_name", String("utf-8")),
                                        ("configs", Array(("name", String("utf-8")), ("config_operation", Int8),
                                                          ("value", String("utf-8")))))),
                    ("validate_only", Boolean))


class IncrementalAlterConfigsRequest(Request[IncrementalAlterConfigsRequest_v0]):  # type: ignore[misc]
    """Sent only to a broker whose ApiVersions lists key 44 (aiokafka's `prepare` refuses it otherwise)."""

    API_KEY = 44
    SET = 0  # the config operation

    def __init__(self, topics: list[str], config: dict[str, str]) -> None:
        self.topics, self.config = topics, config

    def build(self, request_struct_class: type[IncrementalAlterConfigsRequest_v0]) -> IncrementalAlterConfigsRequest_v0:
        configs = [(name, self.SET, value) for name, value in self.config.items()]
        return request_struct_class([(int(ConfigResourceType.TOPIC), topic, configs) for topic in self.topics], False)


async def _align_topic_config(admin: AIOKafkaAdminClient, topics: list[str], config: dict[str, str]) -> list[str]:
    """Existing `topics` whose configuration differs from `config` (DescribeConfigs) altered to it, setting by
    setting (IncrementalAlterConfigs: their other settings stay); the names asked to change. A topic made before
    the kit asked for `config`, or by a producer's auto-creation, would keep the broker's default for good.
    Best effort, never a reason not to start: a broker that does not list the API, or a principal without the
    right to alter (the topics then come from the operator, as `deploy/k8s/kafka/topics.yaml`), gets a warning.
    A broker may take the setting and keep its own (the embedded one does): it is asked again at each start."""
    try:
        # every setting, filtered here: the embedded broker closes the connection when the names are given
        described = await admin.describe_configs([ConfigResource(ConfigResourceType.TOPIC, t, None) for t in topics])
        differing = sorted({resource[3] for response in described for resource in response.resources
                            if resource[0] == 0 and any(entry[0] in config and entry[1] != config[entry[0]]
                                                        for entry in resource[4])})
        if not differing:
            return []
        response = await admin._send_request(IncrementalAlterConfigsRequest(differing, config))
        refused = {name: code for code, _, _, name in response.responses if code != 0}
    except (KafkaError, OSError, TimeoutError) as error:
        log.warning("could not align the topics' configuration", extra={"error": type(error).__name__,
                                                                         "config": config})
        return []
    if refused:
        log.warning("broker refused to alter the topics' configuration", extra={"refused": refused, "config": config})
    else:
        log.info("altered the topics' configuration", extra={"topics": differing, "config": config})
    return differing


def registry_topics(dead_letter_groups: Iterable[str] = ()) -> list[tuple[str, int]]:
    """Every topic of the contracts registry, plus the dead-letter topics of the given groups."""
    from styrkedja_contracts import TOPICS, dead_letter_topic

    topics = [(t.name, t.partitions) for t in TOPICS.values()]
    topics += [(dead_letter_topic(group), 1) for group in dead_letter_groups]
    return topics

"""The consumer loop: batches from Kafka applied exactly once to the service's database.

For each batch, in ONE database transaction: the event ids are inserted into
`consumer_applied_events` (only the ids that were new are handed to the handler), the
handler changes the aggregates, and the next offset per partition is stored in
`consumer_offsets`. Offsets live in the database, not in Kafka; on assignment the loop seeks
to them. They are also committed to Kafka afterwards, but only as a marker.

Where a partition is read from when this member is handed it (`start_position`; invariant 1, nothing lost, decides):

1. The database holds the group's offset for it: from there. On a broker that may lose its logs (the embedded
   one), an offset the broker has no marker for means the broker lost its state: from the start of the log. A log
   that does not hold the offset is `log_gap`'s (below); one that holds it but is not the log it was stored for
   (`another_log`: none of the events just before it was applied here) is read from its start too.
2. The database holds no offset of this group for it, but offsets of other groups for the same topic and partition
   (the group was renamed; a fresh group over an existing database), and the broker keeps its logs: from the
   furthest of them. Each was stored in the transaction that claimed every event before it, and the claims are the
   database's, not a group's (`consumer_applied_events` is keyed by the event id, organiser and topic): a re-read from the start
   found every one of them claimed already — on a long log, hours of fetching and decoding that applied nothing.
   What it would not repeat: the other group's dead letters (on its own dead-letter topic), and events of a type no
   handler took then, which a handler added later gets from a replay, as it would under the old group. On a broker
   that may lose its logs such an offset may be of a log that is gone: from the start.
3. Otherwise from the start of the log, whatever the broker's marker for the group says. A marker is committed
   only after the transaction that stored the same offset in the database, so one this database has no offset for
   was written for another database: a restore from a backup older than the marker, a new (empty) database,
   another deployment sharing the group id. Starting at it would skip records this database never applied; a
   brand-new database always reads every partition from its start. The marker left aside is logged.
   Each start without an own offset is counted by where it read from (`styrkedja_consumer_partition_starts_total`).

A re-read of records applied before is harmless either way: the event-id bookkeeping skips them.

When the log does not hold the offset a partition is read from (`log_gap`, invariant 1 again):

- beyond its end (`replaced`): the topic was deleted and made again, or the broker came back without its logs and
  kept (or was given again) the group's marker. Read from the new log's start: every event in it is either applied
  already (skipped by its id) or new. Left at the offset, the consumer would wait until the new log grew past it and
  then skip everything before it (the embedded broker answers a fetch beyond the end with nothing, not an error).
  Found at assignment where end offsets count records (Apache Kafka: ListOffsets), and on any broker while running
  (`_replaced_logs`: a fetch's high watermark below the client's position; Apache Kafka: a fetch refused as out of
  range, `_off_the_log`).
- within it, but another log (`replaced` too, reason `not_applied_before_offset`): the topic was made again and grew
  past the offset before this member got the partition. At assignment the (up to `PROBE_RECORDS`) records before
  the offset are read and their event ids looked up among the applied ones (`another_log`); none of ours, and the
  offset was stored by a batch that claimed events (`_claimed_offsets`; not one set by hand to skip what lies
  before it): read from the start. Not told apart: a new log whose records just before the offset are events applied here already (a
  replay into the new topic before it grew past the offset); the replay itself is then what brings the rest.
- before its start (`truncated`, Apache Kafka): retention deleted records this database never applied. They are
  lost to it: read on from the log's start, and say how many (`styrkedja_consumer_log_records_lost_total`). Found at
  assignment (ListOffsets) and while running: the client runs with `auto_offset_reset="none"`, so a fetch at a
  position retention overtook is refused to the loop (`_off_the_log`), not moved to the log's start in silence.
  Reading on, not stopping, is what invariant 1 leaves: the records are gone from the log, a stopped consumer
  would lose more to retention meanwhile, and the producers' outboxes still hold them (`styrkedja replay`).

Either is logged (an error for `truncated`), counted (`styrkedja_consumer_log_gaps_total{kind}`) and shown in
/readyz (`log_gaps` of the consumer, the newest few); it does not make the service unready.

A loop given `handles` (which event types its handler applies) skips the other types without
recording them as applied: a handler added later, plus a replay, still picks them up.

Events that cannot be decoded, are invalid, of an unknown version or too big go to the
group's dead-letter topic with the reason; the loop carries on. Where such a record's headers say it is
in another CloudEvents content mode than structured JSON (`ce_*` headers: binary; a `content-type` other
than `application/cloudevents+json`), the reason is `content_mode`, naming that rule. So do an event on another entity's
topic (`wrong_topic`: it would be applied out of order with its entity's events), a record whose key
is not the one the topic registry gives its event (`key_mismatch`: another organiser's partition,
beside its single writer's order), an event whose
`time` lies more than `MAX_AHEAD_OF_RECORD_MS` after its record's timestamp (`time_in_future`: the
newest event time is reporting's clock for freshness and alerts, one such event would move it for
good; so does a date-time of its data, whose newest wins a directory entry or a LIKA compilation) and an event whose claim (its id within its organiser, `claim_organiser`: the record's message key, and its
topic; another organiser's event under the same id is its own, and so is one on another topic) an event with other
content already holds (`conflicting_duplicate`: the first one
counts; a re-delivery of the same bytes, or of the same event in other JSON form, is an ordinary duplicate,
applied once: `same_content`). For the latter each applied id keeps a digest of its record's bytes where the record
says it is in the contracts' form (the outbox relay's header, `kafka.CONTRACTS_FORM_HEADER`), else of the event's
contracts' form (`content_digest`). Before a record is written there,
anything in its value or key that looks like a personnummer (the contracts' detector, any
spelling) is replaced by `[REDACTED]`, and the header `dlq.redacted` says how many were.
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import functools
import gc
import hashlib
import heapq
import logging
import math
import re
import time
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable, Collection, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from urllib.parse import unquote
from uuid import UUID

import asyncpg
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, ConsumerRebalanceListener, ConsumerRecord, TopicPartition
from aiokafka.errors import (
    IllegalStateError,
    MessageSizeTooLargeError,
    NoOffsetForPartitionError,
    OffsetOutOfRangeError,
    RecordListTooLargeError,
    RecordTooLargeError,
)
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
    exists,
    func,
    select,
    text,
)
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession
from tenacity import AsyncRetrying, RetryCallState, retry_if_exception, stop_after_attempt, wait_incrementing

from styrkedja_contracts import (
    TOPICS,
    CloudEvent,
    ContractError,
    OversizedEventError,
    dead_letter_topic,
    decode_event,
    key_mismatch,
    topic_for_event_type,
)
from styrkedja_contracts.envelope import MAX_AHEAD_OF_RECORD_MS  # the skew, the contracts' (re-exported here)
from styrkedja_contracts.events.base import datetime_as_text
from styrkedja_contracts.identifiers import (
    canonical_organiser_id,
    contains_personal_identity_number,
    redact_personal_identity_numbers,
)
from styrkedja_contracts.kafka_binding import content_mode_refusal
from styrkedja_contracts.registry import EVENT_MODELS

from . import metrics
from .db import Database
from .kafka import (
    CONTRACTS_FORM_HEADER,
    UndecodableBatch,
    broker_capabilities,
    broker_may_lose_logs,
    ensure_topics,
    group_timing,
    make_consumer,
    make_producer,
    registry_topics,
)
from .sets import any_of
from .settings import ServiceSettings
from .supervise import cancel_and_wait, end_if_cancel_asked, run_until_stopped, within

log = logging.getLogger(__name__)


def redact_record_bytes(raw: bytes | None) -> tuple[bytes | None, int]:
    """A dead-letter record's bytes without personal identity numbers, and how many were removed.
    Bytes that are not UTF-8 are read with replacement characters first: then they are not the
    raw bytes any more, but nothing sensitive survives in them either. Nor in any other reading a
    reader of the dead-letter topic may take of them (`_hidden_reading`: UTF-16 or UTF-32, where an
    ASCII digit is padded with NULs, and a legacy encoding's dash between the digits, which UTF-8
    cannot read): each reading that holds a number is redacted in turn, until none does."""
    if not raw:
        return raw, 0
    value, total = raw, 0
    for _ in range(_REDACTION_PASSES):
        text = _readable(value)
        redacted, count = redact_personal_identity_numbers(text)
        if not count:
            hidden = _hidden_reading(value, text)
            if hidden is None:
                return value, total  # `raw` itself where nothing was found
            redacted, count = redact_personal_identity_numbers(hidden)
        value, total = redacted.encode("utf-8", errors="replace"), total + count
    return b"[REDACTED]", total + 1  # readings within readings beyond the passes: nothing of it is kept


#: how many readings `redact_record_bytes` redacts in turn (each pass every number of one reading)
_REDACTION_PASSES = 8
_OTHER_ENCODINGS = ("utf-16-le", "utf-16-be", "utf-32-le", "utf-32-be")


def _readable(raw: bytes) -> str:
    """`raw` as text: UTF-8 (a byte it cannot read is U+FFFD), JSON escapes read."""
    text = raw.decode("utf-8", errors="replace")
    # JSON escapes ("\u2013", "\uff11") would hide a number from the detector: read them as text
    if "\\u" in text:
        try:
            import json
            decoded = json.loads(text)
            text = json.dumps(decoded, ensure_ascii=False)
        except (ValueError, RecursionError):
            pass
    return text


def _hidden_reading(raw: bytes, text: str) -> str | None:
    """Another reading of `raw` (read as UTF-8, JSON escapes read where it is JSON: `text`) that holds a personal
    identity number, or None: `text` with its `\\uXXXX` escapes read where it is no JSON (`_readable` reads them only
    in a document `json.loads` takes: a value cut short, or with a NaN or a trailing comma, kept its escaped digits);
    `text` percent-decoded (round 36: the contracts refuse a number so spelt in a link or a `source`, and the dead
    letter kept it);
    and for bytes that are not UTF-8 or hold a NUL (other bytes hold no NUL-padded digit of UTF-16 or UTF-32) the bytes
    as UTF-16 and UTF-32 of either byte order (whole: a non-ASCII dash between the digits read too), then `text`
    without its NULs (UTF-16 or UTF-32 beside other bytes) and with each byte UTF-8 cannot read as a dash (cp1252's
    en dash 0x96, Latin-1's soft hyphen 0xAD, ...)."""
    readings = []
    if "\\u" in text:
        readings.append(_JSON_ESCAPE.sub(_escaped, text))
    if "%" in text:  # percent-encoded (a link's, an envelope's `source`: `%31%39…`, refused by the contracts so)
        readings.append(unquote(text))
    if "\x00" in text or "\ufffd" in text:
        readings += [raw.decode(encoding, errors="replace") for encoding in _OTHER_ENCODINGS]
        readings.append(text.replace("\x00", "").replace("\ufffd", "-"))
    return next((reading for reading in readings if contains_personal_identity_number(reading)), None)


_JSON_ESCAPE = re.compile(r"\\u([0-9A-Fa-f]{4})")


def _escaped(found: re.Match[str]) -> str:
    return chr(int(found.group(1), 16))


def define_consumer_tables(metadata: MetaData) -> tuple[Table, Table]:
    applied = Table(
        "consumer_applied_events", metadata,
        Column("event_id", Uuid, primary_key=True),
        # whose the claim is (`claim_organiser`: the record's message key): an event id is unique within its
        # organiser only — ids are visible to every reader of a topic, and one organiser's event under another's id
        # (on its own partition) must neither keep the other's from being applied nor win by the partitions' order.
        # `LEGACY_ORGANISER` on a claim made before claims were per organiser (it counts for every organiser)
        Column("organiser_id", String, primary_key=True),
        # and of which topic (`Delivered.topic`, the record's): each topic carries its own event types, so an
        # assessment event and a support event under one id (a hostile or buggy producer's) are two events — claimed
        # by the id and organiser alone, the one read first kept the other out, and the live apply (which reads the
        # topics side by side) and the rebuild (another order) kept different ones. `LEGACY_TOPIC` on a claim made
        # before claims were per topic (it counts for every topic)
        Column("topic", String(200), primary_key=True),
        Column("group_id", String(200), nullable=False),
        Column("applied_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
        # of the record's bytes (`record_digest`): another event under an applied id is told from a
        # re-delivery; NULL where an id was recorded without one (nothing to compare then)
        Column("digest", LargeBinary, nullable=True),
        # the claims of unknown topic (`LEGACY_TOPIC`; those of unknown organiser, `LEGACY_ORGANISER`, are of unknown
        # topic too), found by id: empty once a rebuild made them again
        Index("ix_consumer_applied_events_legacy", "event_id", postgresql_where=text(f"topic = '{LEGACY_TOPIC}'")),
    )
    offsets = Table(
        "consumer_offsets", metadata,
        Column("group_id", String(200), primary_key=True),
        Column("topic", String(200), primary_key=True),
        Column("partition", Integer, primary_key=True),
        Column("next_offset", BigInteger, nullable=False),
        Column("updated_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    )
    return applied, offsets


class Refused(Exception):
    """Raised by a handler for an event it will not apply (e.g. an organiser writing a unit it does
    not own): the batch is retried in halves and this event goes to the dead-letter topic with
    `reason` (a short code) and `message` (no personal data) instead of `handler_failed`."""

    def __init__(self, reason: str, message: str = "") -> None:
        super().__init__(reason)
        self.reason = reason[:64]
        self.message = message[:500] or reason[:64]


#: the organiser of a claim made before claims were per organiser (migrated ids: whose it was is not known). It counts
#: for every organiser: a re-delivery of such an event is a duplicate whatever its key. No record's key is this on a
#: registered topic (`key_mismatch`: a key names the event's organiser id)
LEGACY_ORGANISER = "*"
#: the topic of a claim made before claims were per topic (migrated claims, `LEGACY_ORGANISER`'s among them: which topic
#: the event was read from is not known). It counts for every topic: a re-delivery of such an event is a duplicate on
#: whichever topic. No Kafka topic is named this (a topic name is of [a-zA-Z0-9._-] only)
LEGACY_TOPIC = "*"


@functools.lru_cache(maxsize=4096)  # asked per record: a topic's keys are its few organisers
def claim_organiser(key: bytes | None) -> str:
    """Whose a claim of a record's event is: the organiser its message key names (the topics are keyed by organiser
    id, `topics.message_key`), in the one spelling (`canonical_organiser_id`: a key in another spelling of the same
    organiser, which `key_mismatch` lets through, is the same organiser's claim, so its re-delivery stays a duplicate).
    On a registered topic this is the event's data.organiser_id. No key (a topic the registry does not know): ''."""
    if not key:
        return ""
    return canonical_organiser_id(key.decode("utf-8", errors="replace").replace("\x00", ""))


def _organiser_of(item: Delivered) -> str:
    return item.organiser if item.organiser is not None else event_organiser(item.event)


#: a claim: (event id, organiser: `claim_organiser`, topic)
Claim = tuple[UUID, str, str]


def claim_of(item: Delivered) -> Claim:
    """What an applied event is claimed by: its id, within its organiser (`claim_organiser`) and its topic (each topic
    carries its own event types: the same id on two topics is two events, as CloudEvents' `source` and `id` say)."""
    return item.event.id, _organiser_of(item), item.topic


def legacy_claims(claim: Claim) -> tuple[Claim, Claim]:
    """The claims made before claims were per topic (`LEGACY_TOPIC`) or per organiser (`LEGACY_ORGANISER`, of unknown
    topic too) that count for `claim` (pure): its id within its organiser, and its id alone."""
    event_id, organiser, _ = claim
    return (event_id, organiser, LEGACY_TOPIC), (event_id, LEGACY_ORGANISER, LEGACY_TOPIC)


def event_organiser(event: CloudEvent) -> str:
    """`claim_organiser` of an event handed over without its record (`Delivered.organiser` None: a test's, a
    bench's, an outbox's row): its data's organiser id, which a registered topic's key is."""
    value = getattr(event.data, "organiser_id", None)
    return "" if value is None else str(value)


@dataclass(frozen=True)
class Delivered:
    """A decoded event with where it came from (and `record_digest` of its bytes, where known)."""

    event: CloudEvent
    topic: str
    partition: int
    offset: int
    #: what an applied id keeps (`content_digest`): the digest of the record's bytes, or of the event's contracts' form
    digest: bytes | None = None
    #: the digest of the record's own bytes where `digest` is of the contracts' form instead (ids applied before
    #: `content_digest` kept their first record's bytes' digest: an exact re-delivery of one is still a duplicate)
    bytes_digest: bytes | None = None
    #: whose its claim is (`claim_organiser` of its record's key); None: the event's own (`event_organiser`)
    organiser: str | None = None


_REGISTERED_TOPICS = frozenset(topic.name for topic in TOPICS.values())


#: a blake2b of 16 bytes with nothing hashed yet: `record_digest` hashes each record with a copy of it, not with a new
#: hasher whose keyword arguments are read every time (~0.3 of ~1.8 µs per record, bench/README.md decode36)
_BLAKE2B_16 = hashlib.blake2b(digest_size=16)


def record_digest(raw: bytes) -> bytes:
    """`hashlib.blake2b(raw, digest_size=16).digest()`."""
    digest = _BLAKE2B_16.copy()
    digest.update(raw)
    return digest.digest()


def in_contracts_form(headers: Sequence[tuple[str, bytes | None]] | None) -> bool:
    """Whether a record's headers say its value is the event in the contracts' form (`CONTRACTS_FORM_HEADER`, the
    outbox relay's): a look at the headers, no serialisation."""
    return headers is not None and CONTRACTS_FORM_HEADER in headers


def content_digests(raw: bytes, event: CloudEvent,
                    headers: Sequence[tuple[str, bytes | None]] | None = None) -> tuple[bytes, bytes | None]:
    """(`Delivered.digest`, `Delivered.bytes_digest`) of a record whose value `raw` decoded to `event`: the digest of
    its bytes where its `headers` say they are the contracts' form (`in_contracts_form`: the outbox relay's records,
    no other work per event), else the digest of the event's contracts' form and of its bytes. An id keeps the first:
    compared with it, a re-send in any JSON form is the same event (`same_content`). Kept of the bytes alone, an event
    first written by another producer (spaces, another key order, escapes) made every re-send in another form a
    `conflicting_duplicate`; so did one whose bytes merely begin as the contracts' do (`{"specversion":"1.0","id":"`,
    as the Java and Go CloudEvents SDKs write them, then another key order or spacing) while that beginning chose the
    bytes' digest.

    A producer that forges the header on bytes in another form harms only its own re-sends (the id keeps its bytes'
    digest: a later re-send in another form is a `conflicting_duplicate`, as it was before the header); the
    event itself is applied once all the same. A record from before the header (the contracts' form without it) gets
    the contracts' form's digest, which its bytes' is; its id kept its bytes' digest then, which a re-delivery of the
    same bytes still matches (`bytes_digest`)."""
    own = record_digest(raw)
    if in_contracts_form(headers):
        return own, None
    return record_digest(event.to_bytes()), own


def content_digest(raw: bytes, event: CloudEvent, headers: Sequence[tuple[str, bytes | None]] | None = None) -> bytes:
    """`content_digests`' first: what an applied id keeps (the rebuild's, which keeps no older digest)."""
    return content_digests(raw, event, headers)[0]


def undecodable_message(error: BaseException) -> str:
    """The dead letter's message for a record whose decode failed by another error than the contracts' refusals."""
    return f"message could not be decoded: {type(error).__name__} (not a contract error: a fault of the decode)"


def same_content(item: Delivered, digest: bytes) -> bool:
    """Whether `item` is the event whose record had `digest` (`content_digest`, or of its bytes where kept before it):
    the same bytes, or the same event as the contracts write it (`CloudEvent.to_bytes`). An event is a JSON value, not
    its bytes: a re-send with other key order, spacing or escapes is the same event, not a `conflicting_duplicate`.
    Computed only for a duplicate whose bytes differ, never per event."""
    return digest in (item.digest, item.bytes_digest) or record_digest(item.event.to_bytes()) == digest


@functools.lru_cache(maxsize=256)
def _topic_of(event_type: str) -> str | None:
    try:
        return topic_for_event_type(event_type).name
    except KeyError:
        return None


@functools.lru_cache(maxsize=1024)  # asked per record (the live consumer's and each rebuild decoder's): few pairs
def misplaced(event_type: str, topic: str) -> str | None:
    """Why an event of `event_type` read from `topic` must not be applied, or None: every event
    of one entity travels on its topic (the registry's), in order per key. A topic the registry
    does not know (a test's own) is not judged. Pure (`TOPICS` is fixed): remembered per pair."""
    expected = _topic_of(event_type)
    if expected is None or expected == topic or topic not in _REGISTERED_TOPICS:
        return None
    return f"{event_type} travels on {expected}, not on {topic}"


#: record timestamps before 2000 (no event may be older, see the envelope's `time`) are not judged:
#: a broker or client that sets none gives -1 or 0
_EARLIEST_TIMESTAMP_MS = 946_684_800_000


@functools.cache
def _moment_fields(data_type: type) -> tuple[str, ...]:
    """The date-time fields of an event's data (`published_at`, `updated_at`, `removed_at`, …: each says when the
    thing happened), by the text rule the contracts gave them."""
    fields_ = getattr(data_type, "model_fields", {})
    return tuple(name for name, info in fields_.items()
                 if any(getattr(meta, "func", None) is datetime_as_text for meta in info.metadata))


def ahead_of_record(event: CloudEvent, timestamp_ms: int | None, *,
                    seconds: Callable[[datetime], float] | None = None) -> str | None:
    """Why an event whose `time`, or a moment of its data, lies too far after its record's timestamp must not be
    applied, or None. Judged by the record, not by the consumer's clock, so that a replay or a rebuild decides the
    same. The data's moments since round 28t: the directory keeps the change of the newest `updated_at` (and
    `removed_at`), reporting's LIKA the self-assessment of the newest `published_at`, so one of a producer whose clock
    said 2099 (sent with a true `time`) won over every later change until then, each answered and applied as nothing.

    `seconds`: a moment's `timestamp()` by another way that gives the same number (the rebuild's decoders remember it
    per distinct moment with the moment's COPY text, `rebuild.bulk._seconds`: a `timestamp()` of a decoded time was
    ~0.6 µs, two per fact event); None: `timestamp()`."""
    if timestamp_ms is None or timestamp_ms < _EARLIEST_TIMESTAMP_MS:
        return None
    latest = timestamp_ms + MAX_AHEAD_OF_RECORD_MS
    # every event of the log passes here (the live consumer and each rebuild decoder): the moments are judged in
    # place, a place's name made only for the one that fails (a list of (name, moment) pairs with a formatted name
    # per field: 2.1-2.8 us per event against 1.7 judged in place, of a rebuild decoder's ~30: bench/README.md rebuild33)
    moment: datetime | None = event.time
    if moment is not None and (moment.timestamp() if seconds is None else seconds(moment)) * 1000 > latest:
        return _ahead("time", moment, timestamp_ms)
    data = event.data
    # the fields by the event type's registered data model, not by the data's class: the rebuild's fast path judges
    # the decode's shadow (`fastpath`), whose fields carry their rules in pydantic-core, not as `datetime_as_text`
    for name in _moment_fields(EVENT_MODELS.get(event.type) or type(data)):
        moment = getattr(data, name, None)
        if moment is not None and (moment.timestamp() if seconds is None else seconds(moment)) * 1000 > latest:
            return _ahead(f"data.{name}", moment, timestamp_ms)
    return None


def _ahead(where: str, moment: datetime, timestamp_ms: int) -> str:
    sent = datetime.fromtimestamp(timestamp_ms / 1000, UTC).isoformat(timespec="seconds")
    return (f"{where}: {moment.isoformat()} is more than {MAX_AHEAD_OF_RECORD_MS // 60_000} minutes after "
            f"the record was sent ({sent})")


def unfit(event: CloudEvent, topic: str, timestamp_ms: int | None, *, key: bytes | None,
          seconds: Callable[[datetime], float] | None = None) -> tuple[str, str] | None:
    """The dead-letter reason and message for a decoded event that must not be applied, or None:
    `wrong_topic` (`misplaced`), `key_mismatch` (the record's key is not the one the topic registry
    gives its event: the contracts' `key_mismatch`), `time_in_future` (`ahead_of_record`). The live
    consumer and the rebuild judge by this one function. A topic the registry does not know (a
    test's own) is judged by time only. `seconds`: `ahead_of_record`'s."""
    wrong = misplaced(event.type, topic)
    if wrong is not None:
        return "wrong_topic", wrong
    if topic in _REGISTERED_TOPICS:
        other_key = key_mismatch(event, key)
        if other_key is not None:
            return "key_mismatch", other_key
    ahead = ahead_of_record(event, timestamp_ms, seconds=seconds)
    if ahead is not None:
        return "time_in_future", ahead
    return None


@dataclass(frozen=True)
class StartPosition:
    """Where a partition is read from (`start_position`): `offset` (0: the log's start), `source` (`stored`: the
    group's own offset; `other_group`: the furthest another group stored; `log_start`), and `confirm_marker`: an
    own offset on a broker that may lose its logs, to be read from the start if the broker has no marker for it."""

    offset: int
    source: str
    confirm_marker: bool = False


def log_gap(offset: int, log_start: int | None, log_end: int | None) -> str | None:
    """The module docstring's rule for an offset the log does not hold (pure): `replaced` where it lies beyond the
    log's end, `truncated` where it lies before its start, else None (an unknown bound proves nothing)."""
    if log_end is not None and offset > log_end:
        return "replaced"
    if log_start is not None and offset < log_start:
        return "truncated"
    return None


#: how many records just before a stored offset are read at assignment to tell the group's log from another one
#: (`another_log`)
PROBE_RECORDS = 20
#: how long that read may take in all (a check only: where it runs out, the offsets stand as stored)
PROBE_SECONDS = 3.0
#: how long a client's stop may take: aiokafka's consumer waits for its coordination task to finish, which, while
#: the group coordinator is "not available", goes on looking for it without end — a loop asked to end (a shutdown,
#: a crashed batch's restart) stood there. Nothing is lost by not waiting: the offsets are the database's, and the
#: broker drops the member when its session times out
CLIENT_STOP_SECONDS = 20.0
#: how long a running member may hold no assignment before its clients are made anew (`ConsumerLoop._run_watched`).
#: A member waits for one while the group rebalances (a dead member's session, the others' rejoin: seconds here);
#: one that waited on with the broker and the database both up (CI, a Kafka SIGKILL and restart: over 180 s,
#: where the join never completed) applied nothing until its process restarted. Made anew, it joins as a new member
#: (the offsets are the database's: nothing is read twice or lost); well above any rebalance this system makes
ASSIGNMENT_STALL_SECONDS = 60.0
#: how often the watch looks
_STALL_CHECK_SECONDS = 1.0


class AssignmentStalled(Exception):
    """This member held no assignment for `ConsumerLoop.assignment_stall_seconds`: its run is ended and restarted."""


async def _stop_client(name: str, stopping: Awaitable[None], seconds: float = CLIENT_STOP_SECONDS) -> None:
    """Wait for a client's stop at most `seconds` (`CLIENT_STOP_SECONDS`, `ConsumerLoop.client_stop_seconds`); one
    that takes longer is left (its stop cancelled) and said."""
    try:
        await within(stopping, seconds)
    except TimeoutError:
        log.warning("the Kafka %s did not stop within %g s; left to the broker's session timeout", name, seconds)


def another_log(before: Collection[Any], applied: Collection[Any]) -> bool:
    """Whether the records just before a stored offset are of another log (pure): `before` the ids of the events
    among them a handler takes, `applied` those of them this database applied. In the log the offset was stored
    for, they were applied (or dead-lettered: not claimed, so no event of theirs proves anything); a topic deleted
    and made again that grew past the offset holds other events there. None of ours is another log; nothing to
    compare (no event, every record dead-lettered) proves nothing. The live loop compares claims (`claim_of`: event
    id, organiser, topic), as it claims them."""
    return bool(before) and not any(event_id in applied for event_id in before)


#: the newest log gaps a consumer shows in /readyz
LOG_GAPS_SHOWN = 10
#: how often the loop compares the positions with the fetches' high watermarks (`ConsumerLoop._replaced_logs`)
GAP_CHECK_SECONDS = 1.0


def start_position(own: int | None, others: Collection[int], *, may_lose_logs: bool) -> StartPosition:
    """The module docstring's rule (pure): `own` the group's offset in the database for the partition, `others` the
    offsets other groups stored there for it, `may_lose_logs` whether the broker may come back without its logs.
    The broker's own marker for the group is never a place to start from (rule 3)."""
    if own is not None:
        return StartPosition(own, "stored", confirm_marker=own > 0 and may_lose_logs)
    if others and not may_lose_logs:
        return StartPosition(max(others), "other_group")
    return StartPosition(0, "log_start")


Handler = Callable[[AsyncSession, Sequence[Delivered]], Awaitable[None]]
#: a client's `getmany(timeout_ms=, max_records=)`
Fetch = Callable[..., Awaitable[dict[TopicPartition, list[ConsumerRecord]]]]


_pauses = 0  # transactions of consumer loops in this process running now (one process may run several)
_enable_after = False  # whether the collector was on when the first of them began


@contextlib.contextmanager
def collector_paused() -> Iterator[None]:
    """No cyclic garbage collection while a batch's transaction runs: it comes after, between batches.

    A batch of thousands of events allocates millions of objects, so with the default thresholds the
    collector ran dozens of times inside each transaction, and every run walked the batch in hand (and a
    full one every long-lived object): ~220 ms of a 740 ms batch's Python CPU, with the transaction's
    locks held all the while (bench/results/apply11.json). Paused, the allocations still count, so the
    first allocation after the commit runs one collection of the young generation, which finds the
    batch's own cycles; the older generations follow by the usual counts, far less often. What stays
    uncollected is bounded by one batch's (and the requests' served beside it) cycles. The collector
    is left as it was where something else had turned it off."""
    global _pauses, _enable_after
    if _pauses == 0:
        _enable_after = gc.isenabled()
        gc.disable()
    _pauses += 1
    try:
        yield
    finally:
        _pauses -= 1
        if _pauses == 0 and _enable_after:
            gc.enable()


def _forget_batch(session: AsyncSession) -> None:
    """Drop what the batch's handlers kept in `session.info` (its facts, changes, memos) once the transaction is
    over. A session sits in reference cycles (session, transaction, connection), so whatever its `info` holds was
    freed only by the cycle collector's young collection after the batch (`collector_paused`), which walked every
    object of it: ~15,000 per deadline-week batch of 5,000 (a fact, its dict and its pair per result; bench/README.md
    apply35py). Cleared, they are freed by their reference counts as the batch ends."""
    session.info.clear()


#: records a process's consumer loops apply between two `release_memory` calls: ~2 ms each (glibc's
#: `malloc_trim`), once per ~4 s of a loop catching up (bench/results/rss25.json)
RELEASE_EVERY_RECORDS = 20_000
_applied_since_release = 0  # records applied in this process since the last release


def _find_malloc_trim() -> Callable[[int], int] | None:
    try:
        return ctypes.CDLL(None).malloc_trim
    except (AttributeError, OSError):  # not glibc (musl, macOS): nothing to call
        return None


_malloc_trim = _find_malloc_trim()


def release_memory(records: int) -> bool:
    """After every `RELEASE_EVERY_RECORDS` records applied (counted over the process's consumer loops), the
    pages glibc's heap holds free given back to the system (`malloc_trim(0)`); True when they were.

    A batch of thousands of events allocates dicts, lists and buffers of many kilobytes on the C heap;
    freed, glibc keeps their pages for its next allocations, so a worker's RSS stayed ~50 MB above what
    it used (bench/results/rss25.json: reporting's loop in-process, 217 MB at the end of apply, 165 MB after
    one `malloc_trim`). Trimmed every 20,000 records: 194–209 MB, for ~0.05 % of the run's time. Not while
    a transaction of another loop in the process runs (it is tried again after the next batch)."""
    global _applied_since_release
    _applied_since_release += records
    if _applied_since_release < RELEASE_EVERY_RECORDS or _pauses or _malloc_trim is None:
        return False
    _applied_since_release = 0
    _malloc_trim(0)
    return True


@dataclass
class _Decoded:
    """A fetched batch, decoded and judged, not applied yet: `rebalances` is the loop's count of
    rebalances when the client handed out its first records, -1 if that was before the assignment
    had sought its partitions (a batch fetched across a rebalance is not applied)."""

    rebalances: int
    delivered: list[Delivered] = field(default_factory=list)
    by_partition: dict[TopicPartition, list[Delivered]] = field(default_factory=dict)  # while decoding
    records: dict[int, ConsumerRecord] = field(default_factory=dict)  # by id() of its Delivered
    dead: list[tuple[ConsumerRecord, str, str]] = field(default_factory=list)  # record, reason, message
    next_offsets: dict[TopicPartition, int] = field(default_factory=dict)
    # the client's positions as it handed the records out: past a transaction's marker after them (the lag)
    positions: dict[TopicPartition, int] = field(default_factory=dict)
    records_count: int = 0
    decode_seconds: float = 0.0
    #: filled to a bound (`consumer_max_records`, `consumer_max_batch_bytes`): more is waiting, the next batch is
    #: fetched beside this one's transaction
    full: bool = False

    @property
    def empty(self) -> bool:
        return self.records_count == 0


class _Rebalance(ConsumerRebalanceListener):  # type: ignore[misc]  # aiokafka has no type hints
    def __init__(self, loop: ConsumerLoop) -> None:
        self.loop = loop

    async def on_partitions_revoked(self, revoked: Collection[TopicPartition]) -> None:  # offsets are in the database already
        self.loop.assigned = False
        self.loop._unsought = False  # the next assignment's own seek decides
        self.loop.lags.clear()
        self.loop._probed.clear()  # a partition handed back later is compared again
        self.loop._rebalances += 1  # a batch prefetched before now is not applied (`ConsumerLoop._loop`)

    async def on_partitions_assigned(self, assigned: Collection[TopicPartition]) -> None:
        """Seek the partitions to the offsets the database stores. Where that fails (the database is away:
        restarting, a fast shutdown), the loop seeks them itself before its next batch (`_seek_assignment`):
        aiokafka only logs a listener's failure and hands out records from the broker's markers, so with
        `assigned` left False every batch was thrown away for good once the database answered again
        (CI, session 17: reporting applied nothing for 3 minutes after its PostgreSQL restarted)."""
        try:
            await self.loop.seek_to_stored(assigned)
        except Exception as error:  # noqa: BLE001 - any failure of the seek: the loop tries it again
            self.loop._unsought = True
            self.loop.assigned = False
            self.loop._rebalances += 1  # a batch fetched before the loop's seek is not applied either
            log.warning("the assignment's stored offsets could not be read: the loop reads them before its next batch",
                        extra={"group": self.loop.group_id, "error": type(error).__name__})
            return
        self.loop._unsought = False
        self.loop._rebalances += 1  # nor one whose fetch began before this seek
        self.loop.assigned = True


class ConsumerLoop:
    #: rebalances seen (revoked or assigned): tells a batch fetched across one (see `_loop`)
    _rebalances = 0
    #: how long each client's stop may take as the loop ends (`_stop_client`); an attribute, so that a test of the
    #: bound need not wait its 20 s
    client_stop_seconds: float = CLIENT_STOP_SECONDS
    #: how long a run may hold no assignment before it is made anew (`_run_watched`); an attribute, for its test
    assignment_stall_seconds: float = ASSIGNMENT_STALL_SECONDS

    def __init__(self, settings: ServiceSettings, database: Database, *, group_id: str, topics: Sequence[str],
                 handler: Handler, applied_table: Table, offsets_table: Table,
                 handles: Callable[[str], bool] | None = None) -> None:
        self.settings = settings
        self.db = database
        self.group_id = group_id
        self.topics = list(topics)
        self.handler = handler
        self.handles = handles
        self._unhandled_logged: set[str] = set()
        self.applied = applied_table
        self.offsets = offsets_table
        self.dead_letter_topic = dead_letter_topic(group_id)
        self._stopping = asyncio.Event()
        self._stopped: asyncio.Future[None] | None = None  # done once stopped (`_stop_signal`)
        # (rebalances, assigned) as the client handed out its last records (`_handed_out`)
        self._handed_out_with: tuple[int, bool] = (0, False)
        self._consumer: AIOKafkaConsumer | None = None
        self._exact_offsets = True  # set from the broker's capabilities at start
        self._may_lose_logs = True  # likewise (kafka.broker_may_lose_logs)
        # the next batch taken beside a partial one too (`consumer_prefetch_partial`; set at start where None)
        self._prefetch_partial = settings.consumer_prefetch_partial is not False
        self.applied_count = 0
        # the last failure that ended the loop (restarted by its supervisor): the error's type and when, for /readyz
        self.last_failure: str | None = None
        self.assigned = False  # readiness: the group has handed this member its partitions
        # the assignment's listener could not seek its partitions to the stored offsets (`_seek_assignment`)
        self._unsought = False
        self.lags: dict[TopicPartition, float] = {}  # per assigned partition, as of its last fetch
        self.newest_event_time: datetime | None = None  # of the events this process applied
        self.log_gaps: list[dict[str, Any]] = []  # the newest partitions whose log did not hold the offset (`log_gap`)
        self._gaps_checked = 0.0  # when `_replaced_logs` last looked
        # the partitions of this assignment whose records before the stored offset were compared (`_other_logs`)
        self._probed: set[TopicPartition] = set()
        # one `seek_to_stored` at a time: the assignment's listener and the loop's own (a discarded batch) may
        # overlap, and each would read the offsets before the other rewound them
        self._seeking = asyncio.Lock()
        # of the batch in hand: delivered events whose id was applied before with other bytes
        self._conflicting: dict[int, Delivered] = {}
        #: whether claims of unknown topic (or organiser) are left (`legacy_claims`): told by each claim's answer (its partial
        #: index, one probe), so the next claim looks for them only where there are any; none are made any more and a
        #: rebuild leaves none. Not known before the first claim: looked for
        self._legacy_claims = True
        # the offset markers to commit to the broker, and the task committing them (see `_mark_offsets`)
        self._unmarked: dict[TopicPartition, int] = {}
        self._marking: asyncio.Task[None] | None = None
        # the connection the batches run on while `holding_connection` (the loop's run)
        self._holding = False
        self._held: AsyncConnection | None = None

    def stop(self) -> None:
        self._stopping.set()
        if self._stopped is not None and not self._stopped.done():
            self._stopped.set_result(None)

    def resume(self) -> None:
        """Undo `stop`, so that `run` may be called again (a worker that lost its lock and takes it back)."""
        self._stopping.clear()
        self._stopped = None

    def _stop_signal(self) -> asyncio.Future[None]:
        """A future done once `stop` is called: what a fetch races (`_getmany`), with no task of its own."""
        loop = asyncio.get_running_loop()
        if self._stopped is None or self._stopped.get_loop() is not loop:
            self._stopped = loop.create_future()
            if self._stopping.is_set():
                self._stopped.set_result(None)
        return self._stopped

    async def run(self) -> None:
        await run_until_stopped(f"consumer loop {self.group_id}", self._run_noted, self._stopping)

    async def _run_noted(self) -> None:
        try:
            await self._run_watched()
        except Exception as error:  # the type only: a database error's text may quote data
            self.last_failure = f"{type(error).__name__} at {datetime.now(UTC).isoformat(timespec='seconds')}"
            raise

    async def _run_watched(self) -> None:
        """`_run_once`, ended with `AssignmentStalled` once this member has held no assignment for
        `assignment_stall_seconds` (counted from the run's start, and from each time it was last seen assigned): the
        supervisor then runs it again with new clients. Wherever the run waits (the client's join, a topic or
        capability probe), the wait is cut; a stop is never judged a stall."""
        run = asyncio.create_task(self._run_once(), name=f"consumer run {self.group_id}")
        seen = time.monotonic()
        try:
            while True:
                done, _ = await asyncio.wait({run}, timeout=min(_STALL_CHECK_SECONDS, self.assignment_stall_seconds))
                if run in done:
                    return run.result()
                now = time.monotonic()
                if self.assigned or self._stopping.is_set():
                    seen = now
                elif now - seen >= self.assignment_stall_seconds:
                    log.warning("no partition assignment for %g s: the Kafka clients are made anew",
                                self.assignment_stall_seconds, extra={"group": self.group_id})
                    await cancel_and_wait(run)
                    raise AssignmentStalled(f"no partition assignment for {self.assignment_stall_seconds:g} s")
        finally:
            if not run.done():
                await cancel_and_wait(run)

    async def _run_once(self) -> None:
        await ensure_topics(self.settings, registry_topics([self.group_id]))
        static = ({"group_instance_id": self.settings.consumer_group_instance_id}
                  if self.settings.consumer_group_instance_id else {})
        capabilities = await broker_capabilities(self.settings)
        session_timeout_ms, heartbeat_interval_ms = group_timing(self.settings, capabilities)
        consumer = make_consumer(
            self.settings, f"{self.settings.client_id}-{self.group_id}",
            group_id=self.group_id,
            enable_auto_commit=False,
            auto_offset_reset="none",  # a position the log does not hold is the loop's to decide (`_getmany`)
            max_partition_fetch_bytes=4 * 1024 * 1024,
            fetch_max_wait_ms=self.settings.consumer_fetch_max_wait_ms,
            session_timeout_ms=session_timeout_ms,
            heartbeat_interval_ms=heartbeat_interval_ms,
            **static,
        )
        consumer.subscribe(self.topics, listener=_Rebalance(self))
        producer = make_producer(self.settings, f"{self.settings.client_id}-dlq")
        self._consumer = consumer
        self._exact_offsets = capabilities.exact_offsets
        self._may_lose_logs = broker_may_lose_logs(self.settings, capabilities)
        self._prefetch_partial = (capabilities.exact_offsets if self.settings.consumer_prefetch_partial is None
                                  else self.settings.consumer_prefetch_partial)
        try:  # a start cut short (a stop, a stalled run) stops what it started too
            await consumer.start()
            prefetch_without_backoff(consumer)
            await producer.start()
            async with self.holding_connection():
                await self._loop(consumer, producer)
        finally:
            if self._marking is not None:  # the last markers out before the client goes
                with contextlib.suppress(Exception):
                    await within(asyncio.shield(self._marking), 5)
                self._marking.cancel()
                self._marking = None
            self._unmarked.clear()
            self._probed.clear()
            self._consumer = None
            self.assigned = False
            self._unsought = False
            self.lags.clear()
            await _stop_client("consumer", consumer.stop(), self.client_stop_seconds)
            await _stop_client("producer", producer.stop(), self.client_stop_seconds)

    async def _loop(self, consumer: AIOKafkaConsumer, producer: AIOKafkaProducer) -> None:
        """Fetch and decode batch N+1 in a task while batch N's transaction runs. Catching up (N full), the
        Python side of the next batch is done while PostgreSQL works on this one (two cores, not one after
        the other). Keeping up (N partial; where `consumer_prefetch_partial` says so, Apache Kafka by default),
        the records that arrive meanwhile are taken from the client as they come (decoded after the commit): the
        client fetches a partition again only once its records were taken (aiokafka, as
        Kafka's own consumer, keeps one fetched batch per partition), so a record that reached a partition
        whose earlier records waited in the client was fetched only after N, missed batch N+1 and waited for
        it too — half of a batch's time on the median (bench/fetch_wait.py: acknowledged → batch start p50
        43 → 22 ms at 1,000 events/s and ~45 ms batches, Apache Kafka; bench/results/latency3.json).
        A prefetched batch only takes records from the client (no write, no dead letter, no marker):
        it is thrown away, and the positions put back to the stored offsets, if the group rebalanced
        after the client handed out its first records (they may belong to another member now, and
        `seek_to_stored` may have moved the positions under them); a stop or a failed batch cancels it."""
        ahead: asyncio.Task[_Decoded] | None = None
        try:
            while not self._stopping.is_set():
                end_if_cancel_asked()  # a crash's cancellation that a step below swallowed still ends the loop
                if self._unsought and ahead is None:  # a prefetched batch is discarded, which seeks (`_discard`)
                    await self._seek_assignment(consumer)
                # a position beyond the end of a log: Apache Kafka refuses the fetch (`_getmany`), the embedded
                # broker answers nothing for ever (`_replaced_logs` below)
                decoded = await ahead if ahead is not None else await self._fetch_decoded(consumer)
                ahead = None
                replaced = await self._replaced_logs(consumer)
                if replaced:  # their positions were beyond the log: nothing of theirs in this batch
                    await self._rewind({tp: (*bounds, "beyond_log_end") for tp, bounds in replaced.items()})
                if decoded.empty:
                    if not self._exact_offsets:
                        self._caught_up(consumer)
                    else:
                        await self._lag_after_empty_fetch(consumer)
                    continue
                if decoded.rebalances != self._rebalances:
                    await self._discard(consumer, decoded)
                    continue
                busy: asyncio.Future[None] | None = None
                if self._prefetch_partial or decoded.full:
                    # the next batch is read beside this one's transaction (see above): a fetch that finds
                    # nothing by the commit goes on waiting, as the plain fetch after it would
                    busy = asyncio.get_running_loop().create_future()
                    ahead = asyncio.create_task(self._fetch_decoded(consumer, busy, decode_beside=decoded.full))
                try:
                    await self._apply_decoded(decoded, producer)
                finally:
                    if busy is not None:
                        busy.set_result(None)
        finally:
            if ahead is not None:  # its records are not applied: nothing to keep
                await cancel_and_wait(ahead)

    async def _fetch_decoded(self, consumer: AIOKafkaConsumer, busy: asyncio.Future[None] | None = None, *,
                             decode_beside: bool = True) -> _Decoded:
        """One fetch (waiting up to the poll timeout), then what the client has fetched already, without
        waiting for more, until `consumer_max_records` or `consumer_batch_max_ms`: a consumer catching up
        applies big batches, one keeping up applies each fetch as it comes (no added latency). Beside
        the batch before in its transaction (`busy` not done) the records are also waited for, as
        they arrive, up to the limit: that batch could not be applied before anyway, and one taking
        only what the client held at its start would be small (each batch has the transaction's fixed
        cost). Each fetch's records are decoded as they come, in shorter slices beside a transaction; with
        `decode_beside` False (beside a partial batch) they are only taken then and decoded after its commit:
        each slice of decoding delays the answers of the small transaction's statements that arrive meanwhile,
        a few milliseconds each, while the decoding costs the same after it (bench/results/latency3.json)."""
        slice_size = DECODE_SLICE if busy is None else OVERLAP_DECODE_SLICE
        limit = self.settings.consumer_max_records
        fetch = functools.partial(self._getmany, consumer)
        self._handed_out_with = (self._rebalances, self.assigned)
        batch = await fetch(timeout_ms=self.settings.consumer_poll_timeout_ms, max_records=limit)
        # As of the step the client handed the records out (`_handed_out`; a rebalance's listener may have run
        # since): `assigned` says whether the assignment's `seek_to_stored` had placed them. aiokafka hands
        # out records again before that listener has run (it awaits a database read), from the
        # broker's marker positions: such a batch is never applied (-1).
        rebalances, assigned = self._handed_out_with
        if not assigned:  # not decoded either
            return _Decoded(-1, records_count=sum(len(records) for records in batch.values()))
        decoded = _Decoded(rebalances)

        held: list[dict[TopicPartition, list[ConsumerRecord]]] = []  # taken, to be decoded after the commit

        async def taken(records: dict[TopicPartition, list[ConsumerRecord]]) -> None:
            if not decode_beside and busy is not None and not busy.done():
                await self._note_positions(decoded, records)
                held.append(records)
                return
            await decode_held()
            await self._decode_into(decoded, records, slice_size)

        async def decode_held() -> None:
            while held:  # in the order taken: each partition's records stay in offset order
                await self._decode_into(decoded, held.pop(0), DECODE_SLICE, positions_noted=True)

        await taken(batch)
        await fill_batch(consumer, batch, limit, self.settings.consumer_batch_max_ms / 1000, busy=busy, taken=taken,
                         wait_ms=self.settings.consumer_poll_timeout_ms, fetch=fetch,
                         max_bytes=self.settings.consumer_max_batch_bytes)
        decoded.full = decoded.records_count >= limit or records_bytes(batch) >= self.settings.consumer_max_batch_bytes
        await decode_held()
        return self._decoded(decoded)

    async def _getmany(self, consumer: AIOKafkaConsumer, *, until: Sequence[asyncio.Future[Any]] = (),
                       **kwargs: Any) -> dict[TopicPartition, list[ConsumerRecord]]:
        """The client's `getmany`, with the positions the log does not hold decided here, not by the client: it
        runs with `auto_offset_reset="none"`, so a fetch at such a position raises instead of moving it to the
        log's start in silence (`_off_the_log`). The client raises only where it hands out no record, so nothing
        fetched is lost by it; the next fetch reads from the new position.

        A stop ends the fetch (as any of `until` does): while a rebalance is under way the client's getmany waits
        for the new assignment whatever its timeout (the coordinator unavailable, a crashed member's session not
        yet out), and a loop asked to stop then did not (a Kafka test stood 240 s in it, CI session 22)."""
        return await _unless_done(self._handed_out(consumer, **kwargs), self._stop_signal(), *until)

    async def _handed_out(self, consumer: AIOKafkaConsumer, **kwargs: Any) -> dict[TopicPartition, list[ConsumerRecord]]:
        """The client's records, with the group's state as they were handed out (`handed_out_with`), or its refusal
        judged — each in the same step as the client's answer, in the task that fetched (a rebalance's listener may
        run before that task's waiter resumes: a seek to the log's start judged there undid the listener's seek to
        the stored offsets, and a fresh group read a partition again, CI session 23)."""
        try:
            records: dict[TopicPartition, list[ConsumerRecord]] = await consumer.getmany(**kwargs)
        except OffsetOutOfRangeError as error:
            offsets = error.args[0] if error.args and isinstance(error.args[0], dict) else {}
            await self._off_the_log(consumer, offsets)
            return {}
        except NoOffsetForPartitionError as error:
            # a partition with neither a position nor the broker's marker: handed out before the assignment's seek
            # (which failed: `_unsought`), never applied; from the start, as the client did by itself before
            partitions = [tp for tp in error.args if isinstance(tp, TopicPartition) and tp in consumer.assignment()]
            with contextlib.suppress(IllegalStateError):
                await consumer.seek_to_beginning(*partitions)
            return {}
        self._handed_out_with = (self._rebalances, self.assigned)
        return records

    async def _off_the_log(self, consumer: AIOKafkaConsumer, offsets: dict[TopicPartition, int]) -> None:
        """Fetches at these offsets were refused as out of range: the log no longer holds them (`log_gap`). Before
        its start (`truncated`): retention deleted records while this member ran behind them (or was stopped), lost
        to the database; said (the module docstring) and read on from the log's start. Beyond its end (`replaced`):
        read from the start (`_rewind`). Offset 0 is the log's start wherever it begins now (a rewind, a partition
        read from its start): no gap. Where the broker does not tell the log's bounds: from its start, said too."""
        partitions = {tp: offset for tp, offset in offsets.items()
                      if isinstance(tp, TopicPartition) and tp in consumer.assignment()}
        judged = [tp for tp, offset in partitions.items() if offset > 0]
        bounds = await self._log_bounds(consumer, judged)
        from_start = [tp for tp, offset in partitions.items() if offset == 0]
        rewind: dict[TopicPartition, tuple[int, int, str]] = {}
        for tp in judged:
            log_start, log_end = bounds.get(tp, (None, None))
            gap = log_gap(partitions[tp], log_start, log_end)
            if gap == "truncated" and log_start is not None:
                self._note_gap(tp, gap, partitions[tp], log_start, "overtaken_by_retention")
                consumer.seek(tp, log_start)
            elif gap == "replaced" and log_end is not None:
                rewind[tp] = (partitions[tp], log_end, "beyond_log_end")
            else:
                log.warning("a fetch was refused as out of range, the log's bounds not told: read from its start, "
                            "events applied before are skipped by their ids",
                            extra={"group": self.group_id, "topic": tp.topic, "partition": tp.partition,
                                   "offset": partitions[tp]})
                from_start.append(tp)
        if rewind:
            await self._rewind(rewind)
        if from_start:
            with contextlib.suppress(IllegalStateError):  # a partition taken away meanwhile: its next owner seeks
                await consumer.seek_to_beginning(*from_start)

    async def _discard(self, consumer: AIOKafkaConsumer, decoded: _Decoded) -> None:
        """A batch fetched across a rebalance is not applied; the client's positions are past its records,
        so every assigned partition is put back to its stored offset (the batch before it is committed
        by now). A partition the group is taking away again meanwhile is sought by the next assignment."""
        metrics.CONSUMER_PREFETCH_DISCARDED.labels(self.group_id).inc()
        log.info("a batch fetched across a rebalance is read again from the stored offsets",
                 extra={"group": self.group_id, "records": decoded.records_count})
        await self._seek_assignment(consumer)

    async def _seek_assignment(self, consumer: AIOKafkaConsumer) -> None:
        """Put every assigned partition back to its stored offset. Where the assignment's listener could not
        read them (`_unsought`: the database was away), this completes the assignment: the positions are the
        database's now, and the batches fetched from here on are applied. While the database is still away
        the read raises, out of the loop: its supervisor starts the consumer again after a pause, as after a
        failed batch (it joins the group again, and that assignment's listener seeks). A rebalance during
        the read leaves the assignment to the next listener."""
        rebalances, unsought = self._rebalances, self._unsought
        try:
            await self.seek_to_stored(consumer.assignment())
        except IllegalStateError:  # a partition the group is taking away meanwhile: the next assignment seeks
            return
        if unsought and self._unsought and self._rebalances == rebalances:
            self._unsought = False
            self._rebalances += 1  # a batch fetched before this seek is not applied
            self.assigned = True
            log.info("the assignment is sought to the stored offsets by the loop", extra={"group": self.group_id})

    async def _lag_after_empty_fetch(self, consumer: AIOKafkaConsumer) -> None:
        """Trusted end offsets: an empty fetch still tells each partition's end against our position. A partition
        without one (no seek and no marker: the client, with `auto_offset_reset="none"`, waits for the loop's next
        fetch to decide, `_getmany`) is left for the next time: waiting here would hold that fetch up for good."""
        for tp in consumer.assignment():
            highwater = consumer.highwater(tp)
            if highwater is not None:
                with contextlib.suppress(IllegalStateError, TimeoutError):
                    self._set_lag(tp, consumer_lag(highwater, await within(consumer.position(tp), 1), True))

    async def _replaced_logs(self, consumer: AIOKafkaConsumer) -> dict[TopicPartition, tuple[int, int]]:
        """The assigned partitions whose client position lies beyond the high watermark the last fetch answered
        (`log_gap`: replaced), with both. The embedded broker answers such a fetch with no record and no error, for
        ever; Apache Kafka with OffsetOutOfRange (`_getmany`)."""
        out: dict[TopicPartition, tuple[int, int]] = {}
        now = time.monotonic()
        if now - self._gaps_checked < GAP_CHECK_SECONDS:  # once a second at most: not in every batch's path
            return out
        self._gaps_checked = now
        for tp in consumer.assignment():
            highwater = consumer.highwater(tp)
            if highwater is None or not self.assigned:
                continue
            with contextlib.suppress(IllegalStateError, TimeoutError):
                position = await within(consumer.position(tp), 1)  # one awaiting a reset: the next time
                if log_gap(position, None, highwater) == "replaced":
                    out[tp] = (position, highwater)
        return out

    def _note_gap(self, tp: TopicPartition, kind: str, offset: int, bound: int, reason: str) -> None:
        """Say it: a log line, the counters, and /readyz's `log_gaps` (the module docstring). Once per gap: the
        partitions are sought again (a rebalance, a discarded batch) before a batch stores an offset past it."""
        if any((g["topic"], g["partition"], g["kind"], g["offset"]) == (tp.topic, tp.partition, kind, offset)
               for g in self.log_gaps):
            return
        metrics.CONSUMER_LOG_GAPS.labels(self.group_id, tp.topic, kind).inc()
        extra = {"group": self.group_id, "topic": tp.topic, "partition": tp.partition, "offset": offset,
                 "reason": reason}
        if kind == "truncated":
            metrics.CONSUMER_RECORDS_LOST.labels(self.group_id, tp.topic).inc(bound - offset)
            where = "the consumer's position" if reason == "overtaken_by_retention" else "the group's offset"
            log.error(f"records were lost: the log now starts after {where} (retention deleted them before they were "
                      "applied); read on from the log's start", extra={**extra, "log_start": bound,
                                                                       "records_lost": bound - offset})
        elif reason == "not_applied_before_offset":
            log.warning("the log was replaced: none of the events just before the group's offset was applied here "
                        "(the topic deleted and made again, and grown past the offset); read from the new log's "
                        "start, events applied before are skipped by their ids", extra={**extra, "log_end": bound})
        else:
            log.warning("the log was replaced: the group's offset lies beyond its end (the topic made again, or the "
                        "broker back without its logs); read from the new log's start, events applied before are "
                        "skipped by their ids", extra={**extra, "log_end": bound})
        gap = {"topic": tp.topic, "partition": tp.partition, "kind": kind, "offset": offset,
               ("log_start" if kind == "truncated" else "log_end"): bound, "reason": reason,
               "at": datetime.now(UTC).isoformat(timespec="seconds")}
        self.log_gaps = [*self.log_gaps, gap][-LOG_GAPS_SHOWN:]

    def _set_lag(self, tp: TopicPartition, lag: float) -> None:
        self.lags[tp] = lag
        metrics.CONSUMER_LAG.labels(self.group_id, tp.topic, str(tp.partition)).set(lag)

    def lag(self) -> int | None:
        """Events on this member's partitions not applied yet, or None (unknown): before the first
        fetch of every assigned partition, and always where the broker's end offsets do not count
        records (embedded broker)."""
        consumer = self._consumer
        if not self._exact_offsets or not self.assigned or consumer is None:
            return None
        values = [self.lags.get(tp, float("nan")) for tp in consumer.assignment()]
        if not values or any(math.isnan(v) for v in values):
            return None
        return int(sum(values))

    def status(self) -> dict[str, Any]:
        """For /readyz: the group membership as this member sees it (the generation the coordinator
        handed out: a static member restarted with its group.instance.id gets the same one back,
        without a rebalance), its partitions, its lag ("unknown" where it cannot be told) and the
        time of the newest event this process applied (none yet after a restart), and the last failure that
        ended the loop (its error's type and when; the supervisor restarted it)."""
        consumer = self._consumer
        coordinator = getattr(consumer, "_coordinator", None)  # aiokafka keeps the membership there
        lag = self.lag()
        return {"group": self.group_id, "assigned": self.assigned,
                "group_instance_id": self.settings.consumer_group_instance_id,
                "generation": getattr(coordinator, "generation", None) if self.assigned else None,
                "partitions": len(consumer.assignment()) if consumer is not None and self.assigned else 0,
                "lag": "unknown" if lag is None else lag,
                "newest_applied_event_time": self.newest_event_time.isoformat() if self.newest_event_time else None,
                "applied_since_start": self.applied_count, "last_failure": self.last_failure,
                "log_gaps": list(self.log_gaps)}

    def _caught_up(self, consumer: AIOKafkaConsumer) -> None:
        """Untrusted end offsets (embedded broker): an empty fetch is the one proof of no lag."""
        for tp in consumer.assignment():
            metrics.CONSUMER_LAG.labels(self.group_id, tp.topic, str(tp.partition)).set(0)

    # -- positions -----------------------------------------------------------------------------
    async def seek_to_stored(self, assigned: Collection[TopicPartition]) -> None:
        """Seek each assigned partition to where the module's rule says (`start_position`): the database's offsets
        of every group for the assigned topics are read in one statement."""
        async with self._seeking:
            await self._seek_to_stored(list(assigned))

    async def _seek_to_stored(self, assigned: list[TopicPartition]) -> None:
        consumer = self._consumer
        if consumer is None or not assigned:
            return
        async with self.db.sessions() as session:
            rows = (await session.execute(select(self.offsets.c.group_id, self.offsets.c.topic,
                                                 self.offsets.c.partition, self.offsets.c.next_offset).where(
                self.offsets.c.topic.in_({tp.topic for tp in assigned})))).all()
        own: dict[TopicPartition, int] = {}
        others: dict[TopicPartition, list[int]] = {}
        for r in rows:
            tp = TopicPartition(r.topic, r.partition)
            if r.group_id == self.group_id:
                own[tp] = r.next_offset
            else:
                others.setdefault(tp, []).append(r.next_offset)
        rewind: dict[TopicPartition, tuple[int, int, str]] = {}
        unstored: dict[TopicPartition, StartPosition] = {}
        probe: dict[TopicPartition, tuple[int, int | None, int | None]] = {}  # offset, log start and end if told
        bounds = await self._log_bounds(consumer, [tp for tp in assigned if own.get(tp)])
        for tp in assigned:
            start = start_position(own.get(tp), others.get(tp, ()), may_lose_logs=self._may_lose_logs)
            log_start, log_end = bounds.get(tp, (None, None))
            gap = log_gap(start.offset, log_start, log_end)
            if gap == "replaced" and log_end is not None:
                rewind[tp] = (start.offset, log_end, "beyond_log_end")
                continue
            if gap == "truncated" and log_start is not None:
                self._note_gap(tp, gap, start.offset, log_start, "before_log_start")
                start = StartPosition(log_start, "stored")
            # The broker forgot the group's marker: it lost its state (the embedded broker keeps
            # none across a restart). Its end offsets are not asked (they do not count records): a log
            # that ends before the offset is found by the loop (`_replaced_logs`). A durable broker
            # is not asked either: it keeps its logs, and right after a restart it may answer
            # "no committed offset" for a marker it holds (a needless re-read of the partition).
            if start.confirm_marker and await consumer.committed(tp) is None:
                rewind[tp] = (start.offset, 0, "no_marker")
                continue
            if start.source == "stored" and start.offset > 0 and tp not in self._probed and (
                    log_start is None or log_start < start.offset):
                probe[tp] = (start.offset, log_start, log_end)
                continue  # sought once compared: a fetch from the offset meanwhile could hand out the new log's
            consumer.seek(tp, start.offset)
            if start.source != "stored":
                unstored[tp] = start
        if probe:
            other = await self._other_logs(probe)
            self._probed.update(probe)
            for tp, (offset, _, _) in probe.items():
                if tp in other:
                    rewind[tp] = (offset, other[tp][1], "not_applied_before_offset")
                else:
                    consumer.seek(tp, offset)
        if rewind:
            await self._rewind(rewind)
        if unstored:
            await self._note_starts(consumer, unstored)

    async def _other_logs(self, partitions: dict[TopicPartition, tuple[int, int | None, int | None]]
                          ) -> dict[TopicPartition, tuple[int, int]]:
        """The partitions whose log is another than the one their stored offset was of (`another_log`: a topic
        deleted and made again that grew past the offset), each with that offset and its log's end (0: not told).
        Up to `PROBE_RECORDS` records before each offset are read by a client of no group, side by side, and their
        event ids looked up among the applied ones (one statement). The offsets alone cannot tell such a log from
        the old one (Kafka's topic ids could; aiokafka does not expose them), and read from the offset it loses
        every record before it. A check only: where the broker or the database does not answer in time, the
        offsets stand as stored."""
        try:
            before = await within(self._events_before(partitions), PROBE_SECONDS + 2)
            ids = {claim[0] for events in before.values() for claim in events}
            applied: set[Claim] = set()
            if ids:
                async with self.db.sessions() as session:
                    rows = (await session.execute(select(
                        self.applied.c.event_id, self.applied.c.organiser_id, self.applied.c.topic).where(
                        any_of(self.applied.c.event_id, ids)))).all()
                applied = {(row.event_id, row.organiser_id, row.topic) for row in rows}
                # a claim of unknown topic or organiser (`legacy_claims`) is any topic's, any organiser's
                applied |= {claim for events in before.values() for claim in events
                            if any(legacy in applied for legacy in legacy_claims(claim))}
            other = [tp for tp, events in before.items() if another_log(events, applied)]
            if other:
                other = await self._claimed_offsets(other)
        except Exception as error:  # noqa: BLE001 - a check only (in the rebalance's listener): the offsets stand
            log.info("the records before the stored offsets were not compared; the stored offsets stand",
                     extra={"group": self.group_id, "error": type(error).__name__})
            return {}
        return {tp: (partitions[tp][0], partitions[tp][2] or 0) for tp in other}

    async def _claimed_offsets(self, partitions: list[TopicPartition]) -> list[TopicPartition]:
        """Of these partitions, those whose stored offset was written by a batch that claimed events (`_claim_new`:
        the offsets and the claims in one statement, so the offset's `updated_at` is the claims' `applied_at`,
        PostgreSQL's `now()` of that transaction). Only such an offset says that the records before it were applied
        here; one set otherwise (by hand, to skip what lies before it, as the tests' `start_at_log_end` does; after a
        batch of dead letters only, or applied in halves) proves nothing, and is left as it is. Asked only where the
        records before the offset are none of ours (rare: a scan of the applied events by time)."""
        offsets, applied = self.offsets, self.applied
        claimed = exists().where(applied.c.group_id == offsets.c.group_id,
                                 applied.c.applied_at == offsets.c.updated_at)
        async with self.db.sessions() as session:
            rows = (await session.execute(select(offsets.c.topic, offsets.c.partition).where(
                offsets.c.group_id == self.group_id, offsets.c.topic.in_({tp.topic for tp in partitions}),
                claimed))).all()
        found = {TopicPartition(r.topic, r.partition) for r in rows}
        return [tp for tp in partitions if tp in found]

    async def _events_before(self, partitions: dict[TopicPartition, tuple[int, int | None, int | None]]
                             ) -> dict[TopicPartition, list[Claim]]:
        """The claims (`claim_of`: event id, `claim_organiser`, topic) of the events a handler takes among the (up to) `PROBE_RECORDS`
        records before each offset."""
        probe = make_consumer(self.settings, f"{self.settings.client_id}-{self.group_id}-probe", group_id=None,
                              enable_auto_commit=False, auto_offset_reset="earliest")
        await probe.start()
        records: dict[TopicPartition, list[ConsumerRecord]] = {tp: [] for tp in partitions}
        try:
            probe.assign(list(partitions))
            for tp, (offset, log_start, _) in partitions.items():
                probe.seek(tp, max(offset - PROBE_RECORDS, log_start or 0))
            waiting = set(partitions)
            deadline = time.monotonic() + PROBE_SECONDS
            while waiting and time.monotonic() < deadline:
                for tp, fetched in (await probe.getmany(*waiting, timeout_ms=200)).items():
                    records[tp].extend(r for r in fetched if r.offset < partitions[tp][0])
                for tp in list(waiting):  # read up to the offset, or to the log's end where it ends before
                    offset, _, log_end = partitions[tp]
                    position, highwater = await probe.position(tp), probe.highwater(tp)
                    # the embedded broker's high watermark is its last batch's start: past it is the end
                    at_end = highwater is not None and (position > highwater or
                                                        (self._exact_offsets and position >= highwater))
                    if at_end or position >= (offset if log_end is None else min(offset, log_end)):
                        waiting.discard(tp)
        finally:
            await probe.stop()
        out: dict[TopicPartition, list[Claim]] = {}
        for tp, fetched in records.items():
            events = []
            for record in fetched[-PROBE_RECORDS:]:
                with contextlib.suppress(Exception):  # undecodable: dead-lettered when it was read, proves nothing
                    event = decode_event(record.value or b"", max_bytes=self.settings.max_event_bytes)
                    if self.handles is None or self.handles(event.type):
                        events.append((event.id, claim_organiser(record.key), tp.topic))
            out[tp] = events
        return out

    async def _note_starts(self, consumer: AIOKafkaConsumer, starts: dict[TopicPartition, StartPosition]) -> None:
        """Say where the partitions this group holds no offset for are read from; of those read from the log's start
        while the broker holds a marker for the group, that the marker was left aside (rule 3 of the module's
        docstring). The markers are asked for side by side (one round trip), only for the log line."""
        from_start = [tp for tp, start in starts.items() if start.source == "log_start"]
        markers = await asyncio.gather(*(consumer.committed(tp) for tp in from_start), return_exceptions=True)
        left = {tp: marker for tp, marker in zip(from_start, markers, strict=True)
                if isinstance(marker, int) and marker > 0}
        for tp, start in starts.items():
            source = "log_start_marker_left" if tp in left else start.source
            extra = {"group": self.group_id, "topic": tp.topic, "partition": tp.partition, "offset": start.offset}
            if tp in left:
                log.warning("the broker's marker for this partition is left aside: this database holds no offset for "
                            "it (restored, new, or another deployment shares the group id), so it is read from the "
                            "start; events applied before are skipped by their ids",
                            extra={**extra, "broker_marker": left[tp]})
            elif source == "other_group":
                log.info("partition read from the furthest offset another group stored in this database", extra=extra)
            metrics.CONSUMER_STARTS.labels(self.group_id, tp.topic, source).inc()

    async def _log_bounds(self, consumer: AIOKafkaConsumer, partitions: list[TopicPartition]
                          ) -> dict[TopicPartition, tuple[int | None, int | None]]:
        """Each partition's log start and end where the broker's end offsets count records (Apache Kafka; two
        ListOffsets requests for all of them), for `log_gap`; else, or when the broker does not answer, none (the
        embedded broker's gaps are found while running: `_replaced_logs`)."""
        if not self._exact_offsets or not partitions:
            return {}
        try:
            starts, ends = await within(asyncio.gather(consumer.beginning_offsets(partitions),
                                                       consumer.end_offsets(partitions)), 5)
        except Exception as error:  # a check only (in the rebalance's listener: briefly): the offsets stand as stored
            log.info("the log's bounds were not told; the stored offsets stand", extra={"error": repr(error)})
            return {}
        return {tp: (starts.get(tp), ends.get(tp)) for tp in partitions}

    async def _rewind(self, partitions: dict[TopicPartition, tuple[int, int, str]]) -> None:
        """These logs do not hold the group's offsets (the broker lost them, or they were replaced), each with that
        offset, the log's end (0: not told) and why: read them again from the start."""
        consumer = self._consumer
        for tp, (offset, end, reason) in partitions.items():
            metrics.CONSUMER_REWINDS.labels(self.group_id, tp.topic).inc()
            self._note_gap(tp, "replaced", offset, end, reason)
            async with self.db.sessions.begin() as session:
                await session.execute(self.offsets.update().where(
                    self.offsets.c.group_id == self.group_id, self.offsets.c.topic == tp.topic,
                    self.offsets.c.partition == tp.partition).values(next_offset=0))
            if consumer is not None:
                consumer.seek(tp, 0)

    # -- one batch -----------------------------------------------------------------------------
    async def process(self, batch: dict[TopicPartition, list[ConsumerRecord]], producer: AIOKafkaProducer) -> None:
        decoded = _Decoded(self._rebalances)
        await self._decode_into(decoded, batch, DECODE_SLICE)
        await self._apply_decoded(self._decoded(decoded), producer)

    async def _note_positions(self, decoded: _Decoded, batch: dict[TopicPartition, list[ConsumerRecord]]) -> None:
        """The client's positions, read before any wait: where it stood as it handed the records out (the lag;
        told only where the end offsets count records)."""
        consumer = self._consumer
        if consumer is not None and self._exact_offsets:
            for tp in [tp for tp, records in batch.items() if records]:
                with contextlib.suppress(IllegalStateError):
                    decoded.positions[tp] = await consumer.position(tp)

    async def _decode_into(self, decoded: _Decoded, batch: dict[TopicPartition, list[ConsumerRecord]],
                           slice_size: int, *, positions_noted: bool = False) -> None:
        """Decode and judge records into `decoded`, without any side effect beyond metrics: this part may
        run ahead of the batch before (`_loop`) and be thrown away. `positions_noted`: as the records were
        taken (`_note_positions`), when they are decoded later."""
        count = decoded.records_count
        if not positions_noted:
            await self._note_positions(decoded, batch)
        started = time.monotonic()
        for tp, tp_records in batch.items():
            kept = decoded.by_partition.setdefault(tp, [])
            for record in tp_records:
                count += 1
                if count % slice_size == 0:  # a big batch's decoding does not hold up the HTTP requests
                    # the decoding's own time, not the turns given meanwhile to the transaction beside it
                    decoded.decode_seconds += time.monotonic() - started
                    await asyncio.sleep(0)
                    started = time.monotonic()
                if isinstance(record.value, UndecodableBatch):  # records the client could not read (a batch, one)
                    decoded.dead.append((record, record.value.dead_letter_reason, record.value.reason))
                    continue
                try:
                    event = decode_event(record.value or b"", max_bytes=self.settings.max_event_bytes)
                except ContractError as error:
                    # a value refused on a record whose headers say another content mode (binary, batch): the
                    # mode is the rule it broke, not the value's first missing attribute. Headers are read for
                    # refused records only: what decodes is applied whatever they say, as the rebuild does. A tombstone
                    # or an oversized record keeps its own refusal: no mode makes either an event
                    mode = None if not record.value or isinstance(error, OversizedEventError) else \
                        content_mode_refusal(record.headers)
                    decoded.dead.append((record, "content_mode", mode) if mode is not None
                                        else (record, error.reason, str(error)))
                    continue
                except Exception as error:  # noqa: BLE001 - a fault of the decode's own on this record's bytes (a
                    # RecursionError once): the loop would restart on the same record for ever, so it is dead-lettered
                    # as one that cannot be read (the type only: an error's text may quote the bytes)
                    decoded.dead.append((record, "undecodable", undecodable_message(error)))
                    continue
                verdict = unfit(event, tp.topic, record.timestamp, key=record.key)
                if verdict is not None:
                    decoded.dead.append((record, *verdict))
                    continue
                item = Delivered(event, tp.topic, tp.partition, record.offset,
                                 *content_digests(record.value or b"", event, record.headers),
                                 claim_organiser(record.key))
                kept.append(item)
                decoded.records[id(item)] = record
            if tp_records:
                decoded.next_offsets[tp] = tp_records[-1].offset + 1
        decoded.records_count = count
        decoded.decode_seconds += time.monotonic() - started

    def _decoded(self, decoded: _Decoded) -> _Decoded:
        """The batch's events partition by partition (each in offset order), as one fetch lists them,
        without the types no handler applies."""
        decoded.delivered = self._handled([item for items in decoded.by_partition.values() for item in items])
        decoded.by_partition = {}
        return decoded

    async def _apply_decoded(self, decoded: _Decoded, producer: AIOKafkaProducer) -> None:
        started = time.monotonic()
        delivered, records, next_offsets = decoded.delivered, decoded.records, decoded.next_offsets
        if decoded.dead:
            await self._dead_letter(producer, decoded.dead)
        self._conflicting = {}
        try:
            fresh = await self._apply(delivered, next_offsets)
        except Exception:
            fresh = await self._apply_one_by_one(delivered, records, next_offsets, producer)
        if self._conflicting:  # other bytes under an id that counts already: not applied, told about
            await self._dead_letter(producer, [(records[key], "conflicting_duplicate", _conflict(item.event.id))
                                               for key, item in self._conflicting.items() if key in records])
        self.applied_count += len(fresh)
        release_memory(len(delivered))
        if fresh:
            newest = max(item.event.time for item in fresh)
            if self.newest_event_time is None or newest > self.newest_event_time:
                self.newest_event_time = newest
        for topic, applied in Counter(item.topic for item in fresh).items():  # one labels() per topic, not per event
            metrics.CONSUMER_APPLIED.labels(self.group_id, topic).inc(applied)
        if len(fresh) < len(delivered):
            metrics.CONSUMER_DUPLICATES.labels(self.group_id, "all").inc(len(delivered) - len(fresh))
        # the decoding's own time counts, not the wait for the batch before it (prefetched)
        metrics.CONSUMER_BATCH_SECONDS.labels(self.group_id).observe(
            time.monotonic() - started + decoded.decode_seconds)
        if self._consumer is not None:
            assignment = self._consumer.assignment()
            for tp, next_offset in next_offsets.items():
                # a partition revoked while its batch was applied has no highwater any more
                highwater = self._consumer.highwater(tp) if tp in assignment else None
                if highwater is not None:
                    taken_to = max(next_offset, decoded.positions.get(tp, next_offset))  # not what is stored
                    self._set_lag(tp, consumer_lag(highwater, taken_to, self._exact_offsets))
            self._mark_offsets(next_offsets)

    def _mark_offsets(self, next_offsets: dict[TopicPartition, int]) -> None:
        """Commit the offsets to the broker as markers, beside the loop: the next fetch and apply do not
        wait for the group coordinator's answer (on Apache Kafka an append to its offsets log: one more
        round trip in every batch). Markers only: the database is the source of truth for
        offsets, and a marker that comes late (or never, the process killed) at worst makes the broker
        look as if it lost the partition, which is read again and skipped by event id. One commit at
        a time, each with the newest offsets, so a marker never goes back."""
        self._unmarked.update(next_offsets)
        if self._marking is None or self._marking.done():
            self._marking = asyncio.create_task(self._commit_markers())

    async def _commit_markers(self) -> None:
        while self._unmarked and self._consumer is not None:
            offsets, self._unmarked = self._unmarked, {}
            try:
                await self._consumer.commit(offsets)
            except Exception as exc:  # a rebalance, the broker away: the next batch's marker follows
                log.info("offset marker commit skipped", extra={"error": repr(exc)})

    def _handled(self, delivered: list[Delivered]) -> list[Delivered]:
        """Drop the events no handler applies: never claimed, so a replay can apply them later."""
        if self.handles is None:
            return delivered
        kept = []
        handled: dict[str, bool] = {}  # asked once per type in the batch, not once per event
        for item in delivered:
            event_type = item.event.type
            verdict = handled.get(event_type)
            if verdict is None:
                verdict = handled[event_type] = self.handles(event_type)
            if verdict:
                kept.append(item)
                continue
            # a label value: a type no contract names (anything a producer sent matching the pattern) counts under one
            # value, so that whoever can write to a topic cannot add a series per type sent (round 30o)
            metrics.CONSUMER_UNHANDLED.labels(
                self.group_id, item.event.type if item.event.type in EVENT_MODELS else "unregistered").inc()
            if item.event.type not in self._unhandled_logged:
                self._unhandled_logged.add(item.event.type)
                log.info("event type has no handler: skipped, not recorded as applied",
                         extra={"group": self.group_id, "type": item.event.type})
        return kept

    @contextlib.asynccontextmanager
    async def holding_connection(self) -> AsyncIterator[None]:
        """Within: the batches' transactions run on one connection kept from batch to batch, not one
        checked out of the pool per batch. A checkout costs three round trips before the batch's first
        statement (the pool's pre-ping: BEGIN, an empty query, ROLLBACK), a tenth of a small batch's.
        The connection is pinged at its checkout only; one that fails is let go (the next batch takes
        a new one), and one that was found gone at a batch's start is replaced and the batch run again
        once: what the pre-ping did, after the fact (nothing of the failed transaction was committed;
        had its COMMIT got through before the connection went, its event ids are claimed and the
        batch applies nothing a second time)."""
        self._holding = True
        try:
            yield
        finally:
            self._holding = False
            await self._let_go()

    async def _apply(self, delivered: list[Delivered], next_offsets: dict[TopicPartition, int]) -> list[Delivered]:
        """One transaction: claim the new event ids, let the handler apply them, store the offsets. The
        garbage collector waits till it is over (`collector_paused`). A transaction PostgreSQL ended for a
        conflict with a concurrent one (`concurrency_conflict`: a deadlock, a serialization failure) is run
        again whole, up to `CONFLICT_RETRIES` times: several members of a group apply at once (replicas, or
        `consumer_workers`), and such a batch broke no rule — halved (`_apply_one_by_one`), its events
        could end as `handler_failed` dead letters."""
        def again(state: RetryCallState) -> None:
            metrics.CONSUMER_CONFLICT_RETRIES.labels(self.group_id).inc()
            log.info("batch ended by a conflict with a concurrent transaction: run again",
                     extra={"group": self.group_id, "attempt": state.attempt_number})

        with collector_paused():
            retrying = AsyncRetrying(retry=retry_if_exception(concurrency_conflict),
                                     stop=stop_after_attempt(CONFLICT_RETRIES + 1),
                                     wait=wait_incrementing(start=0.02, increment=0.02), before_sleep=again, reraise=True)
            result: list[Delivered] = await retrying(self._apply_paused, delivered, next_offsets)
            return result

    async def _apply_paused(self, delivered: list[Delivered], next_offsets: dict[TopicPartition, int]
                            ) -> list[Delivered]:
        if not self._holding:
            async with self.db.sessions() as session:
                try:
                    async with session.begin():
                        return await self._apply_in(session, delivered, next_offsets)
                finally:
                    _forget_batch(session)
        reused = self._held is not None
        try:
            return await self._apply_held(delivered, next_offsets)
        except Exception as error:
            await self._let_go()
            if not (reused and _connection_lost(error)):
                raise
        log.info("the held database connection was gone: the batch runs again on a new one",
                 extra={"group": self.group_id})
        try:
            return await self._apply_held(delivered, next_offsets)
        except Exception:
            await self._let_go()
            raise

    async def _apply_held(self, delivered: list[Delivered], next_offsets: dict[TopicPartition, int]
                          ) -> list[Delivered]:
        if self._held is None:
            self._held = await self.db.engine.connect()  # pinged by the pool at this checkout
        async with AsyncSession(bind=self._held, expire_on_commit=False) as session:
            try:
                async with session.begin():
                    return await self._apply_in(session, delivered, next_offsets)
            finally:
                _forget_batch(session)

    async def _let_go(self) -> None:
        held, self._held = self._held, None
        if held is not None:
            with contextlib.suppress(Exception):  # back to the pool (rolled back), or dropped if it is broken
                await held.close()

    async def _apply_in(self, session: AsyncSession, delivered: list[Delivered],
                        next_offsets: dict[TopicPartition, int]) -> list[Delivered]:
        # the offsets go with the claim (one round trip) where there is one to go with
        fresh, stored = await self._claim_new(session, delivered, next_offsets)
        if fresh:
            await self.handler(session, fresh)
        if next_offsets and not stored:
            await self._store_offsets(session, next_offsets)
        return fresh

    async def _apply_one_by_one(self, delivered: list[Delivered], records: dict[int, ConsumerRecord],
                                next_offsets: dict[TopicPartition, int], producer: AIOKafkaProducer,
                                ) -> list[Delivered]:
        """The batch failed. If the database is down, give up (the batch is read again later).
        Otherwise an event broke the handler: find it by halving the batch (each half applied in
        order in its own transaction; a half that fails is halved again), dead-letter it, keep the
        rest. One bad event among n costs about 2·log2(n) transactions, not n. The events go
        `in_time_order`, so each meets the state the events before it made."""
        if not await self._database_answers():
            raise
        # called from the `except` of `process`: the traceback is the batch's failure
        log.warning("batch failed; applying it in halves to find the events that fail",
                    extra={"group": self.group_id}, exc_info=True)  # noqa: LOG014
        failed: list[tuple[ConsumerRecord, str, str]] = []
        fresh = await self._apply_halves(in_time_order(delivered), records, failed, failed_already=True)
        if failed:
            await self._dead_letter(producer, failed)
        async with self.db.sessions.begin() as session:
            await self._store_offsets(session, next_offsets)
        return fresh

    async def _apply_halves(self, items: list[Delivered], records: dict[int, ConsumerRecord],
                            failed: list[tuple[ConsumerRecord, str, str]], failed_already: bool = False,
                            ) -> list[Delivered]:
        if not failed_already or len(items) == 1:
            try:
                return await self._apply(items, {})
            except Exception as error:
                if not await self._database_answers():
                    raise
                if len(items) == 1:
                    if isinstance(error, Refused):  # the handler's own verdict: its reason goes along
                        failed.append((records[id(items[0])], error.reason, error.message))
                    else:  # only the exception's type: its text may quote the event's data
                        failed.append((records[id(items[0])], "handler_failed",
                                       f"the handler failed with {type(error).__name__}"))
                    return []
        half = (len(items) + 1) // 2
        return (await self._apply_halves(items[:half], records, failed)
                + await self._apply_halves(items[half:], records, failed))

    async def _database_answers(self) -> bool:
        try:
            await self.db.ping(5)
            return True
        except Exception:
            return False

    async def _claim_new(self, session: AsyncSession, delivered: list[Delivered],
                         next_offsets: dict[TopicPartition, int] | None = None) -> tuple[list[Delivered], bool]:
        """Insert the batch's claims (`claim_of`: event id, organiser, topic); the ones that were already there are
        duplicates. Returns the new ones, and whether `next_offsets` were stored with them (in the same statement, a
        data-modifying CTE: one round trip; same transaction, so the same as storing them after the handler).

        An event id is unique within its organiser and topic only: another organiser's event under an applied id (its
        own partition), or an event of another topic under it (another entity's event types), is its own claim,
        applied, whichever partition was read first — so the rebuild, which reads them in another order, decides the
        same. A claim made before claims were per topic (`LEGACY_TOPIC`) or per organiser (`LEGACY_ORGANISER`)
        counts for every topic and organiser (`legacy_claims`): where any is left (`_legacy_claims`), an id it holds
        is not claimed again (one descent of the partial index per id, in the same statement).

        A concurrent transaction inserting the same claim (a revoked consumer finishing its batch)
        makes this insert wait for it, so an event is never applied by both. The claims go in in key order
        (the statement's ORDER BY), so two transactions claiming the same ones wait for each other in the same
        order (no deadlock); the offsets, a CTE the statement does not read, are written after them.

        Per batch of 5,000 the statement costs PostgreSQL ~30 ms of CPU (EXPLAIN: two descents of the random
        uuid primary key per id, the conflict check and the insert, ~8 buffers per id; bench/results/apply11.json),
        which stays: it is invariant 1. What Python paid around it is cut: the claims are not sorted here (UUID
        compares in Python, ~10 ms) and the answer is the positions of the claims that were there already (one
        array, empty unless there are duplicates), not a row per new claim (~4 ms to decode and look up).
        """
        # Keyed by the id first (one hash of a UUID per event, Python's: a (id, organiser, topic) tuple per event cost
        # twice the claim's Python time), the rare later event under an id of the batch sorted out after: another
        # organiser's or topic's (its own claim) or a twin (a second event under a claim of the batch)
        by_id: dict[UUID, Delivered] = {}
        later: list[Delivered] = []
        for item in delivered:
            if by_id.setdefault(item.event.id, item) is not item:
                later.append(item)
        if not by_id:
            return [], False
        claimed_items = list(by_id.values())
        ids = list(by_id)
        organisers = [_organiser_of(item) for item in claimed_items]
        topics = [item.topic for item in claimed_items]
        digests = [item.digest for item in claimed_items]
        twins: list[Delivered] = []
        if later:
            later_ids = {item.event.id for item in later}
            by_key = {claim_of(item): item for item in claimed_items if item.event.id in later_ids}
            for item in later:
                key = claim_of(item)
                if by_key.setdefault(key, item) is not item:
                    twins.append(item)
                    continue
                claimed_items.append(item)
                ids.append(key[0])
                organisers.append(key[1])
                topics.append(key[2])
                digests.append(item.digest)
            if len(claimed_items) > len(by_id):  # another claim under an id of the batch: in the batch's order
                position = {id(item): n for n, item in enumerate(delivered)}
                order = sorted(range(len(claimed_items)), key=lambda n: position[id(claimed_items[n])])
                claimed_items = [claimed_items[n] for n in order]
                ids, organisers = [ids[n] for n in order], [organisers[n] for n in order]
                topics, digests = [topics[n] for n in order], [digests[n] for n in order]
        # one statement whatever the batch's size (no parameter per row)
        params: dict[str, Any] = {"ids": ids, "organisers": organisers, "topics": topics, "digests": digests,
                                  "group_id": self.group_id}
        with_offsets = "WITH "
        if next_offsets:
            partitions = sorted(next_offsets, key=lambda tp: (tp.topic, tp.partition))
            with_offsets = self._offsets_cte
            params |= {"o_topics": [tp.topic for tp in partitions], "o_partitions": [tp.partition for tp in partitions],
                       "o_offsets": [next_offsets[tp] for tp in partitions]}
        table = self.applied.name
        # `legacy_claims` in SQL: a claim of unknown topic, of the organiser or of unknown organiser
        legacy = (f"WHERE NOT EXISTS (SELECT 1 FROM {table} l WHERE l.event_id = u.e AND l.topic = '{LEGACY_TOPIC}' "
                  f"AND l.organiser_id IN (u.o, '{LEGACY_ORGANISER}')) ") if self._legacy_claims else ""
        stmt = text(f"{with_offsets}claimed AS (INSERT INTO {table} (event_id, organiser_id, topic, group_id, digest) "
                    "SELECT e, o, t, :group_id, d FROM unnest(CAST(:ids AS uuid[]), CAST(:organisers AS text[]), "
                    f"CAST(:topics AS text[]), CAST(:digests AS bytea[])) AS u(e, o, t, d) {legacy}ORDER BY e, o, t "
                    "ON CONFLICT (event_id, organiser_id, topic) DO NOTHING RETURNING event_id, organiser_id, topic) "
                    "SELECT ARRAY(SELECT x.n FROM unnest(CAST(:ids AS uuid[]), CAST(:organisers AS text[]), "
                    "CAST(:topics AS text[])) WITH ORDINALITY AS x(e, o, t, n) WHERE (x.e, x.o, x.t) NOT IN "
                    "(SELECT event_id, organiser_id, topic FROM claimed)), "
                    f"EXISTS (SELECT 1 FROM {table} WHERE topic = '{LEGACY_TOPIC}')")
        there, self._legacy_claims = (await session.execute(stmt, params)).one()
        if not there and not twins:  # the usual batch: every claim new
            return claimed_items, bool(next_offsets)
        again_items = {(ids[n - 1], organisers[n - 1], topics[n - 1]): claimed_items[n - 1] for n in there}
        again = set(again_items)  # duplicates (a re-delivery, a replay)
        # The event that counts under a claim: the one applied before (by its stored digest; a legacy claim's where
        # the claim's own is not there), else the batch's first. A re-delivery has its bytes; other bytes are
        # another event (`_conflicting`).
        stored: dict[Claim, bytes | None] = {}
        if again:  # the same event, or another under its claim? (one array of ids: a batch may re-deliver 100,000)
            rows = await session.execute(select(
                self.applied.c.event_id, self.applied.c.organiser_id, self.applied.c.topic, self.applied.c.digest
            ).where(any_of(self.applied.c.event_id, {k[0] for k in again})))
            stored = {(row.event_id, row.organiser_id, row.topic): row.digest for row in rows.all()}
        twin_ids = {item.event.id for item in twins}
        firsts = {claim_of(item): item for item in claimed_items if item.event.id in twin_ids}
        for key, item in (*again_items.items(), *[(claim_of(t), t) for t in twins]):
            if key in again:
                digest = stored[key] if key in stored else next(
                    (stored[legacy] for legacy in legacy_claims(key) if legacy in stored), None)
            else:
                digest = firsts[key].digest
            if digest is not None and item.digest is not None and not same_content(item, digest):
                self._conflicting[id(item)] = item
        return [item for n, item in enumerate(claimed_items) if (ids[n], organisers[n], topics[n]) not in again], \
            bool(next_offsets)

    @functools.cached_property
    def _offsets_cte(self) -> str:
        """`_store_offsets` as the claim's first part (a data-modifying CTE runs whether or not it is read)."""
        return (f"WITH stored_offsets AS (INSERT INTO {self.offsets.name} (group_id, topic, partition, next_offset) "
                "SELECT :group_id, t, p, n FROM unnest(CAST(:o_topics AS text[]), CAST(:o_partitions AS integer[]), "
                "CAST(:o_offsets AS bigint[])) AS o(t, p, n) ON CONFLICT (group_id, topic, partition) DO UPDATE "
                "SET next_offset = EXCLUDED.next_offset, updated_at = now()), ")

    async def _store_offsets(self, session: AsyncSession, next_offsets: dict[TopicPartition, int]) -> None:
        stmt = pg_insert(self.offsets)
        await session.execute(stmt.on_conflict_do_update(
            index_elements=["group_id", "topic", "partition"],
            set_={"next_offset": stmt.excluded.next_offset, "updated_at": func.now()}),
            [{"group_id": self.group_id, "topic": tp.topic, "partition": tp.partition, "next_offset": offset}
             for tp, offset in next_offsets.items()])

    async def _dead_letter(self, producer: AIOKafkaProducer, dead: list[tuple[ConsumerRecord, str, str]]) -> None:
        """Each record to the dead-letter topic, with the reason and where it lies. A letter the producer or the broker
        refuses for its size (a dead-letter topic whose `max.message.bytes` is below `DEAD_LETTER_MAX_BYTES`, a
        producer's smaller `max_request_size`) is sent again with its bytes cut to a quarter, down to none: the
        headers still name the record's topic, partition and offset (it stays there) and, where its bytes were cut,
        `dlq.digest` (`record_digest` of its value, hex: the record found there is the one). Before, the
        send failed, the batch's offsets were never stored, and the consumer restarted on the same record for
        ever."""
        letters = []
        for record, reason, message in dead:
            metrics.CONSUMER_DEAD_LETTERED.labels(self.group_id, record.topic, reason).inc()
            log.warning("event dead-lettered", extra={"group": self.group_id, "topic": record.topic,
                                                      "partition": record.partition, "offset": record.offset,
                                                      "reason": reason})
            value, in_value = redact_record_bytes(record.value)
            key, in_key = redact_record_bytes(record.key)
            message, in_message = redact_personal_identity_numbers(message[:2000])
            headers = [
                ("dlq.reason", reason.encode()),
                ("dlq.message", message.encode()),
                ("dlq.redacted", str(in_value + in_key + in_message).encode()),
                ("dlq.topic", record.topic.encode()),
                ("dlq.partition", str(record.partition).encode()),
                ("dlq.offset", str(record.offset).encode()),
                ("dlq.group", self.group_id.encode()),
                ("dlq.time", datetime.now(UTC).isoformat().encode()),
            ]
            letters.append((record, key, value, headers))
        limit = DEAD_LETTER_MAX_BYTES
        while letters:
            futures = [await self._send_letter(producer, letter, limit) for letter in letters]
            # The offsets past these records are stored only after the dead letters are safely out.
            results = await asyncio.gather(*futures, return_exceptions=True)
            refused = [letter for letter, result in zip(letters, results, strict=True) if _too_large(result)]
            failed = next((result for result in results if isinstance(result, BaseException)
                           and not _too_large(result)), None)
            if failed is not None:
                raise failed
            if refused and limit == 0:
                raise next(result for result in results if isinstance(result, BaseException))
            if refused:
                log.warning("dead letters refused for their size: sent again cut shorter",
                            extra={"group": self.group_id, "letters": len(refused), "bytes": limit // 4})
            letters, limit = refused, limit // 4 if limit > 1024 else 0

    async def _send_letter(self, producer: AIOKafkaProducer,
                           letter: tuple[ConsumerRecord, bytes | None, bytes | None, list[tuple[str, bytes]]],
                           limit: int) -> asyncio.Future[Any]:
        """The send of one dead letter with its key and value cut to `limit` bytes (`within_dead_letter_size`); a
        refusal by the producer itself (its `max_request_size`) is the future's, as the broker's is."""
        record, key, value, headers = letter
        key, value, cut = within_dead_letter_size(key, value, limit)
        if cut:  # the record itself stays on its topic, at the place the headers above name
            headers = [*headers, ("dlq.truncated", str(cut).encode()),
                       ("dlq.digest", record_digest(record.value or b"").hex().encode())]
        try:
            sent: asyncio.Future[Any] = await producer.send(self.dead_letter_topic, value=value, key=key,
                                                            headers=headers)
        except (MessageSizeTooLargeError, RecordListTooLargeError, RecordTooLargeError) as error:
            sent = asyncio.get_running_loop().create_future()
            sent.set_exception(error)
        return sent


def _too_large(result: object) -> bool:
    return isinstance(result, (MessageSizeTooLargeError, RecordListTooLargeError, RecordTooLargeError))


#: key and value of a dead letter at most: a record at the broker's size limit (1 MiB by default), with
#: the dead letter's headers added, would be larger than the producer sends (1 MiB) and the broker takes —
#: and a dead letter that cannot be sent stops the consumer on that record for good
DEAD_LETTER_MAX_BYTES = 960_000


def within_dead_letter_size(key: bytes | None, value: bytes | None, limit: int = DEAD_LETTER_MAX_BYTES
                            ) -> tuple[bytes | None, bytes | None, int]:
    """Key and value cut to `limit` bytes together (the key to a quarter of it at most), and how many
    bytes were cut (0: none): a dead letter is always sent, the bytes beyond it are on the record's
    own topic."""
    size = len(key or b"") + len(value or b"")
    if size <= limit:
        return key, value, 0
    if key is not None and len(key) > limit // 4:
        key = key[:limit // 4]
    if value is not None:
        value = value[:limit - len(key or b"")]
    return key, value, size - len(key or b"") - len(value or b"")


def _connection_lost(error: BaseException) -> bool:
    """Whether `error` says the database connection was gone: SQLAlchemy's disconnect (the dialect's verdict on
    the driver's error), or the driver's own where a statement went to it directly (a COPY)."""
    if isinstance(error, DBAPIError):
        return bool(error.connection_invalidated)
    return isinstance(error, (asyncpg.exceptions.ConnectionDoesNotExistError, asyncpg.exceptions.InterfaceError,
                              ConnectionError))


#: how often a batch ended by a conflict with a concurrent transaction is run again before it counts as failed
CONFLICT_RETRIES = 3
#: SQLSTATEs of a transaction ended for a concurrent one, not for anything in it: deadlock_detected,
#: serialization_failure
_CONFLICT_STATES = frozenset({"40P01", "40001"})


def concurrency_conflict(error: BaseException) -> bool:
    """Whether `error` (or what it wraps: SQLAlchemy's error of the driver's) is PostgreSQL ending the
    transaction for a concurrent one: running it again may well succeed."""
    seen: BaseException | None = error
    for _ in range(5):
        if seen is None:
            return False
        if getattr(seen, "sqlstate", None) in _CONFLICT_STATES or getattr(seen, "pgcode", None) in _CONFLICT_STATES:
            return True
        seen = getattr(seen, "orig", None) or seen.__cause__
    return False


def _conflict(event_id: UUID) -> str:
    return f"id {event_id}: an event with other content under this id came first and counts"


# records decoded between two turns of the event loop: a worker that consumes also serves HTTP, and
# decoding thousands of events in one stretch (~50 µs each) held its requests up for as long
DECODE_SLICE = 256
#: likewise while the batch before is in its transaction (`ConsumerLoop._loop`): each of its statements'
#: answers waits for the slice in hand, so the slices are shorter there (~3 ms)
OVERLAP_DECODE_SLICE = 64


async def fill_batch(consumer: AIOKafkaConsumer, batch: dict[TopicPartition, list[ConsumerRecord]], limit: int,
                     max_seconds: float, *, busy: asyncio.Future[None] | None = None,
                     taken: Callable[[dict[TopicPartition, list[ConsumerRecord]]], Awaitable[None]] | None = None,
                     wait_ms: int = 200, fetch: Fetch | None = None, max_bytes: int | None = None
                     ) -> dict[TopicPartition, list[ConsumerRecord]]:
    """Add to `batch` the records the client holds already (fetches that take no wait), up to `limit`
    records in all and for at most `max_seconds`; each partition's records stay in offset order. With `max_bytes`,
    no fetch is taken once the batch's records hold that many bytes (`records_bytes`): large valid events by the
    thousand made a batch of gigabytes.
    While `busy` is not done, records are waited for as well (fetches of up to `wait_ms`, cut short
    when it is done), whatever the time. `taken` is awaited with each fetch's records. `fetch`: the
    client's `getmany`, or what stands for it (`ConsumerLoop._getmany`), given the futures that end a fetch early
    (`until`)."""
    getmany = functools.partial(_client_fetch, consumer) if fetch is None else fetch
    count = sum(len(records) for records in batch.values())
    size = records_bytes(batch) if max_bytes is not None else 0
    deadline = time.monotonic() + max_seconds
    while batch and count < limit and (max_bytes is None or size < max_bytes):
        if busy is not None and not busy.done():
            more = await getmany(timeout_ms=wait_ms, max_records=limit - count, until=(busy,))
        elif time.monotonic() < deadline:
            more = await getmany(timeout_ms=0, max_records=limit - count)
            if not more:
                break
        else:
            break
        if taken is not None and more:
            await taken(more)
        for tp, records in more.items():
            batch.setdefault(tp, []).extend(records)
            count += len(records)
        if max_bytes is not None:
            size += records_bytes(more)
    return batch


def records_bytes(records: dict[TopicPartition, list[ConsumerRecord]]) -> int:
    """The bytes of the records' keys and values (what a batch holds of them before they are decoded)."""
    total = 0
    for items in records.values():
        for record in items:
            value, key = getattr(record, "value", None), getattr(record, "key", None)
            total += (len(value) if isinstance(value, bytes) else 0) + (len(key) if isinstance(key, bytes) else 0)
    return total


async def _client_fetch(consumer: AIOKafkaConsumer, *, until: Sequence[asyncio.Future[Any]] = (), **kwargs: Any
                        ) -> dict[TopicPartition, list[ConsumerRecord]]:
    return await _unless_done(consumer.getmany(**kwargs), *until)


async def _unless_done(fetch: Awaitable[dict[TopicPartition, list[ConsumerRecord]]], *ends: asyncio.Future[Any]
                       ) -> dict[TopicPartition, list[ConsumerRecord]]:
    """`fetch`'s records, or none if one of `ends` is done first (the fetch is cancelled: aiokafka takes records
    from its buffer only in the step that returns them, so a cancelled fetch has taken none). The fetch runs in
    this one task, awaited here: the records of a fetch that ended are returned, never dropped on the way
    (a second task between would hold them when its own waiter is cancelled)."""
    if not ends:
        return await fetch
    task = asyncio.ensure_future(fetch)
    try:
        await asyncio.wait((task, *ends), return_when=asyncio.FIRST_COMPLETED)
    finally:
        if not task.done():
            await cancel_and_wait(task)
    return {} if task.cancelled() else task.result()


def prefetch_without_backoff(consumer: AIOKafkaConsumer) -> bool:
    """Let the client fetch a node's other partitions while records of one wait to be taken.

    aiokafka (0.14) sends no fetch at all to a broker for `prefetch_backoff` (100 ms) after it
    buffered records of any of that broker's partitions, until the loop takes them. The loop takes
    them only after the batch it is applying (~100 ms under load), so records that reached other
    partitions meanwhile were fetched only after it, then waited for the whole next batch too: on
    Apache Kafka most of POST → visible (bench/results/flow.json). With no backoff the fetcher keeps
    fetching the other partitions (as Kafka's own consumer does), and the next batch takes them all.
    A private attribute of the pinned client (requirements/lock.txt): returns whether it was there,
    and packages/kit/tests/test_consumer_batching.py fails on a client without it."""
    fetcher = getattr(consumer, "_fetcher", None)
    if fetcher is None or not hasattr(fetcher, "_prefetch_backoff"):
        return False
    fetcher._prefetch_backoff = 0.0
    return True


def in_time_order(delivered: Sequence[Delivered]) -> list[Delivered]:
    """A batch's events for applying one by one: each partition's in offset order, the partitions
    interleaved by event time. Applied whole, a batch runs its handlers in their own order (reporting:
    the directory first), so an event is judged against every directory change of its batch; one by
    one in the order the fetch happened to list the partitions, an event written after a directory
    change (a LIKA self-assessment for a school unit, after the unit was placed under its organiser)
    could come first and be judged without it: held as "unit not known yet" instead of refused."""
    by_partition: dict[tuple[str, int], list[Delivered]] = {}
    for item in delivered:
        by_partition.setdefault((item.topic, item.partition), []).append(item)
    return list(heapq.merge(*by_partition.values(), key=lambda item: item.event.time))


def consumer_lag(end_offset: int, next_offset: int, exact_offsets: bool) -> float:
    """Records on the partition not yet applied, or NaN (unknown) where the broker's end offsets do not
    count records (the embedded broker answered 1 for a partition holding 100): then only an empty
    fetch shows the consumer caught up. An end offset below our own position is never believed."""
    if not exact_offsets or end_offset < next_offset:
        return float("nan")
    return float(end_offset - next_offset)

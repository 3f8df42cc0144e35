"""A record batch (Kafka's message format v2) read record by record, for a batch the client could not read whole.

aiokafka reads a whole batch at once and raises at its first fault, so one bad record cost the batch's good ones
(the kit dead-lettered the batch as `undecodable_batch`). Here each record is read within its own length, so a
fault inside one record costs that record only. What each fault costs:

- the batch's CRC-32C does not match its bytes, or it does not inflate (a codec unknown or missing, bytes that are
  not what the codec makes, beyond the inflation limit): every record is inside those bytes, so the whole batch is
  unreadable (`BatchUnreadable`: no record of it is trusted);
- a record whose length lands inside the batch, but whose fields do not fit it (a key, value or header running
  past its end, a negative length, a varint of more bytes than its type has, bytes left after its headers): that
  record only (`Unreadable` at its offset); the next record starts where its length says;
- a record length that is not positive or runs past the batch's end, a record count the bytes do not hold (fewer
  records, or bytes after the last one), offsets that do not ascend within the batch's last offset: the records
  can no longer be told apart from there on. Those read before stand; the rest is one `Unreadable` at the batch's
  last offset, naming the range (the whole batch one, where nothing before stands apart from it);
- a header key that is not UTF-8 (the protocol says String; the Java client and librdkafka send any bytes, and
  read them back with the bad bytes replaced): not a fault. The record is read, the key with U+FFFD for each bad
  byte, as the Java client reads it: the value decides whether a record is an event, never its headers.

The old formats (v0, v1: clients before Kafka 0.11, logs written before an upgrade) compress differently: one
wrapper message whose value is a compressed message set, each inner message with its own CRC-32. aiokafka checked
none of those (a record spoilt inside a wrapper was handed out as it read), and one inner message whose fields did
not fit (a key running past it, a codec inside the compression) cost the whole wrapper. `read_legacy_records` reads a
wrapper message by message, with the same costs as above: the wrapper's CRC or its inflation at fault, the whole
wrapper; one inner message's CRC or fields, that record only; inner messages that cannot be told apart, the rest
(v1: the whole wrapper, whose absolute offsets hang on its last inner message's).

Pure: bytes in, records out; the inflation is the caller's (`inflate`, with its limit).
"""

from __future__ import annotations

import struct
import zlib
from collections.abc import Callable
from dataclasses import dataclass

from aiokafka.record.util import calc_crc32c

#: BaseOffset, Length, PartitionLeaderEpoch, Magic, CRC, Attributes, LastOffsetDelta, FirstTimestamp,
#: MaxTimestamp, ProducerId, ProducerEpoch, BaseSequence, Records count
HEADER = struct.Struct(">qiibIhiqqqhii")
CRC_FROM = 21  # the CRC covers the bytes from the attributes on
CODEC_MASK, LOG_APPEND_TIME = 0x07, 0x08
VARINT_BYTES, VARLONG_BYTES = 5, 10


@dataclass(frozen=True, slots=True)
class Record:
    """One record as aiokafka's batches hand them out (`DefaultRecord`; of format v0 without a timestamp: None)."""

    offset: int
    timestamp: int | None
    timestamp_type: int | None
    key: bytes | None
    value: bytes | None
    headers: list[tuple[str, bytes | None]]
    checksum: None = None


@dataclass(frozen=True, slots=True)
class Unreadable:
    """Records that cannot be read, from offset `first` to `offset` (where it stands), and why. `framing`: the
    records there cannot be told apart (one record's fields are at fault where it is False)."""

    first: int
    offset: int
    reason: str
    framing: bool = False


class BatchUnreadable(ValueError):
    """No record of the batch can be trusted: its bytes do not match their CRC, or they do not inflate."""


class _Fault(ValueError):
    """What is wrong inside one record."""


def batch_offsets(raw: bytes) -> tuple[int, int]:
    """The first and the last offset a v2 batch covers, as its header states them."""
    base, _, _, _, _, _, last_delta, *_ = HEADER.unpack_from(raw)
    return base, base + last_delta


def read_records(raw: bytes, inflate: Callable[[int, bytes], bytes]) -> list[Record | Unreadable]:
    """The records of one v2 record batch (its bytes from its base offset on) in offset order, each unreadable
    record or run of records as an `Unreadable` in its place (see the module's docstring). `inflate(codec,
    payload)` inflates a compressed batch's records. Raises `BatchUnreadable` where no record can be trusted."""
    if len(raw) < HEADER.size:
        raise BatchUnreadable(f"{len(raw)} bytes, fewer than a batch's header ({HEADER.size})")
    (base, _, _, magic, crc, attributes, last_delta, first_time, max_time, _, _, _, count) = HEADER.unpack_from(raw)
    if magic != 2:
        raise BatchUnreadable(f"message format {magic}, not 2")
    computed = calc_crc32c(bytes(raw[CRC_FROM:]))
    if computed != crc:
        raise BatchUnreadable(f"its CRC-32C is {crc:#010x}, its bytes' {computed:#010x}")
    codec = attributes & CODEC_MASK
    payload = bytes(raw[HEADER.size:]) if codec == 0 else inflate(codec, bytes(raw[HEADER.size:]))
    log_append_time = bool(attributes & LOG_APPEND_TIME)
    last = base + last_delta
    out: list[Record | Unreadable] = []
    at, end, previous = 0, len(payload), base - 1

    def rest(why: str) -> list[Record | Unreadable]:
        if previous >= last:  # a record read holds the last offset already: nothing of this batch stands apart
            return [Unreadable(base, last, f"the record batch at offsets {base}..{last} cannot be read: {why}", True)]
        return [*out, Unreadable(previous + 1, last, f"the records at offsets {previous + 1}..{last} (of the record "
                                                     f"batch at offsets {base}..{last}) cannot be read: {why}", True)]

    for index in range(count):
        if at >= end:
            return rest(f"it states {count} records and holds {index}")
        try:
            length, start = _varint(payload, at, end, VARINT_BYTES)
        except _Fault as fault:
            return rest(f"record {index}'s length: {fault}")
        if length <= 0 or start + length > end:
            return rest(f"record {index}'s length ({length} bytes) does not fit the batch ({end - start} left)")
        at = start + length
        try:
            record = _record(payload, start, at, base, first_time, max_time, log_append_time)
        except _Fault as fault:
            offset = _offset_of(payload, start, at, base, previous)
            if not previous < offset <= last:
                return rest(f"record {index} ({fault}) has no offset in the batch's range")
            out.append(Unreadable(offset, offset, f"the record at offset {offset} (of the record batch at offsets "
                                                  f"{base}..{last}) cannot be read: {fault}"))
            previous = offset
            continue
        if not previous < record.offset <= last:
            return rest(f"record {index}'s offset {record.offset} does not follow {previous} within the batch")
        out.append(record)
        previous = record.offset
    if at != end:
        return rest(f"{end - at} bytes after its {count} records")
    return out


def _offset_of(buffer: bytes, at: int, end: int, base: int, previous: int) -> int:
    """The offset of a record that cannot be read: its own where its fields reach that far, else the next one."""
    try:
        _, at = _varint(buffer, at + 1, end, VARLONG_BYTES)  # after the attributes, the timestamp's delta
        delta, _ = _varint(buffer, at, end, VARINT_BYTES)
    except _Fault:
        return previous + 1
    return base + delta


def _record(buffer: bytes, at: int, end: int, base: int, first_time: int, max_time: int, log_append_time: bool
            ) -> Record:
    """The record in `buffer[at:end]` (after its length): attributes, timestamp and offset deltas, key, value,
    headers, filling it exactly."""
    at += 1  # the attributes: unused
    time_delta, at = _varint(buffer, at, end, VARLONG_BYTES)
    offset_delta, at = _varint(buffer, at, end, VARINT_BYTES)
    key, at = _bytes(buffer, at, end, "the key")
    value, at = _bytes(buffer, at, end, "the value")
    header_count, at = _varint(buffer, at, end, VARINT_BYTES)
    if header_count < 0:
        raise _Fault(f"a negative number of headers ({header_count})")
    headers: list[tuple[str, bytes | None]] = []
    for n in range(header_count):
        name, at = _bytes(buffer, at, end, f"header {n}'s key")
        if name is None:
            raise _Fault(f"header {n}'s key is null")
        header_value, at = _bytes(buffer, at, end, f"header {n}'s value")
        headers.append((name.decode("utf-8", "replace"), header_value))
    if at != end:
        raise _Fault(f"{end - at} bytes left after its headers")
    timestamp = max_time if log_append_time else first_time + time_delta
    return Record(base + offset_delta, timestamp, int(log_append_time), key, value, headers)


def _bytes(buffer: bytes, at: int, end: int, what: str) -> tuple[bytes | None, int]:
    length, at = _varint(buffer, at, end, VARINT_BYTES)
    if length < -1:
        raise _Fault(f"{what} has a negative length ({length})")
    if length == -1:
        return None, at
    if at + length > end:
        raise _Fault(f"{what} ({length} bytes) runs past the record's end ({end - at} bytes left)")
    return buffer[at:at + length], at + length


def _varint(buffer: bytes, at: int, end: int, most: int) -> tuple[int, int]:
    """A zigzag varint of at most `most` bytes (5 for an int, 10 for a long) from `buffer[at:end]`, and where it ends."""
    result = 0
    for n in range(most):
        if at + n >= end:
            raise _Fault("a varint runs past the record's end")
        byte = buffer[at + n]
        result |= (byte & 0x7F) << 7 * n
        if not byte & 0x80:
            return (result >> 1) ^ -(result & 1), at + n + 1
    raise _Fault(f"a varint of more than {most} bytes")


# -- the old message formats (v0, v1) -------------------------------------------------------------------------------

#: Offset, MessageSize, then the message: CRC, Magic, Attributes (v1: Timestamp), Key, Value
LEGACY_HEADER = struct.Struct(">qiIbb")
LEGACY_CRC_FROM = 16  # a message's CRC-32 covers the bytes from its magic byte on
LEGACY_CODECS = (1, 2, 3)  # gzip, snappy, lz4: zstd came with format v2
_INT32, _INT64 = struct.Struct(">i"), struct.Struct(">q")


def legacy_codec(raw: bytes) -> int:
    """The codec of the old-format message `raw` (from its offset on): 0 for a plain one, which holds one record."""
    if len(raw) < LEGACY_HEADER.size:
        return 0
    return int(raw[LEGACY_HEADER.size - 1]) & CODEC_MASK


def read_legacy_records(raw: bytes, inflate: Callable[[int, bytes], bytes]) -> list[Record | Unreadable]:
    """The records of one compressed message of the old formats (its bytes from its offset on) in offset order, each
    unreadable record or run as an `Unreadable` in its place (see the module's docstring). Raises `BatchUnreadable`
    where no record can be trusted: the wrapper's CRC, fields or codec, its value not inflating (`inflate(codec,
    value)`), or (v1) inner messages that cannot be told apart."""
    if len(raw) < LEGACY_HEADER.size:
        raise BatchUnreadable(f"{len(raw)} bytes, fewer than a message's header ({LEGACY_HEADER.size})")
    last, length, crc, magic, attributes = LEGACY_HEADER.unpack_from(raw)
    if magic not in (0, 1):
        raise BatchUnreadable(f"message format {magic}, not 0 or 1")
    end = 12 + length
    if length < 0 or end > len(raw):
        raise BatchUnreadable(f"its size ({length} bytes) runs past its bytes ({len(raw) - 12})")
    computed = zlib.crc32(raw[LEGACY_CRC_FROM:end])
    if computed != crc:
        raise BatchUnreadable(f"its CRC-32 is {crc:#010x}, its bytes' {computed:#010x}")
    codec = attributes & CODEC_MASK
    if codec not in LEGACY_CODECS or (magic == 0 and codec == 3):  # lz4 in v0 was framed wrongly (KAFKA-3160)
        raise BatchUnreadable(f"codec {codec} is none the message format {magic} has")
    at = LEGACY_HEADER.size
    wrapper_time: int | None = None
    try:
        if magic == 1:
            (wrapper_time,), at = _INT64.unpack_from(raw, at), at + 8
        _, at = _legacy_bytes(raw, at, end, "the key")
        value, at = _legacy_bytes(raw, at, end, "the value")
    except _Fault as fault:
        raise BatchUnreadable(str(fault)) from None
    if value is None:
        raise BatchUnreadable("a compressed message without a value")
    payload = inflate(codec, value)
    log_append_time = magic == 1 and bool(attributes & LOG_APPEND_TIME)
    frames, broken = _legacy_frames(payload)
    if broken is not None and magic == 1:  # the absolute offsets hang on the last inner message's
        raise BatchUnreadable(f"its inner messages cannot be told apart: {broken}")
    if not frames and broken is None:
        raise BatchUnreadable("it wraps no message")
    base = last - frames[-1][0] if magic == 1 and frames else 0
    out: list[Record | Unreadable] = []
    previous = -1

    def rest(why: str) -> list[Record | Unreadable]:
        first = previous + 1 if out else last
        return [*out, Unreadable(first, last, f"the records at offsets {first}..{last} (of the compressed message at "
                                              f"offset {last}) cannot be read: {why}", True)]

    for index, (offset, start, stop) in enumerate(frames):
        offset += base
        if not previous < offset <= last:
            return rest(f"inner message {index}'s offset {offset} does not follow {previous} within the message")
        try:
            out.append(_legacy_record(payload, start, stop, offset, magic, wrapper_time if log_append_time else None))
        except _Fault as fault:
            out.append(Unreadable(offset, offset, f"the record at offset {offset} (of the compressed message at "
                                                  f"offset {last}) cannot be read: {fault}"))
        previous = offset
    if broken is not None:
        return rest(broken)
    if previous != last:
        return rest(f"its last inner message is at offset {previous}, not at the message's own")
    return out


def _legacy_frames(payload: bytes) -> tuple[list[tuple[int, int, int]], str | None]:
    """The inner messages of a message set: (offset as written, start, end of the message's bytes) each, and why the
    ones after the last could not be told apart (None: every byte is in a message)."""
    frames: list[tuple[int, int, int]] = []
    at = 0
    while at < len(payload):
        if len(payload) - at < 12:
            return frames, f"{len(payload) - at} bytes after inner message {len(frames) - 1}"
        offset, size = _INT64.unpack_from(payload, at)[0], _INT32.unpack_from(payload, at + 8)[0]
        if size < 6 or at + 12 + size > len(payload):
            return frames, f"inner message {len(frames)}'s size ({size} bytes) does not fit the set"
        frames.append((offset, at + 12, at + 12 + size))
        at += 12 + size
    return frames, None


def _legacy_record(buffer: bytes, at: int, end: int, offset: int, magic: int, wrapper_time: int | None) -> Record:
    """The inner message in `buffer[at:end]` (after its offset and size): its CRC-32, magic and attributes checked,
    key and value filling it exactly. `wrapper_time`: the wrapper's timestamp where it is the log's append time."""
    crc = struct.unpack_from(">I", buffer, at)[0]
    computed = zlib.crc32(buffer[at + 4:end])
    if computed != crc:
        raise _Fault(f"its CRC-32 is {crc:#010x}, its bytes' {computed:#010x}")
    inner_magic, attributes = buffer[at + 4], buffer[at + 5]
    if inner_magic != magic:
        raise _Fault(f"message format {inner_magic} inside a message of format {magic}")
    if attributes & CODEC_MASK:
        raise _Fault("it is compressed inside a compressed message")
    at += 6
    timestamp: int | None = None
    if magic == 1:
        if at + 8 > end:
            raise _Fault("its timestamp runs past its end")
        timestamp, at = _INT64.unpack_from(buffer, at)[0], at + 8
    key, at = _legacy_bytes(buffer, at, end, "the key")
    value, at = _legacy_bytes(buffer, at, end, "the value")
    if at != end:
        raise _Fault(f"{end - at} bytes left after its value")
    if magic == 0:
        return Record(offset, None, None, key, value, [])
    if wrapper_time is not None:
        return Record(offset, wrapper_time, 1, key, value, [])
    return Record(offset, timestamp, 0, key, value, [])


def _legacy_bytes(buffer: bytes, at: int, end: int, what: str) -> tuple[bytes | None, int]:
    if at + 4 > end:
        raise _Fault(f"{what}'s length runs past the message's end")
    length = _INT32.unpack_from(buffer, at)[0]
    at += 4
    if length < -1:
        raise _Fault(f"{what} has a negative length ({length})")
    if length == -1:
        return None, at
    if at + length > end:
        raise _Fault(f"{what} ({length} bytes) runs past the message's end ({end - at} bytes left)")
    return bytes(buffer[at:at + length]), at + length

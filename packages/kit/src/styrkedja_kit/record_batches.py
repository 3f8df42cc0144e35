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

Pure: bytes in, records out; the inflation is the caller's (`inflate`, with its limit).
"""

from __future__ import annotations

import struct
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
    """One record as aiokafka's batches hand them out (`DefaultRecord`)."""

    offset: int
    timestamp: int
    timestamp_type: int
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

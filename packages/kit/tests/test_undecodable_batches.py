"""Record batches from other Kafka clients that this client cannot decode (hostile inputs, round 7).

aiokafka raised the codec's error from `getmany` on every fetch of the partition: the consumer restarted
on the same batch for ever, and nothing after it on any of its partitions was applied. Now the kit's fetcher
hands out one stand-in record at the batch's last offset (`UndecodableBatch`), which the consumer
dead-letters as `undecodable_batch`; the batches around it are read as before."""

from __future__ import annotations

import itertools
import struct
import subprocess
import sys
import zlib
from collections.abc import Iterator
from pathlib import Path

import cramjam
import pytest
from aiokafka import TopicPartition
from aiokafka.codec import snappy_encode
from aiokafka.consumer import fetcher
from aiokafka.record.default_records import DefaultRecordBatchBuilder
from aiokafka.record.legacy_records import LegacyRecordBatchBuilder
from aiokafka.record.util import calc_crc32c, encode_varint

from styrkedja_kit import kafka
from styrkedja_kit.kafka import UndecodableBatch, make_consumer
from styrkedja_kit.settings import ServiceSettings

TP = TopicPartition("styrkedja.organisation", 0)
GZIP, SNAPPY, LZ4, ZSTD = 1, 2, 3, 4
ATTRIBUTES_AT, CRC_AT, RECORDS_AT = 21, 17, 61  # the v2 batch header's fields


def batch(base_offset: int, values: list[bytes], codec: int = 0, *, transactional: bool = False) -> bytearray:
    builder = DefaultRecordBatchBuilder(2, codec, int(transactional), 7 if transactional else -1,
                                        0 if transactional else -1, 0 if transactional else -1, 1 << 20)
    for delta, value in enumerate(values):
        builder.append(delta, 1_700_000_000_000, b"2999", value, [("h", b"v")])
    raw = builder.build()
    struct.pack_into(">q", raw, 0, base_offset)
    return raw


def resealed(raw: bytearray) -> bytearray:
    """The batch with its CRC-32C made right again, so that only the change made to it is wrong."""
    struct.pack_into(">I", raw, CRC_AT, calc_crc32c(bytes(raw[ATTRIBUTES_AT:])))
    return raw


def with_codec(raw: bytearray, codec: int) -> bytearray:
    attributes = struct.unpack_from(">h", raw, ATTRIBUTES_AT)[0]
    struct.pack_into(">h", raw, ATTRIBUTES_AT, (attributes & ~0x07) | codec)
    return resealed(raw)


def broken_payload(raw: bytearray) -> bytearray:
    for at in range(RECORDS_AT + 4, min(len(raw), RECORDS_AT + 40)):
        raw[at] ^= 0x5A
    return resealed(raw)


def read(data: bytes, fetch_offset: int = 0) -> list:
    """The records of a fetch's bytes as the fetcher reads them (its `MemoryRecords`, which the kit replaces)."""
    records = fetcher.PartitionRecords(TP, fetcher.MemoryRecords(data), None, fetch_offset, None, None, True,
                                       fetcher.READ_UNCOMMITTED)
    return list(records)


@pytest.mark.parametrize("codec", [GZIP, SNAPPY, LZ4, ZSTD])
def test_every_codec_kafka_clients_use_is_read(codec: int) -> None:
    """snappy, lz4 and zstd need `cramjam` (not in the lock file before): a librdkafka or Java producer's
    compressed batch was an UnsupportedCodecError."""
    got = read(bytes(batch(5, [b"a", b"b"], codec)))
    assert [(r.offset, r.value, r.headers) for r in got] == [(5, b"a", (("h", b"v"),)), (6, b"b", (("h", b"v"),))]


@pytest.mark.parametrize(("label", "spoil", "codec_name"), [
    ("a codec no Kafka has", lambda raw: with_codec(raw, 5), "unknown"),
    ("gzip bytes that do not inflate", lambda raw: broken_payload(raw), "gzip"),
    ("zstd bytes that do not inflate", lambda raw: broken_payload(raw), "zstd"),
    ("lz4 bytes that do not inflate", lambda raw: broken_payload(raw), "lz4"),
    # records that do not parse, sealed with a right CRC by a producer writing its own bytes (the embedded broker
    # keeps them), cost only themselves now: test_record_batches.py
])
def test_an_undecodable_batch_is_one_stand_in_at_its_last_offset_and_the_rest_is_read(label, spoil, codec_name
                                                                                     ) -> None:
    codec = {"unknown": 0, "none": 0, "gzip": GZIP, "zstd": ZSTD, "lz4": LZ4}[codec_name]
    data = (batch(0, [b"before"]) + spoil(batch(1, [b"x", b"y", b"z"], codec))
            + batch(4, [b"after"], GZIP))
    got = read(bytes(data))
    assert [r.offset for r in got] == [0, 3, 4], label
    assert (got[0].value, got[2].value) == (b"before", b"after")
    stand_in = got[1].value
    assert isinstance(stand_in, UndecodableBatch) and stand_in == b"" and got[1].key is None
    assert stand_in.reason.startswith(f"the record batch at offsets 1..3 (compression {codec_name}) cannot be decoded")
    assert got[1].headers == ()  # nothing a producer wrote is taken for ours


def test_a_fetch_starting_inside_an_undecodable_batch_still_passes_it() -> None:
    got = read(bytes(with_codec(batch(10, [b"x", b"y"]), 6) + batch(12, [b"after"])), fetch_offset=11)
    assert [r.offset for r in got] == [11, 12] and isinstance(got[0].value, UndecodableBatch)


def test_the_fetchers_name_the_kit_replaces_is_where_it_was() -> None:
    """aiokafka builds its PartitionRecords and MemoryRecords by these module-level names; the kit's must be the ones."""
    import inspect

    assert "PartitionRecords(" in inspect.getsource(fetcher.Fetcher)
    assert fetcher.PartitionRecords.__module__ == "styrkedja_kit.kafka"
    # and its MemoryRecords: the kit's keeps the fetch's bytes, to read a batch aiokafka cannot read record by record
    assert "MemoryRecords(" in inspect.getsource(fetcher.Fetcher)
    assert fetcher.MemoryRecords is kafka._CheckedRecords



def test_a_fetchs_records_and_bytes_are_freed_when_dropped_without_the_collector() -> None:
    """The kit's MemoryRecords keeps its fetch's bytes (up to a partition's fetch size each): a reference cycle
    through it (it kept its own bound method) left every fetch's bytes to a full collection, which the collector
    seldom runs, and a reporting worker's RSS grew with the data (bench/results/rss25.json)."""
    import gc
    import weakref

    data = bytes(batch(5, [b"a", b"b"]) + with_codec(batch(7, [b"x"]), 6))
    was = gc.isenabled()
    gc.disable()
    try:
        records = fetcher.MemoryRecords(data)
        got = list(fetcher.PartitionRecords(TP, records, None, 0, None, None, True, fetcher.READ_UNCOMMITTED))
        assert [r.offset for r in got] == [5, 6, 7] and isinstance(got[2].value, UndecodableBatch)
        gone = weakref.ref(records)
        del records, got
        assert gone() is None, "the fetch's records are held by a reference cycle"
    finally:
        if was:
            gc.enable()

def legacy(magic: int, codec: int, base_offset: int, values: list[bytes]) -> bytearray:
    """A message set of the old formats (v0, v1), which clients before Kafka 0.11 write; compressed, one wrapper
    message whose offset is its last inner record's (v1: its records' offsets relative to it; v0: absolute)."""
    builder = LegacyRecordBatchBuilder(magic, codec, 1 << 20)
    for n, value in enumerate(values):
        builder.append(n if codec and magic else base_offset + n, 1_700_000_000_000 if magic else None, b"2999", value)
    raw = builder.build()
    if codec:
        struct.pack_into(">q", raw, 0, base_offset + len(values) - 1)
    return raw


def legacy_broken(raw: bytearray) -> bytearray:
    for at in range(len(raw) - 12, len(raw) - 2):  # inside the wrapper's compressed value
        raw[at] ^= 0x5A
    struct.pack_into(">I", raw, 12, zlib.crc32(bytes(raw[16:])))  # v0/v1: CRC-32 from the magic byte on
    return raw


@pytest.mark.parametrize("magic", [0, 1])
def test_the_old_message_formats_are_read_and_an_undecodable_one_passed(magic: int) -> None:
    data = (legacy(magic, 0, 0, [b"plain"]) + legacy(magic, GZIP, 1, [b"a", b"b"])
            + legacy_broken(legacy(magic, GZIP, 3, [b"x" * 200, b"y" * 200])) + legacy(magic, SNAPPY, 5, [b"after"]))
    got = read(bytes(data))
    assert [(r.offset, r.value) for r in got if not isinstance(r.value, UndecodableBatch)] == [
        (0, b"plain"), (1, b"a"), (2, b"b"), (5, b"after")]
    [stand_in] = [r for r in got if isinstance(r.value, UndecodableBatch)]
    assert stand_in.offset == 4 and "(compression gzip) cannot be decoded" in stand_in.value.reason


def inner_messages(magic: int, first: int, values: list[bytes]) -> list[bytearray]:
    """Uncompressed messages of format `magic`, one per value, as a compressed message wraps them (v1: offsets
    relative, from 0; v0: absolute, from `first`)."""
    out = []
    for n, value in enumerate(values):
        builder = LegacyRecordBatchBuilder(magic, 0, 1 << 20)
        builder.append(n if magic else first + n, 1_700_000_000_000 + n if magic else None, b"2999", value)
        out.append(builder.build())
    return out


def reseal_inner(message: bytearray) -> bytearray:
    """An inner message with its CRC-32 made right again, so that only the change made to it is wrong."""
    struct.pack_into(">I", message, 12, zlib.crc32(bytes(message[16:])))
    return message


def wrapped(magic: int, last: int, messages: list[bytearray], codec: int = GZIP) -> bytes:
    """One compressed message of format `magic` at offset `last` whose value is `messages`, compressed with `codec`."""
    inner = b"".join(bytes(m) for m in messages)
    value = zlib.compress(inner, wbits=31) if codec == GZIP else snappy_encode(inner)
    body = (struct.pack(">bb", magic, codec) + (struct.pack(">q", 1_700_000_000_000) if magic else b"")
            + struct.pack(">i", -1) + struct.pack(">i", len(value)) + value)
    message = struct.pack(">I", zlib.crc32(body)) + body
    return struct.pack(">qi", last, len(message)) + message


def _spoil_value(m: bytearray) -> bytearray:  # spoilt on the way or on disk: the CRC is the producer's
    m[-1] ^= 1
    return m


def _key_past_its_message(m: bytearray) -> bytearray:
    struct.pack_into(">i", m, 18 + (8 if m[16] else 0), 500)
    return reseal_inner(m)


def _compressed_again(m: bytearray) -> bytearray:
    m[17] |= GZIP
    return reseal_inner(m)


def _other_format(m: bytearray) -> bytearray:
    m[16] = 2
    return reseal_inner(m)


@pytest.mark.parametrize("magic", [0, 1])
@pytest.mark.parametrize(("fault", "spoil", "says"), [
    ("a value spoilt under its CRC", _spoil_value, "its CRC-32 is"),
    ("a key running past its message", _key_past_its_message, "the key (500 bytes) runs past the message's end"),
    ("compressed twice", _compressed_again, "compressed inside a compressed message"),
    ("another message format inside", _other_format, "message format 2 inside"),
])
def test_a_bad_record_in_an_old_format_compressed_message_costs_that_record_only(magic, fault, spoil, says) -> None:
    """Failed before: aiokafka checked no inner message's CRC (the spoilt value was handed out as sound: applied), and
    a record whose fields did not fit cost the whole compressed message (its good records dead-lettered with it)."""
    messages = inner_messages(magic, 1, [b"a" * 30, b"b" * 30, b"c" * 30])
    messages[1] = spoil(messages[1])
    got = read(bytes(legacy(magic, 0, 0, [b"before"]) + wrapped(magic, 3, messages) + legacy(magic, 0, 4, [b"after"])))
    assert [r.offset for r in got] == [0, 1, 2, 3, 4], fault
    assert [r.value for r in got if not isinstance(r.value, UndecodableBatch)] == [
        b"before", b"a" * 30, b"c" * 30, b"after"], fault
    bad = got[2].value
    assert isinstance(bad, kafka.UndecodableRecord) and bad.dead_letter_reason == "undecodable_record", fault
    assert bad.reason.startswith("the record at offset 2 (of the compressed message at offset 3) cannot be read: ")
    assert says in bad.reason, (fault, bad.reason)
    if magic:  # the inner messages' own timestamps (the wrapper's where it is the log's append time)
        assert (got[1].timestamp, got[3].timestamp, got[1].key) == (1_700_000_000_000, 1_700_000_000_002, b"2999")


def test_inner_messages_that_cannot_be_told_apart_cost_the_rest_in_v0_and_the_whole_message_in_v1() -> None:
    """v0's inner offsets are absolute: the records before the fault stand. v1's are relative to the last inner
    message's, which can no longer be found: nothing of the message stands apart."""
    for magic, expect in ((0, [(0, b"before"), (1, b"a"), (4, b"after")]), (1, [(0, b"before"), (4, b"after")])):
        messages = inner_messages(magic, 1, [b"a", b"b", b"c"])
        struct.pack_into(">i", messages[1], 8, 10_000)  # its size runs past the set
        got = read(bytes(legacy(magic, 0, 0, [b"before"]) + wrapped(magic, 3, messages, SNAPPY)
                         + legacy(magic, 0, 4, [b"after"])))
        assert [(r.offset, r.value) for r in got if not isinstance(r.value, UndecodableBatch)] == expect, magic
        [stand_in] = [r for r in got if isinstance(r.value, UndecodableBatch)]
        assert stand_in.offset == 3 and type(stand_in.value) is UndecodableBatch, magic
        assert "inner message 1's size (10000 bytes) does not fit the set" in stand_in.value.reason, magic


def test_an_old_format_compressed_message_whose_value_does_not_inflate_names_its_codec() -> None:
    """Its CRC is right (a producer's own bytes): no record of it can be read, one stand-in at its offset."""
    messages = inner_messages(1, 1, [b"a", b"b"])
    data = bytearray(wrapped(1, 2, messages))
    data[-5] ^= 0xFF  # inside the gzip stream's trailer
    struct.pack_into(">I", data, 12, zlib.crc32(bytes(data[16:])))
    [stand_in] = read(bytes(data))
    assert stand_in.offset == 2 and isinstance(stand_in.value, UndecodableBatch)
    assert stand_in.value.reason.startswith("the compressed message at offset 2 (compression gzip) cannot be decoded")


@pytest.mark.parametrize("magic", [0, 1])
def test_an_old_format_message_whose_crc_does_not_match_is_passed(magic: int) -> None:
    """aiokafka raised "Invalid CRC" on every fetch of it (the embedded broker keeps one): now one stand-in."""
    spoilt = legacy(magic, 0, 1, [b"x"])
    spoilt[-1] ^= 1
    got = read(bytes(legacy(magic, 0, 0, [b"before"]) + spoilt + legacy(magic, 0, 2, [b"after"])))
    assert [r.offset for r in got] == [0, 1, 2] and (got[0].value, got[2].value) == (b"before", b"after")
    assert isinstance(got[1].value, UndecodableBatch) and "its CRC does not match its bytes" in got[1].value.reason


# -- compression bombs (hostile inputs, round 8) ----------------------------------------------------------------
# aiokafka inflated a whole batch in memory with no limit: 200 MB of zeros is 6 KB of zstd, so one batch of a
# fetch could take gigabytes, on every restart of the consumer and of the rebuild. Now each codec inflates at
# most `max_inflated_batch_bytes` (+1) and a batch beyond it is an undecodable_batch naming the limit.


def _zigzag(value: int) -> bytes:
    out = bytearray()
    encode_varint(value, out.append)
    return bytes(out)


def record_of_zeros(size: int) -> tuple[bytes, Iterator[bytes]]:
    """One v2 record (offset delta 0, no key, no headers) whose value is `size` zero bytes: its head, then its
    value in chunks (never the whole of it in memory)."""
    head_tail = b"\0" + _zigzag(0) + _zigzag(0) + _zigzag(-1) + _zigzag(size)
    head = _zigzag(len(head_tail) + size + 1) + head_tail

    def chunks() -> Iterator[bytes]:
        left, piece = size, b"\0" * min(size, 1 << 20)
        while left:
            yield piece[:left]
            left -= min(left, len(piece))
        yield _zigzag(0)  # no headers
    return head, chunks()


def compressed_stream(codec: int, parts: Iterator[bytes]) -> bytes:
    if codec == GZIP:
        gz = zlib.compressobj(9, zlib.DEFLATED, 31)
        return b"".join(gz.compress(p) for p in parts) + gz.flush()
    if codec == SNAPPY:  # xerial's framing (the Java client's): 32 kB raw blocks, each with its length
        from aiokafka.codec import snappy_encode
        return snappy_encode(b"".join(parts), xerial_compatible=True)
    compressor = cramjam.zstd.Compressor(level=1) if codec == ZSTD else cramjam.lz4.Compressor(block_linked=False)
    for part in parts:
        compressor.compress(part)
    return bytes(compressor.finish())


def bomb(base_offset: int, codec: int, size: int) -> bytearray:
    """A v2 batch of one record of `size` zeros, compressed with `codec`, built without inflating it here."""
    raw = batch(base_offset, [b"x"], codec)
    head, chunks = record_of_zeros(size)
    payload = compressed_stream(codec, itertools.chain([head], chunks))
    raw = raw[:RECORDS_AT] + payload
    struct.pack_into(">i", raw, 8, len(raw) - 12)  # the batch length
    return resealed(raw)


@pytest.fixture
async def small_limit(monkeypatch: pytest.MonkeyPatch) -> int:
    limit = 100_000
    monkeypatch.setattr(kafka._inflation, "limit", kafka._inflation.limit)  # put back after the test
    make_consumer(ServiceSettings(max_inflated_batch_bytes=limit), "test")  # sets the process's limit (not started)
    assert kafka._inflation.limit == limit
    return limit


@pytest.mark.parametrize(("codec", "name"), [(GZIP, "gzip"), (SNAPPY, "snappy"), (LZ4, "lz4"), (ZSTD, "zstd")])
def test_a_batch_inflating_beyond_the_limit_is_undecodable_naming_it_and_the_rest_is_read(
        codec: int, name: str, small_limit: int) -> None:
    data = batch(0, [b"before"], codec) + bomb(1, codec, 10 * small_limit) + batch(2, [b"after"], codec)
    got = read(bytes(data))
    assert [r.offset for r in got] == [0, 1, 2]
    assert (got[0].value, got[2].value) == (b"before", b"after")
    assert isinstance(got[1].value, UndecodableBatch)
    assert got[1].value.reason == (
        f"the record batch at offsets 1..1 (compression {name}) cannot be decoded: InflationLimitExceeded: "
        f"it inflates to more than {small_limit} bytes, the limit (max_inflated_batch_bytes)")


@pytest.mark.parametrize("codec", [GZIP, SNAPPY, LZ4, ZSTD])
def test_a_batch_just_within_the_limit_is_read(codec: int, small_limit: int) -> None:
    size = small_limit - 64  # the record's framing within the limit too
    [record] = read(bytes(bomb(3, codec, size)))
    assert record.offset == 3 and record.value == b"\0" * size


def test_gzip_members_one_after_another_are_all_read() -> None:
    """`gzip.GzipFile` (aiokafka's reader before) reads every member of a stream, zero padding between skipped."""
    members = zlib.compress(b"ab", wbits=31) + b"\0\0" + zlib.compress(b"cd", wbits=31)
    assert kafka._gzip_decode(members) == b"abcd"
    with pytest.raises(EOFError):
        kafka._gzip_decode(zlib.compress(b"abcdef" * 100, wbits=31)[:-12])


def test_the_default_limit_is_tied_to_the_largest_event() -> None:
    settings = ServiceSettings(max_event_bytes=300_000)
    assert settings.inflated_batch_limit == 64 * 300_000 and ServiceSettings().inflated_batch_limit == 16_384_000


PEAK_RSS = """
import resource, sys
sys.path[:0] = [{tests!r}]
import test_undecodable_batches as t
from aiokafka.record.memory_records import MemoryRecords
data = bytes(t.bomb(0, {codec}, 200 * 1024 * 1024)) + bytes(t.batch(1, [b"after"]))
before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
got = t.read(data)
assert [r.offset for r in got] == [0, 1], got
assert isinstance(got[0].value, t.UndecodableBatch) and got[1].value == b"after"
print((resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before) // 1024)
"""


@pytest.mark.parametrize("codec", [GZIP, ZSTD, LZ4])
def test_a_bomb_of_200_mb_is_never_inflated_whole(codec: int) -> None:
    """Peak memory of a process reading a 200 MB zstd/gzip/lz4 bomb (6 KB of zstd) grows by at most the default
    limit (16 MB) and some: the old decoders took 400 MB (the inflated bytes, then a copy)."""
    script = PEAK_RSS.format(tests=str(Path(__file__).parent), codec=codec)
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stderr[-2000:]
    grown_mb = int(done.stdout.split()[-1])
    assert grown_mb < 48, f"peak RSS grew by {grown_mb} MB"


@pytest.mark.parametrize("size", [0, 5, 255, 256, 70_000, 1 << 20])
def test_the_size_a_zstd_frame_states_is_read_as_the_first_buffers_size(size: int) -> None:
    frame = bytes(cramjam.zstd.compress(b"a" * size))
    assert kafka._zstd_content_size(frame) == size
    assert kafka._zstd_decode(frame) == b"a" * size
    assert kafka._zstd_content_size(b"not zstd") is None


def test_a_frame_of_more_than_eight_times_its_size_without_a_stated_size_is_read_in_larger_buffers() -> None:
    compressor = cramjam.lz4.Compressor()  # streamed: no content size in the frame's header
    compressor.compress(b"\0" * 3_000_000)
    frame = bytes(compressor.finish())
    assert kafka._lz4_content_size(frame) is None and 8 * len(frame) < 3_000_000
    assert kafka._lz4_decode(frame) == b"\0" * 3_000_000

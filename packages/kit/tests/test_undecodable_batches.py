"""Record batches from other Kafka clients that this client cannot decode (hostile inputs, round 7).

aiokafka raised the codec's error from `getmany` on every fetch of the partition: the consumer restarted
on the same batch for ever, and nothing after it on any of its partitions was applied. Now the kit's fetcher
hands out one stand-in record at the batch's last offset (`UndecodableBatch`), which the consumer
dead-letters as `undecodable_batch`; the batches around it are read as before."""

from __future__ import annotations

import struct
import zlib

import pytest
from aiokafka import TopicPartition
from aiokafka.consumer import fetcher
from aiokafka.record.default_records import DefaultRecordBatchBuilder
from aiokafka.record.legacy_records import LegacyRecordBatchBuilder
from aiokafka.record.memory_records import MemoryRecords
from aiokafka.record.util import calc_crc32c

from styrkedja_kit.kafka import UndecodableBatch

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
    records = fetcher.PartitionRecords(TP, MemoryRecords(data), None, fetch_offset, None, None, True,
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
    # a producer writing its own bytes can seal any record framing with a right CRC (the embedded broker keeps it)
    ("records that do not parse, uncompressed", lambda raw: broken_payload(raw), "none"),
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
    """aiokafka builds its PartitionRecords by this module-level name; the kit's subclass must be the one."""
    import inspect

    assert "PartitionRecords(" in inspect.getsource(fetcher.Fetcher)
    assert fetcher.PartitionRecords.__module__ == "styrkedja_kit.kafka"


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
    assert stand_in.offset == 4 and "(compression unknown) cannot be decoded" in stand_in.value.reason

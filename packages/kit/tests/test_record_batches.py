"""A record batch with one bad record costs that record only (hostile inputs, round 16: nothing lost).

aiokafka reads a whole v2 batch at once and raises at its first fault; the kit then dead-lettered the whole batch as
`undecodable_batch` and its good records were never applied. Now the kit reads such a batch again from its bytes,
record by record (`styrkedja_kit.record_batches`): each good record is handed out as usual, a record whose fields
do not fit its length is one `undecodable_record` stand-in at its own offset, and where the records can no longer
be told apart (a length beyond the batch, a count the bytes do not hold) the rest of the batch is one
`undecodable_batch` stand-in at its last offset. A header key that is not UTF-8 is no fault: the record is read,
the key's bad bytes replaced (as the Java client reads it)."""

from __future__ import annotations

import struct
import zlib

import pytest
from aiokafka import TopicPartition
from aiokafka.consumer import fetcher
from aiokafka.record.default_records import DefaultRecordBatchBuilder
from aiokafka.record.util import calc_crc32c, encode_varint

from styrkedja_kit import kafka
from styrkedja_kit.kafka import UndecodableBatch, UndecodableRecord, stand_in_refusal
from styrkedja_kit.record_batches import BatchUnreadable, Record, Unreadable, read_records

TP = TopicPartition("styrkedja.organisation", 0)
GZIP = 1


def varint(value: int) -> bytes:
    out = bytearray()
    encode_varint(value, out.append)
    return bytes(out)


def blob(data: bytes | None) -> bytes:
    return varint(-1) if data is None else varint(len(data)) + data


def body(delta: int, value: bytes | None, *, key: bytes | None = b"2999",
         headers: tuple[tuple[bytes, bytes | None], ...] = ((b"h", b"v"),), time_delta: bytes | None = None,
         tail: bytes = b"") -> bytes:
    """A v2 record's bytes after its length: any field as given, even where no client would write it so."""
    out = b"\0" + (varint(0) if time_delta is None else time_delta) + varint(delta) + blob(key) + blob(value)
    out += varint(len(headers)) + b"".join(blob(name) + blob(v) for name, v in headers)
    return out + tail


def framed(record: bytes, length: int | None = None) -> bytes:
    return varint(len(record) if length is None else length) + record


def v2(base: int, records: list[bytes], *, count: int | None = None, last_delta: int | None = None,
       codec: int = 0, log_append_time: bool = False) -> bytes:
    """A sealed v2 batch (right CRC-32C) of the given records' bytes, its count and last offset as given."""
    payload = b"".join(records)
    if codec == GZIP:
        import gzip
        payload = gzip.compress(payload)
    attributes = codec | (0x08 if log_append_time else 0)
    count = len(records) if count is None else count
    last_delta = len(records) - 1 if last_delta is None else last_delta
    after_crc = struct.pack(">hiqqqhii", attributes, last_delta, 1_700_000_000_000, 1_700_000_000_500, -1, -1, -1,
                            count) + payload
    head = struct.pack(">qiib", base, 4 + 1 + 4 + len(after_crc), -1, 2)
    return head + struct.pack(">I", calc_crc32c(after_crc)) + after_crc


def good_batch(base: int, values: list[bytes]) -> bytes:
    builder = DefaultRecordBatchBuilder(2, 0, 0, -1, -1, -1, 1 << 20)
    for delta, value in enumerate(values):
        builder.append(delta, 1_700_000_000_000, b"2999", value, [("h", b"v")])
    raw = builder.build()
    struct.pack_into(">q", raw, 0, base)
    return bytes(raw)


def read(data: bytes, fetch_offset: int = 0) -> list:
    """The records of a fetch's bytes as the fetcher reads them (its `MemoryRecords`, which the kit replaces)."""
    return list(fetcher.PartitionRecords(TP, fetcher.MemoryRecords(data), None, fetch_offset, None, None, True,
                                         fetcher.READ_UNCOMMITTED))


def outline(records: list) -> list[tuple[int, object]]:
    """(offset, value) per record; a stand-in's value as its dead letter's reason."""
    return [(r.offset, r.value.dead_letter_reason if isinstance(r.value, UndecodableBatch) else r.value)
            for r in records]


def around(spoilt: bytes) -> bytes:
    """A fetch of a good batch (offset 0), `spoilt` (from offset 1) and a good batch after it (offset 5)."""
    return good_batch(0, [b"before"]) + spoilt + good_batch(5, [b"after"])


def test_a_header_key_that_is_not_utf8_is_read_with_its_bad_bytes_replaced_and_the_batch_is_read() -> None:
    """Failed on the old code: the batch was one `undecodable_batch`, none of its three records applied."""
    batch = v2(1, [framed(body(0, b"a")), framed(body(1, b"b", headers=((b"\xffKEY", b"v"), (b"ok", None)))),
                   framed(body(2, b"c"))])
    got = read(around(batch))
    assert outline(got) == [(0, b"before"), (1, b"a"), (2, b"b"), (3, b"c"), (5, b"after")]
    assert got[2].headers == (("\ufffdKEY", b"v"), ("ok", None)) and got[2].key == b"2999"
    assert got[2].timestamp == 1_700_000_000_000 and got[1].headers == (("h", b"v"),)


@pytest.mark.parametrize(("label", "bad", "why"), [
    ("a key running past the record", b"\0" + varint(0) + varint(1) + varint(50) + b"ab",
     "the key (50 bytes) runs past the record's end (2 bytes left)"),
    ("a negative number of headers", b"\0" + varint(0) + varint(1) + blob(None) + blob(b"b") + varint(-2),
     "a negative number of headers (-2)"),
    ("a null header key", body(1, b"b", headers=((None, b"v"),)),  # type: ignore[arg-type]
     "header 0's key is null"),
    ("a header value running past the record", body(1, b"b", headers=((b"h", b"v"),))[:-1],
     "header 0's value (1 bytes) runs past the record's end (0 bytes left)"),
    ("bytes after the headers", body(1, b"b", tail=b"\0\0"), "2 bytes left after its headers"),
    ("a varint of more than 5 bytes", b"\0" + varint(0) + varint(1) + b"\x80\x80\x80\x80\x80\x01" + blob(b"b")
     + varint(0), "a varint of more than 5 bytes"),
    ("a timestamp delta of more than 10 bytes (the offset unread: the one after the record before)",
     body(1, b"b", time_delta=b"\xff" * 11), "a varint of more than 10 bytes"),
])
def test_a_record_whose_fields_do_not_fit_its_length_costs_that_record_only(label: str, bad: bytes, why: str) -> None:
    """Failed on the old code: the batch was one `undecodable_batch` at offset 3, `a` and `c` not applied."""
    batch = v2(1, [framed(body(0, b"a")), framed(bad), framed(body(2, b"c"))])
    got = read(around(batch))
    assert outline(got) == [(0, b"before"), (1, b"a"), (2, "undecodable_record"), (3, b"c"), (5, b"after")], label
    stand_in = got[2]
    assert isinstance(stand_in.value, UndecodableRecord) and stand_in.value == b"" and stand_in.key is None
    assert stand_in.headers == ()  # nothing a producer wrote is taken for ours
    assert stand_in.value.reason.startswith("the record at offset 2 (of the record batch at offsets 1..3) cannot be "
                                            "read: "), stand_in.value.reason
    assert why in stand_in.value.reason, (label, stand_in.value.reason)
    assert stand_in_refusal(stand_in.value) == ("undecodable_record", stand_in.value.reason)


def test_a_bad_record_in_a_compressed_batch_costs_that_record_only() -> None:
    batch = v2(1, [framed(body(0, b"a")), framed(body(1, b"b", tail=b"\0")), framed(body(2, b"c"))], codec=GZIP,
               log_append_time=True)
    got = read(around(batch))
    assert outline(got) == [(0, b"before"), (1, b"a"), (2, "undecodable_record"), (3, b"c"), (5, b"after")]
    assert got[1].timestamp == 1_700_000_000_500 and got[1].timestamp_type == 1  # the broker's time, as aiokafka


@pytest.mark.parametrize(("label", "records", "options", "outcome", "why"), [
    ("a record's length beyond the batch (a truncated batch)",
     [framed(body(0, b"a")), framed(body(1, b"b"), 200), framed(body(2, b"c"))], {},
     [(1, b"a"), (3, "undecodable_batch")], "the records at offsets 2..3 (of the record batch at offsets 1..3) cannot "
                                            "be read: record 1's length (200 bytes) does not fit the batch"),
    ("a record of no length", [framed(body(0, b"a")), framed(b"", 0), framed(body(2, b"c"))], {},
     [(1, b"a"), (3, "undecodable_batch")], "record 1's length (0 bytes) does not fit"),
    ("more records stated than held", [framed(body(0, b"a")), framed(body(1, b"b"))], {"count": 3, "last_delta": 2},
     [(1, b"a"), (2, b"b"), (3, "undecodable_batch")], "the records at offsets 3..3 (of the record batch at offsets "
                                                       "1..3) cannot be read: it states 3 records and holds 2"),
    ("bytes after the stated records", [framed(body(0, b"a")), framed(body(1, b"b")), framed(body(2, b"c"))],
     {"count": 2}, [(1, b"a"), (2, b"b"), (3, "undecodable_batch")], f"{len(framed(body(2, b'c')))} bytes after its "
                                                                     "2 records"),
    # aiokafka reads these without a fault, and its fetcher drops a record whose offset goes back; one beyond the
    # batch's last offset would have the consumer store an offset past records it has not read
    ("offsets that go back", [framed(body(0, b"a")), framed(body(1, b"b")), framed(body(0, b"c"))], {},
     [(1, b"a"), (2, b"b"), (3, "undecodable_batch")], "record 2's offset 1 does not follow 2 within the batch"),
    ("an offset beyond the batch's last", [framed(body(0, b"a")), framed(body(7, b"b")), framed(body(2, b"c"))], {},
     [(1, b"a"), (3, "undecodable_batch")], "record 1's offset 8 does not follow 1 within the batch"),
    ("offsets going back after the last offset was read: nothing stands apart, the whole batch",
     [framed(body(0, b"a")), framed(body(2, b"b")), framed(body(1, b"c"))], {},
     [(3, "undecodable_batch")], "the record batch at offsets 1..3 cannot be read: record 2's offset 2 does not "
                                 "follow 3 within the batch"),
    ("bytes after a record holding the last offset: nothing stands apart, the whole batch",
     [framed(body(0, b"a")), framed(body(2, b"b")), b"\x01"], {"count": 2},
     [(3, "undecodable_batch")], "the record batch at offsets 1..3 cannot be read: 1 bytes after its 2 records"),
])
def test_records_that_cannot_be_told_apart_are_one_stand_in_at_the_batchs_last_offset_after_those_read(
        label: str, records: list[bytes], options: dict, outcome: list, why: str) -> None:
    got = read(around(v2(1, records, **options)))
    assert outline(got) == [(0, b"before"), *outcome, (5, b"after")], label
    stand_in = got[-2].value
    assert isinstance(stand_in, UndecodableBatch) and not isinstance(stand_in, UndecodableRecord)
    assert why in stand_in.reason, (label, stand_in.reason)


def test_a_batch_whose_offsets_have_gaps_but_ascend_is_read_as_it_is() -> None:
    """A compacted batch keeps its last offset and lacks some records: not a fault."""
    got = read(around(v2(1, [framed(body(0, b"a")), framed(body(2, b"c"))], last_delta=3)))
    assert outline(got) == [(0, b"before"), (1, b"a"), (3, b"c"), (5, b"after")]


def test_a_fetch_starting_inside_a_batch_with_a_bad_record_hands_out_what_follows_it() -> None:
    batch = v2(1, [framed(body(0, b"a")), framed(body(1, b"b", tail=b"\0")), framed(body(2, b"c"))])
    data = batch + good_batch(5, [b"after"])  # a fetch from offset 2 or 3 starts with the batch holding it
    assert outline(read(data, fetch_offset=2)) == [(2, "undecodable_record"), (3, b"c"), (5, b"after")]
    assert outline(read(data, fetch_offset=3)) == [(3, b"c"), (5, b"after")]


def test_a_batch_whose_crc_does_not_match_is_passed_as_a_whole() -> None:
    """Every record is inside the bytes the CRC covers: none can be trusted, the whole batch is one
    `undecodable_batch`, and the partition goes on. Failed on the old code: every fetch raised (aiokafka: "Invalid
    CRC"), the consumer restarted on the batch for ever and nothing after it was applied (the embedded broker keeps
    a batch of any CRC; a broker's disk may spoil one for good)."""
    batch = bytearray(v2(1, [framed(body(0, b"a")), framed(body(1, b"b"))], last_delta=3))
    batch[-1] ^= 1
    with pytest.raises(BatchUnreadable, match="its CRC-32C is 0x"):
        read_records(bytes(batch), kafka._inflate)
    got = read(around(bytes(batch)))
    assert outline(got) == [(0, b"before"), (4, "undecodable_batch"), (5, b"after")]
    assert got[1].value.reason.startswith("the record batch at offsets 1..4 (compression none) cannot be decoded: its "
                                          "CRC does not match its bytes (stored 0x")


def test_a_batch_that_does_not_inflate_is_unreadable_as_a_whole() -> None:
    batch = bytearray(v2(1, [framed(body(0, b"a"))], codec=GZIP))
    batch[-8:-4] = bytes(4)  # the gzip trailer's CRC-32
    batch[17:21] = struct.pack(">I", calc_crc32c(bytes(batch[21:])))  # the batch's own, right
    with pytest.raises(zlib.error, match="incorrect data check"):
        read_records(bytes(batch), kafka._inflate)
    got = read(around(bytes(batch)))
    assert outline(got) == [(0, b"before"), (1, "undecodable_batch"), (5, b"after")]
    assert got[1].value.reason.startswith("the record batch at offsets 1..1 (compression gzip) cannot be decoded")


def test_the_reader_reads_what_aiokafka_reads_alike() -> None:
    """On a batch aiokafka reads, the reader's records are aiokafka's (offsets, times, keys, values, headers)."""
    builder = DefaultRecordBatchBuilder(2, 0, 0, -1, -1, -1, 1 << 20)
    for delta in range(4):
        builder.append(delta, 1_700_000_000_000 + delta, None if delta == 2 else b"k",
                       None if delta == 3 else b"v" * delta * 100, [("a", b"1"), ("b", None)][:delta])
    raw = bytes(builder.build())
    from aiokafka.record.default_records import DefaultRecordBatch
    theirs = [(r.offset, r.timestamp, r.timestamp_type, r.key, r.value, list(r.headers))
              for r in DefaultRecordBatch(raw)]
    ours = read_records(raw, kafka._inflate)
    assert all(isinstance(r, Record) for r in ours)
    assert [(r.offset, r.timestamp, r.timestamp_type, r.key, r.value, r.headers) for r in ours
            if isinstance(r, Record)] == theirs


def test_a_stand_in_is_told_apart_from_an_empty_value() -> None:
    assert stand_in_refusal(b"") is None and stand_in_refusal(None) is None
    assert stand_in_refusal(UndecodableBatch("why")) == ("undecodable_batch", "why")
    assert isinstance(Unreadable(1, 1, "why"), Unreadable)

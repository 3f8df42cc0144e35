"""The records as the rebuild hands them to its decoder processes (`rebuild.bulk.raw_records`): the relay's headers,
which every record of the outboxes carries, go as one object for all of them, so that a piece pickled for a decoder holds
them once and the decoder does not unpickle a sequence, a tuple, a str and a bytes per record (bench/README.md rebuild33);
every other record's headers as they were, none as None. What the decoders decide from the headers stays the same."""

from __future__ import annotations

import pickle
from collections.abc import Sequence
from types import SimpleNamespace
from typing import Any

import pytest
from aiokafka import ConsumerRecord

from styrkedja_kit.consumer import in_contracts_form
from styrkedja_kit.kafka import CONTRACTS_FORM_HEADER, FORM_HEADERS, NULL_VALUE, UndecodableBatch, UndecodableRecord
from styrkedja_reporting.rebuild.bulk import DEAD_KEPT_BYTES, Rebuilder, decoded_and_staged, raw_records


def _record(offset: int, headers: Sequence[tuple[str, bytes]]) -> ConsumerRecord:
    # as aiokafka's fetcher makes them: every record its own headers (a tuple of pairs; a list where made elsewhere)
    return ConsumerRecord("assessments.v1", 0, offset, 1_700_000_000_000, 0, b"3001", b"{}", None, 4, 2, headers)


@pytest.mark.parametrize("kind", [tuple, list])
def test_the_relays_headers_go_to_the_decoders_as_one_object(kind):
    records = [_record(n, kind([(CONTRACTS_FORM_HEADER[0], bytes(CONTRACTS_FORM_HEADER[1]))])) for n in range(300)]
    raw = raw_records(records)
    assert all(r[6] is raw[0][6] for r in raw)
    assert type(raw[0][6]) is kind and raw[0][6] == records[0].headers and all(in_contracts_form(r[6]) for r in raw)
    # what a decoder gets: one object for every record of the piece, equal to each record's own
    unpickled = pickle.loads(pickle.dumps(raw, protocol=pickle.HIGHEST_PROTOCOL))  # noqa: S301 - made just above
    assert len({id(r[6]) for r in unpickled}) == 1 and unpickled[0][6] == records[0].headers


def test_other_headers_go_as_they_are_and_none_as_none():
    other = [("ce_type", b"assessment.published.v1")]
    both = [CONTRACTS_FORM_HEADER, ("traceparent", b"00-1-2-01")]
    raw = raw_records([_record(0, other), _record(1, both), _record(2, []), _record(3, (CONTRACTS_FORM_HEADER,)),
                       _record(4, ())])
    assert raw[0][6] == other and not in_contracts_form(raw[0][6])
    assert raw[1][6] == both and in_contracts_form(raw[1][6])
    assert raw[2][6] is None and raw[4][6] is None
    assert raw[3][6] == (CONTRACTS_FORM_HEADER,) and in_contracts_form(raw[3][6])
    # the rest of each record as before: topic, partition, offset, value, timestamp, key
    assert raw[0][:6] == ("assessments.v1", 0, 0, b"{}", 1_700_000_000_000, b"3001")


def test_a_null_value_and_a_stand_in_go_as_empty_values_told_apart():
    """A decoder reads both as an empty value (a tombstone); `Rebuilder._dead_of` tells them apart: a stand-in names
    the records the client could not read, and a tombstone's dead letter keeps its null value."""
    stand_in = UndecodableRecord("its fields do not fit its length")
    raw = raw_records([ConsumerRecord("assessments.v1", 0, 0, 1, 0, b"3001", None, None, 4, -1, ()),
                       ConsumerRecord("assessments.v1", 0, 1, 1, 0, None, stand_in, None, -1, 0, ())])
    assert raw[0][3] is NULL_VALUE and raw[1][3] is stand_in and raw[0][3] == raw[1][3] == b""


def _tuple(offset: int, value: bytes, key: bytes | None = b"3001", headers: Any = FORM_HEADERS) -> tuple[Any, ...]:
    return ("styrkedja.assessments", 2, offset, value, 1_700_000_000_000, key, headers)


def test_the_dead_are_kept_from_the_tuples_as_the_fetcher_handed_them_out():
    """The read hands the rebuild tuples, not `ConsumerRecord`s (`kafka.record_runs`): its dead records are made from
    them — a stand-in's own reason, a tombstone's null value, a big record without its bytes (read again later)."""
    big = b"\x00" + b"x" * (DEAD_KEPT_BYTES + 1)
    raw = [_tuple(10, NULL_VALUE), _tuple(11, UndecodableBatch("the batch at offsets 11..11 cannot be decoded"), None,
                                           None),
           _tuple(12, b"not json", headers=(("ce_type", b"x"),)), _tuple(13, big), _tuple(14, b"{}")]
    staged = decoded_and_staged(raw, 0, 1 << 20, as_text=True)
    sink = SimpleNamespace(dead=[], read_again=set())
    Rebuilder._dead_of(sink, staged, raw)  # type: ignore[arg-type]
    by_offset = {record.offset: (record, reason, message) for record, reason, message in sink.dead}
    assert set(by_offset) == {10, 11, 12, 13, 14}
    tombstone, reason, message = by_offset[10]
    assert tombstone.value is None and tombstone.key == b"3001" and reason == "undecodable" and "tombstone" in message
    assert by_offset[11][1:] == ("undecodable_batch", "the batch at offsets 11..11 cannot be decoded")
    bad = by_offset[12][0]
    assert (bad.topic, bad.partition, bad.value, bad.key, bad.headers, bad.timestamp) == (
        "styrkedja.assessments", 2, b"not json", b"3001", (("ce_type", b"x"),), 1_700_000_000_000)
    assert by_offset[13][0].value is None and sink.read_again == {("styrkedja.assessments", 2, 13)}

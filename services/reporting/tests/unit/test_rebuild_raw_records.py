"""The records as the rebuild hands them to its decoder processes (`rebuild.bulk.raw_records`): the relay's headers,
which every record of the outboxes carries, go as one object for all of them, so that a piece pickled for a decoder holds
them once and the decoder does not unpickle a sequence, a tuple, a str and a bytes per record (bench/README.md rebuild33);
every other record's headers as they were, none as None. What the decoders decide from the headers stays the same."""

from __future__ import annotations

import pickle
from collections.abc import Sequence

import pytest
from aiokafka import ConsumerRecord

from styrkedja_kit.consumer import in_contracts_form
from styrkedja_kit.kafka import CONTRACTS_FORM_HEADER
from styrkedja_reporting.rebuild.bulk import raw_records


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

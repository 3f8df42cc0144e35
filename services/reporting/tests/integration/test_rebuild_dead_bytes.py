"""The rebuild keeps what does not decode until it commits (its dead letters go out only then, `command`): a big
bad record (up to the broker's message size) was kept whole, so the rebuild's memory grew with every one a hostile
producer sent — 10,000 oversized records of 1 MB were 10 GB. Now a record over `DEAD_KEPT_BYTES` is kept without its
bytes and read again from the log for its dead letter, a part at a time (`dead_letter_in_parts`)."""

from __future__ import annotations

import asyncio

import pytest
from aiokafka import ConsumerRecord

from styrkedja_reporting.main import handler_registry
from styrkedja_reporting.rebuild.bulk import DEAD_KEPT_BYTES, Rebuilder
from styrkedja_reporting.rebuild.command import DEAD_LETTER_PART, dead_letter_in_parts

TOPIC = "styrkedja.assessments"


def record(offset: int, value: bytes, key: bytes | None = b"2999") -> ConsumerRecord:
    return ConsumerRecord(TOPIC, 0, offset, 1_700_000_000_000, 1, key, value, None, len(key or b""), len(value),
                          [("h", b"x")])


@pytest.mark.integration
@pytest.mark.postgres_only
async def test_a_big_bad_record_is_kept_without_its_bytes_until_its_dead_letter(db) -> None:
    big, small = b"\x00" + b"x" * 1_000_000, b"not json"
    rebuilder = Rebuilder(db, group_id="reporting-dead-bytes", handles=handler_registry(live_alerts=False).handles)
    try:
        await rebuilder.begin()
        await rebuilder.feed_records([record(0, big), record(1, small)])
    finally:
        await rebuilder.close()
    (kept_big, reason_big, _), (kept_small, reason_small, _) = rebuilder.dead
    assert (reason_big, reason_small) == ("oversized", "undecodable")
    assert kept_big.value is None and kept_big.key is None  # held whole (1 MB) until the commit before
    assert (kept_big.topic, kept_big.partition, kept_big.offset) in rebuilder.read_again
    assert kept_small.value == small and kept_small.key == b"2999" and len(rebuilder.read_again) == 1
    assert len(big) > DEAD_KEPT_BYTES >= len(small)


class Letters:
    """The consumer loop's `_dead_letter`, recording what each call sends and what was read again meanwhile."""

    def __init__(self) -> None:
        self.calls: list[list[tuple[int, bytes | None, str]]] = []

    async def _dead_letter(self, producer: object, dead: list[tuple[ConsumerRecord, str, str]]) -> None:
        self.calls.append([(r.offset, r.value, reason) for r, reason, _ in dead])


def test_dead_letters_go_out_in_order_a_part_at_a_time_with_the_big_records_read_again() -> None:
    n = 2 * DEAD_LETTER_PART + 5
    dead = [(record(i, b"" if i % 2 else b"small"), "undecodable" if i % 2 else "oversized", "m") for i in range(n)]
    again = {(TOPIC, 0, i) for i in range(n) if i % 2}  # kept without their bytes
    dead = [(ConsumerRecord(TOPIC, 0, r.offset, 0, 0, None, None, None, 0, 0, []), reason, m)
            if (TOPIC, 0, r.offset) in again else (r, reason, m) for r, reason, m in dead]
    reads: list[int] = []

    async def read(positions: list[tuple[str, int, int]]) -> dict[tuple[str, int, int], ConsumerRecord]:
        reads.append(len(positions))
        # the log no longer holds the last one (retention): its letter goes out as kept
        return {p: record(p[2], b"read again %d" % p[2]) for p in positions if p[2] != n - 2}

    letters = Letters()
    asyncio.run(dead_letter_in_parts(letters, None, dead, again, read))  # type: ignore[arg-type]
    sent = [letter for call in letters.calls for letter in call]
    assert [offset for offset, _, _ in sent] == list(range(n))  # each once, in order
    assert all(value == (b"read again %d" % offset if offset % 2 else b"small") for offset, value, _ in sent
               if offset != n - 2)
    assert [value for offset, value, _ in sent if offset == n - 2] == [None]
    assert max(reads) <= DEAD_LETTER_PART and sum(reads) == len(again) and len(letters.calls) == len(reads)

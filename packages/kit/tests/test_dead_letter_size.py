"""A dead letter the producer or the broker refuses for its size is sent again, cut shorter, down to its headers
(`ConsumerLoop._dead_letter`). A dead-letter topic whose `max.message.bytes` is below `DEAD_LETTER_MAX_BYTES` (set
by ops, or a broker's smaller default) refused the letter of a big bad record: the send failed, the batch's offsets
were never stored, and the consumer restarted on the same record for ever — nothing after it applied."""

from __future__ import annotations

import asyncio
from types import SimpleNamespace

import pytest
from aiokafka.errors import KafkaConnectionError, MessageSizeTooLargeError

from styrkedja_kit.consumer import DEAD_LETTER_MAX_BYTES, record_digest

from .test_consumer_prefetch import Client, Loop


class SmallTopic:
    """A producer whose dead-letter topic takes at most `max_bytes` of key and value: larger ones are refused by the
    broker (the send's future) or, above `client_max`, by the producer itself (the send)."""

    def __init__(self, max_bytes: int, client_max: int = 10**9, down: bool = False) -> None:
        self.max_bytes, self.client_max, self.down = max_bytes, client_max, down
        self.sent: list[tuple[bytes | None, bytes | None, dict[str, bytes]]] = []

    async def send(self, topic: str, value: bytes | None, key: bytes | None, headers: list) -> asyncio.Future[None]:
        size = len(value or b"") + len(key or b"")
        if size > self.client_max:
            raise MessageSizeTooLargeError("larger than max_request_size")
        done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        if self.down:
            done.set_exception(KafkaConnectionError("broker away"))
        elif size > self.max_bytes:
            done.set_exception(MessageSizeTooLargeError())
        else:
            self.sent.append((key, value, dict(headers)))
            done.set_result(None)
        return done


def record(value: bytes, offset: int, key: bytes = b"2999") -> SimpleNamespace:
    return SimpleNamespace(topic="t", partition=0, offset=offset, key=key, value=value, headers=[], timestamp=-1)


def dead_letter(producer: SmallTopic, records: list[SimpleNamespace]) -> None:
    loop = Loop(Client({}), max_records=10)
    asyncio.run(loop._dead_letter(producer, [(r, "oversized", "message is too big") for r in records]))  # type: ignore[arg-type]


@pytest.mark.parametrize("client_max", [10**9, 150_000], ids=["refused by the broker", "refused by the producer"])
def test_a_letter_too_big_for_the_dead_letter_topic_goes_out_cut_with_where_the_record_lies(client_max: int) -> None:
    big, small = b"x" * 900_000, b"not json"
    producer = SmallTopic(max_bytes=100_000, client_max=client_max)
    dead_letter(producer, [record(big, 7), record(small, 8)])  # raised MessageSizeTooLargeError: the loop restarted
    letters = {int(headers["dlq.offset"]): (key, value, headers) for key, value, headers in producer.sent}
    assert sorted(letters) == [7, 8]  # each once: the small one is not sent again with the big one
    key, value, headers = letters[7]
    assert key == b"2999" and value is not None and big.startswith(value) and len(key) + len(value) <= 100_000
    assert int(headers["dlq.truncated"]) == len(big) - len(value)
    assert headers["dlq.digest"] == record_digest(big).hex().encode()  # the record at t/0/7 is the one
    assert headers["dlq.topic"] == b"t" and headers["dlq.partition"] == b"0" and headers["dlq.reason"] == b"oversized"
    assert letters[8][1] == small and "dlq.truncated" not in letters[8][2] and "dlq.digest" not in letters[8][2]


def test_a_topic_that_takes_no_bytes_gets_the_headers_alone_and_other_failures_still_stop_the_batch() -> None:
    producer = SmallTopic(max_bytes=0)
    dead_letter(producer, [record(b"y" * (DEAD_LETTER_MAX_BYTES + 10), 3)])
    (key, value, headers), = producer.sent
    assert not key and not value and int(headers["dlq.truncated"]) == DEAD_LETTER_MAX_BYTES + 10 + 4
    # the broker away is no verdict on the letter: the batch is not passed (its offsets stay unstored), read again
    with pytest.raises(KafkaConnectionError):
        dead_letter(SmallTopic(max_bytes=10**9, down=True), [record(b"z", 1)])

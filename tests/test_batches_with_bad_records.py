"""Nothing lost when a record batch holds a bad record: the batch's good records are applied (hostile inputs, round 16).

A producer writing its own bytes (or a client with other rules) can put a record aiokafka cannot read into a batch
with good ones: a header key that is not UTF-8 (every broker keeps it: the protocol's String is not checked), a
record whose fields do not fit its length, a record length beyond the batch, a batch whose CRC does not match (the
embedded broker keeps all of these; Apache Kafka refuses them when they are produced), records whose offsets go back
within their batch (both brokers keep them; aiokafka's fetcher dropped such a record unseen). aiokafka failed on the whole
batch and the kit dead-lettered it once as `undecodable_batch`: its good records were never applied. Now the kit
reads such a batch again record by record (`styrkedja_kit.record_batches`; each fault's cost is tested in
packages/kit/tests/test_record_batches.py): here, end to end on both brokers, the live consumer applies the good
records, dead-letters exactly the bad ones naming their offsets, and stores its offset past every batch; the
rebuild's read gets the same good records."""

from __future__ import annotations

import asyncio
import gzip
import struct
import time
import uuid
from types import SimpleNamespace
from typing import Any

import pytest
from aiokafka import ConsumerRecord, TopicPartition
from aiokafka.client import AIOKafkaClient
from aiokafka.protocol.produce import ProduceRequest
from aiokafka.record.util import calc_crc32c, encode_varint
from sqlalchemy import select
from test_hostile_events import applied_ids, encoded, fresh_reporting, good, read_dead_letters, reporting_loop

from styrkedja_contracts import dead_letter_topic
from styrkedja_kit.db import Database
from styrkedja_reporting.persistence import metadata
from styrkedja_reporting.rebuild.bulk import Rebuilder, decoded_and_staged, raw_records
from styrkedja_reporting.rebuild.log import read_log

TOPIC, PUBLISHED = "styrkedja.assessments", "se.styrkedja.assessment.published.v1"
REFUSED_BY_APACHE_KAFKA = {2, 87}  # CORRUPT_MESSAGE, INVALID_RECORD
RETRIABLE = {3, 5, 6}  # UNKNOWN_TOPIC_OR_PARTITION, LEADER_NOT_AVAILABLE, NOT_LEADER_OR_FOLLOWER


def _varint(value: int) -> bytes:
    out = bytearray()
    encode_varint(value, out.append)
    return bytes(out)


def _blob(data: bytes | None) -> bytes:
    return _varint(-1) if data is None else _varint(len(data)) + data


def _record(delta: int, value: bytes, *, header_key: bytes = b"content-type", tail: bytes = b"",
            length: int | None = None) -> bytes:
    """A v2 record: its length (as given, or its own), fields after it as given."""
    body = (b"\0" + _varint(0) + _varint(delta) + _blob(b"2999") + _blob(value) + _varint(1)
            + _blob(header_key) + _blob(b"application/cloudevents+json") + tail)
    return _varint(len(body) if length is None else length) + body


def _batch(records: list[bytes], *, codec: int = 0, spoil_crc: bool = False) -> bytes:
    """A v2 batch at base offset 0 (the broker gives it its place), sealed with its CRC-32C."""
    payload = b"".join(records)
    if codec:
        payload = gzip.compress(payload)
    now = int(time.time() * 1000)  # the records' time: an event dated after its record is `time_in_future`
    after_crc = struct.pack(">hiqqqhii", codec, len(records) - 1, now, now, -1, -1, -1, len(records)) + payload
    crc = calc_crc32c(after_crc) ^ (1 if spoil_crc else 0)
    return struct.pack(">qiibI", 0, 4 + 1 + 4 + len(after_crc), -1, 2, crc) + after_crc


async def _produce_raw(bootstrap: str, batch: bytes) -> tuple[int, int]:
    """The batch's bytes in a ProduceRequest of their own to partition 0: (error code, base offset)."""
    client = AIOKafkaClient(bootstrap_servers=bootstrap)
    await client.bootstrap()
    try:
        client.add_topic(TOPIC)
        for _ in range(60):  # a topic just made may have no leader yet
            await client.force_metadata_update()
            leader = client.cluster.leader_for_partition(TopicPartition(TOPIC, 0))
            if leader is not None and leader >= 0:
                response = await client.send(leader, ProduceRequest(None, -1, 30_000, [(TOPIC, [(0, batch)])]))
                [(_, [(_, error, offset, *_)])] = response.topics
                if error not in RETRIABLE:
                    return error, offset
            await asyncio.sleep(0.5)
    finally:
        await client.close()
    raise AssertionError("the broker took no batch in 30 s")


async def _read_as_the_bulk_rebuild(settings: Any, way: str) -> tuple[list[tuple[ConsumerRecord, str, str]],
                                                                       set[uuid.UUID]]:
    """The log read (`way`: `read_log`'s `on_raw` or `on_records`) and decoded as the bulk rebuild decodes it: what
    does not decode (`Rebuilder._dead_of`'s records) and the fact events' ids."""
    bulk: list[tuple[ConsumerRecord, str, str]] = []
    decoded: set[uuid.UUID] = set()

    async def decode_as_the_bulk_rebuild(records: list[Any]) -> None:
        raw = raw_records(records) if way == "on_records" else records
        staged = decoded_and_staged(raw, 0, settings.max_event_bytes, as_text=True)
        decoded.update(uuid.UUID(line.split(b"\t")[1].decode()) for text in staged.texts.values()
                       for line in text.splitlines())
        Rebuilder._dead_of(SimpleNamespace(dead=bulk, read_again=set()), staged, raw)  # type: ignore[arg-type]

    runs = way == "on_raw"
    await asyncio.wait_for(read_log(settings, [TOPIC], client_id=f"lost16-bulk-{way}",
                                    on_raw=decode_as_the_bulk_rebuild if runs else None,
                                    on_records=None if runs else decode_as_the_bulk_rebuild), 120)
    return bulk, decoded


def _ids(documents: list[dict[str, Any]]) -> set[uuid.UUID]:
    return {uuid.UUID(d["id"]) for d in documents}


@pytest.mark.integration
async def test_a_batchs_good_records_are_applied_and_only_its_bad_ones_dead_lettered(infrastructure):
    """Failed on the old code: each batch below was one `undecodable_batch` dead letter, none of its good events
    applied (the CRC one stopped the consumer: it restarted on it for ever, and `after` was never applied)."""
    settings = await fresh_reporting(infrastructure, "lost16")
    bootstrap, group = settings.kafka_bootstrap_servers, settings.consumer_group
    events = [good(PUBLISHED) for _ in range(12)]
    values = [encoded(d) for d in events]
    sent = {
        # a header key that is not UTF-8: read, nothing dead-lettered (Apache Kafka keeps it too)
        "header key": _batch([_record(0, values[0]), _record(1, values[1], header_key=b"\xffct"),
                              _record(2, values[2])]),
        # a record whose fields do not fit its length: that record only (compressed, as librdkafka's)
        "record": _batch([_record(0, values[3]), _record(1, b"{}", tail=b"\0\0"), _record(2, values[4])], codec=1),
        # a record length beyond the batch: the records before it stand, the rest is one stand-in at the last offset
        "framing": _batch([_record(0, values[5]), _record(1, values[6], length=10_000), _record(2, b"{}")]),
        # offsets that go back (both brokers keep them: Apache Kafka sets the base offset only): aiokafka's fetcher
        # dropped the third record unseen; now the records before it stand, the rest is one stand-in
        "order": _batch([_record(0, values[9]), _record(1, values[10]), _record(0, values[11])]),
        # the CRC does not match: the whole batch
        "crc": _batch([_record(0, values[7])], spoil_crc=True),
    }
    placed: dict[str, int] = {}
    refused: set[str] = set()
    for name, batch in sent.items():
        error, offset = await _produce_raw(bootstrap, batch)
        if error:
            assert error in REFUSED_BY_APACHE_KAFKA and name != "header key", (name, error)
            refused.add(name)  # Apache Kafka checks records as they are produced: nothing of it is in the log
        else:
            placed[name] = offset
    error, after = await _produce_raw(bootstrap, _batch([_record(0, values[8])]))
    assert error == 0
    wanted = _ids([events[i] for i, name in ((0, "header key"), (1, "header key"), (2, "header key"), (3, "record"),
                                              (4, "record"), (5, "framing"), (8, None), (9, "order"),
                                              (10, "order")) if name not in refused])
    dead_at = {"record": 1, "framing": 2, "order": 2, "crc": 0}
    hostile = {(TOPIC, 0, placed[name] + at): name for name, at in dead_at.items() if name in placed}
    database = Database(settings.database_url, pool_size=3)
    loop = reporting_loop(settings, database, [TOPIC])
    task = asyncio.create_task(loop.run())
    applied: set[uuid.UUID] = set()
    try:
        dead = await read_dead_letters(bootstrap, dead_letter_topic(group), set(hostile), timeout=90)
        applied = await applied_ids(database, group, wanted, pause=0.25)
        offsets = metadata.tables["consumer_offsets"]
        for _ in range(40):  # the offset is stored in the transaction after the dead letters are out
            async with database.sessions() as session:
                stored = (await session.execute(select(offsets.c.next_offset).where(
                    offsets.c.group_id == group, offsets.c.topic == TOPIC, offsets.c.partition == 0))).scalar()
            if stored == after + 1:
                break
            await asyncio.sleep(0.25)
        assert not task.done(), "the consumer loop stopped"
    finally:
        loop.stop()
        await task
        await database.dispose()
    assert wanted <= applied, f"not applied: {len(wanted - applied)} of {len(wanted)}"
    unread = _ids([events[6], events[7], events[11]])  # inside the batches' unreadable parts
    assert not unread & applied
    assert stored == after + 1  # past every batch, and `after`
    letters = {place: headers for place, headers, _ in dead if place[:2] == (TOPIC, 0)}
    assert set(letters) == set(hostile), ("a good record was dead-lettered, or a bad one not",
                                          {place: headers["dlq.reason"] for place, headers in letters.items()})
    reasons = {hostile[place]: (headers["dlq.reason"], headers["dlq.message"]) for place, headers in letters.items()}
    if "record" in placed:
        at = placed["record"] + 1
        assert reasons["record"] == ("undecodable_record", f"the record at offset {at} (of the record batch at offsets "
                                     f"{at - 1}..{at + 1}) cannot be read: 2 bytes left after its headers")
    if "framing" in placed:
        at = placed["framing"]
        assert reasons["framing"][0] == "undecodable_batch"
        assert reasons["framing"][1].startswith(f"the records at offsets {at + 1}..{at + 2} (of the record batch at "
                                                f"offsets {at}..{at + 2}) cannot be read: record 1's length (10000 ")
    at = placed["order"]
    assert reasons["order"] == ("undecodable_batch", f"the records at offsets {at + 2}..{at + 2} (of the record batch at "
                                f"offsets {at}..{at + 2}) cannot be read: record 2's offset {at} does not follow "
                                f"{at + 1} within the batch")
    if "crc" in placed:
        assert reasons["crc"][0] == "undecodable_batch"
        assert "its CRC does not match its bytes" in reasons["crc"][1]
    log = await asyncio.wait_for(read_log(settings, [TOPIC], client_id="lost16-rebuild"), 120)
    read = {item.event.id for item in log.items}
    assert wanted <= read and not unread & read
    # the rebuild names what it could not read as live does (a stand-in's empty value is no tombstone there either)
    rebuilt = {hostile[(record.topic, record.partition, record.offset)]: (reason, message)
               for record, reason, message in log.dead if (record.topic, record.partition, record.offset) in hostile}
    assert rebuilt == reasons
    # and so does the bulk rebuild, whose decoders see only a stand-in's empty value (`Rebuilder._dead_of` names it):
    # its read's records as runs of tuples made from the fetched batches (`on_raw`), and records at hand (`raw_records`)
    for way in ("on_raw", "on_records"):
        bulk, decoded = await _read_as_the_bulk_rebuild(settings, way)
        assert {hostile[(r.topic, r.partition, r.offset)]: (reason, message)
                for r, reason, message in bulk if (r.topic, r.partition, r.offset) in hostile} == reasons, way
        assert wanted <= decoded and not unread & decoded, way

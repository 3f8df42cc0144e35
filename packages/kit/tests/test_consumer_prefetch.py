"""The consumer loop fetches and decodes batch N+1 while batch N's transaction runs (`ConsumerLoop._loop`).

Driven through the real loop with a client of records in memory (positions, seeks, a rebalance's
listener calls) and a transaction that records what it applies and the offsets it stores: every event
is applied once and in its partition's order, across a rebalance while a batch is prefetched, a stop
while one is prefetched, and a poison event in the prefetched batch. The fake transaction does not
skip duplicates by id (the real one does), so a batch applied twice shows here."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime
from types import SimpleNamespace
from typing import Any

from aiokafka import TopicPartition
from sqlalchemy import MetaData

from styrkedja_contracts import OrganisationUnitUpsertedV1, new_event
from styrkedja_kit import metrics
from styrkedja_kit.consumer import ConsumerLoop, Delivered, _Rebalance, define_consumer_tables
from styrkedja_kit.settings import ServiceSettings

A, B = TopicPartition("t", 0), TopicPartition("t", 1)
POISON = b"\x00not json"


def unit_event(n: int) -> bytes:
    return new_event(OrganisationUnitUpsertedV1(
        unit_type="organiser", unit_id=f"{2000 + n}", organiser_id=f"{2000 + n}", name=f"H{n}",
        updated_at=datetime(2026, 9, 1, tzinfo=UTC)), source="/test").to_bytes()


class Client:
    """The consumer client: a log per partition, a position per assigned partition, `getmany` taking
    from the positions as aiokafka does (records taken move the position), `seek`, marker commits."""

    def __init__(self, logs: dict[TopicPartition, list[bytes]]) -> None:
        self.logs = {tp: [SimpleNamespace(value=v, offset=n, key=None, timestamp=-1, headers=[], topic=tp.topic,
                                          partition=tp.partition) for n, v in enumerate(values)]
                     for tp, values in logs.items()}
        self.positions = dict.fromkeys(logs, 0)
        self.fetched = 0  # getmany calls that returned records
        self.after_fetch: Callable[[], None] = lambda: None
        self.markers: list[dict[TopicPartition, int]] = []

    async def getmany(self, timeout_ms: int = 0, max_records: int | None = None) -> dict:
        await asyncio.sleep(0)
        out: dict[TopicPartition, list[Any]] = {}
        left = max_records or 10**9
        for tp, position in self.positions.items():
            taken = self.logs[tp][position:position + left]
            if taken:
                out[tp] = taken
                left -= len(taken)
                self.positions[tp] = position + len(taken)
        if out:
            self.fetched += 1
            self.after_fetch()
        elif timeout_ms:
            await asyncio.sleep(timeout_ms / 1000)
        return out

    def seek(self, tp: TopicPartition, offset: int) -> None:
        self.positions[tp] = offset

    def assignment(self) -> set[TopicPartition]:
        return set(self.positions)

    async def position(self, tp: TopicPartition) -> int:
        return self.positions[tp]

    def highwater(self, tp: TopicPartition) -> None:
        return None

    async def commit(self, offsets: dict[TopicPartition, int]) -> None:
        self.markers.append(dict(offsets))


class Producer:
    def __init__(self) -> None:
        self.sent: list[tuple[int, dict[str, bytes]]] = []  # (applied events at the send, headers)
        self.applied_at_send: Callable[[], int] = lambda: 0

    async def send(self, topic: str, value: bytes | None, key: bytes | None, headers: list) -> asyncio.Future[None]:
        self.sent.append((self.applied_at_send(), dict(headers)))
        done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        done.set_result(None)
        return done


class FakeDatabase:
    """Only what the halving's offsets transaction uses: `sessions.begin()`."""

    def __init__(self) -> None:
        self.sessions = SimpleNamespace(begin=self._begin)

    @contextlib.asynccontextmanager
    async def _begin(self) -> AsyncIterator[None]:
        yield None


class Loop(ConsumerLoop):
    """The real loop; the transaction (`_apply`) and the stored offsets are in memory."""

    def __init__(self, client: Client, *, max_records: int, poison_ids: frozenset[object] = frozenset()) -> None:
        applied_table, offsets_table = define_consumer_tables(MetaData())
        settings = ServiceSettings(service_name="prefetch-test", database_url="unused",
                                   kafka_bootstrap_servers="unused", consumer_max_records=max_records,
                                   consumer_poll_timeout_ms=5, consumer_batch_max_ms=0)
        super().__init__(settings, FakeDatabase(), group_id="g-prefetch", topics=["t"],  # type: ignore[arg-type]
                         handler=self._no_handler, applied_table=applied_table, offsets_table=offsets_table)
        self._consumer = client  # type: ignore[assignment]
        self._exact_offsets = False
        self.assigned = True  # as after the group's assignment
        self.client = client
        self.stored: dict[TopicPartition, int] = {}
        self.applied: list[tuple[int, int]] = []  # (partition, offset) of each event applied, in order
        self.poison_ids = poison_ids
        self.during_apply: Callable[[int], Any] | None = None  # awaited inside each batch's transaction

    async def _no_handler(self, session: Any, batch: Any) -> None:
        raise AssertionError("the fake transaction applies the events itself")

    async def _apply(self, delivered: list[Delivered], next_offsets: dict[TopicPartition, int]) -> list[Delivered]:
        if self.during_apply is not None:
            await self.during_apply(len(self.applied))
        if any(item.event.id in self.poison_ids for item in delivered):
            raise RuntimeError("the handler cannot apply this event")
        self.applied.extend((item.partition, item.offset) for item in delivered)
        self.stored.update(next_offsets)
        return delivered

    async def _store_offsets(self, session: Any, next_offsets: dict[TopicPartition, int]) -> None:
        self.stored.update(next_offsets)

    async def _database_answers(self) -> bool:
        return True

    async def seek_to_stored(self, assigned: Any) -> None:
        for tp in assigned:
            self.client.seek(tp, self.stored.get(tp, 0))


async def run_until(loop: Loop, done: Callable[[], bool], producer: Producer | None = None) -> None:
    task = asyncio.create_task(loop._loop(loop.client, producer or Producer()))  # type: ignore[arg-type]
    try:
        for _ in range(2000):
            if done() or task.done():
                break
            await asyncio.sleep(0.005)
        assert done(), f"applied {len(loop.applied)}"
    finally:
        loop.stop()
        await asyncio.wait_for(task, 5)


def in_log_order(client: Client) -> list[tuple[int, int]]:
    return [(tp.partition, n) for tp in client.logs for n in range(len(client.logs[tp]))]


def count_fetches_during_apply(loop: Loop, arriving: list[Any] | None = None) -> list[int]:
    """Make each batch's transaction wait on "PostgreSQL" (turns of the event loop) and count the client's
    fetches meanwhile, one entry per batch; `arriving` records join partition A as the first one starts."""
    client, fetched_during = loop.client, []

    async def during(_: int) -> None:
        if arriving:
            client.logs[A].extend(arriving)
            arriving.clear()
        before = client.fetched
        for _ in range(20):
            await asyncio.sleep(0)
        fetched_during.append(client.fetched - before)

    loop.during_apply = during
    return fetched_during


def test_the_next_batch_is_fetched_while_a_batch_is_applied_and_each_event_applied_once_in_order() -> None:
    client = Client({A: [unit_event(n) for n in range(12)], B: [unit_event(100 + n) for n in range(7)]})
    loop = Loop(client, max_records=4)
    fetched_during = count_fetches_during_apply(loop)  # the transaction waits on PostgreSQL: the next fetch goes on
    asyncio.run(run_until(loop, lambda: len(loop.applied) == 19))
    assert sorted(loop.applied) == in_log_order(client)  # each once
    for partition in (0, 1):  # each partition in offset order
        offsets = [o for p, o in loop.applied if p == partition]
        assert offsets == sorted(offsets)
    assert loop.stored == {A: 12, B: 7}
    assert sum(fetched_during[:-1]) >= len(fetched_during) - 1, "the next batch was not fetched during the apply"


def test_a_batch_prefetched_across_a_rebalance_is_read_again_from_the_stored_offsets() -> None:
    """The group rebalances while batch 1 is in its transaction and batch 2 has been taken from the
    client: the assignment seeks to the offsets stored so far (before batch 1's), so the client reads
    batch 1 again, and batch 2's records are past the positions of any later fetch. Batch 2 must not
    be applied as fetched; every event is applied once (this fake does not skip duplicates by id),
    none is lost, the stored offsets end at the logs' ends."""
    client = Client({A: [unit_event(n) for n in range(10)], B: [unit_event(100 + n) for n in range(10)]})
    loop = Loop(client, max_records=5)
    listener = _Rebalance(loop)
    discarded = metrics.CONSUMER_PREFETCH_DISCARDED.labels("g-prefetch")
    discarded_before = discarded._value.get()
    rebalanced: list[int] = []

    async def during(applied_before: int) -> None:
        if applied_before == 0 and not rebalanced:  # batch 1
            while client.fetched < 2:  # batch 2 is taken from the client
                await asyncio.sleep(0)
            await listener.on_partitions_revoked(client.assignment())
            await listener.on_partitions_assigned(client.assignment())  # seeks to the stored offsets: none yet
            rebalanced.append(client.fetched)

    loop.during_apply = during
    asyncio.run(run_until(loop, lambda: loop.stored == {A: 10, B: 10}))
    assert rebalanced
    assert sorted(loop.applied) == in_log_order(client), "an event was lost or applied twice"
    for partition in (0, 1):
        offsets = [o for p, o in loop.applied if p == partition]
        assert offsets == sorted(offsets)
    assert discarded._value.get() == discarded_before + 1


def test_a_rebalance_while_the_prefetch_waits_puts_the_positions_back_after_the_batch_commits() -> None:
    """The rebalance's seek came before batch 2's fetch (the positions were right then), yet batch 2
    is thrown away because its fetch began before the rebalance: the positions are past its records
    and must go back to the stored offsets, now after batch 1, or batch 2's events are never applied."""
    client = Client({A: [unit_event(n) for n in range(8)]})
    loop = Loop(client, max_records=4)
    state = {"rebalanced": False}

    def rebalance_at_second_fetch() -> None:
        if client.fetched == 2 and not state["rebalanced"]:
            state["rebalanced"] = True
            loop._rebalances += 1  # as the listener does; its seek found the positions where they are

    client.after_fetch = rebalance_at_second_fetch
    asyncio.run(run_until(loop, lambda: loop.stored == {A: 8}))
    assert state["rebalanced"]
    assert loop.applied == [(0, n) for n in range(8)]


def test_a_stop_while_a_batch_is_prefetched_applies_nothing_of_it_and_a_restart_goes_on_from_the_stored_offsets(
        ) -> None:
    client = Client({A: [unit_event(n) for n in range(9)]})
    loop = Loop(client, max_records=3)

    async def during(applied_before: int) -> None:
        if applied_before == 0:
            while client.fetched < 2:  # batch 2 is taken from the client
                await asyncio.sleep(0)
            loop.stop()

    loop.during_apply = during
    asyncio.run(run_until(loop, lambda: loop.applied == [(0, 0), (0, 1), (0, 2)]))
    assert client.positions[A] == 6  # batch 2 was fetched ...
    assert loop.stored == {A: 3}  # ... but neither applied nor stored
    assert all(marker[A] <= 3 for marker in client.markers), "a marker went past the applied batch"
    # a restart: the assignment seeks to the stored offsets
    again = Loop(client, max_records=3)
    again.stored = dict(loop.stored)
    asyncio.run(again.seek_to_stored(client.assignment()))
    asyncio.run(run_until(again, lambda: again.stored == {A: 9}))
    assert loop.applied + again.applied == [(0, n) for n in range(9)]


def test_a_poison_event_in_the_prefetched_batch_is_dead_lettered_after_the_batch_before_and_the_rest_applied(
        ) -> None:
    from styrkedja_contracts import decode_event

    values = [unit_event(n) for n in range(8)]
    refused = decode_event(values[5]).id
    values[6] = POISON  # undecodable
    client = Client({A: values})
    loop = Loop(client, max_records=4, poison_ids=frozenset({refused}))
    producer = Producer()
    producer.applied_at_send = lambda: len(loop.applied)

    async def during(applied_before: int) -> None:
        if applied_before == 0:
            while client.fetched < 2:  # batch 2, with both poisons, is decoded meanwhile
                await asyncio.sleep(0)

    loop.during_apply = during
    asyncio.run(run_until(loop, lambda: loop.stored == {A: 8}, producer))
    assert loop.applied == [(0, 0), (0, 1), (0, 2), (0, 3), (0, 4), (0, 7)]
    reasons = sorted((headers["dlq.reason"], headers["dlq.offset"]) for _, headers in producer.sent)
    assert reasons == [(b"handler_failed", b"5"), (b"undecodable", b"6")]
    # no dead letter of batch 2 went out before batch 1 was applied (a prefetch has no side effects)
    assert all(applied_then >= 4 for applied_then, _ in producer.sent)


def test_records_handed_out_before_the_assignment_sought_its_partitions_are_not_applied() -> None:
    """aiokafka hands out records as soon as the assignment is set, while the listener still reads the
    stored offsets to seek to (a database round trip): those records come from the broker's marker
    positions (here: lost, so from the start, where events 0-2 were applied already). They must not
    be applied; the loop reads again from the stored offsets."""
    client = Client({A: [unit_event(n) for n in range(9)]})
    loop = Loop(client, max_records=6)
    loop.stored = {A: 3}  # events 0-2 were applied before the restart
    loop.assigned = False  # the group has not handed out the partitions yet
    listener = _Rebalance(loop)
    reading = asyncio.Event()

    async def seek_to_stored(assigned: Any) -> None:
        await reading.wait()  # the listener's database read
        for tp in assigned:
            client.seek(tp, loop.stored.get(tp, 0))

    loop.seek_to_stored = seek_to_stored  # type: ignore[method-assign]
    tasks: list[asyncio.Task[None]] = []

    def assignment_starts() -> None:
        if client.fetched == 1:  # the records were just handed out: the listener is under way
            tasks.append(asyncio.get_running_loop().create_task(listener.on_partitions_assigned(client.assignment())))
            asyncio.get_running_loop().call_later(0.05, reading.set)

    client.after_fetch = assignment_starts
    asyncio.run(run_until(loop, lambda: loop.stored == {A: 9}))
    assert loop.applied == [(0, n) for n in range(3, 9)]


def test_records_arriving_during_a_partial_batch_are_taken_from_the_client_during_its_transaction() -> None:
    """A batch smaller than `consumer_max_records` (the consumer keeps up): the records arriving while it is
    applied are taken from the client during its transaction, not after its commit. aiokafka fetches a
    partition again only once its fetched records were taken, so records left in the client until the commit
    held back the next ones of their partition for a batch more (bench/fetch_wait.py). They are applied in the
    next batch, after this one, in their partition's order."""
    client = Client({A: [unit_event(n) for n in range(3)]})
    more = Client({A: [unit_event(n) for n in range(3, 5)]}).logs[A]
    for offset, record in enumerate(more, start=3):
        record.offset = offset
    loop = Loop(client, max_records=10)
    fetched_during = count_fetches_during_apply(loop, arriving=more)  # while the first, partial batch is applied
    asyncio.run(run_until(loop, lambda: len(loop.applied) == 5))
    assert loop.applied == in_log_order(client)
    assert fetched_during[0] >= 1, "the records arriving during a partial batch waited in the client for its commit"
    assert loop.stored == {A: 5}


def test_beside_a_partial_batch_records_are_taken_but_decoded_only_after_its_commit() -> None:
    """Taken, not decoded, beside a small transaction: each slice of decoding would hold up the answers of its
    statements arriving meanwhile; after the commit it costs the same. Beside a full one (catching up) the
    decoding overlaps PostgreSQL's work instead (the tests above)."""
    client = Client({A: [unit_event(n) for n in range(3)]})
    more = Client({A: [unit_event(n) for n in range(3, 5)]}).logs[A]
    for offset, record in enumerate(more, start=3):
        record.offset = offset
    loop = Loop(client, max_records=10)
    in_transaction = False
    decoded_in_transaction: list[bool] = []
    fetched_during: list[int] = []
    decode_into = loop._decode_into

    async def watched_decode(*args: Any, **kwargs: Any) -> None:
        decoded_in_transaction.append(in_transaction)
        await decode_into(*args, **kwargs)

    async def during(_: int) -> None:
        nonlocal in_transaction
        in_transaction = True
        client.logs[A].extend(more)
        more.clear()
        before = client.fetched
        for _ in range(20):
            await asyncio.sleep(0)
        fetched_during.append(client.fetched - before)
        in_transaction = False

    loop._decode_into = watched_decode  # type: ignore[method-assign]
    loop.during_apply = during
    asyncio.run(run_until(loop, lambda: len(loop.applied) == 5))
    assert loop.applied == in_log_order(client)
    assert fetched_during[0] >= 1, "the records arriving during a partial batch waited in the client for its commit"
    assert decoded_in_transaction and not any(decoded_in_transaction), "decoded beside a partial batch's transaction"

def test_with_prefetch_partial_off_a_partial_batch_is_followed_by_a_plain_fetch() -> None:
    """`consumer_prefetch_partial=False` keeps the loop of before (a same-build comparison): nothing is fetched
    beside a partial batch's transaction, and every event is still applied once, in order."""
    client = Client({A: [unit_event(n) for n in range(3)]})
    more = Client({A: [unit_event(n) for n in range(3, 5)]}).logs[A]
    for offset, record in enumerate(more, start=3):
        record.offset = offset
    loop = Loop(client, max_records=10)
    loop._prefetch_partial = False  # as `consumer_prefetch_partial=False` (or None on the embedded broker) sets it
    fetched_during = count_fetches_during_apply(loop, arriving=more)
    asyncio.run(run_until(loop, lambda: len(loop.applied) == 5))
    assert loop.applied == in_log_order(client)
    assert fetched_during and not any(fetched_during), "a fetch ran beside a partial batch's transaction"


class DatabaseAway:
    """The stored offsets' read (`seek_to_stored`) while the database is away (a restart): refused."""

    def __init__(self, loop: Loop) -> None:
        self.loop, self.away, self.reads = loop, True, 0

    async def seek_to_stored(self, assigned: Any) -> None:
        self.reads += 1
        if self.away:
            raise ConnectionRefusedError(111, "Connection refused")
        for tp in assigned:
            self.loop.client.seek(tp, self.loop.stored.get(tp, 0))


async def as_aiokafka_calls(listener: _Rebalance, client: Client) -> None:
    """The group's assignment as aiokafka hands it to the listener: a failure is logged and swallowed."""
    with contextlib.suppress(Exception):
        await listener.on_partitions_assigned(client.assignment())


def test_an_assignment_whose_stored_offsets_could_not_be_read_is_sought_by_the_loop_once_the_database_answers(
) -> None:
    """CI (session 17): reporting's PostgreSQL restarted while its consumer joined the group. The assignment's
    listener could not read the stored offsets, aiokafka logged that and handed out records from the broker's
    marker positions; the database answered again before the loop's first fetch. Every batch was then thrown
    away as fetched before the assignment, its seek succeeded, and nothing was ever applied (3 minutes). The
    loop must seek the partitions itself once the database answers, and apply from the stored offsets."""
    client = Client({A: [unit_event(n) for n in range(9)], B: [unit_event(10 + n) for n in range(4)]})
    loop = Loop(client, max_records=4)
    loop.stored = {A: 3, B: 1}  # applied before the restart
    loop.assigned = False
    database = DatabaseAway(loop)
    loop.seek_to_stored = database.seek_to_stored  # type: ignore[method-assign]
    client.positions = {A: 2, B: 0}  # the broker's markers lag behind the database's offsets

    async def scenario() -> None:
        await as_aiokafka_calls(_Rebalance(loop), client)  # the database is away: the listener's read fails
        database.away = False  # it answers again before the loop's first fetch
        await run_until(loop, lambda: loop.stored == {A: 9, B: 4})

    asyncio.run(scenario())
    # each event after the stored offsets once, in its partition's order; none from the markers' positions
    assert [offset for partition, offset in loop.applied if partition == 0] == list(range(3, 9))
    assert [offset for partition, offset in loop.applied if partition == 1] == list(range(1, 4))
    assert loop.assigned


def test_while_the_database_is_still_away_the_loop_applies_nothing_and_ends_for_its_supervisor_to_restart_it(
) -> None:
    """The same, with the database away at the loop's own read too: no record fetched from the broker's markers
    is applied; the loop ends with the database's error (its supervisor starts the consumer again after a pause,
    and that join's listener reads the offsets)."""
    client = Client({A: [unit_event(n) for n in range(6)]})
    loop = Loop(client, max_records=4)
    loop.stored = {A: 3}
    loop.assigned = False
    database = DatabaseAway(loop)
    loop.seek_to_stored = database.seek_to_stored  # type: ignore[method-assign]

    async def scenario() -> None:
        await as_aiokafka_calls(_Rebalance(loop), client)
        task = asyncio.create_task(loop._loop(client, Producer()))  # type: ignore[arg-type]
        try:
            await asyncio.wait_for(task, 5)
        except ConnectionRefusedError:
            pass
        else:
            raise AssertionError("the loop went on without the stored offsets")

    asyncio.run(scenario())
    assert loop.applied == []
    assert database.reads == 2  # the listener's and the loop's


def test_the_last_failure_that_ended_the_loop_is_in_its_status_by_its_type_only() -> None:
    """/readyz (and a fault test's failure message) tells why the loop last ended: the error's type and when,
    never its text (a database error may quote data)."""
    loop = Loop(Client({A: []}), max_records=4)
    assert loop.status()["last_failure"] is None

    async def refused() -> None:
        raise ConnectionRefusedError(111, "stu-secret")

    loop._run_once = refused  # type: ignore[method-assign]
    try:
        asyncio.run(loop._run_noted())
    except ConnectionRefusedError:
        pass
    else:
        raise AssertionError("the failure must reach the supervisor")
    assert loop.status()["last_failure"].startswith("ConnectionRefusedError at ")
    assert "secret" not in str(loop.status())

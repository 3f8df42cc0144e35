"""The consumer's batch filling (`fill_batch`): after the first fetch, the records the client holds
already are added without waiting, up to the record limit and the time bound, each partition's
records in offset order; an empty first fetch stays empty (nothing is waited for)."""

import asyncio

from aiokafka import TopicPartition

from styrkedja_kit.consumer import fill_batch, prefetch_without_backoff

A, B = TopicPartition("t", 0), TopicPartition("t", 1)


class FakeConsumer:
    """Hands out the queued fetches one by one; records what it was asked."""

    def __init__(self, fetches: list[dict]) -> None:
        self.fetches = list(fetches)
        self.calls: list[tuple[int, int]] = []

    async def getmany(self, timeout_ms: int = 0, max_records: int | None = None) -> dict:
        self.calls.append((timeout_ms, max_records or 0))
        if not self.fetches:
            return {}
        fetch = self.fetches.pop(0)
        out, left = {}, max_records or 10**9
        for tp, records in fetch.items():
            taken, rest = records[:left], records[left:]
            left -= len(taken)
            if taken:
                out[tp] = taken
            if rest:  # not handed out: stays for the next fetch
                self.fetches.insert(0, {tp: rest})
        return out


def test_fills_up_to_the_limit_in_offset_order_without_waiting() -> None:
    consumer = FakeConsumer([{A: [3, 4], B: [10]}, {A: [5, 6, 7]}, {B: [11]}])
    batch = asyncio.run(fill_batch(consumer, {A: [1, 2]}, limit=6, max_seconds=10))
    assert batch == {A: [1, 2, 3, 4, 5], B: [10]}
    assert all(timeout == 0 for timeout, _ in consumer.calls)
    assert consumer.fetches == [{A: [6, 7]}, {B: [11]}]  # the rest waits for the next batch


def test_stops_when_nothing_more_is_there() -> None:
    consumer = FakeConsumer([{B: [10]}])
    batch = asyncio.run(fill_batch(consumer, {A: [1]}, limit=100, max_seconds=10))
    assert batch == {A: [1], B: [10]}
    assert len(consumer.calls) == 2  # the second fetch came back empty: done


def test_an_empty_first_fetch_is_not_filled() -> None:
    consumer = FakeConsumer([{A: [1]}])
    assert asyncio.run(fill_batch(consumer, {}, limit=100, max_seconds=10)) == {}
    assert consumer.calls == []


def test_the_time_bound_stops_filling() -> None:
    consumer = FakeConsumer([{A: [2]}, {A: [3]}])
    assert asyncio.run(fill_batch(consumer, {A: [1]}, limit=100, max_seconds=0)) == {A: [1]}


def test_a_failed_batch_is_halved_until_the_bad_events_are_found() -> None:
    """Every good event is applied once, in order; each bad one is reported with its reason; far
    fewer transactions than one per event."""
    from styrkedja_kit.consumer import ConsumerLoop, Refused

    bad, refused = {13, 700}, {401}
    applied: list[int] = []
    transactions = []

    class Loop(ConsumerLoop):
        def __init__(self) -> None:  # only what `_apply_halves` uses
            pass

        async def _apply(self, items, next_offsets):  # noqa: ANN001, ANN202
            transactions.append(len(items))
            if any(i in bad for i in items):
                raise RuntimeError("cannot apply")
            if any(i in refused for i in items):
                raise Refused("not_yours", "refused")
            applied.extend(items)
            return list(items)

        async def _database_answers(self) -> bool:
            return True

    items = list(range(1000))
    failed: list = []
    fresh = asyncio.run(Loop()._apply_halves(items, {id(i): f"record-{i}" for i in items}, failed,
                                             failed_already=True))
    assert fresh == applied == [i for i in items if i not in bad | refused]
    assert sorted(failed) == [("record-13", "handler_failed", "the handler failed with RuntimeError"),
                              ("record-401", "not_yours", "refused"),
                              ("record-700", "handler_failed", "the handler failed with RuntimeError")]
    assert len(transactions) < 70  # one per event would be 1,000


def test_decoding_a_big_batch_lets_the_other_tasks_run() -> None:
    """A worker that consumes serves HTTP too: a batch of thousands of events is decoded in slices,
    the event loop turning between them, not in one stretch before the apply's first statement."""
    from datetime import UTC, datetime
    from types import SimpleNamespace

    from styrkedja_contracts import OrganisationUnitUpsertedV1, new_event
    from styrkedja_kit.consumer import DECODE_SLICE, ConsumerLoop

    value = new_event(OrganisationUnitUpsertedV1(
        unit_type="organiser", unit_id="2999", organiser_id="2999", name="Huvudman",
        updated_at=datetime(2026, 9, 1, tzinfo=UTC)), source="/test").to_bytes()
    records = [SimpleNamespace(value=value, offset=n, key=None, timestamp=-1, headers=[]) for n in range(4 * DECODE_SLICE)]
    turns: list[int] = []  # the other task's turns before the apply

    class Loop(ConsumerLoop):
        def __init__(self) -> None:  # only what `process` uses
            self.settings = SimpleNamespace(max_event_bytes=256_000)
            self.handles, self.group_id, self._consumer = None, "g", None
            self.applied_count, self.newest_event_time = 0, None

        async def _apply(self, delivered, next_offsets):  # noqa: ANN001, ANN202
            turns.append(ticks)
            return delivered

    ticks = 0

    async def run() -> None:
        nonlocal ticks
        done = asyncio.Event()

        async def other() -> None:
            nonlocal ticks
            while not done.is_set():
                ticks += 1
                await asyncio.sleep(0)

        task = asyncio.create_task(other())
        await asyncio.sleep(0)
        before = ticks
        await Loop().process({A: records}, producer=None)  # type: ignore[arg-type]
        done.set()
        await task
        turns[0] -= before

    asyncio.run(run())
    assert turns[0] >= 3, turns


def _fetch_actions(backoff_off: bool) -> list:
    """The fetches aiokafka's real fetcher would send to the one broker, partitions A and B assigned,
    records of A fetched and not taken yet; `backoff_off`: after `prefetch_without_backoff`."""
    from types import SimpleNamespace

    from aiokafka.consumer.fetcher import Fetcher, FetchResult
    from aiokafka.consumer.subscription_state import SubscriptionState

    async def run() -> list:
        cluster = SimpleNamespace(leader_for_partition=lambda tp: 0, broker_metadata=lambda node: object())
        client = SimpleNamespace(cluster=cluster, _metadata_max_age_ms=300_000, _loop=asyncio.get_running_loop())
        subscriptions = SubscriptionState()
        subscriptions.assign_from_user({A, B})
        assignment = subscriptions.subscription.assignment
        for tp in (A, B):
            assignment.state_value(tp).seek(0)
        fetcher = Fetcher(client, subscriptions)
        try:
            consumer = SimpleNamespace(_fetcher=fetcher)
            if backoff_off:
                assert prefetch_without_backoff(consumer)  # type: ignore[arg-type]
            fetcher._records[A] = FetchResult(A, assignment=assignment, partition_records=None,
                                              backoff=fetcher._prefetch_backoff)
            requests, *_ = fetcher._get_actions_per_node(assignment)
            return [[(topic, [p[0] for p in parts]) for topic, parts in request.topics] for _, request in requests]
        finally:
            await fetcher.close()

    return asyncio.run(run())


def test_other_partitions_are_fetched_while_records_of_one_wait_to_be_taken() -> None:
    """The pinned client still has the backoff the consumer turns off, and without it B is fetched
    while A's records wait (with it, nothing is fetched from that broker for 100 ms)."""
    assert _fetch_actions(backoff_off=False) == []
    assert _fetch_actions(backoff_off=True) == [[("t", [1])]]


def test_beside_a_busy_transaction_records_are_waited_for_until_it_ends() -> None:
    """Beside the batch before in its transaction the fill waits for records (an empty fetch does not
    end it), hands each fetch to `taken` as it comes, and stops when that transaction ends: a fetch
    cut short then takes nothing, and what arrives after it is left for the next batch."""

    class Arriving(FakeConsumer):
        async def getmany(self, timeout_ms: int = 0, max_records: int | None = None) -> dict:
            if self.fetches or not timeout_ms:
                await asyncio.sleep(0)
                return await super().getmany(timeout_ms, max_records)
            self.calls.append((timeout_ms, max_records or 0))
            await asyncio.sleep(timeout_ms / 1000)  # nothing there: waits (cancelled when the transaction ends)
            return {}

    async def run() -> tuple[dict, list, Arriving]:
        consumer = Arriving([{}, {A: [2]}, {}, {B: [10]}])
        busy: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        seen: list[dict] = []

        async def taken(records: dict) -> None:
            seen.append(records)

        filling = asyncio.create_task(fill_batch(consumer, {A: [1]}, limit=100, max_seconds=0, busy=busy,
                                                 taken=taken, wait_ms=60_000))
        for _ in range(50):
            await asyncio.sleep(0)
        busy.set_result(None)  # the transaction ends while the fill waits for a minute
        batch = await asyncio.wait_for(filling, 1)
        consumer.fetches.append({A: [3]})  # arrives later: the next batch's
        return batch, seen, consumer

    batch, seen, consumer = asyncio.run(run())
    assert batch == {A: [1, 2], B: [10]}
    assert seen == [{A: [2]}, {B: [10]}]
    assert consumer.fetches == [{A: [3]}]

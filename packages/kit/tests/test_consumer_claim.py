"""The claim of a batch's event ids (`ConsumerLoop._claim_new`) on PostgreSQL: one statement answers the
positions of the claims (event id, organiser) that were applied before, so the handler gets exactly the new events in
the batch's order (ids in no sorted order), a re-delivery is skipped, a second event under a claim of the batch counts
once, another event under an applied claim is told apart (`conflicting_duplicate`), and another organiser's event
under the same id is its own claim. A batch of new ids
costs that one statement (offsets included); duplicates one more, to read their stored digests."""

from __future__ import annotations

import random
import uuid
from datetime import UTC, datetime

import pytest
from aiokafka import TopicPartition
from sqlalchemy import MetaData, event, select

from styrkedja_contracts import OrganisationUnitUpsertedV1, new_event
from styrkedja_kit.app import define_kit_tables
from styrkedja_kit.consumer import ConsumerLoop, Delivered, record_digest
from styrkedja_kit.settings import ServiceSettings

pytestmark = [pytest.mark.integration, pytest.mark.postgres_only]

metadata = MetaData()
define_kit_tables(metadata, consumer=True)
TOPIC = "test.claim"


@pytest.fixture
async def db(make_database):
    return await make_database(metadata, "claim")


def delivered(n: int, name: str = "H", event_id: uuid.UUID | None = None) -> Delivered:
    made = new_event(OrganisationUnitUpsertedV1(
        unit_type="organiser", unit_id=f"{2000 + n}", organiser_id=f"{2000 + n}", name=name,
        updated_at=datetime(2026, 9, 1, tzinfo=UTC)), source="/test")
    if event_id is not None:
        made = made.model_copy(update={"id": event_id})
    return Delivered(made, TOPIC, 0, n, record_digest(made.to_bytes()))


async def test_the_claim_hands_over_exactly_the_new_events_in_order_and_tells_duplicates_apart(db) -> None:
    handed: list[list[uuid.UUID]] = []

    async def handler(session, batch) -> None:  # noqa: ANN001
        handed.append([item.event.id for item in batch])

    loop = ConsumerLoop(ServiceSettings(database_url="unused", kafka_bootstrap_servers="127.0.0.1:9"), db,
                        group_id="claim", topics=[TOPIC], handler=handler,
                        applied_table=metadata.tables["consumer_applied_events"],
                        offsets_table=metadata.tables["consumer_offsets"])
    statements: list[str] = []
    event.listen(db.engine.sync_engine, "before_cursor_execute",
                 lambda conn, cursor, statement, *_: statements.append(statement))

    first = [delivered(n) for n in range(40)]
    assert await loop._apply(first, {TopicPartition(TOPIC, 0): 40}) == first
    assert handed == [[item.event.id for item in first]]
    assert len(statements) == 1, statements  # claim and offsets: one round trip, no duplicate read

    rng = random.Random(5)
    new = [delivered(100 + n) for n in range(30)]
    again = rng.sample(first, 12)  # re-delivered: the same bytes
    other = delivered(3, name="Other", event_id=first[3].event.id)  # another event under an applied claim
    twin = delivered(105, name="Twin", event_id=new[5].event.id)  # another event under a new claim of the batch
    # another organiser's event under an applied id (and under a new one of the batch): its own claim, applied
    elsewhere = delivered(7, name="Elsewhere", event_id=first[3].event.id)
    beside = delivered(200, name="Beside", event_id=new[5].event.id)
    second = [*new, *again, other, twin, elsewhere, beside]
    rng.shuffle(second)
    statements.clear()
    fresh = await loop._apply(second, {TopicPartition(TOPIC, 0): 80})
    def claims(items: list[Delivered]) -> list[tuple[uuid.UUID, str]]:
        return [(item.event.id, item.event.data.organiser_id) for item in items]

    # the new ones, in the batch's order (of a claim twice in the batch, the first)
    wanted = set(claims([*new, elsewhere, beside]))
    assert claims(fresh) == list(dict.fromkeys(c for c in claims(second) if c in wanted))
    assert handed[-1] == [item.event.id for item in fresh]
    later_twin = max(twin, new[5], key=lambda item: next(n for n, x in enumerate(second) if x is item))
    assert sorted(id(item) for item in loop._conflicting.values()) == sorted([id(other), id(later_twin)])
    assert len(statements) == 2, statements  # the claim, and the stored digests of the duplicates
    async with db.sessions() as session:
        offsets = metadata.tables["consumer_offsets"]
        assert (await session.execute(select(offsets.c.next_offset))).scalar_one() == 80
        applied = metadata.tables["consumer_applied_events"]
        assert len((await session.execute(select(applied.c.event_id))).all()) == 72


async def test_a_batch_ended_by_a_deadlock_runs_again_whole_and_another_failure_does_not(db) -> None:
    """Several members of a group apply at once: a transaction PostgreSQL ends for a concurrent one (deadlock_detected,
    serialization_failure) is run again whole — not halved, where its events could end as dead letters —
    and what failed for anything else is left to the halving, as before (run once)."""
    from sqlalchemy import text

    from styrkedja_kit.consumer import concurrency_conflict

    calls: list[int] = []
    failing = {"state": "40P01", "times": 1}

    async def handler(session, batch) -> None:  # noqa: ANN001
        calls.append(len(batch))
        if failing["times"] > 0:
            failing["times"] -= 1
            await session.execute(text(
                f"DO $$ BEGIN RAISE EXCEPTION 'a concurrent one' USING ERRCODE = '{failing['state']}'; END $$"))

    loop = ConsumerLoop(ServiceSettings(database_url="unused", kafka_bootstrap_servers="127.0.0.1:9"), db,
                        group_id="conflict", topics=[TOPIC], handler=handler,
                        applied_table=metadata.tables["consumer_applied_events"],
                        offsets_table=metadata.tables["consumer_offsets"])
    first = [delivered(300 + n) for n in range(5)]
    assert await loop._apply(first, {TopicPartition(TOPIC, 0): 5}) == first  # the second run applies it
    assert calls == [5, 5]
    failing.update(state="40001", times=1)  # a serialization failure likewise
    second = [delivered(400 + n) for n in range(3)]
    assert await loop._apply(second, {TopicPartition(TOPIC, 0): 8}) == second
    assert calls[2:] == [3, 3]
    failing.update(state="22023", times=1)  # any other error: not run again here
    with pytest.raises(Exception) as raised:
        await loop._apply([delivered(500)], {})
    assert not concurrency_conflict(raised.value) and calls[4:] == [1]


async def test_a_batch_re_delivering_more_events_than_a_statement_has_parameters_is_told_apart(db) -> None:
    """Large but valid input (round 27 b): a batch may hold `consumer_max_records` (up to 100,000) events. Its
    duplicates' stored digests were read by an IN list, a parameter per id: past 32,767 re-delivered events the
    statement failed (asyncpg's InterfaceError) and the batch never got through. Now one array parameter."""
    handed: list[int] = []

    async def handler(session, batch) -> None:  # noqa: ANN001
        handed.append(len(batch))

    loop = ConsumerLoop(ServiceSettings(database_url="unused", kafka_bootstrap_servers="127.0.0.1:9"), db,
                        group_id="claim-many", topics=[TOPIC], handler=handler,
                        applied_table=metadata.tables["consumer_applied_events"],
                        offsets_table=metadata.tables["consumer_offsets"])
    one = delivered(0)
    many = [Delivered(one.event.model_copy(update={"id": uuid.UUID(int=n + 1)}), TOPIC, 0, n, one.digest)
            for n in range(33_000)]
    assert len(await loop._apply(many, {TopicPartition(TOPIC, 0): len(many)})) == len(many)
    # the same again (a replay): every one a re-delivery, none handed over
    assert await loop._apply(many, {TopicPartition(TOPIC, 0): len(many)}) == []
    assert handed == [len(many)] and not loop._conflicting

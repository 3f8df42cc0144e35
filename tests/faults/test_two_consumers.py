"""Two consumers of reporting's group at once (issue 16, apply16: replicas, or `consumer_workers` 2), each the single
writer of the partitions the group hands it, over several organisers' events on the broker — and the group
rebalanced under them: one member leaves mid-stream, the other is cancelled in the middle of its batches (its
transaction rolled back, as a killed process's is), both come back. Every cell must equal the recomputation from
the facts, every organiser count exactly its live results (nothing counted twice, nothing lost), duplicates
(re-sent records) included; and both members must really have applied a share."""

from __future__ import annotations

import asyncio
import random
import uuid
from datetime import UTC, date, datetime, timedelta

import pytest
from aiokafka.partitioner import murmur2
from sqlalchemy import text

from stacks import start_at_log_end
from styrkedja_contracts import (
    TOPICS,
    AssessmentPublishedV1,
    AssessmentRetractedV1,
    ForecastSubmittedV1,
    OrganisationUnitUpsertedV1,
    forecast_id_for,
    new_event,
    topic_for_event_type,
)
from styrkedja_devstack.pytest_plugin import migrated_database
from styrkedja_kit.consumer import ConsumerLoop
from styrkedja_kit.db import Database
from styrkedja_kit.kafka import ensure_topics, registry_topics
from styrkedja_kit.settings import ServiceSettings
from styrkedja_reporting.main import handler_registry
from styrkedja_reporting.ops.queries import consistency_of, snapshot
from styrkedja_reporting.persistence import metadata
from styrkedja_reporting.results.read import Filters, Scope, read_cells

pytestmark = [pytest.mark.integration]

T0 = datetime(2026, 10, 1, 8, tzinfo=UTC)
SUBJECTS = ("GRGRMAT01", "GRGRSVE01", "GRGRENG01")


def organisers(count: int = 6) -> list[str]:
    """Kommunkoder whose records fall in `count` different partitions (of six): both members get a share."""
    found: dict[int, str] = {}
    candidate = 1100
    while len(found) < count:
        found.setdefault((murmur2(str(candidate).encode()) & 0x7FFFFFFF) % 6, str(candidate))
        candidate += 1
    return sorted(found.values())


def directory(organiser: str) -> list:
    units = [OrganisationUnitUpsertedV1(unit_type="organiser", unit_id=organiser, organiser_id=organiser, name="H",
                                        updated_at=T0),
             OrganisationUnitUpsertedV1(unit_type="area", unit_id=f"{organiser}-a", organiser_id=organiser,
                                        parent_id=organiser, name="A", updated_at=T0)]
    units += [OrganisationUnitUpsertedV1(unit_type="school_unit", unit_id=f"su-{organiser}000{n}",
                                         organiser_id=organiser, parent_id=f"{organiser}-a", name=f"S{n}",
                                         school_unit_code=f"{organiser}000{n}", updated_at=T0) for n in (1, 2)]
    return [new_event(u, source="/test") for u in units]


def results(rng: random.Random, organiser: str, count: int) -> tuple[list, int]:
    """`count` results of one organiser: new assessments, later revisions and retractions, forecasts; and how many
    assessments are live at the end."""
    events: list = []
    live: list[list] = []
    forecasts: dict[tuple[str, str], int] = {}
    while len(events) < count:
        roll = rng.random()
        if roll < 0.6 or not live:
            body = dict(organiser_id=organiser, school_unit_code=f"{organiser}000{rng.randint(1, 2)}",
                        group_id=rng.choice(("7A", "8B")), student_id=f"s-{organiser}-{rng.randrange(60)}",
                        teacher_id="t-1", gender=rng.choice(("female", "male")), year=7,
                        subject_code=rng.choice(SUBJECTS), school_year="2026/27", term="HT")
            aid = uuid.UUID(int=rng.getrandbits(128))
            value = rng.choice("ABCDEF")
            events.append(new_event(AssessmentPublishedV1(
                assessment_id=aid, revision=1, value=value, unmet_criteria=("K1",) if value == "F" else (),
                kind="assessment", scale="AF", round=1, assessed_on=date(2026, 9, 30), published_at=T0, **body),
                source="/test"))
            live.append([aid, 1, body])
        elif roll < 0.75:
            item = rng.choice(live)
            item[1] += 1
            events.append(new_event(AssessmentPublishedV1(
                assessment_id=item[0], revision=item[1], value=rng.choice("ABCDE"), kind="assessment", scale="AF",
                round=1, assessed_on=date(2026, 9, 30), published_at=T0 + timedelta(minutes=item[1]), **item[2]),
                source="/test"))
        elif roll < 0.82:
            item = live.pop(rng.randrange(len(live)))
            b = item[2]
            events.append(new_event(AssessmentRetractedV1(
                assessment_id=item[0], revision=item[1] + 1, organiser_id=organiser,
                school_unit_code=b["school_unit_code"], group_id=b["group_id"], student_id=b["student_id"],
                subject_code=b["subject_code"], school_year="2026/27", term="HT", round=1,
                retracted_at=T0 + timedelta(hours=1)), source="/test"))
        else:
            # drawn in the order the log was first drawn in (its other events stay as they were); the id is the key's,
            # so a key drawn again is that forecast's next revision
            rng.getrandbits(128)
            student = f"s-{organiser}-{rng.randrange(60)}"
            subject = rng.choice(SUBJECTS)
            key = (student, subject)
            forecasts[key] = forecasts.get(key, 0) + 1
            events.append(new_event(ForecastSubmittedV1(
                forecast_id=forecast_id_for(organiser, student, subject, "2026/27", "VT"), revision=forecasts[key],
                organiser_id=organiser, school_unit_code=f"{organiser}0001", group_id="9A", student_id=student,
                teacher_id="t-1", gender="female", year=9, subject_code=subject, school_year="2026/27",
                term="VT", value=rng.choice(("NOT_REACHED", "ACCEPTABLE")), submitted_at=T0,
                window_deadline=date(2027, 4, 2), late=False), source="/test"))
    return events, len(live)


async def send(bootstrap: str, events: list) -> None:
    from aiokafka import AIOKafkaProducer

    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all")
    await producer.start()
    try:
        for event in events:
            await producer.send(topic_for_event_type(event.type).name, key=event.partition_key(),
                                value=event.to_bytes())
        await producer.flush()
    finally:
        await producer.stop()


async def applied(db: Database, ids: list[uuid.UUID]) -> int:
    """How many of `ids` are applied (the topics may hold earlier tests' events: the group starts at their end, and
    the embedded broker's end may lie a batch before the true one)."""
    async with db.sessions() as session:
        return (await session.execute(text("SELECT count(*) FROM consumer_applied_events "
                                           "WHERE event_id = ANY(CAST(:ids AS uuid[]))"), {"ids": ids})).scalar_one()


async def until(check, what: str, timeout: float = 120) -> None:  # noqa: ANN001
    deadline = asyncio.get_running_loop().time() + timeout
    while not await check():
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"never: {what}")
        await asyncio.sleep(0.05)


async def test_two_consumers_of_one_group_stay_exact_through_rebalances_and_a_crash(infrastructure):
    url = migrated_database(infrastructure, "styrkedja_reporting")
    group = f"reporting-two-{uuid.uuid4().hex[:8]}"
    topics = [t.name for t in TOPICS.values() if "reporting" in t.consumers]
    db = Database(url)
    base = ServiceSettings(database_url=url, kafka_bootstrap_servers=infrastructure.kafka_bootstrap_servers,
                           client_id="two-consumers", consumer_workers=2,  # two workers' group, but:
                           # a session of 2 s, not the two workers' 6 s: the new members wait out the crashed one's
                           # session (and the embedded broker half a session besides), 12 of the test's 27 s at 6 s.
                           # The 6 s is for batches of 5,000 under load, a heartbeat missed meanwhile; these are
                           # small, and a missed heartbeat here costs a rebalance more, not a verdict
                           consumer_session_timeout_ms=2_000)
    await ensure_topics(base, registry_topics([group]))
    await asyncio.to_thread(start_at_log_end, infrastructure.kafka_bootstrap_servers, group, url)  # not before

    def member(name: str) -> tuple[ConsumerLoop, asyncio.Task[None]]:
        registry = handler_registry()
        loop = ConsumerLoop(base.model_copy(update={"client_id": f"two-consumers-{name}"}), Database(url),
                            group_id=group, topics=topics, handler=registry, handles=registry.handles,
                            applied_table=metadata.tables["consumer_applied_events"],
                            offsets_table=metadata.tables["consumer_offsets"])
        return loop, asyncio.create_task(loop.run())

    async def both_hold_partitions(*loops: ConsumerLoop) -> bool:
        return all(loop.assigned and loop._consumer is not None and loop._consumer.assignment() for loop in loops)

    rng = random.Random(16)
    organisers_of_test = organisers()
    tree = [e for o in organisers_of_test for e in directory(o)]
    per_organiser = {o: results(rng, o, 240) for o in organisers_of_test}
    stream = [e for n in range(0, 240, 20) for o in organisers_of_test
              for e in per_organiser[o][0][n:n + 20]]  # interleaved
    resent = rng.sample(stream, 60)  # the same records again (a producer's retry): applied once
    thirds = [stream[:len(stream) // 3], stream[len(stream) // 3:2 * len(stream) // 3], stream[2 * len(stream) // 3:]]
    members: list[tuple[ConsumerLoop, asyncio.Task[None]]] = []
    try:
        a, b = member("a"), member("b")
        members += [a, b]
        await until(lambda: both_hold_partitions(a[0], b[0]), "both members hold partitions")
        await send(infrastructure.kafka_bootstrap_servers, tree)
        tree_ids = [e.id for e in tree]
        await until(lambda: _equals(applied(db, tree_ids), len(tree)), "the directory applied")
        await send(infrastructure.kafka_bootstrap_servers, thirds[0])
        ids = tree_ids + [e.id for e in stream]
        await until(lambda: _equals(applied(db, ids), len(tree) + len(thirds[0])), "the first third applied")
        assert a[0].applied_count > 0 and b[0].applied_count > 0, "both members applied a share"
        # b leaves the group while the second third arrives (a rebalance: a takes every partition)
        await send(infrastructure.kafka_bootstrap_servers, thirds[1][: len(thirds[1]) // 2])
        b[0].stop()
        await b[1]
        await send(infrastructure.kafka_bootstrap_servers, thirds[1][len(thirds[1]) // 2:])
        # a crashes in the middle of its batches: cancelled, its transaction rolled back
        await until(lambda: _above(applied(db, ids), len(tree) + len(thirds[0])), "a applies the second third")
        a[1].cancel()
        with pytest.raises(asyncio.CancelledError):
            await a[1]
        c, d = member("c"), member("d")  # both back: a rebalance again
        members += [c, d]
        await until(lambda: both_hold_partitions(c[0], d[0]), "both new members hold partitions")
        await send(infrastructure.kafka_bootstrap_servers, thirds[2] + resent)
        total = len(tree) + len(stream)
        await until(lambda: _equals(applied(db, ids), total), "every event applied")
        await asyncio.sleep(1.0)  # nothing more comes (the re-sent records are duplicates)
        assert await applied(db, ids) == total
        assert c[0].applied_count + d[0].applied_count > 0
        async with snapshot(db) as session:
            found = await consistency_of(session)
            assert found.consistent, found
            mine = {"organisers": organisers_of_test}
            rows = (await session.execute(text(
                "SELECT organiser_id, sum(count) FROM assessment_aggregates WHERE level = 'organiser' "
                "AND organiser_id = ANY(CAST(:organisers AS text[])) GROUP BY organiser_id"), mine)).all()
            nation = sum(c.assessed or 0 for c in await read_cells(  # the nation's read: the organisers' cells
                session, "assessments", "nation", Filters(), Scope(organiser_ids=frozenset(organisers_of_test))))
            partitions = (await session.execute(text(
                "SELECT count(DISTINCT partition) FROM freshness WHERE topic = 'styrkedja.assessments'"))).scalar_one()
        assert dict(rows) == {o: live for o, (_, live) in per_organiser.items() if live}
        assert nation == sum(live for _, live in per_organiser.values())
        assert partitions >= len(organisers_of_test)  # each partition's batches noted in its own row
    finally:
        for loop, task in members:
            loop.stop()
            if not task.done():
                await asyncio.wait_for(task, 30)
            await loop.db.dispose()
        await db.dispose()


async def _equals(count, expected: int) -> bool:  # noqa: ANN001
    return await count == expected


async def _above(count, floor: int) -> bool:  # noqa: ANN001
    return await count > floor

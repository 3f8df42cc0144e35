"""Fault test (ops19): the embedded broker killed in the middle of `styrkedja rebuild reporting`'s read — and left
down, or started again without its logs, as the embedded broker always comes back. The read knew each partition's
end before it started, so a broker that stops answering is not the end of the log: the rebuild stops with one line,
exit 1, and the live tables and the group's offsets stay as the last whole rebuild left them. (It used to take the
empty fetches for the end, swap in the part it had read, and store offsets the live consumer would continue from:
the events after them missing from reporting.)

The broker is the test's own (killed here), and reporting's database a fresh one: nothing else shares either."""

from __future__ import annotations

import asyncio
from datetime import UTC, date, datetime, timedelta
from uuid import uuid4

import asyncpg
import pytest

from styrkedja_contracts import new_event, topic_for_event_type
from styrkedja_contracts.events.assessment import AssessmentPublishedV1
from styrkedja_contracts.events.organisation import OrganisationUnitUpsertedV1
from styrkedja_devstack.broker import EmbeddedBroker
from styrkedja_kit.db import Database
from styrkedja_kit.kafka import ensure_topics, make_producer, registry_topics
from styrkedja_reporting.rebuild import bulk, command, log
from styrkedja_reporting.settings import ReportingSettings

pytestmark = [pytest.mark.integration, pytest.mark.postgres_only]  # postgres_only: the broker is its own

T0 = datetime(2026, 10, 1, 8, 0, tzinfo=UTC)
ORGANISER = "212000-0019"
GROUP = "reporting-rebuild-broker-gone"
LATER = 2_000  # on one partition, read in fetches of `FETCH_BYTES`: the broker goes after the first of ~20
FETCH_BYTES = 64 * 1024  # the rebuild's 4 MiB would bring the whole log in a fetch or two (the client fetches ahead)


def _directory() -> list:
    def unit(kind: str, unit_id: str, parent: str | None, code: str | None):
        return new_event(OrganisationUnitUpsertedV1(organiser_id=ORGANISER, unit_type=kind, unit_id=unit_id,
                                                    parent_id=parent, name=kind, school_unit_code=code, updated_at=T0),
                         source="/t")
    return [unit("organiser", ORGANISER, None, None), unit("area", "area-19", ORGANISER, None),
            unit("school_unit", "su-19000019", "area-19", "19000019")]


def _results(first: int, count: int) -> list:
    return [new_event(AssessmentPublishedV1(
        assessment_id=uuid4(), revision=1, organiser_id=ORGANISER, school_unit_code="19000019", group_id="7A",
        student_id=f"s-{n}", teacher_id="t-1", gender="female", year=7, subject_code="GRGRMAT01", kind="assessment",
        scale="AF", value="C", unmet_criteria=(), school_year="2026/27", term="HT", round=1,
        assessed_on=date(2026, 9, 1), published_at=T0 + timedelta(seconds=n)), source="/t")
        for n in range(first, first + count)]


async def _produce(settings: ReportingSettings, events: list) -> None:
    await ensure_topics(settings, registry_topics())
    producer = make_producer(settings, "rebuild-broker-gone")
    await producer.start()
    try:
        sent = [await producer.send(topic_for_event_type(e.type).name, value=e.to_bytes(), key=e.partition_key())
                for e in events]
        await asyncio.gather(*sent)
    finally:
        await producer.stop()


async def _live_state(url: str) -> tuple[int, list]:
    """The organiser's counted results, and the group's offsets."""
    connection = await asyncpg.connect(Database(url).asyncpg_dsn)
    try:
        counted = await connection.fetchval("SELECT coalesce(sum(count), 0) FROM assessment_aggregates "
                                            "WHERE level = 'organiser' AND unit_id = $1", ORGANISER)
        offsets = [tuple(r) for r in await connection.fetch(
            "SELECT topic, partition, next_offset FROM consumer_offsets WHERE group_id = $1 ORDER BY 1, 2", GROUP)]
        return int(counted), offsets
    finally:
        await connection.close()


@pytest.mark.parametrize("afterwards", ["stays_down", "back_empty"])
def test_broker_gone_mid_read_changes_nothing_and_says_so(fresh_database, monkeypatch, capsys, tmp_path, afterwards):
    broker = EmbeddedBroker(log_file=tmp_path / "broker.log").start()
    try:
        url = fresh_database("styrkedja_reporting")
        monkeypatch.setenv("STYRKEDJA_DATABASE_URL", url)
        monkeypatch.setenv("STYRKEDJA_KAFKA_BOOTSTRAP_SERVERS", broker.bootstrap_servers)
        monkeypatch.setenv("STYRKEDJA_CONSUMER_GROUP", GROUP)
        monkeypatch.setenv("STYRKEDJA_CONSUMER_ENABLED", "false")
        settings = ReportingSettings()

        # a whole rebuild of the first 40 results: the live tables and offsets the failed one must leave
        asyncio.run(_produce(settings, _directory() + _results(0, 40)))
        assert command.main(["--decoders", "0", "--no-dead-letter"]) == 0
        before = asyncio.run(_live_state(url))
        assert before[0] == 40 and before[1]

        asyncio.run(_produce(settings, _results(40, LATER)))
        fed: list[int] = []
        feed = bulk.Rebuilder.feed_raw  # what the read hands each fetch's records to (`read_log`'s `on_raw`)

        async def fed_then_broker_gone(self, records):
            await feed(self, records)
            fed.append(len(records))
            if len(fed) == 1:  # the first fetch's records are staged: the broker goes
                if afterwards == "stays_down":
                    broker.stop(kill=True)
                else:
                    broker.restart()  # SIGKILL, then up again on its port with no topic

        monkeypatch.setattr(bulk.Rebuilder, "feed_raw", fed_then_broker_gone)
        consumer = log.make_consumer
        monkeypatch.setattr(log, "make_consumer", lambda *args, **options: consumer(
            *args, **{**options, "max_partition_fetch_bytes": FETCH_BYTES, "fetch_max_bytes": FETCH_BYTES}))
        capsys.readouterr()
        code = command.main(["--decoders", "0", "--no-dead-letter", "--stall-seconds", "3"])
        err = capsys.readouterr().err
        assert 0 < sum(fed) < LATER + 40 + 3, f"the kill must come mid-read: {fed}"
        assert code == 1, err
        said = [line for line in err.splitlines() if line.startswith("styrkedja rebuild reporting:")]
        assert len(said) == 1 and "not read to its end" in said[0] and "nothing was changed" in said[0], err
        assert "styrkedja.assessments" in said[0]  # names the partition left short, and how far it came
        assert asyncio.run(_live_state(url)) == before  # the live tables and the group's offsets as they were
    finally:
        broker.stop(kill=True)

"""Pure decisions behind the outbox relay's broker-loss check and the consumer's one-by-one fallback
(issue 17): the check never runs against a durable broker unless set; a marker the broker's answer
leaves out is unknown, not lost; one by one, a batch keeps each partition's order and interleaves
the partitions by event time."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from types import SimpleNamespace

import pytest
from aiokafka import TopicPartition

from styrkedja_kit.consumer import Delivered, in_time_order
from styrkedja_kit.kafka import BrokerCapabilities, broker_may_lose_logs
from styrkedja_kit.outbox import partitions_without_marker
from styrkedja_kit.settings import ServiceSettings

KAFKA = BrokerCapabilities(idempotent_producer=True, exact_offsets=True, static_membership=True, durable_logs=True)
TANSU = BrokerCapabilities(idempotent_producer=False, exact_offsets=False, static_membership=False)


@pytest.fixture(autouse=True)
def _unset(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("STYRKEDJA_KAFKA_BROKER_MAY_LOSE_LOGS", raising=False)


def test_the_loss_check_runs_only_where_the_broker_may_restart_empty():
    assert broker_may_lose_logs(ServiceSettings(), TANSU) is True
    assert broker_may_lose_logs(ServiceSettings(), KAFKA) is False, "never against a durable broker by default"
    # the repair of auto-created topics (the embedded devstack's setting) does not turn it on against Kafka
    assert broker_may_lose_logs(ServiceSettings(kafka_repair_auto_created_topics=True), KAFKA) is False


def test_the_setting_decides_where_given(monkeypatch: pytest.MonkeyPatch):
    assert broker_may_lose_logs(ServiceSettings(kafka_broker_may_lose_logs=False), TANSU) is False
    assert broker_may_lose_logs(ServiceSettings(kafka_broker_may_lose_logs=True), KAFKA) is True
    monkeypatch.setenv("STYRKEDJA_KAFKA_BROKER_MAY_LOSE_LOGS", "false")
    assert broker_may_lose_logs(ServiceSettings(), TANSU) is False


def test_the_probe_calls_a_broker_that_grants_producer_ids_durable():
    assert KAFKA.durable_logs and not TANSU.durable_logs
    assert BrokerCapabilities(idempotent_producer=True, exact_offsets=True).durable_logs is False, "asked, not assumed"


A, B, C = (TopicPartition("styrkedja.assessments", p) for p in (0, 1, 2))


def test_a_marker_is_lost_only_where_the_broker_answered_none_for_it():
    answer = {A: -1, B: 17}
    assert partitions_without_marker([A, B], {A, B}, answer) == [A]


def test_a_partition_the_answer_leaves_out_is_unknown_not_lost():
    # OffsetFetch v2+ with a group-level error (coordinator loading after a restart) lists no partitions
    assert partitions_without_marker([A, B], {A, B}, {}) == []
    assert partitions_without_marker([A, B, C], {A, B, C}, {A: 5}) == []


def test_a_partition_never_marked_is_not_lost():
    assert partitions_without_marker([A, B], {B}, {A: -1, B: -1}) == [B]


T0 = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)


def delivered(topic: str, partition: int, offset: int, seconds: int) -> Delivered:
    event = SimpleNamespace(time=T0 + timedelta(seconds=seconds))
    return Delivered(event, topic, partition, offset)  # type: ignore[arg-type]


def test_one_by_one_meets_the_directory_change_written_before_it():
    # the fetch listed the LIKA partition first; the directory change was written 5 s before the claim
    claim = delivered("styrkedja.lika", 3, 0, seconds=10)
    directory = [delivered("styrkedja.organisation", 1, n, seconds=5) for n in range(3)]
    order = in_time_order([claim, *directory])
    assert order[-1] is claim and order[:3] == directory


def test_one_by_one_keeps_each_partitions_offset_order_whatever_its_times():
    # a platform's event with an older time behind a newer one in the same partition stays behind it
    first, second = delivered("styrkedja.lika", 0, 0, seconds=9), delivered("styrkedja.lika", 0, 1, seconds=1)
    other = delivered("styrkedja.organisation", 0, 0, seconds=5)
    order = in_time_order([first, second, other])
    assert order.index(first) < order.index(second)
    assert [(d.topic, d.offset) for d in order] == [("styrkedja.organisation", 0), ("styrkedja.lika", 0),
                                                    ("styrkedja.lika", 1)]
    assert in_time_order([]) == []

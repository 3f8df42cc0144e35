"""`consumer_prefetch_partial` unset (None) is decided from the broker's capabilities when the consumer starts:
on against Apache Kafka (exact offsets: a partial batch means the loop has caught up, and the next fetch may
wait beside it), off against the embedded broker (Tansu's end offsets count batches, not records). Set, the
setting wins on either broker. Driven through `ConsumerLoop._run_once` with the broker's side replaced, up to
the consumer's start: no broker and no database."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import MetaData

from styrkedja_kit.consumer import ConsumerLoop, define_consumer_tables
from styrkedja_kit.kafka import BrokerCapabilities
from styrkedja_kit.settings import ServiceSettings

KAFKA = BrokerCapabilities(idempotent_producer=True, exact_offsets=True, static_membership=True, durable_logs=True)
EMBEDDED = BrokerCapabilities(idempotent_producer=False, exact_offsets=False, static_membership=False)


class _Started(Exception):
    """Raised where the consumer client would connect: the decision has been made by then."""


class _Client:
    def subscribe(self, topics: list[str], listener: Any) -> None:
        self.topics = topics

    async def start(self) -> None:
        raise _Started

    async def stop(self) -> None:  # a start that failed stops what it started (`ConsumerLoop._run_once`)
        return None


@pytest.fixture(autouse=True)
def _unset(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("STYRKEDJA_CONSUMER_PREFETCH_PARTIAL", raising=False)


async def _decided(no_broker, setting: bool | None, broker: BrokerCapabilities) -> bool:
    no_broker(consumer=_Client, producer=_Client, capabilities=broker)
    applied, offsets = define_consumer_tables(MetaData())
    loop = ConsumerLoop(ServiceSettings(consumer_prefetch_partial=setting), database=None,
                        group_id="reporting", topics=["styrkedja.assessments"], handler=None,
                        applied_table=applied, offsets_table=offsets)
    with pytest.raises(_Started):
        await loop._run_once()
    return bool(loop._prefetch_partial)


async def test_unset_it_is_on_against_apache_kafka_and_off_against_the_embedded_broker(no_broker) -> None:
    assert await _decided(no_broker, None, KAFKA) is True
    assert await _decided(no_broker, None, EMBEDDED) is False


@pytest.mark.parametrize("setting", [True, False])
@pytest.mark.parametrize("broker", [KAFKA, EMBEDDED], ids=["kafka", "embedded"])
async def test_set_the_setting_wins_on_either_broker(no_broker, setting: bool, broker: BrokerCapabilities) -> None:
    assert await _decided(no_broker, setting, broker) is setting


def test_the_default_is_unset_and_the_environment_sets_it(monkeypatch: pytest.MonkeyPatch) -> None:
    assert ServiceSettings().consumer_prefetch_partial is None
    monkeypatch.setenv("STYRKEDJA_CONSUMER_PREFETCH_PARTIAL", "false")
    assert ServiceSettings().consumer_prefetch_partial is False

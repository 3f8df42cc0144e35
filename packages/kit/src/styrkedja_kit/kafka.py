"""Kafka clients configured the one way this system uses them.

No idempotent producer: the embedded Tansu broker fails InitProducerId. Ordering per key
holds anyway because aiokafka keeps at most one batch in flight per partition, and
exactness comes from the outbox plus the consumers' event-id bookkeeping.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable

from aiokafka import AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient, NewTopic

log = logging.getLogger(__name__)

TOPIC_ALREADY_EXISTS = 36


def make_producer(bootstrap_servers: str, client_id: str) -> AIOKafkaProducer:
    return AIOKafkaProducer(
        bootstrap_servers=bootstrap_servers,
        client_id=client_id,
        acks="all",
        enable_idempotence=False,
        linger_ms=5,
        request_timeout_ms=15_000,
        retry_backoff_ms=200,
    )


async def ensure_topics(bootstrap_servers: str, topics: Iterable[tuple[str, int]]) -> None:
    """Create missing topics with their partition count (an existing topic is left as it is)."""
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap_servers, client_id="styrkedja-topics")
    await admin.start()
    try:
        existing = set(await admin.list_topics())
        missing = [NewTopic(name, num_partitions=partitions, replication_factor=1)
                   for name, partitions in topics if name not in existing]
        if missing:
            response = await admin.create_topics(missing)
            for name, code, *_ in response.topic_errors:
                if code not in (0, TOPIC_ALREADY_EXISTS):
                    raise RuntimeError(f"could not create topic {name}: error code {code}")
            log.info("created topics", extra={"topics": [t.name for t in missing]})
    finally:
        await admin.close()


def registry_topics(dead_letter_groups: Iterable[str] = ()) -> list[tuple[str, int]]:
    """Every topic of the contracts registry, plus the dead-letter topics of the given groups."""
    from styrkedja_contracts import TOPICS, dead_letter_topic

    topics = [(t.name, t.partitions) for t in TOPICS.values()]
    topics += [(dead_letter_topic(group), 1) for group in dead_letter_groups]
    return topics

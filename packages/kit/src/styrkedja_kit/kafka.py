"""Kafka clients configured the one way this system uses them.

No idempotent producer: the embedded Tansu broker fails InitProducerId. Ordering per key
holds anyway because aiokafka keeps at most one batch in flight per partition, and
exactness comes from the outbox plus the consumers' event-id bookkeeping.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from typing import Any

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.helpers import create_ssl_context

from .settings import ServiceSettings

log = logging.getLogger(__name__)

TOPIC_ALREADY_EXISTS = 36


def connection_options(settings: ServiceSettings) -> dict[str, Any]:
    """Where and how every Kafka client of a service connects (bootstrap, TLS, SASL)."""
    options: dict[str, Any] = {"bootstrap_servers": settings.kafka_bootstrap_servers,
                               "security_protocol": settings.kafka_security_protocol}
    if settings.kafka_security_protocol in ("SSL", "SASL_SSL"):
        options["ssl_context"] = create_ssl_context(cafile=settings.kafka_ssl_cafile)
    if settings.kafka_security_protocol.startswith("SASL"):
        options["sasl_mechanism"] = settings.kafka_sasl_mechanism or "SCRAM-SHA-512"
        options["sasl_plain_username"] = settings.kafka_sasl_username
        options["sasl_plain_password"] = (settings.kafka_sasl_password.get_secret_value()
                                          if settings.kafka_sasl_password else None)
    return options


def make_producer(settings: ServiceSettings, client_id: str) -> AIOKafkaProducer:
    return AIOKafkaProducer(
        **connection_options(settings),
        client_id=client_id,
        acks="all",
        enable_idempotence=False,
        linger_ms=5,
        request_timeout_ms=settings.kafka_producer_request_timeout_ms,
        retry_backoff_ms=200,
    )


def make_consumer(settings: ServiceSettings, client_id: str, **kwargs: Any) -> AIOKafkaConsumer:
    return AIOKafkaConsumer(**connection_options(settings), client_id=client_id, **kwargs)


def make_admin(settings: ServiceSettings, client_id: str, **kwargs: Any) -> AIOKafkaAdminClient:
    return AIOKafkaAdminClient(**connection_options(settings), client_id=client_id, **kwargs)


async def ensure_topics(settings: ServiceSettings, topics: Iterable[tuple[str, int]], *,
                        recreate_misshapen: bool = False) -> None:
    """Create missing topics with their partition count; an existing topic is left as it is,
    unless `recreate_misshapen` and it has another partition count. That is for a log already
    lost: a broker that restarted empty creates a topic with its own default partition count
    when a producer sends to it first, and keys would no longer map to their partitions."""
    topics = dict(topics)
    admin = make_admin(settings, "styrkedja-topics")
    await admin.start()
    try:
        existing = set(await admin.list_topics())
        if recreate_misshapen:
            present = [name for name in topics if name in existing]
            described = await admin.describe_topics(present) if present else []
            misshapen = [d["topic"] for d in described if len(d["partitions"]) != topics[d["topic"]]]
            if misshapen:
                log.warning("recreating topics with the wrong partition count", extra={"topics": misshapen})
                await admin.delete_topics(misshapen)
                existing -= set(misshapen)
        missing = [NewTopic(name, num_partitions=partitions, replication_factor=1)
                   for name, partitions in topics.items() if name not in existing]
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

"""Wiring: which topics the reporting service consumes, and with what."""

from styrkedja_contracts import TOPICS
from styrkedja_kit.app import ConsumerSpec

from .service import apply_batch
from .settings import ReportingSettings


def consumer_spec(settings: ReportingSettings) -> ConsumerSpec:
    topics = [t.name for t in TOPICS.values() if "reporting" in t.consumers]
    return ConsumerSpec(group_id=settings.consumer_group, topics=topics, handler_factory=lambda runtime: apply_batch)

"""Topic registry: one Kafka topic per entity, keyed by organiser id (huvudman).

All events of one entity share a topic so that they stay in order per key;
a municipality's events land in one partition. Each consumer group has its
own dead-letter topic ``styrkedja.dlq.<consumer_group>``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import TYPE_CHECKING

from .errors import UnknownEventTypeError
from .events import (
    AlertRaisedV1,
    AlertResolvedV1,
    AssessmentPublishedV1,
    AssessmentRetractedV1,
    CalendarChangedV1,
    DutyUpsertedV1,
    ForecastSubmittedV1,
    ForecastWithdrawnV1,
    GroupMembershipUpsertedV1,
    LikaActionPlanChangedV1,
    LikaSelfAssessmentPublishedV1,
    OrganisationEntityRemovedV1,
    OrganisationUnitUpsertedV1,
    PlanPublishedV1,
    PlanRetractedV1,
    SupportInterventionChangedV1,
    SupportInterventionRecordedV1,
    SupportInterventionRetractedV1,
    TeachingAssignmentUpsertedV1,
)
from .identifiers import (
    PIN_RULE,
    canonical_organiser_id,
    has_personal_identity_number,
    redact_personal_identity_numbers,
)
from .registry import parse_event_type

if TYPE_CHECKING:
    from .envelope import CloudEvent

__all__ = ["Topic", "TOPICS", "DLQ_PREFIX", "topic_for_event_type", "dead_letter_topic", "all_topic_names",
           "message_key", "key_mismatch"]

DLQ_PREFIX = "styrkedja.dlq."


@dataclass(frozen=True)
class Topic:
    """A topic: its name, message key, default partition count, producing and consuming services."""

    name: str
    key: str = "organiser_id"
    partitions: int = 6
    producers: tuple[str, ...] = ()
    consumers: tuple[str, ...] = ()
    event_types: tuple[str, ...] = ()

    def message_key(self, event: CloudEvent) -> bytes:
        """The Kafka key of `event` on this topic: its data's `key` field (e.g. the organiser id), UTF-8."""
        value = getattr(event.data, self.key, None)
        if value is None:
            raise KeyError(f"{event.type} has no {self.key} to key {self.name} by")
        return str(value).encode("utf-8")

    def families(self) -> frozenset[str]:
        """The ``<entity>.<verb>`` parts of this topic's event types (any version)."""
        return frozenset(parse_event_type(t)[0] for t in self.event_types)


TOPICS: dict[str, Topic] = {
    t.name: t
    for t in (
        Topic(
            name="styrkedja.assessments",
            producers=("assessment",),
            consumers=("reporting",),
            # planeringar are published through the assessment service too
            event_types=(AssessmentPublishedV1.event_type, AssessmentRetractedV1.event_type,
                         PlanPublishedV1.event_type, PlanRetractedV1.event_type),
        ),
        Topic(
            name="styrkedja.forecasts",
            producers=("forecast",),
            consumers=("reporting",),
            # the årshjul is owned by the forecast service (its late flag is decided at write time) and
            # travels with the forecasts, so reporting reads each forecast after the calendar it was judged by
            event_types=(ForecastSubmittedV1.event_type, ForecastWithdrawnV1.event_type,
                         CalendarChangedV1.event_type),
        ),
        Topic(
            name="styrkedja.lika",
            producers=("lika",),
            consumers=("reporting",),
            event_types=(LikaSelfAssessmentPublishedV1.event_type, LikaActionPlanChangedV1.event_type),
        ),
        Topic(
            name="styrkedja.support",
            producers=("assessment",),  # stödinsatser live in the assessment service; no free text leaves it
            consumers=("reporting",),
            event_types=(SupportInterventionChangedV1.event_type, SupportInterventionRecordedV1.event_type,
                         SupportInterventionRetractedV1.event_type),
        ),
        Topic(
            name="styrkedja.organisation",
            producers=("reporting",),  # the SS 12000-style directory import
            consumers=("reporting",),
            event_types=(OrganisationUnitUpsertedV1.event_type, GroupMembershipUpsertedV1.event_type,
                         TeachingAssignmentUpsertedV1.event_type, DutyUpsertedV1.event_type,
                         OrganisationEntityRemovedV1.event_type),
        ),
        Topic(
            name="styrkedja.alerts",
            producers=("reporting",),  # through reporting's outbox
            consumers=(),  # for other systems (mail, chat, case systems); none of ours yet
            event_types=(AlertRaisedV1.event_type, AlertResolvedV1.event_type),
        ),
    )
}
"""Every topic by name."""


def topic_for_event_type(event_type: str) -> Topic:
    """The topic that carries ``event_type``; other versions of the same entity.verb map to the same topic."""
    for topic in TOPICS.values():
        if event_type in topic.event_types:
            return topic
    try:
        family, _ = parse_event_type(event_type)
    except UnknownEventTypeError:
        raise KeyError(f"no topic carries event type {event_type!r}") from None
    for topic in TOPICS.values():
        if family in topic.families():
            return topic
    raise KeyError(f"no topic carries event type {event_type!r}")


def message_key(event: CloudEvent) -> bytes:
    """The Kafka key the registry gives `event`: its topic's key field of its data (`Topic.key`)."""
    return topic_for_event_type(event.type).message_key(event)


def key_mismatch(event: CloudEvent, key: bytes | None) -> str | None:
    """Why a record keyed `key` must not carry `event`, or None: the key is what puts all of one
    organiser's events in one partition, in order, with one writer; a record whose key is not the
    one its body names (or has none) would be applied beside that order. An event type no topic
    carries is not judged (`wrong_topic` and decoding speak for it)."""
    try:
        expected = message_key(event)
    except KeyError:
        return None
    if key == expected:
        return None
    topic = topic_for_event_type(event.type)
    if key is not None and topic.key == "organiser_id" and _same_organiser(key, expected):
        # keyed by another spelling of the organiser its data names (`2120001234`, written before organiser
        # ids had one spelling, or by a platform producing itself): the same organiser, not another's partition
        return None
    if key is None:
        return f"key: the record has none; {topic.name} is keyed by the event's data.{topic.key}"
    return f"key: not the event's data.{topic.key}, which keys {topic.name}"


def _same_organiser(key: bytes, expected: bytes) -> bool:
    try:
        return canonical_organiser_id(key.decode("ascii")) == expected.decode("ascii")
    except UnicodeDecodeError:
        return False


_GROUP_RE = re.compile(r"[A-Za-z0-9._-]{1,200}")  # matched whole: `$` also takes a final newline


def dead_letter_topic(consumer_group: str) -> str:
    """Dead-letter topic of a consumer group: ``styrkedja.dlq.<consumer_group>``. A group no topic may be named
    after is a ValueError saying the rule, never repeating a personal identity number: 1-200 characters of
    ``[A-Za-z0-9._-]``, and no personal identity number (`PIN_RULE`) — `reporting-19121212-1212` or
    `elev_19121212_1212` fit the characters, and the topic's name would keep the number on the broker (in every
    topic listing, ACL, metric and log line that names it) for as long as the topic lives."""
    if not isinstance(consumer_group, str) or not _GROUP_RE.fullmatch(consumer_group):
        shown = redact_personal_identity_numbers(consumer_group)[0] if isinstance(consumer_group, str) else ""
        raise ValueError(f"consumer group {shown[:100]!r} must be 1-200 chars of [A-Za-z0-9._-]")
    if has_personal_identity_number(consumer_group):
        raise ValueError(f"consumer group {redact_personal_identity_numbers(consumer_group)[0][:100]!r} must not "
                         f"contain a personal identity number (personnummer/samordningsnummer), {PIN_RULE}: its "
                         "dead-letter topic is named after it")
    return f"{DLQ_PREFIX}{consumer_group}"


def all_topic_names(consumer_groups: tuple[str, ...] = ()) -> tuple[str, ...]:
    """Every entity topic, plus the dead-letter topics of the given consumer groups."""
    return tuple(TOPICS) + tuple(dead_letter_topic(g) for g in consumer_groups)

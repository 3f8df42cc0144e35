"""Styrkedja event contracts: CloudEvents envelope, versioned event models, topic registry, schemas.

Main entry points::

    from styrkedja_contracts import new_event, decode_event, topic_for_event_type
    event = new_event(AssessmentPublishedV1(...), source="/assessment")
    producer.send(topic_for_event_type(event.type).name, key=event.partition_key(), value=event.to_bytes())
    event = decode_event(message.value)   # raises ContractError(.reason) → dead-letter topic
"""

from .compat import compare_schemas
from .envelope import (
    DEFAULT_MAX_BYTES,
    CloudEvent,
    Envelope,
    decode_event,
    find_personal_identity_number,
    new_event,
)
from .errors import (
    ContractError,
    InvalidEnvelopeError,
    InvalidEventDataError,
    OversizedEventError,
    PersonalIdentityNumberError,
    UndecodableEventError,
    UnknownEventTypeError,
)
from .events import (
    ALL_EVENT_MODELS,
    AssessmentKind,
    AssessmentPublishedV1,
    AssessmentRetractedV1,
    DutyUpsertedV1,
    EventData,
    ForecastSubmittedV1,
    ForecastValue,
    ForecastWithdrawnV1,
    GroupMembershipUpsertedV1,
    InterventionKind,
    LikaArea,
    LikaRating,
    LikaRatingValue,
    LikaSelfAssessmentPublishedV1,
    OrganisationEntityRemovedV1,
    OrganisationUnitUpsertedV1,
    RemovedEntity,
    RespondentRole,
    SchoolForm,
    SupportInterventionChangedV1,
    TeachingAssignmentUpsertedV1,
    UnitType,
    forecast_id_for,
)
from .examples import example_bytes, example_path
from .identifiers import (
    Gender,
    GroupId,
    OrganiserId,
    SchoolUnitCode,
    SchoolYear,
    StudentId,
    SubjectCode,
    TeacherId,
    Term,
    contains_personal_identity_number,
)
from .registry import EVENT_MODELS, REGISTRY, UPCASTERS, EventRegistry, parse_event_type, schema_uri
from .scales import Scale, all_scale_values, is_valid_value, merit_points, reaches_pass, scale_values
from .topics import TOPICS, Topic, dead_letter_topic, topic_for_event_type

__version__ = "0.1.0"

__all__ = [
    "ALL_EVENT_MODELS",
    "AssessmentKind",
    "AssessmentPublishedV1",
    "AssessmentRetractedV1",
    "CloudEvent",
    "ContractError",
    "DEFAULT_MAX_BYTES",
    "EVENT_MODELS",
    "Envelope",
    "EventData",
    "EventRegistry",
    "ForecastSubmittedV1",
    "ForecastValue",
    "ForecastWithdrawnV1",
    "Gender",
    "GroupId",
    "InterventionKind",
    "InvalidEnvelopeError",
    "InvalidEventDataError",
    "LikaArea",
    "LikaRating",
    "LikaRatingValue",
    "LikaSelfAssessmentPublishedV1",
    "OrganisationUnitUpsertedV1",
    "GroupMembershipUpsertedV1",
    "TeachingAssignmentUpsertedV1",
    "DutyUpsertedV1",
    "OrganisationEntityRemovedV1",
    "RemovedEntity",
    "OrganiserId",
    "OversizedEventError",
    "PersonalIdentityNumberError",
    "REGISTRY",
    "RespondentRole",
    "Scale",
    "SchoolForm",
    "SchoolUnitCode",
    "SchoolYear",
    "StudentId",
    "SubjectCode",
    "SupportInterventionChangedV1",
    "TOPICS",
    "TeacherId",
    "Term",
    "Topic",
    "UPCASTERS",
    "UndecodableEventError",
    "UnitType",
    "UnknownEventTypeError",
    "all_scale_values",
    "compare_schemas",
    "contains_personal_identity_number",
    "dead_letter_topic",
    "example_bytes",
    "example_path",
    "decode_event",
    "find_personal_identity_number",
    "forecast_id_for",
    "is_valid_value",
    "merit_points",
    "new_event",
    "parse_event_type",
    "reaches_pass",
    "scale_values",
    "schema_uri",
    "topic_for_event_type",
]

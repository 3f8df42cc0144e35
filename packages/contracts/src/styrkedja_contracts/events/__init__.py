"""Version 1 event data models (one module per entity)."""

from .assessment import AssessmentKind, AssessmentPublishedV1, AssessmentRetractedV1
from .base import ContractModel, EventData
from .forecast import (
    FORECAST_NAMESPACE,
    ForecastSubmittedV1,
    ForecastValue,
    ForecastWithdrawnV1,
    forecast_id_for,
)
from .lika import (
    LikaArea,
    LikaRating,
    LikaRatingValue,
    LikaSelfAssessmentPublishedV1,
    RespondentRole,
    SchoolForm,
)
from .organisation import (
    DutyUpsertedV1,
    GroupMembershipUpsertedV1,
    OrganisationEntityRemovedV1,
    OrganisationUnitUpsertedV1,
    RemovedEntity,
    TeachingAssignmentUpsertedV1,
    UnitType,
)
from .support import InterventionKind, SupportInterventionChangedV1

ALL_EVENT_MODELS: tuple[type[EventData], ...] = (
    AssessmentPublishedV1,
    AssessmentRetractedV1,
    ForecastSubmittedV1,
    ForecastWithdrawnV1,
    LikaSelfAssessmentPublishedV1,
    OrganisationUnitUpsertedV1,
    GroupMembershipUpsertedV1,
    TeachingAssignmentUpsertedV1,
    DutyUpsertedV1,
    OrganisationEntityRemovedV1,
    SupportInterventionChangedV1,
)
"""Every event data model, in registry order."""

__all__ = [
    "ALL_EVENT_MODELS",
    "AssessmentKind",
    "AssessmentPublishedV1",
    "AssessmentRetractedV1",
    "ContractModel",
    "EventData",
    "FORECAST_NAMESPACE",
    "ForecastSubmittedV1",
    "ForecastValue",
    "ForecastWithdrawnV1",
    "InterventionKind",
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
    "RespondentRole",
    "SchoolForm",
    "SupportInterventionChangedV1",
    "UnitType",
    "forecast_id_for",
]

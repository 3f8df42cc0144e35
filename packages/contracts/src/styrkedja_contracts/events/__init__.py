"""Version 1 event data models (one module per entity)."""

from .alert import (
    ALERT_NAMESPACE,
    AlertCellFields,
    AlertFigures,
    AlertLevel,
    AlertRaisedV1,
    AlertResolvedV1,
    AlertRule,
    ResolvedReason,
    alert_id_for,
    period_key,
)
from .assessment import AssessmentKind, AssessmentPublishedV1, AssessmentRetractedV1
from .base import ContractModel, EventData
from .calendar import CalendarChangedV1, ForecastWindow, ReportingCalendar, RoundDeadline
from .forecast import (
    FORECAST_NAMESPACE,
    ForecastSubmittedV1,
    ForecastValue,
    ForecastWithdrawnV1,
    forecast_id_for,
)
from .lika import (
    ActionStatus,
    LikaActionPlanChangedV1,
    LikaActionPlanItem,
    LikaArea,
    LikaRating,
    LikaRatingValue,
    LikaSelfAssessmentPublishedV1,
    RespondentRole,
    SchoolForm,
)
from .organisation import OrganisationUnitUpsertedV1, UnitType
from .support import InterventionKind, SupportInterventionChangedV1

ALL_EVENT_MODELS: tuple[type[EventData], ...] = (
    AssessmentPublishedV1,
    AssessmentRetractedV1,
    ForecastSubmittedV1,
    ForecastWithdrawnV1,
    LikaSelfAssessmentPublishedV1,
    LikaActionPlanChangedV1,
    OrganisationUnitUpsertedV1,
    SupportInterventionChangedV1,
    CalendarChangedV1,
    AlertRaisedV1,
    AlertResolvedV1,
)
"""Every event data model, in registry order."""

__all__ = [
    "ALERT_NAMESPACE",
    "ALL_EVENT_MODELS",
    "AlertCellFields",
    "AlertFigures",
    "AlertLevel",
    "AlertRaisedV1",
    "AlertResolvedV1",
    "AlertRule",
    "CalendarChangedV1",
    "ForecastWindow",
    "ReportingCalendar",
    "ResolvedReason",
    "RoundDeadline",
    "alert_id_for",
    "period_key",
    "ActionStatus",
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
    "LikaActionPlanChangedV1",
    "LikaActionPlanItem",
    "LikaArea",
    "LikaRating",
    "LikaRatingValue",
    "LikaSelfAssessmentPublishedV1",
    "OrganisationUnitUpsertedV1",
    "RespondentRole",
    "SchoolForm",
    "SupportInterventionChangedV1",
    "UnitType",
    "forecast_id_for",
]

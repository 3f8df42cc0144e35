"""Stödinsatser: support interventions leave the assessment service without any free text
(ids, kind, status, subject, dates, evaluation outcome, the deciding role). The description of
the support stays in the assessment service."""

from __future__ import annotations

from datetime import date
from enum import StrEnum
from typing import ClassVar
from uuid import UUID

from pydantic import Field, model_validator
from pydantic_core import PydanticCustomError

from ..identifiers import GroupId, OrganiserId, SchoolUnitCode, SchoolYear, StudentId, Term
from ..subjects import KnownSubjectCode
from .base import EventData, Int4, Revision, Timestamp

__all__ = ["DeciderRole", "EVALUATION_AFTER_START", "EVALUATION_AFTER_START_WORDS", "EvaluationOutcome",
           "InterventionKind", "InterventionStatus", "PRINCIPAL_DECIDES", "STARTS_AFTER_DECISION",
           "STARTS_AFTER_DECISION_WORDS", "SupportInterventionChangedV1", "SupportInterventionRecordedV1",
           "SupportInterventionRetractedV1"]


class InterventionKind(StrEnum):
    """extra anpassning, särskilt stöd, utredning, åtgärdsprogram."""

    extra_adjustment = "extra_adjustment"
    special_support = "special_support"
    investigation = "investigation"
    action_programme = "action_programme"


#: Kinds only the principal decides (skollagen 3 kap.): their start follows the decision.
PRINCIPAL_DECIDES = frozenset({InterventionKind.investigation, InterventionKind.special_support,
                               InterventionKind.action_programme})

#: the two date rules of an intervention, their words the same at the assessment service's door (a problem naming the
#: field) and in a dead letter (after the field's name): an event that breaks one was applied by reporting while the
#: door refused the same intervention (round 28t)
EVALUATION_AFTER_START = "evaluation_after_start"
EVALUATION_AFTER_START_WORDS = "the planned evaluation date comes after the start (start_date)"
STARTS_AFTER_DECISION = "starts_after_decision"
STARTS_AFTER_DECISION_WORDS = "a decided intervention starts on or after the decision (decided_on)"


class SupportInterventionChangedV1(EventData):
    """The number of active interventions of one kind changed for a school unit (or group).

    Never names a student. ``as_of_revision`` grows monotonically per
    (school unit, group, kind, school year, term); a count with a lower
    revision than one already applied is stale.
    """

    event_type: ClassVar[str] = "se.styrkedja.support.intervention_changed.v1"

    organiser_id: OrganiserId
    school_unit_code: SchoolUnitCode
    group_id: GroupId | None = None
    kind: InterventionKind
    school_year: SchoolYear
    term: Term
    active_count: Int4 = Field(ge=0)
    as_of_revision: Int4 = Field(ge=1)
    changed_at: Timestamp


class InterventionStatus(StrEnum):
    """föreslagen, beslutad, pågående, utvärderad, avslutad."""

    proposed = "proposed"
    decided = "decided"
    in_progress = "in_progress"
    evaluated = "evaluated"
    closed = "closed"


class EvaluationOutcome(StrEnum):
    better = "better"
    unchanged = "unchanged"
    worse = "worse"


class DeciderRole(StrEnum):
    """Who decided: the principal (rektor) decides investigations, special support and action
    programmes; teachers record extra adaptations."""

    principal = "principal"
    teacher = "teacher"


class SupportInterventionRecordedV1(EventData):
    """A support intervention (stödinsats) for one pseudonymous student, optionally in one subject.

    Carries no free text: the description stays in the assessment service. Revisions are
    numbered per ``intervention_id``; only the newest counts. ``investigation_id`` names the
    decided investigation (utredning) an action programme or special support rests on.
    """

    event_type: ClassVar[str] = "se.styrkedja.support.intervention_recorded.v1"

    intervention_id: UUID
    revision: Revision
    organiser_id: OrganiserId
    school_unit_code: SchoolUnitCode
    group_id: GroupId
    student_id: StudentId
    subject_code: KnownSubjectCode | None = None
    kind: InterventionKind
    status: InterventionStatus
    start_date: date
    evaluation_date: date | None = None
    evaluation_outcome: EvaluationOutcome | None = None
    decided_by_role: DeciderRole | None = None
    decided_on: date | None = None
    investigation_id: UUID | None = None
    recorded_at: Timestamp

    @model_validator(mode="after")
    def _check_dates(self) -> SupportInterventionRecordedV1:
        # a model's rule has no field in its error's location: the words name it (as an assessment's `assessed_on`)
        if self.evaluation_date is not None and self.evaluation_date <= self.start_date:
            raise PydanticCustomError(EVALUATION_AFTER_START, "evaluation_date: " + EVALUATION_AFTER_START_WORDS)
        if self.decided_on is not None and self.decided_on > self.start_date and self.kind in PRINCIPAL_DECIDES:
            raise PydanticCustomError(STARTS_AFTER_DECISION, "start_date: " + STARTS_AFTER_DECISION_WORDS)
        return self


class SupportInterventionRetractedV1(EventData):
    """A support intervention is retracted: it no longer counts. No reason text travels."""

    event_type: ClassVar[str] = "se.styrkedja.support.intervention_retracted.v1"

    intervention_id: UUID
    revision: Int4 = Field(ge=2, description="The retraction's own revision, above the retracted one.")
    organiser_id: OrganiserId
    school_unit_code: SchoolUnitCode
    group_id: GroupId
    student_id: StudentId
    kind: InterventionKind
    subject_code: KnownSubjectCode | None = None
    retracted_at: Timestamp

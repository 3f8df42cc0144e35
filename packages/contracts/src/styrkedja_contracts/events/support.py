"""Stödinsatser: support interventions leave the assessment service without any free text
(ids, kind, status, subject, dates, evaluation outcome, the deciding role). The description of
the support stays in the assessment service."""

from __future__ import annotations

from datetime import date
from enum import StrEnum
from typing import ClassVar
from uuid import UUID

from pydantic import Field, model_validator

from ..identifiers import GroupId, OrganiserId, SchoolUnitCode, SchoolYear, StudentId, Term
from ..subjects import KnownSubjectCode
from .base import EventData, Int4, Revision, Timestamp
from .rules import Broken, refuse

__all__ = ["DeciderRole", "EVALUATION_AFTER_START", "EVALUATION_AFTER_START_WORDS", "EvaluationOutcome",
           "InterventionKind", "InterventionStatus", "PRINCIPAL_DECIDES", "RESTS_ON_INVESTIGATION",
           "STARTS_AFTER_DECISION", "STARTS_AFTER_DECISION_WORDS", "SupportInterventionChangedV1",
           "SupportInterventionRecordedV1", "SupportInterventionRetractedV1", "intervention_broken"]


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


#: Kinds that may name the investigation they rest on.
RESTS_ON_INVESTIGATION = frozenset({InterventionKind.action_programme, InterventionKind.special_support})


def intervention_broken(kind: InterventionKind, status: InterventionStatus, start_date: date,
                        evaluation_date: date | None, evaluation_outcome: EvaluationOutcome | None,
                        decided_by_role: DeciderRole | None, decided_on: date | None,
                        investigation_id: UUID | None) -> list[Broken]:
    """Every rule a support intervention breaks by itself (not against stored state), in the door's order: the
    assessment service's door (`support.rules.check_intervention`) and the event (`SupportInterventionRecordedV1`)
    alike. Another producer's event of a decided investigation without a decider, decided by a teacher, of an
    evaluation outcome while in progress, or of an action programme resting on no investigation was counted by
    reporting as the door's refused request never is (round 29r).

    - anything past `proposed` names who decided (`decision_names_decider`) and when (`decision_names_date`);
    - the principal decides investigations, special support and action programmes (`principal_decides`), and such
      an intervention starts on or after the decision (`starts_after_decision`);
    - the planned evaluation comes after the start (`evaluation_after_start`);
    - an evaluation outcome belongs to an evaluated or closed intervention (`outcome_needs_evaluation`), and an
      evaluated one names it (`evaluated_needs_outcome`);
    - an action programme names the investigation it rests on (`action_programme_needs_investigation`), and only it
      or special support names one (`investigation_basis_kind`)."""
    found: list[Broken] = []
    if status is not InterventionStatus.proposed:
        if decided_by_role is None:
            found.append(Broken("decided_by_role", "decision_names_decider",
                                f"a {status.value} intervention names who decided it"))
        if decided_on is None:
            found.append(Broken("decided_on", "decision_names_date",
                                f"a {status.value} intervention names the date of the decision"))
    if decided_by_role is not None and kind in PRINCIPAL_DECIDES and decided_by_role is not DeciderRole.principal:
        found.append(Broken("decided_by_role", "principal_decides",
                            f"the principal (rektor) decides {kind.value}, not the {decided_by_role.value}"))
    if decided_on is not None and decided_on > start_date and kind in PRINCIPAL_DECIDES:
        found.append(Broken("start_date", STARTS_AFTER_DECISION, STARTS_AFTER_DECISION_WORDS))
    if evaluation_date is not None and evaluation_date <= start_date:
        found.append(Broken("evaluation_date", EVALUATION_AFTER_START, EVALUATION_AFTER_START_WORDS))
    evaluated = status in (InterventionStatus.evaluated, InterventionStatus.closed)
    if evaluation_outcome is not None and not evaluated:
        found.append(Broken("evaluation_outcome", "outcome_needs_evaluation",
                            "an evaluation outcome belongs to an evaluated or closed intervention"))
    if status is InterventionStatus.evaluated and evaluation_outcome is None:
        found.append(Broken("evaluation_outcome", "evaluated_needs_outcome",
                            "an evaluated intervention names its outcome (better, unchanged, worse)"))
    if kind is InterventionKind.action_programme and investigation_id is None:
        found.append(Broken("investigation_id", "action_programme_needs_investigation",
                            "an action programme names the decided investigation it rests on"))
    if investigation_id is not None and kind not in RESTS_ON_INVESTIGATION:
        found.append(Broken("investigation_id", "investigation_basis_kind",
                            "only an action programme or special support names an investigation"))
    return found


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
    def _check_rules(self) -> SupportInterventionRecordedV1:
        # the door's item rules, every one (round 29r: only the two date rules were held, round 28u)
        refuse(intervention_broken(self.kind, self.status, self.start_date, self.evaluation_date,
                                   self.evaluation_outcome, self.decided_by_role, self.decided_on,
                                   self.investigation_id))
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

"""Rules of a support intervention (stödinsats). Pure: no I/O.

- the principal (rektor) decides investigations (utredning), special support (särskilt stöd)
  and action programmes (åtgärdsprogram); teachers record extra adaptations (extra anpassningar);
- anything past `proposed` names who decided and when;
- the planned evaluation date comes after the start;
- an evaluation outcome belongs to an evaluated (or closed) intervention, and an evaluated one has one;
- an action programme rests on a decided investigation of the same student (`investigation_id`).

Roles are plain values here: who decided is a field of the request. Wiring the caller's token
role to `may_record` / `may_read_description` is the next phase (see `styrkedja_kit.auth`).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from enum import StrEnum
from uuid import UUID

from styrkedja_contracts.events.support import (
    PRINCIPAL_DECIDES,
    RESTS_ON_INVESTIGATION,
    DeciderRole,
    EvaluationOutcome,
    InterventionKind,
    InterventionStatus,
    intervention_broken,
)
from styrkedja_kit.rules import RuleViolation

__all__ = ["ACTIVE_STATUSES", "DECIDED_STATUSES", "PRINCIPAL_DECIDES", "RESTS_ON_INVESTIGATION", "CallerRole",
           "Intervention", "StoredInvestigation", "check_intervention", "check_investigation_basis", "check_recorder",
           "may_read_description", "may_record"]

#: An investigation counts as a basis once it is decided (or further along).
DECIDED_STATUSES = frozenset({InterventionStatus.decided, InterventionStatus.in_progress,
                              InterventionStatus.evaluated, InterventionStatus.closed})
#: Statuses in which an intervention is active (counted in reporting).
ACTIVE_STATUSES = frozenset({InterventionStatus.decided, InterventionStatus.in_progress})


class CallerRole(StrEnum):
    """The role of whoever records or reads (from the token, next phase)."""

    teacher = "teacher"
    principal = "principal"
    student_health = "student_health"  # elevhälsa
    platform = "platform"  # a school platform writing on behalf of its users


@dataclass(frozen=True)
class Intervention:
    """What the rules look at (the request, without its free text)."""

    kind: InterventionKind
    status: InterventionStatus
    start_date: date
    evaluation_date: date | None
    evaluation_outcome: EvaluationOutcome | None
    decided_by_role: DeciderRole | None
    decided_on: date | None
    investigation_id: UUID | None


@dataclass(frozen=True)
class StoredInvestigation:
    """The investigation an action programme names, as stored."""

    kind: InterventionKind
    status: InterventionStatus
    organiser_id: str
    student_id: str
    removed: bool


def check_intervention(item: Intervention) -> list[RuleViolation]:
    """Every rule the item breaks by itself (not against stored state): the contracts' `intervention_broken`, which
    the event holds too (an event of another producer breaking one is dead-lettered, round 29r)."""
    return [RuleViolation(b.field, b.rule, b.words) for b in intervention_broken(
        item.kind, item.status, item.start_date, item.evaluation_date, item.evaluation_outcome, item.decided_by_role,
        item.decided_on, item.investigation_id)]


def check_investigation_basis(organiser_id: str, student_id: str,
                              investigation: StoredInvestigation | None) -> RuleViolation | None:
    """The investigation an action programme names exists, is of this student and is decided. Another
    organiser's record is answered as one never stored: the caller may not read it, and said its kind,
    its status or "another student" (a probe of any id for what another organiser stores)."""
    if investigation is None or investigation.removed or investigation.organiser_id != organiser_id:
        return RuleViolation("investigation_id", "investigation_must_exist",
                             "no such investigation is stored (or it was retracted)", status=409)
    if investigation.kind is not InterventionKind.investigation:
        return RuleViolation("investigation_id", "investigation_must_exist",
                             f"names a {investigation.kind.value}, not an investigation", status=409)
    if investigation.student_id != student_id:
        return RuleViolation("investigation_id", "investigation_of_same_student",
                             "the investigation is of another student", status=409)
    if investigation.status not in DECIDED_STATUSES:
        return RuleViolation("investigation_id", "investigation_must_be_decided",
                             f"the investigation is {investigation.status.value}, not decided", status=409)
    return None


def may_record(role: CallerRole, kind: InterventionKind) -> bool:
    """Teachers record extra adaptations; the principal records every kind; a platform writes
    on behalf of its users (the decider field then carries the rule)."""
    if role in (CallerRole.principal, CallerRole.platform):
        return True
    if role is CallerRole.teacher:
        return kind is InterventionKind.extra_adjustment
    return False


def check_recorder(role: str | None, item: Intervention) -> list[RuleViolation]:
    """The caller's role (the token's, once tokens are on in this service; None: not known, no
    check) against what it records — 403 naming the rule:

    - `role_may_record`: teachers record extra adaptations only; the principal and a platform
      (on behalf of its users) every kind; any other role none;
    - `decider_is_caller`: a teacher or the principal records decisions in their own name only
      (`decided_by_role` is the caller's role); a platform names the decider in the item, and
      `principal_decides` (`check_intervention`) checks it.
    """
    if role is None:
        return []
    try:
        caller = CallerRole(role)
    except ValueError:
        return [RuleViolation("kind", "role_may_record", f"the role {role!r} records no support interventions",
                              status=403)]
    found: list[RuleViolation] = []
    if not may_record(caller, item.kind):
        found.append(RuleViolation("kind", "role_may_record",
                                   f"a {caller.value} records extra adaptations only, not {item.kind.value}",
                                   status=403))
    if caller in (CallerRole.teacher, CallerRole.principal) and item.decided_by_role is not None \
            and item.decided_by_role.value != caller.value:
        found.append(RuleViolation("decided_by_role", "decider_is_caller",
                                   f"a {caller.value} records decisions in their own name, not the "
                                   f"{item.decided_by_role.value}'s", status=403))
    return found


def may_read_description(role: CallerRole, *, teaches_student: bool) -> bool:
    """The free-text description: the student's teachers, the principal and student health."""
    if role in (CallerRole.principal, CallerRole.student_health):
        return True
    return role is CallerRole.teacher and teaches_student

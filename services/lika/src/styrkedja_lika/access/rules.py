"""Ownership rules of self-assessments (pure).

A self-assessment belongs to one school unit of one organiser (huvudman). Only that unit's principal
(rektor) or ICT coordinator, and the organiser admin, may create, change or publish it, or edit its
action plan. Reading follows the caller's scope; a private self-assessment is visible to its own unit
only (not even the organiser admin), and a draft to its own unit and the organiser admin, who may
write it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum

from styrkedja_kit.rules import RuleViolation

from ..domain import AssessmentStatus

__all__ = ["Actor", "Owner", "Role", "may_read", "may_write", "require_read", "require_write"]


class Role(StrEnum):
    """The caller's role, as the access layer (tokens) will name it."""

    PRINCIPAL = "principal"
    ICT_COORDINATOR = "ict_coordinator"
    TEACHER = "teacher"
    AREA_MANAGER = "area_manager"
    ORGANISER_ADMIN = "organiser_admin"
    POLITICIAN = "politician"
    PLATFORM = "platform"


_UNIT_WRITERS = frozenset({Role.PRINCIPAL, Role.ICT_COORDINATOR})
_UNIT_READERS = frozenset({Role.PRINCIPAL, Role.ICT_COORDINATOR, Role.TEACHER})


@dataclass(frozen=True)
class Actor:
    """The caller: role, organiser and the school units in scope (for an area manager: the area's)."""

    role: Role
    organiser_id: str
    school_unit_codes: frozenset[str] = field(default_factory=frozenset)


@dataclass(frozen=True)
class Owner:
    """Whose a self-assessment is, and where it is in its life."""

    organiser_id: str
    school_unit_code: str
    status: AssessmentStatus = AssessmentStatus.DRAFT


def _own_unit(actor: Actor, owner: Owner) -> bool:
    return actor.organiser_id == owner.organiser_id and owner.school_unit_code in actor.school_unit_codes


def may_write(actor: Actor, owner: Owner) -> bool:
    """Create, save, publish, keep private, edit the action plan."""
    if actor.organiser_id != owner.organiser_id:
        return False
    if actor.role in _UNIT_WRITERS:
        return _own_unit(actor, owner)
    # the organiser admin is not the unit: a private self-assessment is the unit's alone
    return actor.role is Role.ORGANISER_ADMIN and owner.status is not AssessmentStatus.PRIVATE


def may_read(actor: Actor, owner: Owner) -> bool:
    if actor.organiser_id != owner.organiser_id:
        return False
    if actor.role in _UNIT_READERS:
        return _own_unit(actor, owner)
    if owner.status is AssessmentStatus.PRIVATE:
        return False
    if actor.role is Role.ORGANISER_ADMIN:
        return True
    if actor.role is Role.AREA_MANAGER:
        return owner.status is AssessmentStatus.PUBLISHED and _own_unit(actor, owner)
    return False  # politicians see aggregates in reporting; platforms write assessments, not LIKA


def require_write(actor: Actor | None, owner: Owner) -> None:
    """403 naming the unit unless `actor` may write; `None` = no identity layer yet (see `actor`)."""
    if actor is not None and not may_write(actor, owner):
        raise RuleViolation("school_unit_code", "not_owner",
                            f"a {actor.role} of organiser {actor.organiser_id} may not change the self-assessments "
                            f"of school unit {owner.school_unit_code} of organiser {owner.organiser_id}", status=403)


def require_read(actor: Actor | None, owner: Owner) -> None:
    if actor is not None and not may_read(actor, owner):
        raise RuleViolation("self_assessment_id", "out_of_scope",
                            "this self-assessment is outside the caller's scope", status=403)

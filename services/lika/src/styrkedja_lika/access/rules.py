"""Ownership rules of self-assessments (pure), on the kit's `Principal` (who the token says is calling).

A self-assessment belongs to one school unit of one organiser (huvudman). Only that unit's principal
(rektor) or ICT coordinator, and the organiser admin, may create, change or publish it, or edit its
action plan: the kit's `Write.LIKA` grant (principal and ICT coordinator for the units in their token's
`school_units`, the organiser admin for any unit of its `organisers`).

Reading follows the caller's scope, always within the token's organisers:
- the unit itself — principal, ICT coordinator, teacher — reads every self-assessment of its units,
  drafts and private ones included (a teacher's units: its `school_units` claim and the units of its
  `groups`);
- the organiser admin reads every draft and published one of its organisers, never a private one;
- an area manager reads the published ones of the units its token lists in `school_units` (this
  service keeps no directory: the organiser-wide picture per area is reporting's LIKA compilation);
- politicians, the public, platforms and ops read nothing here (aggregates are reporting's).

A private self-assessment is visible to its own unit only, and changed only by its unit — and made private only by
it (`may_keep_private`): the organiser admin keeping a unit's draft private hid it from the organiser by another
than the unit, and from the admin itself the moment it answered (its retry: "no such self-assessment").

What a caller may not read does not exist for it: a route naming a self-assessment by its id answers one outside the
caller's read scope as an id never stored (`require_visible`: the same 404), so that an id tells no one outside that
it is a self-assessment, or whose (a 403 told another organiser's principal so, a write's naming the school unit and
organiser). A 403 is for what the caller sees but may not change, and for a request naming a unit outside its scope.
"""

from __future__ import annotations

from dataclasses import dataclass
from uuid import UUID

from styrkedja_kit.auth import Principal, Role, Write
from styrkedja_kit.auth import may_write as may_write_kind
from styrkedja_kit.rules import RuleViolation

from ..domain import AssessmentStatus

__all__ = ["READERS", "WRITERS", "Owner", "may_keep_private", "may_read", "may_write", "not_found", "require_read",
           "require_keep_private", "require_visible", "require_write"]

#: The roles that write LIKA at all (their units or organiser are checked per self-assessment).
WRITERS = frozenset({Role.PRINCIPAL, Role.ICT_COORDINATOR, Role.ORGANISER_ADMIN})
#: The roles that read self-assessments at all.
READERS = frozenset({Role.PRINCIPAL, Role.ICT_COORDINATOR, Role.TEACHER, Role.AREA_MANAGER, Role.ORGANISER_ADMIN})
_UNIT_WRITERS = (Role.PRINCIPAL, Role.ICT_COORDINATOR)
_UNIT_READERS = (Role.PRINCIPAL, Role.ICT_COORDINATOR, Role.TEACHER)


@dataclass(frozen=True)
class Owner:
    """Whose a self-assessment is, and where it is in its life."""

    organiser_id: str
    school_unit_code: str
    status: AssessmentStatus = AssessmentStatus.DRAFT


def _units(principal: Principal) -> frozenset[str]:
    return principal.school_units | {g.school_unit_code for g in principal.groups}


def _is_the_unit(principal: Principal, owner: Owner, roles: tuple[Role, ...], units: frozenset[str]) -> bool:
    return principal.has(*roles) and owner.organiser_id in principal.organisers and owner.school_unit_code in units


def may_write(principal: Principal, owner: Owner) -> bool:
    """Create, save, publish, keep private, edit the action plan."""
    if owner.status is AssessmentStatus.PRIVATE:  # the organiser admin is not the unit
        return _is_the_unit(principal, owner, _UNIT_WRITERS, principal.school_units)
    return may_write_kind(principal, Write.LIKA, owner.organiser_id, owner.school_unit_code)


def may_keep_private(principal: Principal, owner: Owner) -> bool:
    """Make final without publishing: the unit itself (its principal or ICT coordinator), never the organiser admin
    — a private self-assessment is the unit's alone."""
    return _is_the_unit(principal, owner, _UNIT_WRITERS, principal.school_units)


def may_read(principal: Principal, owner: Owner) -> bool:
    if owner.organiser_id not in principal.organisers:
        return False
    if _is_the_unit(principal, owner, _UNIT_READERS, _units(principal)):
        return True
    if owner.status is AssessmentStatus.PRIVATE:
        return False
    if principal.has(Role.ORGANISER_ADMIN):
        return True
    return (principal.has(Role.AREA_MANAGER) and owner.status is AssessmentStatus.PUBLISHED
            and owner.school_unit_code in principal.school_units)


def require_write(principal: Principal, owner: Owner) -> None:
    """403 naming the unit unless `principal` may write."""
    if not may_write(principal, owner):
        raise RuleViolation("school_unit_code", "not_owner",
                            f"this token may not change the self-assessments of school unit "
                            f"{owner.school_unit_code} of organiser {owner.organiser_id}", status=403)


def require_keep_private(principal: Principal, owner: Owner) -> None:
    """403 unless `principal` is the unit itself (`may_keep_private`)."""
    if not may_keep_private(principal, owner):
        raise RuleViolation("school_unit_code", "unit_only",
                            f"only school unit {owner.school_unit_code} itself (its principal or ICT coordinator) "
                            "keeps its self-assessment private: a private one is the unit's alone", status=403)


def require_read(principal: Principal, owner: Owner) -> None:
    if not may_read(principal, owner):
        raise RuleViolation("self_assessment_id", "out_of_scope",
                            "this self-assessment is outside the caller's scope", status=403)


def not_found(self_assessment_id: UUID) -> RuleViolation:
    """The answer to an id never stored — and to one the caller may not read (`require_visible`)."""
    return RuleViolation("self_assessment_id", "not_found", f"no self-assessment {self_assessment_id}", status=404)


def require_visible(principal: Principal, owner: Owner, self_assessment_id: UUID) -> None:
    """404, as for an id never stored, unless `principal` may read the self-assessment stored under the id."""
    if not may_read(principal, owner):
        raise not_found(self_assessment_id)

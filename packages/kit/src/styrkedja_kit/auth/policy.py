"""Roles and scopes as data, and the pure questions the services ask of them.

No I/O, no web framework: a route asks `may_write(principal, Write.ASSESSMENTS, organiser_id)` or
`may_read(principal, node)` and turns a refusal into a 403 (`require_write`, `require_read` raise
`AccessDenied`, a `RuleViolation` with status 403, so the kit's problem handler answers).

| role            | writes                                              | reads                                        |
|-----------------|-----------------------------------------------------|----------------------------------------------|
| platform        | assessments, forecasts, support, organisation — own organiser(s) | only what it wrote              |
| teacher         | —                                                   | own groups, student level included           |
| principal       | LIKA of own school units                            | own school units, student level included     |
| ict_coordinator | LIKA of own school units                            | own school units, unit level (no student data, no support figures) |
| area_manager    | —                                                   | own areas' units, down to group level        |
| organiser_admin | organiser settings, LIKA of any own unit            | whole organiser, every level (exact)         |
| politician      | —                                                   | organiser and area aggregates (suppressed)   |
| public          | —                                                   | any organiser's and the nation's aggregates (suppressed) |
| ops             | admin endpoints (consistency, rebuild, unplaced)    | no student data                              |

A role reads every topic of its levels but those its grant names in `refused` (`Topic`): an ICT coordinator's work is
the LIKA tool, and the support (stödinsats) figures of its units are none of it (least privilege, privacy round 30: it
read them at unit level as a principal does).

Every reach is within the token's organisers: a teacher's groups and a principal's units too (a school unit code
is the same under every organiser, so another organiser's data at the same code is not theirs).

Suppression of small groups (which role sees which level exactly) is a reporting rule and lives
in `styrkedja_reporting.access.disclosure`.
"""

from __future__ import annotations

import enum
from collections.abc import Sequence
from dataclasses import dataclass, replace

from ..rules import RuleViolation, RuleViolations
from .principal import GroupRef, Level, Principal, Role


class Write(enum.StrEnum):
    ASSESSMENTS = "assessments"
    FORECASTS = "forecasts"
    SUPPORT = "support"
    ORGANISATION = "organisation"  # directory data: units, groups, rosters
    LIKA = "lika"
    ORGANISER_SETTINGS = "organiser_settings"  # reporting windows, thresholds
    OPS_ADMIN = "ops_admin"  # consistency checks, rebuilds, unplaced results


class Reach(enum.Enum):
    """Which part of the chain a role's reads are anchored to."""

    NOTHING = "nothing"
    OWN_WRITES = "own_writes"  # only resources it wrote itself, within its organisers
    GROUPS = "groups"
    SCHOOL_UNITS = "school_units"
    AREAS = "areas"
    ORGANISERS = "organisers"
    EVERY_ORGANISER = "every_organiser"  # public figures


class Topic(enum.StrEnum):
    """A kind of figure some role that reads a level is refused there all the same (`Grant.refused`)."""

    SUPPORT = "support"  # stödinsatser: who gets support, its kinds and outcomes


class WriteReach(enum.Enum):
    NONE = "none"
    ORGANISERS = "organisers"  # any unit of the token's organisers
    SCHOOL_UNITS = "school_units"  # only the token's own units (within its organisers)
    ANYWHERE = "anywhere"  # not bound to an organiser (ops)


@dataclass(frozen=True)
class Grant:
    writes: frozenset[Write]
    write_reach: WriteReach
    reads: Reach
    levels: frozenset[Level]
    refused: frozenset[Topic] = frozenset()  # topics not read at any of its levels


_ALL = frozenset(Level)
GRANTS: dict[Role, Grant] = {
    Role.PLATFORM: Grant(frozenset({Write.ASSESSMENTS, Write.FORECASTS, Write.SUPPORT, Write.ORGANISATION}),
                         WriteReach.ORGANISERS, Reach.OWN_WRITES, frozenset()),
    Role.TEACHER: Grant(frozenset(), WriteReach.NONE, Reach.GROUPS, frozenset({Level.STUDENT, Level.GROUP})),
    Role.PRINCIPAL: Grant(frozenset({Write.LIKA}), WriteReach.SCHOOL_UNITS, Reach.SCHOOL_UNITS,
                          frozenset({Level.STUDENT, Level.GROUP, Level.SCHOOL_UNIT})),
    Role.ICT_COORDINATOR: Grant(frozenset({Write.LIKA}), WriteReach.SCHOOL_UNITS, Reach.SCHOOL_UNITS,
                                frozenset({Level.SCHOOL_UNIT}), refused=frozenset({Topic.SUPPORT})),
    Role.AREA_MANAGER: Grant(frozenset(), WriteReach.NONE, Reach.AREAS,
                             frozenset({Level.GROUP, Level.SCHOOL_UNIT, Level.AREA})),
    Role.ORGANISER_ADMIN: Grant(frozenset({Write.ORGANISER_SETTINGS, Write.LIKA}), WriteReach.ORGANISERS,
                                Reach.ORGANISERS, _ALL),
    Role.POLITICIAN: Grant(frozenset(), WriteReach.NONE, Reach.ORGANISERS, frozenset({Level.AREA, Level.ORGANISER})),
    Role.PUBLIC: Grant(frozenset(), WriteReach.NONE, Reach.EVERY_ORGANISER,
                       frozenset({Level.ORGANISER, Level.NATION})),
    Role.OPS: Grant(frozenset({Write.OPS_ADMIN}), WriteReach.ANYWHERE, Reach.NOTHING, frozenset()),
}


@dataclass(frozen=True)
class Node:
    """A place in the chain, with its ancestors (the directory supplies them)."""

    level: Level
    organiser_id: str | None = None
    area_id: str | None = None
    school_unit_code: str | None = None
    group_id: str | None = None


class AccessDenied(RuleViolation):
    """Authenticated, but outside the caller's scope: 403."""

    def __init__(self, field: str, rule: str, message: str) -> None:
        super().__init__(field, rule, message, 403)


def may_write(principal: Principal, kind: Write, organiser_id: str | None = None,
              school_unit_code: str | None = None) -> bool:
    """May this principal write `kind` for this organiser (and, for unit-bound roles, this unit)?"""
    for role in principal.roles:
        grant = GRANTS[role]
        if kind not in grant.writes:
            continue
        if grant.write_reach is WriteReach.ANYWHERE:
            return True
        if organiser_id is None or organiser_id not in principal.organisers:
            continue
        if grant.write_reach is WriteReach.ORGANISERS:
            return True
        if grant.write_reach is WriteReach.SCHOOL_UNITS and school_unit_code in principal.school_units:
            return True
    return False


def _reaches(principal: Principal, reach: Reach, node: Node) -> bool:
    if reach is Reach.EVERY_ORGANISER:
        return True
    if node.level is Level.NATION:
        return reach is Reach.ORGANISERS  # for roles whose levels include the nation (organiser admin)
    in_organiser = node.organiser_id is not None and node.organiser_id in principal.organisers
    if reach is Reach.ORGANISERS:
        return in_organiser
    if reach is Reach.AREAS:
        return in_organiser and node.area_id is not None and node.area_id in principal.areas
    # a school unit code is the same under every organiser (Skolverket's): a unit-bound role reads its units and
    # groups within its own organisers, never another organiser's data at the same code (round 23a: a principal
    # named `organiser_id` of another organiser and its own unit's code, and read that organiser's results there)
    own_organiser = node.organiser_id is None or in_organiser
    if reach is Reach.SCHOOL_UNITS:
        return own_organiser and node.school_unit_code is not None and node.school_unit_code in principal.school_units
    if reach is Reach.GROUPS:
        return (own_organiser and node.school_unit_code is not None and node.group_id is not None
                and GroupRef(node.school_unit_code, node.group_id) in principal.groups)
    return False


def may_read(principal: Principal, node: Node) -> bool:
    """May this principal read figures at `node` (a student-level row, a group, a unit, ...)?"""
    return any(node.level in GRANTS[r].levels and _reaches(principal, GRANTS[r].reads, node)
               for r in principal.roles)


def reading(principal: Principal, topic: Topic) -> Principal:
    """The principal with only its roles that read `topic`: a token of several roles reads a topic through those alone
    (an ICT coordinator that is also a politician reads support figures at the politician's levels, not its unit)."""
    return replace(principal, roles=frozenset(r for r in principal.roles if topic not in GRANTS[r].refused))


def readable_levels(principal: Principal) -> frozenset[Level]:
    return frozenset().union(*(GRANTS[r].levels for r in principal.roles)) if principal.roles else frozenset()


def may_read_own_write(principal: Principal, organiser_id: str, written_by: str | None) -> bool:
    """A platform client reads back only what it wrote (by client id, within its organisers)."""
    who = principal.client_id or principal.subject
    return (principal.has(Role.PLATFORM) and organiser_id in principal.organisers
            and written_by is not None and written_by == who)


def require_write(principal: Principal, kind: Write, organiser_id: str | None, *,
                  school_unit_code: str | None = None, field: str = "organiser_id") -> None:
    if not may_write(principal, kind, organiser_id, school_unit_code):
        raise AccessDenied(field, "write_scope",
                           f"this token may not write {kind.value} for organiser {organiser_id!s:.64}"
                           + (f", school unit {school_unit_code!s:.16}" if school_unit_code else ""))


def require_write_each(principal: Principal, kind: Write, organiser_ids: Sequence[str | None], *, batch: bool,
                       field: str = "organiser_id") -> None:
    """Every item of a request checked before anything else: a 403 naming each item (`items.<i>.organiser_id`)
    whose organiser this token may not write `kind` for — so a batch is stored whole or not at all."""
    denied = [AccessDenied(f"items.{index}.{field}" if batch else field, "write_scope",
                           f"this token may not write {kind.value} for organiser {organiser_id!s:.64}")
              for index, organiser_id in enumerate(organiser_ids) if not may_write(principal, kind, organiser_id)]
    if denied:
        raise RuleViolations(denied)


def require_read(principal: Principal, node: Node, *, field: str = "scope") -> None:
    if not may_read(principal, node):
        raise AccessDenied(field, "read_scope", f"this token may not read at {node.level.name.lower()} level here")


#: the rule of a 403 refusing the reader's roles (`require_role`), whatever the level or place asked for — a
#: client tells it from `read_scope`'s (the dashboard: "not for your role", not "not this level")
ROLE_RULE = "role"


def require_role(principal: Principal, *roles: Role, field: str = "roles") -> None:
    if not principal.has(*roles):
        raise AccessDenied(field, ROLE_RULE, "this token needs one of the roles: " + ", ".join(sorted(roles)))

"""Ownership rules: who may create, change, publish and read which self-assessment."""

from __future__ import annotations

import pytest

from styrkedja_kit.auth import GroupRef, Principal, Role
from styrkedja_kit.rules import RuleViolation
from styrkedja_lika.access.rules import Owner, may_keep_private, may_read, may_write, require_read, require_write
from styrkedja_lika.domain import AssessmentStatus

ORG, OTHER_ORG = "2999", "1480"
UNIT, SIBLING = "29990011", "29990022"
DRAFT, PRIVATE, PUBLISHED = AssessmentStatus.DRAFT, AssessmentStatus.PRIVATE, AssessmentStatus.PUBLISHED


def actor(role: Role, organiser: str = ORG, units: tuple[str, ...] = (UNIT,)) -> Principal:
    return Principal(f"test-{role}", frozenset({role}), organisers=frozenset({organiser}),
                     school_units=frozenset(units))


# own unit / other unit of the same organiser / other organiser, for every role that could write
@pytest.mark.parametrize(("who", "owner", "allowed"), [
    (actor(Role.PRINCIPAL), Owner(ORG, UNIT), True),
    (actor(Role.PRINCIPAL), Owner(ORG, SIBLING), False),
    (actor(Role.PRINCIPAL), Owner(OTHER_ORG, UNIT), False),
    (actor(Role.ICT_COORDINATOR), Owner(ORG, UNIT), True),
    (actor(Role.ICT_COORDINATOR), Owner(ORG, SIBLING), False),
    (actor(Role.ICT_COORDINATOR), Owner(OTHER_ORG, UNIT), False),
    (actor(Role.ORGANISER_ADMIN, units=()), Owner(ORG, UNIT), True),
    (actor(Role.ORGANISER_ADMIN, units=()), Owner(ORG, SIBLING), True),
    (actor(Role.ORGANISER_ADMIN, units=()), Owner(OTHER_ORG, UNIT), False),
    (actor(Role.TEACHER), Owner(ORG, UNIT), False),
    (actor(Role.AREA_MANAGER, units=(UNIT, SIBLING)), Owner(ORG, UNIT), False),
    (actor(Role.POLITICIAN, units=()), Owner(ORG, UNIT), False),
    (actor(Role.PLATFORM, units=()), Owner(ORG, UNIT), False),
    (actor(Role.OPS, units=()), Owner(ORG, UNIT), False),
    (actor(Role.PUBLIC, units=()), Owner(ORG, UNIT), False),
])
def test_write_matrix(who, owner, allowed):
    assert may_write(who, owner) is allowed
    if allowed:
        require_write(who, owner)
    else:
        with pytest.raises(RuleViolation) as raised:
            require_write(who, owner)
        assert (raised.value.status, raised.value.field, raised.value.rule) == (403, "school_unit_code", "not_owner")


def test_a_private_self_assessment_is_its_units_alone():
    private = Owner(ORG, UNIT, PRIVATE)
    assert may_write(actor(Role.PRINCIPAL), private) and may_read(actor(Role.TEACHER), private)
    assert not may_write(actor(Role.ORGANISER_ADMIN, units=()), private)
    assert not may_read(actor(Role.ORGANISER_ADMIN, units=()), private)
    assert not may_read(actor(Role.AREA_MANAGER, units=(UNIT,)), private)


def test_only_the_unit_itself_keeps_a_self_assessment_private():
    """Round 26: the organiser admin writes a unit's drafts, but making one private hid it from the organiser by
    another than the unit (and from the admin at once)."""
    draft = Owner(ORG, UNIT, DRAFT)
    assert may_keep_private(actor(Role.PRINCIPAL), draft) and may_keep_private(actor(Role.ICT_COORDINATOR), draft)
    assert may_write(actor(Role.ORGANISER_ADMIN, units=()), draft)
    assert not may_keep_private(actor(Role.ORGANISER_ADMIN, units=()), draft)
    assert not may_keep_private(actor(Role.ORGANISER_ADMIN, units=(UNIT,)), draft)
    assert not may_keep_private(actor(Role.PRINCIPAL, units=(SIBLING,)), draft)
    assert not may_keep_private(actor(Role.TEACHER), draft)


@pytest.mark.parametrize(("who", "status", "allowed"), [
    (actor(Role.TEACHER), PUBLISHED, True),
    (actor(Role.TEACHER, units=(SIBLING,)), PUBLISHED, False),
    (actor(Role.AREA_MANAGER, units=(UNIT,)), PUBLISHED, True),
    (actor(Role.AREA_MANAGER, units=(UNIT,)), DRAFT, False),
    (actor(Role.AREA_MANAGER, units=(SIBLING,)), PUBLISHED, False),
    (actor(Role.ORGANISER_ADMIN, units=()), DRAFT, True),
    (actor(Role.ORGANISER_ADMIN, OTHER_ORG, units=()), PUBLISHED, False),
    (actor(Role.PRINCIPAL, OTHER_ORG), PUBLISHED, False),
    (actor(Role.POLITICIAN, units=()), PUBLISHED, False),
])
def test_read_scope(who, status, allowed):
    assert may_read(who, Owner(ORG, UNIT, status)) is allowed


def test_out_of_scope_reads_are_403():
    with pytest.raises(RuleViolation) as raised:
        require_read(actor(Role.PRINCIPAL, OTHER_ORG), Owner(ORG, UNIT))
    assert raised.value.status == 403 and raised.value.rule == "out_of_scope"
    require_read(actor(Role.PRINCIPAL), Owner(ORG, UNIT, PRIVATE))


def test_a_teachers_units_come_from_its_groups_too():
    teacher = Principal("t", frozenset({Role.TEACHER}), organisers=frozenset({ORG}),
                        groups=frozenset({GroupRef(UNIT, "7A")}))
    assert may_read(teacher, Owner(ORG, UNIT, PRIVATE)) and not may_read(teacher, Owner(ORG, SIBLING, PUBLISHED))
    assert not may_write(teacher, Owner(ORG, UNIT))


def test_units_in_a_token_do_not_reach_into_another_organiser():
    """A principal of two organisers' units writes only where the organiser is its too."""
    both = Principal("p", frozenset({Role.PRINCIPAL}), organisers=frozenset({ORG}), school_units=frozenset({UNIT}))
    assert not may_write(both, Owner(OTHER_ORG, UNIT)) and not may_read(both, Owner(OTHER_ORG, UNIT, PUBLISHED))


def test_several_roles_add_up():
    admin_and_rektor = Principal("x", frozenset({Role.ORGANISER_ADMIN, Role.PRINCIPAL}), organisers=frozenset({ORG}),
                                 school_units=frozenset({UNIT}))
    assert may_write(admin_and_rektor, Owner(ORG, UNIT, PRIVATE))  # as the unit's principal
    assert not may_write(admin_and_rektor, Owner(ORG, SIBLING, PRIVATE))  # the admin is not that unit
    assert may_write(admin_and_rektor, Owner(ORG, SIBLING))

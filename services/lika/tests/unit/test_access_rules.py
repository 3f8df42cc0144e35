"""Ownership rules: who may create, change, publish and read which self-assessment."""

from __future__ import annotations

import pytest

from styrkedja_kit.rules import RuleViolation
from styrkedja_lika.access.rules import Actor, Owner, Role, may_read, may_write, require_read, require_write
from styrkedja_lika.domain import AssessmentStatus

ORG, OTHER_ORG = "2999", "1480"
UNIT, SIBLING = "29990011", "29990022"
DRAFT, PRIVATE, PUBLISHED = AssessmentStatus.DRAFT, AssessmentStatus.PRIVATE, AssessmentStatus.PUBLISHED


def actor(role: Role, organiser: str = ORG, units: tuple[str, ...] = (UNIT,)) -> Actor:
    return Actor(role, organiser, frozenset(units))


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


def test_no_identity_layer_yet_means_no_check():
    require_write(None, Owner(ORG, UNIT))
    require_read(None, Owner(ORG, UNIT, PRIVATE))
    with pytest.raises(RuleViolation) as raised:
        require_read(actor(Role.PRINCIPAL, OTHER_ORG), Owner(ORG, UNIT))
    assert raised.value.status == 403 and raised.value.rule == "out_of_scope"

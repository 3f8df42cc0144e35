"""Roles and scopes (auth/policy.py, auth/principal.py): pure, no tokens needed."""

from __future__ import annotations

import pytest

from styrkedja_kit.auth import (
    GRANTS,
    AccessDenied,
    GroupRef,
    InvalidClaims,
    Level,
    Node,
    Principal,
    Role,
    Topic,
    Write,
    may_read,
    may_read_own_write,
    may_write,
    principal_from_claims,
    readable_levels,
    reading,
    require_write,
    require_write_each,
)
from styrkedja_kit.rules import RuleViolations

ORG, OTHER = "2180", "0180"
UNIT, OTHER_UNIT = "12345678", "87654321"


def principal(*roles: Role, **scope) -> Principal:
    return Principal("someone", frozenset(roles), **{k: frozenset(v) for k, v in scope.items()})


def test_every_role_has_a_grant():
    assert set(GRANTS) == set(Role)


def test_a_platform_writes_only_for_its_own_organisers_and_reads_only_what_it_wrote():
    vklass = Principal("svc", frozenset({Role.PLATFORM}), organisers=frozenset({ORG}), client_id="vklass")
    assert may_write(vklass, Write.ASSESSMENTS, ORG) and may_write(vklass, Write.ORGANISATION, ORG)
    assert not may_write(vklass, Write.ASSESSMENTS, OTHER)
    assert not may_write(vklass, Write.LIKA, ORG) and not may_write(vklass, Write.OPS_ADMIN, ORG)
    assert readable_levels(vklass) == frozenset()
    assert may_read_own_write(vklass, ORG, "vklass")
    assert not may_read_own_write(vklass, ORG, "unikum") and not may_read_own_write(vklass, OTHER, "vklass")
    with pytest.raises(AccessDenied) as denied:
        require_write(vklass, Write.FORECASTS, OTHER)
    assert (denied.value.status, denied.value.field, denied.value.rule) == (403, "organiser_id", "write_scope")


def test_principal_writes_lika_for_own_units_and_admin_for_any_unit_of_the_organiser():
    rektor = principal(Role.PRINCIPAL, organisers={ORG}, school_units={UNIT})
    admin = principal(Role.ORGANISER_ADMIN, organisers={ORG})
    assert may_write(rektor, Write.LIKA, ORG, UNIT)
    assert not may_write(rektor, Write.LIKA, ORG, OTHER_UNIT) and not may_write(rektor, Write.LIKA, OTHER, UNIT)
    assert may_write(admin, Write.LIKA, ORG, OTHER_UNIT) and may_write(admin, Write.ORGANISER_SETTINGS, ORG)
    assert not may_write(admin, Write.LIKA, OTHER, UNIT) and not may_write(admin, Write.ASSESSMENTS, ORG)


@pytest.mark.parametrize("who, node, allowed", [
    (principal(Role.TEACHER, organisers={ORG}, groups={GroupRef(UNIT, "7A")}),
     Node(Level.STUDENT, ORG, "north", UNIT, "7A"), True),
    (principal(Role.TEACHER, organisers={ORG}, groups={GroupRef(UNIT, "7A")}),
     Node(Level.STUDENT, ORG, "north", UNIT, "7B"), False),
    (principal(Role.TEACHER, organisers={ORG}, groups={GroupRef(UNIT, "7A")}),
     Node(Level.SCHOOL_UNIT, ORG, "north", UNIT), False),
    (principal(Role.PRINCIPAL, organisers={ORG}, school_units={UNIT}), Node(Level.STUDENT, ORG, "n", UNIT, "7B"), True),
    (principal(Role.PRINCIPAL, organisers={ORG}, school_units={UNIT}), Node(Level.SCHOOL_UNIT, ORG, "n", OTHER_UNIT),
     False),
    (principal(Role.PRINCIPAL, organisers={ORG}, school_units={UNIT}), Node(Level.AREA, ORG, "n"), False),
    # round 23a: its unit's code under another organiser is not its unit (the code is the same under every organiser)
    (principal(Role.PRINCIPAL, organisers={ORG}, school_units={UNIT}), Node(Level.SCHOOL_UNIT, OTHER, None, UNIT),
     False),
    (principal(Role.ICT_COORDINATOR, organisers={ORG}, school_units={UNIT}),
     Node(Level.SCHOOL_UNIT, OTHER, None, UNIT), False),
    (principal(Role.PRINCIPAL, organisers={ORG}, school_units={UNIT}), Node(Level.STUDENT, OTHER, None, UNIT, "7A"),
     False),
    (principal(Role.TEACHER, organisers={ORG}, groups={GroupRef(UNIT, "7A")}),
     Node(Level.GROUP, OTHER, None, UNIT, "7A"), False),
    (principal(Role.PRINCIPAL, organisers={ORG}, school_units={UNIT}), Node(Level.SCHOOL_UNIT, None, None, UNIT),
     True),  # no organiser named and none placed: judged by the unit alone, as before
    (principal(Role.AREA_MANAGER, organisers={ORG}, areas={"north"}), Node(Level.GROUP, ORG, "north", UNIT, "7A"),
     True),
    (principal(Role.AREA_MANAGER, organisers={ORG}, areas={"north"}), Node(Level.STUDENT, ORG, "north", UNIT, "7A"),
     False),
    (principal(Role.AREA_MANAGER, organisers={ORG}, areas={"north"}), Node(Level.AREA, OTHER, "north"), False),
    (principal(Role.AREA_MANAGER, organisers={ORG}, areas={"north"}), Node(Level.ORGANISER, ORG), False),
    (principal(Role.ORGANISER_ADMIN, organisers={ORG}), Node(Level.STUDENT, ORG, "x", UNIT, "7A"), True),
    (principal(Role.ORGANISER_ADMIN, organisers={ORG}), Node(Level.ORGANISER, OTHER), False),
    (principal(Role.POLITICIAN, organisers={ORG}), Node(Level.AREA, ORG, "north"), True),
    (principal(Role.POLITICIAN, organisers={ORG}), Node(Level.SCHOOL_UNIT, ORG, "north", UNIT), False),
    (principal(Role.POLITICIAN, organisers={ORG}), Node(Level.ORGANISER, OTHER), False),
    (principal(Role.PUBLIC), Node(Level.ORGANISER, OTHER), True),
    (principal(Role.PUBLIC), Node(Level.NATION), True),
    (principal(Role.PUBLIC), Node(Level.AREA, OTHER, "north"), False),
    (principal(Role.OPS), Node(Level.ORGANISER, ORG), False),
    (principal(), Node(Level.NATION), False),
])
def test_reads(who, node, allowed):
    assert may_read(who, node) is allowed


def test_claims_become_a_principal_and_bad_scope_claims_are_refused():
    p = principal_from_claims({"sub": "u1", "roles": ["principal", "not-a-role"], "organisers": "2180",
                               "school_units": [UNIT], "groups": [f"{UNIT}/7A"], "azp": "web"})
    assert p.roles == {Role.PRINCIPAL} and p.organisers == {"2180"} and p.client_id == "web"
    assert p.groups == {GroupRef(UNIT, "7A")}
    assert p.with_directory(school_units=[OTHER_UNIT]).school_units == {UNIT, OTHER_UNIT}
    for bad in ({"roles": ["teacher"]}, {"sub": "u", "school_units": ["19800101-1234"]},
                {"sub": "u", "groups": ["7A"]}, {"sub": "u", "organisers": [{"id": 1}]},
                {"sub": "u", "areas": ["a b"]}):
        with pytest.raises(InvalidClaims):
            principal_from_claims(bad)


def test_every_item_of_a_batch_is_checked_and_each_foreign_one_named():
    vklass = principal(Role.PLATFORM, organisers={ORG})
    require_write_each(vklass, Write.ASSESSMENTS, [ORG, ORG], batch=True)
    with pytest.raises(RuleViolations) as denied:
        require_write_each(vklass, Write.ASSESSMENTS, [ORG, OTHER, ORG, None], batch=True)
    assert denied.value.status == 403
    assert [(v.field, v.rule) for v in denied.value.violations] == [("items.1.organiser_id", "write_scope"),
                                                                    ("items.3.organiser_id", "write_scope")]
    with pytest.raises(RuleViolations) as single:
        require_write_each(vklass, Write.ASSESSMENTS, [OTHER], batch=False)
    assert [(v.field, v.status) for v in single.value.violations] == [("organiser_id", 403)]


def test_an_ict_coordinator_writes_lika_of_its_own_units_and_reads_them_at_unit_level():
    it = principal(Role.ICT_COORDINATOR, organisers={ORG}, school_units={UNIT})
    assert may_write(it, Write.LIKA, ORG, UNIT)
    assert not may_write(it, Write.LIKA, ORG, OTHER_UNIT) and not may_write(it, Write.LIKA, OTHER, UNIT)
    assert not may_write(it, Write.ASSESSMENTS, ORG)
    assert may_read(it, Node(Level.SCHOOL_UNIT, ORG, "n", UNIT))
    assert not may_read(it, Node(Level.STUDENT, ORG, "n", UNIT, "7A"))  # no student data
    assert not may_read(it, Node(Level.SCHOOL_UNIT, ORG, "n", OTHER_UNIT))
    assert principal_from_claims({"sub": "x", "roles": ["ict_coordinator"]}).roles == {Role.ICT_COORDINATOR}


@pytest.mark.parametrize("claims", [{"organisers": ["2180\n"]}, {"areas": ["norr\n"]}, {"school_units": [UNIT + "\n"]},
                                    {"groups": [f"{UNIT}/7A\n"]}, {"groups": [f"{UNIT}\n/7A"]},
                                    {"school_units": ["１２３４５６７８"]}])
def test_a_scope_claim_ending_in_a_newline_or_of_other_digits_is_refused(claims):
    # `re.match` with `$` took "2180\n": a principal of an organiser no request or directory names
    with pytest.raises(InvalidClaims):
        principal_from_claims({"sub": "u", "roles": ["organiser_admin"], **claims})


@pytest.mark.parametrize("claims", [{"azp": ["platform-a"]}, {"azp": {"id": "a"}}, {"client_id": 5},
                                    {"azp": "", "client_id": ["platform-a"]}])
def test_a_client_claim_that_is_not_a_string_is_refused(claims):
    # read as no client before: the token then stood for its `sub` in `written_by` and own-write reads
    with pytest.raises(InvalidClaims):
        principal_from_claims({"sub": "platform-a", "roles": ["platform"], "organisers": [ORG], **claims})


@pytest.mark.parametrize("claimed", ["2120001234", "212000-1234", "162120001234", "16212000-1234"])
@pytest.mark.parametrize("written", ["2120001234", "212000-1234", "162120001234"])
def test_a_token_for_one_spelling_of_an_organisation_number_works_for_every_spelling(claimed, written):
    """Failed on the old code: the claim was kept as the issuer wrote it, the request's id as the platform
    wrote it, so a token for `2120001234` was refused on `212000-1234` — one organiser, two scopes."""
    from pydantic import TypeAdapter

    from styrkedja_contracts.identifiers import OrganiserId

    platform = principal_from_claims({"sub": "svc", "roles": ["platform", "organiser_admin"], "organisers": [claimed]})
    assert platform.organisers == {"212000-1234"}
    organiser_id = TypeAdapter(OrganiserId).validate_python(written)  # what a request body or query holds
    assert may_write(platform, Write.ASSESSMENTS, organiser_id)
    assert may_read(platform, Node(Level.ORGANISER, organiser_id))
    assert not may_write(platform, Write.ASSESSMENTS, "212000-1235")
    assert principal_from_claims({"sub": "svc", "roles": ["platform"], "organisers": "2180"}).organisers == {"2180"}


@pytest.mark.parametrize("organiser", ["16811218-9876", "168112189876", "811218-9876"])
def test_an_organiser_claim_that_is_a_personal_identity_number_in_its_kept_spelling_is_refused(organiser):
    """A sole trader's organisation number is its owner's personnummer; with the prefix 16 it hid from the check
    as typed. Refused like a personnummer in `sub`, without repeating it."""
    with pytest.raises(InvalidClaims) as refused:
        principal_from_claims({"sub": "u", "roles": ["organiser_admin"], "organisers": [organiser]})
    assert "no_personal_identity_number" in str(refused.value) and "9876" not in str(refused.value)


@pytest.mark.parametrize(("claim", "value"), [("areas", ["19121212-1212"]), ("groups", ["12345678/19121212-1212"]),
                                              ("groups", ["12345678/elev_121212_1212"]), ("areas", "121212.1212")])
def test_an_area_or_group_claim_holding_a_personal_identity_number_is_refused(claim, value):
    """Round 17, failed on the old code: taken (`sub`, `azp` and `organisers` were refused already), so `styrkedja
    token --group 12345678/19121212-1212` minted a token the services read."""
    with pytest.raises(InvalidClaims) as refused:
        principal_from_claims({"sub": "u", "roles": ["teacher"], "organisers": ["2999"], claim: value})
    assert "no_personal_identity_number" in str(refused.value) and "1212" not in str(refused.value)


def test_an_ict_coordinator_reads_no_support_figures_and_other_roles_of_its_token_read_them_alone():
    """Privacy round 30: the permission table refuses the ICT coordinator the support figures (least privilege)."""
    assert [r for r, g in GRANTS.items() if Topic.SUPPORT in g.refused] == [Role.ICT_COORDINATOR]
    unit = Node(Level.SCHOOL_UNIT, organiser_id=ORG, school_unit_code=UNIT)
    ict = Principal("ict", frozenset({Role.ICT_COORDINATOR}), organisers=frozenset({ORG}),
                    school_units=frozenset({UNIT}))
    assert may_read(ict, unit) and not may_read(reading(ict, Topic.SUPPORT), unit)
    both = Principal("both", frozenset({Role.ICT_COORDINATOR, Role.PRINCIPAL}), organisers=frozenset({ORG}),
                     school_units=frozenset({UNIT}))
    assert reading(both, Topic.SUPPORT).roles == {Role.PRINCIPAL} and may_read(reading(both, Topic.SUPPORT), unit)

"""Complementary suppression of the support tables (`support.disclose`), property-tested: for random
trees of units with random counts per support figure, nothing a politician or public reader sees
(the visible siblings and the parents' totals of N or more) lets a withheld count be worked out;
every count of 1 to N-1 is withheld; a share is withheld with any of its inputs; the organiser admin
sees every count exactly."""

from __future__ import annotations

from collections import defaultdict

from hypothesis import given, settings
from hypothesis import strategies as st

from styrkedja_kit.auth import Level, Principal, Role
from styrkedja_reporting.access.disclosure import DisclosureRules, suppressed_levels
from styrkedja_reporting.exports.table import Withheld
from styrkedja_reporting.support.disclose import Shown, decide, per_unit_rows

RULES = DisclosureRules(min_students=5)
FAMILIES = {"active": [("special_support",), ("investigation",), (None,)], "assessed": [()],
            "below": [("GRGRMAT01",), (None,)]}


@st.composite
def trees(draw):
    """Areas under organisers: per family, (unit, key…) → count, and each unit's parent."""
    parents: dict[str, str] = {}
    for p in range(draw(st.integers(1, 3))):
        for u in range(draw(st.integers(1, 5))):
            parents[f"a{p}-{u}"] = f"org{p}"
    counts = {family: {(unit, *key): draw(st.integers(0, 14)) for unit in parents for key in keys}
              for family, keys in FAMILIES.items()}
    return parents, counts


def _reader(role: Role) -> frozenset[Level]:
    return suppressed_levels(Principal("r", roles=frozenset({role})))


def _leaked(rows, shown_of) -> list:
    """Withheld counts a reader can compute: the rows of one parent are one equation (parent =
    sum of children; no equation joins two parents or slices), shown when the parent rests on N or
    more students, so a withheld child is determined iff it is the only withheld one there."""
    by_parent = defaultdict(list)
    for row in rows:
        by_parent[(row.slice, row.parent)].append(row)
    leaked = []
    for kids in by_parent.values():
        if sum(k.counts["*"] for k in kids) < RULES.min_students:
            continue  # the parent's own view withholds it
        hidden = [k for k in kids if shown_of(k.unit).withheld(k.slice)]
        if len(hidden) == 1 and len(kids) > 1:
            leaked.append(hidden[0])
    return leaked


@settings(max_examples=150, deadline=None)
@given(trees(), st.sampled_from([Role.POLITICIAN, Role.PUBLIC, Role.AREA_MANAGER, Role.PRINCIPAL]))
def test_no_withheld_support_count_follows_from_the_visible_siblings_and_totals(tree, role):
    parents, counts = tree
    suppressed = _reader(role)
    all_rows, decisions = [], []
    for family, family_counts in counts.items():
        rows = per_unit_rows(Level.AREA, family_counts, parents, family)
        all_rows += rows
        decision = decide(rows, suppressed=suppressed, rules=RULES)
        decisions += [decision] if decision is not None else []

    def shown_of(unit: str) -> Shown:
        return Shown(unit, tuple(decisions))

    for row in all_rows:
        if row.counts["*"] < RULES.min_students:  # every small count is withheld, at every level above the unit
            assert shown_of(row.unit).withheld(row.slice), row
    # an only child equals its parent: that is the parent's own view's to withhold
    assert _leaked(all_rows, shown_of) == []
    # a share is withheld with either of its inputs
    for unit in parents:
        shown = shown_of(unit)
        share = shown.value(0.5, ("active", "special_support"), ("assessed",))
        assert isinstance(share, Withheld) == (shown.withheld(("active", "special_support"))
                                              or shown.withheld(("assessed",)))


@settings(max_examples=50, deadline=None)
@given(trees())
def test_the_organiser_admin_sees_every_support_count(tree):
    parents, counts = tree
    for family, family_counts in counts.items():
        rows = per_unit_rows(Level.AREA, family_counts, parents, family)
        assert decide(rows, suppressed=_reader(Role.ORGANISER_ADMIN), rules=RULES) is None


def test_a_principal_sees_its_school_units_exactly_but_the_area_withheld():
    parents = {"a": "org", "b": "org", "c": "org"}
    counts = {("a", "special_support"): 2, ("b", "special_support"): 12, ("c", "special_support"): 15}
    principal = _reader(Role.PRINCIPAL)
    assert decide(per_unit_rows(Level.SCHOOL_UNIT, counts, parents, "active"), suppressed=principal,
                  rules=RULES) is None
    decision = decide(per_unit_rows(Level.AREA, counts, parents, "active"), suppressed=principal, rules=RULES)
    assert decision is not None
    withheld = [Shown(u, (decision,)).withheld(("active", "special_support")) for u in "abc"]
    assert withheld == [True, True, False]  # the smaller sibling goes with the small one

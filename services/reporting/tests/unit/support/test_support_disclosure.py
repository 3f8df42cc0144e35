"""Disclosure of the support figures (`support.disclose`): the reads' counts of every level become one
decision per family (`family_rows` → `access.decision.decide_counts`; the no-leak property across
levels is `test_access_complement`'s, for the support table too). Here: every count of 1 to N-1 is
withheld at a suppressed level, the lookup a response makes (`Shown`) says what the decision says, a
share is withheld with either of its inputs, the organiser admin and a principal at its school units
see every count exactly, and a small area takes a sibling — not the organiser's total — with it."""

from __future__ import annotations

from datetime import date

from hypothesis import given, settings
from hypothesis import strategies as st

from styrkedja_kit.auth import Level, Principal, Role
from styrkedja_reporting.access.decision import decide_counts
from styrkedja_reporting.access.disclosure import DisclosureRules, suppressed_levels
from styrkedja_reporting.exports.table import Withheld
from styrkedja_reporting.support.disclose import Shown, family_rows, shown

RULES = DisclosureRules(min_students=5)
KEYS = [("special_support",), ("investigation",), (None,)]


@st.composite
def trees(draw):
    """Areas under organisers (one school unit each), per level: (organiser, unit, kind) → students."""
    placed: dict[str, tuple[str, str | None]] = {}
    for p in range(draw(st.integers(1, 3))):
        for u in range(draw(st.integers(1, 4))):
            placed[f"{p}{u}"] = (f"org{p}", f"a{u}")
    per_level: dict[str, dict[tuple, int]] = {"school_unit": {}, "area": {}, "organiser": {}, "nation": {}}
    for code, (organiser, area) in placed.items():
        for key in KEYS:
            n = draw(st.integers(0, 14))
            for level, o, unit in (("school_unit", organiser, code), ("area", organiser, area),
                                   ("organiser", organiser, organiser), ("nation", None, "SE")):
                per_level[level][(o, unit, *key)] = per_level[level].get((o, unit, *key), 0) + n
    return placed, per_level


def _reader(role: Role) -> frozenset[Level]:
    return suppressed_levels(Principal("r", roles=frozenset({role})))


@settings(max_examples=100, deadline=None)
@given(trees(), st.sampled_from([Role.POLITICIAN, Role.PUBLIC, Role.AREA_MANAGER, Role.PRINCIPAL]))
def test_every_small_support_count_is_withheld_and_shown_as_decided(tree, role):
    placed, per_level = tree
    suppressed = _reader(role)
    decision = decide_counts(family_rows("active", per_level), placed, suppressed, RULES)
    for level, counts in per_level.items():
        for (_, unit, kind), n in counts.items():
            view = Shown(unit, level, (decision,))
            if Level[level.upper()] in suppressed and 0 < n < RULES.min_students:
                assert view.withheld(("active", kind)), (level, unit, kind, n)
            if Level[level.upper()] not in suppressed:
                assert not view.withheld(("active", kind))
            share = view.value(0.5, ("active", kind), ("active", None))
            assert isinstance(share, Withheld) == (view.withheld(("active", kind)) or view.withheld(("active", None)))


@settings(max_examples=30, deadline=None)
@given(trees())
def test_the_organiser_admin_sees_every_support_count(tree):
    placed, per_level = tree
    decision = decide_counts(family_rows("active", per_level), placed, _reader(Role.ORGANISER_ADMIN), RULES)
    assert decision.disclosure.withheld == frozenset()


async def test_a_level_the_reader_sees_exactly_takes_no_decision():
    view = await shown(None, "school_unit", "11111111", ("active",), subject=None, weeks=0,  # type: ignore[arg-type]
                       today=date(2026, 10, 1), suppressed=_reader(Role.PRINCIPAL), rules=RULES)
    assert view.decisions == () and not view.withheld(("active", "special_support"))


def test_a_small_area_takes_the_smaller_sibling_not_the_organisers_total():
    placed = {"11111111": ("org", "north"), "22222222": ("org", "south"), "33333333": ("org", "east")}
    sizes = {"north": 2, "south": 12, "east": 15}
    per_level = {"school_unit": {("org", code, "special_support"): sizes[area] for code, (_, area) in placed.items()},
                 "area": {("org", area, "special_support"): n for area, n in sizes.items()},
                 "organiser": {("org", "org", "special_support"): 29},
                 "nation": {(None, "SE", "special_support"): 29}}
    decision = decide_counts(family_rows("active", per_level), placed, _reader(Role.POLITICIAN), RULES)
    withheld = {a: Shown(a, "area", (decision,)).withheld(("active", "special_support")) for a in sizes}
    assert withheld == {"north": True, "south": True, "east": False}
    assert not Shown("org", "organiser", (decision,)).withheld(("active", "special_support"))
    # an area manager's class sees the school units exactly, and each area here is one school unit: the
    # small area is withheld all the same, and named unprotectable (its unit's figure gives it away)
    decision = decide_counts(family_rows("active", per_level), placed, _reader(Role.AREA_MANAGER), RULES)
    assert Shown("north", "area", (decision,)).withheld(("active", "special_support"))
    assert not Shown("org", "organiser", (decision,)).withheld(("active", "special_support"))
    assert decision.disclosure.unprotectable

"""Complementary suppression of the count tables across levels (`access.decision.decide_counts`: the
support figures, the roster sizes, and the figure tables' shape with gender parts), property-tested.

For random trees (organisers → areas → school units, some placed in no area; a nation above them
where the table has one), with random counts per unit (per gender where the table splits by gender),
the decision is taken once over every level, as the reads take it. Then everything a reader of the
class could see — every cell at every level not withheld, each gender part included — is checked
against the equations an attacker knows, written here independently of the service from the data:
a unit's total = Σ its gender parts, a parent = Σ its children per gender (where the data adds up).
No small cell (1..N-1 students) may be determined (exact Gauss–Jordan over the rationals). For
politician and public (every level suppressed) nothing is left unprotectable; for a role that sees
school units exactly, only what those exact cells alone give away (nothing withholdable could hide
it). An organiser admin sees every value."""

from __future__ import annotations

from collections import defaultdict
from fractions import Fraction

from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from styrkedja_kit.auth import Level, Principal, Role
from styrkedja_reporting.access.complement import tree_key, unit_of
from styrkedja_reporting.access.decision import ComponentRows, decide_counts
from styrkedja_reporting.access.disclosure import DisclosureRules, suppressed_levels
from styrkedja_reporting.support.disclose import family_rows

RULES = DisclosureRules(min_students=5)
GENDERS = ("female", "male", "unknown")
#: table → (slices, split by gender, has a nation total)
TABLES = {
    "figures": ((("pass", "MA", 7, ("2026/27", "HT")), ("pass", "SV", 7, ("2026/27", "HT"))), True, True),
    "support": ((("active", "special_support"), ("active", None), ("below", "GRGRMAT01"), ("assessed",)), False,
                True),
    "roster": ((("roster", "2026-10-01"),), False, False),
}
ALL_SUPPRESSED = (Role.POLITICIAN, Role.PUBLIC)
ABOVE_UNIT = (Role.AREA_MANAGER, Role.PRINCIPAL)


@st.composite
def trees(draw):
    """(table, placements, leaves): school unit → (organiser, area or None); per slice and school
    unit its counts (per gender, or `*` alone)."""
    table = draw(st.sampled_from(sorted(TABLES)))
    slices, gendered, _ = TABLES[table]
    placed: dict[str, tuple[str, str | None]] = {}
    for o in range(draw(st.integers(1, 3))):
        areas = [f"a{i}" for i in range(draw(st.integers(0, 2)))] + [None] * draw(st.integers(0, 1))
        for a, area in enumerate(areas or [None]):
            for u in range(draw(st.integers(1, 3))):
                placed[f"{o}{a}{u}"] = (f"org{o}", area)
    leaves: dict[tuple, dict[str, int]] = {}
    for slice_ in slices[:draw(st.integers(1, len(slices)))]:
        for code in placed:
            genders = GENDERS if gendered else ("*",)
            counts = {g: draw(st.integers(0, 12 if gendered else 14)) for g in genders}
            if any(counts.values()):
                leaves[(slice_, code)] = counts
    return table, placed, leaves


def _rows(table: str, placed, leaves) -> ComponentRows:
    """Every level's counts, as the reads give them (a parent = Σ its children); the support table's
    through `support.disclose.family_rows`, as its reads' counts become rows."""
    rows = ComponentRows()
    nation = TABLES[table][2]
    for (slice_, code), counts in leaves.items():
        organiser, area = placed[code]
        units = [("school_unit", organiser, code), ("organiser", organiser, organiser)]
        units += [("area", organiser, area)] if area else []
        units += [("nation", None, "SE")] if nation else []
        for level, o, unit in units:
            for gender, n in counts.items():
                if n:
                    rows.add(slice_, level, o, unit, gender, n)
    if table != "support":
        return rows
    per_family: dict[str, dict[str, dict[tuple, int]]] = defaultdict(lambda: defaultdict(dict))
    for (slice_, level, organiser, unit), part in rows.counts.items():
        per_family[slice_[0]][level][(organiser, unit, *slice_[1:])] = part["*"]
    out = ComponentRows()
    for family, per_level in per_family.items():
        out.counts |= family_rows(family, per_level).counts
    assert out.counts == rows.counts
    return out


def _cells(rows: ComponentRows) -> dict:
    """key → students of every cell (`*` and per gender), keyed as the decision keys them."""
    out = {}
    for (slice_, level, organiser, unit), part in rows.counts.items():
        total = part.get("*", sum(part.get(g, 0) for g in GENDERS))
        for gender, n in {**part, "*": total}.items():
            if n:
                out[tree_key(slice_, unit_of(level, organiser, unit), gender)] = (Level[level.upper()], n)
    return out


def _equations(rows: ComponentRows, placed) -> list[list[tuple]]:
    """What an attacker knows: total = Σ gender parts; parent = Σ children per gender (as `+1, -1…`)."""
    cells = _cells(rows)
    equations = []
    children: dict[tuple, list] = defaultdict(list)
    for (slice_, level, organiser, unit) in rows.counts:
        me = unit_of(level, organiser, unit)
        parts = [g for g in GENDERS if (slice_, me, g) in cells]
        if parts:
            equations.append([((slice_, me, "*"), 1), *[((slice_, me, g), -1) for g in parts]])
        if level == "school_unit":
            area = placed[unit][1]
            parent = unit_of("area", organiser, area) if area else ("organiser", organiser)
        elif level == "area":
            parent = ("organiser", organiser)
        elif level == "organiser":
            parent = ("nation", "SE")
        else:
            parent = None
        if parent is not None:
            children[(slice_, parent)].append(me)
    for (slice_, parent), kids in children.items():
        for gender in ("*", *GENDERS):
            whole = (slice_, parent, gender)
            members = [(slice_, k, gender) for k in kids if (slice_, k, gender) in cells]
            if whole in cells and members and cells[whole][1] == sum(cells[m][1] for m in members):
                equations.append([(whole, 1), *[(m, -1) for m in members]])
    return equations


def _determined(equations: list[list[tuple]], unknown: set) -> set:
    """The unknowns whose value follows from the equations (Gauss–Jordan over the rationals)."""
    order = sorted(unknown, key=repr)
    index = {k: i for i, k in enumerate(order)}
    pivots: dict[int, dict[int, Fraction]] = {}
    for equation in equations:
        row: dict[int, Fraction] = {}
        for key, c in equation:
            if key in index:
                row[index[key]] = row.get(index[key], Fraction(0)) + c
        row = {c: v for c, v in row.items() if v}
        for col in sorted(c for c in list(row) if c in pivots):
            if row.get(col):
                f = row[col]
                for c, v in pivots[col].items():
                    row[c] = row.get(c, Fraction(0)) - f * v
                row = {c: v for c, v in row.items() if v}
        if not row:
            continue
        lead = min(row)
        row = {c: v / row[lead] for c, v in row.items()}
        for other in pivots.values():
            if other.get(lead):
                f = other[lead]
                for c, v in row.items():
                    other[c] = other.get(c, Fraction(0)) - f * v
                for c in [c for c, v in other.items() if not v]:
                    del other[c]
        pivots[lead] = row
    return {order[col] for col, row in pivots.items() if len(row) == 1}


def _reader(role: Role) -> frozenset[Level]:
    return suppressed_levels(Principal("r", roles=frozenset({role})))


def _check(table: str, placed, leaves, role: Role) -> None:
    suppressed = _reader(role)
    rows = _rows(table, placed, leaves)
    cells = _cells(rows)
    decision = decide_counts(rows, placed, suppressed, RULES)
    withheld = set(decision.disclosure.withheld)
    assert withheld <= set(cells)
    small = {k for k, (level, n) in cells.items() if level in suppressed and 0 < n < RULES.min_students}
    assert small <= withheld, sorted(small - withheld, key=repr)  # every small cell, gender parts too
    for key in withheld:  # the lookup every read makes says the same
        slice_, (level, unit), gender = key
        assert decision.withheld(slice_, level, str(unit[1]) if level == "area" else unit, gender)
    equations = _equations(rows, placed)
    leaked = _determined(equations, withheld) & small
    if role in ALL_SUPPRESSED:
        assert leaked == set(), sorted(leaked, key=repr)
        assert decision.disclosure.unprotectable == frozenset()
    else:
        # what the exact cells alone (a level the role does not suppress) give away: nothing withheld could hide it
        by_design = _determined(equations, {k for k, (level, _) in cells.items() if level in suppressed}) & small
        assert leaked <= by_design, sorted(leaked - by_design, key=repr)
        assert leaked <= decision.disclosure.unprotectable


#: Found by this test against the per-table decision of old: an area with 1 student of unknown gender and
#: a sibling of 5 boys — the organiser's total (6) and boys (5) gave the 1 away; now the organiser's
#: figures are withheld with it, in the organiser's own view too.
_ONE_UNKNOWN = ("figures", {"000": ("org0", "a0"), "010": ("org0", "a1")},
                {(TABLES["figures"][0][0], "000"): {"female": 0, "male": 0, "unknown": 1},
                 (TABLES["figures"][0][0], "010"): {"female": 0, "male": 5, "unknown": 0}})
#: A small school unit, the only one of its area, whose organiser has one other area: the area, and a
#: complement in the organiser's equation, must go — at whatever level the reader reads.
_ONLY_CHILD = ("roster", {"000": ("org0", "a0"), "010": ("org0", "a1"), "011": ("org0", "a1")},
               {(TABLES["roster"][0][0], "000"): {"*": 3}, (TABLES["roster"][0][0], "010"): {"*": 8},
                (TABLES["roster"][0][0], "011"): {"*": 9}})


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(trees(), st.sampled_from([*ALL_SUPPRESSED, *ABOVE_UNIT]))
@example(_ONE_UNKNOWN, Role.POLITICIAN)
@example(_ONE_UNKNOWN, Role.PUBLIC)
@example(_ONLY_CHILD, Role.POLITICIAN)
@example(_ONLY_CHILD, Role.AREA_MANAGER)
def test_nothing_a_reader_sees_at_any_level_gives_a_small_count_away(tree, role):
    _check(*tree, role)


def test_the_one_unknown_student_takes_the_organisers_figures_with_it():
    table, placed, leaves = _ONE_UNKNOWN
    decision = decide_counts(_rows(table, placed, leaves), placed, _reader(Role.POLITICIAN), RULES)
    slice_ = TABLES["figures"][0][0]
    assert decision.withheld(slice_, "area", "a0") and decision.withheld(slice_, "area", "a0", "unknown")
    # the organiser's total or its boys (each shown by the organiser-level view) is withheld too
    assert decision.withheld(slice_, "organiser", "org0") or decision.withheld(slice_, "organiser", "org0", "male")


def test_an_only_child_takes_its_parent_and_a_complement_with_it():
    table, placed, leaves = _ONLY_CHILD
    decision = decide_counts(_rows(table, placed, leaves), placed, _reader(Role.POLITICIAN), RULES)
    slice_ = TABLES["roster"][0][0]
    assert decision.withheld(slice_, "school_unit", "000") and decision.withheld(slice_, "area", "a0")
    # else a0 = organiser − a1: the cheaper of the two goes (the organiser's 20 against a1's 17 and
    # the 8 of a school unit that would then have to follow it)
    assert decision.withheld(slice_, "organiser", "org0") != decision.withheld(slice_, "area", "a1")
    _check(table, placed, leaves, Role.POLITICIAN)


@settings(max_examples=50, deadline=None)
@given(trees())
def test_an_organiser_admin_sees_every_value(tree):
    table, placed, leaves = tree
    decision = decide_counts(_rows(table, placed, leaves), placed, _reader(Role.ORGANISER_ADMIN), RULES)
    assert decision.disclosure.withheld == frozenset()


def test_a_role_that_sees_the_school_units_exactly_cannot_be_protected_from_them_and_is_told():
    """An area of two school units (1 and 2 students): an area manager sees both exactly, so the area's
    3 is known to it whatever is withheld — the decision names it unprotectable (and withholds it)."""
    placed = {"000": ("org0", "a0"), "001": ("org0", "a0"), "010": ("org0", "a1")}
    slice_ = TABLES["roster"][0][0]
    leaves = {(slice_, "000"): {"*": 1}, (slice_, "001"): {"*": 2}, (slice_, "010"): {"*": 30}}
    decision = decide_counts(_rows("roster", placed, leaves), placed, _reader(Role.AREA_MANAGER), RULES)
    assert decision.withheld(slice_, "area", "a0")
    assert tree_key(slice_, unit_of("area", "org0", "a0")) in decision.disclosure.unprotectable
    _check("roster", placed, leaves, Role.AREA_MANAGER)

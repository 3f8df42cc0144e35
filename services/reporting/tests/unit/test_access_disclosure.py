"""Disclosure control (access/disclosure.py): small groups withheld, and never recoverable from
what is shown — checked by an independent null-space test (dense, modulo a large prime) on random trees."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from styrkedja_kit.auth import Level, Principal, Role
from styrkedja_reporting.access.disclosure import Cell, DisclosureRules, Partition, Reason, disclose, suppressed_levels

GENDERS = ("F", "M", "U")  # girls, boys, unknown gender
EVERY_LEVEL = frozenset(Level)


# --- an independent check: is a hidden cell's value fixed by the shown cells? -------------------------
# Dense elimination modulo a large prime (fast, and a different route from the engine's sparse
# rational one): x_i is determined iff every vector of the null space of A_hidden is 0 at i, i.e. iff
# column i is a pivot column and its reduced row is 0 in every free column.

PRIME = (1 << 61) - 1


def recoverable(hidden: set, partitions: list[Partition]) -> set:
    order = sorted(hidden, key=repr)
    index = {k: i for i, k in enumerate(order)}
    width = len(order)
    rows = []
    for p in partitions:
        row = [0] * width
        for key, coefficient in ((p.parent, 1), *((c, -1) for c in p.children)):
            if key in index:
                row[index[key]] = (row[index[key]] + coefficient) % PRIME
        if any(row):
            rows.append(row)
    pivot_of: dict[int, int] = {}  # column -> row
    r = 0
    for column in range(width):
        pivot = next((i for i in range(r, len(rows)) if rows[i][column]), None)
        if pivot is None:
            continue
        rows[r], rows[pivot] = rows[pivot], rows[r]
        inverse = pow(rows[r][column], PRIME - 2, PRIME)
        rows[r] = [v * inverse % PRIME for v in rows[r]]
        for i in range(len(rows)):
            if i != r and rows[i][column]:
                factor = rows[i][column]
                rows[i] = [(a - factor * b) % PRIME for a, b in zip(rows[i], rows[r], strict=True)]
        pivot_of[column] = r
        r += 1
    free = [c for c in range(width) if c not in pivot_of]
    return {order[c] for c, row in pivot_of.items() if all(rows[row][f] == 0 for f in free)}


# --- random organisations: organiser → areas → units → groups, each split by gender ------------------

#: the draws' strategies, made once (made anew in each draw, hypothesis worked each out again: most of these tests' time)
ONE_TO_THREE, YEARS, STUDENTS = st.integers(1, 3), st.sampled_from((7, 8, 9)), st.integers(0, 14)
FAILING = [st.integers(0, n) for n in range(15)]  # of n students


@st.composite
def organisations(draw):
    """Students and failing students per (group, gender); returns cells, partitions, true counts."""
    leaves: dict[tuple, tuple[int, int]] = {}
    tree: dict[tuple, list[tuple]] = {("org",): []}
    years: dict[tuple, int] = {}  # each group is one year (årskurs): a second split of its unit
    for a in range(draw(ONE_TO_THREE)):
        area = ("area", a)
        tree[("org",)].append(area)
        tree[area] = []
        for u in range(draw(ONE_TO_THREE)):
            unit = ("unit", a, u)
            tree[area].append(unit)
            tree[unit] = []
            for g in range(draw(ONE_TO_THREE)):
                group = ("group", a, u, g)
                tree[unit].append(group)
                years[group] = draw(YEARS)
                for gender in GENDERS:
                    n = draw(STUDENTS)
                    leaves[(group, gender)] = (n, draw(FAILING[n]))
    levels = {"org": Level.ORGANISER, "area": Level.AREA, "unit": Level.SCHOOL_UNIT, "group": Level.GROUP}
    totals: dict[tuple, tuple[int, int]] = {}

    def fold(node) -> None:
        for gender in GENDERS:
            if node[0] == "group":
                totals[(node, gender)] = leaves[(node, gender)]
            else:
                for child in tree[node]:
                    fold(child) if (child, gender) not in totals else None
                totals[(node, gender)] = tuple(map(sum, zip(*(totals[(c, gender)] for c in tree[node]), strict=True)))
        totals[(node, "all")] = tuple(map(sum, zip(*(totals[(node, g)] for g in GENDERS), strict=True)))

    fold(("org",))
    cells = {key: Cell(levels[key[0][0]], n, n - passed) for key, (n, passed) in totals.items()}
    partitions = []
    for node, children in tree.items():
        partitions.append(Partition((node, "all"), tuple((node, g) for g in GENDERS)))
        for gender in ("all", *GENDERS):
            partitions.append(Partition((node, gender), tuple((c, gender) for c in children)))
    # the units split by year as well as by group and by gender: overlapping partitions of one parent
    for node, children in tree.items():
        if node[0] != "unit":
            continue
        by_year: dict[int, list[tuple]] = {}
        for group in children:
            by_year.setdefault(years[group], []).append(group)
        for year, groups in by_year.items():
            n = sum(cells[(g, "all")].students for g in groups)
            f = sum(cells[(g, "all")].failing for g in groups)
            cells[(node, ("year", year))] = Cell(Level.SCHOOL_UNIT, n, f)
            partitions.append(Partition((node, ("year", year)), tuple((g, "all") for g in groups)))
        partitions.append(Partition((node, "all"), tuple((node, ("year", y)) for y in by_year)))
    # a second, redundant way to the organiser total: all units directly (any partition of a shown parent)
    units = [u for a in tree[("org",)] for u in tree[a]]
    partitions.append(Partition((("org",), "all"), tuple((u, "all") for u in units)))
    passing = {key: n - f for key, (n, f) in ((k, (c.students, c.failing)) for k, c in cells.items())}
    return cells, partitions, passing


@settings(max_examples=400, deadline=None)
@given(organisations(), st.sampled_from([Role.POLITICIAN, Role.PUBLIC]), st.integers(3, 20))
def test_politician_and_public_cannot_recover_a_withheld_figure(org, role, minimum):
    cells, partitions, passing = org
    rules = DisclosureRules(min_students=minimum)
    shown = disclose(cells, partitions, suppressed=suppressed_levels(Principal("p", frozenset({role}))), rules=rules)
    assert not shown.unprotectable
    small = {k for k, c in cells.items() if 0 < c.students < minimum}
    assert small <= shown.withheld  # every small group is withheld, at every level
    assert recoverable(set(shown.withheld), partitions) == set()  # and none follows from what is shown
    for key, cell in cells.items():
        students, count = shown.count(key, cell.students, outcome=False), shown.count(key, passing[key])
        if key in shown.withheld:
            assert students.value is None and count.value is None and count.display == ".."
            assert count.reason is Reason.OMITTED_DUE_TO_BASED_ON_FEW_PUPILS
        elif cell.students == 0:
            assert count.reason is Reason.MISSING
        else:  # shown figures are exact
            assert (students.value, count.value, count.reason) == (cell.students, passing[key], Reason.EXISTS)


@settings(max_examples=60, deadline=None)
@given(organisations())
def test_organiser_admin_sees_exact_figures(org):
    cells, partitions, passing = org
    shown = disclose(cells, partitions, suppressed=suppressed_levels(Principal("a", frozenset({Role.ORGANISER_ADMIN}))))
    assert shown.withheld == frozenset()
    for key, cell in cells.items():
        expected = Reason.MISSING if cell.students == 0 else Reason.EXISTS
        assert shown.count(key, passing[key]).reason is expected
        if cell.students:
            assert shown.count(key, passing[key]).value == passing[key]


@settings(max_examples=80, deadline=None)
@given(organisations())
def test_near_full_rule_hides_outcomes_without_leaking_them(org):
    cells, partitions, passing = org
    rules = DisclosureRules(approximate_near_full=True)
    shown = disclose(cells, partitions, suppressed=EVERY_LEVEL, rules=rules)
    assert shown.withheld <= shown.outcome_withheld
    assert recoverable(set(shown.outcome_withheld), partitions) == set()
    for key in shown.near_full:
        assert 1 <= cells[key].failing <= 4 and key not in shown.withheld
        assert shown.share(key, 0.9).display == "~100" and shown.count(key, passing[key]).value is None
        assert shown.share(key, 0.9).as_json() == {"value": None, "reason": "EXISTS", "approximately": "~100"}
        assert shown.count(key, cells[key].students, outcome=False).value == cells[key].students


@settings(max_examples=60, deadline=None)
@given(organisations())
def test_at_and_below_school_unit_a_principal_sees_exact_figures(org):
    cells, partitions, _ = org
    shown = disclose(cells, partitions, suppressed=suppressed_levels(Principal("r", frozenset({Role.PRINCIPAL}))))
    assert all(cells[k].level > Level.SCHOOL_UNIT for k in shown.withheld)


def test_girls_withheld_takes_the_boys_with_them():
    cells = {"all": Cell(Level.ORGANISER, 30), "F": Cell(Level.ORGANISER, 4), "M": Cell(Level.ORGANISER, 26)}
    shown = disclose(cells, [Partition("all", ("F", "M"))], suppressed=EVERY_LEVEL)
    assert shown.withheld == {"F", "M"}
    assert shown.count("all", 30).value == 30


def test_one_small_school_takes_a_second_one_in_its_area():
    cells = {"area": Cell(Level.AREA, 75), "a": Cell(Level.SCHOOL_UNIT, 5), "b": Cell(Level.SCHOOL_UNIT, 40),
             "c": Cell(Level.SCHOOL_UNIT, 30)}
    shown = disclose(cells, [Partition("area", ("a", "b", "c"))], suppressed=EVERY_LEVEL)
    assert shown.withheld == {"a", "c"}  # the smaller of the two candidates


def test_a_combination_of_equations_is_caught_not_only_each_parent():
    # three overlapping pairs: every equation holds two withheld cells, yet together they solve all three
    cells = {k: Cell(Level.AREA, n) for k, n in {"x": 4, "y": 6, "z": 7, "p": 10, "q": 13, "r": 11}.items()}
    partitions = [Partition("p", ("x", "y")), Partition("q", ("y", "z")), Partition("r", ("x", "z"))]
    assert recoverable({"x", "y", "z"}, partitions) == {"x", "y", "z"}
    shown = disclose(cells, partitions, suppressed=EVERY_LEVEL)
    assert shown.withheld > {"x", "y", "z"}
    assert recoverable(set(shown.withheld), partitions) == set()


def test_derived_figures_follow_their_inputs_and_rounding_applies_to_counts():
    cells = {"all": Cell(Level.ORGANISER, 30), "F": Cell(Level.ORGANISER, 4), "M": Cell(Level.ORGANISER, 26)}
    shown = disclose(cells, [Partition("all", ("F", "M"))], suppressed=EVERY_LEVEL,
                     rules=DisclosureRules(round_counts_to=5))
    assert shown.derived(0.12, "F", "M").as_json() == {"value": None, "reason": "OMITTED_DUE_TO_BASED_ON_FEW_PUPILS"}
    assert shown.derived(0.5, "all").value == 0.5
    assert shown.count("all", 28).value == 30 and shown.count("all", 27).value == 25
    assert shown.count("nowhere", 3).reason is Reason.MISSING


def test_withheld_and_complementary_cells_look_the_same():
    cells = {"all": Cell(Level.ORGANISER, 30), "F": Cell(Level.ORGANISER, 4), "M": Cell(Level.ORGANISER, 26)}
    shown = disclose(cells, [Partition("all", ("F", "M"))], suppressed=EVERY_LEVEL)
    assert shown.share("F", 0.5) == shown.share("M", 0.7)


def test_every_role_has_a_suppression_rule():
    """A role added to the kit without a rule here would make every read of its tokens fail."""
    for role in Role:
        levels = suppressed_levels(Principal(subject="s", roles=frozenset({role})))
        assert {Level.AREA, Level.ORGANISER, Level.NATION} <= levels or role is Role.ORGANISER_ADMIN


# --- insiders: each organiser's admin knows its own organiser exactly (round 24a) ----------------------

def test_no_small_organiser_is_given_away_to_the_admin_of_its_one_complement():
    """The public's nation: a small organiser withheld beside one other (its complement) was given back to that
    other's admin, who knows its own figures exactly: the nation less the shown organisers less its own."""
    sizes = {"X": 12, "Y": 3, "Z": 20, "W": 25}
    cells: dict = {("nation", "SE"): Cell(Level.NATION, sum(sizes.values()))}
    cells |= {("organiser", o): Cell(Level.ORGANISER, n) for o, n in sizes.items()}
    partitions = [Partition(("nation", "SE"), tuple(("organiser", o) for o in sizes))]
    shown = disclose(cells, partitions, suppressed=EVERY_LEVEL)
    assert ("organiser", "Y") in shown.withheld
    for insider in sizes:
        if insider != "Y":
            known = set(shown.withheld) - {("organiser", insider)}
            assert ("organiser", "Y") not in recoverable(known, partitions), (insider, shown.withheld)


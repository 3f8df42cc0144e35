"""The results read path's disclosure cube (results.disclose.disclose_cube), property-tested: for random
trees and results, nothing a politician or public reader receives lets a withheld count be computed
from the visible cells and totals (every gender × year marginal, the asked level and its parent);
the organiser admin sees every value exactly.

The check is independent of the code under test: the equations are written from the generated tree
here, and "determined" is decided by ranks over the rationals."""

from __future__ import annotations

from fractions import Fraction

from hypothesis import given, settings
from hypothesis import strategies as st

from styrkedja_kit.auth import Level, Principal, Role
from styrkedja_reporting.access.disclosure import DisclosureRules, Reason, suppressed_levels
from styrkedja_reporting.results.disclose import ALL, disclose_cube

GENDERS, YEARS = ("female", "male"), (7, 8)
SLICE = ("GRGRMAT01", "2026/27", "HT")
PARENT = {"school_unit": "area", "area": "organiser", "organiser": "nation"}


@st.composite
def trees(draw):
    """organiser → areas → school units, and students (with how many fail) per unit × gender × year."""
    leaves = {}
    for o in range(draw(st.integers(1, 2))):
        for a in range(draw(st.integers(1, 3))):
            for u in range(draw(st.integers(1, 3))):
                code = f"{o}{a}{u}".rjust(8, "1")
                for g in GENDERS:
                    for y in YEARS:
                        n = draw(st.sampled_from([0, 1, 2, 3, 5, 8, 9, 10, 12, 20]))
                        leaves[(f"o{o}", f"a{o}{a}", code, g, y)] = (n, draw(st.integers(0, n)))
    return leaves, draw(st.sampled_from(["school_unit", "area", "organiser"]))


def unit_of(level: str, leaf: tuple) -> tuple[str | None, str]:
    organiser, area, code = leaf[:3]
    return {"school_unit": (organiser, code), "area": (organiser, area), "organiser": (organiser, organiser),
            "nation": (None, "SE")}[level]


def cube_rows(leaves, level):
    rows: dict[tuple, list[int]] = {}
    for leaf, (n, fails) in leaves.items():
        if n == 0:
            continue
        for lv in (level, PARENT[level]):
            organiser, unit = unit_of(lv, leaf)
            for failing, count in ((True, fails), (False, n - fails)):
                if count:
                    key = (SLICE, lv, organiser, unit, leaf[3], leaf[4], failing)
                    rows.setdefault(key, [0])[0] += count
    return [(*key, value[0]) for key, value in rows.items()]


def truth(leaves, level) -> dict[tuple, int]:
    """Every cube cell's true student count, from the leaves."""
    out: dict[tuple, int] = {}
    for leaf, (n, _) in leaves.items():
        for lv in (level, PARENT[level]):
            organiser, unit = unit_of(lv, leaf)
            for g in (leaf[3], ALL):
                for y in (leaf[4], ALL):
                    key = (SLICE, lv, organiser, unit, g, y)
                    out[key] = out.get(key, 0) + n
    return {k: v for k, v in out.items() if v}


def equations(cells: dict[tuple, int], leaves, level) -> list[dict[tuple, int]]:
    """parent − Σ children = 0, written from the tree: the hierarchy and the gender and year splits."""
    eqs: list[dict[tuple, int]] = []
    children: dict[tuple, set[tuple]] = {}
    for leaf in leaves:
        o_child, u_child = unit_of(level, leaf)
        o_parent, u_parent = unit_of(PARENT[level], leaf)
        for g in (leaf[3], ALL):
            for y in (leaf[4], ALL):
                children.setdefault((SLICE, PARENT[level], o_parent, u_parent, g, y), set()).add(
                    (SLICE, level, o_child, u_child, g, y))
    for key in cells:
        slice_, lv, organiser, unit, g, y = key
        if g == ALL:
            children.setdefault(key + ("g",), set()).update(
                k for k in ((slice_, lv, organiser, unit, gg, y) for gg in GENDERS) if k in cells)
        if y == ALL:
            children.setdefault(key + ("y",), set()).update(
                k for k in ((slice_, lv, organiser, unit, g, yy) for yy in YEARS) if k in cells)
    for parent, kids in children.items():
        whole = parent[:6]
        kids = {k for k in kids if k in cells}
        if whole in cells and kids:
            eq = {whole: 1}
            for k in kids:
                eq[k] = eq.get(k, 0) - 1
            eqs.append(eq)
    return eqs


def rank(rows: list[list[Fraction]]) -> int:
    rows = [r[:] for r in rows if any(r)]
    r = 0
    width = len(rows[0]) if rows else 0
    for c in range(width):
        pivot = next((i for i in range(r, len(rows)) if rows[i][c] != 0), None)
        if pivot is None:
            continue
        rows[r], rows[pivot] = rows[pivot], rows[r]
        for i in range(len(rows)):
            if i != r and rows[i][c] != 0:
                f = rows[i][c] / rows[r][c]
                rows[i] = [a - f * b for a, b in zip(rows[i], rows[r], strict=True)]
        r += 1
    return r


def determined(hidden: list[tuple], eqs: list[dict[tuple, int]]) -> list[tuple]:
    """Hidden cells whose value follows from the visible ones: e_c lies in the row space of the
    equations restricted to the hidden columns."""
    index = {k: i for i, k in enumerate(hidden)}
    matrix = [[Fraction(0)] * len(hidden) for _ in eqs]
    for row, eq in zip(matrix, eqs, strict=True):
        for key, coefficient in eq.items():
            if key in index:
                row[index[key]] += coefficient
    base = rank(matrix) if matrix else 0
    out = []
    for key, i in index.items():
        unit = [Fraction(0)] * len(hidden)
        unit[i] = Fraction(1)
        if rank([*matrix, unit]) == base:
            out.append(key)
    return out


def reader(role: Role) -> Principal:
    return Principal("reader", frozenset({role}), frozenset({"o0", "o1"}))


@settings(max_examples=60, deadline=None)
@given(trees(), st.sampled_from([Role.POLITICIAN, Role.PUBLIC]), st.sampled_from([3, 10]))
def test_nothing_a_politician_or_public_reader_gets_reveals_a_withheld_count(tree, role, minimum):
    leaves, level = tree
    placed = {leaf[2]: (leaf[0], leaf[1]) for leaf in leaves}
    decision = disclose_cube(cube_rows(leaves, level), placed, suppressed_levels(reader(role)),
                             DisclosureRules(min_students=minimum))
    cells = truth(leaves, level)
    assert set(decision.cells) == set(cells)
    assert all(decision.cells[k].students == n for k, n in cells.items())
    hidden = sorted((k for k in cells if decision.reason(k) is Reason.OMITTED_DUE_TO_BASED_ON_FEW_PUPILS), key=repr)
    assert all(k in hidden for k, n in cells.items() if n < minimum)  # every small cell is withheld
    assert determined(hidden, equations(cells, leaves, level)) == []
    for key in cells:  # what the reader receives: the value only when shown
        shown = decision.count(key, cells[key], outcome=False)
        assert (shown.value is None) == (key in hidden)


@settings(max_examples=30, deadline=None)
@given(trees())
def test_the_organiser_admin_sees_every_value_exactly(tree):
    leaves, level = tree
    placed = {leaf[2]: (leaf[0], leaf[1]) for leaf in leaves}
    decision = disclose_cube(cube_rows(leaves, level), placed, suppressed_levels(reader(Role.ORGANISER_ADMIN)),
                             DisclosureRules())
    for key, n in truth(leaves, level).items():
        assert decision.reason(key) is Reason.EXISTS
        assert decision.count(key, n, outcome=False).value == n
    assert Level.STUDENT not in suppressed_levels(reader(Role.ORGANISER_ADMIN))

"""One disclosure decision per cell across every endpoint (`access.decision`), property-tested.

For random trees (organisers → areas → school units, some placed in no area → groups) and random
results (students with a gender and a year, one or two results each in a term's rounds and kinds),
the rows every table holds are built as `access.decision.component_rows` reads them, and the
decision is taken. Then the union of everything a politician or public token receives from ALL
endpoints — the results endpoint (every level, gender and year split or not), the pass-share
figures (trend, history, gender gap, freshness, drill-down: total, girls, boys), coverage — is
checked against the equations an attacker knows, written here independently of the service from
the structure of the data: parent = Σ children per gender in every table, total = Σ gender parts,
a results cell's all-years = Σ its years, a figure's term (round) = Σ the results of the term
(round), coverage = students assessed where each student has one result. No withheld value may be
determined (exact Gauss–Jordan over the rationals). An organiser admin sees every value exactly."""

from __future__ import annotations

from collections import defaultdict
from fractions import Fraction
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from styrkedja_kit.auth import Principal, Role
from styrkedja_reporting.access.complement import TreeDecision, protect_tree, tree_key, unit_of
from styrkedja_reporting.access.decision import (
    ALL_YEARS,
    ComponentRows,
    coverage_slice,
    left_out,
    pass_slice,
    results_slice,
    tree_of,
)
from styrkedja_reporting.access.disclosure import TABLE_NEAR_FULL, DisclosureRules, suppressed_levels
from styrkedja_reporting.results.read import Filters, ResultCell, _disclosed, key_of

RULES = DisclosureRules(min_students=5)
SUBJECT, SY = "GRGRMAT01", "2026/27"
#: (term, round, kind): what a result may be
RESULTS = (("HT", 1, "assessment"), ("HT", 2, "term_grade"), ("VT", 3, "assessment"))
GENDERS = ("female", "male", "unknown")


@st.composite
def trees(draw):
    """Students placed in groups: (organiser, area or None, school unit, group, gender, year, results)."""
    students = []
    for o in range(draw(st.integers(1, 2))):
        organiser = f"org{o}"
        areas = [f"a{o}{i}" for i in range(draw(st.integers(1, 2)))] + [None] * draw(st.integers(0, 1))
        for a, area in enumerate(areas):
            for u in range(draw(st.integers(1, 2))):
                code = f"{o}{a}{u}"
                for g in range(draw(st.integers(1, 2))):
                    for s in range(draw(st.integers(0, 7))):
                        kinds = draw(st.sets(st.sampled_from(RESULTS), min_size=1, max_size=2))
                        students.append((organiser, area, code, f"{code}/{g}", f"s{code}-{g}-{s}",
                                         draw(st.sampled_from(GENDERS)), draw(st.sampled_from((7, 8))),
                                         sorted(kinds), draw(st.booleans())))
    return students


def _units(student) -> list[tuple[str, str | None, str]]:
    """(level, organiser, unit) of every unit a student counts in."""
    organiser, area, code, group = student[:4]
    out = [("group", organiser, group), ("school_unit", organiser, code), ("organiser", organiser, organiser),
           ("nation", None, "SE")]
    return out + ([("area", organiser, area)] if area else [])


def _parent(level: str, organiser: str | None, unit: str, placed: dict) -> tuple[str, str | None, str] | None:
    if level == "group":
        return ("school_unit", organiser, unit.split("/")[0])
    if level == "school_unit":
        area = placed[unit]
        return ("area", organiser, area) if area else ("organiser", organiser, organiser)
    if level == "area":
        return ("organiser", organiser, organiser)
    return ("nation", None, "SE") if level == "organiser" else None


def build(students) -> tuple[ComponentRows, dict, dict[Any, int], list[list[tuple[Any, int]]]]:
    """The component's rows (as the service reads them), the placements, every cell's count and the
    equations an attacker knows (lists of (cell, coefficient) summing to 0)."""
    rows = ComponentRows()
    placed = {s[2]: (s[0], s[1]) for s in students}
    count: dict[Any, int] = defaultdict(int)
    seen: dict[Any, set] = defaultdict(set)
    for s in students:
        organiser, area, code, group, sid, gender, year, kinds, fails = s
        for level, org, unit in _units(s):
            u = unit_of(level, None if level == "nation" else org, unit)
            for term, round_, kind in kinds:
                slice_ = (SUBJECT, SY, term, round_, kind, "AF")
                for y in (year, ALL_YEARS):
                    rows.add(results_slice("assessments", slice_, y), level, org, unit, gender, 1, int(fails))
                    for g in (gender, "*"):
                        count[tree_key(results_slice("assessments", slice_, y), u, g)] += 1
                for period in ((SY, term), (SY, f"R{round_}")):
                    rows.add(pass_slice(SUBJECT, year, period), level, org, unit, gender, 1)
                    for g in (gender, "*"):
                        count[tree_key(pass_slice(SUBJECT, year, period), u, g)] += 1
                    seen[tree_key(coverage_slice(SUBJECT, year, period), u)].add(sid)
    for key, ids in seen.items():
        count[key] = len(ids)
        (slice_, (level, unit), _) = key
        organiser = unit[0] if level == "area" else None
        rows.add(slice_, level, organiser if level == "area" else _organiser_of(level, unit, students),
                 unit[1] if level == "area" else unit, "*", len(ids))
    return rows, placed, dict(count), _equations(count, students)


def _organiser_of(level: str, unit: str, students) -> str | None:
    if level == "nation":
        return None
    for s in students:
        for lv, org, u in _units(s):
            if lv == level and u == unit:
                return org
    raise AssertionError(unit)


def _equations(count: dict[Any, int], students) -> list[list[tuple[Any, int]]]:
    placed = {s[2]: s[1] for s in students}
    out: list[list[tuple[Any, int]]] = []
    children: dict[Any, list[Any]] = defaultdict(list)
    for key in count:
        slice_, u, g = key
        level, unit = u
        organiser = unit[0] if level == "area" else _organiser_of(level, unit, students)
        name = unit[1] if level == "area" else unit
        parent = _parent(level, organiser, name, placed)
        if parent is not None:
            pu = unit_of(parent[0], parent[1], parent[2])
            children[(slice_, pu, g)].append(key)
        if g == "*" and slice_[0] != "coverage":  # total = Σ gender parts
            out.append([(key, 1), *[(tree_key(slice_, u, p), -1) for p in GENDERS if tree_key(slice_, u, p) in count]])
        if slice_[0] == "coverage" and count.get(tree_key(pass_slice(*slice_[1:3], slice_[3]), u)) == count[key]:
            out.append([(key, 1), (tree_key(pass_slice(*slice_[1:3], slice_[3]), u), -1)])
    for (slice_, pu, g), kids in children.items():
        out.append([(tree_key(slice_, pu, g), 1), *[(k, -1) for k in kids]])
    by_whole: dict[Any, list[Any]] = defaultdict(list)
    for key in count:
        slice_, u, g = key
        if slice_[0] == "results" and slice_[2] != ALL_YEARS:
            by_whole[tree_key(("results", slice_[1], ALL_YEARS), u, g)].append(key)
            _, (subject, sy, term, round_, _, _), year = slice_
            by_whole[tree_key(pass_slice(subject, year, (sy, term)), u, g)].append(key)
            by_whole[tree_key(pass_slice(subject, year, (sy, f"R{round_}")), u, g)].append(key)
    for whole, parts in by_whole.items():
        out.append([(whole, 1), *[(p, -1) for p in parts]])
    return out


def _visible(key: Any, decision: TreeDecision) -> bool:
    """Whether any endpoint shows the cell's count to this reader (the keys the routes look up)."""
    slice_, (level, unit), gender = key
    name = unit[1] if level == "area" else unit
    if slice_[0] == "results":  # the results endpoint, every split and filter
        subject, sy, term, round_, kind, scale = slice_[1]
        year = slice_[2]
        cell = ResultCell(level=level, unit_id=name, subject_code=subject, school_year=sy, term=term, round=round_,
                          kind=kind, scale=scale, gender=None if gender == "*" else gender,
                          year=None if year == ALL_YEARS else year, organiser_id=unit[0] if level == "area" else
                          (None if level == "nation" else "x"), distribution={}, assessed=1, reaching_pass=0,
                          share_reaching_pass=0.0)
        split = tuple(s for s, v in (("gender", gender), ("year", year)) if v not in ("*", ALL_YEARS))
        assert key_of("assessments", cell, Filters(split=split)) == key  # the key the read path looks up
        return key not in decision.disclosure.withheld
    return not decision.withheld(slice_, level, name, gender)


def _exact_quotient(numerator: Fraction | int, denominator: Fraction | int) -> Fraction | int:
    """numerator / denominator, exactly: an int where it divides, a Fraction where not."""
    if isinstance(numerator, int) and isinstance(denominator, int) and numerator % denominator == 0:
        return numerator // denominator
    return Fraction(numerator) / denominator


def _determined(hidden: list[Any], equations: list[list[tuple[Any, int]]]) -> set[Any]:
    """The hidden cells whose value follows from the shown ones (reduced row echelon form over the
    rationals on the hidden columns; a cell is determined iff a reduced row is its unit vector)."""
    column = {k: i for i, k in enumerate(hidden)}
    matrix = []
    for eq in equations:
        row: dict[int, Fraction | int] = defaultdict(int)  # exact: ints while they stay whole (most do), faster
        for key, c in eq:
            if key in column:
                row[column[key]] += c
        row = {i: v for i, v in row.items() if v}
        if row:
            matrix.append(row)
    pivots: dict[int, dict[int, Fraction]] = {}
    for row in matrix:
        for p, prow in pivots.items():
            if p in row:
                factor = row[p]
                row = {i: row.get(i, 0) - factor * prow.get(i, 0) for i in set(row) | set(prow)}
                row = {i: v for i, v in row.items() if v}
        if not row:
            continue
        lead = min(row)
        row = {i: _exact_quotient(v, row[lead]) for i, v in row.items()}
        for p in list(pivots):
            if lead in pivots[p]:
                factor = pivots[p][lead]
                merged = {i: pivots[p].get(i, 0) - factor * row.get(i, 0) for i in set(pivots[p]) | set(row)}
                pivots[p] = {i: v for i, v in merged.items() if v}
        pivots[lead] = row
    return {hidden[p] for p, row in pivots.items() if len(row) == 1}


def _reader(role: Role) -> Principal:
    return Principal("reader", roles=frozenset({role}), organisers=frozenset({"org0", "org1"}))


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(trees(), st.sampled_from((Role.POLITICIAN, Role.PUBLIC)))
def test_nothing_any_endpoint_shows_lets_a_withheld_value_be_computed(students, role):
    rows, placed, count, equations = build(students)
    suppressed = suppressed_levels(_reader(role))
    unseen = left_out(suppressed)  # the group level: no endpoint shows it to a politician or the public
    assert unseen == {"group"}
    tree, links = tree_of(rows, placed, unseen)
    decision = TreeDecision.of(protect_tree(tree, suppressed=suppressed, rules=RULES, links=links))
    cells = {k for k, n in count.items() if n > 0}
    shown_anywhere = {k for k in cells if k[1][0] not in unseen}
    assert shown_anywhere == set(decision.disclosure.cells), "the decision sees every cell an endpoint shows"
    small = {k for k in shown_anywhere if count[k] < RULES.min_students}
    assert small <= decision.disclosure.withheld, "every small cell is withheld"
    hidden = sorted((k for k in cells if k not in shown_anywhere or not _visible(k, decision)), key=repr)
    leaked = _determined(hidden, equations) & decision.disclosure.withheld
    assert not (leaked - decision.disclosure.unprotectable), sorted(leaked, key=repr)[:5]
    assert not decision.disclosure.unprotectable  # every level is suppressed: a complement always exists


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(trees())
def test_the_organiser_admin_sees_every_value_exactly(students):
    rows, placed, count, _ = build(students)
    assert not left_out(suppressed_levels(_reader(Role.ORGANISER_ADMIN)))
    tree, links = tree_of(rows, placed)
    decision = TreeDecision.of(protect_tree(tree, suppressed=suppressed_levels(_reader(Role.ORGANISER_ADMIN)),
                                            rules=RULES, links=links))
    assert not decision.disclosure.withheld
    assert all(_visible(k, decision) for k in count)


def test_the_decision_does_not_depend_on_the_order_of_the_rows():
    students = [("org0", "a0", "000", "000/0", f"s{i}", GENDERS[i % 3], 7 + i % 2, [RESULTS[i % 3]], i % 2 == 0)
                for i in range(13)] + [("org0", "a1", "100", "100/0", f"t{i}", "female", 7, [RESULTS[0]], False)
                                       for i in range(12)]
    rows, placed, _, _ = build(students)
    tree, links = tree_of(rows, placed)
    suppressed = suppressed_levels(_reader(Role.POLITICIAN))
    one = protect_tree(tree, suppressed=suppressed, rules=RULES, links=links)
    other = protect_tree(list(reversed(tree)), suppressed=suppressed, rules=RULES, links=list(reversed(links)))
    assert one.withheld == other.withheld and one.withheld


def test_a_near_full_share_is_marked_in_the_results_json():
    """The optional `~100` rule: a cell where 1–4 students fail shows `approximately: "~100"` (reason
    EXISTS), its share and outcome counts null; the students assessed are shown."""
    rules = DisclosureRules(min_students=5, approximate_near_full=True)
    students = [("org0", "a0", "000", "000/0", f"s{i}", "female", 7, [RESULTS[0]], i == 0) for i in range(30)]
    students += [("org0", "a1", "100", "100/0", f"t{i}", "female", 7, [RESULTS[0]], i < 15) for i in range(30)]
    students += [("org0", "a2", "200", "200/0", f"u{i}", "female", 7, [RESULTS[0]], i < 15) for i in range(30)]
    rows, placed, _, _ = build(students)
    tree, links = tree_of(rows, placed)
    decision = protect_tree(tree, suppressed=suppressed_levels(_reader(Role.POLITICIAN)), rules=rules, links=links)
    cell = ResultCell(level="area", unit_id="a0", subject_code=SUBJECT, school_year=SY, term="HT", round=1,
                      kind="assessment", scale="AF", organiser_id="org0", distribution={"C": 29, "F": 1},
                      assessed=30, reaching_pass=29, share_reaching_pass=29 / 30)
    shown = _disclosed(cell, decision, key_of("assessments", cell, Filters()))
    assert shown.approximately == TABLE_NEAR_FULL and shown.reason == "EXISTS"
    assert shown.share_reaching_pass is None and shown.distribution is None and shown.reaching_pass is None
    assert shown.assessed == 30
    assert "approximately" in shown.model_dump(mode="json")

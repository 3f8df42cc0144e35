"""Design for materialisation: for every figure, the state kept by applying deltas (old fact →
new fact) — in any order, the facts changing group, value, date or being retracted on the way —
equals the state recomputed from the final facts alone (invariant 3)."""

from collections.abc import Callable
from datetime import date, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from styrkedja_contracts.identifiers import Gender
from styrkedja_contracts.scales import Scale, scale_values
from styrkedja_reporting.figures.coverage import coverage, coverage_contribution, coverage_delta
from styrkedja_reporting.figures.facts import Forecast, Result, ResultKind
from styrkedja_reporting.figures.forecast_outcome import Pairing, forecast_outcome_contribution, forecast_outcome_delta
from styrkedja_reporting.figures.freshness import freshness, freshness_contribution, freshness_delta
from styrkedja_reporting.figures.merit import merit_contribution, merit_delta
from styrkedja_reporting.figures.pass_share import gender_gap, pass_contribution, pass_delta, pass_share
from styrkedja_reporting.figures.periods import SchoolYear, Term
from styrkedja_reporting.figures.state import apply, total

YEARS = [SchoolYear(2025), SchoolYear(2026)]
STUDENTS = ["a", "b", "c"]
SUBJECTS = ["GRGRMAT01", "GRGRSVE01", "GRGRENG01", "GRGRM1SPA"]
START = date(2025, 8, 15)


def units(group: str, school: str) -> tuple[tuple[str, str], ...]:
    return (("group", f"{school}:{group}"), ("school_unit", school), ("organiser", "O1"))


# the identity of a fact (what its id fixes); the rest may change between versions
identities = st.tuples(st.sampled_from(STUDENTS), st.sampled_from(SUBJECTS), st.sampled_from(YEARS),
                       st.sampled_from(list(Term)), st.integers(0, 2))


# the strategies of every version's fields, made once (made anew in each draw, hypothesis worked each out again)
KINDS = {kinds: st.sampled_from(kinds) for kinds in (tuple(ResultKind), (ResultKind.term_grade, ResultKind.assessment))}
SCALES = st.sampled_from(list(Scale))
SCHOOL_YEARS = st.sampled_from([8, 9])
GENDERS = st.sampled_from(list(Gender))
GROUPS = st.sampled_from(["9A", "9B"])
SCHOOLS = st.sampled_from(["S1", "S2"])
ROUNDS = st.integers(1, 4)
VALUES = {scale: st.sampled_from(scale_values(scale)) for scale in Scale}
DAYS = st.integers(0, 400)


@st.composite
def result_versions(draw, identity, kinds=tuple(ResultKind)) -> Result:
    student, subject, school_year, term, n = identity
    kind = draw(KINDS[kinds])
    scale = Scale.AF if kind is ResultKind.term_grade else draw(SCALES)
    return Result(f"{student}-{subject}-{school_year}-{term}-{n}", student, subject, draw(SCHOOL_YEARS),
                  draw(GENDERS), units(draw(GROUPS), draw(SCHOOLS)),
                  school_year, term, None if kind is ResultKind.term_grade else draw(ROUNDS), kind, scale,
                  draw(VALUES[scale]), START + timedelta(days=draw(DAYS)))


@st.composite
def histories(draw, kinds=tuple(ResultKind)) -> list[tuple[str, Result | None]]:
    """A sequence of versions of a few facts: each step sets one fact to a new version or retracts it."""
    ids = draw(st.lists(identities, min_size=1, max_size=6, unique=True))
    steps = []
    for _ in range(draw(st.integers(1, 25))):
        identity = draw(st.sampled_from(ids))
        version = draw(st.none() | result_versions(identity, kinds))
        steps.append((str(identity), version))
    return steps


def replay(steps, on_change: Callable[[object, object, object], dict]) -> tuple[list[dict], dict]:
    """Run the steps, collecting the delta of each; return the deltas and the final facts."""
    facts: dict = {}
    deltas = []
    for key, version in steps:
        deltas.append(on_change(key, facts.get(key), version))
        if version is None:
            facts.pop(key, None)
        else:
            facts[key] = version
    return deltas, facts


def applied_in_order(deltas: list[dict], order: list[int]) -> dict:
    ledger: dict = {}
    for i in order:
        apply(ledger, deltas[i])
    return ledger


@settings(max_examples=150, deadline=None)
@given(st.data())
def test_per_result_figures_deltas_in_any_order_equal_recomputation(data):
    steps = data.draw(histories())
    for contribution, delta in ((pass_contribution, pass_delta), (freshness_contribution, freshness_delta),
                                (coverage_contribution, coverage_delta)):
        deltas, final = replay(steps, lambda _key, old, new, delta=delta: delta(old, new))
        order = data.draw(st.permutations(range(len(deltas))))
        assert applied_in_order(deltas, order) == total(contribution(r) for r in final.values())


@settings(max_examples=150, deadline=None)
@given(st.data())
def test_merit_deltas_in_any_order_equal_recomputation(data):
    steps = data.draw(histories(kinds=(ResultKind.term_grade, ResultKind.assessment)))

    def student_term(facts: dict, result: Result) -> list[Result]:
        return [r for r in facts.values()
                if (r.student_id, r.school_year, r.term) == (result.student_id, result.school_year, result.term)]

    facts: dict = {}
    deltas = []
    for key, version in steps:
        old = facts.get(key)
        touched = version or old
        if touched is None:
            continue
        before = student_term(facts, touched)
        if version is None:
            facts.pop(key, None)
        else:
            facts[key] = version
        deltas.append(merit_delta(before, student_term(facts, touched)))
    by_student_term: dict = {}
    for r in facts.values():
        by_student_term.setdefault((r.student_id, r.school_year, r.term), []).append(r)
    order = data.draw(st.permutations(range(len(deltas))))
    assert applied_in_order(deltas, order) == total(merit_contribution(rs) for rs in by_student_term.values())


@st.composite
def forecast_versions(draw, identity) -> Forecast:
    student, subject, school_year, term, _ = identity
    return Forecast(f"f-{student}-{subject}-{school_year}-{term}", student, subject, 9,
                    draw(GENDERS), units(draw(GROUPS), "S1"),
                    school_year, term, draw(VALUES[Scale.THREE_LEVEL]), START + timedelta(days=draw(DAYS)))


@settings(max_examples=150, deadline=None)
@given(st.data())
def test_forecast_outcome_deltas_in_any_order_equal_recomputation(data):
    ids = data.draw(st.lists(identities, min_size=1, max_size=5, unique=True))
    forecasts: dict = {}
    results: dict = {}

    def pairing(pair_key) -> Pairing:
        return Pairing(forecasts.get(pair_key), tuple(sorted(
            (r for r in results.values() if (r.student_id, r.subject_code, r.school_year, r.term) == pair_key),
            key=lambda r: r.result_id)))

    deltas = []
    for _ in range(data.draw(st.integers(1, 25))):
        identity = data.draw(st.sampled_from(ids))
        pair_key = identity[:4]
        before = pairing(pair_key)
        if data.draw(st.booleans()):
            version = data.draw(st.none() | forecast_versions(identity))
            forecasts[pair_key] = version
        else:
            version = data.draw(st.none() | result_versions(identity))
            results[str(identity)] = version
            if version is None:
                results.pop(str(identity))
        results = {k: v for k, v in results.items() if v is not None}
        deltas.append(forecast_outcome_delta(before, pairing(pair_key)))
    order = data.draw(st.permutations(range(len(deltas))))
    recomputed = total(forecast_outcome_contribution(pairing(k)) for k in {i[:4] for i in ids})
    assert applied_in_order(deltas, order) == recomputed


def facts_in(cell, final: dict) -> list[Result]:
    """Independently of the contribution functions: the results behind `cell`, found by scanning."""
    return [r for r in final.values() if cell.unit in r.units and r.subject_code == cell.subject_code
            and r.year == cell.year and cell.period in (r.term_period, r.round_period)]


@settings(max_examples=100, deadline=None)
@given(st.data())
def test_figures_read_from_delta_kept_state_equal_a_scan_of_the_facts_at_every_level(data):
    steps = data.draw(histories())
    pass_deltas, final = replay(steps, lambda _k, old, new: pass_delta(old, new))
    fresh_deltas, _ = replay(steps, lambda _k, old, new: freshness_delta(old, new))
    cover_deltas, _ = replay(steps, lambda _k, old, new: coverage_delta(old, new))
    order = data.draw(st.permutations(range(len(pass_deltas))))
    passes, dates, students = (applied_in_order(d, order) for d in (pass_deltas, fresh_deltas, cover_deltas))
    every_cell = {cell for r in final.values() for cell in pass_contribution(r)}
    assert set(passes) == set(dates) == set(students) == every_cell
    today = date(2027, 1, 1)
    for cell in every_cell:
        behind = facts_in(cell, final)
        share = pass_share(passes[cell])
        assert (share.reaching, share.assessed) == (sum(r.reaches for r in behind), len(behind))
        girls = [r for r in behind if r.gender is Gender.female]
        assert gender_gap(passes[cell]).girls.assessed == len(girls)
        assert freshness(dates[cell], today).newest == max(r.assessed_on for r in behind)
        assert coverage(students[cell], 100).with_result == len({r.student_id for r in behind})

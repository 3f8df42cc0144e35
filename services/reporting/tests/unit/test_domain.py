"""Folding events into facts and facts into aggregate cells (pure rules of the reporting service).

The property that matters (invariants 2 and 3): whatever order events arrive in, and however
often they are re-delivered, the final fact is the one of the highest revision, and the sum of
the aggregate changes made on the way equals the cells of that final fact alone.
"""

import random
from collections import Counter
from dataclasses import replace
from datetime import date
from itertools import permutations
from uuid import UUID, uuid5

import pytest

from styrkedja_reporting.results.rules import (
    MATERIALISED as LEVELS,
)
from styrkedja_reporting.results.rules import (
    AssessmentFact,
    ForecastFact,
    fold,
    retraction_of,
    share,
    withdrawal_of,
)
from styrkedja_reporting.results.rules import (
    assessment_cells as cells_of_assessment,
)
from styrkedja_reporting.results.rules import (
    delta as delta_of,
)
from styrkedja_reporting.results.rules import (
    forecast_cells as cells_of_forecast,
)

PLACED = {"12345678": "area-north"}  # the school unit is placed in an area: all six levels


def assessment_cells(fact, placement=PLACED):
    return cells_of_assessment(fact, placement)


def forecast_cells(fact, placement=PLACED):
    return cells_of_forecast(fact, placement)


def delta(cells, old, new):
    return delta_of(lambda fact, placement: cells(fact, placement), old, new, PLACED)

NS = UUID("00000000-0000-4000-8000-0000000000aa")
AID = uuid5(NS, "assessment")
FID = uuid5(NS, "forecast")


def afact(revision: int, value: str = "C", assessment_id=AID, **overrides) -> AssessmentFact:
    fields = dict(assessment_id=assessment_id, revision=revision, retracted=False, organiser_id="2999",
                  school_unit_code="12345678", group_id="7A", student_id="s-1", gender="female", year=7,
                  subject_code="GRGRMAT01", kind="assessment", scale="AF", value=value, school_year="2026/27",
                  term="HT", round=1)
    return AssessmentFact(**(fields | overrides))


def ffact(revision: int, value: str = "ACCEPTABLE", forecast_id=FID, **overrides) -> ForecastFact:
    fields = dict(forecast_id=forecast_id, revision=revision, withdrawn=False, organiser_id="2999",
                  school_unit_code="12345678", group_id="7A", student_id="s-1", gender="male", year=8,
                  subject_code="GRGRMAT01", school_year="2026/27", term="VT", late=False, value=value)
    return ForecastFact(**(fields | overrides))


def removal_data(fact) -> dict:
    """What a retraction/withdrawal event carries of the fact it removes."""
    keep = ["organiser_id", "school_unit_code", "group_id", "student_id", "subject_code", "school_year", "term"]
    keep = ["assessment_id", *keep, "round"] if isinstance(fact, AssessmentFact) else ["forecast_id", *keep]
    return {k: getattr(fact, k) for k in keep}


KINDS = {AssessmentFact: (assessment_cells, retraction_of, "assessment_id"),
         ForecastFact: (forecast_cells, withdrawal_of, "forecast_id")}


def apply(events, facts=None) -> tuple[dict, Counter]:
    """Fold events ("add", fact) / ("remove", revision, template fact) into facts, as the consumer
    does, and sum the aggregate changes."""
    facts = dict(facts or {})
    total = Counter()
    for event in events:
        template = event[-1]
        cells, removal, id_field = KINDS[type(template)]
        fact_id = getattr(template, id_field)
        old = facts.get(fact_id)
        incoming = template if event[0] == "add" else removal(event[1], removal_data(template))
        facts[fact_id] = fold(old, incoming)
        total.update(delta(cells, old, facts[fact_id]))
    return facts, Counter({k: v for k, v in total.items() if v})  # negative counts stay, and would fail


def visible(fact) -> tuple:
    """What of a fact can ever be seen: its revision, whether it counts, and where it counts."""
    cells = KINDS[type(fact)][0]
    hidden = fact.retracted if isinstance(fact, AssessmentFact) else fact.withdrawn
    return fact.revision, hidden, cells(fact)


def test_fold_keeps_the_higher_revision():
    r1, r2 = afact(1, "F"), afact(2, "C")
    assert fold(None, r1) is r1
    assert fold(r1, r2) is r2
    assert fold(r2, r1) is r2
    assert fold(r2, r2) is r2  # the same fact again changes nothing


def test_fold_decides_an_equal_revision_by_content_whatever_the_order():
    """Failed on the old code: of two facts of one revision the first to arrive won, so two partitions consumed in
    another order (one organiser keyed in two spellings by another producer) gave another fact."""
    on = date(2026, 9, 1)
    a, c = afact(2, "A", assessed_on=on), afact(2, "C", assessed_on=on)
    assert fold(a, c) is c and fold(c, a) is c  # the greater value, in either order
    retracted = replace(a, retracted=True)
    assert fold(c, retracted) is retracted and fold(retracted, c) is retracted  # a retraction wins a tie
    undated = replace(c, assessed_on=None)
    assert fold(undated, c) is c and fold(c, undated) is c  # None below any date, as the rebuild's NULLS LAST
    assert fold(afact(3, "A"), c).revision == 3 and fold(c, afact(1, "F")) is c


def test_assessment_cells_one_per_level_and_none_when_retracted():
    fact = afact(1, "B")
    cells = assessment_cells(fact)
    assert sorted((key[0], key[1]) for key in cells) == sorted(
        [("group", "12345678/7A"), ("school_unit", "12345678"), ("area", "area-north"),
         ("organiser", "2999")])  # the nation's cells are the organiser's (read as the nation's)
    assert set(cells.values()) == {1} and len(cells) == len(LEVELS)  # the student level is the fact itself
    unplaced = cells_of_assessment(fact, {})
    assert sorted(key[0] for key in unplaced) == ["group", "organiser", "school_unit"]
    assert all(key[2:] == ("2999", "GRGRMAT01", "2026/27", "HT", 1, "assessment", "AF", 7, "female", "B")
               for key in cells)
    assert assessment_cells(None) == Counter()
    assert assessment_cells(replace(fact, retracted=True)) == Counter()
    assert assessment_cells(retraction_of(2, removal_data(fact))) == Counter()


def test_forecast_cells_one_per_level_and_none_when_withdrawn():
    fact = ffact(1, "NOT_REACHED", late=True)
    cells = forecast_cells(fact)
    assert sorted((key[0], key[1]) for key in cells) == sorted(
        [("group", "12345678/7A"), ("school_unit", "12345678"), ("area", "area-north"),
         ("organiser", "2999")])
    assert set(cells.values()) == {1}
    assert all(key[2:] == ("2999", "GRGRMAT01", "2026/27", "VT", 8, "male", "NOT_REACHED", True) for key in cells)
    assert forecast_cells(None) == Counter()
    assert forecast_cells(withdrawal_of(2, removal_data(fact))) == Counter()


def test_delta_moves_only_the_cells_that_change():
    old, new = afact(1, "C", group_id="7A"), afact(2, "C", group_id="7B")
    change = delta(assessment_cells, old, new)
    # moving a student between groups of the same school: the school and organiser cells stay
    assert {(key[0], key[1]): n for key, n in change.items()} == {("group", "12345678/7A"): -1,
                                                                      ("group", "12345678/7B"): 1}
    assert delta(assessment_cells, old, old) == Counter()
    assert sum(delta(assessment_cells, old, replace(old, retracted=True)).values()) == -len(LEVELS)


def test_a_retraction_before_its_publication_hides_it():
    published = afact(1, "F")
    facts, total = apply([("remove", 2, published), ("add", published)])
    fact = facts[AID]
    assert (fact.revision, fact.retracted) == (2, True)
    assert total == Counter() and assessment_cells(fact) == Counter()
    # the same for a forecast withdrawn before its submission arrives
    submitted = ffact(1)
    facts, total = apply([("remove", 2, submitted), ("add", submitted)])
    assert (facts[FID].revision, facts[FID].withdrawn, total) == (2, True, Counter())


def _check_all_orders(events, expected_visible, expected_total):
    finals = set()
    for order in permutations(events):
        facts, total = apply(order)
        [fact] = facts.values()
        assert visible(fact) == expected_visible, order
        assert total == expected_total, order
        finals.add(fact)
    return finals


@pytest.mark.parametrize("make", [afact, ffact])
def test_every_order_of_revisions_gives_the_newest(make):
    r1, r2 = make(1, "NOT_REACHED" if make is ffact else "F"), make(2)
    events = [("add", r1), ("add", r2), ("add", r1), ("add", r2)]  # with re-deliveries
    cells = KINDS[type(r2)][0]
    finals = _check_all_orders(events, visible(r2), cells(r2))
    assert finals == {r2}  # the very same fact, whatever the order


@pytest.mark.parametrize("make", [afact, ffact])
def test_every_order_with_a_removal_counts_nothing(make):
    r1, r2 = make(1, group_id="7A"), make(2, group_id="7B")
    events = [("add", r1), ("add", r2), ("remove", 3, r2), ("add", r1), ("remove", 3, r2)]
    finals = _check_all_orders(events, (3, True, Counter()), Counter())
    assert len(finals) == 1  # even the hidden content of the removed fact does not depend on the order


@pytest.mark.parametrize("make", [afact, ffact])
def test_every_order_with_a_republication_after_removal_counts_it_once(make):
    r1, r2, r4 = make(1, student_id="s-9"), make(2), make(4, group_id="7C")
    events = [("add", r1), ("add", r2), ("remove", 3, r2), ("add", r4), ("add", r4)]
    cells = KINDS[type(r4)][0]
    finals = _check_all_orders(events, visible(r4), cells(r4))
    assert finals == {r4}


def test_random_orders_of_a_larger_log_agree():
    rng = random.Random(20261122)
    log, expected = [], Counter()
    for n in range(30):
        make, fid = (afact, uuid5(NS, f"a{n}")) if n % 2 else (ffact, uuid5(NS, f"f{n}"))
        id_kw = {"assessment_id": fid} if make is afact else {"forecast_id": fid}
        values = ("A", "C", "E") if make is afact else ("ACCEPTABLE", "MORE_THAN_ACCEPTABLE")
        revisions = [make(r, rng.choice(values), group_id=rng.choice(["7A", "7B", "8A"]),
                          school_unit_code=rng.choice(["12345678", "87654321"]), student_id=f"s-{n}",
                          gender=rng.choice(["female", "male"]), **id_kw) for r in range(1, rng.randint(2, 4))]
        log += [("add", fact) for fact in revisions]
        newest = revisions[-1]
        if n % 3 == 0:  # retracted/withdrawn: counts nothing
            log.append(("remove", newest.revision + 1, newest))
        else:
            expected.update(KINDS[type(newest)][0](newest))
    log += rng.sample(log, 20)  # re-deliveries

    reference, reference_total = apply(log)
    assert reference_total == expected
    for _ in range(200):
        order = rng.sample(log, len(log))
        facts, total = apply(order)
        assert total == expected
        assert facts == reference
    assert sum(f.revision for f in reference.values()) > len(reference)  # revisions did compete


def test_share():
    assert share(1, 3) == 0.3333
    assert share(0, 5) == 0.0
    assert share(0, 0) is None

"""Summing a batch's deltas per signature first, then expanding each signature once, equals summing
every fact's cells (`assessment_cells`/`forecast_cells`): for random batches of changes,
retractions and withdrawals included, with and without an area. (The figures' `_pass_cells` of a
signature equals the rules' cells per fact: `figures/test_apply_cells.py`.)"""

import random
from collections import Counter
from dataclasses import replace
from datetime import date

import pytest

from styrkedja_reporting.results.rules import (
    AssessmentFact,
    ForecastFact,
    assessment_cells,
    assessment_signature,
    forecast_cells,
    forecast_signature,
    signature_cells,
)

PLACEMENTS = [{}, {"29990001": "2999-north"}, {"29990001": "2999-north", "29990002": None}]


def _assessment(rng: random.Random, n: int) -> AssessmentFact:
    return AssessmentFact(
        f"a{n}", rng.randint(1, 3), rng.random() < 0.2, rng.choice(["2999", "2998"]),
        rng.choice(["29990001", "29990002"]), rng.choice(["7A", "9B"]), f"s-{rng.randint(1, 5)}",
        rng.choice(["female", "male", "unknown"]), rng.randint(7, 9), rng.choice(["GRGRMAT01", "GRGRENG01"]),
        "assessment", "AF", rng.choice(["A", "C", "F"]), "2026/27", rng.choice(["HT", "VT"]),
        rng.choice([1, 2, None]), rng.choice([date(2026, 10, 1), date(2026, 10, 2), None]))


def _forecast(rng: random.Random, n: int) -> ForecastFact:
    return ForecastFact(
        f"f{n}", rng.randint(1, 3), rng.random() < 0.2, "2999", rng.choice(["29990001", "29990002"]),
        rng.choice(["7A", "9B"]), f"s-{rng.randint(1, 5)}", rng.choice(["female", "male"]), 9, "GRGRMAT01",
        rng.choice(["ACCEPTABLE", "AT_RISK"]), "2026/27", "VT", rng.random() < 0.5)


def _pairs(rng: random.Random, make) -> list:
    pairs = []
    for n in range(200):
        old = make(rng, n) if rng.random() < 0.5 else None
        new = make(rng, n) if old is None or rng.random() < 0.7 else replace(old, revision=old.revision + 1)
        pairs.append((old, new))
    return pairs


def _by_signature(pairs, signature, placement) -> Counter:
    signed: Counter = Counter()
    for old, new in pairs:
        signed[signature(new)] += 1
        signed[signature(old)] -= 1
    signed.pop(None, None)
    out: Counter = Counter()
    for sig, n in signed.items():
        for key in signature_cells(sig, placement):
            out[key] += n
    return Counter({k: v for k, v in out.items() if v})


def _by_fact(pairs, cells, placement) -> Counter:
    out: Counter = Counter()
    for old, new in pairs:
        out.update(cells(new, placement))
        out.subtract(cells(old, placement))
    return Counter({k: v for k, v in out.items() if v})


@pytest.mark.parametrize("seed", range(5))
@pytest.mark.parametrize("placement", PLACEMENTS)
def test_results_deltas_per_signature_equal_per_fact(seed: int, placement: dict) -> None:
    rng = random.Random(seed)
    for make, cells, signature in ((_assessment, assessment_cells, assessment_signature),
                                   (_forecast, forecast_cells, forecast_signature)):
        pairs = _pairs(rng, make)
        expected = _by_fact(pairs, cells, placement)
        assert expected  # the batch moves something
        assert _by_signature(pairs, signature, placement) == expected


@pytest.mark.parametrize("seed", range(5))
def test_fact_maker_equals_the_dataclass(seed: int) -> None:
    """`fact_maker(cls)(*values)` is `cls(*values)`: equal, same hash and fields, frozen; fewer values go to
    `cls` itself (its defaults and its errors)."""
    from dataclasses import FrozenInstanceError, astuple

    from styrkedja_reporting.results.rules import fact_maker

    rng = random.Random(seed)
    for cls, fact in ((AssessmentFact, _assessment(rng, seed)), (ForecastFact, _forecast(rng, seed))):
        values = astuple(fact)
        made = fact_maker(cls)(*values)
        assert type(made) is cls and made == fact and hash(made) == hash(fact) and astuple(made) == values
        with pytest.raises(FrozenInstanceError):
            made.revision = 9  # type: ignore[misc]
        assert fact_maker(cls)(*values[:-1]) == cls(*values[:-1])  # the trailing default
        with pytest.raises(TypeError):
            fact_maker(cls)(*values[:3])

"""The live judgement keeps a `below_forecast` cell only when it can decide anything: `_below` (integers)
says `dipping` exactly when `judge_below_forecast` does, over a grid of tallies and thresholds."""

from __future__ import annotations

import itertools

from styrkedja_reporting.alerts.handlers import _below
from styrkedja_reporting.alerts.rules import Thresholds, Verdict, judge_below_forecast
from styrkedja_reporting.figures.forecast_outcome import ForecastTally


def test_below_is_the_dipping_verdict_of_judge_below_forecast():
    limits = [Thresholds.of(below_forecast_points=p, min_students=m)
              for p in ("0", "7.5", "10", "33.3333", "100") for m in (1, 3, 10)]
    dipping = 0
    for held, reaches_not, not_reached_did, no_outcome in itertools.product(range(0, 13, 3), range(0, 9, 2),
                                                                            range(0, 7, 3), (0, 2)):
        tally = ForecastTally(held=held, said_reaches_did_not=reaches_not, said_not_reached_did=not_reached_did,
                              no_outcome=no_outcome)
        for thresholds in limits:
            expected = judge_below_forecast(tally, thresholds).verdict is Verdict.dipping
            assert _below(tally, thresholds) is expected, (tally, thresholds)
            dipping += expected
    assert dipping > 0  # the grid has dipping cells: the check can fail
    assert _below(None, Thresholds()) is (judge_below_forecast(None, Thresholds()).verdict is Verdict.dipping)


def test_at_the_threshold_is_no_dip():
    # 10 forecasts with an outcome, 1 said reaches and did not: exactly 10 points below — not more
    limits = Thresholds.of(below_forecast_points="10", min_students=10)
    assert not _below(ForecastTally(held=9, said_reaches_did_not=1), limits)
    assert _below(ForecastTally(held=8, said_reaches_did_not=2), limits)

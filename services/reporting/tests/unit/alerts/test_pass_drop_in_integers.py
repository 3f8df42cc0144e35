"""The live judgement decides `pass_share_drop` per cell in integers (`_dips`) and makes the cell's
`Observation` (shares as fractions, figures) only where a decision needs it: the integer verdict must
be `judge_pass_drop`'s, for every pair of counts and every threshold."""

from fractions import Fraction
from itertools import product

from styrkedja_reporting.alerts.handlers import PassDrop, _dips, _judge_pass_drop
from styrkedja_reporting.alerts.rules import Thresholds, Verdict

COUNTS = [(a, r) for a in (0, 1, 2, 3, 9, 10, 11, 20, 40) for r in range(a + 1) if a <= 11 or r % 3 == 0 or r == a]
THRESHOLDS = [Thresholds(drop_points=Fraction(p), min_students=m)
              for p, m in product((Fraction(0), Fraction(10), Fraction(15, 2), Fraction(100), Fraction(1, 3)), (1, 10))]


def test_the_integer_verdict_is_judge_pass_drops_for_every_count_and_threshold():
    checked = dipping = 0
    for now, then, thresholds in product(COUNTS, COUNTS, THRESHOLDS):
        expected = _judge_pass_drop(now, then, thresholds).verdict is Verdict.dipping
        assert _dips(now, then, thresholds) is expected, (now, then, thresholds)
        checked += 1
        dipping += expected
    assert dipping > 100 and checked - dipping > 100  # both verdicts met, many times


def test_exactly_at_the_threshold_is_no_dip():
    # 40 of 40 reached the pass level before, 36 of 40 now: a drop of exactly 10 points
    limits = Thresholds(drop_points=Fraction(10))
    assert not _dips((40, 36), (40, 40), limits)
    assert _dips((40, 35), (40, 40), limits)
    drop = PassDrop((40, 35), (40, 40), limits, True)
    assert drop.observation().figures.change_points == -12.5

"""freshness_red: the period of the alert (the term the unit turned red in) and its boundaries."""

from datetime import date

import pytest

from styrkedja_reporting.alerts.rules import (
    Thresholds,
    Verdict,
    freshness_period,
    judge_freshness_in,
    red_from,
    term_of,
)
from styrkedja_reporting.figures.freshness import FreshnessBands
from styrkedja_reporting.figures.periods import SchoolYear, Term, TermPeriod
from styrkedja_reporting.figures.state import Multiset

VT27 = TermPeriod(SchoolYear(2026), Term.VT)
HT27 = TermPeriod(SchoolYear(2027), Term.HT)
DEFAULTS = Thresholds()


@pytest.mark.parametrize(("day", "period"), [
    (date(2027, 6, 30), VT27), (date(2027, 7, 1), HT27), (date(2027, 1, 1), VT27),
    (date(2026, 12, 31), TermPeriod(SchoolYear(2026), Term.HT))])
def test_term_of_a_day(day, period):
    assert term_of(day) == period


def test_red_from_the_day_after_eight_months():
    assert red_from(date(2026, 9, 30), FreshnessBands()) == date(2027, 5, 31)
    assert red_from(date(2026, 10, 31), FreshnessBands()) == date(2027, 7, 1)  # 30 June + 1: the next school year
    assert freshness_period(date(2026, 10, 31), FreshnessBands()) == HT27
    assert freshness_period(None, FreshnessBands()) is None


def judge(today, students=12, newest=date(2026, 9, 30), period=VT27, limits=DEFAULTS):
    return judge_freshness_in(period, Multiset.of(newest) if newest else None, students, today, limits)


def test_exactly_eight_months_is_yellow_the_day_after_red():
    assert judge(date(2027, 5, 30)).verdict is Verdict.fine
    red = judge(date(2027, 5, 31))
    assert red.verdict is Verdict.dipping
    assert (red.figures.newest_result_on, red.figures.age_days, red.figures.students) == (date(2026, 9, 30), 243, 12)


def test_minimum_students_at_the_boundary():
    assert judge(date(2027, 5, 31), students=10).verdict is Verdict.dipping
    assert judge(date(2027, 5, 31), students=9).verdict is Verdict.too_few_students
    assert judge(date(2027, 5, 31), newest=None).verdict is Verdict.no_data


def test_an_alert_of_another_term_is_no_dip_for_this_period():
    # still red, but red since VT: the HT alert of the same unit is not this stale episode
    assert judge(date(2027, 9, 1), period=HT27).verdict is Verdict.fine
    assert judge(date(2027, 9, 1), period=VT27).verdict is Verdict.dipping


def test_the_organisers_bands_move_the_boundary():
    limits = Thresholds(freshness=FreshnessBands(yellow_from_months=2, red_after_months=3))
    assert judge(date(2026, 12, 30), period=term_of(date(2026, 12, 31)), limits=limits).verdict is Verdict.fine
    assert judge(date(2026, 12, 31), period=term_of(date(2026, 12, 31)), limits=limits).verdict is Verdict.dipping

"""Dip alert rules on hand-made cells: thresholds exactly at and just past, cells just under the
minimum size, the stable id, and the state machine (raise once, acknowledge, resolve, reopen)."""

from datetime import UTC, date, datetime, timedelta
from fractions import Fraction

import pytest

from styrkedja_contracts.events.alert import AlertRule, ResolvedReason
from styrkedja_kit.rules import RuleViolation
from styrkedja_reporting.alerts.rules import (
    Action,
    AlertCell,
    Status,
    Thresholds,
    Verdict,
    acknowledge,
    alert_id,
    evaluate,
    judge_below_forecast,
    judge_freshness,
    judge_pass_drop,
    needs_evaluation,
    thresholds_for,
)
from styrkedja_reporting.figures.forecast_outcome import ForecastTally
from styrkedja_reporting.figures.pass_share import PassTally
from styrkedja_reporting.figures.periods import RoundPeriod, SchoolYear, Term, TermPeriod
from styrkedja_reporting.figures.state import Multiset

VT27 = TermPeriod(SchoolYear(2026), Term.VT)
NOW = datetime(2027, 3, 30, 10, 0, tzinfo=UTC)
CELL = AlertCell("2999", ("school_unit", "29990011"), "GRGRMAT01", 9, VT27)
DEFAULT = Thresholds()


def tally(assessed: int, reaching: int) -> PassTally:
    # split over genders, so the rule is shown to read the totals
    return PassTally(assessed_female=assessed // 2, reaching_female=reaching // 2,
                     assessed_male=assessed - assessed // 2, reaching_male=reaching - reaching // 2)


# --- thresholds -------------------------------------------------------------------------------

def test_default_thresholds_and_per_organiser():
    assert (DEFAULT.drop_points, DEFAULT.below_forecast_points, DEFAULT.min_students) == (10, 10, 10)
    mine = Thresholds.of(drop_points="7.5", min_students=20)
    assert mine.drop_points == Fraction(15, 2)
    assert thresholds_for("2999", {"2999": mine}) is mine
    assert thresholds_for("1480", {"2999": mine}) == DEFAULT


@pytest.mark.parametrize(("kwargs", "field"), [({"drop_points": -1}, "drop_points"),
                                               ({"below_forecast_points": 101}, "below_forecast_points"),
                                               ({"min_students": 0}, "min_students"),
                                               ({"drop_points": "tio"}, "drop_points"),
                                               ({"drop_points": float("nan")}, "drop_points"),
                                               ({"below_forecast_points": float("inf")}, "below_forecast_points")])
def test_threshold_rules(kwargs, field):
    with pytest.raises(RuleViolation) as error:
        Thresholds.of(**kwargs)
    assert error.value.field == field


# --- pass share drop --------------------------------------------------------------------------

@pytest.mark.parametrize(("now", "then", "verdict"), [
    (tally(10, 7), tally(10, 8), Verdict.fine),  # exactly 10 points (0.8 − 0.7 is 0.1000…01 in floats)
    (tally(10, 6), tally(10, 8), Verdict.dipping),  # 20 points
    (tally(20, 14), tally(20, 16), Verdict.fine),  # exactly 10
    (tally(20, 13), tally(20, 16), Verdict.dipping),  # 15
    (tally(10, 10), tally(10, 5), Verdict.fine),  # a rise
    (tally(9, 0), tally(10, 10), Verdict.too_few_students),  # just under the minimum now …
    (tally(10, 0), tally(9, 9), Verdict.too_few_students),  # … or in the period compared with
    (tally(10, 0), tally(10, 10), Verdict.dipping),  # exactly the minimum is judged
    (tally(10, 5), None, Verdict.no_data),
    (None, tally(10, 5), Verdict.no_data),
])
def test_pass_share_drop(now, then, verdict):
    observation = judge_pass_drop(now, then, DEFAULT)
    assert observation.rule is AlertRule.pass_share_drop
    assert observation.verdict is verdict


def test_pass_share_drop_with_an_organisers_threshold_and_its_figures():
    mine = Thresholds.of(drop_points="7.5")
    assert judge_pass_drop(tally(40, 29), tally(40, 32), mine).verdict is Verdict.fine  # exactly 7.5
    dipping = judge_pass_drop(tally(40, 28), tally(40, 32), mine)
    assert dipping.verdict is Verdict.dipping
    f = dipping.figures
    assert (f.students, f.compared_students, f.share, f.compared_share, f.change_points, f.threshold_points) == (
        40, 40, 0.7, 0.8, -10.0, 7.5)


# --- below forecast ---------------------------------------------------------------------------

@pytest.mark.parametrize(("t", "verdict", "points"), [
    (ForecastTally(held=8, said_reaches_did_not=2), Verdict.dipping, -20.0),
    (ForecastTally(held=9, said_reaches_did_not=1), Verdict.fine, -10.0),  # exactly Y
    (ForecastTally(held=7, said_reaches_did_not=2, said_not_reached_did=1), Verdict.fine, -10.0),  # net
    (ForecastTally(held=17, said_reaches_did_not=3), Verdict.dipping, -15.0),
    (ForecastTally(held=1, said_reaches_did_not=8), Verdict.too_few_students, -88.89),  # 9 with an outcome
    (ForecastTally(held=1, said_reaches_did_not=8, no_outcome=50), Verdict.too_few_students, -88.89),
    (ForecastTally(no_outcome=30), Verdict.no_data, None),
    (ForecastTally(held=5, said_not_reached_did=5), Verdict.fine, 50.0),  # better than forecast
])
def test_below_forecast(t, verdict, points):
    observation = judge_below_forecast(t, DEFAULT)
    assert (observation.rule, observation.verdict, observation.figures.change_points) == (
        AlertRule.below_forecast, verdict, points)


# --- freshness ----------------------------------------------------------------------------------

TODAY = date(2027, 3, 30)


@pytest.mark.parametrize(("newest", "students", "verdict"), [
    (date(2026, 7, 29), 10, Verdict.dipping),  # older than 8 months: red
    (date(2026, 7, 30), 10, Verdict.fine),  # exactly 8 months: yellow
    (date(2027, 3, 1), 10, Verdict.fine),
    (date(2026, 1, 1), 9, Verdict.too_few_students),
    (None, 10, Verdict.no_data),
])
def test_freshness_red(newest, students, verdict):
    dates = Multiset.of(newest, date(2025, 1, 1)) if newest else Multiset()
    observation = judge_freshness(dates, students, TODAY, DEFAULT)
    assert observation.verdict is verdict
    if newest:
        assert (observation.figures.newest_result_on, observation.figures.age_days) == (newest, (TODAY - newest).days)


# --- stable id ----------------------------------------------------------------------------------

def test_same_cell_period_and_rule_give_the_same_id():
    again = AlertCell("2999", ("school_unit", "29990011"), "GRGRMAT01", 9, TermPeriod(SchoolYear(2026), Term.VT))
    assert alert_id(again, AlertRule.pass_share_drop) == alert_id(CELL, AlertRule.pass_share_drop)
    others = [alert_id(CELL, AlertRule.below_forecast),
              alert_id(AlertCell("2999", ("group", "29990011"), "GRGRMAT01", 9, VT27), AlertRule.pass_share_drop),
              alert_id(AlertCell("2999", ("school_unit", "29990011"), "GRGRMAT01", None, VT27),
                       AlertRule.pass_share_drop),
              alert_id(AlertCell("2999", ("school_unit", "29990011"), "GRGRMAT01", 9, VT27.previous()),
                       AlertRule.pass_share_drop),
              alert_id(AlertCell("2999", ("school_unit", "29990011"), "GRGRMAT01", 9, RoundPeriod(SchoolYear(2026), 3)),
                       AlertRule.pass_share_drop)]
    assert len({*others, alert_id(CELL, AlertRule.pass_share_drop)}) == 6


def test_alerts_only_at_the_four_levels():
    for level in ("group", "school_unit", "area", "organiser"):
        AlertCell("2999", (level, "x"), None, None, VT27)
    with pytest.raises(RuleViolation):
        AlertCell("2999", ("nation", "SE"), None, None, VT27)


# --- the state machine ---------------------------------------------------------------------------

DIP = judge_pass_drop(tally(20, 10), tally(20, 16), DEFAULT)
FINE = judge_pass_drop(tally(20, 15), tally(20, 16), DEFAULT)
FEW = judge_pass_drop(tally(9, 0), tally(20, 16), DEFAULT)


def test_a_dip_raises_one_open_alert_with_the_stable_id():
    decision = evaluate(CELL, DIP, None, NOW)
    assert decision.action is Action.raise_
    alert = decision.alert
    assert alert is not None
    assert (alert.alert_id, alert.status, alert.episode, alert.figures) == (
        alert_id(CELL, AlertRule.pass_share_drop), Status.open, 1, DIP.figures)
    assert evaluate(CELL, DIP, alert, NOW).action is Action.nothing  # still dipping: not raised again


def test_acknowledge_then_recover():
    alert = evaluate(CELL, DIP, None, NOW).alert
    assert alert is not None
    acked = acknowledge(alert, "  Rektor informerad, extra stöd i matematik  ", by="u-17", now=NOW)
    assert (acked.status, acked.comment, acked.acknowledged_by) == (
        Status.acknowledged, "Rektor informerad, extra stöd i matematik", "u-17")
    assert evaluate(CELL, DIP, acked, NOW).action is Action.nothing  # dips further: stays acknowledged
    resolved = evaluate(CELL, FINE, acked, NOW + timedelta(days=30))
    assert resolved.action is Action.resolve and resolved.alert is not None
    assert (resolved.alert.status, resolved.alert.resolved_reason) == (Status.resolved, ResolvedReason.recovered)
    assert evaluate(CELL, FINE, resolved.alert, NOW).action is Action.nothing


def test_a_dip_after_recovery_reopens_the_same_alert():
    first = evaluate(CELL, DIP, None, NOW).alert
    assert first is not None
    resolved = evaluate(CELL, FINE, acknowledge(first, "ok", "u-1", NOW), NOW).alert
    assert resolved is not None
    again = evaluate(CELL, DIP, resolved, NOW + timedelta(days=60))
    assert again.action is Action.raise_ and again.alert is not None
    assert (again.alert.alert_id, again.alert.episode, again.alert.status, again.alert.comment) == (
        first.alert_id, 2, Status.open, None)


def test_a_cell_no_longer_judged_resolves_and_never_raises():
    alert = evaluate(CELL, DIP, None, NOW).alert
    shrunk = evaluate(CELL, FEW, alert, NOW)
    assert shrunk.action is Action.resolve and shrunk.alert is not None
    assert shrunk.alert.resolved_reason is ResolvedReason.too_few_students
    assert evaluate(CELL, FEW, None, NOW).action is Action.nothing
    assert evaluate(CELL, FINE, None, NOW).action is Action.nothing


def test_a_rebuild_evaluated_on_the_final_state_raises_nothing_new():
    """Live: alerts evaluated per batch against the stored alert. A replay changes no state (its
    events are deduplicated before any evaluation); a rebuild evaluates once, on the final state,
    against the same stored alerts — so nothing is raised twice."""
    store: dict = {}

    def apply(observation):
        decision = evaluate(CELL, observation, store.get(alert_id(CELL, observation.rule)), NOW)
        if decision.alert is not None:
            store[decision.alert.alert_id] = decision.alert
        return decision.action

    assert [apply(o) for o in (DIP, DIP, FINE, DIP)] == [Action.raise_, Action.nothing, Action.resolve, Action.raise_]
    assert apply(DIP) is Action.nothing  # the rebuild's final state: still dipping, already open
    assert apply(DIP) is Action.nothing  # and a second rebuild
    assert len(store) == 1 and next(iter(store.values())).episode == 2


def test_evaluate_refuses_another_cells_alert():
    alert = evaluate(CELL, DIP, None, NOW).alert
    other = AlertCell("2999", ("group", "g1"), "GRGRMAT01", 9, VT27)
    with pytest.raises(ValueError):
        evaluate(other, DIP, alert, NOW)
    with pytest.raises(ValueError):
        evaluate(CELL, judge_below_forecast(ForecastTally(held=10), DEFAULT), alert, NOW)


@pytest.mark.parametrize(("comment", "rule"), [("", "comment_required"), ("   ", "comment_required"),
                                               ("x" * 2001, "comment_length"),
                                               ("Ring förälder till 19900101-0017", "no_personal_identity_number")])
def test_acknowledge_needs_a_proper_comment(comment, rule):
    alert = evaluate(CELL, DIP, None, NOW).alert
    assert alert is not None
    with pytest.raises(RuleViolation) as error:
        acknowledge(alert, comment, "u-1", NOW)
    assert (error.value.field, error.value.rule) == ("comment", rule)


def test_a_resolved_alert_cannot_be_acknowledged():
    alert = evaluate(CELL, DIP, None, NOW).alert
    resolved = evaluate(CELL, FINE, alert, NOW).alert
    assert resolved is not None
    with pytest.raises(RuleViolation) as error:
        acknowledge(resolved, "för sent", "u-1", NOW)
    assert error.value.status == 409


def test_needs_evaluation():
    assert needs_evaluation(None, FINE)
    assert needs_evaluation(FINE, DIP)
    assert not needs_evaluation(DIP, judge_pass_drop(tally(20, 9), tally(20, 16), DEFAULT))

"""Reporting windows, lateness and revision decisions of forecasts (pure rules)."""

from datetime import UTC, date, datetime

import pytest

from styrkedja_contracts.identifiers import Term
from styrkedja_forecast.forecasts.rules import (
    Current,
    Decision,
    WindowConfig,
    check_value,
    decide_submit,
    decide_withdraw,
    evaluate_window,
    window_deadline,
    window_year,
)
from styrkedja_kit.rules import RuleViolation

UTC = UTC


def test_term_calendar_year():
    assert window_year("2026/27", Term.HT) == 2026
    assert window_year("2026/27", "VT") == 2027
    assert window_year("2099/00", Term.VT) == 2100


def test_default_deadlines_are_friday_of_week_43_and_13():
    assert window_deadline("2026/27", Term.HT) == date(2026, 10, 23)  # Friday, ISO week 43 of 2026
    assert window_deadline("2026/27", Term.VT) == date(2027, 4, 2)    # Friday, ISO week 13 of 2027
    assert window_deadline("2025/26", Term.VT) == date(2026, 3, 27)
    for d in (window_deadline("2026/27", Term.HT), window_deadline("2026/27", Term.VT)):
        assert d.isoweekday() == 5


def test_grace_days_and_own_weeks_move_the_deadline():
    config = WindowConfig(weeks={Term.VT: 12, Term.HT: 44}, grace_days=3)
    assert window_deadline("2026/27", Term.HT, config) == date(2026, 11, 2)  # Fri 30 Oct + 3
    assert window_deadline("2026/27", Term.VT, config) == date(2027, 3, 29)  # Fri 26 Mar + 3
    assert window_deadline("2026/27", Term.HT, WindowConfig(deadline_weekday=7)) == date(2026, 10, 25)


def test_on_time_until_midnight_stockholm_time_on_the_deadline():
    # 23 Oct 2026 is summer time in Sweden (UTC+2)
    assert not evaluate_window("2026/27", Term.HT, datetime(2026, 10, 23, 21, 59, 59, tzinfo=UTC)).late
    status = evaluate_window("2026/27", Term.HT, datetime(2026, 10, 23, 22, 0, tzinfo=UTC))
    assert status.late and status.deadline == date(2026, 10, 23)


def test_early_forecasts_are_on_time_and_late_ones_flagged_not_refused():
    assert not evaluate_window("2026/27", Term.VT, datetime(2026, 12, 1, tzinfo=UTC)).late
    status = evaluate_window("2026/27", Term.VT, datetime(2027, 6, 10, tzinfo=UTC))
    assert status.late and status.deadline == date(2027, 4, 2)


def test_grace_days_keep_a_forecast_on_time():
    received = datetime(2026, 10, 25, 12, tzinfo=UTC)  # Sunday after the window
    assert evaluate_window("2026/27", Term.HT, received).late
    assert not evaluate_window("2026/27", Term.HT, received, WindowConfig(grace_days=2)).late


def test_naive_time_is_refused():
    with pytest.raises(ValueError):
        evaluate_window("2026/27", Term.HT, datetime(2026, 10, 1))


@pytest.mark.parametrize("kwargs", [{"weeks": {Term.VT: 13, Term.HT: 53}}, {"weeks": {Term.VT: 13}},
                                    {"deadline_weekday": 0}, {"grace_days": -1}, {"timezone": "Mars/Olympus"}])
def test_bad_window_config_is_refused(kwargs):
    with pytest.raises((ValueError, KeyError)):  # an unknown zone is a ZoneInfoNotFoundError (a KeyError)
        WindowConfig(**kwargs)


def test_value_must_be_on_the_three_level_scale():
    for value in ("NOT_REACHED", "ACCEPTABLE", "MORE_THAN_ACCEPTABLE"):
        check_value(value)
    with pytest.raises(RuleViolation) as caught:
        check_value("E")
    assert (caught.value.field, caught.value.rule) == ("value", "value_on_scale")


def _current(revision=1, withdrawn=False, value="ACCEPTABLE"):
    return Current(revision, withdrawn, {"value": value}, False, date(2026, 10, 23))


def test_first_submission_takes_revision_one_or_the_given_one():
    assert decide_submit(None, None, {"value": "ACCEPTABLE"}) == (Decision.APPLY, 1)
    assert decide_submit(None, 4, {"value": "ACCEPTABLE"}) == (Decision.APPLY, 4)


def test_identical_resend_is_idempotent():
    assert decide_submit(_current(2), None, {"value": "ACCEPTABLE"}) == (Decision.ALREADY_DONE, 2)
    assert decide_submit(_current(2), 2, {"value": "ACCEPTABLE"}) == (Decision.ALREADY_DONE, 2)


def test_changed_value_takes_the_next_revision():
    assert decide_submit(_current(2), None, {"value": "NOT_REACHED"}) == (Decision.APPLY, 3)
    assert decide_submit(_current(2), 5, {"value": "NOT_REACHED"}) == (Decision.APPLY, 5)


def test_resubmission_after_withdrawal_names_a_revision_above_it():
    assert decide_submit(_current(3, withdrawn=True), 4, {"value": "ACCEPTABLE"}) == (Decision.APPLY, 4)
    for late in (None, 2, 3):  # a late or re-sent submission must not resurrect it
        with pytest.raises(RuleViolation) as caught:
            decide_submit(_current(3, withdrawn=True), late, {"value": "ACCEPTABLE"})
        assert (caught.value.rule, caught.value.status) == ("removed_needs_revision", 409)


@pytest.mark.parametrize("requested", [1, 2])
def test_explicit_revision_not_above_the_stored_conflicts(requested):
    with pytest.raises(RuleViolation) as caught:
        decide_submit(_current(2), requested, {"value": "NOT_REACHED"})
    assert (caught.value.field, caught.value.rule, caught.value.status) == ("revision", "revision_must_increase", 409)


def test_withdraw():
    with pytest.raises(RuleViolation) as caught:
        decide_withdraw(None, None)
    assert caught.value.status == 404 and caught.value.field == "forecast_id"
    assert decide_withdraw(_current(2), None) == (Decision.APPLY, 3)
    assert decide_withdraw(_current(2), 7) == (Decision.APPLY, 7)
    with pytest.raises(RuleViolation) as caught:
        decide_withdraw(_current(2), 2)
    assert caught.value.status == 409


def test_withdraw_again_is_idempotent():
    assert decide_withdraw(_current(3, withdrawn=True), None) == (Decision.ALREADY_DONE, 3)
    assert decide_withdraw(_current(3, withdrawn=True), 3) == (Decision.ALREADY_DONE, 3)
    assert decide_withdraw(_current(3, withdrawn=True), 9) == (Decision.ALREADY_DONE, 3)
    with pytest.raises(RuleViolation):
        decide_withdraw(_current(3, withdrawn=True), 2)

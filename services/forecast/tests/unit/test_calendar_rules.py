"""Årshjul rules of the forecast service: deciding a PUT, and the late flag by the organiser's calendar."""

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from styrkedja_contracts.calendar import DEFAULT_CALENDAR
from styrkedja_contracts.events.calendar import ForecastWindow, ReportingCalendar
from styrkedja_contracts.identifiers import Term
from styrkedja_forecast.calendar.rules import StoredCalendar, calendar_of_config, decide_set, forecast_lateness
from styrkedja_forecast.forecasts.rules import WindowConfig, evaluate_window
from styrkedja_kit.rules import RuleViolation

OWN = ReportingCalendar(forecast_windows=(ForecastWindow(term=Term.HT, iso_week=44),
                                          ForecastWindow(term=Term.VT, iso_week=12, deadline_weekday=4)),
                        grace_days=3)


def test_the_service_defaults_are_the_contracts_defaults():
    assert calendar_of_config(WindowConfig()) == DEFAULT_CALENDAR


def test_first_put_is_revision_1_and_the_same_again_is_unchanged():
    assert decide_set(None, OWN, None) == (first := decide_set(None, OWN, 1))
    assert first.store and first.revision == 1
    again = decide_set(StoredCalendar(1, OWN), OWN, None)
    assert not again.store and again.revision == 1
    assert decide_set(StoredCalendar(1, OWN), OWN, 1).store is False  # naming the current one: unchanged too


def test_a_change_is_the_next_revision_and_a_stale_revision_is_a_409():
    changed = decide_set(StoredCalendar(3, OWN), DEFAULT_CALENDAR, None)
    assert changed.store and changed.revision == 4
    assert decide_set(StoredCalendar(3, OWN), DEFAULT_CALENDAR, 4).revision == 4
    for stale in (3, 5, 1):
        with pytest.raises(RuleViolation) as error:
            decide_set(StoredCalendar(3, OWN), DEFAULT_CALENDAR, stale)
        assert (error.value.field, error.value.rule, error.value.status) == ("revision", "next_revision", 409)


def test_a_reset_to_the_defaults_is_a_change_too():
    assert decide_set(StoredCalendar(1, OWN), DEFAULT_CALENDAR, None).store


STOCKHOLM = ZoneInfo("Europe/Stockholm")  # summer time from 02:00 on Sunday 28 March 2027


@pytest.mark.parametrize(("received", "late"), [
    (datetime(2027, 3, 28, 23, 59, 59, tzinfo=STOCKHOLM), False),  # Thu of week 12 + 3 grace days = Sun 28 Mar
    (datetime(2027, 3, 29, 0, 0, 0, tzinfo=STOCKHOLM), True),      # the next local day
    (datetime(2027, 3, 28, 21, 59, 59, tzinfo=UTC), False),        # = 23:59:59 CEST, still Sunday in Stockholm
    (datetime(2027, 3, 28, 22, 0, 0, tzinfo=UTC), True),           # = Monday 00:00 CEST: late, though Sunday in UTC
    (datetime(2026, 1, 1, tzinfo=UTC), False),                     # early is on time
])
def test_late_flag_by_the_organisers_calendar_at_its_boundary(received, late):
    found = forecast_lateness("2026/27", "VT", received, OWN)
    assert found.deadline == date(2027, 3, 28)
    assert found.late is late


def test_late_flag_equals_the_old_window_rule_for_the_defaults():
    config = WindowConfig(grace_days=2)
    for day in range(-3, 5):
        moment = datetime(2026, 10, 23, 12, tzinfo=UTC) + timedelta(days=day)
        old = evaluate_window("2026/27", Term.HT, moment, config)
        new = forecast_lateness("2026/27", Term.HT, moment, calendar_of_config(config))
        assert (old.deadline, old.late) == (new.deadline, new.late)

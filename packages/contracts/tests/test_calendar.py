"""Årshjul: deadlines, grace days, the local calendar day, defaults, and the calendar event."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime

import pytest
from pydantic import ValidationError

from styrkedja_contracts import decode_event, example_bytes, topic_for_event_type
from styrkedja_contracts.calendar import (
    DEFAULT_CALENDAR,
    ReportingCalendar,
    Timeliness,
    calendar_for,
    forecast_window,
    is_forecast_late,
    is_late,
    newest,
    round_window,
    term_year,
    timeliness,
)
from styrkedja_contracts.events.calendar import CalendarChangedV1

TYPE = "se.styrkedja.calendar.changed.v1"


def calendar(**overrides) -> ReportingCalendar:
    return ReportingCalendar.model_validate(json.loads(example_bytes(TYPE))["data"]["calendar"] | overrides)


def test_term_year():
    assert term_year("2026/27", "HT") == 2026
    assert term_year("2026/27", "VT") == 2027


def test_default_windows_are_week_43_and_13_friday():
    ht, vt = forecast_window("2026/27", "HT"), forecast_window("2026/27", "VT")
    assert (ht.opens, ht.deadline) == (date(2026, 10, 19), date(2026, 10, 23))
    assert (vt.opens, vt.deadline) == (date(2027, 3, 29), date(2027, 4, 2))
    assert ht.timezone == "Europe/Stockholm"
    assert round_window("2026/27", 1) is None  # no round deadlines until the organiser sets them


def test_grace_days_move_the_deadline():
    cal = calendar()  # HT week 44 Friday, VT week 12 Thursday, 3 grace days
    assert forecast_window("2026/27", "HT", cal).deadline == date(2026, 11, 2)  # Fri 30 Oct + 3
    assert forecast_window("2026/27", "VT", cal).deadline == date(2027, 3, 25 + 3)
    assert round_window("2026/27", 1, cal).deadline == date(2026, 11, 20 + 3)
    assert round_window("2026/27", 3, cal).deadline == date(2027, 4, 23 + 3)
    assert round_window("2026/27", 2, cal) is None


def test_late_is_decided_by_the_local_calendar_day():
    window = forecast_window("2026/27", "HT")  # deadline Friday 23 Oct 2026, CEST (UTC+2)
    last_second = datetime(2026, 10, 23, 21, 59, 59, tzinfo=UTC)  # 23:59:59 in Stockholm
    first_late = datetime(2026, 10, 23, 22, 0, 0, tzinfo=UTC)  # 00:00 on the 24th
    assert not is_late(last_second, window) and timeliness(last_second, window) is Timeliness.on_time
    assert is_late(first_late, window) and timeliness(first_late, window) is Timeliness.late
    assert not is_late(datetime(2026, 8, 1, tzinfo=UTC), window)  # early is on time
    assert not is_late(datetime(2030, 1, 1, tzinfo=UTC), None)  # no deadline, never late
    with pytest.raises(ValueError, match="timezone-aware"):
        is_late(datetime(2026, 10, 23, 12, 0), window)


@pytest.mark.parametrize(("received", "late"), [
    # deadline Sunday 25 October 2026 (Friday of week 43 + 2 grace days): a day of 25 hours in Sweden, 02:00-03:00 twice
    ("2026-10-25T02:30:00+02:00", False), ("2026-10-25T02:30:00+01:00", False),  # the repeated hour, both times
    ("2026-10-25T23:59:59.999999+01:00", False), ("2026-10-25T22:59:59.999999Z", False),
    ("2026-10-25T23:00:00Z", True), ("2026-10-26T00:00:00+01:00", True),
    ("2026-10-26T12:59:59.999999+14:00", False), ("2026-10-26T13:00:00+14:00", True),  # one instant, another offset
    ("2026-10-25T10:59:59.999999-12:00", False), ("2026-10-25T11:00:00-12:00", True),
])
def test_the_deadline_day_ends_at_midnight_in_sweden_on_a_day_of_25_hours(received: str, late: bool) -> None:
    """Round 28t: the last on-time moment is 23:59:59.999999 Swedish time whatever the day's length (the end of
    summer time) and whatever offset the moment is written in; the repeated hour is on time both times."""
    window = forecast_window("2026/27", "HT", DEFAULT_CALENDAR.model_copy(update={"grace_days": 2}))
    assert window.deadline == date(2026, 10, 25)
    assert is_late(datetime.fromisoformat(received), window) is late


def test_defaults_until_the_organiser_sets_its_own():
    mine = calendar()
    friday_after = datetime(2026, 10, 30, 12, tzinfo=UTC)  # late by the defaults, on time by week 44
    assert is_forecast_late(friday_after, "2026/27", "HT", calendar_for("1480", {"2999": mine}))
    assert not is_forecast_late(friday_after, "2026/27", "HT", calendar_for("2999", {"2999": mine}))
    assert calendar_for("2999", {}) is DEFAULT_CALENDAR
    assert calendar_for("2999", {"2999": mine}) is mine
    assert calendar_for("1480", {"2999": mine}) is DEFAULT_CALENDAR


@pytest.mark.parametrize("overrides", [
    {"forecast_windows": [{"term": "HT", "iso_week": 43}, {"term": "HT", "iso_week": 44}]},
    {"forecast_windows": [{"term": "HT", "iso_week": 43}]},
    {"forecast_windows": [{"term": "HT", "iso_week": 53}, {"term": "VT", "iso_week": 13}]},
    {"forecast_windows": [{"term": "HT", "iso_week": 43, "deadline_weekday": 8}, {"term": "VT", "iso_week": 13}]},
    {"grace_days": 61},
    {"grace_days": -1},
    {"timezone": "Mars/Olympus"},
    {"round_deadlines": [{"round": 1, "term": "HT", "iso_week": 45}, {"round": 1, "term": "VT", "iso_week": 15}]},
    {"round_deadlines": [{"round": 5, "term": "HT", "iso_week": 45}]},
])
def test_calendar_rules(overrides):
    with pytest.raises(ValidationError):
        calendar(**overrides)


def test_the_example_decodes_and_travels_with_the_forecasts():
    event = decode_event(example_bytes(TYPE))
    assert isinstance(event.data, CalendarChangedV1)
    assert event.data.calendar.grace_days == 3
    assert topic_for_event_type(TYPE).name == "styrkedja.forecasts"


def test_only_the_newest_revision_counts():
    data = json.loads(example_bytes(TYPE))["data"]
    v2 = CalendarChangedV1.model_validate(data)
    v3 = CalendarChangedV1.model_validate(data | {"revision": 3, "calendar": {}})
    assert newest(None, v2) is v2
    assert newest(v2, v3) is v3
    assert newest(v3, v2) is v3  # an older revision arriving late changes nothing
    assert newest(v3, v3) is v3
    assert v3.calendar == DEFAULT_CALENDAR  # a reset sends the defaults
    with pytest.raises(ValueError, match="different organisers"):
        newest(v3, CalendarChangedV1.model_validate(data | {"organiser_id": "1480", "revision": 9}))


@pytest.mark.parametrize("term", ["HT", "VT"])
def test_a_window_ending_past_the_last_date_ends_on_it(term):
    """The last school year taken (9998/99), every window in week 52 and the most grace days: the spring
    deadline falls in year 10000. Failed on the old code: OverflowError (a forecast's 500). Now `date.max`,
    which judges every date a submission can carry as on time, as the true deadline would."""
    late_windows = calendar(grace_days=60, forecast_windows=[{"term": "HT", "iso_week": 52},
                                                             {"term": "VT", "iso_week": 52}],
                            round_deadlines=[{"round": 4, "term": "VT", "iso_week": 52}])
    window = forecast_window("9998/99", term, late_windows)
    assert window.opens == date.fromisocalendar(9998 if term == "HT" else 9999, 52, 1)
    assert window.deadline == (date(9999, 2, 23) if term == "HT" else date.max)
    assert is_late(datetime(9999, 12, 31, 22, 59, tzinfo=UTC), window) is (term == "HT")
    assert round_window("9998/99", 4, late_windows).deadline == date.max


@pytest.mark.parametrize("zone", ["localtime", "posixrules", "Factory", "right/UTC", "right/Europe/Stockholm",
                                  "posix/Europe/Stockholm"])
def test_a_zone_file_that_names_no_iana_zone_is_refused(zone: str) -> None:
    """Failed on the old code (`ZoneInfo` loads them): `localtime` links to the host's own zone, so an organiser's
    deadlines (and every forecast's lateness) fell on the days of whichever host, replica or rebuild read the
    calendar; `right/…` counts leap seconds (every time 27 s off), `posix/…` copies the zones, `posixrules` and
    `Factory` are no place's time."""
    from styrkedja_contracts.events.calendar import ReportingCalendar

    with pytest.raises(ValidationError, match="not a known IANA time zone"):
        ReportingCalendar(timezone=zone)
    assert ReportingCalendar(timezone="Europe/Stockholm").timezone == "Europe/Stockholm"
    assert ReportingCalendar(timezone="UTC").timezone == "UTC"

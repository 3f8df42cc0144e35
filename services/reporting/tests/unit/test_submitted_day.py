"""A forecast's `submitted_on` is its day in Sweden (`results.rules.submitted_day`), the calendar results'
`assessed_on` is written in: at midnight, across both DST changes and at the turn of the school year (round 28t)."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone

import pytest

from styrkedja_reporting.figures.forecast_outcome import is_candidate
from styrkedja_reporting.results.rules import submitted_day


@pytest.mark.parametrize(("moment", "day"), [
    # 00:30 in Sweden is the day before in UTC: winter (UTC+1) and summer (UTC+2)
    (datetime(2026, 11, 15, 23, 30, tzinfo=UTC), date(2026, 11, 16)),
    (datetime(2026, 9, 14, 22, 30, tzinfo=UTC), date(2026, 9, 15)),
    # 30 June 23:59:59.999999 and 1 July 00:00 in Sweden: 21:59:59.999999 and 22:00 UTC on 30 June
    (datetime(2027, 6, 30, 21, 59, 59, 999999, tzinfo=UTC), date(2027, 6, 30)),
    (datetime(2027, 6, 30, 22, 0, tzinfo=UTC), date(2027, 7, 1)),
    # the last Sunday of March 2027 (28th) has no 02:00-03:00; of October 2026 (25th) has it twice
    (datetime(2027, 3, 27, 23, 30, tzinfo=UTC), date(2027, 3, 28)),  # 00:30 CET
    (datetime(2027, 3, 28, 21, 59, tzinfo=UTC), date(2027, 3, 28)),  # 23:59 CEST: the day had 23 hours
    (datetime(2027, 3, 28, 22, 0, tzinfo=UTC), date(2027, 3, 29)),
    (datetime(2026, 10, 25, 0, 30, tzinfo=UTC), date(2026, 10, 25)),  # 02:30 CEST, the first time
    (datetime(2026, 10, 25, 1, 30, tzinfo=UTC), date(2026, 10, 25)),  # 02:30 CET, the second time
    (datetime(2026, 10, 25, 22, 59, tzinfo=UTC), date(2026, 10, 25)),  # 23:59 CET: the day had 25 hours
    (datetime(2026, 10, 25, 23, 0, tzinfo=UTC), date(2026, 10, 26)),
    # 31 December / 1 January, and a leap day
    (datetime(2026, 12, 31, 23, 0, tzinfo=UTC), date(2027, 1, 1)),
    (datetime(2028, 2, 28, 23, 0, tzinfo=UTC), date(2028, 2, 29)),
])
def test_a_forecasts_day_is_its_day_in_sweden(moment: datetime, day: date) -> None:
    """Failed on the old code for each case whose UTC day is another (UTC's day was taken)."""
    assert submitted_day(moment) == day
    for hours in (-12, 0, 5.75, 14):  # the same instant in any offset is the same day
        assert submitted_day(moment.astimezone(timezone(timedelta(hours=hours)))) == day


class _Forecast:
    student_id, subject_code, school_year, term = "s-1", "GRGRMAT01", "2026/27", "HT"


class _Result(_Forecast):
    def __init__(self, assessed_on: date) -> None:
        self.assessed_on = assessed_on


def test_a_result_of_the_day_a_forecast_was_sent_in_sweden_is_no_later_outcome() -> None:
    """A forecast sent at 00:30 on 16 November in Sweden, a result assessed on 16 November: the same day, so the result
    is no later outcome of it (`is_candidate`: strictly after). Failed on the old code: the forecast's day was 15
    November (UTC's) and the result counted as its outcome."""
    forecast = _Forecast()
    forecast.submitted_on = submitted_day(datetime(2026, 11, 15, 23, 30, tzinfo=UTC))  # type: ignore[attr-defined]
    assert not is_candidate(forecast, _Result(date(2026, 11, 16)))  # type: ignore[arg-type]
    assert is_candidate(forecast, _Result(date(2026, 11, 17)))  # type: ignore[arg-type]

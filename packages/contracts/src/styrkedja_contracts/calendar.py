"""Årshjul rules: deadlines and lateness by an organiser's reporting calendar. Pure: no I/O.

One place for both the forecast service (the `late` flag of a submission, decided at write time)
and reporting (compliance lists: reported, reported late, missing), so they cannot disagree.

Rules (the forecast service's since the start, now shared):

* A term's forecast window is an ISO week of the term's calendar year: HT in the school year's
  first calendar year, VT in its second — for `2026/27` with the defaults HT → week 43 of 2026 and
  VT → week 13 of 2027. The deadline is the window's `deadline_weekday` (default Friday) plus
  `grace_days` calendar days: the last on-time day.
* A window's (and a round deadline's) week lies in its term's half of the school year (`TERM_WEEKS`): HT in weeks
  27–52 (July–December of the first year), VT in weeks 1–26 (January–June of the second). A calendar set before this
  rule (a VT window in week 50: December of the *next* school year) is still read as it is; only a new one is held
  to it (the forecast service's `PUT /v1/calendars`).
* An assessment round has a deadline only if the organiser set one (`round_deadlines`); it is
  computed the same way from the round's term, week and weekday, grace days included.
* A submission is on time when it arrives on or before the deadline *by the calendar day of the
  organiser's time zone* (up to 23:59:59 local time), late on any later day. Early is on time.
  Late submissions are accepted and counted as reported-late, never as missing.
* An organiser without a calendar of its own has `DEFAULT_CALENDAR`. Only the newest revision of
  an organiser's `CalendarChangedV1` counts (`newest`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from enum import StrEnum
from zoneinfo import ZoneInfo

from .events.calendar import CalendarChangedV1, ForecastWindow, ReportingCalendar, RoundDeadline
from .identifiers import Term

__all__ = [
    "DEFAULT_CALENDAR",
    "ForecastWindow",
    "ReportingCalendar",
    "RoundDeadline",
    "Timeliness",
    "TERM_WEEKS",
    "Window",
    "calendar_for",
    "forecast_window",
    "is_forecast_late",
    "is_late",
    "local_day",
    "newest",
    "round_window",
    "term_year",
    "timeliness",
    "week_in_term",
]

DEFAULT_CALENDAR = ReportingCalendar()


#: The ISO weeks of each term's half of the school year: HT July–December of its first year, VT January–June of its
#: second (`term_year`). Week 26 and 27 may hold a day or three of the other half (1 July falls in either), as may
#: week 1 and 52 of the turn of the year: a calendar names a week for every year, and these are the weeks that lie in
#: the half in most years. Outside them a VT window in week 50 fell in December of the *next* school year, an HT
#: window in week 3 in January before the school year began.
TERM_WEEKS: Mapping[Term, range] = {Term.HT: range(27, 53), Term.VT: range(1, 27)}


def week_in_term(term: Term | str, iso_week: int) -> bool:
    """Whether `iso_week` lies in `term`'s half of the school year (`TERM_WEEKS`)."""
    return iso_week in TERM_WEEKS[Term(term)]


def term_year(school_year: str, term: Term | str) -> int:
    """The calendar year of a term: HT in the first year of `2026/27` (2026), VT in the second (2027)."""
    first = int(school_year.split("/")[0])
    return first if Term(term) is Term.HT else first + 1


@dataclass(frozen=True)
class Window:
    """A reporting window: opens on the Monday of its ISO week; `deadline` is the last on-time day
    (grace days included); `timezone` decides which calendar day a submission arrived on."""

    opens: date
    deadline: date
    timezone: str


def _window(school_year: str, term: Term | str, week: int, weekday: int, calendar: ReportingCalendar) -> Window:
    year = term_year(school_year, term)
    due = date.fromisocalendar(year, week, weekday)
    # the last school year taken (9998/99) with a late window and grace days ends past `date.max` (an
    # OverflowError, a 500): the last date there is judges every date a submission can carry as the true one
    # would (on time)
    deadline = due + timedelta(days=calendar.grace_days) if (date.max - due).days >= calendar.grace_days else date.max
    return Window(opens=date.fromisocalendar(year, week, 1), deadline=deadline, timezone=calendar.timezone)


def forecast_window(school_year: str, term: Term | str, calendar: ReportingCalendar = DEFAULT_CALENDAR) -> Window:
    spec: ForecastWindow = calendar.window_of(term)
    return _window(school_year, term, spec.iso_week, spec.deadline_weekday, calendar)


def round_window(school_year: str, round_: int, calendar: ReportingCalendar = DEFAULT_CALENDAR) -> Window | None:
    """The window of an assessment round, or None when the organiser set no deadline for it."""
    spec: RoundDeadline | None = calendar.deadline_of_round(round_)
    if spec is None:
        return None
    return _window(school_year, spec.term, spec.iso_week, spec.deadline_weekday, calendar)


def local_day(moment: datetime, timezone: str) -> date:
    if moment.tzinfo is None:
        raise ValueError("a submission time must be timezone-aware")
    return moment.astimezone(ZoneInfo(timezone)).date()


def is_late(received_at: datetime, window: Window | None) -> bool:
    """Late = arrived on a local calendar day after the deadline. No window (a round without a
    deadline) is never late."""
    return window is not None and local_day(received_at, window.timezone) > window.deadline


class Timeliness(StrEnum):
    """How a submission stands against its window (for compliance)."""

    on_time = "on_time"
    late = "late"  # reported-late: counts as reported, never as missing


def timeliness(received_at: datetime, window: Window | None) -> Timeliness:
    return Timeliness.late if is_late(received_at, window) else Timeliness.on_time


def is_forecast_late(received_at: datetime, school_year: str, term: Term | str,
                     calendar: ReportingCalendar = DEFAULT_CALENDAR) -> bool:
    """Is this forecast late for the organiser's calendar (`calendar_for(organiser_id, …)`)?"""
    return is_late(received_at, forecast_window(school_year, term, calendar))


def calendar_for(organiser_id: str, configured: Mapping[str, ReportingCalendar]) -> ReportingCalendar:
    """The organiser's calendar; the defaults until it sets its own."""
    return configured.get(organiser_id, DEFAULT_CALENDAR)


def newest(current: CalendarChangedV1 | None, incoming: CalendarChangedV1) -> CalendarChangedV1:
    """Only the newest revision counts: an older or equal revision arriving later changes nothing."""
    if current is not None and current.organiser_id != incoming.organiser_id:
        raise ValueError("calendars of different organisers")
    return incoming if current is None or incoming.revision > current.revision else current

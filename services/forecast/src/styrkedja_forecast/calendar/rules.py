"""Rules of the reporting calendar (årshjul). Pure: no I/O.

* The forecast service owns every organiser's calendar; the organiser admin sets it over the API
  (`PUT /v1/calendars/{organiser_id}`: the whole calendar, not a diff). Each change that alters the
  calendar is its next revision and one `calendar.changed.v1` event; the same calendar again is
  `unchanged` (no revision, no event). An optional `revision` in the request is an optimistic lock:
  it must be the next revision (409 otherwise), so two admins cannot overwrite each other unseen.
* Until an organiser sets its own, its calendar is the service's default (`ForecastSettings`:
  week 43 for HT, week 13 for VT, Friday, no grace days, Europe/Stockholm) — which reporting also
  assumes (`styrkedja_contracts.calendar.DEFAULT_CALENDAR`) until an event says otherwise.
* The late flag of a forecast is `styrkedja_contracts.calendar.is_forecast_late` over the
  organiser's calendar at the moment of submission: the very function reporting's compliance uses.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from pydantic import ValidationError

from styrkedja_contracts.calendar import DEFAULT_CALENDAR, TERM_WEEKS, Window, forecast_window, is_late, week_in_term
from styrkedja_contracts.events.base import EARLIEST_YEAR, LATEST_YEAR
from styrkedja_contracts.events.calendar import ForecastWindow, ReportingCalendar, RoundDeadline
from styrkedja_contracts.identifiers import Term
from styrkedja_kit.revisions import following_revision
from styrkedja_kit.rules import RuleViolation, RuleViolations

from ..forecasts.rules import WindowConfig


def calendar_of_config(config: WindowConfig) -> ReportingCalendar:
    """The service's default windows (settings) as a reporting calendar."""
    return ReportingCalendar(
        forecast_windows=tuple(ForecastWindow(term=term, iso_week=config.weeks[term],
                                              deadline_weekday=config.deadline_weekday) for term in (Term.HT, Term.VT)),
        grace_days=config.grace_days, timezone=config.timezone)


def stored_calendar(stored: Mapping[str, Any]) -> tuple[ReportingCalendar, bool]:
    """A calendar as stored, read under today's rules. One stored before its time zone was held to an IANA zone (the
    contracts, round 23) may name one no longer taken — `posix/Europe/Stockholm`, `localtime` — or one this host's
    zone data lacks: its validation failed on every read, and every forecast of the organiser, its calendar's GET and
    the PUT that would mend it were a 500. Such a zone is read as the IANA zone it copies (`posix/…`, `right/…`), else
    as the default calendar's (Swedish time, what a Swedish host's `localtime` was); the next PUT stores a taken
    one. With whether it was read as stored (False: mended)."""
    try:
        return ReportingCalendar.model_validate(stored), True
    except ValidationError:
        zone = stored.get("timezone")
        copied = zone.split("/", 1)[1] if isinstance(zone, str) and zone.startswith(("posix/", "right/")) else None
        for kept in (copied, DEFAULT_CALENDAR.timezone):
            if kept is None:
                continue
            try:
                return ReportingCalendar.model_validate({**stored, "timezone": kept}), False
            except ValidationError:
                continue
        raise


def check_weeks_in_terms(calendar: ReportingCalendar) -> None:
    """A calendar set holds each window's and round deadline's week to its term (`TERM_WEEKS`: HT weeks 27–52, VT
    1–26): a VT window in week 50 was taken, its deadline in December of the next school year (and an HT one in
    week 3, in January before its school year began). Each week outside its term a 422 `week_in_term` naming it in
    the order the request gave (`forecast_windows.<i>.iso_week`, `round_deadlines.<i>.iso_week`). Only a calendar
    being set: one stored before the rule is read as it is."""
    broken: list[RuleViolation] = []
    weeks_of: tuple[tuple[str, Sequence[ForecastWindow | RoundDeadline]], ...] = (
        ("forecast_windows", calendar.forecast_windows), ("round_deadlines", calendar.round_deadlines))
    for field, specs in weeks_of:
        for index, spec in enumerate(specs):
            if not week_in_term(spec.term, spec.iso_week):
                weeks = TERM_WEEKS[spec.term]
                half = "July–December" if spec.term is Term.HT else "January–June"
                broken.append(RuleViolation(
                    f"{field}.{index}.iso_week", "week_in_term",
                    f"week {spec.iso_week} is not in the {spec.term.value} term: its weeks are "
                    f"{weeks.start}–{weeks.stop - 1} ({half} of the school year)"))
    if broken:
        raise RuleViolations(broken)


@dataclass(frozen=True)
class StoredCalendar:
    revision: int
    calendar: ReportingCalendar
    #: False: read with a time zone mended (`stored_calendar`): a PUT of the same calendar stores it, taken
    as_stored: bool = True


@dataclass(frozen=True)
class CalendarDecision:
    store: bool  # False: the same calendar again, nothing stored, no event
    revision: int  # the revision the calendar has after the request


def decide_set(current: StoredCalendar | None, requested: ReportingCalendar,
               requested_revision: int | None) -> CalendarDecision:
    """A PUT of `requested` over what is stored (None: the organiser still has the defaults)."""
    now = current.revision if current else 0
    # compared in their one order: a calendar stored in another (before the service kept one) is the same calendar
    same = current is not None and current.as_stored and current.calendar.canonical() == requested.canonical()
    # the lock names the revision a change would take (now + 1): a client that always sends it (read, then save the
    # form as it stands) sent the same calendar again, no change — a new revision and event each time before
    if same and requested_revision in (None, now, now + 1):
        return CalendarDecision(False, now)
    if requested_revision is not None and requested_revision != now + 1:
        raise RuleViolation("revision", "next_revision",
                            f"the calendar is at revision {now}; a change must name revision {now + 1} "
                            "(or no revision)", status=409)
    return CalendarDecision(True, following_revision(now))


@dataclass(frozen=True)
class Lateness:
    deadline: date
    late: bool


def check_window_in_years(school_year: str, term: Term | str, calendar: ReportingCalendar) -> None:
    """A forecast's window deadline (grace days included) lies in the years every date of an event may have: a
    school year from 2199/00 on (or 2198/99 under a calendar of late weeks and grace days) has its deadline in 2200
    or later, and its `forecast.submitted.v1` was written to the outbox as the service made it, a date no consumer
    takes (reporting dead-lettered it: the forecast stored here, never counted there). A 422 naming `school_year`."""
    deadline = forecast_window(school_year, term, calendar).deadline
    if not EARLIEST_YEAR <= deadline.year <= LATEST_YEAR:
        raise RuleViolation("school_year", "date_range",
                            f"the {Term(term).value} forecast window of {school_year} by the organiser's calendar ends "
                            f"{deadline.isoformat()}, outside the years {EARLIEST_YEAR}–{LATEST_YEAR} a date may lie in")


def forecast_lateness(school_year: str, term: Term | str, received_at: datetime,
                      calendar: ReportingCalendar) -> Lateness:
    """Deadline and late flag of a forecast received at `received_at` under the organiser's calendar."""
    window: Window = forecast_window(school_year, term, calendar)
    return Lateness(window.deadline, is_late(received_at, window))

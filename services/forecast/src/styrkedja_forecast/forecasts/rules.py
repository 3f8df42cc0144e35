"""Rules of a forecast (prognos). Pure: no I/O.

- the value is on the three-level scale (NOT_REACHED, ACCEPTABLE, MORE_THAN_ACCEPTABLE);
- each school year and term has a reporting window (rapporteringsfönster) set by the organiser;
  a forecast received after the window's deadline is accepted and flagged `late`, never dropped;
- revisions are numbered, increase, and only the newest counts; a withdrawal is a revision too.

The reporting window rule (default, per organiser configurable later):

- the window of the autumn term (HT) is ISO week 43 of the school year's first calendar year,
  the window of the spring term (VT) is ISO week 13 of its second calendar year: for school year
  2026/27, HT → week 43 of 2026 and VT → week 13 of 2027;
- the deadline is the Friday of that week (the last school day), plus `grace_days` calendar days
  (default 0). `window_deadline` in the event is that last on-time day, grace included;
- a forecast is on time when it is received on or before the deadline, by the calendar of the
  organiser's time zone (Europe/Stockholm): up to 23:59:59 local time on the deadline day.
  It is `late` when received on a later day. Early forecasts (before the window opens) are on time.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from styrkedja_contracts.identifiers import Term
from styrkedja_contracts.scales import Scale
from styrkedja_kit.revisions import Decision, Stored, decide_change, decide_removal
from styrkedja_kit.rules import check_on_scale

FORECAST_SCALE = Scale.THREE_LEVEL


def check_value(value: str) -> None:
    check_on_scale(FORECAST_SCALE, value)


# --- reporting windows --------------------------------------------------------------------------

@dataclass(frozen=True)
class WindowConfig:
    """An organiser's reporting windows. ISO weeks 1–52 (every ISO year has them);
    `deadline_weekday` is ISO (1 = Monday … 7 = Sunday)."""

    weeks: dict[Term, int] = field(default_factory=lambda: {Term.VT: 13, Term.HT: 43})
    deadline_weekday: int = 5
    grace_days: int = 0
    timezone: str = "Europe/Stockholm"

    def __post_init__(self) -> None:
        for term in Term:
            if not 1 <= self.weeks.get(term, 0) <= 52:
                raise ValueError(f"the window of {term.value} must be an ISO week 1–52")
        if not 1 <= self.deadline_weekday <= 7:
            raise ValueError("deadline_weekday must be 1 (Monday) … 7 (Sunday)")
        if not 0 <= self.grace_days <= 60:
            raise ValueError("grace_days must be 0–60")
        ZoneInfo(self.timezone)  # fails early on an unknown zone


DEFAULT_WINDOWS = WindowConfig()


def window_year(school_year: str, term: Term | str) -> int:
    """The calendar year of a term: HT in the first year of `2026/27` (2026), VT in the second (2027)."""
    first = int(school_year.split("/")[0])
    return first if Term(term) is Term.HT else first + 1


def window_deadline(school_year: str, term: Term | str, config: WindowConfig = DEFAULT_WINDOWS) -> date:
    """The last day on which a forecast for this school year and term is on time (grace days included)."""
    term = Term(term)
    deadline = date.fromisocalendar(window_year(school_year, term), config.weeks[term], config.deadline_weekday)
    return deadline + timedelta(days=config.grace_days)


@dataclass(frozen=True)
class WindowStatus:
    deadline: date
    late: bool


def evaluate_window(school_year: str, term: Term | str, received_at: datetime,
                    config: WindowConfig = DEFAULT_WINDOWS) -> WindowStatus:
    """Whether a forecast received at `received_at` (timezone-aware) is late for its window."""
    if received_at.tzinfo is None:
        raise ValueError("received_at must be timezone-aware")
    deadline = window_deadline(school_year, term, config)
    local_day = received_at.astimezone(ZoneInfo(config.timezone)).date()
    return WindowStatus(deadline=deadline, late=local_day > deadline)


# --- revisions ----------------------------------------------------------------------------------

@dataclass(frozen=True)
class Current(Stored):
    """What is stored for a forecast now (`removed` = withdrawn)."""

    late: bool
    window_deadline: date


def decide_submit(current: Current | None, requested_revision: int | None, content: dict[str, Any]) -> tuple[Decision, int]:
    return decide_change(current, requested_revision, content)


def decide_withdraw(current: Current | None, requested_revision: int | None) -> tuple[Decision, int]:
    return decide_removal(current, requested_revision, id_field="forecast_id", noun="forecast")

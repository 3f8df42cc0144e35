"""Årshjul: an organiser's reporting calendar, and the event that shares it.

The shapes only; the rules that read a calendar (deadlines, "is this late") are in
`styrkedja_contracts.calendar`, so that the forecast service's late flag and reporting's
compliance lists use the same code over the same data.
"""

from __future__ import annotations

import functools
from typing import Annotated, ClassVar
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

from pydantic import Field, field_validator
from pydantic_core import PydanticCustomError

from ..identifiers import OrganiserId, Term
from .base import ContractModel, EventData, Round, Timestamp

__all__ = ["IsoWeek", "Weekday", "ForecastWindow", "RoundDeadline", "ReportingCalendar", "CalendarChangedV1"]

IsoWeek = Annotated[int, Field(ge=1, le=52, description="ISO week 1–52 (every ISO year has them).")]
Weekday = Annotated[int, Field(ge=1, le=7, description="ISO weekday of the deadline: 1 = Monday … 7 = Sunday.")]


class ForecastWindow(ContractModel):
    """The forecast window (prognosfönster) of one term: an ISO week of the term's calendar year
    (HT: the school year's first year, VT: its second) and the weekday of its deadline."""

    term: Term
    iso_week: IsoWeek
    deadline_weekday: Weekday = 5


class RoundDeadline(ContractModel):
    """The deadline of an assessment publication round (omgång 1–4 of the school year)."""

    round: Round
    term: Term = Field(description="The term the round's deadline falls in (fixes its calendar year).")
    iso_week: IsoWeek
    deadline_weekday: Weekday = 5


#: files of a zone directory that name no IANA zone, though `ZoneInfo` loads them: `localtime` (a link to the host's
#: own zone: an organiser's deadlines would fall on other days on each host, replica and rebuild), `posixrules` and
#: `Factory` (no place's time); and the `posix/` and `right/` trees (copies, the latter counting leap seconds: every
#: time 27 s off) — `ZoneInfo` took them all
HOST_ZONES = frozenset({"localtime", "posixrules", "Factory"})
UNKNOWN_ZONE_RULE = "unknown_time_zone"


@functools.cache
def _iana_zones() -> frozenset[str]:
    return frozenset(available_timezones())


def _default_windows() -> tuple[ForecastWindow, ...]:
    return (ForecastWindow(term=Term.HT, iso_week=43), ForecastWindow(term=Term.VT, iso_week=13))


class ReportingCalendar(ContractModel):
    """An organiser's årshjul. The defaults (week 43 for HT, week 13 for VT, Friday, no grace days,
    no round deadlines, Swedish time) apply until the organiser sets its own."""

    forecast_windows: tuple[ForecastWindow, ...] = Field(default_factory=_default_windows, min_length=2,
                                                         max_length=2)
    grace_days: int = Field(default=0, ge=0, le=60, description="Calendar days after a deadline that are still on time.")
    round_deadlines: tuple[RoundDeadline, ...] = Field(default=(), max_length=4)
    timezone: str = Field(default="Europe/Stockholm", min_length=1, max_length=64,
                          description="IANA zone whose calendar day decides lateness.")

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        # a rule of its own (round 31: pydantic's `value_error` named no rule a document could state)
        unknown = PydanticCustomError(UNKNOWN_ZONE_RULE, f"{value!r} is not a known IANA time zone")
        if value in HOST_ZONES or value.startswith(("posix/", "right/")) or value not in _iana_zones():
            raise unknown
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise unknown from None
        return value

    # each on its field, by a rule of its own: as the model's `ValueError` both were a 422 naming `body` and
    # `value_error` (round 31), the field broken only in the message
    @field_validator("forecast_windows")
    @classmethod
    def _one_window_per_term(cls, windows: tuple[ForecastWindow, ...]) -> tuple[ForecastWindow, ...]:
        if sorted(w.term for w in windows) != sorted(Term):
            raise PydanticCustomError("one_window_per_term", "must hold exactly one window for HT and one for VT")
        return windows

    @field_validator("round_deadlines")
    @classmethod
    def _one_deadline_per_round(cls, deadlines: tuple[RoundDeadline, ...]) -> tuple[RoundDeadline, ...]:
        rounds = [d.round for d in deadlines]
        if len(set(rounds)) != len(rounds):
            raise PydanticCustomError("one_deadline_per_round", "must name each round at most once")
        return deadlines

    def canonical(self) -> ReportingCalendar:
        """The same calendar in its one order (windows HT then VT, round deadlines by round): two calendars are the
        same calendar when their canonical forms are equal, whatever order each was written or stored in (a calendar
        stored before the forecast service kept one order, or sent by another producer)."""
        windows = tuple(sorted(self.forecast_windows, key=lambda w: list(Term).index(w.term)))
        deadlines = tuple(sorted(self.round_deadlines, key=lambda d: d.round))
        if windows == self.forecast_windows and deadlines == self.round_deadlines:
            return self
        return self.model_copy(update={"forecast_windows": windows, "round_deadlines": deadlines})

    def window_of(self, term: Term | str) -> ForecastWindow:
        return next(w for w in self.forecast_windows if w.term is Term(term))

    def deadline_of_round(self, round_: int) -> RoundDeadline | None:
        return next((d for d in self.round_deadlines if d.round == round_), None)


class CalendarChangedV1(EventData):
    """An organiser's reporting calendar was set or changed (or reset: then `calendar` holds the
    defaults). The whole calendar, not a diff; only the newest revision counts."""

    event_type: ClassVar[str] = "se.styrkedja.calendar.changed.v1"

    organiser_id: OrganiserId
    revision: int = Field(ge=1, description="Calendar revision of this organiser; only the newest counts.")
    calendar: ReportingCalendar
    changed_at: Timestamp

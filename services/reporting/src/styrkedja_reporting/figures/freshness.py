"""Aktualitet: the age of the newest result behind a cell, and a band.

State per `ResultCell`: a `Multiset` of result dates (date → number of results set that day).
The newest date is not a sum — a retraction can remove it — but the multiset of dates is, and
it stays small (one entry per day with results). Derived: newest = the latest date with a
positive count; the band from its age in calendar months at read time."""

from __future__ import annotations

import calendar
from dataclasses import dataclass
from datetime import date
from enum import StrEnum

from styrkedja_kit.rules import RuleViolation

from .cells import ResultCell, result_cells
from .facts import Result
from .state import Multiset, delta_between


class Band(StrEnum):
    green = "green"
    yellow = "yellow"
    red = "red"
    unknown = "unknown"  # no result behind the cell


@dataclass(frozen=True)
class FreshnessBands:
    """Configuration: green while younger than `yellow_from_months`, red when older than
    `red_after_months`, yellow in between — both ends inclusive (exactly 4 or exactly 8
    months old is yellow)."""

    yellow_from_months: int = 4
    red_after_months: int = 8

    def __post_init__(self) -> None:
        if not 0 < self.yellow_from_months <= self.red_after_months:
            raise RuleViolation("freshness", "band_order", "need 0 < yellow_from_months <= red_after_months")


def add_months(day: date, months: int) -> date:
    """The same day `months` calendar months later, clamped to the month's end (31 Aug + 6 → 28/29 Feb)."""
    index = day.month - 1 + months
    year, month = day.year + index // 12, index % 12 + 1
    return date(year, month, min(day.day, calendar.monthrange(year, month)[1]))


def band(newest: date | None, today: date, bands: FreshnessBands = FreshnessBands()) -> Band:
    if newest is None:
        return Band.unknown
    if today < add_months(newest, bands.yellow_from_months):
        return Band.green
    if today > add_months(newest, bands.red_after_months):
        return Band.red
    return Band.yellow


def freshness_contribution(result: Result | None) -> dict[ResultCell, Multiset]:
    if result is None:
        return {}
    dates = Multiset.of(result.assessed_on)
    return dict.fromkeys(result_cells(result), dates)


def freshness_delta(old: Result | None, new: Result | None) -> dict[ResultCell, Multiset]:
    return delta_between(freshness_contribution(old), freshness_contribution(new))


@dataclass(frozen=True)
class Freshness:
    newest: date | None
    age_days: int | None  # a future date (clock skew at the source) counts as age 0
    band: Band


def freshness(dates: Multiset | None, today: date, bands: FreshnessBands = FreshnessBands()) -> Freshness:
    present = [d for d in (dates or Multiset()).present() if isinstance(d, date)]
    newest = max(present, default=None)
    if newest is None:
        return Freshness(None, None, Band.unknown)
    return Freshness(newest, max(0, (today - newest).days), band(newest, today, bands))

"""Period arithmetic: school year (läsår) `2026/27`, term (termin) HT/VT, round (omgång) 1–4.

Two kinds of period, because the two trends compare different things:

* `TermPeriod(school_year, term)` — HT (autumn) comes before VT (spring) in a school year.
* `RoundPeriod(school_year, round)` — a publication round 1–4 counts within the school year,
  whatever term it falls in, so the previous round of round 1 is round 4 of the year before.

A figure cell is keyed by one of them; a result counts in both its term cell and (when it has a
round) its round cell, so every trend is two lookups.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from enum import StrEnum

from styrkedja_kit.rules import RuleViolation

ROUNDS = range(1, 5)
_SCHOOL_YEAR = re.compile(r"(\d{4})/(\d{2})", re.ASCII)  # whole (no final newline), ASCII digits


class Term(StrEnum):
    HT = "HT"  # höstterminen, first in the school year
    VT = "VT"  # vårterminen


class Comparison(StrEnum):
    """What a trend compares against; the caller picks."""

    previous_round = "previous_round"
    previous_term = "previous_term"
    same_term_last_year = "same_term_last_year"


@dataclass(frozen=True, order=True)
class SchoolYear:
    start: int  # 2026 for 2026/27

    @classmethod
    def parse(cls, text: str, field: str = "school_year") -> SchoolYear:
        match = _SCHOOL_YEAR.fullmatch(text)
        if not match or (int(match[1]) + 1) % 100 != int(match[2]):
            raise RuleViolation(field, "school_year_format", f"{text!r} is not a school year like 2026/27")
        return cls(int(match[1]))

    def __str__(self) -> str:
        return f"{self.start}/{(self.start + 1) % 100:02d}"

    def previous(self) -> SchoolYear:
        return SchoolYear(self.start - 1)


@dataclass(frozen=True)
class TermPeriod:
    school_year: SchoolYear
    term: Term

    def __str__(self) -> str:
        return f"{self.term} {self.school_year}"

    def sort_key(self) -> tuple[int, int]:
        return self.school_year.start, 0 if self.term is Term.HT else 1

    def previous(self) -> TermPeriod:
        if self.term is Term.VT:
            return TermPeriod(self.school_year, Term.HT)
        return TermPeriod(self.school_year.previous(), Term.VT)


@dataclass(frozen=True)
class RoundPeriod:
    school_year: SchoolYear
    round: int

    def __post_init__(self) -> None:
        if self.round not in ROUNDS:
            raise RuleViolation("round", "round_range", f"round must be 1–4, not {self.round}")

    def __str__(self) -> str:
        return f"{self.school_year} omgång {self.round}"

    def sort_key(self) -> tuple[int, int]:
        return self.school_year.start, self.round

    def previous(self) -> RoundPeriod:
        if self.round > ROUNDS.start:
            return RoundPeriod(self.school_year, self.round - 1)
        return RoundPeriod(self.school_year.previous(), ROUNDS[-1])


Period = TermPeriod | RoundPeriod


def compared_with(period: Period, comparison: Comparison) -> Period:
    """The period a trend compares `period` against. A round is compared with the previous
    round only; a term with the previous term or the same term one school year earlier."""
    if isinstance(period, RoundPeriod):
        if comparison is not Comparison.previous_round:
            raise RuleViolation("compare", "comparison_for_rounds", "a round is compared with the previous round")
        return period.previous()
    if comparison is Comparison.previous_term:
        return period.previous()
    if comparison is Comparison.same_term_last_year:
        return TermPeriod(period.school_year.previous(), period.term)
    raise RuleViolation("compare", "comparison_for_terms",
                        "a term is compared with the previous term or the same term last school year")


def history(last: Period, count: int, comparison: Comparison) -> list[Period]:
    """The `count` periods ending with `last`, oldest first, stepping by `comparison`
    (so a term history can be every term, or every VT)."""
    if count < 1:
        raise RuleViolation("periods", "positive", "the number of periods must be at least 1")
    return list(reversed(list(_walk_back(last, count, comparison))))


def _walk_back(period: Period, count: int, comparison: Comparison) -> Iterator[Period]:
    for _ in range(count):
        yield period
        period = compared_with(period, comparison)

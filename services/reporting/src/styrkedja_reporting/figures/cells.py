"""Cell keys of the figures. A cell is one unit of the chain × subject × year × period; gender is
kept *inside* the state (so the gender gap is one lookup), not in the key."""

from __future__ import annotations

from typing import NamedTuple

from .facts import Result, Unit
from .periods import Period


class ResultCell(NamedTuple):
    unit: Unit
    subject_code: str
    year: int
    period: Period  # a TermPeriod or a RoundPeriod: a result counts in both


def result_cells(result: Result) -> list[ResultCell]:
    """Every cell a result counts in: each of its units × its term, and × its round if it has one."""
    periods: list[Period] = [result.term_period]
    if result.round_period is not None:
        periods.append(result.round_period)
    return [ResultCell(unit, result.subject_code, result.year, period) for unit in result.units for period in periods]

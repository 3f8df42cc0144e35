"""Måluppfyllelse per cell, and from it the trend, the term history and the gender gap.

State per `ResultCell`: a `PassTally` — results and results reaching the pass level, per gender.
Derived: share = reaching / assessed; trend = share(cell) − share(same cell, period compared
with); gender gap = share(girls) − share(boys), unknown gender left out of the gap but counted
in the totals. All are lookups of one or two cells (N for a history)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from fractions import Fraction

from styrkedja_contracts.identifiers import Gender

from .cells import ResultCell, result_cells
from .facts import Result
from .periods import Comparison, compared_with, history
from .state import Tally, delta_between

DECIMALS = 4  # shares and differences are rounded once, at the end


@dataclass(frozen=True)
class PassTally(Tally):
    assessed_female: int = 0
    reaching_female: int = 0
    assessed_male: int = 0
    reaching_male: int = 0
    assessed_unknown: int = 0
    reaching_unknown: int = 0

    def assessed(self, gender: Gender | None = None) -> int:
        if gender is None:
            return self.assessed_female + self.assessed_male + self.assessed_unknown
        return int(getattr(self, f"assessed_{gender.value}"))

    def reaching(self, gender: Gender | None = None) -> int:
        if gender is None:
            return self.reaching_female + self.reaching_male + self.reaching_unknown
        return int(getattr(self, f"reaching_{gender.value}"))


def pass_tally(result: Result) -> PassTally:
    gender = Gender(result.gender).value
    return PassTally(**{f"assessed_{gender}": 1, f"reaching_{gender}": int(result.reaches)})


def pass_contribution(result: Result | None) -> dict[ResultCell, PassTally]:
    if result is None:
        return {}
    tally = pass_tally(result)
    return dict.fromkeys(result_cells(result), tally)


def pass_delta(old: Result | None, new: Result | None) -> dict[ResultCell, PassTally]:
    """Change in state when a result goes from `old` to `new` (None = absent/retracted)."""
    return delta_between(pass_contribution(old), pass_contribution(new))


@dataclass(frozen=True)
class Share:
    reaching: int
    assessed: int

    @property
    def exact(self) -> Fraction | None:
        return Fraction(self.reaching, self.assessed) if self.assessed else None

    @property
    def share(self) -> float | None:
        exact = self.exact
        return round(float(exact), DECIMALS) if exact is not None else None


def pass_share(tally: PassTally | None, gender: Gender | None = None) -> Share:
    tally = tally or PassTally()
    return Share(tally.reaching(gender), tally.assessed(gender))


def _difference(a: Share, b: Share) -> float | None:
    if a.exact is None or b.exact is None:
        return None
    return round(float(a.exact - b.exact), DECIMALS)


@dataclass(frozen=True)
class Trend:
    current: Share
    previous: Share
    change: float | None  # share now − share then; None when either has no results


def trend(current: PassTally | None, previous: PassTally | None, gender: Gender | None = None) -> Trend:
    now, then = pass_share(current, gender), pass_share(previous, gender)
    return Trend(now, then, _difference(now, then))


def trend_cell(cell: ResultCell, comparison: Comparison) -> ResultCell:
    """The cell a trend of `cell` compares against."""
    return cell._replace(period=compared_with(cell.period, comparison))


def cell_trend(lookup: Callable[[ResultCell], PassTally | None], cell: ResultCell, comparison: Comparison,
               gender: Gender | None = None) -> Trend:
    return trend(lookup(cell), lookup(trend_cell(cell, comparison)), gender)


def term_history(lookup: Callable[[ResultCell], PassTally | None], cell: ResultCell, count: int,
                 comparison: Comparison = Comparison.previous_term,
                 gender: Gender | None = None) -> list[tuple[ResultCell, Share]]:
    """The share in the `count` periods ending with `cell`'s, oldest first."""
    return [(past, pass_share(lookup(past), gender))
            for past in (cell._replace(period=p) for p in history(cell.period, count, comparison))]


@dataclass(frozen=True)
class GenderGap:
    girls: Share
    boys: Share
    total: Share  # all genders, unknown included
    gap: float | None  # girls' share − boys' share; None unless both have results


def gender_gap(tally: PassTally | None) -> GenderGap:
    girls, boys = pass_share(tally, Gender.female), pass_share(tally, Gender.male)
    return GenderGap(girls, boys, pass_share(tally), _difference(girls, boys))

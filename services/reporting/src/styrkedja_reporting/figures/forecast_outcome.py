"""Prognos mot utfall: did the forecasts hold?

**The outcome of a forecast.** For a forecast of student s in subject x for term t of school
year y, submitted on day d, the candidates are s's results in x for the same school year and
term set *later*: `assessed_on` strictly after d (a result set the same day may be what the
forecast was copied from, so it is no test of it). Among the candidates the term grade wins (it
is what the forecast predicts); otherwise the newest assessment or written report; ties go to
the higher round, then the higher result id, so the choice never depends on arrival order.

**State.** Per `ForecastCell` (the forecast's units × subject × year × gender × term) a
`ForecastTally`: held / said "reaches" but did not / said "not reached" but did / no outcome
yet. Each student × subject × term contributes exactly one count, decided by `classify`. When
the forecast or one of the student's results in that subject and term changes, the apply path
re-classifies that pairing (a handful of facts) and adds `forecast_outcome_delta(old, new)`.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum
from typing import NamedTuple

from styrkedja_contracts.identifiers import Gender

from .facts import Forecast, Result, ResultKind, Unit
from .pass_share import DECIMALS
from .periods import TermPeriod
from .state import Tally, delta_between


class Outcome(StrEnum):
    held = "held"
    said_reaches_did_not = "said_reaches_did_not"
    said_not_reached_did = "said_not_reached_did"
    no_outcome = "no_outcome"  # only a forecast so far


class ForecastCell(NamedTuple):
    unit: Unit
    subject_code: str
    year: int
    gender: Gender
    period: TermPeriod


@dataclass(frozen=True)
class ForecastTally(Tally):
    held: int = 0
    said_reaches_did_not: int = 0
    said_not_reached_did: int = 0
    no_outcome: int = 0


def is_candidate(forecast: Forecast, result: Result) -> bool:
    return (result.student_id == forecast.student_id and result.subject_code == forecast.subject_code
            and result.school_year == forecast.school_year and result.term == forecast.term
            and result.assessed_on > forecast.submitted_on)


def outcome_of(forecast: Forecast, results: Iterable[Result]) -> Result | None:
    candidates = [r for r in results if is_candidate(forecast, r)]
    return max(candidates, default=None,
               key=lambda r: (r.kind is ResultKind.term_grade, r.assessed_on, r.round or 0, r.result_id))


def classify(forecast: Forecast, results: Iterable[Result]) -> Outcome:
    outcome = outcome_of(forecast, results)
    if outcome is None:
        return Outcome.no_outcome
    if outcome.reaches == forecast.reaches:
        return Outcome.held
    return Outcome.said_reaches_did_not if forecast.reaches else Outcome.said_not_reached_did


class Pairing(NamedTuple):
    """A forecast and the same student's results in that subject and term (other results are ignored)."""

    forecast: Forecast | None
    results: tuple[Result, ...] = ()


def forecast_outcome_contribution(pairing: Pairing) -> dict[ForecastCell, ForecastTally]:
    forecast = pairing.forecast
    if forecast is None:  # results without a forecast are not part of this figure
        return {}
    tally = ForecastTally(**{classify(forecast, pairing.results).value: 1})
    return {ForecastCell(unit, forecast.subject_code, forecast.year, Gender(forecast.gender), forecast.term_period):
            tally for unit in forecast.units}


def forecast_outcome_delta(old: Pairing, new: Pairing) -> dict[ForecastCell, ForecastTally]:
    return delta_between(forecast_outcome_contribution(old), forecast_outcome_contribution(new))


@dataclass(frozen=True)
class ForecastAgainstOutcome:
    held: int
    said_reaches_did_not: int
    said_not_reached_did: int
    no_outcome: int
    share_held: float | None  # held / forecasts with an outcome


def forecast_against_outcome(tally: ForecastTally | None) -> ForecastAgainstOutcome:
    t = tally or ForecastTally()
    compared = t.held + t.said_reaches_did_not + t.said_not_reached_did
    return ForecastAgainstOutcome(t.held, t.said_reaches_did_not, t.said_not_reached_did, t.no_outcome,
                                  round(t.held / compared, DECIMALS) if compared else None)

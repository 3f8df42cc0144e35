"""Which flag counts for a forecast (`fold_forecast_run`): a correction after the deadline keeps an on-time run on
time, a withdrawal ends the run and a new submission is judged by its own flag, an older revision changes nothing,
and two events of one revision come out the same in either order."""

from __future__ import annotations

from functools import reduce
from itertools import permutations
from uuid import UUID

import pytest

from styrkedja_reporting.compliance.rules import ForecastRun, fold_forecast_run

FID = UUID(int=7)


def sub(revision: int, late: bool) -> ForecastRun:
    return ForecastRun(FID, "2999", revision, False, late)


def wd(revision: int) -> ForecastRun:
    return ForecastRun(FID, "2999", revision, True, False)


def fold(*events: ForecastRun) -> ForecastRun:
    return reduce(fold_forecast_run, events, None)  # type: ignore[arg-type]


@pytest.mark.parametrize(("events", "expected"), [
    ((sub(1, False), sub(2, True)), sub(2, False)),  # on time, corrected late: on time
    ((sub(1, True), sub(2, True)), sub(2, True)),
    ((sub(1, True),), sub(1, True)),  # first handed in late: late
    ((sub(1, False), wd(2), sub(3, True)), sub(3, True)),  # withdrawn, handed in again late: a new run, late
    ((sub(1, False), wd(2)), wd(2)),
    ((sub(1, True), wd(2), sub(3, False), sub(4, True)), sub(4, False)),
    ((sub(2, False), sub(1, True)), sub(2, False)),  # an older revision changes nothing
    ((sub(1, False), sub(2, True), sub(2, True)), sub(2, False)),  # a replay nothing
])
def test_the_run_decides(events, expected):
    assert fold(*events) == expected


@pytest.mark.parametrize("events", [
    (sub(1, False), sub(2, True), sub(2, False)),
    (sub(1, True), sub(2, True), sub(2, False)),
    (sub(1, False), sub(2, False), wd(2)),
    (sub(1, False), wd(2), sub(3, True), sub(3, False)),
    (sub(1, True), sub(1, False)),
])
def test_twins_of_one_revision_are_decided_the_same_in_either_order(events):
    # the twins are the last two: before them, the same history
    head, twins = events[:-2], events[-2:]
    assert len({fold(*head, *order) for order in permutations(twins)}) == 1

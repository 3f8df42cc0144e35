"""Which flag counts for a forecast (`ForecastRun`, `fold_forecast_run`): a correction after the deadline keeps an
on-time run on time, a withdrawal ends the run and a new submission is judged by its own flag, and the state is the
same whatever order the events arrive in (an older revision after a newer one, twins of one revision, a replay)."""

from __future__ import annotations

from functools import reduce
from itertools import permutations
from uuid import UUID

import pytest

from styrkedja_reporting.compliance.rules import ForecastRun, fold_forecast_run, forecast_event_run

FID = UUID(int=7)


def sub(revision: int, late: bool) -> ForecastRun:
    return forecast_event_run(FID, "2999", revision, False, late)


def wd(revision: int) -> ForecastRun:
    return forecast_event_run(FID, "2999", revision, True, False)


def fold(*events: ForecastRun) -> ForecastRun:
    state: ForecastRun | None = None
    return reduce(fold_forecast_run, events, state)  # type: ignore[arg-type]


@pytest.mark.parametrize(("events", "late", "withdrawn"), [
    ((sub(1, False), sub(2, True)), False, False),  # on time, corrected late: on time
    ((sub(1, False), sub(2, True), sub(3, True)), False, False),
    ((sub(1, True), sub(2, True)), True, False),
    ((sub(1, True),), True, False),  # first handed in late: late
    ((sub(1, True), sub(2, False)), False, False),  # on time wins within a run
    ((sub(1, False), wd(2), sub(3, True)), True, False),  # withdrawn, handed in again late: a new run, late
    ((sub(1, False), wd(2)), False, True),  # withdrawn: counts nowhere (not late)
    ((sub(1, True), wd(2), sub(3, False), sub(4, True)), False, False),
    ((sub(1, False), sub(2, True), wd(2)), False, True),  # a withdrawal wins its revision
    ((sub(1, False), wd(2), sub(2, False), sub(3, True)), True, False),  # ... and is not above itself
])
def test_the_run_decides_in_any_order(events, late, withdrawn):
    for order in permutations(events):
        state = fold(*order)
        assert (state.late, state.withdrawn) == (late, withdrawn), order
        assert state.revision == max(e.revision for e in events)
        assert fold(*order, *events) == state  # a replay changes nothing


def test_a_batch_folded_first_then_stored_is_the_same():
    events = [sub(1, False), wd(2), sub(3, True), sub(4, False)]
    assert fold(fold(*events[:2]), fold(*events[2:])) == fold(*events)

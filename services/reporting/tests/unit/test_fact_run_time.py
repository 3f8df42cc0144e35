"""Rounds33: compliance's round state is the assessment fact itself — its `received_at` the time its current run was
first reported (`results.rules.run_time`), by the rule compliance's own round reports were folded by
(`compliance.rules.fold_round_report`). Folded over the same events in the same order, the fact's revision,
retraction and time are the round report's, for every order of a log of publications, corrections, retractions,
republications and replays."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from itertools import permutations

from styrkedja_reporting.compliance.rules import RoundReport, fold_round_report
from styrkedja_reporting.results.rules import AssessmentFact, fold

T0 = datetime(2027, 3, 1, 8, tzinfo=UTC)
PLACE = ("2999", "29990001", "9A", "s-1")


def _fact(revision: int, retracted: bool, hours: int, value: str = "E") -> AssessmentFact:
    at = T0 + timedelta(hours=hours)
    if retracted:
        return AssessmentFact("a-1", revision, True, *PLACE, "unknown", 0, "GRGRMAT01", "", "", "", "2026/27", "VT", 2,
                              None, at)
    return AssessmentFact("a-1", revision, False, *PLACE, "female", 9, "GRGRMAT01", "term_grade", "AF", value,
                          "2026/27", "VT", 2, None, at)


def _report(fact: AssessmentFact) -> RoundReport:
    assert fact.received_at is not None
    return RoundReport(fact.assessment_id, fact.revision, fact.retracted, fact.organiser_id, fact.school_unit_code,
                       fact.group_id, fact.student_id, fact.subject_code, fact.school_year, fact.round,
                       fact.received_at)


def _both(events: list[AssessmentFact]) -> tuple[AssessmentFact | None, RoundReport | None]:
    fact: AssessmentFact | None = None
    report: RoundReport | None = None
    for event in events:
        fact = fold(fact, event)
        report = fold_round_report(report, _report(event))
    return fact, report


def _agree(events: list[AssessmentFact]) -> None:
    fact, report = _both(events)
    assert fact is not None and report is not None
    assert (fact.revision, fact.retracted, fact.received_at) == (report.revision, report.retracted,
                                                                  report.received_at), events


def test_a_correction_keeps_its_runs_first_time():
    fact, _ = _both([_fact(1, False, 0), _fact(2, False, 30, "C")])
    assert fact is not None and fact.value == "C" and fact.received_at == T0  # the correction's content, run's time


def test_a_republication_after_a_retraction_starts_a_new_run():
    fact, _ = _both([_fact(1, False, 0), _fact(2, True, 5), _fact(3, False, 30)])
    assert fact is not None and fact.received_at == T0 + timedelta(hours=30)
    retracted, _ = _both([_fact(1, False, 0), _fact(2, True, 5)])
    assert retracted is not None and retracted.retracted and retracted.received_at == T0 + timedelta(hours=5)


def test_every_order_of_a_small_log_agrees_with_the_round_report():
    log = [_fact(1, False, 0), _fact(2, False, 10, "C"), _fact(3, True, 20), _fact(4, False, 30, "A"),
           _fact(2, False, 10, "C")]  # a replay too
    for order in permutations(log):
        _agree(list(order))


def test_random_logs_with_twins_agree_with_the_round_report():
    """Publications and retractions of random revisions and times, twins of one revision (another time or value)
    included: the fact's time is the round report's in the order given."""
    rng = random.Random(33)
    for _ in range(3000):
        events = [_fact(rng.randint(1, 4), rng.random() < 0.3, rng.randint(0, 60), rng.choice("ABCE"))
                  for _ in range(rng.randint(1, 7))]
        _agree(events)

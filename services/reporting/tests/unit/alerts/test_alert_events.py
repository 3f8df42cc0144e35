"""An alert decision becomes the contract's event, which survives the envelope round trip."""

from datetime import UTC, datetime

from styrkedja_contracts import decode_event, new_event
from styrkedja_contracts.events.alert import AlertRaisedV1, AlertResolvedV1
from styrkedja_reporting.alerts.events import event_data
from styrkedja_reporting.alerts.rules import AlertCell, Thresholds, evaluate, judge_pass_drop
from styrkedja_reporting.figures.pass_share import PassTally
from styrkedja_reporting.figures.periods import RoundPeriod, SchoolYear, Term, TermPeriod

NOW = datetime(2027, 3, 30, 10, 0, tzinfo=UTC)
DIP = judge_pass_drop(PassTally(assessed_male=20, reaching_male=10), PassTally(assessed_male=20, reaching_male=16),
                      Thresholds())
FINE = judge_pass_drop(PassTally(assessed_male=20, reaching_male=16), PassTally(assessed_male=20, reaching_male=16),
                       Thresholds())


def roundtrip(data):
    return decode_event(new_event(data, source="/styrkedja/reporting", subject=str(data.alert_id)).to_bytes()).data


def test_raise_and_resolve_events_of_a_term_cell():
    cell = AlertCell("2999", ("school_unit", "29990011"), "GRGRMAT01", 9, TermPeriod(SchoolYear(2026), Term.VT))
    raised = evaluate(cell, DIP, None, NOW)
    data = event_data(raised)
    assert isinstance(data, AlertRaisedV1)
    assert (data.alert_id, data.term, data.round, data.school_year, data.episode) == (
        raised.alert.alert_id, Term.VT, None, "2026/27", 1)  # type: ignore[union-attr]
    assert roundtrip(data) == data
    resolved = event_data(evaluate(cell, FINE, raised.alert, NOW))
    assert isinstance(resolved, AlertResolvedV1) and resolved.alert_id == data.alert_id
    assert resolved.reason.value == "recovered" and roundtrip(resolved) == resolved
    assert event_data(evaluate(cell, FINE, None, NOW)) is None


def test_a_round_cell_of_all_years_at_area_level():
    cell = AlertCell("2999", ("area", "A-nord"), "GRGRENG01", None, RoundPeriod(SchoolYear(2026), 2))
    data = event_data(evaluate(cell, DIP, None, NOW))
    assert isinstance(data, AlertRaisedV1)
    assert (data.level.value, data.unit_id, data.year, data.term, data.round) == ("area", "A-nord", None, None, 2)
    assert roundtrip(data) == data


def test_an_alert_event_names_the_alert_and_carries_no_figures():
    """Failed on the old code: every event carried the cell's figures (students, shares, the change) onto a topic
    read by whichever system subscribes, for every organiser — a resolution `too_few_students` the 1 to N-1
    students behind it. The figures are read with `GET /v1/alerts`, judged for the reader (`events.py`)."""
    cell = AlertCell("2999", ("group", "29990011:7A"), "GRGRMAT01", None, RoundPeriod(SchoolYear(2026), 2))
    raised = evaluate(cell, DIP, None, NOW)
    few = judge_pass_drop(PassTally(assessed_male=3, reaching_male=1), PassTally(assessed_male=20, reaching_male=16),
                          Thresholds())
    resolved = evaluate(cell, few, raised.alert, NOW)
    for decision in (raised, resolved):
        data = event_data(decision)
        assert data is not None and data.figures is None, data
        assert '"figures":null' in new_event(data, source="/styrkedja/reporting", subject="s").to_bytes().decode()
        assert decision.alert is not None and decision.alert.figures.students > 0  # kept for the read API
    assert resolved.alert is not None and resolved.alert.resolved_reason is not None
    assert resolved.alert.resolved_reason.value == "too_few_students"

"""The events of an alert decision (`alert.raised.v1`, `alert.resolved.v1`), for the outbox. Pure.

An event names the alert (its id, cell, period, rule, episode) and never carries its figures: the stream has no
reader whose scope and disclosure (`read_scope.shown_to`, `disclose.py`) could be applied to them, and it carries
every organiser's alerts to whichever system subscribes. Before (round 24), every event carried the full figures — a
resolution `too_few_students` the count of the 1 to N-1 students behind it, an area alert the all-years sum whose
complement the figures withhold. Only ids and levels, rather than the figures a disclosure allows: which figures a
disclosure allows depends on the reader's class and on a decision that changes as results arrive, and a figure
once sent stays sent. The figures are read with `GET /v1/alerts`, judged for the reader."""

from __future__ import annotations

from styrkedja_contracts.events.alert import AlertRaisedV1, AlertResolvedV1

from ..figures.periods import TermPeriod
from .rules import Action, Alert, Decision


def _cell_fields(alert: Alert) -> dict[str, object]:
    cell, period = alert.cell, alert.cell.period
    return {"alert_id": alert.alert_id, "organiser_id": cell.organiser_id, "level": cell.level,
            "unit_id": cell.unit[1], "subject_code": cell.subject_code, "year": cell.year,
            "school_year": str(period.school_year), "term": period.term.value if isinstance(period, TermPeriod) else None,
            "round": None if isinstance(period, TermPeriod) else period.round,
            "rule": alert.rule, "episode": alert.episode}


def event_data(decision: Decision) -> AlertRaisedV1 | AlertResolvedV1 | None:
    """The event to publish for a decision; None for `nothing`."""
    alert = decision.alert
    if decision.action is Action.nothing or alert is None:
        return None
    if decision.action is Action.raise_:
        return AlertRaisedV1(**_cell_fields(alert), raised_at=alert.changed_at)
    assert alert.resolved_reason is not None
    return AlertResolvedV1(**_cell_fields(alert), reason=alert.resolved_reason,
                           resolved_at=alert.changed_at)

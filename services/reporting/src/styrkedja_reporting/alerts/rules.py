"""Dip alerts (larm): when a cell's figure dips, raise one alert; when it recovers, resolve it. Pure.

A *cell* here is one unit of the chain (group, school unit, area, organiser) × subject × year ×
period — the figures' `ResultCell`, or several of them combined (all years: `year=None`). Three
rules, thresholds per organiser (`Thresholds`, defaults until the organiser admin sets its own):

* `pass_share_drop`: the share reaching the pass level fell by **more than** `drop_points`
  percentage points against the period compared with (previous term, previous round, …);
* `below_forecast`: the outcome fell below its forecast by **more than** `below_forecast_points`:
  of the forecasts that have an outcome, (said "not reached" but did − said "reaches" but did
  not) ÷ compared, in points, is below −Y;
* `freshness_red`: the newest result behind the cell is older than the red band.

Exactly at a threshold is no dip. A cell with fewer than `min_students` students (default 10) —
now, or in the period compared with — is not judged: nothing is raised for it.

**Stable id.** `alert_id` = UUIDv5 over organiser | level | unit | subject | year | period | rule
(`styrkedja_contracts.events.alert.alert_id_for`): the same cell, period and rule always give the
same id, so the alerts table (keyed by it) can never hold two, and an event re-published by the
outbox or a rebuild carries the same id.

**State machine** (per alert id):

    (none) --dip--> open --acknowledge(comment)--> acknowledged
    open | acknowledged --recovers / no longer judged--> resolved
    resolved --dips again (same period)--> open, episode + 1 (the same alert, reopened)

A dip again after resolution reopens the *same* alert (same id, `episode` + 1, acknowledgement
cleared, earlier comments kept by the table) rather than raising a new one: one cell, period and
rule is one alert. An acknowledged alert that dips further stays acknowledged (no second raise).

**Why `evaluate` is level-triggered.** It decides from the cell's figure *after* a batch and the
alert's stored status, not from the change before → after alone: a rebuild applies the facts in
other batches than live did (a transient dip may never be seen, or be seen at other moments), and
only "is it dipping now, and what does the table say" gives the same alerts whatever the batching.
`before` is used only to skip cells whose verdict did not change (`needs_evaluation`).
Hence the wiring rules: a replay is deduplicated by event id before any evaluation (it changes no
state, so it decides nothing); a **rebuild** keeps the alerts table (acknowledgements and comments
are not in the event log) and evaluates every cell **once, on the final state**, not per batch —
so intermediate states of the rebuild's batching can neither raise nor resolve anything.

Freshness changes with the passage of time, not only when results arrive: the apply path
evaluates it when results arrive, and a daily sweep must evaluate it for every cell (wiring).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import date, datetime, timedelta
from enum import StrEnum
from fractions import Fraction
from uuid import UUID

from styrkedja_contracts.events.alert import (
    AlertFigures,
    AlertLevel,
    AlertRule,
    ResolvedReason,
    alert_id_for,
    period_key,
)
from styrkedja_contracts.identifiers import PIN_ERROR, contains_personal_identity_number
from styrkedja_kit.rules import RuleViolation

from ..figures.facts import Unit
from ..figures.forecast_outcome import ForecastTally
from ..figures.freshness import Band, FreshnessBands, add_months, freshness
from ..figures.pass_share import PassTally
from ..figures.periods import Period, SchoolYear, Term, TermPeriod
from ..figures.state import Multiset

__all__ = [
    "AlertCell", "Alert", "Action", "Decision", "Observation", "Status", "Thresholds", "Verdict",
    "acknowledge", "alert_id", "evaluate", "judge_below_forecast", "judge_freshness", "judge_pass_drop",
    "needs_evaluation", "thresholds_for", "freshness_period", "judge_freshness_in", "red_from", "term_of",
]

LEVELS: frozenset[str] = frozenset(level.value for level in AlertLevel)  # never "nation"
DECIMALS = 4
COMMENT_MAX = 2000


@dataclass(frozen=True)
class Thresholds:
    """An organiser's alert thresholds (percentage points; >= 0). Defaults until it sets its own."""

    drop_points: Fraction = Fraction(10)  # X
    below_forecast_points: Fraction = Fraction(10)  # Y
    min_students: int = 10
    freshness: FreshnessBands = field(default_factory=FreshnessBands)

    def __post_init__(self) -> None:
        for name in ("drop_points", "below_forecast_points"):
            value = Fraction(getattr(self, name))  # exact: 10 pp means exactly 1/10, not 0.1 + ε
            if not 0 <= value <= 100:
                raise RuleViolation(name, "points_range", f"{name} must be 0–100 percentage points")
            object.__setattr__(self, name, value)
        if self.min_students < 1:
            raise RuleViolation("min_students", "positive", "min_students must be at least 1")

    @classmethod
    def of(cls, drop_points: float | str = 10, below_forecast_points: float | str = 10, min_students: int = 10,
           freshness: FreshnessBands | None = None) -> Thresholds:
        """From API input: decimals such as `7.5` are taken as written (via `str`), not as binary floats."""
        return cls(_exact("drop_points", drop_points), _exact("below_forecast_points", below_forecast_points),
                   min_students, freshness or FreshnessBands())


def _exact(name: str, value: float | str) -> Fraction:
    try:
        return Fraction(str(value))
    except (ValueError, ZeroDivisionError):
        raise RuleViolation(name, "points_number", f"{name} must be a number of percentage points") from None


DEFAULT_THRESHOLDS = Thresholds()


def thresholds_for(organiser_id: str, configured: Mapping[str, Thresholds]) -> Thresholds:
    return configured.get(organiser_id, DEFAULT_THRESHOLDS)


@dataclass(frozen=True)
class AlertCell:
    """What an alert is about: one unit at a level of the chain, a subject, a year (None = all
    years), a period."""

    organiser_id: str
    unit: Unit  # (level, unit id), as in the figures
    subject_code: str | None
    year: int | None
    period: Period

    def __post_init__(self) -> None:
        if self.unit[0] not in LEVELS:
            raise RuleViolation("level", "alert_level", f"alerts are raised at {', '.join(sorted(LEVELS))}")

    @property
    def level(self) -> AlertLevel:
        return AlertLevel(self.unit[0])

    @property
    def period_key(self) -> str:
        if isinstance(self.period, TermPeriod):
            return period_key(str(self.period.school_year), term=self.period.term.value)
        return period_key(str(self.period.school_year), round_=self.period.round)


def alert_id(cell: AlertCell, rule: AlertRule) -> UUID:
    """Same cell + period + rule → same id, on every node, in every replay and rebuild."""
    return alert_id_for(cell.organiser_id, cell.level.value, cell.unit[1], cell.subject_code, cell.year,
                        cell.period_key, rule.value)


# --- judging one cell -------------------------------------------------------------------------

class Verdict(StrEnum):
    dipping = "dipping"
    fine = "fine"
    too_few_students = "too_few_students"  # below min_students now or in the period compared with
    no_data = "no_data"  # nothing to compare (no results, no earlier period, no outcome yet)


@dataclass(frozen=True)
class Observation:
    """One rule's verdict on one cell, with the figures to show."""

    rule: AlertRule
    verdict: Verdict
    figures: AlertFigures


def _points(value: Fraction) -> float:
    return round(float(value * 100), 2)


def _share(reaching: int, total: int) -> Fraction | None:
    return Fraction(reaching, total) if total else None


def judge_pass_drop(current: PassTally | None, compared: PassTally | None, thresholds: Thresholds) -> Observation:
    """`pass_share_drop` on a cell (`current`) and the same cell in the period compared with."""
    now, then = current or PassTally(), compared or PassTally()
    share_now, share_then = _share(now.reaching(), now.assessed()), _share(then.reaching(), then.assessed())
    change = share_now - share_then if share_now is not None and share_then is not None else None
    figures = AlertFigures(
        students=max(now.assessed(), 0), compared_students=max(then.assessed(), 0),
        share=None if share_now is None else round(float(share_now), DECIMALS),
        compared_share=None if share_then is None else round(float(share_then), DECIMALS),
        change_points=None if change is None else _points(change),
        threshold_points=float(thresholds.drop_points))
    if change is None:
        verdict = Verdict.no_data
    elif min(now.assessed(), then.assessed()) < thresholds.min_students:
        verdict = Verdict.too_few_students
    else:
        verdict = Verdict.dipping if -change * 100 > thresholds.drop_points else Verdict.fine
    return Observation(AlertRule.pass_share_drop, verdict, figures)


def judge_below_forecast(tally: ForecastTally | None, thresholds: Thresholds) -> Observation:
    """`below_forecast` on a cell's forecast-against-outcome tally (genders combined).

    Of the n forecasts with an outcome, the forecast said "reaches" for held-reaching +
    said_reaches_did_not, the outcome reached for held-reaching + said_not_reached_did; so
    outcome share − forecast share = (said_not_reached_did − said_reaches_did_not) ÷ n."""
    t = tally or ForecastTally()
    compared = t.held + t.said_reaches_did_not + t.said_not_reached_did
    change = Fraction(t.said_not_reached_did - t.said_reaches_did_not, compared) if compared else None
    figures = AlertFigures(students=max(compared, 0), change_points=None if change is None else _points(change),
                           threshold_points=float(thresholds.below_forecast_points))
    if change is None:
        verdict = Verdict.no_data
    elif compared < thresholds.min_students:
        verdict = Verdict.too_few_students
    else:
        verdict = Verdict.dipping if -change * 100 > thresholds.below_forecast_points else Verdict.fine
    return Observation(AlertRule.below_forecast, verdict, figures)


def judge_freshness(dates: Multiset | None, students: int, today: date, thresholds: Thresholds) -> Observation:
    """`freshness_red` on a cell's result dates; `students` = the cell's results (PassTally.assessed)."""
    fresh = freshness(dates, today, thresholds.freshness)
    figures = AlertFigures(students=max(students, 0), newest_result_on=fresh.newest, age_days=fresh.age_days)
    if fresh.band is Band.unknown:
        verdict = Verdict.no_data
    elif students < thresholds.min_students:
        verdict = Verdict.too_few_students
    else:
        verdict = Verdict.dipping if fresh.band is Band.red else Verdict.fine
    return Observation(AlertRule.freshness_red, verdict, figures)


# --- the alert and its state machine -----------------------------------------------------------

class Status(StrEnum):
    open = "open"
    acknowledged = "acknowledged"  # kvitterat, with a comment
    resolved = "resolved"


@dataclass(frozen=True)
class Alert:
    alert_id: UUID
    cell: AlertCell
    rule: AlertRule
    status: Status
    episode: int
    figures: AlertFigures  # the figures of the latest transition
    changed_at: datetime
    comment: str | None = None  # the acknowledgement's comment (this episode)
    acknowledged_by: str | None = None  # a pseudonymous user id from the token, never a name
    resolved_reason: ResolvedReason | None = None

    @property
    def active(self) -> bool:
        return self.status is not Status.resolved


class Action(StrEnum):
    raise_ = "raise"  # new alert, or a resolved one reopened: publish alert.raised.v1
    resolve = "resolve"  # publish alert.resolved.v1
    nothing = "nothing"


@dataclass(frozen=True)
class Decision:
    action: Action
    alert: Alert | None  # the alert after the decision (None when nothing and there is none)


_RESOLVED_BECAUSE = {Verdict.fine: ResolvedReason.recovered, Verdict.too_few_students: ResolvedReason.too_few_students,
                     Verdict.no_data: ResolvedReason.no_data}


def needs_evaluation(before: Observation | None, after: Observation) -> bool:
    """Whether a batch changed the cell's verdict (the only case `evaluate` can act on, given that
    the stored alert agrees with `before`). The first evaluation of a cell always runs."""
    return before is None or before.verdict is not after.verdict


def evaluate(cell: AlertCell, after: Observation, current: Alert | None, now: datetime) -> Decision:
    """raise / resolve / nothing for one cell and rule after a batch, from the verdict now and the
    stored alert (None if the cell never alerted under this rule)."""
    if current is not None and (current.cell != cell or current.rule is not after.rule):
        raise ValueError("the stored alert belongs to another cell or rule")
    if after.verdict is Verdict.dipping:
        if current is None:
            return Decision(Action.raise_, Alert(alert_id(cell, after.rule), cell, after.rule, Status.open, 1,
                                                 after.figures, now))
        if current.status is Status.resolved:
            return Decision(Action.raise_, replace(current, status=Status.open, episode=current.episode + 1,
                                                   figures=after.figures, changed_at=now, comment=None,
                                                   acknowledged_by=None, resolved_reason=None))
        return Decision(Action.nothing, current)
    if current is not None and current.active:
        return Decision(Action.resolve, replace(current, status=Status.resolved, figures=after.figures,
                                                changed_at=now, resolved_reason=_RESOLVED_BECAUSE[after.verdict]))
    return Decision(Action.nothing, current)


def acknowledge(alert: Alert, comment: str, by: str, now: datetime, as_read: datetime | None = None) -> Alert:
    """Acknowledge (kvittera) an open alert with a comment; again on an acknowledged one replaces the
    comment. A resolved alert cannot be acknowledged (409).

    `as_read` is the alert's `changed_at` as the caller read it: changed since (acknowledged by someone else,
    resolved and reopened as a new episode, its figures moved) is a 409 `alert_changed` — two acknowledgers who read
    the open alert once, the later silently replaced the earlier's comment (the only one any read shows), and a
    comment written about one episode acknowledged the next (round 26b). None: as it is now (a client that does not
    say what it read)."""
    text = comment.strip()
    if not text:
        raise RuleViolation("comment", "comment_required", "acknowledging an alert needs a comment")
    if len(text) > COMMENT_MAX:
        raise RuleViolation("comment", "comment_length", f"a comment is at most {COMMENT_MAX} characters")
    if contains_personal_identity_number(text):
        raise RuleViolation("comment", "no_personal_identity_number", PIN_ERROR)
    if alert.status is Status.resolved:
        raise RuleViolation("alert_id", "alert_resolved", "a resolved alert cannot be acknowledged", status=409)
    if as_read is not None and as_read != alert.changed_at:
        raise RuleViolation("changed_at", "alert_changed", "the alert changed since it was read (acknowledged, "
                            f"resolved or reopened): read it again (changed_at {alert.changed_at.isoformat()})",
                            status=409)
    return replace(alert, status=Status.acknowledged, comment=text, acknowledged_by=by, changed_at=now)


# --- freshness_red: which period an alert belongs to -------------------------------------------

FRESHNESS_LEVELS = ("group", "school_unit")  # "a group or a school unit's freshness turns red"


def term_of(day: date) -> TermPeriod:
    """The term a day falls in: the school year runs 1 July – 30 June; HT July–December, VT January–June."""
    if day.month >= 7:
        return TermPeriod(SchoolYear(day.year), Term.HT)
    return TermPeriod(SchoolYear(day.year - 1), Term.VT)


def red_from(newest: date, bands: FreshnessBands) -> date:
    """The first day the band is red for a cell whose newest result is from `newest`."""
    return add_months(newest, bands.red_after_months) + timedelta(days=1)


def freshness_period(newest: date | None, bands: FreshnessBands) -> TermPeriod | None:
    """The period of a freshness alert: the term in which the cell *turned* red. It follows from the
    data (the newest result), not from when a sweep happened to look: the same stale episode is the
    same alert id whenever it is judged, live, by the sweep, in a rebuild."""
    return None if newest is None else term_of(red_from(newest, bands))


def judge_freshness_in(period: TermPeriod, dates: Multiset | None, students: int, today: date,
                       thresholds: Thresholds) -> Observation:
    """`freshness_red` of the unit (all subjects and years together) for the alert of `period`:
    dipping only while red *and* red since a day of that period; otherwise — fresh again after new
    results, or red since another term (a new episode after new results) — it is no dip for this
    alert, which therefore resolves."""
    observation = judge_freshness(dates, students, today, thresholds)
    newest = observation.figures.newest_result_on
    if observation.verdict is Verdict.dipping and freshness_period(newest, thresholds.freshness) != period:
        return replace(observation, verdict=Verdict.fine)
    return observation

"""Dip alerts evaluated as results arrive: per batch, over the cells the batch changed.

Registered around the results handler (`main.py`): `note_cells_before` reads where the
batch's assessments counted *before* the batch (a revision may move an assessment to another
group, subject or round: the cell it left changed too); after the results and the figures moved, in
the same transaction, `freshness.evaluate_batch` judges the batch's cells (`batch_verdicts`, the
pass tallies from the figures' `figure_pass`) together with the freshness rule, one `decide` for all. A redelivered or replayed event is deduplicated by
the consumer before any handler runs, so a replay evaluates nothing; the alert ids are stable
(`rules.alert_id`), so no path can raise a second alert for one cell, period and rule.

Wired rule: `pass_share_drop` per round (school year × publication round 1–4, every kind of result
in the round), all years together (`year` = None), per subject, at group, school unit, area and
organiser level, against the previous round. A change to round r also changes round r + 1's
comparison: both are evaluated. `below_forecast` per term from forecasts and term grades (see
`_PAIRINGS`); `freshness_red` is not wired (see README).
"""

from __future__ import annotations

import functools
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from operator import attrgetter
from typing import Any, NamedTuple
from uuid import UUID, uuid5

from sqlalchemy import BigInteger, Column, String, and_, func, or_, select, text
from sqlalchemy.dialects import postgresql
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncSession

from styrkedja_contracts import (
    AssessmentPublishedV1,
    AssessmentRetractedV1,
    ForecastSubmittedV1,
    ForecastWithdrawnV1,
    new_event,
)
from styrkedja_contracts.events.alert import AlertFigures, AlertRule, ResolvedReason
from styrkedja_contracts.scales import Scale, reaches_pass, scale_values
from styrkedja_kit.consumer import Delivered
from styrkedja_kit.db import planner_setting
from styrkedja_kit.outbox import NOTIFY_CHANNEL, Outbox
from styrkedja_kit.sets import any_of, insert_rows, insert_statement, rows_in

from ..figures.forecast_outcome import ForecastTally
from ..figures.pass_share import PassTally
from ..figures.periods import RoundPeriod, SchoolYear, Term, TermPeriod
from ..figures.tables import PASS_COUNTERS, figure_pass
from ..freshness import note_change_outside_batches
from ..metadata import metadata
from ..registry import batch_memo, defer
from ..results.rules import GROUP_SEPARATOR
from ..results.tables import (
    ASSESSMENTS,
    FORECASTS,
    assessment_facts,
    forecast_facts,
    placement_of,
)
from ..staging import as_arrays, json_rows, rows_of_json
from .events import event_data
from .rules import (
    Action,
    Alert,
    AlertCell,
    Decision,
    Observation,
    Status,
    Thresholds,
    Verdict,
    alert_id,
    evaluate,
    judge_below_forecast,
    judge_pass_drop,
)
from .tables import alert_thresholds, alerts

ASSESSMENT_TYPES = (AssessmentPublishedV1.event_type, AssessmentRetractedV1.event_type)
FORECAST_TYPES = (ForecastSubmittedV1.event_type, ForecastWithdrawnV1.event_type)
EVENT_TYPES = ASSESSMENT_TYPES + FORECAST_TYPES
SOURCE = "/styrkedja/reporting/alerts"
ALERT_GROUP_SEPARATOR = ":"  # the alert contract's unit id allows no "/": a group is `<school unit>:<group>`
_BEFORE = "styrkedja.alerts.cells_before"
_BEFORE_FORECASTS = "styrkedja.alerts.forecast_cells_before"
_ROUNDS = 4
#: the batch memo (`registry.batch_memo`) holding the stored facts' (organiser, school unit, group, …) rows of the
#: batch's assessments, as `note_cells_before` read them
ASSESSMENT_ROWS_BEFORE = "styrkedja.alerts.assessment_rows_before"


class Touched(NamedTuple):
    organiser_id: str
    school_unit_code: str
    group_id: str
    subject_code: str
    school_year: str
    round: int


def _touched_of(data) -> Touched:
    return Touched(data.organiser_id, data.school_unit_code, data.group_id, data.subject_code,
                   str(data.school_year), int(data.round))


class ForecastTouched(NamedTuple):
    organiser_id: str
    school_unit_code: str
    group_id: str
    subject_code: str
    school_year: str
    term: str


_TYPE_AND_DATA = attrgetter("event.type", "event.data")
_ASSESSMENT_TYPES = frozenset(ASSESSMENT_TYPES)
_FORECAST_TYPES = frozenset(FORECAST_TYPES)
_SPLIT = "styrkedja.alerts.split"


def batch_results(session: AsyncSession, batch: Sequence[Delivered]) -> tuple[list[Any], list[Any]]:
    """The data of the batch's assessment events and of its forecast events, in the batch's order: one pass over
    the batch for every rule and lookup of the alerts (each made its own, with its own type test per event:
    several per batch of thousands). Kept in the batch's memo for the same batch (`note_cells_before` and
    `freshness.evaluate_batch` are given the same events)."""
    memo = batch_memo(session, _SPLIT)
    if memo is not None and memo.get("of") is batch:
        split: tuple[list[Any], list[Any]] = memo["split"]
        return split
    assessments: list[Any] = []
    forecasts: list[Any] = []
    for kind, data in map(_TYPE_AND_DATA, batch):
        if kind in _ASSESSMENT_TYPES:
            assessments.append(data)
        elif kind in _FORECAST_TYPES:
            forecasts.append(data)
    if memo is not None:
        memo["of"], memo["split"] = batch, (assessments, forecasts)
    return assessments, forecasts


async def note_cells_before(session: AsyncSession, batch: Sequence[Delivered]) -> None:
    # the batch's stored facts, read (and locked) once for this and the results handler after it
    assessments, forecasts = batch_results(session, batch)
    if forecasts:
        found = (await FORECASTS.preload(session, set(map(_FORECAST_KEY, forecasts)))).values()
        session.info.setdefault(_BEFORE_FORECASTS, set()).update(
            ForecastTouched(f.organiser_id, f.school_unit_code, f.group_id, f.subject_code, f.school_year, f.term)
            for f in found if not f.withdrawn)
    if not assessments:
        return
    rows = [(f.organiser_id, f.school_unit_code, f.group_id, f.subject_code, f.school_year, f.round)
            for f in (await ASSESSMENTS.preload(session, set(map(_ASSESSMENT_KEY, assessments)))).values()
            if not f.retracted]
    session.info.setdefault(_BEFORE, set()).update(rows)  # plain tuples, a Touched's fields
    # the same facts' units are what freshness notes next (`freshness.note_units_before`): no second read, and
    # kept in the batch's memo (a new one per batch), so they need no check that they are this batch's
    memo = batch_memo(session, ASSESSMENT_ROWS_BEFORE)
    if memo is not None:
        memo["rows"] = rows


#: a fact's key (`FactStore.key_of`): identified within its organiser
_ASSESSMENT_KEY = attrgetter("organiser_id", "assessment_id")
_FORECAST_KEY = attrgetter("organiser_id", "forecast_id")


def next_round(period: RoundPeriod) -> RoundPeriod:
    if period.round < _ROUNDS:
        return RoundPeriod(period.school_year, period.round + 1)
    return RoundPeriod(SchoolYear(period.school_year.start + 1), 1)


def alert_unit_id(level: str, unit_id: str) -> str:
    return unit_id.replace(GROUP_SEPARATOR, ALERT_GROUP_SEPARATOR, 1) if level == "group" else unit_id


def aggregate_unit_id(level: str, unit_id: str) -> str:
    return unit_id.replace(ALERT_GROUP_SEPARATOR, GROUP_SEPARATOR, 1) if level == "group" else unit_id


class TallyKey(NamedTuple):
    level: str
    unit_id: str  # as in the aggregates
    organiser_id: str
    subject_code: str
    school_year: str
    round: int


async def load_thresholds(session: AsyncSession, organiser_ids: Iterable[str]) -> dict[str, Thresholds]:
    """The organisers' own thresholds (absent: the defaults); read once per organiser and batch."""
    wanted = sorted(set(organiser_ids))
    memo = batch_memo(session, "alert_thresholds")
    missing = wanted if memo is None else [o for o in wanted if o not in memo]
    found: dict[str, Thresholds | None] = dict.fromkeys(missing)
    if missing:
        t = alert_thresholds.c
        rows = (await session.execute(select(
            t.organiser_id, t.drop_points, t.below_forecast_points, t.min_students).where(
            any_of(t.organiser_id, missing)))).all()
        found.update({r[0]: _thresholds_of(*r[1:]) for r in rows})
    if memo is not None:
        memo.update(found)
        found = {o: memo[o] for o in wanted}
    return {o: limits for o, limits in found.items() if limits is not None}


def _thresholds_of(drop_points: Any, below_forecast_points: Any, min_students: int) -> Thresholds:
    return Thresholds.of(str(drop_points), str(below_forecast_points), min_students)


def _remember_thresholds(session: AsyncSession, organisers: Sequence[str], rows: Iterable[Sequence[Any]]
                         ) -> dict[str, Thresholds]:
    """`load_thresholds` of `organisers` from their stored rows read already (organiser, drop points, below
    forecast points, min students), noted in the batch's memo: the batch's other rules read none again."""
    found: dict[str, Thresholds | None] = dict.fromkeys(organisers)
    found.update({row[0]: _thresholds_of(*row[1:]) for row in rows})
    memo = batch_memo(session, "alert_thresholds")
    if memo is not None:
        memo.update(found)
    return {o: limits for o, limits in found.items() if limits is not None}


# A cell's results and those reaching the pass level, all kinds, years, genders and terms together: the
# figures' pass tallies of its round (`figure_pass`, period `R<n>`: every result that is not retracted,
# per year and gender — the same results as the aggregates' rows of the round, kept in the same
# transaction, and applied before this judgement, `main.py`), summed over years and genders. One index
# range per (level, unit, organiser, subject) through the table's primary key (LATERAL: the keys drive
# the index whatever the planner guesses of the array's length), every round of the batch read at once;
# a few rows per cell (one per year), where the aggregates hold one per kind, term, scale, year, gender
# and value.
_ASSESSED = " + ".join(f"x.{c}" for c in PASS_COUNTERS if c.startswith("assessed_"))
_REACHING = " + ".join(f"x.{c}" for c in PASS_COUNTERS if c.startswith("reaching_"))
_PASS_TALLIES = text(
    "WITH k AS MATERIALIZED (SELECT * FROM unnest(CAST(:level AS text[]), CAST(:unit_id AS text[]), "
    "CAST(:organiser_id AS text[]), CAST(:subject_code AS text[]), CAST(:school_year AS text[]), "
    "CAST(:round AS integer[])) WITH ORDINALITY AS k(level, unit_id, organiser_id, subject_code, school_year, round, n)), "
    # the tallies once per distinct prefix (MATERIALIZED: not a lateral per key, which the planner chose
    # when it guessed the prefixes at one row), then matched with the keys
    "t AS MATERIALIZED (SELECT p.level, p.unit_id, p.organiser_id, p.subject_code, f.school_year, f.period, f.assessed, f.reaching "
    "FROM (SELECT DISTINCT level, unit_id, organiser_id, subject_code FROM k) p "
    f"CROSS JOIN LATERAL (SELECT x.school_year, x.period, sum({_ASSESSED}) AS assessed, sum({_REACHING}) AS reaching "
    f"FROM {figure_pass.name} x WHERE x.level = p.level AND x.unit_id = p.unit_id "
    "AND x.organiser_id = p.organiser_id AND x.subject_code = p.subject_code "
    "AND x.school_year = ANY(CAST(:school_years AS text[])) AND x.period = ANY(CAST(:periods AS text[])) "
    "GROUP BY x.school_year, x.period) f) "
    # the keys' positions and counts as three arrays (one row: no per-row decoding)
    "SELECT coalesce(array_agg(k.n), '{}'), coalesce(array_agg(t.assessed), '{}'), "
    "coalesce(array_agg(t.reaching), '{}') FROM k JOIN t ON t.level = k.level AND t.unit_id = k.unit_id "
    "AND t.organiser_id = k.organiser_id AND t.subject_code = k.subject_code AND t.school_year = k.school_year "
    "AND t.period = 'R' || k.round")
_CELL_KEY = ("level", "unit_id", "organiser_id", "subject_code", "school_year", "round")


async def pass_tallies(session: AsyncSession, keys: set[TallyKey]) -> dict[TallyKey, PassTally]:
    """Results and results reaching the pass level per cell, all kinds, years and genders together
    (one statement per batch; a cell without results is absent)."""
    return {TallyKey(*key): PassTally(assessed_unknown=assessed, reaching_unknown=reaching)
            for key, (assessed, reaching) in (await _pass_counts(session, keys)).items()}


async def _pass_counts(session: AsyncSession, keys: set[Any]) -> dict[tuple[Any, ...], tuple[int, int]]:
    """`pass_tallies` as plain (assessed, reaching) pairs under plain tuple keys."""
    if not keys:
        return {}
    ordered = sorted(keys)  # the index ranges in the index's order (locality)
    params: dict[str, Any] = as_arrays(_CELL_KEY, ordered)
    params["school_years"] = sorted(set(params["school_year"]))
    params["periods"] = [f"R{n}" for n in sorted(set(params["round"]))]
    positions, assessed, reaching = (await session.execute(_PASS_TALLIES, params)).one()
    return dict(zip([ordered[n - 1] for n in positions], zip(assessed, reaching, strict=True), strict=True))


def _alert_of(row, cell: AlertCell) -> Alert:
    return Alert(row.alert_id, cell, AlertRule(row.rule), Status(row.status), row.episode,
                 AlertFigures.model_validate(row.figures), row.changed_at, row.comment, row.acknowledged_by,
                 ResolvedReason(row.resolved_reason) if row.resolved_reason else None)


def _row_of(alert: Alert, raised: bool) -> dict[Any, Any]:
    cell, period = alert.cell, alert.cell.period
    row = {"alert_id": alert.alert_id, "organiser_id": cell.organiser_id, "level": cell.level.value,
           "unit_id": cell.unit[1], "subject_code": cell.subject_code, "year": cell.year,
           "school_unit_code": cell.unit[1].split(ALERT_GROUP_SEPARATOR, 1)[0]
           if cell.level.value in ("group", "school_unit") else None,
           "school_year": str(period.school_year),
           "term": period.term.value if isinstance(period, TermPeriod) else None,
           "round": None if isinstance(period, TermPeriod) else period.round,
           "rule": alert.rule.value, "status": alert.status.value, "episode": alert.episode,
           "figures": alert.figures.model_dump(mode="json"), "changed_at": alert.changed_at,
           "comment": alert.comment, "acknowledged_by": alert.acknowledged_by,
           "resolved_reason": alert.resolved_reason.value if alert.resolved_reason else None}
    if raised:
        row["raised_at"] = alert.changed_at
    return row


def event_id_of(alert: Alert, action: Action) -> UUID:
    """Deterministic: the same transition of the same alert is the same event, however often sent."""
    return uuid5(alert.alert_id, f"{action.value}:{alert.episode}")


def _deferred(session: AsyncSession, rows: list[dict[Any, Any]], events: list[Any]) -> bool:
    """The alerts' rows and their events sent with the batch's last statement (`registry.defer`: one round trip
    for the alerts, the outbox, its notification and the freshness note), where a batch is being applied;
    nothing later in a batch reads the alerts or the outbox. False: not in a batch (written now)."""
    if not rows:
        return not events  # nothing to write
    statement, params = insert_statement(alerts, rows, conflict=("alert_id",))
    outbox = Outbox(metadata.tables["outbox"]).insert_of(events)
    if not defer(session, statement.text, params):
        return False
    if outbox is not None:
        defer(session, *outbox, notify=NOTIFY_CHANNEL)
    return True


async def store_decisions(session: AsyncSession, decided: Sequence[tuple[Action, Alert]],
                          raised_at: Mapping[UUID, datetime] | None = None) -> int:
    """Write the alerts that changed and their events (reporting's outbox), one transaction.
    `raised_at`: the stored alerts' `raised_at` (as read, locked, by `decide`): a raise sets it, other
    changes keep it — written back as it is, so that every row goes in one statement."""
    events = []
    known = raised_at or {}
    ordered = sorted(decided, key=lambda d: d[1].alert_id)
    rows = []
    for action, alert in ordered:
        at = alert.changed_at if action is Action.raise_ else known.get(alert.alert_id)
        if at is None:
            break
        rows.append({**_row_of(alert, raised=False), "raised_at": at})
    if len(rows) == len(ordered):
        for action, alert in decided:
            data = event_data(Decision(action, alert))
            if data is not None:
                events.append(new_event(data, source=SOURCE, subject=str(alert.alert_id),
                                        event_id=event_id_of(alert, action), time=alert.changed_at))
        if _deferred(session, rows, events):
            return len(events)
        # one statement over arrays (`insert_rows`: the same prepared statement whatever the batch)
        await insert_rows(session, alerts, rows, conflict=("alert_id",))
        if events:
            await Outbox(metadata.tables["outbox"]).add(session, events)
        return len(events)
    else:  # a change to an alert whose `raised_at` was not given: one statement per kind of write
        by_kind: dict[bool, list[dict[Any, Any]]] = {True: [], False: []}
        for action, alert in ordered:
            raised = action is Action.raise_
            by_kind[raised].append({"raised_at": alert.changed_at, **_row_of(alert, raised=raised)})
        for raised, kind_rows in by_kind.items():
            if kind_rows:
                stmt = pg_insert(alerts)
                kept = [k for k in kind_rows[0] if k != "alert_id" and (raised or k != "raised_at")]
                await session.execute(stmt.on_conflict_do_update(
                    index_elements=["alert_id"], set_={k: stmt.excluded[k] for k in kept}), kind_rows)
    for action, alert in decided:
        data = event_data(Decision(action, alert))
        if data is not None:
            events.append(new_event(data, source=SOURCE, subject=str(alert.alert_id),
                                    event_id=event_id_of(alert, action), time=alert.changed_at))
    if events:
        await Outbox(metadata.tables["outbox"]).add(session, events)
    return len(events)


# Pure and of frozen arguments: judged once per distinct (tally, tally compared with, thresholds) and
# alert key, not once per cell and batch (most cells of a batch repeat a handful of small tallies).
@functools.lru_cache(maxsize=1 << 16)
def _judge_pass_drop(now: tuple[int, int], then: tuple[int, int], thresholds: Thresholds) -> Observation:
    """`judge_pass_drop` of two cells' (assessed, reaching), all genders together (a cell without
    results is (0, 0), as judge_pass_drop's None): judged once per distinct pair of counts."""
    return judge_pass_drop(PassTally(assessed_unknown=now[0], reaching_unknown=now[1]),
                           PassTally(assessed_unknown=then[0], reaching_unknown=then[1]), thresholds)


def _dips(now: tuple[int, int], then: tuple[int, int], thresholds: Thresholds) -> bool:
    """Whether `_judge_pass_drop` says `dipping`, in integers (no shares, no figures): the share of those
    reaching the pass level fell by more than the threshold, with results in both and at least
    `min_students` in each. −change × 100 > p/q ⇔ 100 · (then_r · now_a − now_r · then_a) · q > p · now_a · then_a
    (both counts positive)."""
    (now_assessed, now_reaching), (then_assessed, then_reaching) = now, then
    if min(now_assessed, then_assessed) < max(thresholds.min_students, 1):
        return False
    points = thresholds.drop_points
    return (100 * (then_reaching * now_assessed - now_reaching * then_assessed) * points.denominator
            > points.numerator * now_assessed * then_assessed)


class PassDrop(NamedTuple):
    """A pass-drop cell's counts and thresholds, whether it dips (`_dips`), and its `Observation` made only
    where a decision needs it (`observation`): most cells of a batch neither dip nor have an alert."""

    now: tuple[int, int]
    then: tuple[int, int]
    thresholds: Thresholds
    dipping: bool

    def observation(self) -> Observation:
        return _judge_pass_drop(self.now, self.then, self.thresholds)


_NO_RESULTS = (0, 0)
_alert_id = functools.lru_cache(maxsize=1 << 17)(alert_id)
# frozen and checked on construction: a cell judged again (most cells of a batch were judged in the
# batches before) is the same object, not built and checked anew
_alert_cell = functools.lru_cache(maxsize=1 << 16)(AlertCell)

RoundLabel = tuple[str, int]  # (school year as stored, round): a round period as plain values
Cell = tuple[str, str, str, str, RoundLabel]  # (level, aggregate unit id, organiser, subject, round)
PeriodCell = tuple[str, str, str, str, RoundPeriod]  # the same with the round as a period
#: A judged pass-drop cell as plain values: (level, aggregate unit id, organiser, subject, school year,
#: round), its counts and verdict. Its `AlertCell`, alert id and `Observation` are made only where a
#: decision needs them: a dipping cell, or one with an active alert (most cells of a batch are neither).
Judged = tuple[tuple[str, str, str, str, str, int], PassDrop]


async def batch_verdicts(session: AsyncSession, batch: Sequence[Delivered]
                         ) -> tuple[list[tuple[AlertCell, Observation]], list[Judged]]:
    """The batch's `below_forecast` cells judged, and its `pass_share_drop` cells (`decide`'s two inputs)."""
    judged = await _judged_below_forecast(session, batch)
    touched: set[tuple[str, str, str, str, str, int]] = session.info.pop(_BEFORE, set())
    # plain tuples (a Touched's fields): thousands per batch, few distinct
    touched.update((d.organiser_id, d.school_unit_code, d.group_id, d.subject_code, str(d.school_year), int(d.round))
                   for d in batch_results(session, batch)[0])
    drops: list[Judged] = []
    if touched:
        drops = await _batch_pass_drops(session, touched, await placement_of(session, {t[1] for t in touched}))
    return judged, drops


# The batch's pass-drop cells judged by the server, only those that can decide anything coming back. Python
# spreads the touched results' keys over their units (`_label_cells_of`'s group, school unit, area and
# organiser) as prefixes (level, unit, organiser, subject), each with the rounds it judges as bits of one
# bigint (a round's ordinal: school year's start × 4 + round − 1, so the previous round is the ordinal − 1;
# bit i = ordinal `:base` + i). Per prefix, one index range of figure_pass (as `_PASS_TALLIES`) summed per
# round, and each judged round's counts against the round before — inside the prefix's LATERAL: no join of
# thousands of cells with thousands of tallies for the planner to misjudge. The verdict in integers (`_dips`,
# exactly: numeric), the active pass-drop alerts matched by their columns (as `decide`'s). A cell neither
# dipping nor with an active alert decides nothing (`rules.evaluate`): it is not sent back, not decoded, and
# `decide` never looks it up — thousands of cells per batch of 5,000, a handful back.
# The prefixes as one JSON parameter (`staging.json_rows`), not an array per column: asyncpg's array encoder
# type-checks every element (thousands of prefixes × six columns per batch of 5,000; bench/results/apply10.json).
_PREFIX_ROWS = rows_of_json("CAST(:prefixes AS text)", [
    Column(name, String) for name in ("level", "unit_id", "alert_unit", "organiser_id", "subject_code")]
    + [Column("mask", BigInteger)])
_BATCH_PASS_DROPS = text(
    # the freshness rule's organiser locks first (`FRESHNESS_LOCKS`: taken here, in their order, its own
    # round trip saved; nothing in this statement reads what they guard — the freshness rule's reads come after)
    "WITH lk AS MATERIALIZED (SELECT pg_advisory_xact_lock(hashtext(k)) FROM unnest(CAST(:freshness_locks AS text[])) "
    "WITH ORDINALITY AS u(k, n) ORDER BY n), "
    f"q AS ({_PREFIX_ROWS}), "
    # the organisers' thresholds read here (`load_thresholds`' rows come back with the verdicts): a stored drop as
    # numeric over 1 (exact), the default's as its fraction
    f"th AS MATERIALIZED (SELECT o.organiser_id, coalesce(CAST(t.drop_points AS numeric), CAST(:th_num AS numeric)) AS num, "
    "CASE WHEN t.organiser_id IS NULL THEN CAST(:th_den AS numeric) ELSE 1 END AS den, "
    "coalesce(t.min_students, CAST(:th_min AS integer)) AS min_students "
    f"FROM unnest(CAST(:th_organiser AS text[])) AS o(organiser_id) LEFT JOIN {alert_thresholds.name} t "
    "ON t.organiser_id = o.organiser_id), "
    # the active alerts keyed as the judged rounds (their ordinal), matched below by an uncorrelated IN: one hash
    # table per statement (the planner hashed the EXISTS this replaced too; a LEFT JOIN instead was planned as a
    # nested loop on the one-row estimates — 1.4M comparisons per batch at 187 active alerts, apply13.json)
    f"act AS MATERIALIZED (SELECT a.organiser_id, a.level, a.unit_id, a.subject_code, "
    "CAST(left(a.school_year, 4) AS integer) * 4 + a.round - 1 AS o "
    f"FROM {alerts.name} a WHERE a.organiser_id = ANY(CAST(:th_organiser AS text[])) "
    f"AND a.status <> '{Status.resolved.value}' AND a.rule = '{AlertRule.pass_share_drop.value}' "
    "AND a.year IS NULL AND a.round IS NOT NULL), "
    "j AS (SELECT q.level, q.unit_id, q.alert_unit, q.organiser_id, q.subject_code, v.o, "
    "CAST(v.na AS numeric) AS na, CAST(v.nr AS numeric) AS nr, CAST(v.ba AS numeric) AS ba, "
    "CAST(v.br AS numeric) AS br, th.num, th.den, th.min_students FROM q JOIN th ON th.organiser_id = q.organiser_id "
    "CROSS JOIN LATERAL (WITH s AS (SELECT CAST(left(x.school_year, 4) AS integer) * 4 "
    "+ CAST(substr(x.period, 2) AS integer) - 1 AS o, "
    f"sum({_ASSESSED}) AS assessed, sum({_REACHING}) AS reaching FROM {figure_pass.name} x "
    "WHERE x.level = q.level AND x.unit_id = q.unit_id AND x.organiser_id = q.organiser_id "
    "AND x.subject_code = q.subject_code AND x.school_year = ANY(CAST(:school_years AS text[])) "
    "AND x.period = ANY(CAST(:periods AS text[])) GROUP BY 1) "
    "SELECT b.o, coalesce(n.assessed, 0) AS na, coalesce(n.reaching, 0) AS nr, coalesce(p.assessed, 0) AS ba, "
    "coalesce(p.reaching, 0) AS br FROM (SELECT CAST(:base AS integer) + i AS o FROM generate_series(0, CAST(:span AS integer)) AS i "
    "WHERE (q.mask >> i) & 1 = 1) b LEFT JOIN s n ON n.o = b.o LEFT JOIN s p ON p.o = b.o - 1) v) "
    "SELECT ARRAY(SELECT ROW(j.level, j.unit_id, j.organiser_id, j.subject_code, j.o, "
    "CAST(j.na AS bigint), CAST(j.nr AS bigint), CAST(j.ba AS bigint), CAST(j.br AS bigint)) FROM j "
    "WHERE (least(j.na, j.ba) >= greatest(j.min_students, 1) "
    "AND 100 * (j.br * j.na - j.nr * j.ba) * j.den > j.num * j.na * j.ba) "
    "OR (j.organiser_id, j.level, j.alert_unit, j.subject_code, j.o) IN "
    "(SELECT a.organiser_id, a.level, a.unit_id, a.subject_code, a.o FROM act a)), "
    # the stored thresholds themselves, for the batch's other rules (`load_thresholds`' memo): one round trip
    "ARRAY(SELECT ROW(t.organiser_id, CAST(t.drop_points AS text), CAST(t.below_forecast_points AS text), "
    f"t.min_students) FROM {alert_thresholds.name} t WHERE t.organiser_id = ANY(CAST(:th_organiser AS text[]))), "
    "(SELECT count(*) FROM lk)")
_MASK_BITS = 63
#: session.info: the freshness rule's lock keys (`freshness.lock_keys`) for `_BATCH_PASS_DROPS` to take, set by
#: `freshness.evaluate_batch`; and those it took (the freshness rule takes only the rest)
FRESHNESS_LOCKS = "styrkedja.alerts.freshness_locks"
FRESHNESS_LOCKED = "styrkedja.alerts.freshness_locked"


@functools.lru_cache(maxsize=4096)
def _ordinal(school_year: str, round_: int) -> int:
    """A round's ordinal: consecutive rounds are consecutive integers (`RoundPeriod.previous` is − 1)."""
    return SchoolYear.parse(school_year).start * _ROUNDS + round_ - 1


@functools.lru_cache(maxsize=4096)
def _round_label(ordinal: int) -> RoundLabel:
    return str(SchoolYear(ordinal // _ROUNDS)), ordinal % _ROUNDS + 1


async def _batch_pass_drops(session: AsyncSession, touched: set[tuple[str, str, str, str, str, int]],
                            placement: Mapping[str, str | None]) -> list[Judged]:
    """`_pass_drop_verdicts(_label_cells_of(touched, placement))` less the cells that cannot decide anything
    (neither dipping nor with an active alert: `decide` passes them by), judged by the server in one
    statement (`_BATCH_PASS_DROPS`); the verdicts of those that come back judged again here (`_dips`)."""
    ordinals = {label: _ordinal(*label) for label in {t[4:] for t in touched}}
    base = min(ordinals.values())
    if max(ordinals.values()) + 1 - base >= _MASK_BITS:  # rounds of many school years at once: every cell
        cells = _label_cells_of({Touched(*t) for t in touched}, dict(placement))
        return await _pass_drop_verdicts(session, cells)
    masks: dict[tuple[str, str, str, str, str], int] = {}
    get = masks.get
    for organiser, code, group, subject, school_year, round_ in touched:
        bits = 3 << (ordinals[(school_year, round_)] - base)  # the round and the next
        units = [("group", f"{code}{GROUP_SEPARATOR}{group}", f"{code}{ALERT_GROUP_SEPARATOR}{group}"),
                 ("school_unit", code, code), ("organiser", organiser, organiser)]
        area = placement.get(code)
        if area:
            units.append(("area", area, area))
        for level, unit, alert_unit in units:
            key = (level, unit, alert_unit, organiser, subject)
            masks[key] = get(key, 0) | bits
    judged_ordinals = {o + n for o in ordinals.values() for n in (-1, 0, 1)}
    organisers = sorted({t[0] for t in touched})
    default = Thresholds()
    # the rounds' bits span at most `_MASK_BITS`: only those are generated per prefix (not all 63)
    span = max(ordinals.values()) + 1 - base
    params: dict[str, Any] = {"prefixes": json_rows([(*key, mask) for key, mask in masks.items()]), "base": base,
               "span": span, "th_organiser": organisers, "th_num": default.drop_points.numerator,
               "th_den": default.drop_points.denominator, "th_min": default.min_students,
               "school_years": sorted({_round_label(o)[0] for o in judged_ordinals}),
               "periods": [f"R{n}" for n in sorted({_round_label(o)[1] for o in judged_ordinals})]}
    locks = session.info.pop(FRESHNESS_LOCKS, None) or []
    params["freshness_locks"] = locks
    verdicts, stored_thresholds, _ = (await session.execute(_BATCH_PASS_DROPS, params)).one()
    session.info[FRESHNESS_LOCKED] = frozenset(locks)
    found = _remember_thresholds(session, organisers, stored_thresholds)
    by_organiser = {o: found.get(o, default) for o in organisers}
    judged: list[Judged] = []
    for level, unit, organiser, subject, ordinal, na, nr, ba, br in verdicts:
        now_, then_, thresholds = (na, nr), (ba, br), by_organiser[organiser]
        judged.append(((level, unit, organiser, subject, *_round_label(ordinal)),
                       PassDrop(now_, then_, thresholds, _dips(now_, then_, thresholds))))
    return judged



@functools.lru_cache(maxsize=4096)
def _round_and_next(school_year: str, round_: int) -> tuple[RoundPeriod, RoundPeriod]:
    """A touched round and the round after it (judged against it): the few of a batch made once."""
    period = RoundPeriod(SchoolYear.parse(school_year), round_)
    return period, next_round(period)


@functools.lru_cache(maxsize=4096)
def _labels_and_next(school_year: str, round_: int) -> tuple[RoundLabel, RoundLabel]:
    """`_round_and_next` as plain labels (hashed per cell without a dataclass's hash)."""
    return tuple(_label(p) for p in _round_and_next(school_year, round_))  # type: ignore[return-value]


@functools.lru_cache(maxsize=4096)
def _label(period: RoundPeriod) -> RoundLabel:
    return str(period.school_year), period.round


@functools.lru_cache(maxsize=4096)
def _previous_round(label: RoundLabel) -> RoundLabel:
    return _label(_round_period(label).previous())


@functools.lru_cache(maxsize=4096)
def _round_period(label: RoundLabel) -> RoundPeriod:
    return RoundPeriod(SchoolYear.parse(label[0]), label[1])


def _cells_of(touched: set[Touched], placement: dict[str, str | None]) -> set[PeriodCell]:
    return {(*c[:4], _round_period(c[4])) for c in _label_cells_of(touched, placement)}


def _label_cells_of(touched: set[Touched], placement: dict[str, str | None]) -> set[Cell]:
    """The cells a batch's touched results judge: their group, school unit, area and organiser, each in
    the touched round and the round after it."""
    cells: set[Cell] = set()
    add = cells.add
    for t in touched:
        periods = _labels_and_next(t.school_year, t.round)
        code, organiser, subject = t.school_unit_code, t.organiser_id, t.subject_code
        units = [("group", f"{code}{GROUP_SEPARATOR}{t.group_id}"), ("school_unit", code), ("organiser", organiser)]
        area = placement.get(code)
        if area:
            units.append(("area", area))
        for level, unit in units:
            for p in periods:
                add((level, unit, organiser, subject, p))
    return cells


#: the advisory lock of the transactions that decide a judgement of every cell (`decide_all`): a reevaluation and the
#: rebuild's decision. The rebuild decides before its swap takes the live tables' lock (swap16), so it holds alert rows
#: while it waits for that lock; a reevaluation takes the live tables (its state-version note, its reads) before the
#: same alert rows. Both take this lock first — the reevaluation as its first statement, holding nothing the rebuild
#: waits for — so the two never hold one and wait for the other's (a deadlock, which PostgreSQL ends by aborting one:
#: the rebuild's hours of work, or the call).
JUDGE_ALL_LOCK = "styrkedja.alerts.judge_all"


async def lock_judge_all(session: AsyncSession) -> None:
    """`JUDGE_ALL_LOCK` for the transaction (taken again by the same transaction: nothing waits)."""
    await session.execute(text("SELECT pg_advisory_xact_lock(hashtext(:k))"), {"k": JUDGE_ALL_LOCK})


async def reevaluate_all(session: AsyncSession, organiser_id: str | None = None, *, moves_version: bool = True) -> int:
    """Judge every cell once on the current state: after a rebuild (applied with alerts off, see
    `main.handler_registry(live_alerts=False)`), so that intermediate states of the rebuild's
    batching neither resolve nor reopen anything; also what a daily sweep calls. Returns the
    number of events written. `moves_version=False`: the caller's transaction moves the state
    version itself (the rebuild's swap writes every topic's row anew). `JUDGE_ALL_LOCK` first: before any
    other lock of the transaction (the caller's must hold none a rebuild's swap waits for)."""
    await lock_judge_all(session)
    if moves_version:  # outside any batch: the alert lists kept before it are old
        await note_change_outside_batches(session)
    return await decide_all(session, await judge_all(session, organiser_id))


@dataclass(frozen=True)
class AlertState:
    """What of the alerts' own (kept) tables a judgement of every cell rests on: the cells of the open
    pass-drop and below-forecast alerts (judged too, so that they can resolve) and the stored thresholds."""

    active: frozenset[tuple[Any, ...]]
    below: frozenset[tuple[Any, ...]]
    thresholds: tuple[tuple[str, Thresholds], ...]  # (organiser, its thresholds), by organiser


@dataclass(frozen=True)
class Judgement:
    """`judge_all`'s verdicts, not yet decided against the stored alerts (`decide_all`): reads only, no row
    locked, nothing written."""

    organiser_id: str | None
    now: datetime
    state: AlertState
    drops: list[Judged]  # those that can decide anything: dipping, or with an open alert in `state`
    below: list[tuple[AlertCell, Observation]]


async def alert_state(session: AsyncSession, organiser_id: str | None = None) -> AlertState:
    """The open alerts' cells and the thresholds, as `judge_all` uses them (of one organiser, or all)."""
    al, t = alerts.c, alert_thresholds.c
    active = select(al.level, al.unit_id, al.organiser_id, al.subject_code, al.school_year, al.round).where(
        al.status != Status.resolved.value, al.rule == AlertRule.pass_share_drop.value, al.round.is_not(None))
    below = select(al.organiser_id, al.subject_code, al.school_year, al.term, al.level, al.unit_id).where(
        al.status != Status.resolved.value, al.rule == AlertRule.below_forecast.value, al.term.is_not(None))
    stored = select(t.organiser_id, t.drop_points, t.below_forecast_points, t.min_students)
    if organiser_id is not None:
        active, below = active.where(al.organiser_id == organiser_id), below.where(al.organiser_id == organiser_id)
        stored = stored.where(t.organiser_id == organiser_id)
    return AlertState(frozenset(tuple(r) for r in (await session.execute(active)).all()),
                      frozenset(tuple(r) for r in (await session.execute(below)).all()),
                      tuple(sorted((r[0], _thresholds_of(*r[1:])) for r in (await session.execute(stored)).all())))


async def judge_all(session: AsyncSession, organiser_id: str | None = None) -> Judgement:
    """Every cell's verdict on the current state (of one organiser, or all): the figures' and facts' reads of
    `reevaluate_all`, and of the kept tables only `alert_state`, read first and used as read — so that
    `decide_all` can tell whether a judgement made earlier (the rebuild's, on its own tables before its swap
    takes the live tables' lock) is still the one a judgement now would make."""
    judgement = await judge_pass_drops(session, await alert_state(session, organiser_id), organiser_id)
    return await judge_below_forecasts(session, judgement)


async def judge_pass_drops(session: AsyncSession, state: AlertState, organiser_id: str | None = None) -> Judgement:
    """`judge_all`'s first half: every round cell's `pass_share_drop` (`state` as `alert_state` read it), the
    below-forecast cells not yet judged (`judge_below_forecasts`). The rebuild runs the two halves as jobs of
    their own, each once the tables it reads are complete."""
    now = (await session.execute(select(func.now()))).scalar_one()
    return Judgement(organiser_id, now, state, await _all_pass_drops(session, state, organiser_id), [])


async def judge_below_forecasts(session: AsyncSession, judgement: Judgement) -> Judgement:
    """`judge_all`'s second half: `judgement` with every forecast term's `below_forecast` cells that can decide
    anything — dipping (`_below`), or with an active alert in its state — as the live batch's (`only_deciding`):
    `decide` passes every other cell by (never alerted and not dipping: nothing; a resolved alert and not
    dipping: `rules.evaluate` says nothing), and made each an `AlertCell` with an alert id and looked its alert up
    first (at 6.4M events every unit of every forecast term)."""
    state, organiser_id = judgement.state, judgement.organiser_id
    fc = forecast_facts.c
    terms = select(fc.organiser_id, fc.subject_code, fc.school_year, fc.term).where(~fc.withdrawn).distinct()
    if organiser_id is not None:
        terms = terms.where(fc.organiser_id == organiser_id)
    term_keys = [tuple(key) for key in (await session.execute(terms)).all()]
    # the tallies of every term with forecasts, read once: the units judged are theirs and the active alerts' (a
    # term of an active alert only, without forecasts now, has no tallies: read again, it had none either)
    every = await forecast_tallies_of(session, term_keys)
    wanted: dict[tuple[str, str, str, str], set[tuple[str, str]]] = {}
    for key, tallies in every.items():
        wanted.setdefault(key, set()).update(tallies)
    for organiser, subject, school_year, term, level, unit in sorted(state.below):
        wanted.setdefault((organiser, subject, school_year, term), set()).add((level, aggregate_unit_id(level, unit)))
    active = {(organiser, level, unit, subject, school_year, term)
              for organiser, subject, school_year, term, level, unit in state.below}
    below = _judge_below_forecast_of(wanted, dict(state.thresholds), every, active, only_deciding=True)
    return replace(judgement, below=below)


def _pass_drops_sql(one_organiser: bool) -> str:
    """`_ALL_PASS_DROPS`' statement, of one organiser's cells (`:organiser`) or all."""
    of_one = " AND {0}.organiser_id = :organiser" if one_organiser else ""
    ordinal = f"CAST(left({{0}}.school_year, 4) AS integer) * {_ROUNDS} + {{1}} - 1"
    rounds = ", ".join(f"'R{n}'" for n in range(1, _ROUNDS + 1))
    levels = ", ".join(f"'{level}'" for level in _JUDGED_LEVELS)
    prefix = "level, unit_id, organiser_id, subject_code"
    return (
        # the round cells of the results (the areas' from their school units' rows, `with_areas`), each as its
        # round's ordinal (`_ordinal`: consecutive rounds are consecutive integers)
        f"WITH c AS (SELECT DISTINCT r.level, r.unit_id, r.organiser_id, r.subject_code, "
        f"{ordinal.format('r', 'r.round')} AS o FROM ({_READ_ROWS}) AS r WHERE r.level IN ({levels})"
        f"{of_one.format('r')}), "
        # the cells judged (each results cell in its round and in the round after it, `next_round`; the active
        # alerts'), and figure_pass's round rows, each as its round's results (`_PASS_TALLIES`' sums) and as the
        # previous round's of the round after it: one sum per cell, no join of cells with tallies
        f"u AS (SELECT c.{prefix.replace(', ', ', c.')}, c.o + k.k AS o, true AS judged, 0 AS na, 0 AS nr, 0 AS ba, "
        "0 AS br FROM c CROSS JOIN (VALUES (0), (1)) AS k(k) "
        f"UNION ALL SELECT {prefix}, o, true, 0, 0, 0, 0 FROM unnest(CAST(:a_level AS text[]), CAST(:a_unit AS text[]), "
        "CAST(:a_organiser AS text[]), CAST(:a_subject AS text[]), CAST(:a_o AS integer[])) "
        f"AS a({prefix}, o) "
        f"UNION ALL SELECT x.{prefix.replace(', ', ', x.')}, {ordinal.format('x', 'CAST(substr(x.period, 2) AS integer)')} "
        f"+ k.k, false, CASE k.k WHEN 0 THEN {_ASSESSED} ELSE 0 END, CASE k.k WHEN 0 THEN {_REACHING} ELSE 0 END, "
        f"CASE k.k WHEN 1 THEN {_ASSESSED} ELSE 0 END, CASE k.k WHEN 1 THEN {_REACHING} ELSE 0 END "
        f"FROM {figure_pass.name} x CROSS JOIN (VALUES (0), (1)) AS k(k) WHERE x.period IN ({rounds}){of_one.format('x')}), "
        f"v AS (SELECT {prefix}, o, CAST(sum(na) AS numeric) AS na, CAST(sum(nr) AS numeric) AS nr, "
        f"CAST(sum(ba) AS numeric) AS ba, CAST(sum(br) AS numeric) AS br FROM u GROUP BY {prefix}, o "
        "HAVING bool_or(judged)), "
        "th AS (SELECT * FROM unnest(CAST(:th_organiser AS text[]), CAST(:th_num AS numeric[]), "
        "CAST(:th_den AS numeric[]), CAST(:th_min AS integer[])) AS th(organiser_id, num, den, min_students)), "
        "w AS (SELECT v.*, coalesce(th.num, CAST(:d_num AS numeric)) AS num, "
        "coalesce(th.den, CAST(:d_den AS numeric)) AS den, "
        "coalesce(th.min_students, CAST(:d_min AS integer)) AS min_students FROM v LEFT JOIN th USING (organiser_id)) "
        # only the cells that can decide anything come back: dipping (`_dips`, exactly: numeric), or with an active
        # alert — the rest (most) neither decoded nor judged again in Python
        "SELECT coalesce(array_agg(w.level), '{}'), coalesce(array_agg(w.unit_id), '{}'), "
        "coalesce(array_agg(w.organiser_id), '{}'), coalesce(array_agg(w.subject_code), '{}'), "
        "coalesce(array_agg(w.o), '{}'), coalesce(array_agg(CAST(w.na AS bigint)), '{}'), "
        "coalesce(array_agg(CAST(w.nr AS bigint)), '{}'), coalesce(array_agg(CAST(w.ba AS bigint)), '{}'), "
        "coalesce(array_agg(CAST(w.br AS bigint)), '{}') FROM w "
        "WHERE (least(w.na, w.ba) >= greatest(w.min_students, 1) "
        "AND 100 * (w.br * w.na - w.nr * w.ba) * w.den > w.num * w.na * w.ba) "
        f"OR (w.{prefix.replace(', ', ', w.')}, w.o) IN (SELECT * FROM unnest(CAST(:a_level AS text[]), "
        "CAST(:a_unit AS text[]), CAST(:a_organiser AS text[]), CAST(:a_subject AS text[]), CAST(:a_o AS integer[])))")


#: the levels whose round cells are judged (the nation's are not)
_JUDGED_LEVELS = ("group", "school_unit", "area", "organiser")
#: the results' rows as every level reads them (`results.tables.with_areas`), as SQL
_READ_ROWS = str(select(*ASSESSMENTS.read_rows.c).compile(
    dialect=postgresql.dialect(), compile_kwargs={"literal_binds": True}))  # type: ignore[no-untyped-call]
#: every round cell's `pass_share_drop` judged by the server, those that can decide anything back (as the live
#: batch's `_BATCH_PASS_DROPS`, over every cell): the cells were read into Python, each made a period and its next,
#: and their keys sent back for their tallies (at 6.4M events 11.3 of the judgement's 18.6 s were this process's)
_ALL_PASS_DROPS = {one: text(_pass_drops_sql(one)) for one in (False, True)}


async def _all_pass_drops(session: AsyncSession, state: AlertState, organiser_id: str | None) -> list[Judged]:
    """Every round cell's `pass_share_drop` verdict (of one organiser, or all) that can decide anything — dipping,
    or with an active alert in `state` — judged by the server (`_ALL_PASS_DROPS`), and again here (`_dips`, the
    active alerts by their columns as `decide` finds them). The cells: every results cell of the group, school
    unit, area and organiser levels in its round and the round after it, and the active alerts'."""
    thresholds = dict(state.thresholds)
    default = Thresholds()
    active = sorted((level, aggregate_unit_id(level, unit), organiser, subject, _ordinal(school_year, round_))
                    for level, unit, organiser, subject, school_year, round_ in state.active)
    params: dict[str, Any] = {
        **{f"a_{name}": [a[n] for a in active] for n, name in enumerate(("level", "unit", "organiser", "subject", "o"))},
        "th_organiser": list(thresholds), "th_num": [t.drop_points.numerator for t in thresholds.values()],
        "th_den": [t.drop_points.denominator for t in thresholds.values()],
        "th_min": [t.min_students for t in thresholds.values()], "d_num": default.drop_points.numerator,
        "d_den": default.drop_points.denominator, "d_min": default.min_students}
    if organiser_id is not None:
        params["organiser"] = organiser_id
    # hashed, never sorted: the rebuild judges before its levels and figure_pass are analysed, and on the estimates
    # of their unvisited pages (hundreds of rows for 382,312 at 402k events) the DISTINCT and the sum per cell were
    # planned as sorts of every row — 3.4-3.8 s against 1.3 s hashed (EXPLAIN ANALYZE at load 15; analysed, the
    # planner hashes them itself: 1.4-1.5 s). The statement orders nothing
    async with planner_setting(session, "enable_sort", "off"):
        levels, units, organisers, subjects, ordinals, na, nr, ba, br = (
            await session.execute(_ALL_PASS_DROPS[organiser_id is not None], params)).one()
    judged: list[Judged] = []
    for n, ordinal in enumerate(ordinals):
        level, unit, organiser, subject = levels[n], units[n], organisers[n], subjects[n]
        now_, then_, limits = (na[n], nr[n]), (ba[n], br[n]), thresholds.get(organiser, default)
        dipping = _dips(now_, then_, limits)
        school_year, round_ = _round_label(ordinal)
        if dipping or (level, alert_unit_id(level, unit), organiser, subject, school_year, round_) in state.active:
            judged.append(((level, unit, organiser, subject, school_year, round_),
                           PassDrop(now_, then_, limits, dipping)))
    return judged


async def decide_all(session: AsyncSession, judgement: Judgement) -> int:
    """`judgement` decided against the stored alerts (locked, written with their events); returns the events
    written. Judged again first where an alert or a threshold it rests on changed since (an acknowledgement,
    a sweep, a threshold saved in between): the outcome is the judgement of the state as it is now — of the tables
    first on the search path (the rebuild's own, where it decides before its swap). Under `JUDGE_ALL_LOCK`."""
    await lock_judge_all(session)
    if await alert_state(session, judgement.organiser_id) != judgement.state:
        judgement = await judge_all(session, judgement.organiser_id)
    events = await decide(session, [], judgement.now, judgement.drops)
    return events + await decide(session, judgement.below, judgement.now)


async def judge_cells(session: AsyncSession, cells: set[PeriodCell], now: datetime) -> int:
    """`pass_share_drop` on each cell against the previous round; raise / resolve as `evaluate` says."""
    return await decide(session, [], now, await _pass_drop_verdicts(session, _labelled(cells)))


def _labelled(cells: set[PeriodCell]) -> set[Cell]:
    return {(*c[:4], _label(c[4])) for c in cells}


async def _judged_pass_drop(session: AsyncSession, cells: set[PeriodCell]) -> list[tuple[AlertCell, Observation]]:
    """`_pass_drop_verdicts` of cells with their periods, each with its `AlertCell`."""
    return [(_pass_cell(key), drop.observation()) for key, drop in
            sorted(await _pass_drop_verdicts(session, _labelled(cells)), key=lambda judged: judged[0])]


async def _pass_drop_verdicts(session: AsyncSession, cells: set[Cell],
                              thresholds: Mapping[str, Thresholds] | None = None) -> list[Judged]:
    """Each cell's `pass_share_drop` verdict, in no particular order (plain values: no `AlertCell`, no
    alert id, no `Observation`; `decide` makes them where it needs them, and decides them in the order of
    their keys). `thresholds`: the stored ones as read already (else read here)."""
    previous = {p: _previous_round(p) for p in {c[4] for c in cells}}
    keyed = [((*c[:4], *c[4]), (*c[:4], *previous[c[4]])) for c in cells]
    tallies = await _pass_counts(session, {k for pair in keyed for k in pair})
    stored = await load_thresholds(session, {c[2] for c in cells}) if thresholds is None else thresholds
    default = Thresholds()  # frozen: one for every organiser without its own
    judged: list[Judged] = []
    # the batch's verdicts by (tally, tally compared with, organiser): most cells repeat a few, and
    # the shared cache's key hashes the thresholds (fractions) on every look-up
    verdicts: dict[tuple[tuple[int, int], tuple[int, int], str], PassDrop] = {}
    get = tallies.get
    for now_key, then_key in keyed:
        organiser = now_key[2]
        pair = (get(now_key, _NO_RESULTS), get(then_key, _NO_RESULTS), organiser)
        drop = verdicts.get(pair)
        if drop is None:
            limits = stored.get(organiser, default)
            drop = verdicts[pair] = PassDrop(pair[0], pair[1], limits, _dips(pair[0], pair[1], limits))
        judged.append((now_key, drop))
    return judged


def _pass_cell(key: tuple[str, str, str, str, str, int]) -> AlertCell:
    level, unit, organiser, subject, school_year, round_ = key
    return _alert_cell(organiser, (level, alert_unit_id(level, unit)), subject, None,
                       _round_period((school_year, round_)))


async def decide(session: AsyncSession, judged: Sequence[tuple[AlertCell, Observation]], now: datetime,
                 drops: Sequence[Judged] = (), later: Sequence[tuple[AlertCell, Observation]] = (),
                 later_now: datetime | None = None) -> int:
    """raise / resolve / nothing per judged cell against the stored alert; returns events written.
    `drops`: pass-drop cells as plain keys (`_judged_pass_drop`), decided after `judged`: only a
    dipping one, or one with an active alert, can change anything (`rules.evaluate`), so only those
    are made `AlertCell`s with an id; the active alerts are found by their cell's columns.
    `later`: judged cells decided after the drops at `later_now` (default `now`) — what a second
    `decide` after this one would decide (another rule's cells: the live freshness judgement), read
    and written with this one's statements."""
    eager = [*judged, *later]
    for key, drop in drops:
        if drop.dipping:
            eager.append((_pass_cell(key), drop.observation()))
    quiet = [(key, drop) for key, drop in drops if not drop.dipping]
    if not eager and not quiet:
        return 0  # no cell to decide: nothing read, nothing written (most live batches, judged by the server)
    ids = [_alert_id(cell, obs.rule) for cell, obs in eager]
    al = alerts.c
    wanted = any_of(al.alert_id, ids)
    if quiet:  # the active pass-drop alerts of these cells, by their columns (the organiser index first)
        wanted = or_(wanted, and_(
            any_of(al.organiser_id, {k[2] for k, _ in quiet}), al.status != Status.resolved.value,
            al.rule == AlertRule.pass_share_drop.value, al.year.is_(None),
            rows_in((al.organiser_id, al.level, al.unit_id, al.subject_code, al.school_year, al.round),
                    {(k[2], k[0], alert_unit_id(k[0], k[1]), k[3], k[4], k[5]) for k, _ in quiet})))
    # FOR UPDATE: an acknowledgement over the API and this batch never interleave on one alert
    stored = {r.alert_id: r for r in (await session.execute(
        select(alerts).where(wanted).order_by(al.alert_id).with_for_update())).all()}
    active: dict[tuple[Any, ...], Any] = {}
    if quiet:
        active = {(r.organiser_id, r.level, r.unit_id, r.subject_code, r.school_year, r.round): r
                  for r in stored.values() if r.status != Status.resolved.value
                  and r.rule == AlertRule.pass_share_drop.value and r.year is None and r.round is not None}
    cells = [(cell, observation, aid) for (cell, observation), aid in zip(eager, ids, strict=True)]
    n_judged, n_later = len(judged), len(later)
    decided: list[tuple[Action, Alert]] = []
    _decide_judged(cells[:n_judged], stored, now, decided)
    # the drops that can change anything — dipping, or with an active alert — in the order of their keys
    dipping = iter(cells[n_judged + n_later:])
    candidates = []
    for key, drop in drops:
        if drop.dipping:
            cell, observation, aid = next(dipping)
            candidates.append((key, observation, cell, stored.get(aid)))
        elif active:
            level, unit, organiser, subject, school_year, round_ = key
            row = active.get((organiser, level, alert_unit_id(level, unit), subject, school_year, round_))
            if row is None:
                continue  # no active alert and not dipping: nothing to resolve
            cell = _pass_cell(key)
            if _alert_id(cell, AlertRule.pass_share_drop) == row.alert_id:  # (the id is a function of these columns)
                candidates.append((key, drop.observation(), cell, row))
    for _, observation, cell, row in sorted(candidates, key=lambda c: c[0]):
        decision = evaluate(cell, observation, _alert_of(row, cell) if row else None, now)
        if decision.action is not Action.nothing and decision.alert is not None:
            decided.append((decision.action, decision.alert))
    _decide_judged(cells[n_judged:n_judged + n_later], stored, later_now or now, decided)
    return await store_decisions(session, decided, {aid: row.raised_at for aid, row in stored.items()})


def _decide_judged(cells: Sequence[tuple[AlertCell, Observation, UUID]], stored: dict[UUID, Any], now: datetime,
                   decided: list[tuple[Action, Alert]]) -> None:
    for cell, observation, aid in cells:
        row = stored.get(aid)
        if row is None and observation.verdict is not Verdict.dipping:
            continue  # never alerted and not dipping: `evaluate` says nothing (most cells of a batch)
        decision = evaluate(cell, observation, _alert_of(row, cell) if row else None, now)
        if decision.action is not Action.nothing and decision.alert is not None:
            decided.append((decision.action, decision.alert))


# --- below_forecast -------------------------------------------------------------------------------

# The outcome of a forecast: the student's term grade in the subject and term (newest revision, not
# retracted; the highest round, then id, if several). Term grades are set at the end of the term, after
# its forecast window, so "a result later than the forecast" (figures.forecast_outcome) holds for them;
# other kinds of result are not used as outcomes here (the facts carry no date to order them by).
# One statement per batch for every organiser × subject × term the batch touched (keys unnested), counted per
# group, forecast value and outcome grade by the server (a row per forecast cost a batch its decoding and counting).
# The term grades are looked up once per student and term (`s`), not once per forecast: a look-up reads all of a
# student's results of the term (~48 in the deadline week; `results.tables.FACTS_NEWEST_INDEX` skips over the
# subjects on the student prefix), and a lookup per forecast read them once per subject (16 times; 2,400
# look-ups and ~200 ms for one batch's term of an organiser, bench/results/apply13.json). Inside the LATERAL only the
# index's columns are compared, OFFSET 0 keeping the rest outside: with statistics older than the table's
# growth (a fresh table, a rebuild) the organiser index looked as cheap, and walking an organiser's results
# once per forecast cost most of a batch's time (50 s of 100 in the apply bench at batches of 1,000).
_PAIRINGS = text(f"""
    WITH f AS MATERIALIZED (
        SELECT f.organiser_id, f.subject_code, f.school_year, f.term, f.school_unit_code, f.group_id, f.value,
               f.student_id
        FROM unnest(CAST(:organiser AS text[]), CAST(:subject AS text[]), CAST(:school_year AS text[]),
                    CAST(:term AS text[])) AS k(organiser_id, subject_code, school_year, term)
        JOIN {forecast_facts.name} f ON f.organiser_id = k.organiser_id AND f.subject_code = k.subject_code
          AND f.school_year = k.school_year AND f.term = k.term AND NOT f.withdrawn),
    g AS (
        SELECT DISTINCT ON (a.student_id, a.school_year, a.term, a.organiser_id, a.subject_code)
               a.student_id, a.school_year, a.term, a.organiser_id, a.subject_code, a.scale, a.value
        FROM (SELECT DISTINCT student_id, school_year, term FROM f) s
        CROSS JOIN LATERAL (
            SELECT a.student_id, a.school_year, a.term, a.scale, a.value, a.round, a.assessment_id, a.organiser_id,
                   a.subject_code, a.kind, a.retracted
            FROM {assessment_facts.name} a
            WHERE a.student_id = s.student_id AND a.school_year = s.school_year AND a.term = s.term OFFSET 0) a
        WHERE a.kind = 'term_grade' AND NOT a.retracted
        ORDER BY a.student_id, a.school_year, a.term, a.organiser_id, a.subject_code, a.round DESC,
                 a.assessment_id DESC)
    SELECT f.organiser_id, f.subject_code, f.school_year, f.term, f.school_unit_code, f.group_id,
           f.value AS forecast_value, g.scale AS grade_scale, g.value AS grade_value, count(*) AS n
    FROM f LEFT JOIN g ON g.student_id = f.student_id AND g.school_year = f.school_year AND g.term = f.term
      AND g.organiser_id = f.organiser_id AND g.subject_code = f.subject_code
    GROUP BY 1, 2, 3, 4, 5, 6, 7, 8, 9""")

TermKey = tuple[str, str, str, str]  # organiser, subject, school year, term


@functools.cache
def _outcome(forecast_value: str, grade_scale: str | None, grade_value: str | None) -> str:
    if grade_scale is None or grade_value is None:
        return "no_outcome"
    said, did = reaches_pass(Scale.THREE_LEVEL, forecast_value), reaches_pass(Scale(grade_scale), grade_value)
    if said == did:
        return "held"
    return "said_reaches_did_not" if said else "said_not_reached_did"


async def forecast_tallies(session: AsyncSession, organiser_id: str, subject: str, school_year: str, term: str
                           ) -> dict[tuple[str, str], ForecastTally]:
    """(level, aggregate unit id) → forecast-against-outcome tally, for one organiser × subject × term."""
    key = (organiser_id, subject, school_year, term)
    return (await forecast_tallies_of(session, [key])).get(key, {})


async def forecast_tallies_of(session: AsyncSession, keys: Iterable[TermKey]
                              ) -> dict[TermKey, dict[tuple[str, str], ForecastTally]]:
    """`forecast_tallies` of several organiser × subject × term keys, in one statement: counted per
    (key, unit, outcome) in plain counters first, one `ForecastTally` per unit at the end."""
    wanted = sorted(set(keys))
    if not wanted:
        return {}
    rows = (await session.execute(_PAIRINGS, as_arrays(("organiser", "subject", "school_year", "term"), wanted))).all()
    return await _tallies_of_pairings(session, rows)


async def _tallies_of_pairings(session: AsyncSession, rows: Sequence[Sequence[Any]]
                               ) -> dict[TermKey, dict[tuple[str, str], ForecastTally]]:
    """`forecast_tallies_of` from `_PAIRINGS`' rows."""
    placement = await placement_of(session, {row[4] for row in rows})  # every school of the area counts
    counted: Counter[tuple[TermKey, str, str, str]] = Counter()
    # a row per key, group, forecast value and outcome grade, with its count (not a row per forecast)
    per_group: Counter[tuple[Any, ...]] = Counter()
    for row in rows:
        per_group[(tuple(row[:4]), row[4], row[5], _outcome(row[6], row[7], row[8]))] += row[9]
    for (key, code, group, outcome), n in per_group.items():
        units = [("group", f"{code}{GROUP_SEPARATOR}{group}"), ("school_unit", code), ("organiser", key[0])]
        area = placement.get(code)
        if area:
            units.append(("area", area))
        for level, unit in units:
            counted[(key, level, unit, outcome)] += n
    by_unit: dict[TermKey, dict[tuple[str, str], dict[str, int]]] = {}
    for (key, level, unit, outcome), n in counted.items():
        by_unit.setdefault(key, {}).setdefault((level, unit), {})[outcome] = n
    return {key: {unit: ForecastTally(**outcomes) for unit, outcomes in units_of.items()}
            for key, units_of in by_unit.items()}


# The live batch's below-forecast read in one statement: the forecasts of the students the batch's term grades
# grade (`graded`: their cells are touched too), the pairings (`_PAIRINGS`) of every organiser × subject × term the
# batch touches and of those, the organisers' active below-forecast alerts (`_active_below_forecast`) and their
# stored thresholds (`load_thresholds`) — each set as an array of rows. One round trip where there were four.
# the graded students and the touched terms as one JSON parameter each (`staging.json_rows`: no asyncpg type
# check per array element)
_GRADED_ROWS = rows_of_json("CAST(:graded AS text)", [
    Column(name, String) for name in ("organiser_id", "student_id", "subject_code", "school_year", "term")])
_TERM_ROWS = rows_of_json("CAST(:terms AS text)", [
    Column(name, String) for name in ("organiser_id", "subject_code", "school_year", "term")])
_GRADED_FORECASTS = (
    f"SELECT f.organiser_id, f.school_unit_code, f.group_id, f.subject_code, f.school_year, f.term "
    f"FROM ({_GRADED_ROWS}) AS q JOIN {forecast_facts.name} f ON f.organiser_id = q.organiser_id AND f.student_id = q.student_id "
    "AND f.subject_code = q.subject_code AND f.school_year = q.school_year AND f.term = q.term WHERE NOT f.withdrawn")
_BELOW_FORECAST_READ = text(
    f"WITH graded AS MATERIALIZED ({_GRADED_FORECASTS}), "
    f"keys AS MATERIALIZED (SELECT DISTINCT * FROM ({_TERM_ROWS} "
    "UNION ALL SELECT g.organiser_id, g.subject_code, g.school_year, g.term FROM graded g) u), "
    "kk AS (SELECT array_agg(organiser_id) AS organiser, array_agg(subject_code) AS subject, "
    "array_agg(school_year) AS school_year, array_agg(term) AS term FROM keys AS x(organiser_id, subject_code, "
    "school_year, term)) "
    # the pairings' outcomes classified and summed per group by the server (`_outcome` by the scales' passing
    # values), a row per key, group and outcome (not per forecast value and grade), as arrays (no record per row)
    ", o AS (SELECT p.organiser_id, p.subject_code, p.school_year, p.term, p.school_unit_code, p.group_id, "
    "CASE WHEN p.grade_scale IS NULL OR p.grade_value IS NULL THEN 3 "
    f"WHEN ('{Scale.THREE_LEVEL.value}:' || p.forecast_value = ANY(CAST(:passing AS text[]))) "
    "= (p.grade_scale || ':' || p.grade_value = ANY(CAST(:passing AS text[]))) THEN 0 "
    f"WHEN '{Scale.THREE_LEVEL.value}:' || p.forecast_value = ANY(CAST(:passing AS text[])) THEN 1 ELSE 2 END AS outcome, "
    "CAST(sum(p.n) AS bigint) AS n FROM kk CROSS JOIN LATERAL ("
    + _PAIRINGS.text.replace("CAST(:organiser AS text[])", "kk.organiser").replace(
        "CAST(:subject AS text[])", "kk.subject").replace("CAST(:school_year AS text[])", "kk.school_year").replace(
        "CAST(:term AS text[])", "kk.term") + ") p GROUP BY 1, 2, 3, 4, 5, 6, 7) "
    "SELECT ARRAY(SELECT ROW(g.*) FROM graded g), "
    "(SELECT ARRAY[coalesce(array_agg(o.organiser_id), '{}'), coalesce(array_agg(o.subject_code), '{}'), "
    "coalesce(array_agg(o.school_year), '{}'), coalesce(array_agg(o.term), '{}'), "
    "coalesce(array_agg(o.school_unit_code), '{}'), coalesce(array_agg(o.group_id), '{}')] FROM o), "
    "(SELECT coalesce(array_agg(o.outcome), '{}') FROM o), (SELECT coalesce(array_agg(o.n), '{}') FROM o), "
    f"ARRAY(SELECT ROW(a.organiser_id, a.level, a.unit_id, a.subject_code, a.school_year, a.term) FROM {alerts.name} a "
    f"WHERE a.organiser_id = ANY(CAST(:organisers AS text[])) AND a.status <> '{Status.resolved.value}' "
    f"AND a.rule = '{AlertRule.below_forecast.value}' AND a.year IS NULL AND a.term IS NOT NULL), "
    "ARRAY(SELECT ROW(t.organiser_id, CAST(t.drop_points AS text), CAST(t.below_forecast_points AS text), "
    f"t.min_students) FROM {alert_thresholds.name} t WHERE t.organiser_id = ANY(CAST(:organisers AS text[])))")


async def _judged_below_forecast(session: AsyncSession, batch: Sequence[Delivered]
                                 ) -> list[tuple[AlertCell, Observation]]:
    touched: set[ForecastTouched] = session.info.pop(_BEFORE_FORECASTS, set())
    assessments, forecasts = batch_results(session, batch)
    touched.update(ForecastTouched(d.organiser_id, d.school_unit_code, d.group_id, d.subject_code, str(d.school_year),
                                   str(d.term)) for d in forecasts)
    # a term grade (or a retraction, whose kind is unknown) moves the forecasts of its student
    graded = sorted({(d.organiser_id, d.student_id, d.subject_code, str(d.school_year), str(d.term))
                     for d in assessments if getattr(d, "kind", "term_grade") == "term_grade"})
    if not touched and not graded:
        return []
    keys = sorted({(t.organiser_id, t.subject_code, t.school_year, t.term) for t in touched})
    organisers = sorted({t.organiser_id for t in touched} | {g[0] for g in graded})
    params: dict[str, Any] = {"terms": json_rows(keys), "graded": json_rows(graded), "organisers": organisers}
    params["passing"] = _PASSING
    found, columns, outcomes, counts, active_rows, stored = (await session.execute(_BELOW_FORECAST_READ, params)).one()
    touched.update(ForecastTouched(*row) for row in found)
    if not touched:
        return []
    placement = await placement_of(session, {t.school_unit_code for t in touched})
    wanted: dict[tuple[str, str, str, str], set[tuple[str, str]]] = {}
    for t in touched:
        units = wanted.setdefault((t.organiser_id, t.subject_code, t.school_year, t.term), set())
        units.update({("group", f"{t.school_unit_code}{GROUP_SEPARATOR}{t.group_id}"),
                      ("school_unit", t.school_unit_code), ("organiser", t.organiser_id)})
        area = placement.get(t.school_unit_code)
        if area:
            units.add(("area", area))
    thresholds = _remember_thresholds(session, organisers, stored)
    return _judge_below_forecast_of(wanted, thresholds, await _tallies_of_outcomes(session, columns, outcomes, counts,
                                                                                   wanted),
                                    {tuple(row) for row in active_rows}, only_deciding=True)


#: "<scale>:<value>" of every value that reaches the pass level (`_outcome` in the server's statement)
_PASSING = sorted(f"{scale.value}:{value}" for scale in Scale for value in scale_values(scale)
                  if reaches_pass(scale, value))
_OUTCOMES = ("held", "said_reaches_did_not", "said_not_reached_did", "no_outcome")  # the statement's 0-3


async def _tallies_of_outcomes(session: AsyncSession, columns: Sequence[Sequence[str]], outcomes: Sequence[int],
                               counts: Sequence[int], wanted: Mapping[TermKey, set[tuple[str, str]]]
                               ) -> dict[TermKey, dict[tuple[str, str], ForecastTally]]:
    """`_tallies_of_pairings` of the live statement's per group outcome counts (key, school unit, group as
    `columns`), for the `wanted` units only: the same tallies where the batch judges."""
    if not outcomes:  # (the statement's two-dimensional array of no rows is empty, not six empty arrays)
        return {}
    organisers, subjects, school_years, terms, codes, groups = columns
    placement = await placement_of(session, set(codes))  # every school of the area counts
    counted: dict[tuple[TermKey, tuple[str, str]], list[int]] = {}
    for n, outcome in enumerate(outcomes):
        key = (organisers[n], subjects[n], school_years[n], terms[n])
        units = wanted.get(key)
        if not units:
            continue
        code = codes[n]
        area = placement.get(code)
        for unit in (("group", f"{code}{GROUP_SEPARATOR}{groups[n]}"), ("school_unit", code), ("organiser", key[0]),
                     ("area", area or "")):
            if unit in units:
                found = counted.get((key, unit))
                if found is None:
                    found = counted[(key, unit)] = [0, 0, 0, 0]
                found[outcome] += counts[n]
    every: dict[TermKey, dict[tuple[str, str], ForecastTally]] = {}
    for (key, unit), tally in counted.items():
        every.setdefault(key, {})[unit] = ForecastTally(**{name: n for name, n in zip(_OUTCOMES, tally, strict=True)
                                                           if n})
    return every


async def judge_below_forecast_cells(session: AsyncSession, wanted: dict[tuple[str, str, str, str],
                                     set[tuple[str, str]]], now: datetime) -> int:
    """`below_forecast` on the given units per organiser × subject × school year × term."""
    return await decide(session, await _below_forecast_judged(session, wanted), now)


def _below(tally: ForecastTally | None, thresholds: Thresholds) -> bool:
    """Whether `judge_below_forecast` says `dipping`, in integers: with n = the forecasts with an outcome
    (at least `min_students`, and some), −(said_not_reached_did − said_reaches_did_not) ÷ n × 100 > p/q
    ⇔ 100 · (said_reaches_did_not − said_not_reached_did) · q > p · n."""
    if tally is None:
        return False
    compared = tally.held + tally.said_reaches_did_not + tally.said_not_reached_did
    if compared <= 0 or compared < thresholds.min_students:
        return False
    points = thresholds.below_forecast_points
    return (100 * (tally.said_reaches_did_not - tally.said_not_reached_did) * points.denominator
            > points.numerator * compared)


async def _active_below_forecast(session: AsyncSession, organisers: Iterable[str]) -> set[tuple[Any, ...]]:
    """(organiser, level, alert unit id, subject, school year, term) of the organisers' active
    below-forecast alerts (by the alerts' organiser index)."""
    al = alerts.c
    return {tuple(row) for row in (await session.execute(select(
        al.organiser_id, al.level, al.unit_id, al.subject_code, al.school_year, al.term).where(
        any_of(al.organiser_id, organisers), al.status != Status.resolved.value,
        al.rule == AlertRule.below_forecast.value, al.year.is_(None), al.term.is_not(None)))).all()}


async def _below_forecast_judged(session: AsyncSession, wanted: dict[tuple[str, str, str, str], set[tuple[str, str]]],
                                 only_deciding: bool = False, thresholds: Mapping[str, Thresholds] | None = None
                                 ) -> list[tuple[AlertCell, Observation]]:
    """The cells judged. `only_deciding` (the live batch): only those that can decide anything — dipping
    (`_below`), or with an active alert; any other cell `decide` passes by (`rules.evaluate`), so it is
    neither made an `AlertCell` nor judged nor looked up (most of a batch's cells). `thresholds`: the stored
    ones as read already (else read here)."""
    if thresholds is None:
        thresholds = await load_thresholds(session, {key[0] for key in wanted})
    every = await forecast_tallies_of(session, wanted)
    active = await _active_below_forecast(session, {key[0] for key in wanted}) if only_deciding else set()
    return _judge_below_forecast_of(wanted, thresholds, every, active, only_deciding)


def _judge_below_forecast_of(wanted: dict[tuple[str, str, str, str], set[tuple[str, str]]],
                             thresholds: Mapping[str, Thresholds],
                             every: Mapping[TermKey, dict[tuple[str, str], ForecastTally]],
                             active: set[tuple[Any, ...]], only_deciding: bool) -> list[tuple[AlertCell, Observation]]:
    """`_below_forecast_judged` of what it read."""
    default = Thresholds()
    judged = []
    for (organiser, subject, school_year, term), units in sorted(wanted.items()):
        tallies = every.get((organiser, subject, school_year, term), {})
        period = TermPeriod(SchoolYear.parse(school_year), Term(term))
        limits = thresholds.get(organiser, default)
        for level, unit in sorted(units):
            if only_deciding and not _below(tallies.get((level, unit)), limits) and (
                    organiser, level, alert_unit_id(level, unit), subject, school_year, term) not in active:
                continue
            cell = AlertCell(organiser, (level, alert_unit_id(level, unit)), subject, None, period)
            judged.append((cell, judge_below_forecast(tallies.get((level, unit)),
                                                      thresholds.get(organiser, default))))
    return judged

"""Dip alerts evaluated as results arrive: per batch, over the cells the batch changed.

Registered twice around the results handler (`main.py`): `note_cells_before` reads where the
batch's assessments counted *before* the batch (a revision may move an assessment to another
group, subject or round: the cell it left changed too), `evaluate_alerts` runs after the
aggregates moved, in the same transaction. A redelivered or replayed event is deduplicated by
the consumer before any handler runs, so a replay evaluates nothing; the alert ids are stable
(`rules.alert_id`), so no path can raise a second alert for one cell, period and rule.

Wired rule: `pass_share_drop` per round (school year × publication round 1–4, every kind of result
in the round), all years together (`year` = None), per subject, at group, school unit, area and
organiser level, against the previous round. A change to round r also changes round r + 1's
comparison: both are evaluated. `below_forecast` and `freshness_red` are not wired (see README).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import NamedTuple
from uuid import UUID, uuid5

from sqlalchemy import func, select, tuple_
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncSession

from styrkedja_contracts import AssessmentPublishedV1, AssessmentRetractedV1, new_event
from styrkedja_contracts.events.alert import AlertFigures, AlertRule, ResolvedReason
from styrkedja_contracts.scales import Scale, reaches_pass
from styrkedja_kit.consumer import Delivered
from styrkedja_kit.outbox import Outbox

from ..figures.pass_share import PassTally
from ..figures.periods import RoundPeriod, SchoolYear
from ..metadata import metadata
from ..results.rules import GROUP_SEPARATOR
from ..results.tables import assessment_aggregates, assessment_facts, placement_of
from .events import event_data
from .rules import Action, Alert, AlertCell, Decision, Status, Thresholds, alert_id, evaluate, judge_pass_drop
from .tables import alert_thresholds, alerts

EVENT_TYPES = (AssessmentPublishedV1.event_type, AssessmentRetractedV1.event_type)
SOURCE = "/styrkedja/reporting/alerts"
ALERT_GROUP_SEPARATOR = ":"  # the alert contract's unit id allows no "/": a group is `<school unit>:<group>`
_BEFORE = "styrkedja.alerts.cells_before"
_ROUNDS = 4


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


async def note_cells_before(session: AsyncSession, batch: Sequence[Delivered]) -> None:
    ids = sorted({item.event.data.assessment_id for item in batch})  # type: ignore[attr-defined]
    f = assessment_facts.c
    rows = (await session.execute(select(
        f.organiser_id, f.school_unit_code, f.group_id, f.subject_code, f.school_year, f.round).where(
        f.assessment_id.in_(ids), ~f.retracted))).all()
    session.info.setdefault(_BEFORE, set()).update(Touched(*row) for row in rows)


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
    t = alert_thresholds.c
    rows = (await session.execute(select(alert_thresholds).where(t.organiser_id.in_(sorted(set(organiser_ids)))))
            ).all()
    return {r.organiser_id: Thresholds.of(str(r.drop_points), str(r.below_forecast_points), r.min_students)
            for r in rows}


async def pass_tallies(session: AsyncSession, keys: set[TallyKey]) -> dict[TallyKey, PassTally]:
    """Results and results reaching the pass level per cell, all kinds, years and genders together."""
    if not keys:
        return {}
    a = assessment_aggregates.c
    dims = (a.level, a.unit_id, a.organiser_id, a.subject_code, a.school_year, a.round)
    rows = (await session.execute(select(*dims, a.scale, a.value, a["count"]).where(
        tuple_(*dims).in_(sorted(keys))))).all()
    out: dict[TallyKey, PassTally] = {}
    for row in rows:
        key = TallyKey(*row[:6])
        n = int(row[-1])
        out[key] = out.get(key, PassTally()) + PassTally(
            assessed_unknown=n, reaching_unknown=n if reaches_pass(Scale(row.scale), row.value) else 0)
    return out


def _alert_of(row, cell: AlertCell) -> Alert:
    return Alert(row.alert_id, cell, AlertRule(row.rule), Status(row.status), row.episode,
                 AlertFigures.model_validate(row.figures), row.changed_at, row.comment, row.acknowledged_by,
                 ResolvedReason(row.resolved_reason) if row.resolved_reason else None)


def _row_of(alert: Alert, raised: bool) -> dict:
    cell, period = alert.cell, alert.cell.period
    row = {"alert_id": alert.alert_id, "organiser_id": cell.organiser_id, "level": cell.level.value,
           "unit_id": cell.unit[1], "subject_code": cell.subject_code, "year": cell.year,
           "school_unit_code": cell.unit[1].split(ALERT_GROUP_SEPARATOR, 1)[0]
           if cell.level.value in ("group", "school_unit") else None,
           "school_year": str(period.school_year), "term": None, "round": getattr(period, "round", None),
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


async def store_decisions(session: AsyncSession, decided: Sequence[tuple[Action, Alert]]) -> int:
    """Write the alerts that changed and their events (reporting's outbox), one transaction."""
    events = []
    for action, alert in decided:
        row = _row_of(alert, raised=action is Action.raise_)
        stmt = pg_insert(alerts).values(raised_at=alert.changed_at, **{k: v for k, v in row.items()
                                                                       if k != "raised_at"})
        await session.execute(stmt.on_conflict_do_update(
            index_elements=["alert_id"], set_={k: v for k, v in row.items() if k != "alert_id"}))
        data = event_data(Decision(action, alert))
        if data is not None:
            events.append(new_event(data, source=SOURCE, subject=str(alert.alert_id),
                                    event_id=event_id_of(alert, action), time=alert.changed_at))
    if events:
        await Outbox(metadata.tables["outbox"]).add(session, events)
    return len(events)


Cell = tuple[str, str, str, str, RoundPeriod]  # (level, aggregate unit id, organiser, subject, period)


async def evaluate_alerts(session: AsyncSession, batch: Sequence[Delivered]) -> None:
    touched: set[Touched] = session.info.pop(_BEFORE, set())
    touched.update(_touched_of(item.event.data) for item in batch)
    if not touched:
        return
    placement = await placement_of(session, {t.school_unit_code for t in touched})
    cells: set[Cell] = set()
    for t in touched:
        period = RoundPeriod(SchoolYear.parse(t.school_year), t.round)
        units = [("group", f"{t.school_unit_code}{GROUP_SEPARATOR}{t.group_id}"),
                 ("school_unit", t.school_unit_code), ("organiser", t.organiser_id)]
        area = placement.get(t.school_unit_code)
        if area:
            units.append(("area", area))
        for level, unit in units:
            for p in (period, next_round(period)):
                cells.add((level, unit, t.organiser_id, t.subject_code, p))
    # the batch's time, not the clock: the same in a replay as live
    await judge_cells(session, cells, max(item.event.time for item in batch))


async def reevaluate_all(session: AsyncSession, organiser_id: str | None = None) -> int:
    """Judge every cell once on the current state: after a rebuild (applied with alerts off, see
    `main.handler_registry(live_alerts=False)`), so that intermediate states of the rebuild's
    batching neither resolve nor reopen anything; also what a daily sweep calls. Returns the
    number of events written."""
    a, al = assessment_aggregates.c, alerts.c
    query = select(a.level, a.unit_id, a.organiser_id, a.subject_code, a.school_year, a.round).where(
        a.level.in_(("group", "school_unit", "area", "organiser"))).distinct()
    active = select(al.level, al.unit_id, al.organiser_id, al.subject_code, al.school_year, al.round).where(
        al.status != Status.resolved.value, al.rule == AlertRule.pass_share_drop.value, al.round.is_not(None))
    if organiser_id is not None:
        query, active = query.where(a.organiser_id == organiser_id), active.where(al.organiser_id == organiser_id)
    cells: set[Cell] = set()
    for level, unit, organiser, subject, school_year, round_ in (await session.execute(query)).all():
        period = RoundPeriod(SchoolYear.parse(school_year), round_)
        cells.update((level, unit, organiser, subject, p) for p in (period, next_round(period)))
    for level, unit, organiser, subject, school_year, round_ in (await session.execute(active)).all():
        cells.add((level, aggregate_unit_id(level, unit), organiser, subject,
                   RoundPeriod(SchoolYear.parse(school_year), round_)))
    now = (await session.execute(select(func.now()))).scalar_one()
    return await judge_cells(session, cells, now)


async def judge_cells(session: AsyncSession, cells: set[Cell], now: datetime) -> int:
    """`pass_share_drop` on each cell against the previous round; raise / resolve as `evaluate` says."""
    def key(level: str, unit: str, organiser: str, subject: str, p: RoundPeriod) -> TallyKey:
        return TallyKey(level, unit, organiser, subject, str(p.school_year), p.round)

    tallies = await pass_tallies(session, {key(lv, u, o, s, q) for lv, u, o, s, p in cells
                                           for q in (p, p.previous())})
    thresholds = await load_thresholds(session, {c[2] for c in cells})
    judged = []
    for level, unit, organiser, subject, p in sorted(cells, key=lambda c: (*c[:4], str(c[4].school_year),
                                                                             c[4].round)):
        cell = AlertCell(organiser, (level, alert_unit_id(level, unit)), subject, None, p)
        observation = judge_pass_drop(tallies.get(key(level, unit, organiser, subject, p)),
                                      tallies.get(key(level, unit, organiser, subject, p.previous())),
                                      thresholds.get(organiser, Thresholds()))
        judged.append((cell, observation))
    ids = [alert_id(cell, obs.rule) for cell, obs in judged]
    # FOR UPDATE: an acknowledgement over the API and this batch never interleave on one alert
    stored = {r.alert_id: r for r in (await session.execute(
        select(alerts).where(alerts.c.alert_id.in_(sorted(set(ids)))).order_by(alerts.c.alert_id)
        .with_for_update())).all()}
    decided = []
    for (cell, observation), aid in zip(judged, ids):
        row = stored.get(aid)
        decision = evaluate(cell, observation, _alert_of(row, cell) if row else None, now)
        if decision.action is not Action.nothing and decision.alert is not None:
            decided.append((decision.action, decision.alert))
    return await store_decisions(session, decided)

"""`freshness_red` wired: a group's or school unit's newest result grows older than the red band.

Judged (1) as results arrive — per batch, after the figures moved, for the groups and school units
the batch's assessments touched (where they count after the batch and, noted before it, where they
counted before: a retraction may take a unit's newest result away), at the batch's time; and (2)
by a **sweep**, because freshness turns red with the passage of time when no event arrives at
all: every unit with results and every open freshness alert, at the sweep's moment
(`sweep_organiser`; the reporting app runs `run_sweeper` every `freshness_sweep_seconds`, and ops
can call `POST /v1/admin/alerts/freshness-sweep`).

The cell is the unit (group or school unit) with all subjects and years together; its alert
period is the term in which it turned red (`rules.freshness_period`), so one stale episode is one
alert id whenever and however often it is judged. Fresh again → resolved (`recovered`).

Sweeps of several replicas and the consumer's live judgement never interleave on one organiser:
each takes the organiser's transaction-level advisory lock first.

**The clock.** Freshness is the age of a unit's newest result *now*, so every judgement is made at the
moment it is made: the sweep and the rebuild's reevaluation at the database's `now()`, the live judgement
at the moment the batch is applied (`applied_at`). Never at an event's envelope `time`: that is the
producer's claim, and a producer (or a replay, or a consumer catching up on a backlog) with an old time
would judge stale units fresh and resolve their alerts, one with a time in the future would raise alerts
on fresh units. The result dates themselves (`assessed_on`) are facts of the data and are used as they are.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, date, datetime
from operator import attrgetter
from typing import NamedTuple
from zoneinfo import ZoneInfo

from sqlalchemy import func, select, text
from sqlalchemy.ext.asyncio import AsyncSession

from styrkedja_contracts.events.alert import AlertRule
from styrkedja_kit.app import Runtime
from styrkedja_kit.consumer import Delivered
from styrkedja_kit.db import Database
from styrkedja_kit.sets import any_of

from ..figures.freshness import Band, band
from ..figures.periods import SchoolYear, Term, TermPeriod
from ..figures.state import Multiset
from ..figures.tables import figure_pass, figure_students
from ..freshness import note_change_outside_batches
from ..registry import batch_memo
from ..results.handlers import batch_changes
from ..results.rules import GROUP_SEPARATOR
from ..results.tables import assessment_facts
from ..staging import as_arrays
from .handlers import (
    ASSESSMENT_ROWS_BEFORE,
    ASSESSMENT_TYPES,
    FRESHNESS_LOCKED,
    FRESHNESS_LOCKS,
    aggregate_unit_id,
    alert_unit_id,
    batch_results,
    batch_verdicts,
    decide,
    load_thresholds,
)
from .rules import FRESHNESS_LEVELS, AlertCell, Observation, Status, Thresholds, freshness_period, judge_freshness_in
from .tables import alerts

log = logging.getLogger(__name__)
_BEFORE = "styrkedja.alerts.freshness_units_before"
#: the day of a moment: lateness and freshness are judged by the Swedish calendar day
ZONE = ZoneInfo("Europe/Stockholm")


class UnitKey(NamedTuple):
    organiser_id: str
    level: str  # group | school_unit
    unit_id: str  # as in the figures: `<school unit>/<group>` for a group


def units_of(organiser_id: str, school_unit_code: str, group_id: str) -> list[UnitKey]:
    return [UnitKey(organiser_id, "group", f"{school_unit_code}{GROUP_SEPARATOR}{group_id}"),
            UnitKey(organiser_id, "school_unit", school_unit_code)]


def lock_keys(organisers: Iterable[str]) -> list[str]:
    """The organisers' advisory lock keys, in the one order every writer takes them in (no deadlock)."""
    return [f"styrkedja.alerts.freshness:{organiser}" for organiser in sorted(set(organisers))]


async def lock_organisers(session: AsyncSession, organisers: Iterable[str], taken: Iterable[str] = ()) -> None:
    """The organisers' freshness locks, for the transaction. `taken`: keys it holds already (not taken again).

    The guarantee: of the transactions that judge an organiser's freshness alerts — the live consumer's
    batch (its statement of pass drops takes them, `FRESHNESS_LOCKS`) and a sweep of any replica — one at a
    time reads that organiser's units and open freshness alerts and writes its decisions, so none decides on
    alerts another has changed but not committed (two `raised` of one episode, a resolve lost). One lock per
    organiser, not per unit: a sweep judges every unit of its organiser, and a batch holds a handful of
    organisers (records are keyed by organiser, one partition has one writer), so a finer lock would only
    mean more keys. Taken at the transaction's start, in `lock_keys`' order (no deadlock), and released at
    its end. Taking them costs microseconds (EXPLAIN ANALYZE: its CTE 0.02 ms for a batch's organiser); the
    time the profile charges to the statement that begins with them (68-347 ms per batch of 5,000 at load
    11-12) is the pass-drop judgement it runs (bench/results/apply11-lock-plans.txt)."""
    held = set(taken)
    keys = [k for k in lock_keys(organisers) if k not in held]
    if keys:  # one statement, taken in the list's order (one order for every writer: no deadlock)
        await session.execute(text("SELECT pg_advisory_xact_lock(hashtext(k)) "
                                   "FROM unnest(CAST(:keys AS text[])) WITH ORDINALITY AS u(k, n) ORDER BY n"),
                              {"keys": keys})


async def note_units_before(session: AsyncSession, batch: Sequence[Delivered]) -> None:
    """Before the results handler: the units where the batch's assessments counted until now."""
    memo = batch_memo(session, ASSESSMENT_ROWS_BEFORE)
    noted = None if memo is None else memo.pop("rows", None)  # read just before by `note_cells_before`
    if noted is not None:  # the same events' facts (this batch's memo): the ids are not collected and sorted again
        rows = {tuple(row[:3]) for row in noted}
    else:
        keys = {(item.event.data.organiser_id, item.event.data.assessment_id)  # type: ignore[attr-defined]
                for item in batch if item.event.type in ASSESSMENT_TYPES}
        if not keys:
            return
        # a fact is its organiser's (`results.tables.fact_table`): another organiser's under the same id is not it
        f = assessment_facts.c
        rows = {(organiser, code, group) for fact_id, organiser, code, group in (await session.execute(
            select(f.assessment_id, f.organiser_id, f.school_unit_code, f.group_id).where(
                any_of(f.assessment_id, (k[1] for k in keys)), any_of(f.organiser_id, (k[0] for k in keys)),
                ~f.retracted))).all() if (organiser, fact_id) in keys}
    found: set[UnitKey] = session.info.setdefault(_BEFORE, set())
    for organiser, code, group in rows:
        found.update(units_of(organiser, code, group))


_GROUP_OF = attrgetter("organiser_id", "school_unit_code", "group_id")
_ORGANISER = attrgetter("organiser_id")
_TIME = attrgetter("event.time")


def applied_at() -> datetime:
    """The moment a batch is applied: the live judgement's clock (see the module's "The clock")."""
    return datetime.now(UTC)


async def batch_freshness_verdicts(session: AsyncSession, batch: Sequence[Delivered], taken: Iterable[str] = ()
                                   ) -> tuple[list[tuple[AlertCell, Observation]], datetime] | None:
    """The units the batch's assessments touch, under the organisers' lock, judged at the moment the batch
    is applied (`applied_at`, never an event's `time`); None where it has no assessment. `taken`: lock keys
    the transaction holds already (`evaluate_batch`: taken by the pass-drop statement)."""
    keys: set[UnitKey] = session.info.pop(_BEFORE, set())
    # (organiser, school unit, group): thousands of events, few groups
    groups = set(map(_GROUP_OF, batch_results(session, batch)[0]))
    for group in groups:
        keys.update(units_of(*group))
    if not keys:
        return None
    moment = applied_at()
    await lock_organisers(session, {k.organiser_id for k in keys}, taken)
    # the batch's results after it, in their units: each unit's newest result is at least as new
    newest: dict[tuple[str, str, str], date] = {}
    for _, fact in batch_changes(session).assessments:
        if fact.retracted or fact.assessed_on is None:
            continue  # counts in no unit's dates
        group = (fact.organiser_id, fact.school_unit_code, fact.group_id)
        if group not in newest or newest[group] < fact.assessed_on:
            newest[group] = fact.assessed_on
    fresh: dict[UnitKey, date] = {}
    for group, day in newest.items():
        for key in units_of(*group):
            if key not in fresh or fresh[key] < day:
                fresh[key] = day
    return await judged_units(session, keys, moment, fresh=fresh), moment


async def evaluate_batch(session: AsyncSession, batch: Sequence[Delivered]) -> None:
    """The live judgement of a batch, registered after the figures (`main.py`): the pass-drop,
    below-forecast and freshness rules' verdicts and decisions in the same order (pass drop and below
    forecast at the batch's time, then freshness at the moment it is applied), with one read of the
    stored alerts and one write for all three rules."""
    # the batch's time, not the clock (the same in a replay) — but never later than the moment it is applied: an
    # event's time is its producer's claim, and one of 2199 stamped its alerts raised and changed in 2199, first in
    # every list until then and later than any acknowledgement (round 26b; the freshness header is bounded so too)
    now = min(max(map(_TIME, batch)), applied_at())
    # the freshness rule's locks go with the pass-drop statement (one round trip less): every organiser it
    # can lock (the units noted before and the batch's assessments'), taken before its reads in later statements —
    # not in its own open-alert read, whose snapshot would predate a wait for the lock
    organisers = {k.organiser_id for k in session.info.get(_BEFORE, ())}
    organisers.update(map(_ORGANISER, batch_results(session, batch)[0]))
    session.info[FRESHNESS_LOCKS] = lock_keys(organisers)
    session.info.pop(FRESHNESS_LOCKED, None)
    try:
        judged, drops = await batch_verdicts(session, batch)
        fresh = await batch_freshness_verdicts(session, batch, session.info.get(FRESHNESS_LOCKED, ()))
    finally:
        session.info.pop(FRESHNESS_LOCKS, None)
        session.info.pop(FRESHNESS_LOCKED, None)
    later, later_now = fresh if fresh is not None else ([], None)
    if judged or drops or later:
        await decide(session, judged, now, drops, later, later_now)


class UnitState(NamedTuple):
    newest: date | None
    students: int


async def unit_states(session: AsyncSession, keys: set[UnitKey] | None, organiser_id: str | None = None
                      ) -> dict[UnitKey, UnitState]:
    """Newest result date and students with results per unit (all subjects, years and periods)."""
    newest = await _newest(session, keys, organiser_id)
    students = await _students(session, keys, organiser_id)
    return {key: UnitState(newest.get(key), students.get(key, 0)) for key in set(newest) | set(students)}


async def _newest(session: AsyncSession, keys: set[UnitKey] | None, organiser_id: str | None = None
                  ) -> dict[UnitKey, date]:
    if keys is not None:  # one index range per unit (the figure table's key begins with level, unit, organiser)
        if not keys:
            return {}
        newest_rows = (await session.execute(_NEWEST_OF, as_arrays(UnitKey._fields, sorted(keys)))).all()
    else:
        d = figure_pass.c
        newest_q = select(d.organiser_id, d.level, d.unit_id, func.max(d.newest)).where(
            d.level.in_(FRESHNESS_LEVELS), d.newest_count > 0).group_by(d.organiser_id, d.level, d.unit_id)
        if organiser_id is not None:
            newest_q = newest_q.where(d.organiser_id == organiser_id)
        newest_rows = (await session.execute(newest_q)).all()
    return {UnitKey(*r[:3]): r[3] for r in newest_rows}


async def _students(session: AsyncSession, keys: set[UnitKey] | None, organiser_id: str | None = None
                    ) -> dict[UnitKey, int]:
    # figure_students holds group cells only: a school unit's students are those of its groups (a
    # student in two of its groups counts once). Groups and school units counted in one pass over the
    # groups of the wanted school units (grouping sets): a group's own count by its key looked up
    # per group cost about three times the pass the school units need anyway
    where: list[str] = ["level = 'group'", "count > 0"]
    params: dict[str, object] = {}
    if keys is not None:
        if not keys:
            return {}
        codes = {k.unit_id for k in keys if k.level == "school_unit"}
        codes |= {k.unit_id.split(GROUP_SEPARATOR, 1)[0] for k in keys if k.level == "group"}
        where += ["organiser_id = ANY(CAST(:organisers AS text[]))", f"{_CODE} = ANY(CAST(:codes AS text[]))"]
        params |= {"organisers": sorted({k.organiser_id for k in keys}), "codes": sorted(codes)}
    if organiser_id is not None:
        where.append("organiser_id = :organiser")
        params["organiser"] = organiser_id
    counted = text(
        f"SELECT organiser_id, unit_id, {_CODE}, count(DISTINCT student_id), GROUPING(unit_id) "
        f"FROM {figure_students.name} WHERE {' AND '.join(where)} "
        f"GROUP BY GROUPING SETS ((organiser_id, unit_id), (organiser_id, {_CODE}))")
    students: dict[UnitKey, int] = {}
    for organiser, group, code, n, per_unit in (await session.execute(counted, params)).all():
        key = UnitKey(organiser, "school_unit", code) if per_unit else UnitKey(organiser, "group", group)
        if keys is None or key in keys:
            students[key] = int(n)
    return students


# The newest result day of each unit asked for: a LATERAL per unit over the primary key's prefix
# (level, unit id), not a tuple IN list over every group and school-unit row of the table (that grew
# with the table: ~1.4 s per batch of 5,000 at 43k results, bench/results/apply4.json). Only the key's
# columns are compared inside (OFFSET 0 keeps the rest outside): with statistics older than the table's
# growth the organiser index looked as cheap, and was walked per unit (60,000 rows each).
_NEWEST_OF = text(
    "SELECT k.organiser_id, k.level, k.unit_id, max(d.day) FROM unnest(CAST(:organiser_id AS text[]), "
    "CAST(:level AS text[]), CAST(:unit_id AS text[])) AS k(organiser_id, level, unit_id) "
    f"CROSS JOIN LATERAL (SELECT d.newest AS day, d.organiser_id, d.newest_count AS count FROM {figure_pass.name} d "
    "WHERE d.level = k.level AND d.unit_id = k.unit_id OFFSET 0) d "
    "WHERE d.organiser_id = k.organiser_id AND d.count > 0 GROUP BY 1, 2, 3")
_CODE = f"split_part(unit_id, '{GROUP_SEPARATOR}', 1)"  # a group's school unit (its id is `<school unit>/<group>`)


async def open_freshness_alerts(session: AsyncSession, keys: set[UnitKey] | None, organiser_id: str | None = None
                                ) -> dict[UnitKey, set[TermPeriod]]:
    al = alerts.c
    query = select(al.organiser_id, al.level, al.unit_id, al.school_year, al.term).where(
        al.rule == AlertRule.freshness_red.value, al.status != Status.resolved.value, al.term.is_not(None))
    if organiser_id is not None:
        query = query.where(al.organiser_id == organiser_id)
    if keys is not None:  # the keys' organisers only (not every organiser's open alerts, sifted here)
        query = query.where(any_of(al.organiser_id, {k.organiser_id for k in keys}))
    out: dict[UnitKey, set[TermPeriod]] = {}
    for organiser, level, unit, school_year, term in (await session.execute(query)).all():
        key = UnitKey(organiser, level, aggregate_unit_id(level, unit))
        if keys is None or key in keys:
            out.setdefault(key, set()).add(TermPeriod(SchoolYear.parse(school_year), Term(term)))
    return out


async def judge_units(session: AsyncSession, keys: set[UnitKey] | None, moment: datetime,
                      organiser_id: str | None = None) -> int:
    """Judge `freshness_red` of the units (None: every unit of `organiser_id`, or of all) at `moment`:
    the period it turned red in, and every open freshness alert of the unit. Returns events written."""
    return await decide(session, await judged_units(session, keys, moment, organiser_id), moment)


async def judged_units(session: AsyncSession, keys: set[UnitKey] | None, moment: datetime,
                       organiser_id: str | None = None, fresh: Mapping[UnitKey, date] | None = None
                       ) -> list[tuple[AlertCell, Observation]]:
    """`judge_units`' verdicts, for `decide`. `fresh` (with `keys`): a date on or before each listed unit's
    newest result (a result the batch counts there): see `_judged_keys`."""
    today = moment.astimezone(ZONE).date()
    if keys is None or fresh is None:
        states = await unit_states(session, keys, organiser_id)
        active = await open_freshness_alerts(session, keys, organiser_id)
        units = set(states) | set(active) if keys is None else keys
        thresholds = await load_thresholds(session, {k.organiser_id for k in units})
    else:
        active = await open_freshness_alerts(session, keys)
        thresholds = await load_thresholds(session, {k.organiser_id for k in keys})
        units, states = await _judged_keys(session, keys, fresh, active, thresholds, today)
    judged: list[tuple[AlertCell, Observation]] = []
    for key in sorted(units):
        state = states.get(key, UnitState(None, 0))
        limits = thresholds.get(key.organiser_id, Thresholds())
        periods = set(active.get(key, set()))
        onset = freshness_period(state.newest, limits.freshness)
        if onset is not None:
            periods.add(onset)
        dates = Multiset.of(state.newest) if state.newest else None
        for period in sorted(periods, key=lambda p: p.sort_key()):
            cell = AlertCell(key.organiser_id, (key.level, alert_unit_id(key.level, key.unit_id)), None, None, period)
            judged.append((cell, judge_freshness_in(period, dates, state.students, today, limits)))
    return judged


def _red(newest: date | None, today: date, limits: Thresholds) -> bool:
    return band(newest, today, limits.freshness) is Band.red


async def _judged_keys(session: AsyncSession, keys: set[UnitKey], fresh: Mapping[UnitKey, date],
                       active: Mapping[UnitKey, set[TermPeriod]], thresholds: Mapping[str, Thresholds], today: date
                       ) -> tuple[set[UnitKey], dict[UnitKey, UnitState]]:
    """The units whose judgement can decide anything, and their states — the same decisions as judging every
    key, with less read. A unit's cells change anything only while it is red (a dip) or has an open
    alert (resolved: `rules.evaluate`); any other unit's cells decide nothing, whatever its newest date
    and students (no alert raised, none open to resolve). A unit's newest result is at least the date of a
    result the batch counts there (`fresh`), and a band never turns red as its newest result gets newer:
    a unit not red by that date and without an open alert is judged without a read; the students (the
    figures of a decision) are counted only for units red by their newest result or with an open alert."""
    def limits(key: UnitKey) -> Thresholds:
        return thresholds.get(key.organiser_id, Thresholds())

    units = {k for k in keys if k in active or k not in fresh or _red(fresh[k], today, limits(k))}
    newest = await _newest(session, units)
    counted = {k for k in units if k in active or _red(newest.get(k), today, limits(k))}
    students = await _students(session, counted)
    return units, {key: UnitState(newest.get(key), students.get(key, 0)) for key in units}


async def sweep_organiser(session: AsyncSession, organiser_id: str, moment: datetime) -> int:
    await lock_organisers(session, [organiser_id])
    # outside any batch: the alert lists kept before the sweep are old once it commits
    await note_change_outside_batches(session)
    return await judge_units(session, None, moment, organiser_id)


async def organisers_to_sweep(session: AsyncSession) -> list[str]:
    d, al = figure_pass.c, alerts.c
    found = set((await session.execute(select(d.organiser_id).where(d.level == "school_unit").distinct())).scalars())
    found |= set((await session.execute(select(al.organiser_id).where(
        al.rule == AlertRule.freshness_red.value, al.status != Status.resolved.value).distinct())).scalars())
    return sorted(found)


async def sweep(db: Database, moment: datetime | None = None, organiser_id: str | None = None) -> int:
    """One transaction per organiser (one organiser's failure does not stop the others' sweep)."""
    async with db.sessions() as session:
        organisers = [organiser_id] if organiser_id else await organisers_to_sweep(session)
    events = 0
    for organiser in organisers:
        async with db.sessions.begin() as session:
            at = moment or (await session.execute(select(func.now()))).scalar_one()
            events += await sweep_organiser(session, organiser, at)
    return events


async def run_sweeper(runtime: Runtime, interval_seconds: float) -> None:
    """The periodic sweep, until cancelled (first after one interval: the consumer judges on arrival
    meanwhile). A failed sweep is logged and tried again next time."""
    while True:
        await asyncio.sleep(interval_seconds)
        try:
            events = await sweep(runtime.db)
            if events:
                log.info("freshness sweep: %d alert events", events)
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("freshness sweep failed; trying again in %.0f s", interval_seconds)

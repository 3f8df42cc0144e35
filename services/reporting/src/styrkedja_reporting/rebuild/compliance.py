"""Compliance rebuilt by set statements from the final directory and facts and the staged fact events
(instead of its handler over every event in log order, 43 s at 602k events: rebuild2.json).

What the incremental apply leaves (`compliance.handlers`), written once from the final state:

* `compliance_calendars`: each organiser's newest calendar revision, the greater calendar (jsonb order) among
  equal ones (the handler's `calendar_upsert`, the same statement);
* the assessment facts' `received_at` (`results.rules.run_time`: `rules.fold_round_report`'s time) over each
  assessment's events in log order, set-wise — an event counts when its revision is not below any earlier one of
  the assessment; the facts (`bulk._facts`) hold their newest event's own time, the fold's for a retracted one
  (the retraction's own) and one of a single counted event; a published one's is the earliest time of its last
  run (the counted publications above the newest retracted revision) — taken by the facts' insert
  (`run_times_sql`, `bulk._facts`: the facts are written once, in the organiser's order);
* `compliance_forecast_runs`: each forecast's `rules.fold_forecast_run` over its events, set-wise
  (`_forecast_runs_sql`): the greatest revision, withdrawn revision and on-time revision — maxima, any order;
* `compliance_assignment_scope`: each teaching assignment's group × subject as the directory holds it now;
* `compliance_windows`: a forecast window per organiser × school year × term any forecast event named,
  a round window per organiser × school year × round any counted assessment state named whose round the
  organiser's final calendar gives a deadline — dated by the final calendar (a calendar change re-dates
  and drops windows the same way);
* items and cells: every window at once by two statements (`_ITEMS`, `_CELLS`: the rules of compliance's
  live statements, `opening.derive_opened` and `syncing.sync_windows` — roster on the deadline × the groups' subjects with an assignment overlapping the window,
  the teachers active on the deadline, a report's lateness — with the reports aggregated and hash-joined,
  not looked up per item; `item_contribution`'s cells summed from the items).

One case depends on the live consumer's batching and is not followed: an assessment revised into another
round inside one live batch leaves the first round's window untracked there; here (as a batch per event)
it is tracked."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from styrkedja_contracts import AssessmentPublishedV1, AssessmentRetractedV1, ForecastSubmittedV1, ForecastWithdrawnV1
from styrkedja_contracts.events.calendar import CalendarChangedV1
from styrkedja_kit.consumer import Delivered
from styrkedja_kit.db import planner_setting
from styrkedja_kit.sets import insert_rows

from ..compliance.handlers import calendar_upsert, calendars_of, window_for
from ..compliance.opening import CONTRIBUTIONS
from ..compliance.rules import WindowKey, WindowKind, round_period
from ..compliance.tables import (
    compliance_assignment_scope,
    compliance_calendars,
    compliance_forecast_runs,
    compliance_windows,
)
from . import explain
from .parts import EVERY_ORGANISER, OrganiserRange, range_condition

CALENDAR_TYPE = CalendarChangedV1.event_type
_PUBLISHED, _RETRACTED = AssessmentPublishedV1.event_type, AssessmentRetractedV1.event_type
_FORECAST_TYPES = (ForecastSubmittedV1.event_type, ForecastWithdrawnV1.event_type)
_PLACE = ("organiser_id", "school_unit_code", "group_id", "student_id", "subject_code", "school_year", "round")


def organisers_within(alias: str, within: OrganiserRange) -> str:
    """An SQL condition (AND-ed on, or empty) keeping the rows of `alias` whose organiser is in `within`
    (`parts.range_condition`, its parameters `organiser_bounds`). An assessment is its id within its organiser, so
    every statement over the counted events and the facts is the same rows whether it runs once or once per range of
    organisers (`bulk.Rebuilder._facts`: the facts' insert in two parts)."""
    return range_condition(within, f"{alias}.organiser_id", "organisers")[0]


def organiser_bounds(within: OrganiserRange) -> dict[str, str]:
    """`organisers_within`'s parameters."""
    return range_condition(within, "organiser_id", "organisers")[1]




def counted_sql(tracked: str, dups: str, within: OrganiserRange = EVERY_ORGANISER) -> str:
    """The claimed assessment events that count for their assessment's state (`fold_round_report`: a revision not
    below any earlier one in log order — one of the same revision is its twin, decided by content), with their rank
    and whether they are their assessment's last. An assessment is its id within its organiser
    (`results.tables.fact_table`). Only the columns read after (`counted_statements`): the run times' and the round
    periods' — the place's other columns went with compliance_round_reports (migration 0037), and each is carried
    through the sort of every assessment event (rebuild34). `within`: the organisers' range (`organisers_within`)."""
    return (
        "WITH ev AS (SELECT seq, fact_id, revision, type = :retracted AS retracted, organiser_id, school_year, round, "
        "at, max(revision) OVER (PARTITION BY fact_id, organiser_id ORDER BY seq "
        "ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING) AS before "
        f"FROM {tracked} t WHERE type IN (:published, :retracted) "
        f"AND NOT EXISTS (SELECT 1 FROM {dups} d WHERE d.seq = t.seq){organisers_within('t', within)}) "
        f"SELECT {', '.join(_COUNTED)}, row_number() OVER w AS n, lead(seq) OVER w IS NULL AS last "
        "FROM ev WHERE before IS NULL OR revision >= before WINDOW w AS (PARTITION BY fact_id, organiser_id ORDER BY seq)")


#: the counted events' columns kept (`counted_sql`): what `run_times_sql` and the round periods read
_COUNTED = ("fact_id", "organiser_id", "revision", "retracted", "school_year", "round", "at")


def counted_table(tracked: str) -> str:
    """The counted events of the assessments with more than one (`counted_statements`): made by the facts' job
    (`bulk._facts`, their run times), dropped by compliance's."""
    return f"{tracked}_counted"  # unlogged, made and dropped in the rebuild


def round_periods_table(tracked: str) -> str:
    """Every organiser × school year × round a counted event names (`counted_statements`): made by the facts' job,
    read and dropped by compliance's (its round windows)."""
    return f"{tracked}_round_periods"  # unlogged, made and dropped in the rebuild


def counted_statements(tracked: str, dups: str, options: str) -> list[tuple[str, str, dict[str, str]]]:
    """(label, statement, its parameters) in order: the two tables made empty (`counted_tables_made`), then filled
    by one statement (`counted_fill`)."""
    return [*counted_tables_made(tracked, dups, options), counted_fill(tracked, dups)]


def counted_tables_made(tracked: str, dups: str, options: str) -> list[tuple[str, str, dict[str, str]]]:
    """(label, statement, its parameters): the counted events' and the round periods' tables made empty (`options`:
    their storage parameters), once, before `counted_fill` (once per range of organisers)."""
    counted, periods = counted_table(tracked), round_periods_table(tracked)
    return [
        ("compliance.counted.made",
         f"CREATE UNLOGGED TABLE {counted} WITH ({options}) AS {counted_sql(tracked, dups)} WITH NO DATA",
         counted_params()),
        ("compliance.round_periods.made", f"CREATE UNLOGGED TABLE {periods} WITH ({options}) AS "
                                          f"SELECT organiser_id, school_year, round FROM {counted} WITH NO DATA", {}),
    ]


def counted_fill(tracked: str, dups: str, within: OrganiserRange = EVERY_ORGANISER
                 ) -> tuple[str, str, dict[str, str]]:
    """(label, statement, its parameters): the counted events of the organisers `within` (`counted_sql`) into the
    tables of `counted_tables_made` — the round periods of all of them, and the events of the assessments with more
    than one (the only ones a run time is taken from: most assessments have one event, and its own time is the
    fold's). Before (rounds33) every counted event was written to a table and the periods read from it by another
    statement (rebuild34: the row write of every event)."""
    counted, periods = counted_table(tracked), round_periods_table(tracked)
    return ("compliance.counted", f"WITH c AS MATERIALIZED ({counted_sql(tracked, dups, within)}), p AS (INSERT INTO "
                                  f"{periods} SELECT DISTINCT organiser_id, school_year, round FROM c) "
                                  f"INSERT INTO {counted} SELECT * FROM c WHERE NOT (n = 1 AND last)",
            {**counted_params(), **organiser_bounds(within)})


def run_times_sql(counted: str, within: OrganiserRange = EVERY_ORGANISER) -> str:
    """Each revised assessment's run time (`results.rules.run_time` set-wise, `rules.fold_round_report`'s time), as
    (r_id, r_organiser, run_at): the earliest of the counted publications above the newest counted retracted revision.
    `counted` holds the assessments of more than one counted event only (`counted_statements`: most have one, and
    its own time is the fold's, as a retraction's is); the facts' insert takes it for a published fact
    (`bulk._facts`). `within`: of the organisers in that range only (`organisers_within`; the parameters the
    caller's)."""
    return (
        f"WITH m AS MATERIALIZED (SELECT * FROM {counted} c WHERE TRUE{organisers_within('c', within)}), "
        "k AS (SELECT fact_id, organiser_id, max(revision) FILTER (WHERE retracted) AS retracted_revision "
        "FROM m GROUP BY fact_id, organiser_id) "
        "SELECT k.fact_id AS r_id, k.organiser_id AS r_organiser, min(m.at) AS run_at FROM k "
        "JOIN m ON m.fact_id = k.fact_id AND m.organiser_id = k.organiser_id "
        "WHERE NOT m.retracted AND (k.retracted_revision IS NULL OR m.revision > k.retracted_revision) "
        "GROUP BY k.fact_id, k.organiser_id")


def counted_params() -> dict[str, str]:
    """`counted_sql`'s parameters."""
    return {"published": _PUBLISHED, "retracted": _RETRACTED}


def _forecast_runs_sql(forecasts: str, dups: str) -> str:
    """Each forecast's run (`rules.fold_forecast_run` set-wise) from its staged events (`forecasts`: one row per
    forecast event, the fact's fields; a withdrawal's `late` false): the greatest revision, the greatest withdrawn
    and the greatest submitted on time — maxima, the live fold's in any order — and `ForecastRun.late` of them."""
    return (
        f"INSERT INTO {compliance_forecast_runs.name} (forecast_id, organiser_id, revision, withdrawn_revision, "
        "on_time_revision, late) "
        "SELECT forecast_id, organiser_id, revision, w, o, w IS DISTINCT FROM revision AND coalesce(o, 0) <= "
        "coalesce(w, 0) FROM (SELECT forecast_id, organiser_id, max(revision) AS revision, "
        "max(revision) FILTER (WHERE withdrawn) AS w, max(revision) FILTER (WHERE NOT withdrawn AND NOT late) AS o "
        f"FROM {forecasts} t WHERE NOT EXISTS (SELECT 1 FROM {dups} d WHERE d.seq = t.seq) "
        "GROUP BY forecast_id, organiser_id) f")


#: hands the claimed calendar events to its argument in log order, a batch at a time (`Rebuilder._small_batches`)
Calendars = Callable[[Callable[[Sequence[Delivered]], Awaitable[None]]], Awaitable[None]]


async def rebuild_compliance(session: AsyncSession, *, tracked: str, dups: str, calendar_events: Calendars,
                             forecasts: str) -> int:
    """Compliance's tables from the final directory and facts (filled before) and the staged events (`tracked`:
    compliance's view of every fact event, `dups`: the later deliveries to leave out); `calendar_events`: the claimed
    calendar events, a batch at a time (only each organiser's newest are kept). Returns how many windows were
    derived."""
    newest: dict[str, list[Any]] = {}

    async def fold(batch: Sequence[Delivered]) -> None:
        for item in batch:
            data: Any = item.event.data
            known = newest.get(data.organiser_id)
            if known is None or data.revision > known[0].revision:
                newest[data.organiser_id] = [data]
            elif data.revision == known[0].revision:
                known.append(data)  # decided as the live consumer decides (`calendar_upsert`), whatever the order

    await calendar_events(fold)
    if newest:
        # over arrays (`insert_rows`), as the windows below: a VALUES list takes a parameter per value, and a statement
        # holds at most 32,767 (hundreds of organisers' windows passed it)
        await insert_rows(session, compliance_calendars, [
            {"organiser_id": org, "revision": d[0].revision, "calendar": d[0].calendar.model_dump(mode="json")}
            for org, d in sorted(newest.items())])
        for tied in newest.values():  # a handful at most: one organiser's calendars of one revision
            for data in tied[1:]:
                await session.execute(calendar_upsert(data))
    # made with the facts (`bulk._facts`: their run times, `counted_statements`)
    counted, periods = counted_table(tracked), round_periods_table(tracked)
    await explain.execute(session, "compliance.forecast_runs", _forecast_runs_sql(forecasts, dups))
    a = "directory_teaching_assignments"
    cols = ("organiser_id", "assignment_id", "school_unit_code", "group_id", "subject_code")
    await session.execute(text(
        f"INSERT INTO {compliance_assignment_scope.name} ({', '.join(cols)}) SELECT {', '.join(cols)} FROM {a} "
        "WHERE school_unit_code IS NOT NULL AND group_id IS NOT NULL AND subject_code IS NOT NULL"))
    forecast_periods = (await session.execute(text(
        f"SELECT DISTINCT organiser_id, school_year, term FROM {tracked} t WHERE type IN (:f1, :f2) "
        f"AND NOT EXISTS (SELECT 1 FROM {dups} d WHERE d.seq = t.seq)"),
        {"f1": _FORECAST_TYPES[0], "f2": _FORECAST_TYPES[1]})).all()
    # every organiser × school year × round a counted state named (a counted event's place: a retraction's state is
    # its own place)
    round_periods = (await session.execute(text(f"SELECT organiser_id, school_year, round FROM {periods}"))).all()
    await session.execute(text(f"DROP TABLE {counted}, {periods}"))
    keys = sorted({WindowKey(WindowKind.forecast, org, f"{year}:{term}") for org, year, term in forecast_periods}
                  | {WindowKey(WindowKind.assessment_round, org, round_period(year, round_))
                     for org, year, round_ in round_periods}, key=lambda k: (k.organiser_id, k.kind.value, k.period))
    calendars = await calendars_of(session, {k.organiser_id for k in keys})
    windows = [(key, window) for key in keys if (window := window_for(key, calendars[key.organiser_id])) is not None]
    if windows:
        await insert_rows(session, compliance_windows, [
            {"organiser_id": key.organiser_id, "kind": key.kind.value, "period": key.period, "opens": w.opens,
             "deadline": w.deadline, "timezone": w.timezone} for key, w in windows])
    kinds = {"forecast": WindowKind.forecast.value, "round": WindowKind.assessment_round.value}
    async with planner_setting(session, "enable_nestloop", "off"):
        await explain.execute(session, "compliance.items", _ITEMS, kinds)
    await explain.execute(session, "compliance.cells", _CELLS)
    await session.execute(text("ANALYZE compliance_items, compliance_cells"))  # for the live consumer's statements
    return len(windows)


#: `_ITEMS` is planned without nested loops (the setting local to the transaction, set back after it), as compliance's
#: own set statements are (`opening.set_planner`): the join of its roster and group-subject CTEs (five key
#: columns, no statistics) is estimated at one row, and the reports were then joined to every item by a nested loop
#: over all reports — items × reports: 74k × 4.4k rows compared at 1,200 students (81 s CPU), 21 s at 600, not
#: finished in 460 s on the full demo; hash joins: bench/compliance_items.py, bench/README.md
_NESTLOOP_OFF = "SELECT current_setting('enable_nestloop'), set_config('enable_nestloop', 'off', true)"


def items_statements() -> list[str]:
    """The statements that fill `compliance_items`, in order (a bench runs them one by one)."""
    return [_NESTLOOP_OFF, _ITEMS]


_ACTIVE_ON = "({t}.start_date IS NULL OR {t}.start_date <= w.deadline) AND ({t}.end_date IS NULL OR {t}.end_date >= {d})"
#: every window's items (as `opening.derive_opened` derives an opened window's, for all windows at once; the reports
#: hash-joined)
_ITEMS = (
    "INSERT INTO compliance_items (organiser_id, kind, period, school_unit_code, group_id, subject_code, student_id, "
    "teachers, status) "
    "WITH w AS MATERIALIZED (SELECT organiser_id, kind, period, opens, deadline, timezone FROM compliance_windows), "
    # the roster: memberships active on the deadline
    "roster AS MATERIALIZED (SELECT DISTINCT w.organiser_id, w.kind, w.period, m.school_unit_code, m.group_id, "
    "m.student_id FROM w JOIN directory_memberships m ON m.organiser_id = w.organiser_id WHERE NOT m.removed "
    f"AND m.group_id IS NOT NULL AND m.student_id IS NOT NULL AND {_ACTIVE_ON.format(t='m', d='w.deadline')}), "
    # a group's subjects: an assignment overlapping the window; its teachers: those active on the deadline
    "subj AS MATERIALIZED (SELECT w.organiser_id, w.kind, w.period, a.school_unit_code, a.group_id, a.subject_code, "
    "CAST(coalesce(array_agg(DISTINCT a.teacher_id COLLATE \"C\" ORDER BY a.teacher_id COLLATE \"C\") "
    f"FILTER (WHERE {_ACTIVE_ON.format(t='a', d='w.deadline')}), '{{}}') AS text[]) AS teachers "
    "FROM w JOIN directory_teaching_assignments a ON a.organiser_id = w.organiser_id "
    "WHERE NOT a.removed AND a.subject_code IS NOT NULL AND a.teacher_id IS NOT NULL "
    f"GROUP BY 1, 2, 3, 4, 5, 6 HAVING bool_or({_ACTIVE_ON.format(t='a', d='w.opens')})), "
    # each student × subject's reports in a window: late only when every one is late (on time wins); a forecast's
    # by its run (`compliance_forecast_runs`: a correction after the deadline keeps an on-time one on time)
    "rep AS (SELECT f.organiser_id, CAST(:forecast AS text) AS kind, f.school_year || ':' || f.term AS period, "
    "f.student_id, f.subject_code, bool_and(coalesce(run.late, f.late)) AS late FROM forecast_facts f "
    "LEFT JOIN compliance_forecast_runs run ON run.forecast_id = f.forecast_id AND run.organiser_id = f.organiser_id "
    "WHERE NOT f.withdrawn "
    "GROUP BY 1, 2, 3, 4, 5 "
    "UNION ALL SELECT r.organiser_id, CAST(:round AS text), w.period, r.student_id, r.subject_code, "
    "bool_and(CAST((r.received_at AT TIME ZONE w.timezone) AS date) > w.deadline) FROM assessment_facts r "
    "JOIN w ON w.kind = :round AND w.organiser_id = r.organiser_id AND w.period = r.school_year || ':' || 'R' || r.round "
    "WHERE NOT r.retracted GROUP BY 1, 2, 3, 4, 5) "
    "SELECT r.organiser_id, r.kind, r.period, r.school_unit_code, r.group_id, s.subject_code, r.student_id, "
    "s.teachers, CASE WHEN rep.late IS NULL THEN 'missing' WHEN rep.late THEN 'late' ELSE 'on_time' END "
    "FROM roster r JOIN subj s ON s.organiser_id = r.organiser_id AND s.kind = r.kind AND s.period = r.period "
    "AND s.school_unit_code = r.school_unit_code AND s.group_id = r.group_id "
    "LEFT JOIN rep ON rep.organiser_id = r.organiser_id AND rep.kind = r.kind AND rep.period = r.period "
    "AND rep.student_id = r.student_id AND rep.subject_code = s.subject_code")
#: every window's cells from its items (`rules.item_contribution`, as `opening.CONTRIBUTIONS` sums it)
_CELLS = (
    "INSERT INTO compliance_cells (organiser_id, kind, period, cell_kind, school_unit_code, group_id, subject_code, "
    "teacher_id, expected, on_time, late) "
    "WITH side AS MATERIALIZED (SELECT organiser_id AS o, kind AS k, period AS p, school_unit_code AS u, group_id AS g, "
    "subject_code AS s, teachers, status, count(*) AS n FROM compliance_items GROUP BY 1, 2, 3, 4, 5, 6, 7, 8), "
    + CONTRIBUTIONS + " "
    "SELECT o, k, p, cell_kind, u, g, s, t, sum(n), coalesce(sum(n) FILTER (WHERE status = 'on_time'), 0), "
    "coalesce(sum(n) FILTER (WHERE status = 'late'), 0) FROM contrib GROUP BY 1, 2, 3, 4, 5, 6, 7, 8")

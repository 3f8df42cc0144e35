"""Windows a live batch tracks for the first time (issue 16): opened and derived whole as a set, one statement for the
windows and one for their items and cells, however many the batch opens.

A window was opened by an insert of its own and derived by a whole-window statement of its own
(the per-window statement's whole form, with an ANALYZE after each): 5,960 windows opened by one batch (a calendar year of
many organisers) took about 90 s of the consumer's transaction — the rebuild of the same log about 5 s. Now the
batch's new windows go in by one `INSERT … SELECT FROM unnest(…) ON CONFLICT DO NOTHING` (the rows it inserted are
the new ones: another writer's are left to it, as before), and their items and cells by one statement: the items
derived by the rules of `syncing` for a whole window (the rebuild's `rebuild.compliance._ITEMS`, for these windows
only: the roster on the deadline × the group's subjects with an assignment overlapping the window, the teachers
active on the deadline, each student × subject's reports — on time wins), and the cells summed from the items it
inserted (`rules.item_contribution`, `CONTRIBUTIONS`). A new window has no items or cells (a window re-dated or
dropped by a calendar change loses them first, `handlers._redate`): plain inserts, no diff. Windows tracked
already are synced by `syncing`, also as a set."""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from styrkedja_contracts.calendar import Window

from .rules import WindowKey, WindowKind, parse_round_period
from .tables import compliance_windows

#: a window's items' contributions to its cells (`rules.item_contribution`), over
#: a CTE `side` of (o, k, p, u, g, s, teachers, status, n): the live opening and the rebuild sum the same rows
CONTRIBUTIONS = (
    "contrib AS (SELECT d.o, d.k, d.p, x.cell_kind, d.u, x.g, x.s, x.t, d.n, d.status FROM side d "
    "CROSS JOIN LATERAL (VALUES ('school_unit', '', '', ''), ('group', d.g, '', ''), ('group_subject', d.g, d.s, '')) "
    "AS x(cell_kind, g, s, t) "
    "UNION ALL SELECT d.o, d.k, d.p, x.cell_kind, d.u, x.g, x.s, x.t, d.n, d.status FROM side d "
    "CROSS JOIN LATERAL unnest(d.teachers) AS tt(teacher) CROSS JOIN LATERAL (VALUES "
    "('teacher', '', '', tt.teacher), ('teacher_group_subject', d.g, d.s, tt.teacher)) AS x(cell_kind, g, s, t) "
    "UNION ALL SELECT d.o, d.k, d.p, 'unassigned', d.u, d.g, d.s, '', d.n, d.status FROM side d "
    "WHERE cardinality(d.teachers) = 0)"
)

#: the planner for the window statements (here and in `syncing`), in one round trip each way (local to the
#: transaction): plans for the arrays each time (a prepared statement's generic plan, taken after five runs, guesses
#: every array at a handful of rows), and every join of the statement's own sets by hash — their estimates are far
#: off (a join of windows × keys or × directory rows on several columns is guessed at a row or two): nested loops
#: over them were 50–160 s at 4,800 windows, and a merge join on the window alone, the student a filter, compared
#: 450M pairs at 25 windows of 6,000 items (145 s). What must be a nested loop (a lateral lookup) still is one.
SET_PLANNER = text("SELECT current_setting('plan_cache_mode'), current_setting('enable_nestloop'), "
                   "current_setting('enable_mergejoin'), set_config('plan_cache_mode', 'force_custom_plan', true), "
                   "set_config('enable_nestloop', 'off', true), set_config('enable_mergejoin', 'off', true)")
PLANNER_BACK = text("SELECT set_config('plan_cache_mode', :plan_cache_mode, true), "
                    "set_config('enable_nestloop', :enable_nestloop, true), "
                    "set_config('enable_mergejoin', :enable_mergejoin, true)")


async def set_planner(session: AsyncSession) -> dict[str, str]:
    """`SET_PLANNER`; returns the settings before, `PLANNER_BACK`'s parameters."""
    mode, nestloop, mergejoin, *_ = (await session.execute(SET_PLANNER)).one()
    return {"plan_cache_mode": mode, "enable_nestloop": nestloop, "enable_mergejoin": mergejoin}
_INSERT_WINDOWS = text(
    f"INSERT INTO {compliance_windows.name} (organiser_id, kind, period, opens, deadline, timezone) "
    "SELECT * FROM unnest(CAST(:organisers AS text[]), CAST(:kinds AS text[]), CAST(:periods AS text[]), "
    "CAST(:opens AS date[]), CAST(:deadlines AS date[]), CAST(:timezones AS text[])) "
    "ON CONFLICT DO NOTHING RETURNING organiser_id, kind, period")


async def open_windows(session: AsyncSession, windows: dict[WindowKey, Window]) -> set[WindowKey]:
    """Track `windows` (each dated by its organiser's calendar) in one statement; returns those it inserted (the
    others were tracked already, by another writer)."""
    if not windows:
        return set()
    keys = sorted(windows, key=lambda k: (k.organiser_id, k.kind.value, k.period))  # one lock order
    rows = (await session.execute(_INSERT_WINDOWS, {
        "organisers": [k.organiser_id for k in keys], "kinds": [k.kind.value for k in keys],
        "periods": [k.period for k in keys], "opens": [windows[k].opens for k in keys],
        "deadlines": [windows[k].deadline for k in keys], "timezones": [windows[k].timezone for k in keys]})).all()
    return {WindowKey(WindowKind(kind), organiser, period) for organiser, kind, period in rows}


#: a membership or assignment (`{t}`) started by its window `w`'s deadline and not ended before `{d}` (the deadline:
#: active on it; the window's opening day: overlapping the window)
ACTIVE_ON = ("({t}.start_date IS NULL OR {t}.start_date <= w.deadline) "
             "AND ({t}.end_date IS NULL OR {t}.end_date >= {d})")
#: the new windows' items (the rules of `syncing._sync_sql` for whole windows, `rebuild.compliance._ITEMS` for these
#: windows) inserted, and their cells summed from the inserted rows (`CONTRIBUTIONS`): one statement
_DERIVE_OPENED = text(
    "WITH w AS MATERIALIZED (SELECT * FROM unnest(CAST(:organisers AS text[]), CAST(:kinds AS text[]), "
    "CAST(:periods AS text[]), CAST(:opens AS date[]), CAST(:deadlines AS date[]), CAST(:timezones AS text[]), "
    "CAST(:school_years AS text[]), CAST(:terms AS text[]), CAST(:rounds AS int[])) "
    "AS w(organiser_id, kind, period, opens, deadline, timezone, school_year, term, round)), "
    # the roster: memberships active on the deadline
    "roster AS MATERIALIZED (SELECT DISTINCT w.organiser_id, w.kind, w.period, m.school_unit_code, m.group_id, "
    "m.student_id FROM w JOIN directory_memberships m ON m.organiser_id = w.organiser_id "
    "WHERE m.organiser_id = ANY(CAST(:among AS text[])) AND NOT m.removed "
    f"AND m.group_id IS NOT NULL AND m.student_id IS NOT NULL AND {ACTIVE_ON.format(t='m', d='w.deadline')}), "
    # a group's subjects: an assignment overlapping the window; its teachers: those active on the deadline
    "subj AS MATERIALIZED (SELECT w.organiser_id, w.kind, w.period, a.school_unit_code, a.group_id, a.subject_code, "
    "CAST(coalesce(array_agg(DISTINCT a.teacher_id COLLATE \"C\" ORDER BY a.teacher_id COLLATE \"C\") "
    f"FILTER (WHERE {ACTIVE_ON.format(t='a', d='w.deadline')}), '{{}}') AS text[]) AS teachers "
    "FROM w JOIN directory_teaching_assignments a ON a.organiser_id = w.organiser_id "
    "WHERE a.organiser_id = ANY(CAST(:among AS text[])) AND NOT a.removed AND a.group_id IS NOT NULL "
    "AND a.subject_code IS NOT NULL AND a.teacher_id IS NOT NULL "
    f"GROUP BY 1, 2, 3, 4, 5, 6 HAVING bool_or({ACTIVE_ON.format(t='a', d='w.opens')})), "
    # (each table read for the windows' organisers only, `:among`: by index, not the whole table's hash of every
    # organiser — a batch opening one window reads that organiser's rows)
    # each student × subject's reports in a window: late only when every one is late (on time wins); a forecast's
    # by its run (`compliance_forecast_runs`), an assessment's by its first publication against the deadline
    "rep AS MATERIALIZED (SELECT w.organiser_id, w.kind, w.period, f.student_id, f.subject_code, "
    "bool_and(coalesce(run.late, f.late)) AS late FROM w JOIN forecast_facts f ON f.organiser_id = w.organiser_id "
    "AND f.school_year = w.school_year AND f.term = w.term "
    "LEFT JOIN compliance_forecast_runs run ON run.forecast_id = f.forecast_id AND run.organiser_id = f.organiser_id "
    "WHERE w.kind = :forecast AND f.organiser_id = ANY(CAST(:among AS text[])) AND NOT f.withdrawn "
    "GROUP BY 1, 2, 3, 4, 5 "
    "UNION ALL SELECT w.organiser_id, w.kind, w.period, r.student_id, r.subject_code, "
    "bool_and(CAST((r.received_at AT TIME ZONE w.timezone) AS date) > w.deadline) FROM w "
    "JOIN assessment_facts r ON r.organiser_id = w.organiser_id AND r.school_year = w.school_year "
    "AND r.round = w.round WHERE w.kind = :round AND r.organiser_id = ANY(CAST(:among AS text[])) "
    "AND NOT r.retracted GROUP BY 1, 2, 3, 4, 5), "
    "items AS (INSERT INTO compliance_items (organiser_id, kind, period, school_unit_code, group_id, subject_code, "
    "student_id, teachers, status) "
    "SELECT r.organiser_id, r.kind, r.period, r.school_unit_code, r.group_id, s.subject_code, r.student_id, "
    "s.teachers, CASE WHEN rep.late IS NULL THEN 'missing' WHEN rep.late THEN 'late' ELSE 'on_time' END "
    "FROM roster r JOIN subj s ON s.organiser_id = r.organiser_id AND s.kind = r.kind AND s.period = r.period "
    "AND s.school_unit_code = r.school_unit_code AND s.group_id = r.group_id "
    "LEFT JOIN rep ON rep.organiser_id = r.organiser_id AND rep.kind = r.kind AND rep.period = r.period "
    "AND rep.student_id = r.student_id AND rep.subject_code = s.subject_code "
    "ORDER BY 1, 2, 3, 4, 5, 6, 7 "
    "RETURNING organiser_id, kind, period, school_unit_code, group_id, subject_code, CAST(teachers AS text[]) "
    "AS teachers, status), "
    "side AS (SELECT organiser_id AS o, kind AS k, period AS p, school_unit_code AS u, group_id AS g, "
    "subject_code AS s, teachers, status, count(*) AS n FROM items GROUP BY 1, 2, 3, 4, 5, 6, 7, 8), "
    + CONTRIBUTIONS + ", "
    "cells AS (INSERT INTO compliance_cells (organiser_id, kind, period, cell_kind, school_unit_code, group_id, "
    "subject_code, teacher_id, expected, on_time, late) "
    "SELECT o, k, p, cell_kind, u, g, s, t, sum(n), coalesce(sum(n) FILTER (WHERE status = 'on_time'), 0), "
    "coalesce(sum(n) FILTER (WHERE status = 'late'), 0) FROM contrib GROUP BY 1, 2, 3, 4, 5, 6, 7, 8 "
    "ORDER BY 1, 2, 3, 4, 5, 6, 7, 8 RETURNING 1) "
    "SELECT (SELECT count(*) FROM items), (SELECT count(*) FROM cells)")
#: a set derived in one statement changes the tables' size by thousands of rows: their statistics now, or the
#: batch's keyed statements are planned for the tables as they were; SKIP_LOCKED: a table another consumer's transaction analyses is left to it
_ANALYZE = text("ANALYZE (SKIP_LOCKED) compliance_items, compliance_cells")


async def derive_opened(session: AsyncSession, windows: Iterable[tuple[WindowKey, Window]]) -> int:
    """The items and cells of windows just opened (`open_windows`: none stored), in one statement; returns how many
    items it inserted."""
    chosen = sorted(windows, key=lambda kw: (kw[0].organiser_id, kw[0].kind.value, kw[0].period))
    if not chosen:
        return 0
    school_years: list[str] = []
    terms: list[str | None] = []
    rounds: list[int | None] = []
    for key, _ in chosen:
        if key.kind is WindowKind.assessment_round:
            school_year, round_ = parse_round_period(key.period)
            school_years.append(school_year)
            terms.append(None)
            rounds.append(round_)
        else:
            school_year, term = key.period.split(":")
            school_years.append(school_year)
            terms.append(term)
            rounds.append(None)
    params = {"organisers": [k.organiser_id for k, _ in chosen], "kinds": [k.kind.value for k, _ in chosen],
              "periods": [k.period for k, _ in chosen], "opens": [w.opens for _, w in chosen],
              "deadlines": [w.deadline for _, w in chosen], "timezones": [w.timezone for _, w in chosen],
              "school_years": school_years, "terms": terms, "rounds": rounds,
              "among": sorted({k.organiser_id for k, _ in chosen}),
              "forecast": WindowKind.forecast.value, "round": WindowKind.assessment_round.value}
    # every join by hash: the CTEs are estimated at a row or so each, and a nested loop of roster × subjects was
    # seconds (a whole window's statement of before, the rebuild's `_NESTLOOP_OFF`), a merge join of the items and
    # their reports on the window alone minutes (`SET_PLANNER`); planned for the parameters each time (the
    # organisers' arrays: how many rows each index scan reads)
    before = await set_planner(session)
    inserted, _cells = (await session.execute(_DERIVE_OPENED, params)).one()
    await session.execute(PLANNER_BACK, before)
    await session.execute(_ANALYZE)
    return int(inserted)

"""Windows tracked already that a live batch touches (issue 16): their affected items re-derived, compared with the
stored ones and written, and the differences added to the cells — for every touched window of the batch at once, one
statement per window kind, however many windows.

A statement per window (`_apply_sql`, ~5 ms each, with its round trip) made a batch touching 6,000 windows (a replay
of a calendar year of many organisers; results of every organiser in a deadline week) 16–60 s of the consumer's
transaction. Now the batch's windows and its keys go in as arrays, one per column (so the statement's parameters do
not grow with the batch): the windows (organiser, period, dates, time zone), the student × subject pairs of each
window, the students and the group × subjects of each organiser (all its touched windows). The keys are crossed with
the windows they apply to before they are sent (`_params`), and each step joins on (organiser, period) first — what
the per-window statement had as constants.

The rules are those of a whole window (`opening._DERIVE_OPENED`, the rebuild's `rebuild.compliance._ITEMS`): the
roster on the deadline × the groups' subjects with an assignment overlapping the window, the teachers active on the
deadline, a report's lateness; restricted to the items the keys name. The stored items the keys name are found by
three index-driven key joins (student × subject, student: `ix_compliance_items_student`; group × subject: the
primary key), a derived item's reports looked up by index per item (the keyed derivation is as small as the batch);
the items' old and new sides summed per group × subject × teachers × status and spread over the cells
(`opening.CONTRIBUTIONS`, the rebuild's text)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Protocol

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from styrkedja_contracts.calendar import Window

from .opening import ACTIVE_ON, CONTRIBUTIONS, PLANNER_BACK, set_planner
from .rules import WindowKey, WindowKind, parse_round_period

#: a window's keys: pairs (student × subject) of that window; students and group × subjects of its organiser
Pair = tuple[str, str]
GroupSubject = tuple[str, str, str]  # school unit, group, subject


class Keys(Protocol):
    """What one batch touched in one organiser, as `sync_windows` reads it (`handlers.Touched` is one)."""

    pairs: dict[str, set[Pair]]  # period → (student, subject)
    students: set[str]
    group_subjects: set[GroupSubject]


_ITEM = "o, p, u, g, s, st"
_DERIVED = "r.o, r.p, r.u, r.g, s.s, r.st, s.teachers"
_SUBJ_OF_R = "s.o = r.o AND s.p = r.p AND s.u = r.u AND s.g = r.g"
# the reports of each derived item, by index (`w`: its window, `d`: the item)
_REPORT_OF = {
    WindowKind.forecast: (
        # the run's flag by its key (a subquery: a join here, with nested loops off, hashed every run of the table)
        "SELECT bool_and(coalesce((SELECT run.late FROM compliance_forecast_runs run "
        "WHERE run.forecast_id = f.forecast_id AND run.organiser_id = f.organiser_id), f.late)) AS late "
        "FROM forecast_facts f WHERE f.student_id = d.st AND f.subject_code = d.s "
        "AND f.organiser_id = d.o AND f.school_year = w.school_year AND f.term = w.term AND NOT f.withdrawn"),
    WindowKind.assessment_round: (
        "SELECT bool_and(CAST((f.received_at AT TIME ZONE w.tz) AS date) > w.deadline) AS late "
        "FROM assessment_facts f WHERE f.student_id = d.st AND f.subject_code = d.s AND f.organiser_id = d.o "
        "AND f.school_year = w.school_year "
        "AND f.round = w.round AND NOT f.retracted"),
}
#: a lateral lookup kept a lookup per key: a plain subquery is pulled up into the join, which (nested loops off) then
#: hashed the whole table — every stored item or membership, for a batch of a few keys
_BY_KEY = "OFFSET 0"
# a stored item the keys name, by index (`k`: the key), with its place in the table (the deletion's)
_OLD_OF = ("k.o, k.p, c.school_unit_code AS u, c.group_id AS g, c.subject_code AS s, c.student_id AS st, "
           "CAST(c.teachers AS text[]) AS teachers, c.status, c.ctid AS at FROM compliance_items c "
           "WHERE c.organiser_id = k.o AND c.kind = :kind AND c.period = k.p AND ")
_ROSTER_OF = ("SELECT m.school_unit_code AS u, m.group_id AS g, m.student_id AS st FROM directory_memberships m "
              f"WHERE m.organiser_id = k.o AND NOT m.removed AND {ACTIVE_ON.format(t='m', d='w.deadline')} AND ")


def _sync_sql(kind: WindowKind) -> str:
    """One kind's windows (`w`) and keys synced: the items the keys name derived (`new`) and read (`old`), the
    differing ones (`diff`) written and their differences added to the cells. Every lookup in a table is a lateral
    subquery on an index, per key (the cost follows the batch: a key's student, group, items, reports); every join
    of the statement's own sets is a hash join — run with nested loops and merge joins off (`opening.SET_PLANNER`),
    as the sets' estimates are far off."""
    return (
        "WITH w AS MATERIALIZED (SELECT * FROM unnest(CAST(:w_orgs AS text[]), CAST(:w_periods AS text[]), "
        "CAST(:w_opens AS date[]), CAST(:w_deadlines AS date[]), CAST(:w_tzs AS text[]), CAST(:w_years AS text[]), "
        "CAST(:w_terms AS text[]), CAST(:w_rounds AS int[])) "
        "AS w(o, p, opens, deadline, tz, school_year, term, round)), "
        # the keys, each on the window it applies to (`_params`: a pair on its own window, a student or a group ×
        # subject on every touched window of its organiser) — each the unnest of its arrays, which the planner knows
        # the length of (a join of the keys with the windows here was guessed at a few rows of 60,000: a merge join
        # on the window alone, 180M comparisons)
        "kp AS MATERIALIZED (SELECT * FROM unnest(CAST(:p_orgs AS text[]), CAST(:p_periods AS text[]), "
        "CAST(:p_students AS text[]), CAST(:p_subjects AS text[])) AS k(o, p, st, s)), "
        "ks AS MATERIALIZED (SELECT * FROM unnest(CAST(:s_orgs AS text[]), CAST(:s_periods AS text[]), "
        "CAST(:s_students AS text[])) AS k(o, p, st)), "
        "kg AS MATERIALIZED (SELECT * FROM unnest(CAST(:g_orgs AS text[]), CAST(:g_periods AS text[]), "
        "CAST(:g_units AS text[]), CAST(:g_groups AS text[]), CAST(:g_subjects AS text[])) AS k(o, p, u, g, s)), "
        # the roster on each window's deadline: the keys' students in every group, the keys' groups' students
        "roster AS MATERIALIZED (SELECT k.o, k.p, m.u, m.g, m.st "
        "FROM (SELECT o, p, st FROM kp UNION SELECT o, p, st FROM ks) k JOIN w ON w.o = k.o AND w.p = k.p "
        f"CROSS JOIN LATERAL ({_ROSTER_OF} m.student_id = k.st AND m.group_id IS NOT NULL {_BY_KEY}) m "
        "UNION SELECT k.o, k.p, m.u, m.g, m.st FROM (SELECT DISTINCT o, p, u, g FROM kg) k "
        "JOIN w ON w.o = k.o AND w.p = k.p "
        f"CROSS JOIN LATERAL ({_ROSTER_OF} m.school_unit_code = k.u AND m.group_id = k.g "
        f"AND m.student_id IS NOT NULL {_BY_KEY}) m), "
        # the roster's groups' subjects: an assignment overlapping the window; the teachers active on the deadline
        "subj AS MATERIALIZED (SELECT r.o, r.p, r.u, r.g, a.s, a.teachers "
        "FROM (SELECT DISTINCT o, p, u, g FROM roster) r JOIN w ON w.o = r.o AND w.p = r.p "
        "CROSS JOIN LATERAL (SELECT a.subject_code AS s, "
        "CAST(coalesce(array_agg(DISTINCT a.teacher_id COLLATE \"C\" ORDER BY a.teacher_id COLLATE \"C\") "
        f"FILTER (WHERE {ACTIVE_ON.format(t='a', d='w.deadline')}), '{{}}') AS text[]) AS teachers "
        "FROM directory_teaching_assignments a WHERE a.school_unit_code = r.u AND a.group_id = r.g "
        "AND a.organiser_id = r.o AND NOT a.removed AND a.subject_code IS NOT NULL AND a.teacher_id IS NOT NULL "
        f"GROUP BY a.subject_code HAVING bool_or({ACTIVE_ON.format(t='a', d='w.opens')})) a), "
        # the items the keys name, a UNION of a join per kind of key (an OR of IN filters: the group × subjects' was
        # not hashed where the planner guessed its keys past work_mem, a scan of them per roster row)
        f"derived AS MATERIALIZED (SELECT {_DERIVED} FROM kp k JOIN roster r ON r.o = k.o AND r.p = k.p AND r.st = k.st "
        f"JOIN subj s ON {_SUBJ_OF_R} AND s.s = k.s "
        f"UNION SELECT {_DERIVED} FROM ks k JOIN roster r ON r.o = k.o AND r.p = k.p AND r.st = k.st "
        f"JOIN subj s ON {_SUBJ_OF_R} "
        f"UNION SELECT {_DERIVED} FROM kg k JOIN roster r ON r.o = k.o AND r.p = k.p AND r.u = k.u AND r.g = k.g "
        f"JOIN subj s ON {_SUBJ_OF_R} AND s.s = k.s), "
        "new AS (SELECT d.o, d.p, d.u, d.g, d.s, d.st, d.teachers, "
        "CASE WHEN rep.late IS NULL THEN 'missing' WHEN rep.late THEN 'late' ELSE 'on_time' END AS status "
        f"FROM derived d JOIN w ON w.o = d.o AND w.p = d.p CROSS JOIN LATERAL ({_REPORT_OF[kind]}) rep), "
        # the stored items the keys name: a UNION of key lookups (student × subject, student:
        # `ix_compliance_items_student`; group × subject: the primary key)
        f"old AS (SELECT c.* FROM kp k CROSS JOIN LATERAL (SELECT {_OLD_OF} c.student_id = k.st "
        f"AND c.subject_code = k.s {_BY_KEY}) c "
        f"UNION SELECT c.* FROM ks k CROSS JOIN LATERAL (SELECT {_OLD_OF} c.student_id = k.st {_BY_KEY}) c "
        f"UNION SELECT c.* FROM kg k CROSS JOIN LATERAL (SELECT {_OLD_OF} c.school_unit_code = k.u "
        f"AND c.group_id = k.g AND c.subject_code = k.s {_BY_KEY}) c), "
        # the items that differ: old teachers and status (ot, os), new (nt, ns); NULL status: none on that side
        "diff AS MATERIALIZED (SELECT coalesce(x.o, y.o) AS o, coalesce(x.p, y.p) AS p, coalesce(x.u, y.u) AS u, "
        "coalesce(x.g, y.g) AS g, coalesce(x.s, y.s) AS s, coalesce(x.st, y.st) AS st, x.teachers AS ot, "
        "x.status AS os, y.teachers AS nt, y.status AS ns, x.at FROM old x FULL JOIN new y ON y.o = x.o "
        "AND y.p = x.p AND y.u = x.u AND y.g = x.g AND y.s = x.s AND y.st = x.st "
        "WHERE x.status IS DISTINCT FROM y.status OR x.teachers IS DISTINCT FROM y.teachers), "
        "up AS (INSERT INTO compliance_items (organiser_id, kind, period, school_unit_code, group_id, subject_code, "
        "student_id, teachers, status) SELECT o, :kind, p, u, g, s, st, nt, ns FROM diff WHERE ns IS NOT NULL "
        f"ORDER BY {_ITEM} "
        "ON CONFLICT (organiser_id, kind, period, school_unit_code, group_id, subject_code, student_id) "
        "DO UPDATE SET teachers = EXCLUDED.teachers, status = EXCLUDED.status RETURNING 1), "
        # the gone items by their place as read (a join with the table: a scan of it, without nested loops); the
        # rows are as read: one writer per organiser (`results.tables.FACT_WRITERS_LOCK`, taken first by the batch)
        "gone AS (DELETE FROM compliance_items c WHERE c.ctid = ANY(ARRAY(SELECT at FROM diff WHERE ns IS NULL)) "
        "RETURNING 1), "
        # `rules.item_contribution`: old side −1, new +1, summed per group × subject × teachers × status first
        "side AS (SELECT o, CAST(:kind AS text) AS k, p, u, g, s, teachers, status, sum(n) AS n FROM ("
        "SELECT o, p, u, g, s, ot AS teachers, os AS status, -1 AS n FROM diff WHERE os IS NOT NULL "
        "UNION ALL SELECT o, p, u, g, s, nt, ns, 1 FROM diff WHERE ns IS NOT NULL) AS x "
        "GROUP BY o, p, u, g, s, teachers, status), "
        + CONTRIBUTIONS + ", "
        "cell AS (SELECT o, k, p, cell_kind, u, g, s, t, sum(n) AS expected, "
        "coalesce(sum(n) FILTER (WHERE status = 'on_time'), 0) AS on_time, "
        "coalesce(sum(n) FILTER (WHERE status = 'late'), 0) AS late FROM contrib GROUP BY 1, 2, 3, 4, 5, 6, 7, 8), "
        "cup AS (INSERT INTO compliance_cells (organiser_id, kind, period, cell_kind, school_unit_code, group_id, "
        "subject_code, teacher_id, expected, on_time, late) SELECT o, k, p, cell_kind, u, g, s, t, expected, on_time, "
        "late FROM cell WHERE expected <> 0 OR on_time <> 0 OR late <> 0 "
        "ORDER BY o, k, p, cell_kind, u, g, s, t "  # two writers lock cells in the same order
        "ON CONFLICT (organiser_id, kind, period, cell_kind, school_unit_code, group_id, subject_code, teacher_id) "
        "DO UPDATE SET expected = compliance_cells.expected + EXCLUDED.expected, "
        "on_time = compliance_cells.on_time + EXCLUDED.on_time, late = compliance_cells.late + EXCLUDED.late "
        "RETURNING organiser_id, period, expected = 0 AND on_time = 0 AND late = 0 AS empty), "
        "emptied AS (SELECT DISTINCT organiser_id, period FROM cup WHERE empty) "
        "SELECT (SELECT count(*) FROM diff), "
        "(SELECT coalesce(array_agg(organiser_id ORDER BY organiser_id, period), '{}') FROM emptied), "
        "(SELECT coalesce(array_agg(period ORDER BY organiser_id, period), '{}') FROM emptied)")


_SYNC = {kind: text(_sync_sql(kind)) for kind in WindowKind}
#: a cell whose items all went has no row (only windows where the statement emptied one)
_DROP_EMPTY_CELLS = text(
    "DELETE FROM compliance_cells c USING unnest(CAST(:orgs AS text[]), CAST(:periods AS text[])) AS e(o, p) "
    "WHERE c.organiser_id = e.o AND c.kind = :kind AND c.period = e.p "
    "AND c.expected = 0 AND c.on_time = 0 AND c.late = 0")


def _params(kind: WindowKind, work: Sequence[tuple[Keys, WindowKey, Window]]) -> dict[str, Any]:
    """The arrays of one kind's windows and their keys (a column each: a constant number of parameters), each key on
    each window it applies to (an organiser's students and group × subjects on every one of its windows here: a
    batch's keys × its organiser's few touched windows of the kind)."""
    params: dict[str, list[Any]] = {name: [] for name in (
        "w_orgs", "w_periods", "w_opens", "w_deadlines", "w_tzs", "w_years", "w_terms", "w_rounds",
        "p_orgs", "p_periods", "p_students", "p_subjects", "s_orgs", "s_periods", "s_students",
        "g_orgs", "g_periods", "g_units", "g_groups", "g_subjects")}
    for keys, key, window in work:
        if kind is WindowKind.assessment_round:
            school_year, round_ = parse_round_period(key.period)
            term: str | None = None
        else:
            school_year, term = key.period.split(":")
            round_ = None
        for name, value in (("w_orgs", key.organiser_id), ("w_periods", key.period), ("w_opens", window.opens),
                            ("w_deadlines", window.deadline), ("w_tzs", window.timezone), ("w_years", school_year),
                            ("w_terms", term), ("w_rounds", round_)):
            params[name].append(value)
        for student, subject in sorted(keys.pairs.get(key.period, ())):
            params["p_orgs"].append(key.organiser_id)
            params["p_periods"].append(key.period)
            params["p_students"].append(student)
            params["p_subjects"].append(subject)
        for student in sorted(keys.students):
            params["s_orgs"].append(key.organiser_id)
            params["s_periods"].append(key.period)
            params["s_students"].append(student)
        for unit, group, subject in sorted(keys.group_subjects):
            params["g_orgs"].append(key.organiser_id)
            params["g_periods"].append(key.period)
            params["g_units"].append(unit)
            params["g_groups"].append(group)
            params["g_subjects"].append(subject)
    return {**params, "kind": kind.value}


async def sync_windows(session: AsyncSession, work: Sequence[tuple[Keys, WindowKey, Window]]) -> int:
    """Bring the items each window's keys affect (`Keys`: the batch's in that window's organiser) and their cells to
    what the directory and the reports say now: one statement per window kind for all the windows (and one more
    where a cell was emptied); returns how many items changed. The windows are tracked already (not new in the
    batch: `opening` derives those whole)."""
    by_kind: dict[WindowKind, list[tuple[Keys, WindowKey, Window]]] = {}
    for keys, key, window in sorted(work, key=lambda w: (w[1].kind.value, w[1].organiser_id, w[1].period)):
        by_kind.setdefault(key.kind, []).append((keys, key, window))
    if not by_kind:
        return 0
    before = await set_planner(session)  # hash joins between the sets, custom plans (`opening.SET_PLANNER`)
    changed = 0
    for kind, windows in sorted(by_kind.items(), key=lambda kw: kw[0].value):
        n, orgs, periods = (await session.execute(_SYNC[kind], _params(kind, windows))).one()
        changed += int(n)
        if orgs:
            await session.execute(_DROP_EMPTY_CELLS, {"orgs": orgs, "periods": periods, "kind": kind.value})
    await session.execute(PLANNER_BACK, before)
    return changed

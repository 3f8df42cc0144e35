"""The rebuild's compliance items and cells statements (`rebuild.compliance`) at two sizes of the demo
municipality, without a broker or the services: its own embedded PostgreSQL, a migrated reporting database whose
directory, forecast facts, round reports and windows are filled from `styrkedja_demo.generator` as the rebuild has
them before the statements (the default calendar), then the statements under EXPLAIN (ANALYZE, BUFFERS) with the
rebuild's memory setting, each size in a transaction rolled back. Backend CPU seconds, rows, and the plans.

    .venv/bin/python bench/compliance_items.py --students 600 --students 6000 [--plans /tmp/plans.txt]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import asyncpg

from styrkedja_contracts.calendar import DEFAULT_CALENDAR, ReportingCalendar, RoundDeadline
from styrkedja_demo import generator
from styrkedja_devstack.postgres import EmbeddedPostgres
from styrkedja_devstack.services import database_url
from styrkedja_kit.migrations import upgrade
from styrkedja_reporting.compliance.handlers import window_for
from styrkedja_reporting.compliance.rules import WindowKey, WindowKind, round_period
from styrkedja_reporting.rebuild import compliance
from styrkedja_reporting.rebuild.bulk import WORK_MEM_KB

sys.path.insert(0, str(Path(__file__).resolve().parent))  # its sibling `measured`
from measured import backend_cpu  # noqa: E402

#: the demo publishes no calendar (`DEFAULT_CALENDAR`: no round has a deadline, only the forecasts' windows);
#: `--round-deadlines`: this one, with deadlines for the demo's rounds, makes the rounds' windows too
ROUND_DEADLINES = ReportingCalendar(grace_days=1, round_deadlines=(
    RoundDeadline(round=1, term="HT", iso_week=45, deadline_weekday=4),
    RoundDeadline(round=2, term="HT", iso_week=50, deadline_weekday=4),
    RoundDeadline(round=4, term="VT", iso_week=20, deadline_weekday=4)))


def _rows(students: int, calendar: ReportingCalendar) -> dict[str, list[tuple[Any, ...]]]:
    """The tables the statements read, as the demo of `students` students leaves them."""
    muni = generator.generate(students=students)
    org = muni.organiser_code
    unit_of = {u.id: u.code for u in muni.units}
    group_unit = {g.id: unit_of[g.unit_id] for g in muni.groups}
    now = datetime(2026, 1, 1, tzinfo=UTC)
    rng = random.Random(1)
    memberships = [(org, f"m-{s.id}", group_unit[s.group_id], s.group_id, s.id, None, None, now, False)
                   for s in muni.students]
    assignments = [(org, a.id, group_unit[a.group_id], a.group_id, a.teacher_id, a.subject_code, None, None, now, False)
                   for a in muni.assignments]
    forecasts = [(uuid.uuid4(), 1, False, f["organiser_id"], f["school_unit_code"], f["group_id"], f["student_id"],
                  f["gender"], f["year"], f["subject_code"], f["value"], f["school_year"], f["term"], rng.random() < .2,
                  None) for f in muni.forecasts]
    keys = {WindowKey(WindowKind.forecast, org, f"{f['school_year']}:{f['term']}") for f in muni.forecasts}
    reports = []
    for a in muni.assessments:
        if a["kind"] != "assessment":
            continue
        keys.add(WindowKey(WindowKind.assessment_round, org, round_period(a["school_year"], a["round"])))
        received = datetime.fromisoformat(a["assessed_on"]).replace(tzinfo=UTC) + timedelta(days=rng.randint(0, 40))
        # the round's state is the fact (its `received_at`, rounds33: it was compliance_round_reports' row)
        reports.append((uuid.UUID(str(a["assessment_id"])), 1, False, org, a["school_unit_code"], a["group_id"],
                        a["student_id"], a["gender"], a["year"], a["subject_code"], a["kind"], a["scale"], a["value"],
                        a["school_year"], a["term"], a["round"], datetime.fromisoformat(a["assessed_on"]).date(),
                        received))
    windows = [(k.organiser_id, k.kind.value, k.period, w.opens, w.deadline, w.timezone) for k in sorted(
        keys, key=lambda k: (k.kind.value, k.period)) if (w := window_for(k, calendar)) is not None]
    return {"directory_memberships": memberships, "directory_teaching_assignments": assignments,
            "forecast_facts": forecasts, "assessment_facts": reports, "compliance_windows": windows}


async def measure(url: str, students: int, plans: list[str], before: bool, calendar: ReportingCalendar
                  ) -> dict[str, object]:
    rows = _rows(students, calendar)
    connection = await asyncpg.connect(url)
    try:
        pid = await connection.fetchval("SELECT pg_backend_pid()")
        transaction = connection.transaction()
        await transaction.start()
        await connection.execute(f"SET LOCAL work_mem = '{WORK_MEM_KB}kB'")
        await connection.execute("SET LOCAL max_parallel_workers_per_gather = 0")
        for table, records in rows.items():
            columns = [r["attname"] for r in await connection.fetch(
                "SELECT attname FROM pg_attribute WHERE attrelid = $1::regclass AND attnum > 0 AND NOT attisdropped "
                "ORDER BY attnum", table)]
            await connection.copy_records_to_table(table, records=records, columns=columns[:len(records[0])])
        # as in the rebuild: the directory and facts analysed by their jobs' keys, the round reports and windows not
        await connection.execute("ANALYZE directory_memberships, directory_teaching_assignments, forecast_facts")
        out: dict[str, object] = {"students": students, "before": before, "round_deadlines": calendar != DEFAULT_CALENDAR, **{f"rows.{t}": len(r) for t, r in rows.items()}}
        kinds = {"forecast": WindowKind.forecast.value, "round": WindowKind.assessment_round.value}
        # before: the items' statement alone, planned as it was before (nested loops allowed)
        items = compliance.items_statements()[-1:] if before else compliance.items_statements()
        for label, statements, args in (("items", items, kinds),
                                        ("cells", [compliance._CELLS], {})):
            cpu, started = backend_cpu(pid), time.perf_counter()
            for n, sql in enumerate(statements):
                last = n == len(statements) - 1
                names = [k for k in args if f":{k}" in sql]
                positional = sql
                for i, k in enumerate(names, 1):
                    positional = positional.replace(f":{k}", f"${i}")
                if last:
                    plan = await connection.fetch(f"EXPLAIN (ANALYZE, BUFFERS) {positional}",
                                                  *(args[k] for k in names))
                    plans.extend([f"-- {students} students: {label}", *(r[0] for r in plan), ""])
                else:
                    await connection.execute(positional, *(args[k] for k in names))
            out[f"{label}.cpu_s"] = round(backend_cpu(pid) - cpu, 2)
            out[f"{label}.wall_s"] = round(time.perf_counter() - started, 2)
        out["rows.compliance_items"] = await connection.fetchval("SELECT count(*) FROM compliance_items")
        out["rows.compliance_cells"] = await connection.fetchval("SELECT count(*) FROM compliance_cells")
        for table in ("compliance_items", "compliance_cells"):  # before and after: the same rows
            out[f"digest.{table}"] = await connection.fetchval(
                f"SELECT md5(string_agg(CAST(t AS text), '|' ORDER BY CAST(t AS text))) FROM {table} t")
        await transaction.rollback()
        return out
    finally:
        await connection.close()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--students", type=int, action="append", required=True)
    parser.add_argument("--plans", type=Path, default=None)
    parser.add_argument("--before", action="store_true", help="also the statement as it was (alternated)")
    parser.add_argument("--rounds", type=int, default=1)
    parser.add_argument("--round-deadlines", action="store_true", help="a calendar with the rounds' deadlines")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="styrkedja-compliance-") as folder:
        server = EmbeddedPostgres(Path(folder) / "pg", durable=False).start()
        try:
            server.create_database("bench_compliance")
            url = f"{server.server_url()}/bench_compliance"
            upgrade("styrkedja_reporting", database_url(server.server_url(), "bench_compliance"))
            plans: list[str] = []
            calendar = ROUND_DEADLINES if args.round_deadlines else DEFAULT_CALENDAR
            for _ in range(args.rounds):
                for students in args.students:
                    for before in (True, False) if args.before else (False,):
                        print(json.dumps({**asyncio.run(measure(url, students, plans, before, calendar)),
                                          "load": round(os.getloadavg()[0], 2)}), flush=True)
            if args.plans:
                args.plans.write_text("\n".join(plans))
        finally:
            server.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())

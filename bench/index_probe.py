"""The write side of apply15's two index changes, alone (issue #16): backend CPU of one batch's
`assessment_facts` insert and one batch's `figure_students` upsert, with main's indexes and with this branch's,
alternated on one embedded PostgreSQL (the backend's own CPU from /proc, not the wall clock: the machine is shared).

- facts: (student, school year, term) [main] against (student, subject, school year, term) [0019]; one entry per
  row either way — what the wider key costs.
- figure_students: key (level, unit, organiser, subject, year, school year, period, student) plus the read index
  (organiser, level, school year, period) [main] against the key led by the read index's columns and no read index
  [0020]; both with the student index.

Rows as the deadline week writes them (`deadline_week.py`: classes of 25, a class list per subject and round), in
batches of 5,000 results (figure_students: a term and a round cell per result, all new), on tables that already hold
`--warm` batches.

    .venv/bin/python bench/index_probe.py [--batches 8] [--warm 8] [--rounds 3] [--json bench/results/x.json]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import statistics
import sys
import tempfile
import uuid
from pathlib import Path

import asyncpg

from styrkedja_devstack.postgres import EmbeddedPostgres, ensure_database

sys.path.insert(0, str(Path(__file__).resolve().parent))  # its sibling `measured`
from measured import backend_cpu  # noqa: E402

SUBJECTS = [f"GRGR{s}01" for s in ("MAT", "ENG", "SVE", "BIO", "KEM", "FYS", "HIS", "GEO", "REL", "SAM", "TEK", "IDH",
                                   "MUS", "BIL", "HKK", "SLJ")]
FACTS = ("CREATE TABLE {t} (assessment_id uuid PRIMARY KEY, revision integer NOT NULL, retracted boolean NOT NULL, "
         "organiser_id varchar(64) NOT NULL, school_unit_code varchar(64) NOT NULL, group_id varchar(64) NOT NULL, "
         "student_id varchar(64) NOT NULL, gender varchar(8) NOT NULL, year integer NOT NULL, "
         "subject_code varchar(16) NOT NULL, kind varchar(20) NOT NULL, scale varchar(16) NOT NULL, "
         "value varchar(32) NOT NULL, school_year varchar(7) NOT NULL, term varchar(2) NOT NULL, round integer NOT NULL, "
         "assessed_on date)")
FACT_INDEX = {"main": "(student_id, school_year, term)", "branch": "(student_id, subject_code, school_year, term)",
              "unit_first": "(student_id, subject_code, school_year, term)"}
STUDENTS = ("CREATE TABLE {t} (level varchar(80) NOT NULL, unit_id varchar(80) NOT NULL, organiser_id varchar(80) NOT NULL, "
            "subject_code varchar(80) NOT NULL, year integer NOT NULL, school_year varchar(80) NOT NULL, "
            "period varchar(80) NOT NULL, student_id varchar(64) NOT NULL, count integer NOT NULL, "
            "PRIMARY KEY ({key})) WITH (fillfactor = 70)")
STUDENT_KEY = {"main": "level, unit_id, organiser_id, subject_code, year, school_year, period, student_id",
               "branch": "organiser_id, level, school_year, period, unit_id, subject_code, year, student_id",
               # the aggregates' way (0018): organiser and level, then the cell's unit
               "unit_first": "organiser_id, level, unit_id, subject_code, year, school_year, period, student_id"}
COLS = ("level", "unit_id", "organiser_id", "subject_code", "year", "school_year", "period", "student_id", "count")


def results(n_batches: int, batch: int) -> list[list[tuple]]:
    """Batches of fact rows in the deadline week's order: per round, per subject, a class list (25 students)."""
    rows: list[tuple] = []
    classes = 120  # 3,000 students
    for round_ in (1, 2, 3, 4):
        for subject in SUBJECTS:
            for c in range(classes):
                code = f"2999{c // 8:04d}"
                for s in range(25):
                    rows.append((uuid.uuid4(), 1, False, "2999", code, f"{7 + c % 3}{chr(65 + c % 8)}", f"st-{c}-{s}",
                                 "female", 7 + c % 3, subject, "assessment", "AF", "C", "2026/27",
                                 "HT" if round_ < 3 else "VT", round_, None))
                if len(rows) >= batch * n_batches:
                    return [rows[i:i + batch] for i in range(0, len(rows), batch)]
    return [rows[i:i + batch] for i in range(0, len(rows), batch)]


def student_cells(facts: list[tuple]) -> list[tuple]:
    out = {}
    for f in facts:
        unit = f"{f[4]}/{f[5]}"
        for period in (f[14], f"R{f[15]}"):
            out[("group", unit, f[3], f[9], f[8], f[13], period, f[6])] = 1
    return sorted((*k, n) for k, n in out.items())


async def one(dsn: str, variant: str, batches: list[list[tuple]], warm: int) -> dict[str, float]:
    conn = await asyncpg.connect(dsn)
    try:
        pid = await conn.fetchval("SELECT pg_backend_pid()")
        for t in ("f", "s"):
            await conn.execute(f"DROP TABLE IF EXISTS probe_{t}")
        await conn.execute(FACTS.format(t="probe_f"))
        await conn.execute(f"CREATE INDEX ON probe_f {FACT_INDEX[variant]}")
        await conn.execute(STUDENTS.format(t="probe_s", key=STUDENT_KEY[variant]))
        if variant == "main":
            await conn.execute("CREATE INDEX ON probe_s (organiser_id, level, school_year, period)")
        await conn.execute("CREATE INDEX ON probe_s (student_id, subject_code, school_year, period)")
        await conn.execute("CREATE TEMP TABLE stage_f (LIKE probe_f)")
        await conn.execute("CREATE TEMP TABLE stage_s (LIKE probe_s)")
        facts_cpu: list[float] = []
        students_cpu: list[float] = []
        for n, batch in enumerate(batches):
            cells = student_cells(batch)
            async with conn.transaction():
                await conn.execute("TRUNCATE stage_f, stage_s")
                await conn.copy_records_to_table("stage_f", records=batch)
                await conn.copy_records_to_table("stage_s", records=cells, columns=COLS)
                t0 = backend_cpu(pid)
                await conn.execute("INSERT INTO probe_f SELECT * FROM stage_f")
                t1 = backend_cpu(pid)
                await conn.execute(f"INSERT INTO probe_s ({', '.join(COLS)}) SELECT {', '.join(COLS)} FROM stage_s "
                                   f"ON CONFLICT ({STUDENT_KEY[variant]}) DO UPDATE SET count = probe_s.count + "
                                   "EXCLUDED.count")
                t2 = backend_cpu(pid)
            if n >= warm:
                facts_cpu.append((t1 - t0) * 1000)
                students_cpu.append((t2 - t1) * 1000)
        per = len(batches[0])
        return {"facts_insert_backend_cpu_ms_per_batch": round(statistics.mean(facts_cpu), 1),
                "figure_students_upsert_backend_cpu_ms_per_batch": round(statistics.mean(students_cpu), 1),
                "results_per_batch": per, "student_cells_per_batch": len(student_cells(batches[-1])),
                "measured_batches": len(facts_cpu)}
    finally:
        await conn.close()


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--batches", type=int, default=8)
    parser.add_argument("--warm", type=int, default=8)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--json", type=Path, default=None)
    parser.add_argument("--variants", nargs="+", default=["main", "branch"], choices=sorted(FACT_INDEX))
    args = parser.parse_args()
    batches = results(args.batches + args.warm, 5000)[:args.batches + args.warm]
    state = Path(tempfile.mkdtemp(prefix="styrkedja-index-probe-"))
    state.chmod(0o755)
    pg = EmbeddedPostgres(state / "pgdata").start()
    runs: list[dict] = []
    try:
        ensure_database(pg.server_url(), "probe")
        dsn = pg.server_url() + "/probe"
        for r in range(args.rounds):
            for variant in (args.variants if r % 2 == 0 else args.variants[::-1]):
                load = os.getloadavg()[0]
                got = asyncio.run(one(dsn, variant, batches, args.warm))
                runs.append({"round": r + 1, "variant": variant, "load_1min": round(load, 2), **got})
                print(json.dumps(runs[-1]), flush=True)
    finally:
        pg.stop()
        shutil.rmtree(state, ignore_errors=True)
    medians = {v: {k: round(statistics.median(x[k] for x in runs if x["variant"] == v), 1)
                   for k in ("facts_insert_backend_cpu_ms_per_batch", "figure_students_upsert_backend_cpu_ms_per_batch")}
               for v in args.variants}
    print(json.dumps(medians))
    if args.json:
        args.json.write_text(json.dumps({"runs": runs, "medians": medians}, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

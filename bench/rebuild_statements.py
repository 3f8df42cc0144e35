"""The rebuild's biggest set statements one by one on a rebuilt database (rolled back), under several `work_mem`
settings alternated: the PostgreSQL backend's CPU seconds of each, and whether it wrote temp files (issue 16,
rebuild10: does the memory the rebuild gives its statements decide their cost at this size?).

    .venv/bin/python bench/rebuild_statements.py postgresql://postgres@127.0.0.1:PORT/bench_rebuild_xxxxxx \
        --work-mem-mb 256 --work-mem-mb 782 --rounds 2 --out /tmp/statements.json   # (rebuild10: in results/rebuild10.json)

The database is one `bench/rebuild_held.py` left (its tables are the live ones after the swap). Each statement runs in
a transaction of its own with the rebuild's settings (`work_mem` = `maintenance_work_mem`, no parallel workers, as
with two connections), into an unlogged copy of its table in a scratch schema, then rolled back."""

from __future__ import annotations

import asyncio
import json
import os
import sys
from pathlib import Path

from styrkedja_reporting.figures import tables as figure_tables
from styrkedja_reporting.rebuild import bulk
from styrkedja_reporting.rebuild.below_pass import below_pass_sql
from styrkedja_reporting.results.tables import ASSESSMENTS
from styrkedja_reporting.support.tables import BELOW_PASS

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "bench"))

from measured import RolledBack, rebuild_settings, statement_arguments  # noqa: E402


def _statements() -> dict[str, list[str]]:
    """name → statements (the first ones prepare, the last is measured)."""
    students = figure_tables.TABLES["students"]
    cols = ", ".join(f'"{c}"' for c in students.columns)
    order = bulk._key_order(list(students.table.primary_key.columns))
    pass_ = figure_tables.TABLES["pass"]
    pass_cols = ", ".join(f'"{c}"' for c in pass_.columns)
    dims = ", ".join(f'"{d}"' for d in ASSESSMENTS.dimensions)
    return {
        "figures.students": ["CREATE UNLOGGED TABLE t (LIKE public.figure_students)",
                             f"INSERT INTO t ({cols}) SELECT {cols} FROM ({figure_tables.REBUILT['students']}) AS r "
                             f"ORDER BY {order}"],
        "figures.pass": [f"CREATE UNLOGGED TABLE t AS SELECT {pass_cols} FROM ({figure_tables.REBUILT['pass']}) AS r"],
        "levels.assessment_aggregates": [
            f"CREATE UNLOGGED TABLE t AS SELECT {dims}, count FROM ({ASSESSMENTS.recomputed_sql()}) AS r"],
        "below_pass": ["CREATE UNLOGGED TABLE support_below_pass (LIKE public.support_below_pass)",
                       below_pass_sql(bulk._key_order(list(BELOW_PASS.table.primary_key.columns)))],
        # the rebuild's heap is in its key's order (ORDERED_FIGURES): so is the copy, read in the heap's order
        "index.ix_figure_students_student": ["CREATE UNLOGGED TABLE t AS SELECT * FROM figure_students",
                                             "CREATE INDEX ON t (student_id, subject_code, school_year, period)"],
        "index.ix_assessment_facts_student_newest": ["CREATE UNLOGGED TABLE t AS SELECT * FROM assessment_facts",
                                                     "CREATE INDEX ON t (student_id, subject_code, school_year, "
                                                     "(term = 'VT'), round, (kind = 'term_grade'), assessment_id)"],
    }


async def one(dsn: str, statements: list[str], work_mem_mb: int, hash_mem_multiplier: float = 2.0) -> dict[str, float]:
    # the statement's own table (unlogged, as the rebuild's shadow tables are not: close enough) in a scratch schema;
    # the temp files: pg_stat_database's, the whole database's (the rebuild database is this one's)
    run = RolledBack(dsn, "bench_statements", rebuild_settings(work_mem_mb, hash_mem_multiplier=str(hash_mem_multiplier)),
                     count_temp=True)
    async with run:
        await run.execute(*statements[:-1])
        out = await run.measured(statements[-1])
    return {**out, "temp_mb": run.temp_mb}


async def main() -> int:
    parser = statement_arguments(__doc__, rounds=2)
    parser.add_argument("--work-mem-mb", action="append", required=True,
                        help="MB, or MB:hash_mem_multiplier (default 2, the server's)")
    parser.add_argument("--only", default="")
    args = parser.parse_args()
    runs = []
    for round_ in range(args.rounds):
        for name, statements in _statements().items():
            if args.only and args.only not in name:
                continue
            # alternated, the order turned each round
            settings = args.work_mem_mb if round_ % 2 == 0 else list(reversed(args.work_mem_mb))
            for setting in settings:
                mb, _, multiplier = setting.partition(":")
                result = {"round": round_, "statement": name, "work_mem_mb": int(mb),
                          "hash_mem_multiplier": float(multiplier or 2),
                          **await one(args.dsn, statements, int(mb), float(multiplier or 2)),
                          "load_1min": round(os.getloadavg()[0], 1)}
                runs.append(result)
                print(json.dumps(result), flush=True)
    if args.out:
        args.out.write_text(json.dumps({"dsn_database": args.dsn.rsplit("/", 1)[1], "runs": runs}, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))

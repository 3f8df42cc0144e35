"""The rebuild's figures.pass statement (figure_pass and figure_students by one statement, as `rebuild.bulk._figure`
runs it) of several trees, alternated on one rebuilt database (issue 16, pass36): the PostgreSQL backend's CPU
seconds of each, and a digest of the rows each wrote — every variant must write the same rows.

    .venv/bin/python bench/pass36.py postgresql://postgres@127.0.0.1:PORT/bench_rebuild_xxxxxx \
        --tree main=/tmp/main/services/reporting/src:... --tree branch=services/reporting/src:... \
        --several branch --rounds 3 --out /tmp/pass36-statements.jsonl

`--tree LABEL=PYTHONPATH`: the statement is made by that tree's code in a child process (its
`figure_tables.ROLLED_UP_PASS`, `STUDENTS_OF_GS` and `bulk._key_order`), so trees of any age compare. `--several
LABEL`: one more variant of that tree with every student taken as one in several groups (`sev` holding every
organiser's student: the distinct counting's path for all, its worst case; the rows must still be the same).
`--sev-from-facts LABEL`: one more with `sev` from the facts (unfiltered: a superset, still exact) instead of `gs`.
`--column-order LABEL`: one more with figure_students filled in its key's columns' order, not one text key's
(the same order where text compares as bytes: builtin C.UTF-8, C).

Each run: a transaction with the rebuild's settings (`work_mem` = `maintenance_work_mem` 256 MB, no parallel workers,
no nested loops, as `bulk` runs figures.pass with two connections), a scratch schema holding empty copies of the two
tables, the statement measured, the rows digested (not measured), rolled back. The database is one
`bench/rebuild_held.py` left (its tables are the live ones after the swap)."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "bench"))

from measured import RolledBack, alternated, rebuild_settings, record, statement_arguments  # noqa: E402

#: printed by a child process on the tree's PYTHONPATH: the statement's parts as that tree makes them
_PARTS = """
import json
from styrkedja_reporting.figures import tables as t
from styrkedja_reporting.rebuild import bulk
students, figure = t.TABLES["students"], t.TABLES["pass"]
print(json.dumps({"ctes": t.ROLLED_UP_PASS[0], "select": t.ROLLED_UP_PASS[1], "students_of_gs": t.STUDENTS_OF_GS,
                  "order": bulk._key_order(list(students.table.primary_key.columns)),
                  "key": [c.name for c in students.table.primary_key.columns],
                  "student_cols": list(students.columns), "pass_cols": list(figure.columns)}))
"""
#: the branch's test of a student in several groups, and what takes every student as one
SEVERAL = "HAVING min(gu) <> max(gu)"
EVERY_STUDENT = "HAVING true"
SEV_FROM_GS = "sev AS MATERIALIZED (SELECT organiser_id, st FROM gs GROUP BY organiser_id, st HAVING min(gu) <> max(gu))"
SEV_FROM_FACTS = ("sev AS MATERIALIZED (SELECT organiser_id, student_id AS st FROM assessment_facts GROUP BY 1, 2 "
                  "HAVING min(school_unit_code) <> max(school_unit_code) OR min(group_id) <> max(group_id))")


def statement(pythonpath: str, column_order: bool = False) -> str:
    """The figures.pass statement of the tree on `pythonpath`, as `bulk._figure` makes it on a byte-order database
    (`column_order`: figure_students sorted by its key's columns instead)."""
    out = subprocess.run([sys.executable, "-c", _PARTS], env={**os.environ, "PYTHONPATH": pythonpath},
                         stdout=subprocess.PIPE, text=True, check=True).stdout
    parts = json.loads(out)
    student_cols = ", ".join(f'"{c}"' for c in parts["student_cols"])
    cols = ", ".join(f'"{c}"' for c in parts["pass_cols"])
    order = ", ".join(f'"{c}"' for c in parts["key"]) if column_order else parts["order"]
    fill = f"SELECT {student_cols} FROM ({parts['students_of_gs']}) AS r ORDER BY {order}"
    return (f"WITH {parts['ctes']}, rebuilt_students AS (INSERT INTO figure_students ({student_cols}) {fill}) "
            f"INSERT INTO figure_pass ({cols}) SELECT {cols} FROM ({parts['select']}) AS r")


async def one(dsn: str, sql: str, explain: bool = False) -> dict[str, object]:
    async with RolledBack(dsn, "bench_pass36", rebuild_settings(enable_nestloop="off")) as run:
        await run.execute(*(f"CREATE TABLE {table} (LIKE public.{table} INCLUDING DEFAULTS)"
                            for table in ("figure_pass", "figure_students")))
        out: dict[str, object] = await run.measured(sql, explain=explain)
        for table in ("figure_pass", "figure_students"):
            row = await run.connection.fetchrow(
                f"SELECT count(*), md5(string_agg(md5(t::text), '' ORDER BY md5(t::text))) FROM {table} t")
            out[table] = [row[0], row[1]]
        return out


async def main() -> int:
    parser = statement_arguments(__doc__, rounds=3)
    parser.add_argument("--tree", action="append", required=True, help="LABEL=PYTHONPATH")
    parser.add_argument("--several", action="append", default=[], help="a tree's LABEL: also with every student in sev")
    parser.add_argument("--sev-from-facts", action="append", default=[], help="a tree's LABEL: also with sev from facts")
    parser.add_argument("--column-order", action="append", default=[], help="a tree's LABEL: also sorted by columns")
    parser.add_argument("--explain", type=Path, help="each variant once under EXPLAIN ANALYZE, the plans here")
    args = parser.parse_args()
    variants = {}
    paths = dict(item.partition("=")[::2] for item in args.tree)
    for label, path in paths.items():
        variants[label] = statement(path)
    for label in args.column_order:
        variants[f"{label}_column_order"] = statement(paths[label], column_order=True)
    for label in args.sev_from_facts:
        if SEV_FROM_GS not in variants[label]:
            print(f"pass36: the tree {label} has no sev from gs to replace", file=sys.stderr)
            return 2
        variants[f"{label}_sev_from_facts"] = variants[label].replace(SEV_FROM_GS, SEV_FROM_FACTS)
    for label in args.several:
        if SEVERAL not in variants[label]:
            print(f"pass36: the tree {label} has no {SEVERAL!r} to widen", file=sys.stderr)
            return 2
        variants[f"{label}_every_student_several"] = variants[label].replace(SEVERAL, EVERY_STUDENT)
    names = list(variants)
    if args.explain:
        with args.explain.open("w") as out:
            for name in names:
                result = await one(args.dsn, variants[name], explain=True)
                out.write(f"== {name}: {result['cpu_s']} CPU s under EXPLAIN\n{result['plan']}\n\n")
                print(name, result["cpu_s"], flush=True)
        return 0
    digests: dict[str, object] = {}
    for round_, name in alternated(names, args.rounds):
        load = os.getloadavg()[0]
        result = {"round": round_, "variant": name, **await one(args.dsn, variants[name]),
                  "load_1min_before_after": [round(load, 1), round(os.getloadavg()[0], 1)]}
        rows = (result["figure_pass"], result["figure_students"])
        result["same_rows"] = digests.setdefault("rows", rows) == rows
        record(result, args.out)
    return 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))

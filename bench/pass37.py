"""The rebuild's figures.pass jobs in parts, as `rebuild.bulk` runs them with two connections, and the index builds
of the two tables they fill, of several trees alternated on one rebuilt database (issue 16, pass37): each step's
PostgreSQL backend CPU seconds, and a digest of the rows — every tree must write the same rows.

    .venv/bin/python bench/pass37.py postgresql://postgres@127.0.0.1:PORT/bench_rebuild_xxxxxx \\
        --tree main=/tmp/main/services/reporting/src:... --tree branch=services/reporting/src:... \\
        --parts 2 --rounds 3 --out /tmp/pass37-statements.jsonl [--explain /tmp/plans.txt]

`--tree LABEL=PYTHONPATH`: the statements are made by that tree's code in a child process (its
`bulk.pass_statement` where it has one, else as `bulk._figure` of session 36 made them), so trees of any age compare.
The organisers are cut as the rebuild cuts them (`parts.organiser_ranges` over the facts' counts).

Each run: one transaction with the rebuild's settings (`work_mem` = `maintenance_work_mem` 256 MB, no parallel workers,
no nested loops), a scratch schema holding empty copies of the two tables (logged, as the rebuild's shadow tables),
then, each measured: part 0's statement (figure_students' rows into the table), each later part's (its rows into an
unlogged table of its own), their appends in part order, figure_students' key's index, figure_pass's indexes; the rows
digested (not measured); rolled back. The database is one `bench/rebuild_held.py` left."""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import asyncpg

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "bench"))

from rebuild_statements import backend_cpu  # noqa: E402

from styrkedja_reporting.rebuild.parts import organiser_ranges  # noqa: E402

#: run by a child process on the tree's PYTHONPATH: its statements for the ranges given (argv[1], JSON), as JSON
_STATEMENTS = """
import json, sys
from styrkedja_reporting.figures import tables as t
from styrkedja_reporting.rebuild import bulk
from styrkedja_reporting.rebuild.parts import range_condition
ranges = [tuple(r) for r in json.loads(sys.argv[1])]
students, figure = t.TABLES["students"], t.TABLES["pass"]
out = []
for n, organisers in enumerate(ranges):
    into = None if n == 0 else f"figure_students_part_{n}"
    if hasattr(bulk, "pass_statement"):
        sql, params = bulk.pass_statement(organisers, students_into=into, byte_order=True)
    else:  # session 36's bulk._figure, on a byte-order database
        student_cols = ", ".join(f'"{c}"' for c in students.columns)
        cols = ", ".join(f'"{c}"' for c in figure.columns)
        order = bulk._key_order(list(students.table.primary_key.columns))
        within, params = range_condition(organisers, "f.organiser_id", "part")
        ctes, select = t.rolled_up_pass_within(within)
        sql = (f"WITH {ctes}, rebuilt_students AS (INSERT INTO {into or 'figure_students'} ({student_cols}) "
               f"SELECT {student_cols} FROM ({t.STUDENTS_OF_GS}) AS r ORDER BY {order}) "
               f"INSERT INTO figure_pass ({cols}) SELECT {cols} FROM ({select}) AS r")
    for name, value in params.items():
        sql = sql.replace(f":{name}", "'" + value.replace("'", "''") + "'")
    out.append(sql)
print(json.dumps(out))
"""


def statements(pythonpath: str, ranges: list[tuple[str | None, str | None]]) -> list[str]:
    out = subprocess.run([sys.executable, "-c", _STATEMENTS, json.dumps(ranges)],
                         env={**os.environ, "PYTHONPATH": pythonpath}, stdout=subprocess.PIPE, text=True, check=True)
    return list(json.loads(out.stdout))


async def one(dsn: str, parts: list[str], indexes: dict[str, list[str]], explain: bool = False) -> dict[str, object]:
    connection = await asyncpg.connect(dsn)
    try:
        pid = await connection.fetchval("SELECT pg_backend_pid()")
        transaction = connection.transaction()
        await transaction.start()
        for setting, value in (("work_mem", "256MB"), ("maintenance_work_mem", "256MB"),
                               ("max_parallel_workers_per_gather", "0"), ("max_parallel_maintenance_workers", "0"),
                               ("enable_nestloop", "off")):
            await connection.execute(f"SET LOCAL {setting} = '{value}'")
        await connection.execute("CREATE SCHEMA bench_pass37")
        await connection.execute("SET LOCAL search_path TO bench_pass37, public")
        for table in ("figure_pass", "figure_students"):
            await connection.execute(f"CREATE TABLE {table} (LIKE public.{table} INCLUDING DEFAULTS)")
        out: dict[str, object] = {}
        plans = []

        async def step(name: str, sql: str) -> None:
            cpu, started = backend_cpu(pid), time.perf_counter()
            if explain and name.startswith("part"):
                plans.append(f"-- {name}\n" + "\n".join(r[0] for r in await connection.fetch(
                    f"EXPLAIN (ANALYZE, BUFFERS) {sql}")))
            else:
                await connection.execute(sql)
            out[name] = {"cpu_s": round(backend_cpu(pid) - cpu, 2), "wall_s": round(time.perf_counter() - started, 2)}

        for n, sql in enumerate(parts):
            if n:
                await connection.execute(f"CREATE UNLOGGED TABLE figure_students_part_{n} (LIKE figure_students)")
            await step(f"part{n}", sql)
        for n in range(1, len(parts)):
            await step(f"append{n}", f"INSERT INTO figure_students SELECT * FROM figure_students_part_{n}")
        for table, definitions in indexes.items():
            for k, definition in enumerate(definitions):
                await step(f"index.{table}.{k}", definition)
        for table in ("figure_pass", "figure_students"):
            row = await connection.fetchrow(
                f"SELECT count(*), coalesce(sum(hashtextextended(CAST(t AS text), 0)), 0) FROM {table} t")
            out[f"rows.{table}"] = [int(row[0]), int(row[1])]
        if plans:
            out["plans"] = "\n\n".join(plans)
        await transaction.rollback()
        return out
    finally:
        await connection.close()


async def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("dsn")
    parser.add_argument("--tree", action="append", required=True, help="LABEL=PYTHONPATH")
    parser.add_argument("--parts", type=int, default=2)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--out", type=Path)
    parser.add_argument("--explain", type=Path, help="each tree once under EXPLAIN ANALYZE, the parts' plans here")
    args = parser.parse_args()
    connection = await asyncpg.connect(args.dsn)
    try:
        counts = await connection.fetch("SELECT organiser_id, count(*) FROM assessment_facts GROUP BY 1 ORDER BY 1")
        # the live tables' indexes, as the rebuild builds them (pg_get_indexdef, the table unqualified: the scratch
        # schema's copy on the search path)
        indexes: dict[str, list[str]] = {}
        for table in ("figure_students", "figure_pass"):
            rows = await connection.fetch(
                "SELECT pg_get_indexdef(indexrelid) FROM pg_index WHERE indrelid = to_regclass($1) ORDER BY indexrelid",
                f"public.{table}")
            indexes[table] = [r[0].replace(f"ON public.{table} ", f"ON {table} ").replace("INDEX ", "INDEX b_", 1)
                              for r in rows]
    finally:
        await connection.close()
    ranges = organiser_ranges([(str(o), int(n)) for o, n in counts], args.parts)
    variants = {label: statements(path, ranges) for label, path in (t.partition("=")[::2] for t in args.tree)}
    names = list(variants)
    if args.explain:
        with args.explain.open("w") as out:
            for name in names:
                result = await one(args.dsn, variants[name], indexes, explain=True)
                out.write(f"== {name}\n{json.dumps({k: v for k, v in result.items() if k != 'plans'})}\n"
                          f"{result['plans']}\n\n")
                print(name, {k: v for k, v in result.items() if k != "plans"}, flush=True)
        return 0
    digests: dict[str, object] = {}
    for round_ in range(args.rounds):
        for name in names if round_ % 2 == 0 else list(reversed(names)):  # alternated, the order turned each round
            load = os.getloadavg()[0]
            result: dict[str, object] = {"round": round_, "variant": name, **await one(args.dsn, variants[name], indexes),
                                         "load_1min_before_after": [round(load, 1), round(os.getloadavg()[0], 1)]}
            rows = (result["rows.figure_pass"], result["rows.figure_students"])
            result["same_rows"] = digests.setdefault("rows", rows) == rows
            result["total_cpu_s"] = round(sum(v["cpu_s"] for v in result.values()  # type: ignore[index]
                                              if isinstance(v, dict)), 2)
            print(json.dumps(result), flush=True)
            if args.out:
                with args.out.open("a") as out:
                    out.write(json.dumps(result) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))

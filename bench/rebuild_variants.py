"""Variants of one step of the rebuild after the read, alternated on a rebuilt database (issue 16, rebuild17): each
variant's statements in a transaction of its own with the rebuild's settings (256 MB of `work_mem` =
`maintenance_work_mem`, no parallel workers, as with two connections), into a scratch schema, then rolled back; the
PostgreSQL backend's CPU seconds over the measured statements (a table's fill and its index builds together: a fill
in key order costs a sort and saves the build's).

    .venv/bin/python bench/rebuild_variants.py postgresql://postgres@127.0.0.1:PORT/bench_rebuild_xxxxxx \
        --step levels --rounds 3 --out /tmp/variants.jsonl

The database is one `bench/rebuild_held.py` left (its tables are the live ones after the swap)."""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import time
from pathlib import Path

import asyncpg
from rebuild_statements import backend_cpu  # a sibling script: the same per-backend CPU reading

from styrkedja_reporting.rebuild import bulk
from styrkedja_reporting.results.tables import ASSESSMENTS


def _levels() -> dict[str, tuple[list[str], list[str]]]:
    """name → (setup statements, measured statements): the levels of the assessments and their key's index."""
    store = ASSESSMENTS
    dims = ", ".join(f'"{d}"' for d in store.dimensions)
    table = store.aggregates.name
    setup = [f"CREATE UNLOGGED TABLE {table} (LIKE public.{table} INCLUDING DEFAULTS)"]
    key = ", ".join(f'"{c.name}"' for c in store.aggregates.primary_key.columns)
    build = f"ALTER TABLE {table} ADD PRIMARY KEY ({key})"
    rolled = f"SELECT {dims}, count FROM ({bulk.rolled_up_levels_sql(store)}) AS r({dims}, count)"
    order = bulk._key_order(list(store.aggregates.primary_key.columns))
    return {
        # before: five scans and aggregates of the facts, into a scratch table, then copied
        "before": (setup, [f"CREATE UNLOGGED TABLE scratch AS SELECT {dims}, count FROM ({store.recomputed_sql()}) AS r",
                           f"INSERT INTO {table} ({dims}, count) SELECT {dims}, count FROM scratch", build]),
        "rolled_up": (setup, [f"INSERT INTO {table} ({dims}, count) {rolled}", build]),
        "rolled_up_key_order": (setup, [f"INSERT INTO {table} ({dims}, count) SELECT * FROM ({rolled}) AS x "
                                        f"ORDER BY {order}", build]),
    }


STEPS = {"levels": _levels}


async def one(dsn: str, setup: list[str], measured: list[str], work_mem_mb: int = 256) -> dict[str, float]:
    connection = await asyncpg.connect(dsn)
    try:
        pid = await connection.fetchval("SELECT pg_backend_pid()")
        transaction = connection.transaction()
        await transaction.start()
        for setting, value in (("work_mem", f"{work_mem_mb}MB"), ("maintenance_work_mem", f"{work_mem_mb}MB"),
                               ("max_parallel_workers_per_gather", "0"), ("max_parallel_maintenance_workers", "0")):
            await connection.execute(f"SET LOCAL {setting} = '{value}'")
        await connection.execute("CREATE SCHEMA bench_variants")
        await connection.execute("SET LOCAL search_path TO bench_variants, public")
        for statement in setup:
            await connection.execute(statement)
        cpu, started = backend_cpu(pid), time.perf_counter()
        for statement in measured:
            await connection.execute(statement)
        out = {"cpu_s": round(backend_cpu(pid) - cpu, 2), "wall_s": round(time.perf_counter() - started, 2)}
        await transaction.rollback()
        return out
    finally:
        await connection.close()


async def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("dsn")
    parser.add_argument("--step", choices=sorted(STEPS), required=True)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()
    variants = STEPS[args.step]()
    names = list(variants)
    for round_ in range(args.rounds):
        for name in names if round_ % 2 == 0 else list(reversed(names)):  # alternated, the order turned each round
            result = {"round": round_, "step": args.step, "variant": name, **await one(args.dsn, *variants[name]),
                      "load_1min": round(os.getloadavg()[0], 1)}
            print(json.dumps(result), flush=True)
            if args.out:
                with args.out.open("a") as out:
                    out.write(json.dumps(result) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))

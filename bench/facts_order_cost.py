"""What the rebuild's facts statement costs in (organiser, id) order against (id, organiser) order (issue 16, order31):
a rebuilt database's facts copied as staged rows (shuffled, one `seq` each), `bulk._facts`' INSERT … SELECT DISTINCT ON
in either order into an empty table, then the facts' key and organiser index built — one backend without parallel
workers (its CPU from /proc), each variant in a transaction rolled back, alternated.

    .venv/bin/python bench/facts_order_cost.py postgresql://postgres@127.0.0.1:PORT/bench_rebuild_xxxxxx \
        --rounds 3 --out runs.jsonl
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import time
from pathlib import Path

import asyncpg

sys.path.insert(0, str(Path(__file__).resolve().parent))  # its sibling `measured`
from measured import backend_cpu as backend_cpu_seconds  # noqa: E402

VARIANTS = {"id_first": "assessment_id, organiser_id", "organiser_first": "organiser_id, assessment_id"}


async def main(dsn: str, rounds: int, out: Path) -> None:
    c = await asyncpg.connect(dsn)
    pid = await c.fetchval("SELECT pg_backend_pid()")
    await c.execute("SET max_parallel_workers_per_gather = 0")  # one process: its CPU is the backend's
    await c.execute("CREATE TEMP TABLE staged AS SELECT f.*, row_number() OVER () AS seq "
                    "FROM (SELECT * FROM assessment_facts ORDER BY random()) f")
    cols = ", ".join(f'"{r[0]}"' for r in await c.fetch(
        "SELECT attname FROM pg_attribute WHERE attrelid = 'assessment_facts'::regclass AND attnum > 0 "
        "AND NOT attisdropped ORDER BY attnum"))
    rows = await c.fetchval("SELECT count(*) FROM staged")
    with out.open("a") as sink:
        for r in range(rounds):
            for name, key in VARIANTS.items():
                tr = c.transaction()
                await tr.start()
                await c.execute("CREATE TEMP TABLE facts (LIKE assessment_facts INCLUDING DEFAULTS)")
                c0, w0 = backend_cpu_seconds(pid), time.perf_counter()
                await c.execute(f"INSERT INTO facts ({cols}) SELECT DISTINCT ON ({key}) {cols} FROM staged "
                                f"ORDER BY {key}, revision DESC, seq")
                c1 = backend_cpu_seconds(pid)
                await c.execute("CREATE UNIQUE INDEX ON facts (assessment_id, organiser_id)")
                c2 = backend_cpu_seconds(pid)
                await c.execute("CREATE INDEX ON facts (organiser_id)")
                c3 = backend_cpu_seconds(pid)
                wall = time.perf_counter() - w0
                await tr.rollback()
                line = {"variant": name, "round": r, "insert_cpu_s": round(c1 - c0, 2), "pkey_cpu_s": round(c2 - c1, 2),
                        "organiser_index_cpu_s": round(c3 - c2, 2), "total_cpu_s": round(c3 - c0, 2),
                        "wall_s": round(wall, 2), "load_1min": round(os.getloadavg()[0], 1), "rows": rows}
                print(json.dumps(line), flush=True)
                sink.write(json.dumps(line) + "\n")
    await c.close()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("dsn")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args()
    asyncio.run(main(args.dsn, args.rounds, args.out))

"""Text compared by libc's C.UTF-8 (strcoll) against the builtin provider's C.UTF-8 (memcmp in code point order,
PostgreSQL 17+), on one embedded PostgreSQL: two databases, the same 800k rows of (organiser, student, subject,
school year) in each, an index build over the four text columns and a sort by three, alternated between the two
databases (`--rounds`, wall seconds of the statement: the server is the only work). Also the order both give to a
few Swedish and ASCII words (they must agree: the reads order as before).

    .venv/bin/python bench/collation35.py [--rows 800000] [--rounds 4] [--json bench/results/collation35.json]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import tempfile
import time
from pathlib import Path

import asyncpg

from styrkedja_devstack.postgres import EmbeddedPostgres

PROVIDERS = {"libc": "LOCALE_PROVIDER libc LOCALE 'C.UTF-8'",
             "builtin": "LOCALE_PROVIDER builtin BUILTIN_LOCALE 'C.UTF-8' LOCALE 'C.UTF-8'"}
WORDS = ["a", "B", "å", "ä", "ö", "Z", "é", "_", "-", "1", "ß", "elev-10", "elev-9"]


async def measure(pg: EmbeddedPostgres, rows: int, rounds: int) -> dict[str, object]:
    admin = await asyncpg.connect(host=pg.host, port=pg.port, user="postgres", database="postgres")
    for name, options in PROVIDERS.items():
        await admin.execute(f'CREATE DATABASE "{name}" TEMPLATE template0 ENCODING UTF8 {options}')
    await admin.close()
    conns = {}
    for name in PROVIDERS:
        conn = await asyncpg.connect(host=pg.host, port=pg.port, user="postgres", database=name)
        await conn.execute(
            "CREATE TABLE t AS SELECT '2120000' || (g % 290)::text AS org, 'elev-' || md5(g::text) AS student, "
            "'GRGRMAT01' || (g % 16)::text AS subject, '2026/27' AS school_year "
            f"FROM generate_series(1, {rows}) g")
        await conn.execute("SET maintenance_work_mem = '256MB'; SET work_mem = '256MB'")
        conns[name] = conn
    seconds: dict[str, dict[str, list[float]]] = {n: {"index_build": [], "sort": []} for n in PROVIDERS}
    for round_ in range(rounds):
        for name in (("libc", "builtin") if round_ % 2 == 0 else ("builtin", "libc")):
            conn = conns[name]
            await conn.execute("DROP INDEX IF EXISTS ix")
            start = time.perf_counter()
            await conn.execute("CREATE INDEX ix ON t (org, student, subject, school_year)")
            seconds[name]["index_build"].append(round(time.perf_counter() - start, 3))
            start = time.perf_counter()
            await conn.fetchval("SELECT count(*) FROM (SELECT student FROM t ORDER BY student, subject, org "
                                "OFFSET 0) s")
            seconds[name]["sort"].append(round(time.perf_counter() - start, 3))
    orders = {name: [r[0] for r in await conn.fetch("SELECT w FROM unnest($1::text[]) w ORDER BY w", WORDS)]
              for name, conn in conns.items()}
    for conn in conns.values():
        await conn.close()
    return {"rows": rows, "rounds": rounds, "seconds": seconds, "orders": orders,
            "orders_equal": orders["libc"] == orders["builtin"] == sorted(WORDS),
            "load_average": os.getloadavg()[0]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=800_000)
    parser.add_argument("--rounds", type=int, default=4)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    state = Path(tempfile.mkdtemp(prefix="collation35-"))
    state.chmod(0o755)  # the server runs as its own user when started as root
    pg = EmbeddedPostgres(state / "pgdata", durable=False).start()
    try:
        result = asyncio.run(measure(pg, args.rows, args.rounds))
    finally:
        pg.stop()
    print(json.dumps(result, indent=1))
    if args.json:
        args.json.write_text(json.dumps(result, indent=1) + "\n")


if __name__ == "__main__":
    main()

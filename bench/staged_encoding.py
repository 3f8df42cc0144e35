"""The encodings of a batch's staged rows compared (task apply8, results/apply8.json): rows shaped as the pass
upsert's distinct students (`figures.tables.DISTINCT_PARAMS`: seven text/integer cell columns and a count) sent to
an embedded PostgreSQL by one statement that spreads them and counts them, per encoding:

- `arrays`: a list per column, `unnest(CAST($n AS type[]), ...)` (asyncpg's binary array encoder: an ABC
  `isinstance` per element);
- `json`: one text, `json.dumps` of the rows, read by `jsonb_array_elements` (`staging.json_rows`/`rows_of_json`);
- `literal`: one text per column in PostgreSQL's array literal form (each text element quoted and escaped in
  Python), cast to `type[]` by the server.

Prints Python CPU ms (median of `--repeat`) and server CPU ms (mean: clock-tick granularity) per statement, at `--rows` rows each.

    .venv/bin/python bench/staged_encoding.py [--rows 2000 50000] [--repeat 30]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

import asyncpg
import psutil

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "bench"))

from styrkedja_devstack.postgres import EmbeddedPostgres  # noqa: E402
from styrkedja_reporting.figures.tables import _DISTINCT_COLUMNS  # noqa: E402
from styrkedja_reporting.staging import json_rows, pg_type, rows_of_json  # noqa: E402

TYPES = [pg_type(c) for c in _DISTINCT_COLUMNS]


def rows_of(n: int) -> list[tuple]:
    return [("group", f"1234{i % 97:04d}/7{'ABC'[i % 3]}", "2999", f"GRGR{'MAT' if i % 2 else 'ENG'}01", 7 + i % 3,
             "2026/27", ("HT", "VT", "R1", "R2")[i % 4], 1 - 2 * (i % 2)) for i in range(n)]


def _literal_text(value: str) -> str:
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def literal(column: tuple, kind: str) -> str:
    if kind == "integer":
        return "{" + ",".join("NULL" if v is None else str(v) for v in column) + "}"
    return "{" + ",".join("NULL" if v is None else _literal_text(v) for v in column) + "}"


STATEMENTS = {
    "arrays": "SELECT count(*) FROM unnest(" + ", ".join(f"CAST(${i} AS {t}[])" for i, t in enumerate(TYPES, 1)) + ")",
    "json": f"SELECT count(*) FROM ({rows_of_json('$1', _DISTINCT_COLUMNS)}) AS s",
    "literal": "SELECT count(*) FROM unnest(" + ", ".join(
        f"CAST(CAST(${i} AS text) AS {t}[])" for i, t in enumerate(TYPES, 1)) + ")",
}


def params(kind: str, rows: list[tuple]) -> list:
    if kind == "json":
        return [json_rows(rows)]
    columns = list(zip(*rows, strict=True))
    if kind == "arrays":
        return [list(c) for c in columns]
    return [literal(c, t) for c, t in zip(columns, TYPES, strict=True)]


async def run(dsn: str, sizes: list[int], repeat: int) -> dict:
    conn = await asyncpg.connect(dsn)
    backend = psutil.Process(conn.get_server_pid())
    out: dict = {}
    try:
        for n in sizes:
            rows = rows_of(n)
            for kind, sql in STATEMENTS.items():
                statement = await conn.prepare(sql)
                py, pg = [], []
                for _ in range(repeat):
                    cpu, server = time.process_time(), sum(backend.cpu_times()[:2])
                    assert await statement.fetchval(*params(kind, rows)) == n
                    py.append(time.process_time() - cpu)
                    pg.append(sum(backend.cpu_times()[:2]) - server)
                out[f"{kind}_{n}"] = {"python_cpu_ms": round(statistics.median(py) * 1000, 2),
                                      "postgres_cpu_ms": round(statistics.mean(pg) * 1000, 2)}
                print(kind, n, out[f"{kind}_{n}"])
    finally:
        await conn.close()
    return out


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, nargs="+", default=[2000, 50000])
    parser.add_argument("--repeat", type=int, default=30)
    args = parser.parse_args()
    state = Path(tempfile.mkdtemp(prefix="styrkedja-staged-encoding-"))
    state.chmod(0o755)
    pg = EmbeddedPostgres(state / "pgdata").start()
    try:
        print(json.dumps(asyncio.run(run(pg.server_url() + "/postgres", args.rows, args.repeat))))
    finally:
        pg.stop()
        shutil.rmtree(state, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())

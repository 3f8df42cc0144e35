"""`/v1/admin/consistency`'s statements one by one on a filled reporting database (issue 16, sql30): the whole
PostgreSQL server's CPU seconds and temp bytes of each (the measures that hold on a busy machine), its wall
seconds, and with `--explain <file>` each slow statement's plan under EXPLAIN (ANALYZE, BUFFERS) afterwards.

    .venv/bin/python bench/consistency_statements.py postgresql://postgres@127.0.0.1:PORT/bench_rebuild_xxxxxx \
        --postmaster PID --label after --out runs.jsonl [--explain plans.txt --explain-over-s 1]

The database is one `bench/rebuild_held.py` left (the rebuild's tables equal the apply's: the check answers
consistent on it). The check runs as the service runs it (`ops.queries.consistency_of` in one snapshot); each
statement's CPU is the server's (its backend and any parallel workers) between the statement's start and end."""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import time
from pathlib import Path
from typing import Any

from sqlalchemy import event, text

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "bench"))

from rebuild_held import server_cpu_seconds  # noqa: E402

from styrkedja_kit.db import Database  # noqa: E402
from styrkedja_reporting.ops.queries import consistency_of  # noqa: E402


def _url(dsn: str) -> str:
    return dsn.replace("postgresql://", "postgresql+asyncpg://", 1) if dsn.startswith("postgresql://") else dsn


def kind_of(statement: str) -> str:
    """A statement's kind: the table its comparison reads (the first of the check's tables it names)."""
    for table in ("figure_pass", "figure_students", "assessment_aggregates", "forecast_aggregates", "figure_forecasts",
                  "figure_merit", "compliance", "support_below_pass", "support", "directory", "assessment_facts"):
        if table in statement:
            return table
    return "other"


async def run(dsn: str, postmaster: int, settings: list[str]) -> tuple[list[dict[str, Any]], dict[str, Any], float, float]:
    db = Database(_url(dsn), pool_size=1)
    timed: list[dict[str, Any]] = []
    pending: dict[str, Any] = {}

    def before(conn: Any, cursor: Any, statement: str, parameters: Any, context: Any, executemany: bool) -> None:
        pending.update(statement=statement, parameters=parameters, cpu=server_cpu_seconds(postmaster),
                       wall=time.perf_counter())

    def after(conn: Any, cursor: Any, statement: str, parameters: Any, context: Any, executemany: bool) -> None:
        timed.append({"statement": statement, "parameters": parameters,
                      "cpu_s": server_cpu_seconds(postmaster) - pending["cpu"],
                      "wall_s": time.perf_counter() - pending["wall"]})

    event.listen(db.engine.sync_engine, "before_cursor_execute", before)
    event.listen(db.engine.sync_engine, "after_cursor_execute", after)
    async with db.sessions() as s:
        temp_before = int((await s.execute(text(
            "SELECT temp_bytes FROM pg_stat_database WHERE datname = current_database()"))).scalar_one())
    cpu0, wall0 = server_cpu_seconds(postmaster), time.perf_counter()
    async with db.snapshot() as session:
        for setting in settings:  # NAME=VALUE, for this transaction (a setting's effect measured on the same code)
            name, value = setting.split("=", 1)
            await session.execute(text(f"SET LOCAL {name} = '{value}'"))
        answer = (await consistency_of(session)).model_dump()
    cpu, wall = server_cpu_seconds(postmaster) - cpu0, time.perf_counter() - wall0
    event.remove(db.engine.sync_engine, "before_cursor_execute", before)
    event.remove(db.engine.sync_engine, "after_cursor_execute", after)
    await asyncio.sleep(0.6)  # the statistics are sent at a transaction's end, at most every 0.5 s
    async with db.sessions() as s:
        temp_after = int((await s.execute(text(
            "SELECT temp_bytes FROM pg_stat_database WHERE datname = current_database()"))).scalar_one())
    await db.dispose()
    answer["temp_bytes"] = temp_after - temp_before
    return timed, answer, cpu, wall


async def explain(dsn: str, statements: list[dict[str, Any]], path: Path) -> None:
    import asyncpg

    connection = await asyncpg.connect(dsn)
    try:
        with path.open("w") as out:
            for item in statements:
                out.write(f"-- {item['cpu_s']:.1f} s CPU, {item['wall_s']:.1f} s wall\n-- {item['statement'][:20000]}\n")
                async with connection.transaction(isolation="repeatable_read", readonly=True):
                    params = item["parameters"]
                    args = list(params) if isinstance(params, (list, tuple)) else []
                    rows = await connection.fetch(f"EXPLAIN (ANALYZE, BUFFERS) {item['statement']}", *args)
                out.write("\n".join(r[0] for r in rows) + "\n\n")
    finally:
        await connection.close()


def by_kind(timed: list[dict[str, Any]]) -> dict[str, dict[str, float]]:
    out: dict[str, dict[str, float]] = {}
    for t in timed:
        entry = out.setdefault(kind_of(t["statement"]), {"statements": 0, "cpu_s": 0.0, "wall_s": 0.0})
        entry["statements"] += 1
        entry["cpu_s"] = round(entry["cpu_s"] + t["cpu_s"], 2)
        entry["wall_s"] = round(entry["wall_s"] + t["wall_s"], 2)
    return dict(sorted(out.items(), key=lambda kv: -kv[1]["cpu_s"]))


async def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("dsn")
    parser.add_argument("--postmaster", type=int, required=True)
    parser.add_argument("--label", required=True)
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--explain", type=Path)
    parser.add_argument("--explain-over-s", type=float, default=1.0)
    parser.add_argument("--set", action="append", default=[], help="NAME=VALUE: SET LOCAL in the check's snapshot")
    args = parser.parse_args()
    load_before = os.getloadavg()[0]
    timed, answer, cpu, wall = await run(args.dsn, args.postmaster, args.set)
    slow = sorted(timed, key=lambda t: -t["cpu_s"])
    line = {"label": args.label, "database": args.dsn.rsplit("/", 1)[1], "consistent": answer["consistent"],
            "server_cpu_s": round(cpu, 1), "wall_s": round(wall, 1), "temp_bytes": answer["temp_bytes"],
            "load_1min_before_after": [round(load_before, 1), round(os.getloadavg()[0], 1)],
            "statements": len(timed), "settings": args.set, "by_kind": by_kind(timed),
            "slowest": [{"cpu_s": round(t["cpu_s"], 2), "wall_s": round(t["wall_s"], 2),
                         "statement": " ".join(t["statement"].split())[:160]} for t in slow[:8]],
            "answer": answer}
    with args.out.open("a") as out:
        out.write(json.dumps(line) + "\n")
    print(json.dumps({k: v for k, v in line.items() if k != "answer"}, indent=1), flush=True)
    if args.explain:
        await explain(args.dsn, [t for t in slow if t["cpu_s"] >= args.explain_over_s], args.explain)
    return 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))

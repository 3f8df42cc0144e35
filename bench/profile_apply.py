"""Profile reporting's apply path in-process (pyinstrument): the figures bench's events (an
organiser of `--students` × 16 subjects × 4 rounds, year-9 forecasts and term grades) applied in
batches of 1,000 through the handler registry (all six levels, figures, support, live alerts) into a
fresh embedded PostgreSQL. Prints events/s and writes bench/results/profile-apply-<label>.txt.

    .venv/bin/python bench/profile_apply.py [--students 300] [--label after]
"""

from __future__ import annotations

import argparse
import asyncio
import random
import shutil
import sys
import tempfile
import time
from pathlib import Path

from pyinstrument import Profiler

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "bench"))

from figures_read import load, organisation, results  # noqa: E402

from styrkedja_devstack.postgres import EmbeddedPostgres, ensure_database  # noqa: E402


def time_statements() -> dict[str, list[float]]:
    """Wall time per SQL statement (its first 110 characters), summed over the run."""
    from sqlalchemy import event
    from sqlalchemy.engine import Engine

    spent: dict[str, list[float]] = {}

    @event.listens_for(Engine, "before_cursor_execute")
    def before(conn, cursor, statement, parameters, context, executemany) -> None:  # noqa: ANN001
        conn.info.setdefault("started", []).append(time.perf_counter())

    @event.listens_for(Engine, "after_cursor_execute")
    def after(conn, cursor, statement, parameters, context, executemany) -> None:  # noqa: ANN001
        seconds = time.perf_counter() - conn.info["started"].pop()
        entry = spent.setdefault(" ".join(statement.split())[:110], [0.0, 0])
        entry[0] += seconds
        entry[1] += 1

    return spent


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--students", type=int, default=300)
    parser.add_argument("--batch", type=int, default=1000)
    parser.add_argument("--label", default="after")
    parser.add_argument("--no-alerts", action="store_true", help="as a rebuild: alerts not judged per batch")
    parser.add_argument("--sql", action="store_true", help="also sum the time per SQL statement (top 15)")
    args = parser.parse_args()
    sql_time = time_statements() if args.sql else None
    state = Path(tempfile.mkdtemp(prefix="styrkedja-profile-apply-"))
    state.chmod(0o755)
    pg = EmbeddedPostgres(state / "pgdata").start()
    try:
        ensure_database(pg.server_url(), "profile_apply")
        url = f"postgresql+asyncpg://{pg.server_url().removeprefix('postgresql://')}/profile_apply"
        directory, groups = organisation(args.students)
        events = results(random.Random(7), groups)
        profiler = Profiler(async_mode="enabled")
        with profiler:
            applied = asyncio.run(load(url, directory, events, args.batch, live_alerts=not args.no_alerts))
        print(applied)
        out = ROOT / "bench" / "results" / f"profile-apply-{args.label}.txt"
        top = ""
        if sql_time is not None:
            ranked = sorted(sql_time.items(), key=lambda kv: -kv[1][0])[:15]
            top = "".join(f"{seconds:8.2f} s {n:6d}x  {sql}\n" for sql, (seconds, n) in ranked)
            print(top)
        out.write_text(f"{applied}\n" + top + profiler.output_text(unicode=True, show_all=False))
        print(f"profile: {out}")
    finally:
        pg.stop()
        shutil.rmtree(state, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())

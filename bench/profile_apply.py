"""Profile reporting's apply path in-process (pyinstrument): the figures bench's events (an
organiser of `--students` × 16 subjects × 4 rounds, year-9 forecasts and term grades, a roster of
every student) applied in batches of `--batch` through the consumer's transaction
(`ConsumerLoop._apply`: claim the event ids, every handler of the registry — all six levels,
figures, support, compliance, live alerts — and the offsets) into a fresh embedded PostgreSQL.
The events are decoded up front: decoding is not part of applying.

Prints and writes to bench/results/profile-apply-<label>.txt: events/s, Python CPU seconds of this
process and of the PostgreSQL server (events per CPU-second of each), ms per batch (p50, mean),
statements per batch, the recomputation check (every materialised cell against the facts), the
cell tables' updates that were heap-only (HOT), and the profile. `--sql` sums the wall time per statement (top 15, and the most frequent).
`--no-profile` leaves pyinstrument out (its sampling costs the Python side ~10-20 %).

    .venv/bin/python bench/profile_apply.py [--students 300] [--batch 1000] [--label after] [--sql] [--statements]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import random
import shutil
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "bench"))

from apply import postgres_cpu_seconds, recomputation  # noqa: E402
from figures_read import TOPICS, load, organisation, results  # noqa: E402, F401

from styrkedja_devstack.postgres import EmbeddedPostgres, ensure_database  # noqa: E402
from styrkedja_kit.consumer import ConsumerLoop, Delivered  # noqa: E402
from styrkedja_kit.db import Database  # noqa: E402
from styrkedja_kit.settings import ServiceSettings  # noqa: E402

_TIMED: list[bool] = []  # non-empty while the batches are timed (statements outside are left out)


def time_statements() -> dict[str, list[float]]:
    """Wall time per SQL statement (its first 110 characters), summed over the timed batches."""
    from sqlalchemy import event
    from sqlalchemy.engine import Engine

    spent: dict[str, list[float]] = {}

    @event.listens_for(Engine, "before_cursor_execute")
    def before(conn, cursor, statement, parameters, context, executemany) -> None:  # noqa: ANN001
        conn.info.setdefault("started", []).append(time.perf_counter())

    @event.listens_for(Engine, "after_cursor_execute")
    def after(conn, cursor, statement, parameters, context, executemany) -> None:  # noqa: ANN001
        seconds = time.perf_counter() - conn.info["started"].pop()
        if not _TIMED:
            return
        entry = spent.setdefault(" ".join(statement.split())[:110], [0.0, 0])
        entry[0] += seconds
        entry[1] += 1

    return spent


async def apply_all(url: str, data_dir: Path, directory: list, events: list, batch: int,
                    live_alerts: bool, warm: int = 0, cprofile: Path | None = None,
                    by_handler: bool = False, statements_of: list | None = None) -> dict:
    """The directory (untimed), then the events batch by batch in the consumer's transaction. `warm`: the
    first so many events applied untimed first (batches of 5,000), then ANALYZE (as autovacuum would have
    by then): the timed batches meet a filled database, as a live consumer keeping up does."""
    from aiokafka import TopicPartition
    from sqlalchemy import event
    from sqlalchemy.engine import Engine

    from styrkedja_reporting.main import handler_registry
    from styrkedja_reporting.persistence import metadata

    db = Database(url)
    async with db.engine.begin() as conn:
        await conn.run_sync(metadata.create_all)
    registry = handler_registry(live_alerts=live_alerts)
    handler_cpu: dict[str, list[float]] = {}
    if by_handler:
        per_handler(registry, handler_cpu)
    loop = ConsumerLoop(ServiceSettings(database_url=url, kafka_bootstrap_servers="127.0.0.1:9",
                                        client_id="profile-apply"),
                        db, group_id=f"profile-{uuid.uuid4().hex[:6]}", topics=sorted(set(TOPICS.values())),
                        handler=registry, applied_table=metadata.tables["consumer_applied_events"],
                        offsets_table=metadata.tables["consumer_offsets"], handles=registry.handles)

    def delivered(items: list, start: int) -> list[Delivered]:
        return [Delivered(e, TOPICS[e.type.split(".")[2]], 0, start + n) for n, e in enumerate(items)]

    for start in range(0, len(directory), 1000):
        await loop._apply(delivered(directory[start:start + 1000], 10_000_000 + start), {})
    for start in range(0, warm, 5000):
        await loop._apply(delivered(events[start:min(start + 5000, warm)], 20_000_000 + start), {})
    if warm:
        # committed: in a transaction rolled back, its statistics went with it (apply34, apply37) and the timed
        # batches were planned from autovacuum's, whenever it ran
        async with db.engine.begin() as conn:
            await conn.exec_driver_sql("ANALYZE")
        events = events[warm:]
    statements = [0]

    def count(*_: object) -> None:
        statements[0] += 1

    # the round trips SQLAlchemy does not see: asyncpg's own (a COPY, a staged table's creation/emptying)
    import asyncpg

    raw = [0]
    patched = {}
    # (fetchrow: the pool's pre-ping's empty query at a checkout)
    for name in ("execute", "fetch", "fetchrow", "copy_records_to_table"):
        original = getattr(asyncpg.Connection, name)
        patched[name] = original

        async def counted(self, *a, __original=original, **kw):  # noqa: ANN001, ANN002, ANN003, ANN202
            raw[0] += 1
            return await __original(self, *a, **kw)

        setattr(asyncpg.Connection, name, counted)
    per_batch: list[tuple[float, int, int]] = []
    # time in the cyclic garbage collector (its collections land on whatever allocates when they fall due:
    # a profile charges them to that function)
    import gc

    gc_time = [0.0, 0.0, 0]  # seconds, started at, collections of the oldest generation

    def gc_timed(phase: str, info: dict) -> None:
        if phase == "start":
            gc_time[1] = time.process_time()
        else:
            gc_time[0] += time.process_time() - gc_time[1]
            gc_time[2] += info.get("generation") == 2

    gc.callbacks.append(gc_timed)
    event.listen(Engine, "before_cursor_execute", count)
    _TIMED.append(True)
    written_before = await rows_written(db)  # the pool's backends end first: their statistics are flushed
    if statements_of is not None:
        await reset_statement_stats(url)
    pg_cpu, cpu = postgres_cpu_seconds(data_dir), time.process_time()
    started = time.perf_counter()
    profile = None
    if cprofile is not None:  # own CPU per function over the timed batches only
        import cProfile

        profile = cProfile.Profile()
        profile.enable()
    # as the loop's run applies them: on one connection kept from batch to batch, where the kit has that
    holding = getattr(loop, "holding_connection", None)
    try:
        async with holding() if holding is not None else contextlib.nullcontext():
            for start in range(0, len(events), batch):
                chunk = delivered(events[start:start + batch], start)
                offsets = {TopicPartition(t, 0): chunk[-1].offset + 1 for t in {i.topic for i in chunk}}
                at, statements[0], raw[0] = time.perf_counter(), 0, 0
                await loop._apply(chunk, offsets)
                per_batch.append(((time.perf_counter() - at) * 1000, statements[0], raw[0]))
    finally:
        if profile is not None and cprofile is not None:
            profile.disable()
            profile.dump_stats(cprofile)
        _TIMED.clear()
        gc.callbacks.remove(gc_timed)
        for name, original in patched.items():
            setattr(asyncpg.Connection, name, original)
        event.remove(Engine, "before_cursor_execute", count)
    seconds = time.perf_counter() - started
    cpu = time.process_time() - cpu
    pg_cpu = postgres_cpu_seconds(data_dir) - pg_cpu
    ms = [m for m, _, _ in per_batch]
    out = {"events": len(events), "batch": batch, "batches": len(per_batch), "seconds": round(seconds, 2),
           "events_per_s": round(len(events) / seconds),
           "cpu_seconds_python": round(cpu, 2), "cpu_seconds_postgres": round(pg_cpu, 2),
           "events_per_python_cpu_second": round(len(events) / cpu),
           "events_per_postgres_cpu_second": round(len(events) / pg_cpu) if pg_cpu > 0 else None,
           "python_cpu_ms_per_batch": round(cpu * 1000 / len(per_batch), 1),
           "postgres_cpu_ms_per_batch": round(pg_cpu * 1000 / len(per_batch), 1),
           "ms_per_batch_p50": round(statistics.median(ms), 1), "ms_per_batch_mean": round(statistics.mean(ms), 1),
           "statements_per_batch_mean": round(sum(n for _, n, _ in per_batch) / len(per_batch), 1),
           "statements_per_batch_max": max(n for _, n, _ in per_batch),
           # statements + asyncpg's own calls (COPY, staged tables): every round trip to the server
           "round_trips_per_batch_mean": round(sum(n + r for _, n, r in per_batch) / len(per_batch), 1),
           # of the Python CPU: the cyclic garbage collector's (its oldest generation's collections walk every object)
           "gc_cpu_ms_per_batch": round(gc_time[0] * 1000 / len(per_batch), 1), "gc_full_collections": gc_time[2]}
    if by_handler:  # per handler: ms per batch of this process's CPU, the backend's CPU, statements
        out["by_handler"] = {name: {"python_cpu_ms_per_batch": round(py * 1000 / len(per_batch), 1),
                                    "postgres_cpu_ms_per_batch": round(pg * 1000 / len(per_batch), 1),
                                    "statements_per_batch": round(n / len(per_batch), 1)}
                             for name, (py, pg, n) in handler_cpu.items()}
    if statements_of is not None:  # before rows_written: its own statements are not the batches'
        statements_of.extend(await statement_stats(url, len(per_batch)))
    written = await rows_written(db)
    out["rows_per_event"] = rows_per_event(written_before, written, len(events))
    out["recomputation_mismatches"] = await recomputation(db, "styrkedja_reporting")
    await db.dispose()  # the pool's backends end: their statistics are flushed
    out["heap_only_updates"] = await heap_only_updates(url)
    return out


async def reset_statement_stats(url: str) -> None:
    """pg_stat_statements from zero (the timed batches' statements only)."""
    import asyncpg

    conn = await asyncpg.connect(url.replace("postgresql+asyncpg://", "postgresql://"))
    try:
        await conn.execute("SELECT pg_stat_statements_reset()")
    finally:
        await conn.close()


async def statement_stats(url: str, batches: int, top: int = 25) -> list[dict]:
    """Per statement over the timed batches (pg_stat_statements, nested ones too): the backend's execution and
    planning ms per batch, calls, rows, shared buffers touched and WAL written per batch, biggest first."""
    import asyncpg

    conn = await asyncpg.connect(url.replace("postgresql+asyncpg://", "postgresql://"))
    try:
        rows = await conn.fetch(
            "SELECT query, calls, total_exec_time, total_plan_time, rows, shared_blks_hit + shared_blks_read AS blks, "
            "shared_blks_dirtied, wal_records, wal_fpi, wal_bytes, toplevel FROM pg_stat_statements "
            "WHERE query NOT LIKE '%pg_stat_statements%' ORDER BY total_exec_time + total_plan_time DESC LIMIT $1", top)
    finally:
        await conn.close()
    return [{"exec_ms_per_batch": round(r["total_exec_time"] / batches, 2),
             "plan_ms_per_batch": round(r["total_plan_time"] / batches, 2),
             "calls_per_batch": round(r["calls"] / batches, 2), "rows_per_batch": round(r["rows"] / batches, 1),
             "buffers_per_batch": round(r["blks"] / batches), "dirtied_per_batch": round(r["shared_blks_dirtied"] / batches),
             "wal_records_per_batch": round(r["wal_records"] / batches),
             "wal_kb_per_batch": round(int(r["wal_bytes"]) / batches / 1024, 1), "toplevel": r["toplevel"],
             "query": " ".join(r["query"].split())[:400]} for r in rows]


def load_statement_stats(pg: EmbeddedPostgres, server_url: str) -> None:
    """pg_stat_statements in this throw-away server: preloaded (a restart), tracking nested statements and
    planning, the extension created in the bench's database."""
    import asyncpg

    async def alter(dsn: str, statements: list[str]) -> None:
        conn = await asyncpg.connect(dsn)
        try:
            for statement in statements:
                await conn.execute(statement)
        finally:
            await conn.close()

    asyncio.run(alter(server_url + "/postgres", [
        "ALTER SYSTEM SET shared_preload_libraries = 'pg_stat_statements'",
        "ALTER SYSTEM SET pg_stat_statements.track = 'all'",
        "ALTER SYSTEM SET pg_stat_statements.track_planning = on"]))
    pg.stop()
    pg.start()
    asyncio.run(alter(server_url + "/profile_apply", ["CREATE EXTENSION IF NOT EXISTS pg_stat_statements"]))


async def rows_written(db: Database) -> dict[str, int]:
    """Rows written so far per table (inserted + updated + deleted, pg_stat_user_tables; a temporary table under
    `pg_temp`): the pool's backends end first, so that their statistics are flushed."""
    from sqlalchemy import text

    await db.engine.dispose()
    await asyncio.sleep(1.1)  # the closed backends' exit
    async with db.engine.connect() as conn:
        rows = (await conn.execute(text(
            "SELECT CASE WHEN schemaname LIKE 'pg_temp%' THEN 'pg_temp' ELSE relname END, "
            "sum(n_tup_ins + n_tup_upd + n_tup_del) FROM pg_stat_user_tables GROUP BY 1"))).all()
    await db.engine.dispose()
    return {name: int(n) for name, n in rows}


def rows_per_event(before: dict[str, int], after: dict[str, int], events: int) -> dict[str, float]:
    """Per table, rows written (inserted, updated or deleted) per event over the timed batches, biggest first, and
    `total` (the staging tables' rows, `pg_temp`, apart: in the total too)."""
    per = {name: (n - before.get(name, 0)) / events for name, n in after.items() if n != before.get(name, 0)}
    out = {name: round(v, 3) for name, v in sorted(per.items(), key=lambda kv: -kv[1])}
    out["total"] = round(sum(per.values()), 3)
    out["total_without_staging"] = round(sum(v for name, v in per.items() if name != "pg_temp"), 3)
    return out


def per_handler(registry: object, spent: dict[str, list[float]]) -> None:
    """Wrap each handler of the registry (and its freshness note): while the batches are timed, sum per handler
    this process's CPU, the session's backend's CPU (psutil, by its pid: no round trip) and its statements."""
    import psutil
    from sqlalchemy import event
    from sqlalchemy.engine import Engine

    from styrkedja_reporting import registry as registry_module

    current: list[str] = []

    def count(*_: object) -> None:
        if _TIMED and current:
            spent[current[-1]][2] += 1

    event.listen(Engine, "before_cursor_execute", count)
    backends: dict[int, psutil.Process] = {}

    def wrap(name: str, handler):  # noqa: ANN001, ANN202
        async def timed(session, batch):  # noqa: ANN001, ANN202
            if not _TIMED:
                return await handler(session, batch)
            raw = (await (await session.connection()).get_raw_connection()).driver_connection
            pid = raw.get_server_pid()
            backend = backends.get(pid) or backends.setdefault(pid, psutil.Process(pid))
            entry = spent.setdefault(name, [0.0, 0.0, 0])
            current.append(name)
            pg, cpu = sum(backend.cpu_times()[:2]), time.process_time()
            try:
                return await handler(session, batch)
            finally:
                entry[0] += time.process_time() - cpu
                entry[1] += sum(backend.cpu_times()[:2]) - pg
                current.pop()
        return timed

    handlers = registry._handlers  # type: ignore[attr-defined]
    for n, (types, handler) in enumerate(handlers):
        module = handler.__module__.removeprefix("styrkedja_reporting.")
        handlers[n] = (types, wrap(f"{module}.{getattr(handler, '__name__', 'handler')}", handler))
    registry_module._note_freshness = wrap("registry._note_freshness", registry_module._note_freshness)


#: the tables of cells every batch adds to (their updates in place are heap-only when their pages have room)
CELL_TABLES = ("assessment_aggregates", "forecast_aggregates", "figure_pass", "figure_students",
               "figure_forecasts", "figure_merit")


async def heap_only_updates(url: str) -> dict[str, dict[str, int]]:
    """Per cell table: rows updated, and how many of those updates were heap-only (HOT: no new index entries)."""
    from sqlalchemy import text

    await asyncio.sleep(1)  # the closed backends' exit (their statistics flushed)
    db = Database(url)
    try:
        async with db.engine.connect() as conn:
            rows = (await conn.execute(text(
                "SELECT relname, n_tup_upd, n_tup_hot_upd FROM pg_stat_user_tables WHERE relname = ANY(:names)"),
                {"names": list(CELL_TABLES)})).all()
    finally:
        await db.dispose()
    return {name: {"updated": int(upd), "heap_only": int(hot)} for name, upd, hot in sorted(rows)}


async def auto_explain(dsn: str, ms: int) -> None:
    """Every later session of the database logs the plan (with ANALYZE) of statements slower than `ms`."""
    import asyncpg

    conn = await asyncpg.connect(dsn)
    try:
        for setting, value in (("session_preload_libraries", "auto_explain"),
                               ("auto_explain.log_min_duration", f"{ms}ms"), ("auto_explain.log_analyze", "on"),
                               ("auto_explain.log_buffers", "on"), ("auto_explain.log_nested_statements", "on")):
            await conn.execute(f"ALTER DATABASE profile_apply SET {setting} = '{value}'")
    finally:
        await conn.close()


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--students", type=int, default=300)
    parser.add_argument("--batch", type=int, default=1000)
    parser.add_argument("--label", default="after")
    parser.add_argument("--warm", type=int, default=0, metavar="N",
                        help="apply the first N events untimed first, then ANALYZE (a filled database)")
    parser.add_argument("--cprofile", type=Path, default=None, metavar="FILE",
                        help="cProfile the timed batches only into FILE (pstats)")
    parser.add_argument("--data", choices=("figures-bench", "deadline-week"), default="figures-bench",
                        help="figures-bench: figures_read's organiser and results, one student's year after another "
                             "(at 600 students every group holds one student); deadline-week: the same kinds of "
                             "results in classes of 25, sent class list by class list, round by round "
                             "(bench/deadline_week.py, a realistic variant)")
    parser.add_argument("--shuffle", action="store_true",
                        help="the events in random order (batches touch many students, as the live load's)")
    parser.add_argument("--no-alerts", action="store_true", help="as a rebuild: alerts not judged per batch")
    parser.add_argument("--sql", action="store_true", help="also sum the time per SQL statement (top 15)")
    parser.add_argument("--by-handler", action="store_true",
                        help="Python and PostgreSQL CPU and statements per batch of each registered handler")
    parser.add_argument("--no-profile", action="store_true", help="no pyinstrument (CPU figures without its cost)")
    parser.add_argument("--json", type=Path, default=None, help="also write the figures as JSON here")
    parser.add_argument("--explain-ms", type=int, default=0, metavar="MS",
                        help="auto_explain (ANALYZE) every statement slower than MS into profile-apply-<label>-plans.txt")
    parser.add_argument("--statements", action="store_true",
                        help="pg_stat_statements over the timed batches: the backend's ms, buffers and WAL per "
                             "batch of each statement (top 25; in the JSON as `statements`)")
    args = parser.parse_args()
    sql_time = time_statements() if args.sql else None
    state = Path(tempfile.mkdtemp(prefix="styrkedja-profile-apply-"))
    state.chmod(0o755)
    pg = EmbeddedPostgres(state / "pgdata").start()
    try:
        ensure_database(pg.server_url(), "profile_apply")
        url = f"postgresql+asyncpg://{pg.server_url().removeprefix('postgresql://')}/profile_apply"
        if args.explain_ms:
            asyncio.run(auto_explain(pg.server_url() + "/profile_apply", args.explain_ms))
        if args.statements:
            load_statement_stats(pg, pg.server_url())
        if args.data == "deadline-week":
            from deadline_week import deadline_organisation, deadline_results

            directory, groups = deadline_organisation(args.students)
            events = deadline_results(random.Random(7), groups)
        else:
            directory, groups = organisation(args.students)
            events = results(random.Random(7), groups)
        if args.shuffle:
            random.Random(11).shuffle(events)
        profiler = None
        if not args.no_profile:
            from pyinstrument import Profiler

            profiler = Profiler(async_mode="enabled")
        stats: list | None = [] if args.statements else None
        with profiler if profiler is not None else contextlib.nullcontext():
            applied = asyncio.run(apply_all(url, state / "pgdata", directory, events, args.batch,
                                            live_alerts=not args.no_alerts, warm=args.warm,
                                            cprofile=args.cprofile, by_handler=args.by_handler,
                                            statements_of=stats))
        if stats:
            applied["statements"] = stats
        print(json.dumps(applied))
        top = ""
        if sql_time is not None:
            ranked = sorted(sql_time.items(), key=lambda kv: -kv[1][0])[:15]
            top = "".join(f"{seconds:8.2f} s {n:6d}x  {sql}\n" for sql, (seconds, n) in ranked)
            top += "\nthe most frequent statements:\n" + "".join(
                f"{seconds:8.2f} s {n:6d}x  {sql}\n" for sql, (seconds, n) in
                sorted(sql_time.items(), key=lambda kv: -kv[1][1])[:25])
            print(top)
        if args.json is not None:
            args.json.write_text(json.dumps(applied, indent=2) + "\n")
        if args.explain_ms:
            plans = ROOT / "bench" / "results" / f"profile-apply-{args.label}-plans.txt"
            plans.write_text(pg.log_file.read_text(errors="replace"))
            print(f"plans: {plans}")
        if profiler is not None:
            out = ROOT / "bench" / "results" / f"profile-apply-{args.label}.txt"
            out.write_text(f"{json.dumps(applied)}\n" + top
                           + profiler.output_text(unicode=True, show_all=False))
            print(f"profile: {out}")
        return 0 if not any(applied["recomputation_mismatches"].values()) else 1
    finally:
        pg.stop()
        shutil.rmtree(state, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())

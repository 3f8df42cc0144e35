"""Is the bulk write (and the relay) slower on a fresh database than on one already written to? (write22)

`make bench`'s figures of 2026-12-04 05:18 (`latest.json`, the first run of a freshly booted machine) were ~2x
below the sparse run of the same `make bench` (12,727 against 23,845 items/s; relay 34,400 against 80,792 rows/s).
This runs the write stage of `speed.py` (the assessment service as a process, relay off, 4 clients, batches of 1,000,
the term shape) `--rounds` times on **one** PostgreSQL and database, each round new students, the relay draining
each round's outbox after it: round 1 is a fresh database (empty tables, no statistics, no autovacuum yet), the
later rounds the same database grown. `--pairs` fresh servers one after the other, so fresh and grown alternate
in time on the shared machine. Per round: items/s, rows/s and every side's CPU per item (service, PostgreSQL,
clients; relay, PostgreSQL, broker), and what PostgreSQL did meanwhile (WAL bytes and full-page images,
checkpoints, autovacuum/autoanalyze runs, buffers written by backends) from its statistics views.

    python bench/write22.py [--items 64000] [--rounds 2] [--pairs 2] [--out bench/results/write22.json]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import subprocess
import sys
import tempfile
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import asyncpg

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))
sys.path.insert(0, str(ROOT / "bench"))

from deadline_week import RESULTS_PER_STUDENT, TermData  # noqa: E402
from ingest import start_services  # noqa: E402
from speed import bulk_write, postmaster_pid, relay_drain, run_workers, tree_cpu_seconds, tree_sched_seconds  # noqa: E402

from styrkedja_devstack.stack import Infrastructure  # noqa: E402
from support import Mittkoping, Tokens  # noqa: E402

STATS_SQL = {
    "wal": "SELECT wal_records, wal_fpi, wal_bytes::bigint FROM pg_stat_wal",
    "checkpoints": "SELECT num_timed + num_requested FROM pg_stat_checkpointer",
    "tables": "SELECT coalesce(sum(autovacuum_count), 0)::int, coalesce(sum(autoanalyze_count), 0)::int, "
              "coalesce(sum(n_live_tup), 0)::bigint FROM pg_stat_all_tables",
    "io": "SELECT coalesce(sum(writes), 0)::bigint, coalesce(sum(extends), 0)::bigint, "
          "coalesce(sum(fsyncs), 0)::bigint FROM pg_stat_io WHERE backend_type = 'client backend'",
}


async def pg_stats(url: str) -> dict[str, Any]:
    """PostgreSQL's cumulative counters (server-wide, or the database's tables)."""
    conn = await asyncpg.connect(url.replace("postgresql+asyncpg", "postgresql"))
    try:
        await conn.execute("SELECT pg_stat_clear_snapshot()")
        out: dict[str, Any] = {}
        for name, sql in STATS_SQL.items():
            try:
                out[name] = list(await conn.fetchrow(sql))
            except asyncpg.PostgresError as exc:  # a column another major version names otherwise
                out[name] = str(exc)
        return out
    finally:
        await conn.close()


async def read_plan(url: str) -> dict[str, Any]:
    """The relay's first read (`OutboxRelay._read_sql`, 5,000 rows) as PostgreSQL plans it now, on a plain
    connection (not the relay's): its nodes and milliseconds, and whether the outbox has statistics yet."""
    conn = await asyncpg.connect(url.replace("postgresql+asyncpg", "postgresql"))
    try:
        plan = await conn.fetchval("EXPLAIN (ANALYZE, FORMAT JSON) SELECT id, topic, key, payload FROM outbox "
                                   "WHERE published_at IS NULL ORDER BY id LIMIT 5000")
        plan = json.loads(plan)[0]
        nodes, node = [], plan["Plan"]
        while node is not None:
            nodes.append(node["Node Type"] + (f" ({node['Sort Method']})" if "Sort Method" in node else ""))
            node = (node.get("Plans") or [None])[0]
        analyzed = await conn.fetchval("SELECT coalesce(analyze_count + autoanalyze_count, 0) FROM "
                                       "pg_stat_user_tables WHERE relname = 'outbox'")
        return {"nodes": nodes, "ms": round(plan["Execution Time"], 1), "outbox_analyzed": analyzed}
    finally:
        await conn.close()


def delta(before: dict[str, Any], after: dict[str, Any]) -> dict[str, Any]:
    return {k: [b - a for a, b in zip(before[k], after[k], strict=True)] if isinstance(after[k], list) else after[k]
            for k in after}


def one_server(args: argparse.Namespace, pair: int) -> list[dict[str, Any]]:
    state = Path(tempfile.mkdtemp(prefix="styrkedja-write22-"))
    state.chmod(0o755)
    infra = Infrastructure.start(state, broker_kind="embedded")
    tokens = Tokens.start(state)
    rounds: list[dict[str, Any]] = []
    processes: dict = {}
    try:
        workers = {"assessment": run_workers("assessment")}
        processes.update(start_services(infra, ("assessment",), state / "logs",
                                        {"STYRKEDJA_OUTBOX_ENABLED": "false", **dict(s.split("=", 1) for s in args.env)},
                                        tokens=tokens, workers=workers))
        service = processes["assessment"]
        url = service.env["STYRKEDJA_DATABASE_URL"]
        bulk_write(service.url, Mittkoping(seed=1), 2000, 2, tokens)  # speed.py's warm-up, not counted
        asyncio.run(relay_drain(url, infra.kafka_bootstrap_servers, infra.service_env))  # ... and its rows gone
        pg = postmaster_pid(infra.postgres.data_dir)
        for n in range(args.rounds):
            data = TermData(seed=16 + n, students=args.items // RESULTS_PER_STUDENT, organiser_count=args.organisers)
            stats = asyncio.run(pg_stats(url))
            sides = {"service": service.process.pid, "postgres": pg}
            cpu0 = {s: tree_cpu_seconds(p) for s, p in sides.items()}
            wait0 = {s: tree_sched_seconds(p)[1] for s, p in sides.items()}
            load0 = os.getloadavg()[0]
            clients: dict[str, float] = {}
            rate = bulk_write(service.url, data, args.items, 4, tokens, cpu=clients)
            row: dict[str, Any] = {
                "pair": pair, "round": n + 1, "database": "fresh" if n == 0 else "grown",
                "items_per_s": round(rate, 1),
                **{f"{s}_cpu_us_per_item": round((tree_cpu_seconds(p) - cpu0[s]) * 1e6 / args.items, 1)
                   for s, p in sides.items()},
                "clients_cpu_us_per_item": round(clients["clients"] * 1e6 / args.items, 1),
                **{f"{s}_wait_us_per_item": round((tree_sched_seconds(p)[1] - wait0[s]) * 1e6 / args.items, 1)
                   for s, p in sides.items()},
                "load": round((load0 + os.getloadavg()[0]) / 2, 2)}
            stats_written = asyncio.run(pg_stats(url))
            row["read_plan_before_relay"] = asyncio.run(read_plan(url))
            row["pg_during_write"] = delta(stats, stats_written)
            relay_cpu: dict[str, float] = {}
            relay_sides = {"postgres": pg, "broker": infra.broker.process.pid}
            rows_per_s, total = asyncio.run(relay_drain(url, infra.kafka_bootstrap_servers, infra.service_env,
                                                        relay_sides, relay_cpu))
            row |= {"relay_rows_per_s": round(rows_per_s, 1), "relay_rows": total,
                    **{f"relay_{s}_cpu_ms_per_1000_rows": round(v, 2) for s, v in relay_cpu.items()},
                    "pg_during_relay": delta(stats_written, asyncio.run(pg_stats(url)))}
            print(json.dumps(row), flush=True)
            rounds.append(row)
    finally:
        for process in processes.values():
            process.stop()
        infra.stop()
        shutil.rmtree(state, ignore_errors=True)
    return rounds


def tree_path(tree: Path) -> str:
    """PYTHONPATH that puts `tree`'s packages and services first (as /work/wt/env.sh does for a checkout)."""
    return os.pathsep.join(str(d) for d in sorted([*tree.glob("packages/*/src"), *tree.glob("services/*/src")]))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--items", type=int, default=64_000)
    parser.add_argument("--rounds", type=int, default=2, help="write + relay rounds on one database")
    parser.add_argument("--pairs", type=int, default=2, help="fresh servers, one after the other")
    parser.add_argument("--organisers", type=int, default=12)
    parser.add_argument("--env", action="append", default=[], metavar="K=V", help="more service environment")
    parser.add_argument("--before-tree", type=Path, default=None,
                        help="an export of older code (git archive REF | tar -x -C DIR): each pair runs a fresh server "
                             "with it and one with this tree, each in a process of its own, the order alternated")
    parser.add_argument("--single", action="store_true", help=argparse.SUPPRESS)  # one server, rows as JSON lines
    parser.add_argument("--label", default="")
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args()
    if args.single:
        one_server(args, 1)
        return 0
    if args.before_tree is None:
        runs = [row for pair in range(args.pairs) for row in one_server(args, pair + 1)]
    else:
        runs = []
        trees = {"before": args.before_tree.resolve(), "after": ROOT}
        for pair in range(args.pairs):
            for code in (("before", "after") if pair % 2 == 0 else ("after", "before")):
                command = [sys.executable, __file__, "--single", "--items", str(args.items), "--rounds",
                           str(args.rounds), "--organisers", str(args.organisers),
                           *[f"--env={e}" for e in args.env]]
                done = subprocess.run(command, env={**os.environ, "PYTHONPATH": tree_path(trees[code])},
                                      stdout=subprocess.PIPE, text=True, check=True)
                for line in done.stdout.splitlines():
                    if line.startswith("{"):
                        row = json.loads(line) | {"pair": pair + 1, "code": code}
                        print(json.dumps(row), flush=True)
                        runs.append(row)
    if args.out is not None:
        old = json.loads(args.out.read_text()) if args.out.exists() else {}
        old.setdefault("runs", []).append({"label": args.label, "date": datetime.now(UTC).isoformat(timespec="seconds"),
                                           "command": " ".join(sys.argv), "rounds": runs})
        args.out.write_text(json.dumps(old, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())

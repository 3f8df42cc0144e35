"""What a table's heap order costs and saves in the rebuild's index builds (issue 16, rebuild11), on a database
`bench/rebuild_held.py` left: each table copied (shuffled: the rebuild's statements yield rows in hash or log
order) into an unlogged table in the order tried (one byte-order key, as the rebuild's `bulk._key_order`), then each
of its indexes built; the PostgreSQL backend's CPU seconds of the ordered copy ("load") and of each build. With
`--wal`, a logged INSERT against an unlogged one made logged after (`ALTER TABLE … SET LOGGED`): CPU and WAL bytes.
Everything in rolled-back transactions with the rebuild's settings (256 MB, no parallel workers).

    .venv/bin/python bench/rebuild_heap_order.py postgresql://postgres@127.0.0.1:PORT/bench_rebuild_xxxxxx [--wal]

The tables' keys and indexes are read from reporting's metadata (this tree's schema), not spelled here: rebuild11's
list named `compliance_round_reports`, which migration 0037 dropped (rounds33: its one own column, the run's first
time, is the facts' `received_at` now), and figure_students' read indexes, which apply15 and apply22 folded into its
key. A table this script measures that the database does not hold is refused by name before anything runs.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
from pathlib import Path

import asyncpg

from styrkedja_reporting.persistence import metadata  # every capability's tables (as the migrations see them)

SETTINGS = ("SET LOCAL maintenance_work_mem = '256MB'", "SET LOCAL work_mem = '256MB'",
            "SET LOCAL max_parallel_maintenance_workers = 0", "SET LOCAL max_parallel_workers_per_gather = 0")
INTEGERS = frozenset({"year", "round"})

#: the tables whose heap order is tried: the two largest the rebuild writes after the read with more than their key
#: to build (rebuild11 also tried compliance_round_reports, dropped by migration 0037)
HEAP_TABLES = ("figure_students", "support_below_pass")
#: the tables written logged against unlogged then made logged (`--wal`)
WAL_TABLES = ("figure_students", "assessment_facts", "support_below_pass", "consumer_applied_events")


def indexes_of(table: str) -> list[list[str]]:
    """The table's key, then each of its indexes on plain columns, as the schema declares them (an index on an
    expression has no heap order to try: it is refused, not silently left out)."""
    declared = metadata.tables.get(table)
    if declared is None:
        raise SystemExit(f"rebuild_heap_order: no table {table!r} in reporting's schema (dropped by a migration?)")
    out = [[c.name for c in declared.primary_key.columns]]
    for index in sorted(declared.indexes, key=lambda i: str(i.name)):
        columns = [getattr(e, "name", None) for e in index.expressions]
        if not all(isinstance(c, str) and c in declared.c for c in columns):
            raise SystemExit(f"rebuild_heap_order: {index.name} on {table} is on an expression: no heap order to try")
        out.append([str(c) for c in columns])
    return out


def _then(first: list[str], key: list[str]) -> list[str]:
    return first + [c for c in key if c not in first]


def heap_orders(indexes: list[list[str]]) -> dict[str, list[str] | None]:
    """The heap orders tried for a table: as shuffled, the key's, and each other index's columns then the key's."""
    key = indexes[0]
    return {"shuffled": None, "key": key,
            **{"+".join(("_".join(columns)[:40], "key")): _then(columns, key) for columns in indexes[1:]}}


def tables() -> dict[str, tuple[list[list[str]], dict[str, list[str] | None]]]:
    """table → (its indexes' columns, the key's first; the heap orders tried: None = as shuffled)."""
    return {table: (indexes, heap_orders(indexes)) for table in HEAP_TABLES for indexes in [indexes_of(table)]}


async def missing_tables(dsn: str, names: tuple[str, ...]) -> list[str]:
    """The tables of `names` that the database does not hold (a database of older code, or the wrong one)."""
    connection = await asyncpg.connect(dsn)
    try:
        return [name for name in names if await connection.fetchval("SELECT to_regclass($1)", name) is None]
    finally:
        await connection.close()


def _byte_key(columns: list[str]) -> str:
    parts = [f"lpad(to_hex(CAST({c} AS bigint) + 2147483648), 8, '0')" if c in INTEGERS else f"CAST({c} AS text)"
             for c in columns]
    return "(" + " || chr(1) || ".join(parts) + ') COLLATE "C"'


def _cpu(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


async def heap_order(dsn: str, table: str, indexes: list[list[str]], order: list[str] | None) -> dict[str, float]:
    connection = await asyncpg.connect(dsn)
    try:
        pid = await connection.fetchval("SELECT pg_backend_pid()")
        transaction = connection.transaction()
        await transaction.start()
        for setting in SETTINGS:
            await connection.execute(setting)
        await connection.execute(f"CREATE UNLOGGED TABLE probe_src AS SELECT * FROM {table} ORDER BY md5(ctid::text)")
        started = _cpu(pid)
        ordered = f" ORDER BY {_byte_key(order)}" if order else ""
        await connection.execute(f"CREATE UNLOGGED TABLE probe_t AS SELECT * FROM probe_src{ordered}")
        out = {"load": round(_cpu(pid) - started, 2)}
        for i, columns in enumerate(indexes):
            started = _cpu(pid)
            await connection.execute(f"CREATE {'UNIQUE ' if i == 0 else ''}INDEX ON probe_t ({', '.join(columns)})")
            out["key" if i == 0 else f"ix_{'_'.join(columns)[:40]}"] = round(_cpu(pid) - started, 2)
        out["total"] = round(sum(out.values()), 2)
        await transaction.rollback()
        return out
    finally:
        await connection.close()


async def logged_or_not(dsn: str, table: str, unlogged: bool) -> dict[str, float]:
    connection = await asyncpg.connect(dsn)
    try:
        pid = await connection.fetchval("SELECT pg_backend_pid()")
        transaction = connection.transaction()
        await transaction.start()
        for setting in SETTINGS:
            await connection.execute(setting)
        options = await connection.fetchval(
            "SELECT array_to_string(reloptions, ', ') FROM pg_class WHERE oid = CAST($1 AS regclass)", table)
        with_ = f" WITH ({options})" if options else ""
        await connection.execute(f"CREATE UNLOGGED TABLE probe_src AS SELECT * FROM {table}")
        lsn = await connection.fetchval("SELECT pg_current_wal_insert_lsn()")
        started = _cpu(pid)
        await connection.execute(f"CREATE {'UNLOGGED ' if unlogged else ''}TABLE probe_t "
                                 f"(LIKE {table} INCLUDING ALL EXCLUDING INDEXES){with_}")
        await connection.execute("INSERT INTO probe_t SELECT * FROM probe_src")
        if unlogged:
            await connection.execute("ALTER TABLE probe_t SET LOGGED")
        cpu = round(_cpu(pid) - started, 2)
        wal = await connection.fetchval("SELECT pg_current_wal_insert_lsn() - CAST($1 AS pg_lsn)", lsn)
        await transaction.rollback()
        return {"cpu": cpu, "wal_mb": round(float(wal) / 1e6, 1)}
    finally:
        await connection.close()


async def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("dsn")
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--wal", action="store_true")
    args = parser.parse_args()
    measured = tables()
    missing = await missing_tables(args.dsn, (*measured, *(WAL_TABLES if args.wal else ())))
    if missing:
        print(f"rebuild_heap_order: the database holds no {', '.join(missing)}: not a rebuilt database of this "
              "tree's schema", file=sys.stderr)
        return 2
    for round_ in range(args.rounds):
        for table, (indexes, orders) in measured.items():
            for name, order in orders.items():
                line = {"round": round_, "table": table, "heap": name,
                        **await heap_order(args.dsn, table, indexes, order), "load_1min": round(os.getloadavg()[0], 1)}
                print(json.dumps(line), flush=True)
        if args.wal:
            for table in WAL_TABLES:
                for unlogged in ((False, True) if round_ % 2 == 0 else (True, False)):
                    line = {"round": round_, "table": table, "way": "unlogged, SET LOGGED" if unlogged else "logged",
                            **await logged_or_not(args.dsn, table, unlogged)}
                    print(json.dumps(line), flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(asyncio.run(main()))

"""One `styrkedja rebuild reporting` against a broker and PostgreSQL that `bench/speed.py --rebuild-hold` filled and
keeps up: a fresh migrated database each run, the rebuild as a process of its own (any code: `--pythonpath` for a
"before" tree), its summary with wall seconds, the load average and the whole PostgreSQL server's CPU seconds
(backends and parallel workers) appended as one JSON line to `--out`. The first run's database is the reference:
`--compare-with <database>` counts the rows of every rebuilt table that differ from it (holding both in this process);
`--digests-with <database>` compares each table's row count and sum of row hashes, computed by PostgreSQL (6.4M).

    .venv/bin/python bench/rebuild_held.py /tmp/styrkedja-speed-xxxx/hold.json --label after --out runs.jsonl \
        [--env STYRKEDJA_REBUILD_PASS_PARTS=1] [-- --decoders 1]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Any, NamedTuple

import asyncpg

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "bench"))

from speed import REBUILT_TABLES, _differing_rows, tree_cpu_seconds  # noqa: E402

from styrkedja_devstack.postgres import ensure_database  # noqa: E402
from styrkedja_devstack.services import database_url  # noqa: E402
from styrkedja_kit.migrations import upgrade  # noqa: E402


def server_cpu_seconds(postmaster: int) -> float:
    """The whole PostgreSQL server's CPU seconds: the postmaster and its processes alive now, and those it has
    reaped (a rebuild's backend and its parallel workers end before the run is measured)."""
    try:
        fields = Path(f"/proc/{postmaster}/stat").read_text().rsplit(")", 1)[1].split()
        reaped = (int(fields[13]) + int(fields[14])) / os.sysconf("SC_CLK_TCK")
    except (OSError, ValueError, IndexError):
        reaped = 0.0
    return tree_cpu_seconds(postmaster) + reaped


class HeldRebuild(NamedTuple):
    """One run's setup: its arguments, the held stack, a fresh migrated database and the rebuild's environment."""
    args: argparse.Namespace
    rest: list[str]  # the rebuild's own arguments (after `--`)
    hold: dict[str, Any]
    name: str
    url: str
    env: dict[str, str]


def held_rebuild(description: str) -> HeldRebuild:
    """The command line both held-rebuild benches take, and the database and environment of one run."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("hold", type=Path)
    parser.add_argument("--label", required=True)
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--env", action="append", default=[], help="NAME=VALUE for the rebuild's environment")
    parser.add_argument("--pythonpath", default=None, help="PYTHONPATH for the rebuild (a before tree)")
    parser.add_argument("--compare-with", default=None, help="a database of an earlier run: rows differing")
    parser.add_argument("--digests-with", default=None,
                        help="a database of an earlier run: each rebuilt table's row count and the sum of its rows' "
                             "hashes in both, computed by PostgreSQL (for 6.4M, where --compare-with holds every row "
                             "of both in this process)")
    argv = sys.argv[1:]
    rest = argv[argv.index("--") + 1:] if "--" in argv else []
    args = parser.parse_args(argv[:len(argv) - len(rest) - (1 if "--" in argv else 0)])
    hold = json.loads(args.hold.read_text())
    name = f"bench_rebuild_{uuid.uuid4().hex[:6]}"
    ensure_database(hold["postgres_url"], name)
    url = database_url(hold["postgres_url"], name)
    if args.pythonpath:
        # a before tree's rebuild makes its tables LIKE the live ones: the database at that tree's head, not ours
        # (rebuild34: before migration 0037 the rebuild still fills compliance_round_reports)
        subprocess.run([sys.executable, "-c", "import sys; from styrkedja_kit.migrations import upgrade; "
                        "upgrade('styrkedja_reporting', sys.argv[1])", url],
                       env={**os.environ, "PYTHONPATH": args.pythonpath}, check=True)
    else:
        upgrade("styrkedja_reporting", url)
    env = {**os.environ, **hold["env"], "STYRKEDJA_DATABASE_URL": url,
           "STYRKEDJA_CONSUMER_GROUP": f"reporting-rebuild-{uuid.uuid4().hex[:6]}"}
    env.update(dict(item.split("=", 1) for item in args.env))
    if args.pythonpath:
        env["PYTHONPATH"] = args.pythonpath
    return HeldRebuild(args, rest, hold, name, url, env)


async def table_digests(url: str) -> dict[str, list[int]]:
    """Per rebuilt table: its rows and the sum of their texts' 64-bit hashes — equal multisets of rows give equal
    pairs; a differing row changes the sum but for a 2^-64 chance."""
    conn = await asyncpg.connect(url.replace("postgresql+asyncpg", "postgresql"))
    try:
        out = {}
        for table in REBUILT_TABLES:
            count, total = await conn.fetchrow(
                f"SELECT count(*), coalesce(sum(hashtextextended(CAST(t AS text), 0)), 0) FROM {table} t")
            out[table] = [int(count), int(total)]
        # the alerts the rebuild's judgement raised (and their events): their columns that do not hold the time of
        # the run (`raised_at`, `changed_at`, the events' ids and times come from it)
        count, total = await conn.fetchrow(
            "SELECT count(*), coalesce(sum(hashtextextended(CAST(ROW(alert_id, organiser_id, level, unit_id, "
            "subject_code, year, school_year, term, round, rule, status, episode, CAST(figures AS text)) AS text), "
            "0)), 0) FROM alerts")
        out["alerts"] = [int(count), int(total)]
        out["outbox"] = [int(await conn.fetchval("SELECT count(*) FROM outbox")), 0]
        return out
    finally:
        await conn.close()


def main() -> int:
    args, rest, hold, name, url, env = held_rebuild(__doc__.splitlines()[0])
    migrated = os.times()  # a --pythonpath tree's migration ran as a child: not the rebuild's CPU (rebuild34)
    postmaster = hold.get("postmaster_pid")
    pg_before = server_cpu_seconds(postmaster) if postmaster else None
    load_before = os.getloadavg()[0]
    started = time.perf_counter()
    done = subprocess.run([sys.executable, "-m", "styrkedja_reporting.rebuild", "--json", "--no-dead-letter", *rest],
                          env=env, stdout=subprocess.PIPE, text=True, check=True)
    seconds = time.perf_counter() - started
    summary = json.loads(done.stdout)
    children = os.times()
    line = {"label": args.label, "database": name, "events": summary["events_read"], "process_seconds": round(seconds, 3),
            "events_per_s": round(summary["events_read"] / seconds),
            "load_1min_before_after": [round(load_before, 1), round(os.getloadavg()[0], 1)],
            "rebuild_process_cpu_seconds": round(children.children_user + children.children_system
                                                 - migrated.children_user - migrated.children_system, 1),
            "postgres_server_cpu_seconds": round(server_cpu_seconds(postmaster) - pg_before, 1) if postmaster else None,
            "args": rest, "env": args.env, "summary": summary}
    if args.compare_with:
        line["differing_rows"] = asyncio.run(_differing_rows(database_url(hold["postgres_url"], args.compare_with), url))
        line["compared_tables"] = list(REBUILT_TABLES)
    if args.digests_with:
        mine, theirs = asyncio.run(table_digests(url)), asyncio.run(
            table_digests(database_url(hold["postgres_url"], args.digests_with)))
        line["digests"] = {"this": mine, args.digests_with: theirs}
        line["tables_differing_by_digest"] = sorted(t for t in mine if mine[t] != theirs[t])
    with args.out.open("a") as out:
        out.write(json.dumps(line) + "\n")
    print(json.dumps({k: v for k, v in line.items() if k != "summary"}), flush=True)
    print(json.dumps({"stages": summary["stages"], "cpu": summary["cpu_seconds"]}), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())

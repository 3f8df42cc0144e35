"""Issue 16, pgconf39: the rebuild under two settings of the held stack's PostgreSQL server, in alternated pairs.

Before each run the held server (`bench/speed.py --rebuild-hold`, this machine's embedded PostgreSQL) is stopped
(`pg_ctl stop -m fast`: its shutdown checkpoint writes out what the run before left) and started again with the
side's settings (`--side NAME='-c k=v -c k=v'`, added to the options the devstack starts it with) on the same port
and data folder; then one `bench/rebuild_read_cpu.py` run (a fresh migrated database, the whole server's CPU at the
read's end and at the run's end) with `--pythonpath` of the side's tree where given (`--tree NAME=DIR`), the first
run's database the reference of every later run's digests. Around each run the server's own counters: WAL bytes
(`pg_current_wal_insert_lsn` moved), `pg_stat_wal`'s records and full-page images, `pg_stat_checkpointer`'s
checkpoints (timed, requested, buffers written) and the log's "checkpoint starting" lines. Each later run's database
is dropped once compared (the bench databases beside the log fill the page cache: scale37).

    .venv/bin/python bench/pgconf39.py HOLD --side main='' --side wal='-c max_wal_size=8GB' --pairs 3 \
        --out /tmp/pgconf39/runs.jsonl
    .venv/bin/python bench/pgconf39.py --summarise /tmp/pgconf39/runs.jsonl --json bench/results/pgconf39.json
"""

from __future__ import annotations

import argparse
import asyncio
import json
import shlex
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from statistics import mean
from typing import Any

import asyncpg

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "bench"))

from after36_pairs import tree_path  # noqa: E402
from rebuild_held import server_cpu_seconds  # noqa: E402

from styrkedja_devstack.postgres import EmbeddedPostgres  # noqa: E402

#: the server's counters read around a run (PostgreSQL 17+: the checkpointer's own view)
COUNTERS = ("SELECT pg_current_wal_insert_lsn() AS lsn, w.wal_records, w.wal_fpi, w.wal_bytes, w.wal_buffers_full, "
            "c.num_timed, c.num_requested, c.buffers_written AS checkpoint_buffers, b.buffers_clean AS bgwriter_buffers "
            "FROM pg_stat_wal w, pg_stat_checkpointer c, pg_stat_bgwriter b")


def held_server(hold_path: Path, hold: dict[str, Any]) -> EmbeddedPostgres:
    """The held stack's server: its data folder beside the hold's file (speed.py's state folder), its port from the
    hold's URL."""
    return EmbeddedPostgres(hold_path.parent / "pgdata", port=int(hold["postgres_url"].rsplit(":", 1)[1]))


def restart(server: EmbeddedPostgres, settings: str) -> int:
    """The server stopped and started again with `settings` added; its new postmaster's pid."""
    server.stop()
    server.settings = dict(_pairs(settings))
    server.start()
    return int((server.data_dir / "postmaster.pid").read_text().split()[0])


def _pairs(settings: str) -> list[tuple[str, str]]:
    words = shlex.split(settings)
    return [tuple(w.split("=", 1)) for flag, w in zip(words[::2], words[1::2], strict=True) if flag == "-c"]  # type: ignore[misc]


async def counters(url: str) -> dict[str, Any]:
    conn = await asyncpg.connect(f"{url}/postgres")
    try:
        await conn.execute("SELECT pg_stat_force_next_flush()")
        row = dict(await conn.fetchrow(COUNTERS))
        row["lsn"] = int(await conn.fetchval("SELECT pg_wal_lsn_diff($1, '0/0')", row["lsn"]))
        row["settings"] = dict(await conn.fetch(
            "SELECT name, setting FROM pg_settings WHERE name = ANY($1::text[])",
            ["wal_level", "max_wal_size", "checkpoint_timeout", "shared_buffers", "wal_buffers", "wal_compression",
             "full_page_writes", "fsync", "data_checksums", "synchronous_commit", "checkpoint_completion_target"]))
        return row
    finally:
        await conn.close()


async def checkpoint(url: str) -> None:
    conn = await asyncpg.connect(f"{url}/postgres")
    try:
        await conn.execute("CHECKPOINT")
    finally:
        await conn.close()


async def drop(url: str, name: str) -> None:
    conn = await asyncpg.connect(f"{url}/postgres")
    try:
        await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await conn.close()


def one_run(hold_path: Path, hold: dict[str, Any], server: EmbeddedPostgres, label: str, settings: str,
            tree: str | None, out: Path, reference: str | None) -> dict[str, Any]:
    pid = restart(server, settings)
    held = {**hold, "postmaster_pid": pid}
    hold_path.write_text(json.dumps(held, indent=2))  # the hold's file names the running server, whatever happens
    with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False, dir=hold_path.parent) as f:
        json.dump(held, f)
    log_lines = len(server.log_file.read_text(errors="replace").splitlines())
    url = hold["postgres_url"]
    before = asyncio.run(counters(url))
    command = [sys.executable, str(ROOT / "bench" / "rebuild_read_cpu.py"), f.name, "--label", label,
               "--out", str(out.with_suffix(".rebuilds.jsonl"))]
    if tree:
        command += ["--pythonpath", tree_path(tree)]
    if reference:
        command += ["--digests-with", reference]
    subprocess.run(command, check=True, stdout=subprocess.DEVNULL)
    # its whole line (the summary with it) is the last of its own --out
    line: dict[str, Any] = json.loads(out.with_suffix(".rebuilds.jsonl").read_text().splitlines()[-1])
    time.sleep(1)  # the ended backends' counters flushed
    after = asyncio.run(counters(url))
    # what the run left dirty written out and synced, as the next checkpoint would: a server that skips the WAL for a
    # new file syncs it at the job's commit, inside the run; one that logs it writes it out at a checkpoint later
    cpu_before, started = server_cpu_seconds(pid), time.perf_counter()
    asyncio.run(checkpoint(url))
    checkpoint_wall, checkpoint_cpu = time.perf_counter() - started, server_cpu_seconds(pid) - cpu_before
    done = asyncio.run(counters(url))
    logged = server.log_file.read_text(errors="replace").splitlines()[log_lines:]
    line["server"] = {
        "settings": settings, "effective": after["settings"],
        "wal_bytes": after["lsn"] - before["lsn"],
        **{k: after[k] - before[k] for k in ("wal_records", "wal_fpi", "wal_buffers_full", "num_timed",
                                               "num_requested", "checkpoint_buffers", "bgwriter_buffers")},
        "wal_fpi_bytes_counted": int(after["wal_bytes"] - before["wal_bytes"]),
        "checkpoint_lines": [x for x in logged if "checkpoint complete" in x or "checkpoint starting" in x],
        "final_checkpoint": {"wall": round(checkpoint_wall, 2), "server_cpu": round(checkpoint_cpu, 2),
                             "buffers": done["checkpoint_buffers"] - after["checkpoint_buffers"]},
    }
    Path(f.name).unlink()
    with out.open("a") as o:
        o.write(json.dumps(line) + "\n")
    print(json.dumps({"label": label, "seconds": line["summary"]["seconds"],
                      "after_read": line["summary"]["apply_seconds"],
                      "server_cpu": line["postgres_server_cpu_seconds"],
                      "digests": line.get("tables_differing_by_digest"),
                      **{k: v for k, v in line["server"].items() if k not in ("checkpoint_lines", "effective")}}),
          flush=True)
    return line


def summarise(runs: Path) -> dict[str, Any]:
    lines = [json.loads(x) for x in runs.read_text().splitlines() if x.strip()]
    rows = []
    for line in lines:
        s, server = line["summary"], line["server"]
        read_pg = line["read_cpu_seconds"].get("postgres", 0.0)
        rows.append({"label": line["label"], "events": line["events"], "seconds": s["seconds"],
                     "read_seconds": s["read_seconds"], "after_read_wall": s["apply_seconds"],
                     "after_read_backends_pg": s["cpu_seconds"]["after_read"]["postgres"],
                     "server_cpu_whole": line["postgres_server_cpu_seconds"],
                     "server_cpu_after_read": round(line["postgres_server_cpu_seconds"] - read_pg, 2),
                     "indexes_pg": round(sum(v["postgres"] for k, v in s["cpu_seconds"].items()
                                             if k.startswith("index.")), 2),
                     "wal_mb": round(server["wal_bytes"] / 2**20, 1), "wal_fpi": server["wal_fpi"],
                     "wal_records": server["wal_records"],
                     "checkpoints": server["num_timed"] + server["num_requested"],
                     "checkpoints_requested": server["num_requested"],
                     "checkpoint_buffers": server["checkpoint_buffers"],
                     "final_checkpoint": server["final_checkpoint"],
                     "server_cpu_with_checkpoint": round(line["postgres_server_cpu_seconds"]
                                                         + server["final_checkpoint"]["server_cpu"], 2),
                     "load_before_after": line["load_1min_before_after"],
                     "digests_differ": line.get("tables_differing_by_digest"),
                     "settings": server["settings"]})
    labels = list(dict.fromkeys(r["label"] for r in rows))
    means = {label: {k: round(mean(r[k] for r in rows if r["label"] == label), 2)
                     for k in ("seconds", "after_read_wall", "after_read_backends_pg", "server_cpu_whole",
                               "server_cpu_after_read", "server_cpu_with_checkpoint", "indexes_pg", "wal_mb",
                               "wal_fpi", "checkpoints")}
             for label in labels}
    # each round of the sides (A B C, C B A, …): every side's figures ÷ the first side's of the same round
    rounds = [rows[n:n + len(labels)] for n in range(0, len(rows), len(labels))]
    ratios = []
    for block in rounds:
        base = next((r for r in block if r["label"] == labels[0]), None)
        if base is None or len(block) < len(labels):
            continue
        ratios.append({r["label"]: {k: round(r[k] / base[k], 3) if base[k] else None
                                    for k in ("after_read_wall", "after_read_backends_pg", "server_cpu_after_read",
                                              "server_cpu_with_checkpoint", "wal_mb")}
                       for r in block if r["label"] != labels[0]})
    return {"runs": rows, "means": means, "ratios_to_first_side_per_round": ratios}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("hold", type=Path, nargs="?")
    parser.add_argument("--side", action="append", default=[], help="NAME=SETTINGS ('-c k=v ...'), two or more")
    parser.add_argument("--tree", action="append", default=[], help="NAME=DIR: that side's code (--pythonpath)")
    parser.add_argument("--pairs", type=int, default=3)
    parser.add_argument("--out", type=Path, default=Path("/tmp/pgconf39-runs.jsonl"))
    parser.add_argument("--reference", default=None, help="an earlier run's database for the digests")
    parser.add_argument("--summarise", type=Path, default=None)
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args()
    if args.summarise:
        result = summarise(args.summarise)
        text = json.dumps(result, indent=1)
        if args.json:
            args.json.write_text(text + "\n")
        print(text)
        return 0
    sides = [tuple(s.split("=", 1)) for s in args.side]
    trees = dict(t.split("=", 1) for t in args.tree)
    hold = json.loads(args.hold.read_text())
    server = held_server(args.hold, hold)
    reference = args.reference
    for pair in range(args.pairs):
        for name, settings in (sides if pair % 2 == 0 else sides[::-1]):  # A B C, C B A, …
            line = one_run(args.hold, hold, server, name, settings, trees.get(name), args.out, reference)
            if reference is None:
                reference = line["database"]
            else:
                asyncio.run(drop(hold["postgres_url"], line["database"]))
    # the held stack as it was: the devstack's own settings
    pid = restart(server, "")
    args.hold.write_text(json.dumps({**hold, "postmaster_pid": pid}, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())

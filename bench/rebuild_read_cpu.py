"""Where the rebuild's read spends its CPU (issue 16, rebuild12): one `styrkedja rebuild reporting` against a broker and
PostgreSQL that `bench/speed.py --rebuild-hold` keeps up (as `bench/rebuild_held.py`: a fresh migrated database), its
stderr watched for the end of the read ("read done"), and the CPU seconds each side spent until then read from /proc:
the rebuild's main process, its decoder processes (its children), the broker (the process listening on the bootstrap
port: Tansu or Apache Kafka's JVM), the whole PostgreSQL server (backends and workers, the reaped ones counted), and
each side's time waiting for a core (schedstat). A side whose CPU seconds come near the read's wall seconds is the
limit; the sum over both cores near twice the wall says the read is bound by the machine.

    .venv/bin/python bench/rebuild_read_cpu.py /tmp/styrkedja-speed-xxxx/hold.json --label before --out runs.jsonl \
        [--env NAME=VALUE] [--pythonpath TREE] [-- --decoders 2]
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "bench"))

from rebuild_held import held_rebuild, server_cpu_seconds, table_digests  # noqa: E402
from speed import REBUILT_TABLES, _differing_rows, tree_cpu_seconds, tree_sched_seconds  # noqa: E402

from styrkedja_devstack.services import database_url  # noqa: E402


def own_cpu_seconds(pid: int) -> float:
    """CPU seconds of process `pid` alone (not its children)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except (OSError, ValueError, IndexError):
        return 0.0


def listener_pid(port: int) -> int | None:
    """The process listening on TCP `port` (from /proc/net/tcp and the processes' socket inodes)."""
    inodes = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            lines = Path(table).read_text().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            parts = line.split()
            if parts[3] == "0A" and int(parts[1].rsplit(":", 1)[1], 16) == port:  # LISTEN
                inodes.add(parts[9])
    for fd_dir in Path("/proc").glob("[0-9]*/fd"):
        try:
            for fd in fd_dir.iterdir():
                target = os.readlink(fd)
                if target.startswith("socket:[") and target[8:-1] in inodes:
                    return int(fd_dir.parent.name)
        except OSError:
            continue
    return None


def sides(main: int, broker: int | None, postmaster: int | None) -> dict[str, float]:
    out = {"main": own_cpu_seconds(main), "decoders": tree_cpu_seconds(main) - own_cpu_seconds(main)}
    if broker:
        out["broker"] = tree_cpu_seconds(broker)
    if postmaster:
        out["postgres"] = server_cpu_seconds(postmaster)
    return out


def waits(main: int, broker: int | None) -> dict[str, float]:
    out = {"rebuild": tree_sched_seconds(main)[1]}
    if broker:
        out["broker"] = tree_sched_seconds(broker)[1]
    return out


def main() -> int:
    args, rest, hold, name, url, env = held_rebuild(__doc__.splitlines()[0])
    migrated = os.times()  # a --pythonpath tree's migration ran as a child: not the rebuild's CPU (rebuild34)
    broker = listener_pid(int(hold["env"]["STYRKEDJA_KAFKA_BOOTSTRAP_SERVERS"].split(",")[0].rsplit(":", 1)[1]))
    postmaster = hold.get("postmaster_pid")
    load_before = os.getloadavg()[0]
    process = subprocess.Popen([sys.executable, "-m", "styrkedja_reporting.rebuild", "--json", "--no-dead-letter", *rest],
                               env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    start = sides(process.pid, broker, postmaster)
    start_wait = waits(process.pid, broker)
    started = time.perf_counter()
    at_read: dict = {}
    # the decoders are the rebuild's children, alive until after the read (their CPU is read at "read done")
    assert process.stderr is not None
    for line in process.stderr:
        if line.startswith("read done") and not at_read:
            at_read["cpu"] = sides(process.pid, broker, postmaster)
            at_read["wait"] = waits(process.pid, broker)
            at_read["seconds"] = time.perf_counter() - started
            at_read["line"] = line.strip()
    stdout = process.stdout.read() if process.stdout else ""
    process.wait()
    seconds = time.perf_counter() - started
    end = sides(process.pid, broker, postmaster)  # the process has ended: the server's (and broker's) whole run
    if process.returncode:
        raise SystemExit(f"the rebuild failed ({process.returncode})")
    summary = json.loads(stdout)
    read_cpu = {k: round(at_read["cpu"][k] - start[k], 2) for k in start}
    line = {"label": args.label, "database": name, "events": summary["events_read"],
            "read_wall_seconds": round(at_read["seconds"], 2), "read_cpu_seconds": read_cpu,
            "read_cpu_total": round(sum(read_cpu.values()), 2),
            "read_wait_seconds": {k: round(at_read["wait"][k] - start_wait[k], 2) for k in start_wait},
            "summary_read_seconds": summary["read_seconds"], "summary_cpu_read": summary["cpu_seconds"].get("read"),
            "staging_seconds": summary["stages"].get("staging"), "seconds": summary["seconds"],
            # the main process's wait for a decoder's answer (None: code before rebuild33 does not count it)
            "decoder_wait_seconds": summary["stages"].get("decoder_wait"),
            "process_seconds": round(seconds, 2),
            # the rebuild and its decoders, the whole run (this program's children since the migration)
            "rebuild_process_cpu_seconds": round(os.times().children_user + os.times().children_system
                                                 - migrated.children_user - migrated.children_system, 2),
            "postgres_server_cpu_seconds": round(end["postgres"] - start["postgres"], 2) if postmaster else None,
            "after_read_backend_cpu": summary["cpu_seconds"].get("after_read"),
            "load_1min_before_after": [round(load_before, 1), round(os.getloadavg()[0], 1)],
            "args": rest, "env": args.env, "read_line": at_read["line"]}
    if args.compare_with:
        line["differing_rows"] = sum(asyncio.run(_differing_rows(
            database_url(hold["postgres_url"], args.compare_with), url)).values())
        line["compared_tables"] = len(REBUILT_TABLES)
    if args.digests_with:  # each table's rows and the sum of their hashes, by PostgreSQL (as `rebuild_held.py`)
        mine, theirs = asyncio.run(table_digests(url)), asyncio.run(
            table_digests(database_url(hold["postgres_url"], args.digests_with)))
        line["tables_differing_by_digest"] = sorted(t for t in mine if mine[t] != theirs[t])
    with args.out.open("a") as out:
        out.write(json.dumps({**line, "summary": summary}) + "\n")
    print(json.dumps(line), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())

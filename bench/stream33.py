"""Issue 16, stream33: a student-level results read decided, audited and answered in one transaction (its rows held
past the commit in a cursor WITH HOLD), against the code before it (the audit row committed first, the rows read in a
second transaction). Per variant, each in processes of its own, alternated:

* `profile`: `stream32.profile_variant` — the route in-process under tracemalloc: the Python heap's peak over what was
  held before each read, per format and organiser, and the answer's sha256 (xlsx: of its cells);
* `timing`: reporting under uvicorn (one worker, consumer off), a warm-up read, then every organiser's read in each
  format timed by the client: to the answer's first body byte and to its last; the CPU seconds of the worker and of
  PostgreSQL (all its processes: this bench's own instance) over each format's reads; and what the reads made
  PostgreSQL write to temporary files (`pg_stat_database.temp_bytes`, this database's, before and after them);
* `worker` (`--worker`): `mem31.one_format` — VmHWM's jump at the first read and after every organiser's;
* `drill_down` (`--drill-down`, this checkout alone): the figures' one student level — `/v1/figures/drill-down` under
  the group with the most students, per period of the data — its rows and bytes: is it worth sending in parts?

On a database `bench/reads30.py --state DIR` filled:

    .venv/bin/python bench/stream33.py --students 1035 --organisers 3 --state /tmp/stream33/state \\
        --variant before=/tmp/base --variant after=/tmp/after --variant before2=/tmp/base --variant after2=/tmp/after \\
        [--worker] [--out bench/results/stream33.json]
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import json
import os
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "bench"))
sys.path.insert(0, str(ROOT / "tests"))

FORMATS = ("json", "csv", "xlsx")
PATH = "/v1/results/assessments"


async def _postmaster_pid(url: str) -> int:
    import asyncpg
    import psutil

    conn = await asyncpg.connect(url.replace("postgresql+asyncpg", "postgresql"))
    try:  # a backend's parent, asked while the backend is there
        return int(psutil.Process(int(await conn.fetchval("SELECT pg_backend_pid()"))).ppid())
    finally:
        await conn.close()


def _cpu(process: Any) -> float:
    """A process's CPU seconds with its children's, live (their own) and gone (reaped: its children_* times)."""
    import psutil

    times = process.cpu_times()
    total = times.user + times.system + times.children_user + times.children_system
    for child in process.children(recursive=True):
        try:
            child_times = child.cpu_times()
            total += child_times.user + child_times.system
        except psutil.Error:  # gone meanwhile: counted in the parent's children_* once reaped
            pass
    return total


async def _temp_bytes(url: str) -> int:
    from sqlalchemy import text
    from sqlalchemy.ext.asyncio import create_async_engine

    engine = create_async_engine(url)
    try:
        async with engine.connect() as connection:
            found = await connection.execute(text(
                "SELECT temp_bytes FROM pg_stat_database WHERE datname = current_database()"))
            return int(found.scalar_one())
    finally:
        await engine.dispose()


def timing(url: str, issuer, organisers: list[str], code: Path | None) -> dict[str, Any]:  # noqa: ANN001
    """Each organiser's read in each format, timed by the client (a fresh worker, after one warm-up read)."""
    import psutil
    from scale28 import serve

    headers = {"Authorization": "Bearer " + issuer.mint(roles=["organiser_admin"], organisers=organisers)}
    postmaster = psutil.Process(asyncio.run(_postmaster_pid(url)))
    server, port = serve(url, issuer.url, code)
    worker = psutil.Process(server.pid)
    out: dict[str, Any] = {}
    try:
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=600) as client:
            client.get(PATH, headers=headers, params={"level": "student", "organiser_id": organisers[0]})
            temp_before = asyncio.run(_temp_bytes(url))
            for fmt in FORMATS:
                reads = []
                # CPU seconds, the worker's and PostgreSQL's (every process of this bench's own instance): less
                # moved by the load of others than the wall clock
                cpu_before = (_cpu(worker), _cpu(postmaster))
                for organiser in organisers:
                    started = time.monotonic()
                    first = None
                    size = 0
                    digest = hashlib.sha256()  # JSON and CSV: the bytes (an xlsx says when it was written)
                    with client.stream("GET", PATH, headers=headers, params={
                            "level": "student", "organiser_id": organiser, "format": fmt}) as answer:
                        if answer.status_code != 200:
                            raise RuntimeError(f"{fmt} {organiser}: {answer.status_code}")
                        for chunk in answer.iter_raw():
                            if first is None and chunk:
                                first = time.monotonic() - started
                            size += len(chunk)
                            digest.update(chunk)
                    reads.append({"organiser": organiser, "first_byte_seconds": round(first or 0.0, 3),
                                  "seconds": round(time.monotonic() - started, 3), "bytes": size,
                                  **({} if fmt == "xlsx" else {"sha256": digest.hexdigest()})})
                out[fmt] = reads
                out[f"{fmt}_cpu_seconds"] = {"worker": round(_cpu(worker) - cpu_before[0], 3),
                                             "postgres": round(_cpu(postmaster) - cpu_before[1], 3)}
            # sampled after the reads: stats are sent by the backends a moment after their transactions end
            time.sleep(1.0)
            out["temp_bytes_during_reads"] = asyncio.run(_temp_bytes(url)) - temp_before
    finally:
        server.terminate()
        server.wait(20)
    out["load"] = os.getloadavg()[0]
    return out


async def _largest_groups(url: str) -> list[dict[str, Any]]:
    import asyncpg

    conn = await asyncpg.connect(url.replace("postgresql+asyncpg", "postgresql"))
    try:
        rows = await conn.fetch(
            "SELECT organiser_id, school_unit_code, group_id, school_year, term, count(DISTINCT student_id) AS n "
            "FROM assessment_facts GROUP BY 1, 2, 3, 4, 5 ORDER BY n DESC LIMIT 1")
        return [dict(r) for r in rows]
    finally:
        await conn.close()


def drill_down(url: str, issuer) -> dict[str, Any]:  # noqa: ANN001
    """The figures' student level: a drill-down under the group of the most students, every subject, timed."""
    from scale28 import serve

    out: dict[str, Any] = {}
    server, port = serve(url, issuer.url, None)
    try:
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=600) as client:
            for group in asyncio.run(_largest_groups(url)):
                headers = {"Authorization": "Bearer " + issuer.mint(roles=["organiser_admin"],
                                                                     organisers=[group["organiser_id"]])}
                params = {"level": "group", "organiser_id": group["organiser_id"],
                          "unit_id": f"{group['school_unit_code']}/{group['group_id']}",
                          "school_year": group["school_year"], "term": group["term"]}
                for figure in ("pass", "forecast-outcome", "merit"):
                    started = time.monotonic()
                    answer = client.get("/v1/figures/drill-down", headers=headers, params={**params, "figure": figure})
                    seconds = time.monotonic() - started
                    if answer.status_code != 200:
                        raise RuntimeError(f"{figure}: {answer.status_code} {answer.text[:300]}")
                    out[figure] = {"group_students": group["n"], "rows": len(answer.json()["rows"]),
                                   "bytes": len(answer.content), "seconds": round(seconds, 3)}
    finally:
        server.terminate()
        server.wait(20)
    out["load"] = os.getloadavg()[0]
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--students", type=int, default=1035)
    parser.add_argument("--organisers", type=int, default=3)
    parser.add_argument("--state", type=Path, required=True)
    parser.add_argument("--variant", action="append", default=[], help="label=DIR (label= : this checkout)")
    parser.add_argument("--worker", action="store_true", help="also VmHWM in a worker (mem31.one_format)")
    parser.add_argument("--timing-only", action="store_true", help="no tracemalloc profile: the timing alone")
    parser.add_argument("--drill-down", action="store_true", help="the figures' student level's size, this checkout")
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args()
    from mem31 import one_format
    from reads30 import organisers_of
    from stream32 import profile_variant

    from styrkedja_devstack.issuer import DevIssuer
    from styrkedja_devstack.postgres import EmbeddedPostgres

    name = f"reads30_{args.students}_{args.organisers}"
    if not (args.state / f"{name}.json").exists():
        raise SystemExit(f"fill it first: bench/reads30.py --students {args.students} --organisers "
                         f"{args.organisers} --state {args.state}")
    pg = EmbeddedPostgres(args.state / "pgdata").start()
    issuer = DevIssuer(args.state, port=None).start()
    url = f"postgresql+asyncpg://{pg.server_url().removeprefix('postgresql://')}/{name}"
    report: dict[str, Any] = {"what": __doc__.splitlines()[0], "command": " ".join(sys.argv),
                              "cores": os.cpu_count(), "at": datetime.now(UTC).isoformat(timespec="seconds"),
                              "size": json.loads((args.state / f"{name}.json").read_text()), "variants": {}}
    try:
        organisers = [str(o) for o in asyncio.run(organisers_of(url)).organisers]
        if args.drill_down:
            report["drill_down"] = drill_down(url, issuer)
            print("drill_down", json.dumps(report["drill_down"]), flush=True)
            if args.out:
                args.out.write_text(json.dumps(report, indent=1) + "\n")
        for n, variant in enumerate(args.variant or ([] if args.drill_down else ["this="])):
            label, _, folder = variant.partition("=")
            label = label if label not in report["variants"] else f"{label}#{n}"
            code = Path(folder) if folder else None
            found: dict[str, Any] = {}
            if not args.timing_only:
                found["profile"] = profile_variant(url, issuer, organisers, code)
                print(label, "profile", json.dumps({f: [r["peak_above_start_mib"] for r in v]
                                                    for f, v in found["profile"]["formats"].items()}),
                      f"load {found['profile']['load']:.1f}", flush=True)
            found["timing"] = timing(url, issuer, organisers, code)
            print(label, "timing", json.dumps({f: [(r["first_byte_seconds"], r["seconds"]) for r in found["timing"][f]]
                                               for f in FORMATS}),
                  "cpu", json.dumps({f: found["timing"][f"{f}_cpu_seconds"] for f in FORMATS}),
                  f"temp_bytes {found['timing']['temp_bytes_during_reads']}", f"load {found['timing']['load']:.1f}",
                  flush=True)
            if args.worker:
                found["worker"] = {fmt: one_format(url, organisers, issuer, fmt, code) for fmt in FORMATS}
                print(label, "worker", json.dumps({f: (v["first_read_jump_mib"], v["hwm_after_each_mib"][-1],
                                                       round(v["load"], 1)) for f, v in found["worker"].items()}),
                      flush=True)
            report["variants"][label] = found
            if args.out:
                args.out.write_text(json.dumps(report, indent=1) + "\n")
    finally:
        pg.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())

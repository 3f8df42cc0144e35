"""Issue 16, stream32: what a student-level results read holds while it answers, as JSON, CSV and xlsx, before and
after it was sent in parts as its rows are read. Two measures, each variant in processes of its own, alternated:

* `--profile`: the route in-process (`create_app`, its ASGI app called with a `send` that keeps no byte: JSON and CSV
  hashed as they come, xlsx written to a file), under tracemalloc: the Python heap's peak over what was held before
  the read, per format and organiser, and the answer's sha256 (xlsx: of its cells, read back with openpyxl);
* the worker: `mem31.one_format` (uvicorn, one worker, consumer off, a fresh worker per format): VmHWM's jump at the
  first read and after every organiser's.

On a database `bench/reads30.py --state DIR` filled:

    .venv/bin/python bench/stream32.py --students 1035 --organisers 3 --state /tmp/stream32/state \\
        --variant before=/tmp/base --variant after= --variant before2=/tmp/base --variant after2= \\
        [--out bench/results/stream32.json]
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import json
import os
import subprocess
import sys
import tempfile
import time
import tracemalloc
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "bench"))
sys.path.insert(0, str(ROOT / "tests"))

FORMATS = ("json", "csv", "xlsx")


def _xlsx_cells(path: str) -> str:
    import openpyxl

    book = openpyxl.load_workbook(path, read_only=True)
    digest = hashlib.sha256()
    for sheet in book.worksheets:
        for row in sheet.iter_rows(values_only=True):
            digest.update(repr(row).encode())
    book.close()
    return digest.hexdigest()


async def _profile(url: str, issuer_url: str, token: str, organisers: list[str]) -> dict[str, Any]:
    """In this process (the variant's code first on PYTHONPATH): every format's read of every organiser."""
    os.environ.update({"STYRKEDJA_DATABASE_URL": url, "STYRKEDJA_CONSUMER_ENABLED": "false",
                       "STYRKEDJA_OUTBOX_ENABLED": "false", "STYRKEDJA_LOG_LEVEL": "WARNING",
                       "STYRKEDJA_AUTH_ISSUER": issuer_url})
    from styrkedja_reporting.main import create_app
    from styrkedja_reporting.results import read, routes
    from styrkedja_reporting.settings import ReportingSettings

    if os.environ.get("STREAM32_CELLS_PER_TURN"):  # how the peak follows the part's size
        read.CELLS_PER_TURN = routes.CELLS_PER_TURN = int(os.environ["STREAM32_CELLS_PER_TURN"])  # type: ignore[misc]

    app = create_app(ReportingSettings())
    out: dict[str, Any] = {}
    async with app.router.lifespan_context(app):
        for fmt in FORMATS:
            found = []
            for organiser in organisers:
                digest, size, status = hashlib.sha256(), 0, 0
                handle, path = tempfile.mkstemp(suffix=".xlsx")
                file = os.fdopen(handle, "wb")

                async def receive() -> dict[str, Any]:
                    await asyncio.Event().wait()  # the client stays: never a disconnect
                    return {}

                async def send(message: dict[str, Any]) -> None:
                    nonlocal size, status
                    if message["type"] == "http.response.start":
                        status = message["status"]
                    elif message["type"] == "http.response.body":
                        body = message.get("body", b"")
                        size += len(body)
                        # called within this iteration alone: its file, format and digest
                        file.write(body) if fmt == "xlsx" else digest.update(body)  # noqa: B023

                query = f"level=student&organiser_id={organiser}&format={fmt}".encode()
                scope = {"type": "http", "asgi": {"version": "3.0", "spec_version": "2.3"}, "http_version": "1.1",
                         "method": "GET", "scheme": "http", "path": "/v1/results/assessments",
                         "raw_path": b"/v1/results/assessments", "root_path": "", "query_string": query,
                         "server": ("reporting", 80), "client": ("127.0.0.1", 5000),
                         "headers": [(b"host", b"reporting"), (b"authorization", f"Bearer {token}".encode())]}
                first = True

                async def request_first() -> dict[str, Any]:
                    nonlocal first
                    if first:
                        first = False
                        return {"type": "http.request", "body": b"", "more_body": False}
                    return await receive()

                tracemalloc.start()
                before, _ = tracemalloc.get_traced_memory()
                started = time.monotonic()
                await app(scope, request_first, send)
                seconds = time.monotonic() - started
                _, peak = tracemalloc.get_traced_memory()
                tracemalloc.stop()
                file.close()
                sha = _xlsx_cells(path) if fmt == "xlsx" else digest.hexdigest()
                os.unlink(path)
                if status != 200:
                    raise RuntimeError(f"{fmt} {organiser}: {status}")
                found.append({"organiser": organiser, "peak_above_start_mib": round((peak - before) / 2**20, 2),
                              "answer_bytes": size, "sha256": sha, "seconds_under_tracemalloc": round(seconds, 2)})
            out[fmt] = found
    return out


def profile_variant(url: str, issuer, organisers: list[str], code: Path | None) -> dict[str, Any]:  # noqa: ANN001
    token = issuer.mint(roles=["organiser_admin"], organisers=organisers)
    extra = {} if code is None else {"PYTHONPATH": os.pathsep.join(
        [str(code / p) for p in ("services/reporting/src", "packages/kit/src", "packages/contracts/src")]
        + [os.environ.get("PYTHONPATH", "")])}
    done = subprocess.run([sys.executable, __file__, "--child", json.dumps([url, issuer.url, token, organisers])],
                          env={**os.environ, **extra}, capture_output=True, text=True, timeout=1200, check=False)
    if done.returncode != 0:
        raise RuntimeError(done.stderr[-3000:])
    return {"formats": json.loads(done.stdout.strip().splitlines()[-1]), "load": os.getloadavg()[0]}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--child", default=None, help=argparse.SUPPRESS)
    parser.add_argument("--students", type=int, default=1035)
    parser.add_argument("--organisers", type=int, default=3)
    parser.add_argument("--state", type=Path)
    parser.add_argument("--variant", action="append", default=[], help="label=DIR (label= : this checkout)")
    parser.add_argument("--skip-worker", action="store_true", help="the tracemalloc profile only")
    parser.add_argument("--cells-per-turn", type=int, default=None, help="the profile's parts of this many cells")
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args()
    if args.cells_per_turn:
        os.environ["STREAM32_CELLS_PER_TURN"] = str(args.cells_per_turn)
    if args.child:
        url, issuer_url, token, organisers = json.loads(args.child)
        print(json.dumps(asyncio.run(_profile(url, issuer_url, token, organisers))))
        return 0
    from mem31 import one_format
    from reads30 import organisers_of

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
        for variant in args.variant or ["this="]:
            label, _, folder = variant.partition("=")
            code = Path(folder) if folder else None
            found: dict[str, Any] = {"profile": profile_variant(url, issuer, organisers, code)}
            print(label, "profile", json.dumps({f: [r["peak_above_start_mib"] for r in v]
                                                for f, v in found["profile"]["formats"].items()}),
                  f"load {found['profile']['load']:.1f}", flush=True)
            if not args.skip_worker:
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

"""Issue 16, mem31: how far one organiser's student-level results read raises a reporting worker's peak (VmHWM), as
JSON, CSV and xlsx. Each format is read by a fresh worker (uvicorn, one worker, consumer off) so that its first read's
transient shows on its own; then the same read of every other organiser (the freed memory is mostly reused). On a
database `bench/reads30.py --state DIR` filled (the same DIR, the same --students/--organisers), variants alternated.

    .venv/bin/python bench/mem31.py --students 1035 --organisers 3 --state /tmp/reads30 \
        --variant after= --variant before=/tmp/base --variant after2= --variant before2=/tmp/base \
        [--out bench/results/mem31.json]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "bench"))
sys.path.insert(0, str(ROOT / "tests"))

from reads30 import memory, organisers_of  # noqa: E402
from scale28 import serve  # noqa: E402

FORMATS = ("json", "csv", "xlsx")


def one_format(url: str, organisers: list[str], issuer, fmt: str, code: Path | None) -> dict:  # noqa: ANN001
    headers = {"Authorization": "Bearer " + issuer.mint(roles=["organiser_admin"], organisers=organisers)}
    server, port = serve(url, issuer.url, code)
    try:
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=600) as client:
            time.sleep(0.5)
            start = memory(server.pid)["VmHWM"]
            after: list[float] = []
            sizes: list[int] = []
            for organiser in organisers:
                response = client.get("/v1/results/assessments", headers=headers,
                                      params={"level": "student", "organiser_id": organiser, "format": fmt})
                if response.status_code != 200:
                    raise RuntimeError(f"{fmt} {organiser}: {response.status_code} {response.text[:300]}")
                sizes.append(len(response.content))
                after.append(memory(server.pid)["VmHWM"])
    finally:
        server.terminate()
        server.wait(20)
    return {"start_hwm_mib": start, "first_read_jump_mib": round(after[0] - start, 1),
            "hwm_after_each_mib": after, "answer_bytes": sizes, "load": os.getloadavg()[0]}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--students", type=int, default=1035)
    parser.add_argument("--organisers", type=int, default=3)
    parser.add_argument("--state", type=Path, required=True)
    parser.add_argument("--variant", action="append", default=[], help="label=DIR (label= : this checkout)")
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args()
    from styrkedja_devstack.issuer import DevIssuer
    from styrkedja_devstack.postgres import EmbeddedPostgres

    name = f"reads30_{args.students}_{args.organisers}"
    if not (args.state / f"{name}.json").exists():
        raise SystemExit(f"fill it first: bench/reads30.py --students {args.students} --organisers "
                         f"{args.organisers} --state {args.state}")
    pg = EmbeddedPostgres(args.state / "pgdata").start()
    issuer = DevIssuer(args.state, port=None).start()
    url = f"postgresql+asyncpg://{pg.server_url().removeprefix('postgresql://')}/{name}"
    report: dict = {"what": __doc__.splitlines()[0], "command": " ".join(sys.argv), "cores": os.cpu_count(),
                    "at": datetime.now(UTC).isoformat(timespec="seconds"),
                    "size": json.loads((args.state / f"{name}.json").read_text()), "variants": {}}
    try:
        organisers = [str(o) for o in asyncio.run(organisers_of(url)).organisers]
        for variant in args.variant or ["this="]:
            label, _, folder = variant.partition("=")
            found = {fmt: one_format(url, organisers, issuer, fmt, Path(folder) if folder else None)
                     for fmt in FORMATS}
            print(label, json.dumps({f: (v["first_read_jump_mib"], v["hwm_after_each_mib"][-1])
                                     for f, v in found.items()}), flush=True)
            report["variants"][label] = found
            if args.out:
                args.out.write_text(json.dumps(report, indent=1) + "\n")
    finally:
        pg.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())

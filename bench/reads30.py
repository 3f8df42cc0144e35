"""A reporting worker's memory through the per-organiser cell check's reads (issue 16; session 30's 6.4M run peaked
at 252.8 MiB in one worker there). A reporting database filled as `bench/scale28.py` fills it (`TermData`, 64 results
per student, through the consumer's transaction), then reporting under uvicorn (one worker, its consumer off: it takes
every read) and the reads `tests/support.py` `check_by_organiser` makes — every level of one organiser, then the next —
`--passes` times over every organiser. After every read: the worker's VmHWM (the kernel's high-water mark) and VmRSS,
so a peak that grows with the organisers read (something kept) shows apart from one that one read makes (a transient).

    .venv/bin/python bench/reads30.py --students 2760 --organisers 8 --state /tmp/reads30 \
        [--variant before=/tmp/base --variant after=] [--out bench/results/reads30.json]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "bench"))
sys.path.insert(0, str(ROOT / "tests"))

from scale28 import LEVELS, fill, serve  # noqa: E402


def memory(pid: int) -> dict[str, float]:
    """VmHWM and VmRSS of `pid`, MiB."""
    out = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        key, _, value = line.partition(":")
        if key in ("VmHWM", "VmRSS"):
            out[key] = round(int(value.split()[0]) / 1024, 1)
    return out


class _Organisers:
    organisers: list[str]


async def organisers_of(url: str) -> _Organisers:
    """The filled database's organisers (`TermData` draws its ids afresh: another's are not the fill's)."""
    import asyncpg

    conn = await asyncpg.connect(url.replace("postgresql+asyncpg", "postgresql"))
    try:
        found = _Organisers()
        found.organisers = [r[0] for r in await conn.fetch(
            "SELECT DISTINCT organiser_id FROM assessment_facts ORDER BY 1")]
        return found
    finally:
        await conn.close()


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return round(ordered[min(len(ordered) - 1, int(q * len(ordered)))], 1)


def measure(url: str, data, issuer, passes: int, code: Path | None) -> dict:  # noqa: ANN001
    headers = {"Authorization": "Bearer " + issuer.mint(roles=["organiser_admin"], organisers=list(data.organisers))}
    server, port = serve(url, issuer.url, code)
    walls: dict[str, list[float]] = {level: [] for level in LEVELS}
    steps: list[dict] = []
    try:
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=600) as client:
            time.sleep(0.5)
            start = memory(server.pid)
            print(f"  started {start}", flush=True)
            for n in range(passes):
                for organiser in data.organisers:
                    jumps = {}
                    for level in LEVELS:
                        before = memory(server.pid)["VmHWM"]
                        t0 = time.perf_counter()
                        response = client.get("/v1/results/assessments", headers=headers,
                                              params={"level": level, "organiser_id": organiser})
                        walls[level].append((time.perf_counter() - t0) * 1e3)
                        if response.status_code != 200:
                            raise RuntimeError(f"{level} {organiser}: {response.status_code} {response.text[:300]}")
                        jumps[level] = round(memory(server.pid)["VmHWM"] - before, 1)
                    mem = memory(server.pid)
                    metrics = {line.split()[0]: float(line.split()[1]) for line in client.get("/metrics").text
                               .splitlines() if line.startswith(("styrkedja_read_answers", "styrkedja_results_kept"))}
                    steps.append({"pass": n, "organiser": str(organiser), **mem, "hwm_jump_by_level": jumps,
                                  "answers": metrics, "load": os.getloadavg()[0]})
                    print(f"  pass {n} organiser {len(steps)}: {mem} jumps {jumps} load {os.getloadavg()[0]:.1f}",
                          flush=True)
    finally:
        server.terminate()
        server.wait(20)
    return {"start": start, "steps": steps, "peak_hwm_mib": max(s["VmHWM"] for s in steps),
            "wall_ms": {level: {"p50": pct(w, 0.5), "p99": pct(w, 0.99), "max": round(max(w), 1),
                                "mean": round(statistics.fmean(w), 1)} for level, w in walls.items()}}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--students", type=int, default=2760)
    parser.add_argument("--organisers", type=int, default=8)
    parser.add_argument("--passes", type=int, default=2)
    parser.add_argument("--state", type=Path, required=True, help="PostgreSQL here; filled once, reused")
    parser.add_argument("--variant", action="append", default=[],
                        help="label=DIR[|K=V;K=V]: reporting served from that source tree (label= : this checkout) with "
                             "those settings, in order")
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args()
    from styrkedja_devstack.issuer import DevIssuer
    from styrkedja_devstack.postgres import EmbeddedPostgres, ensure_database

    args.state.mkdir(parents=True, exist_ok=True)
    pg = EmbeddedPostgres(args.state / "pgdata").start()
    issuer = DevIssuer(args.state, port=None).start()
    name = f"reads30_{args.students}_{args.organisers}"
    url = f"postgresql+asyncpg://{pg.server_url().removeprefix('postgresql://')}/{name}"
    marker = args.state / f"{name}.json"
    report: dict = {"what": __doc__.splitlines()[0], "command": " ".join(sys.argv), "cores": os.cpu_count(),
                    "at": datetime.now(UTC).isoformat(timespec="seconds"), "variants": {}}
    try:
        if marker.exists():
            size = json.loads(marker.read_text())
            data = asyncio.run(organisers_of(url))
        else:
            ensure_database(pg.server_url(), name)
            size, data = asyncio.run(fill(url, args.students, args.organisers))
            marker.write_text(json.dumps(size))
        report["size"] = size
        print(json.dumps(size), flush=True)
        os.environ.setdefault("STYRKEDJA_METRICS_ON_APP_PORT", "true")  # the caches' counters read between reads
        for variant in args.variant or ["this="]:
            label, _, rest = variant.partition("=")
            folder, _, env = rest.partition("|")
            print(f" variant {label}", flush=True)
            load = os.getloadavg()
            saved = dict(os.environ)
            os.environ.update(dict(item.split("=", 1) for item in env.split(";") if item))
            try:
                result = measure(url, data, issuer, args.passes, Path(folder) if folder else None)
            finally:
                os.environ.clear()
                os.environ.update(saved)
            result["env"] = env
            report["variants"][label] = {**result, "load_before": load, "load_after": os.getloadavg()}
            if args.out:
                args.out.write_text(json.dumps(report, indent=1) + "\n")
    finally:
        pg.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())

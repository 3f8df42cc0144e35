"""The rebuild's growth with its size (issue 16, benchshape): from `bench/speed.py` results on the term shape at
two or more sizes (`--stages write,relay,rebuild --items N`), the exponent `k` of seconds ∝ events ^ k (least
squares on the logarithms of every run), of the rebuild's own wall seconds (its summary's `seconds`: without the
process start, a second or so whatever the size, added back in the estimate) and of the CPU seconds (the rebuild's own and its
PostgreSQL backend's: the measure that holds on a busy machine), and the 6.4M estimate each gives from the
largest run. Writes `bench/results/rebuild-growth.json`, whose `exponent` `speed.py` then uses for
`rebuild_seconds_full_estimate` (a linear guess before): the CPU one where every run has its CPU seconds (the wall
one mixes the load of each run's window: on this shared machine 66k and 402k ran at load 5–7, 1.6M at 1–4), else
the wall one.

    .venv/bin/python bench/rebuild_growth.py results/a.json results/b.json [...]
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
FULL = 100_000 * 16 * 4


def exponent(points: list[tuple[float, float]]) -> float:
    """The slope of log(seconds) over log(events), least squares."""
    xs, ys = [math.log(e) for e, _ in points], [math.log(s) for _, s in points]
    mx, my = sum(xs) / len(xs), sum(ys) / len(ys)
    spread = sum((x - mx) ** 2 for x in xs)
    if spread == 0:
        raise ValueError("the runs need at least two sizes")
    return sum((x - mx) * (y - my) for x, y in zip(xs, ys, strict=True)) / spread


def cpu_seconds(rebuild: dict) -> float | None:
    """The rebuild's CPU seconds, its own and its backend's: the read's, then every job's after it."""
    cpu = rebuild.get("cpu_seconds") or {}
    if not cpu.get("read"):
        return None
    after = cpu.get("after_read") or {side: sum(v[side] for k, v in cpu.items() if k != "read")
                                      for side in ("python", "postgres")}
    return sum(cpu["read"].values()) + sum(after.values())


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("runs", type=Path, nargs="+")
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results" / "rebuild-growth.json")
    args = parser.parse_args()
    runs = []
    for path in args.runs:
        result = json.loads(path.read_text())
        if result.get("shape") != "term" or not result.get("rebuild"):
            raise SystemExit(f"{path}: not a rebuild on the term shape")
        rebuild = result["rebuild"]
        runs.append({"file": path.name, "events": rebuild["events_read"], "seconds": rebuild["seconds"],
                     "process_seconds": rebuild["process_seconds"],
                     "cpu_seconds": cpu_seconds(rebuild), "load_average": result.get("load_average"),
                     "date": result.get("date")})
    wall = exponent([(r["events"], r["seconds"]) for r in runs])
    out: dict = {"exponent": round(wall, 3), "basis": "wall", "wall_exponent": round(wall, 3), "runs": runs}
    largest = max(runs, key=lambda r: r["events"])
    start = largest["process_seconds"] - largest["seconds"]
    out["full_estimate_seconds"] = round(start + largest["seconds"] * (FULL / largest["events"]) ** wall)
    out["full_estimate_seconds_linear"] = round(largest["process_seconds"] * FULL / largest["events"])
    if all(r["cpu_seconds"] for r in runs):
        cpu = exponent([(r["events"], r["cpu_seconds"]) for r in runs])
        out["cpu_exponent"] = out["exponent"] = round(cpu, 3)
        out["basis"] = "cpu"
        out["full_estimate_seconds_by_cpu_exponent"] = round(start + largest["seconds"] * (FULL / largest["events"]) ** cpu)
        out["full_estimate_cpu_seconds"] = round(largest["cpu_seconds"] * (FULL / largest["events"]) ** cpu)
    args.out.write_text(json.dumps(out, indent=2) + "\n")
    print(json.dumps(out, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Issue 16, apply35py: reporting apply's Python per event, before (a `git archive` of a ref, its `src` folders first
on PYTHONPATH) against this tree, in alternated pairs of `profile_apply.py` runs (the harness of this tree for both:
the same data, the same by-handler wrapping, no profiler). Each run's JSON, its load average before and after, and
per pair the after ÷ before of the Python and PostgreSQL CPU per event and of each handler's Python.

    .venv/bin/python bench/apply35py_pairs.py --before-tree /tmp/before --pairs 3 --out bench/results/apply35py.json
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def pythonpath_of(tree: Path) -> str:
    """The `src` folders of every package and service of an exported tree."""
    return os.pathsep.join(str(p) for p in sorted([*tree.glob("packages/*/src"), *tree.glob("services/*/src")]))


def run(label: str, before_tree: Path | None, args: argparse.Namespace) -> dict:
    env = dict(os.environ)
    if before_tree is not None:
        env["PYTHONPATH"] = pythonpath_of(before_tree)
    else:
        env.pop("PYTHONPATH", None)
    with tempfile.NamedTemporaryFile(suffix=".json", delete=False) as out:
        target = Path(out.name)
    load_before = os.getloadavg()
    subprocess.run([sys.executable, str(ROOT / "bench" / "profile_apply.py"), "--data", "deadline-week",
                    "--students", str(args.students), "--batch", "5000", "--warm", "1", "--no-profile",
                    "--by-handler", "--label", label, "--json", str(target)], check=True, env=env,
                   stdout=subprocess.DEVNULL)
    result = json.loads(target.read_text())
    target.unlink()
    events = result["events"]
    batches = result["batches"]
    return {"label": label, "load_before": [round(x, 2) for x in load_before],
            "load_after": [round(x, 2) for x in os.getloadavg()],
            "python_us_per_event": round(result["cpu_seconds_python"] * 1e6 / events, 1),
            "postgres_us_per_event": round(result["cpu_seconds_postgres"] * 1e6 / events, 1),
            "gc_cpu_ms_per_batch": result["gc_cpu_ms_per_batch"],
            "handlers_python_us_per_event": {name: round(h["python_cpu_ms_per_batch"] * batches * 1000 / events, 2)
                                             for name, h in result["by_handler"].items()},
            "handlers_postgres_us_per_event": {name: round(h["postgres_cpu_ms_per_batch"] * batches * 1000 / events, 2)
                                               for name, h in result["by_handler"].items()},
            "recomputation_mismatches": sum(result["recomputation_mismatches"].values()),
            "rows_per_event": result["rows_per_event"]["total"], "run": result}


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--before-tree", type=Path, required=True, help="an exported tree (git archive) of the before ref")
    parser.add_argument("--pairs", type=int, default=3)
    parser.add_argument("--students", type=int, default=1200)
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args()
    runs: list[dict] = []
    for n in range(args.pairs):
        # alternated: before first in the even pairs, after first in the odd ones
        order = [("before", args.before_tree), ("after", None)]
        for side, tree in order if n % 2 == 0 else order[::-1]:
            runs.append({"pair": n + 1, **run(side, tree, args)})
            last = runs[-1]
            print(f"pair {n + 1} {side}: Python {last['python_us_per_event']} µs/event, PostgreSQL "
                  f"{last['postgres_us_per_event']}, gc {last['gc_cpu_ms_per_batch']} ms/batch, mismatches "
                  f"{last['recomputation_mismatches']}, load {last['load_before'][0]} → {last['load_after'][0]}",
                  flush=True)
    pairs = []
    for n in range(args.pairs):
        before = next(r for r in runs if r["pair"] == n + 1 and r["label"] == "before")
        after = next(r for r in runs if r["pair"] == n + 1 and r["label"] == "after")
        pairs.append({"pair": n + 1,
                      "python_ratio": round(after["python_us_per_event"] / before["python_us_per_event"], 3),
                      "postgres_ratio": round(after["postgres_us_per_event"] / before["postgres_us_per_event"], 3),
                      "handlers_python_ratio": {
                          name: round(after["handlers_python_us_per_event"][name] / us, 3)
                          for name, us in before["handlers_python_us_per_event"].items()
                          if us and name in after["handlers_python_us_per_event"]}})

    def median(side: str, key: str) -> float:
        return round(statistics.median(r[key] for r in runs if r["label"] == side), 1)

    summary = {side: {key: median(side, key) for key in ("python_us_per_event", "postgres_us_per_event",
                                                          "gc_cpu_ms_per_batch")} for side in ("before", "after")}
    summary["python_ratio_median"] = statistics.median(p["python_ratio"] for p in pairs)
    summary["postgres_ratio_median"] = statistics.median(p["postgres_ratio"] for p in pairs)
    args.out.write_text(json.dumps({"students": args.students, "batch": 5000, "summary": summary, "pairs": pairs,
                                    "runs": runs}, indent=2) + "\n")
    print(json.dumps(summary))
    return 0 if all(r["recomputation_mismatches"] == 0 for r in runs) else 1


if __name__ == "__main__":
    sys.exit(main())

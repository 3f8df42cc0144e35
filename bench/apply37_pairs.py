"""Issue 16, apply37: reporting apply's CPU per event, before (a `git archive` of a ref, its `src` folders first on
PYTHONPATH) against this tree, in alternated pairs of `profile_apply.py` runs (this tree's harness for both: the same
data, the same by-handler wrapping, pg_stat_statements, no profiler). Per run: Python and PostgreSQL µs per event,
each handler's Python and PostgreSQL ms per batch, the statements' backend ms and buffers per batch, rows written per
event, the recomputation's mismatches, the load average before and after. Per pair: after ÷ before of the totals and
of each handler, and each handler's ratio divided by the ratio of the handlers this change does not touch (the load
moves every handler of a run together).

    .venv/bin/python bench/apply37_pairs.py --before-tree /tmp/before --pairs 4 --out bench/results/apply37.json
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
#: the handlers no cut of apply37 touches: their ratio is the pair's load drift
UNCHANGED = ("results.handlers.apply_results", "alerts.freshness.evaluate_batch", "alerts.handlers.note_cells_before",
             "compliance.handlers.apply_compliance")
#: the statements followed by name (a prefix of pg_stat_statements' text)
STATEMENTS = {
    "figures_term_grades_load": ('SELECT f."assessment_id"', '"school_year", j.r->>$4 AS "term"'),
    "figures_pair_results_load": ('SELECT f."assessment_id"', '"subject_code", j.r->>$4 AS "school_year"'),
    "support_newest_unchanged": ("SELECT ARRAY(SELECT ROW(n.*)", ""),
    "figure_students": ("WITH k AS MATERIALIZED (SELECT \"level\", \"unit_id\"", ""),
    "assessment_aggregates": ("WITH up AS (INSERT INTO assessment_aggregates", ""),
    "assessment_facts_insert": ("INSERT INTO assessment_facts", ""),
}


def pythonpath_of(tree: Path) -> str:
    """The `src` folders of every package and service of an exported tree."""
    return os.pathsep.join(str(p) for p in sorted([*tree.glob("packages/*/src"), *tree.glob("services/*/src")]))


def statement(stats: list[dict], prefix: str, part: str) -> dict:
    found = [s for s in stats if s["query"].startswith(prefix) and part in s["query"]]
    return {"exec_ms_per_batch": round(sum(s["exec_ms_per_batch"] for s in found), 2),
            "buffers_per_batch": sum(s["buffers_per_batch"] for s in found),
            "calls_per_batch": round(sum(s["calls_per_batch"] for s in found), 2)}


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
                    "--students", str(args.students), "--batch", "5000", "--warm", str(args.warm), "--no-profile",
                    "--by-handler", "--statements", "--label", label, "--json", str(target),
                    *(["--shuffle"] if args.shuffle else [])], check=True, env=env,
                   stdout=subprocess.DEVNULL)
    result = json.loads(target.read_text())
    target.unlink()
    events, batches = result["events"], result["batches"]
    stats = result.get("statements", [])
    return {"label": label, "load_before": [round(x, 2) for x in load_before],
            "load_after": [round(x, 2) for x in os.getloadavg()],
            "python_us_per_event": round(result["cpu_seconds_python"] * 1e6 / events, 1),
            "postgres_us_per_event": round(result["cpu_seconds_postgres"] * 1e6 / events, 1),
            "gc_cpu_ms_per_batch": result["gc_cpu_ms_per_batch"], "batches": batches, "events": events,
            "handlers_python_ms_per_batch": {n: h["python_cpu_ms_per_batch"] for n, h in result["by_handler"].items()},
            "handlers_postgres_ms_per_batch": {n: h["postgres_cpu_ms_per_batch"] for n, h in result["by_handler"].items()},
            "statements": {name: statement(stats, *match) for name, match in STATEMENTS.items()},
            "recomputation_mismatches": sum(result["recomputation_mismatches"].values()),
            "rows_per_event": result["rows_per_event"], "run": result}


def ratio(after: float, before: float) -> float | None:
    return round(after / before, 3) if before else None


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--before-tree", type=Path, required=True, help="an exported tree (git archive) of the before ref")
    parser.add_argument("--pairs", type=int, default=4)
    parser.add_argument("--students", type=int, default=1200)
    # apply38: profile_apply's ANALYZE is committed since; `--warm 5000` plans the timed batches from statistics of a
    # table one batch full (with 1, of a near-empty one: the first batches' plans as a fresh database's)
    parser.add_argument("--warm", type=int, default=1, help="profile_apply's --warm (events applied untimed first)")
    # apply39: the events in random order — every batch mixes results, term grades and forecasts of many students
    parser.add_argument("--shuffle", action="store_true", help="profile_apply's --shuffle (mixed batches)")
    parser.add_argument("--after-tree", type=Path, default=None,
                        help="an exported tree (git archive) of the after ref (default: this tree, as it is)")
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args()
    runs: list[dict] = []
    for n in range(args.pairs):
        # alternated: before first in the odd pairs (1, 3, …), after first in the even ones
        order = [("before", args.before_tree), ("after", args.after_tree)]
        for side, tree in order if n % 2 == 0 else order[::-1]:
            runs.append({"pair": n + 1, **run(side, tree, args)})
            last = runs[-1]
            print(f"pair {n + 1} {side}: Python {last['python_us_per_event']} µs/event, PostgreSQL "
                  f"{last['postgres_us_per_event']}, mismatches {last['recomputation_mismatches']}, rows/event "
                  f"{last['rows_per_event']['total']}, load {last['load_before'][0]} → {last['load_after'][0]}",
                  flush=True)
    pairs = []
    for n in range(args.pairs):
        before = next(r for r in runs if r["pair"] == n + 1 and r["label"] == "before")
        after = next(r for r in runs if r["pair"] == n + 1 and r["label"] == "after")
        drift = {}
        for side in ("python", "postgres"):
            key = f"handlers_{side}_ms_per_batch"
            drift[side] = ratio(sum(after[key][h] for h in UNCHANGED), sum(before[key][h] for h in UNCHANGED))
        entry: dict = {"pair": n + 1, "python_ratio": ratio(after["python_us_per_event"], before["python_us_per_event"]),
                       "postgres_ratio": ratio(after["postgres_us_per_event"], before["postgres_us_per_event"]),
                       "unchanged_handlers_ratio": drift}
        for side in ("python", "postgres"):
            key = f"handlers_{side}_ms_per_batch"
            entry[f"handlers_{side}_ratio"] = {h: ratio(after[key][h], ms) for h, ms in before[key].items()
                                               if ms and h in after[key]}
            entry[f"handlers_{side}_ratio_over_unchanged"] = {
                h: round(r / drift[side], 3) for h, r in entry[f"handlers_{side}_ratio"].items()
                if r is not None and drift[side]}
        entry["statements_ratio"] = {name: ratio(after["statements"][name]["exec_ms_per_batch"],
                                                 before["statements"][name]["exec_ms_per_batch"])
                                     for name in STATEMENTS}
        pairs.append(entry)

    def median(side: str, key: str) -> float:
        return round(statistics.median(r[key] for r in runs if r["label"] == side), 1)

    summary: dict = {side: {key: median(side, key) for key in ("python_us_per_event", "postgres_us_per_event",
                                                                "gc_cpu_ms_per_batch")} for side in ("before", "after")}
    summary["python_ratio_median"] = statistics.median(p["python_ratio"] for p in pairs)
    summary["postgres_ratio_median"] = statistics.median(p["postgres_ratio"] for p in pairs)
    args.out.write_text(json.dumps({"students": args.students, "batch": 5000, "warm": args.warm, "shuffle": args.shuffle,
                                    "unchanged_handlers": UNCHANGED,
                                    "summary": summary, "pairs": pairs, "runs": runs}, indent=2) + "\n")
    print(json.dumps(summary))
    return 0 if all(r["recomputation_mismatches"] == 0 for r in runs) else 1


if __name__ == "__main__":
    sys.exit(main())

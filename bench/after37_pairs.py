"""Issue 16, after37: the rebuild's after-read jobs, before and after, in alternated pairs on one held stack.

As `after37_pairs.py` (each run `bench/rebuild_read_cpu.py` with the side's exported tree on `--pythonpath`), every
run after the first compared with the first run's database by digests (`--digests-with`: each rebuilt table's row
count and sum of row hashes, the alerts' columns that do not hold the run's time, the outbox's rows), and each run's
whole timeline and per-job CPU kept (the jobs after37 split: the levels' parts, the judgement's parts). The runs alternate A B, B A, A B, …;
`--summarise` reads the runs' lines back and writes the per-job wall and backend CPU, the after-read wall, the
server's CPU after the read and the load of each run, and each pair's after ÷ before.

    .venv/bin/python bench/after37_pairs.py HOLD --side before=/tmp/after37-main --side after=/tmp/after37-branch \
        --pairs 3 --out /tmp/after37-runs.jsonl
    .venv/bin/python bench/after37_pairs.py --summarise /tmp/after37-runs.jsonl --json bench/results/after37.json
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]

#: the jobs each run's line reports by name (wall from the timeline, CPU of its backend); the others summed by group
JOBS = ("claim", "facts.assessment_facts", "facts.assessment_facts.1", "facts.assessment_facts.2", "handlers",
        "bookkeeping", "freshness", "compliance", "below_pass", "levels.assessment_aggregates", "figures.pass",
        "figures.merit", "keys.assessment_facts", "alerts.judge", "alerts.judge.drops", "alerts.judge.below",
        "levels.assessment_aggregates.0", "levels.assessment_aggregates.1", "levels.appended.1", "alerts", "swap")


def tree_path(tree: str) -> str:
    """The PYTHONPATH of an exported tree: its packages' and services' src folders."""
    root = Path(tree)
    return ":".join(str(p) for p in sorted([*root.glob("packages/*/src"), *root.glob("services/*/src")]))


def run(hold: str, label: str, tree: str, out: str, reference: str | None) -> dict[str, Any]:
    command = [sys.executable, str(ROOT / "bench" / "rebuild_read_cpu.py"), hold, "--label", label, "--out", out,
               "--pythonpath", tree_path(tree)]
    if reference:
        command += ["--digests-with", reference]
    done = subprocess.run(command, check=True, stdout=subprocess.PIPE, text=True)
    line: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    print(json.dumps({k: line.get(k) for k in ("label", "seconds", "read_wall_seconds", "after_read_backend_cpu",
                                                "postgres_server_cpu_seconds", "tables_differing_by_digest",
                                                "load_1min_before_after")}), flush=True)
    return line


def of_run(line: dict[str, Any]) -> dict[str, Any]:
    """One run's figures: after-read wall and CPU, per job, the critical path's start of figures.pass."""
    summary = line["summary"]
    cpu, timeline, stages = summary["cpu_seconds"], summary["timeline"], summary["stages"]
    jobs = {}
    for job in JOBS:
        if job in cpu or job in timeline:
            span = timeline.get(job)
            jobs[job] = {"wall": round(span[1] - span[0], 2) if span else stages.get(job),
                         "start": span[0] if span else None,
                         "postgres": cpu.get(job, {}).get("postgres"), "python": cpu.get(job, {}).get("python")}
    groups = {}
    for prefix in ("index.", "keys.", "facts."):
        names = [k for k in cpu if k.startswith(prefix)]
        groups[prefix[:-1]] = {"postgres": round(sum(cpu[k]["postgres"] for k in names), 2),
                               "wall_sum": round(sum(stages.get(k, 0.0) for k in names), 2)}
    read_pg = line["read_cpu_seconds"].get("postgres", 0.0)
    return {"label": line["label"], "database": line["database"], "events": line["events"],
            "seconds": summary["seconds"], "read_seconds": summary["read_seconds"],
            "after_read_wall": summary["apply_seconds"], "derive_wall": stages.get("derive"),
            "after_read_backends": summary["cpu_seconds"].get("after_read"),
            "server_after_read_cpu": round(line["postgres_server_cpu_seconds"] - read_pg, 2),
            "server_whole_run_cpu": line["postgres_server_cpu_seconds"],
            "rebuild_process_cpu": line["rebuild_process_cpu_seconds"],
            "fact_parts": summary["stage_counts"].get("fact_parts"),
            "jobs": jobs, "groups": groups, "tables_differing_by_digest": line.get("tables_differing_by_digest"),
            "timeline": {k: [round(v[0], 2), round(v[1], 2)] for k, v in timeline.items()},
            "cpu": {k: [v["python"], v["postgres"]] for k, v in cpu.items() if k in timeline},
            "load_1min_before_after": line["load_1min_before_after"]}


def summarise(path: str) -> dict[str, Any]:
    runs = [of_run(json.loads(text)) for text in Path(path).read_text().splitlines() if text.strip()]
    pairs = []
    for first, second in zip(runs[0::2], runs[1::2], strict=False):
        a, b = sorted((first, second), key=lambda r: r["label"] != "before")
        ratios = {"after_read_wall": round(b["after_read_wall"] / a["after_read_wall"], 3),
                  "after_read_backends_postgres": round(b["after_read_backends"]["postgres"]
                                                        / a["after_read_backends"]["postgres"], 3),
                  "server_after_read_cpu": round(b["server_after_read_cpu"] / a["server_after_read_cpu"], 3)}
        pairs.append({"order": [first["label"], second["label"]], "before": a["database"], "after": b["database"],
                      "after_over_before": ratios})
    return {"runs": runs, "pairs": pairs}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("hold", nargs="?")
    parser.add_argument("--side", action="append", default=[], help="LABEL=TREE (an exported tree), two of them")
    parser.add_argument("--pairs", type=int, default=3)
    parser.add_argument("--out", default="/tmp/after37-runs.jsonl")
    parser.add_argument("--reference", default=None, help="the database every run is compared with (default: the first)")
    parser.add_argument("--summarise", default=None, help="a runs file: write its summary (--json)")
    parser.add_argument("--json", default=None)
    args = parser.parse_args()
    if args.summarise:
        summary = summarise(args.summarise)
        text = json.dumps(summary, indent=1)
        if args.json:
            Path(args.json).write_text(text + "\n")
        print(json.dumps(summary["pairs"], indent=1))
        return 0
    sides = [tuple(s.split("=", 1)) for s in args.side]
    if len(sides) != 2 or not args.hold:
        parser.error("a hold file and two --side LABEL=TREE")
    reference = args.reference
    for pair in range(args.pairs):
        for label, tree in (sides if pair % 2 == 0 else sides[::-1]):
            line = run(args.hold, label, tree, args.out, reference)
            reference = reference or line["database"]
    return 0


if __name__ == "__main__":
    sys.exit(main())

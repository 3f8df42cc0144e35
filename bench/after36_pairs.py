"""Issue 16, after36: the rebuild's after-read jobs, before and after, in alternated pairs on one held stack.

Each run is `bench/rebuild_read_cpu.py` (a fresh migrated database, the whole server's CPU at the read's end and at
the run's end) with the side's tree on `--pythonpath` (both sides exported: rebuild34's advice), every run after the
first compared row for row with the first run's database (`--compare-with`). The runs alternate A B, B A, A B, …;
`--summarise` reads the runs' lines back and writes the per-job wall and backend CPU, the after-read wall, the
server's CPU after the read and the load of each run, and each pair's after ÷ before.

    .venv/bin/python bench/after36_pairs.py HOLD --side before=/tmp/main-tree --side after=/tmp/branch-tree \
        --pairs 3 --out /tmp/after36-runs.jsonl
    .venv/bin/python bench/after36_pairs.py --summarise /tmp/after36-runs.jsonl --json bench/results/after36.json
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]

#: the jobs each run's line reports by name (wall from the timeline, CPU of its backend); the others summed by group
JOBS = ("claim", "facts.assessment_facts", "facts.assessment_facts.1", "facts.assessment_facts.2", "handlers",
        "bookkeeping", "freshness", "compliance", "below_pass", "levels.assessment_aggregates", "figures.pass",
        "figures.merit", "keys.assessment_facts", "alerts.judge", "alerts", "swap")


def tree_path(tree: str) -> str:
    """The PYTHONPATH of an exported tree: its packages' and services' src folders."""
    root = Path(tree)
    return ":".join(str(p) for p in sorted([*root.glob("packages/*/src"), *root.glob("services/*/src")]))


def run(hold: str, label: str, tree: str, out: str, reference: str | None,
        compare: str = "--compare-with") -> dict[str, Any]:
    """One run of `rebuild_read_cpu.py` with `tree`'s code, compared with `reference` by `compare` (row for row, or
    `--digests-with`)."""
    command = [sys.executable, str(ROOT / "bench" / "rebuild_read_cpu.py"), hold, "--label", label, "--out", out,
               "--pythonpath", tree_path(tree)]
    if reference:
        command += [compare, reference]
    done = subprocess.run(command, check=True, stdout=subprocess.PIPE, text=True)
    line: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    print(json.dumps({k: line.get(k) for k in ("label", "seconds", "read_wall_seconds", "after_read_backend_cpu",
                                                "postgres_server_cpu_seconds", "differing_rows",
                                                "tables_differing_by_digest", "load_1min_before_after")}), flush=True)
    return line


def of_run(line: dict[str, Any], jobs_named: Sequence[str] = JOBS, whole: bool = False) -> dict[str, Any]:
    """One run's figures: after-read wall and CPU, per job (`jobs_named`), the critical path's start of figures.pass;
    `whole`: with the run's whole timeline and per-job CPU, and its digests' verdict in place of the rows compared."""
    summary = line["summary"]
    cpu, timeline, stages = summary["cpu_seconds"], summary["timeline"], summary["stages"]
    jobs = {}
    for job in jobs_named:
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
    figures = {"label": line["label"], "database": line["database"], "events": line["events"],
            "seconds": summary["seconds"], "read_seconds": summary["read_seconds"],
            "after_read_wall": summary["apply_seconds"], "derive_wall": stages.get("derive"),
            "after_read_backends": summary["cpu_seconds"].get("after_read"),
            "server_after_read_cpu": round(line["postgres_server_cpu_seconds"] - read_pg, 2),
            "server_whole_run_cpu": line["postgres_server_cpu_seconds"],
            "rebuild_process_cpu": line["rebuild_process_cpu_seconds"],
            "fact_parts": summary["stage_counts"].get("fact_parts"),
            "jobs": jobs, "groups": groups, "differing_rows": line.get("differing_rows"),
            "load_1min_before_after": line["load_1min_before_after"]}
    if whole:
        del figures["differing_rows"]
        figures["tables_differing_by_digest"] = line.get("tables_differing_by_digest")
        figures["timeline"] = {k: [round(v[0], 2), round(v[1], 2)] for k, v in timeline.items()}
        figures["cpu"] = {k: [v["python"], v["postgres"]] for k, v in cpu.items() if k in timeline}
    return figures


def summarise(path: str, of: Callable[[dict[str, Any]], dict[str, Any]] = of_run) -> dict[str, Any]:
    runs = [of(json.loads(text)) for text in Path(path).read_text().splitlines() if text.strip()]
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


def main(doc: str = __doc__ or "", default_out: str = "/tmp/after36-runs.jsonl",
         of: Callable[[dict[str, Any]], dict[str, Any]] = of_run, compare: str = "--compare-with") -> int:
    """The command (after37_pairs.py is this one with its own jobs, digests and whole runs)."""
    parser = argparse.ArgumentParser(description=doc.splitlines()[0])
    parser.add_argument("hold", nargs="?")
    parser.add_argument("--side", action="append", default=[], help="LABEL=TREE (an exported tree), two of them")
    parser.add_argument("--pairs", type=int, default=3)
    parser.add_argument("--out", default=default_out)
    parser.add_argument("--reference", default=None, help="the database every run is compared with (default: the first)")
    parser.add_argument("--summarise", default=None, help="a runs file: write its summary (--json)")
    parser.add_argument("--json", default=None)
    args = parser.parse_args()
    if args.summarise:
        summary = summarise(args.summarise, of)
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
            line = run(args.hold, label, tree, args.out, reference, compare)
            reference = reference or line["database"]
    return 0


if __name__ == "__main__":
    sys.exit(main())

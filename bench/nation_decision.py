"""The cold disclosure decision of a public reader (every level suppressed) at nation level (issue 16, nation19):
`protect_tree` on one subject's component, CPU seconds, base code against this code in processes of their own,
alternated, with a digest of every decision (withheld, outcome withheld, unprotectable) that must be equal.

The state is `bench/nation_read.py --build-only`'s (290 organisers, each with its own school units, areas and students;
STYRKEDJA_POSTGRES_URL a server that outlives that run). The component's rows are read once (`components_read`,
untimed: ~2 s) and cut to the first `--organisers` organisers (every level of each, the nation as their sum), so the
same rows are decided at 48, 96 … 290 organisers.

    .venv/bin/python bench/nation_decision.py --state-url URL --before-code /tmp/base --organisers 48,96 --rounds 3
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import json
import os
import pickle
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]


async def read_component(url: str, subject: int) -> bytes:
    from sqlalchemy import text

    from styrkedja_kit.auth import Level
    from styrkedja_kit.db import Database
    from styrkedja_reporting.access import decision

    db = Database(url)
    try:
        async with db.sessions() as session:
            school_year = (await session.execute(text("SELECT school_year FROM assessment_aggregates LIMIT 1"))).scalar_one()
            subjects = list((await session.execute(text(
                "SELECT DISTINCT subject_code FROM assessment_aggregates ORDER BY 1"))).scalars())
            component = ("assessment", school_year, subjects[subject])
            read, placed = await decision.components_read(session, [component], decision.left_out(frozenset(Level)))
            return pickle.dumps((component, read[component], dict(placed)))
    finally:
        await db.dispose()


def decide(rows_file: Path, organisers: int) -> dict[str, Any]:
    """One decision on the first `organisers` organisers' rows: its CPU seconds and digest."""
    from styrkedja_kit.auth import Level
    from styrkedja_reporting.access import decision
    from styrkedja_reporting.access.complement import protect_tree
    from styrkedja_reporting.access.disclosure import DisclosureRules

    component, raw, placed = pickle.loads(rows_file.read_bytes())
    keep = set(sorted({r[1] for table in raw.values() for r in table})[:organisers])
    raw = {table: [r for r in rows if r[1] in keep] for table, rows in raw.items()}
    without = decision.left_out(frozenset(Level))
    tree, links = decision.tree_of(decision.component_rows_of(component, raw), placed, without)
    at = time.process_time()
    taken = protect_tree(tree, suppressed=frozenset(Level), rules=DisclosureRules(), links=links)
    cpu = time.process_time() - at
    digest = hashlib.blake2b(repr([sorted(map(repr, s)) for s in (
        taken.withheld, taken.outcome_withheld, taken.unprotectable)]).encode(), digest_size=16).hexdigest()
    return {"cpu_s": round(cpu, 3), "digest": digest, "cells": len(taken.cells), "withheld": len(taken.withheld),
            "rows": len(tree)}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--state-url", required=True)
    parser.add_argument("--before-code", type=Path, default=None, help="a source tree of the base code")
    parser.add_argument("--organisers", default="48,96")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--subject", type=int, default=0)
    parser.add_argument("--only-after", default="", help="organiser counts decided by this code alone (too slow before)")
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results" / "nation19-decision.json")
    parser.add_argument("--decide", type=Path, default=None, help=argparse.SUPPRESS)
    parser.add_argument("--count", type=int, default=0, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.decide:
        print(json.dumps(decide(args.decide, args.count)))
        return 0
    work = Path(tempfile.mkdtemp(prefix="styrkedja-bench-decision-"))
    rows_file = work / "rows.pickle"
    rows_file.write_bytes(asyncio.run(read_component(args.state_url, args.subject)))
    base = None if args.before_code is None else os.pathsep.join(
        str(args.before_code / p) for p in ("services/reporting/src", "packages/kit/src"))

    def run(variant: str, count: int) -> dict[str, Any]:
        env = dict(os.environ)
        env.pop("PYTHONPATH", None)
        if variant == "before":
            env["PYTHONPATH"] = base or ""
        done = subprocess.run([sys.executable, __file__, "--state-url", args.state_url, "--decide", str(rows_file),
                               "--count", str(count)], env=env, check=True, capture_output=True, text=True)
        got = json.loads(done.stdout.strip().splitlines()[-1])
        got["load_1min"] = round(os.getloadavg()[0], 2)
        print(variant, count, json.dumps(got), flush=True)
        return got

    results: dict[str, Any] = {"when": datetime.now(UTC).isoformat(timespec="seconds"), "pairs": {}, "after_only": {}}
    variants = ["before", "after"] if base else ["after"]
    for count in [int(c) for c in args.organisers.split(",") if c]:
        pairs = []
        for n in range(args.rounds):
            pairs.append({v: run(v, count) for v in (variants if n % 2 == 0 else variants[::-1])})
        results["pairs"][count] = {"rounds": pairs, "median_cpu_s": {
            v: statistics.median(p[v]["cpu_s"] for p in pairs) for v in variants},
            "identical": len({p[v]["digest"] for p in pairs for v in variants}) == 1}
    for count in [int(c) for c in args.only_after.split(",") if c]:
        results["after_only"][count] = run("after", count)
    args.out.write_text(json.dumps(results, indent=1) + "\n")
    same = all(r["identical"] for r in results["pairs"].values())
    print(json.dumps({c: (r["median_cpu_s"], r["identical"]) for c, r in results["pairs"].items()}))
    return 0 if same else 1


if __name__ == "__main__":
    sys.exit(main())

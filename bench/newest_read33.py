"""Support's newest-result read (`support.linked.newest_unchanged_statement`) of this checkout against a git ref's,
on one database: the deadline week (`profile_apply.py --data deadline-week`) applied in parts by this checkout, and
after each part its last batch's read (its results' (organiser, student, subject) keys, its ids left out: the
state the live read meets, the batch's facts stored and nothing after them) run by both statements in turn, each
with only its own index (the other dropped inside a transaction rolled back: one table, one heap, either index),
`--repeat` times alternated. Server time from `EXPLAIN (ANALYZE, TIMING OFF, BUFFERS)` (no per-node clock), the
plan's shared buffers, and the rows equal. A wall clock on a shared machine moves with the neighbours; two
statements alternated within milliseconds meet the same load.

    .venv/bin/python bench/newest_read33.py [--students 1200] [--parts 4] [--repeat 7] [--before-ref HEAD~1]
"""

from __future__ import annotations

import argparse
import asyncio
import importlib.util
import json
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "bench"))

from profile_apply import apply_all  # noqa: E402

from styrkedja_devstack.postgres import EmbeddedPostgres, ensure_database  # noqa: E402

LINKED = "services/reporting/src/styrkedja_reporting/support/linked.py"
#: the index each statement was written for: this checkout's (`FACTS_NEWEST_INDEX`) and migration 0019's
OLD_INDEX = "ix_assessment_facts_student_subject"


def linked_of(ref: str):  # noqa: ANN201
    """`support.linked` as it is at `ref`, loaded beside this checkout's package (its relative imports resolve here)."""
    source = subprocess.run(["git", "-C", str(ROOT), "show", f"{ref}:{LINKED}"], check=True, capture_output=True,
                            text=True).stdout
    spec = importlib.util.spec_from_loader("styrkedja_reporting.support._linked_before", loader=None)
    assert spec is not None
    module = importlib.util.module_from_spec(spec)
    module.__package__ = "styrkedja_reporting.support"
    exec(compile(source, f"{ref}:{LINKED}", "exec"), module.__dict__)  # noqa: S102
    return module


async def compare(url: str, batch_events: list, before, repeat: int) -> dict:
    from sqlalchemy import text

    from styrkedja_kit.db import Database
    from styrkedja_reporting.results.tables import FACTS_NEWEST_INDEX
    from styrkedja_reporting.support import linked

    facts = [e.data for e in batch_events if e.type.endswith("assessment.published.v1")]
    subjects = {(f.organiser_id, f.student_id, f.subject_code) for f in facts}
    changed = [(f.organiser_id, f.assessment_id) for f in facts]
    sides = {"after": (linked, OLD_INDEX), "before": (before, FACTS_NEWEST_INDEX)}
    db = Database(url)
    out: dict = {"keys": len(subjects), "changed": len(changed)}
    try:
        async with db.engine.begin() as conn:
            await conn.execute(text(f"CREATE INDEX IF NOT EXISTS {OLD_INDEX} ON assessment_facts "
                                    "(student_id, subject_code, school_year, term)"))
            await conn.execute(text("ANALYZE assessment_facts"))
        runs: dict[str, list[tuple[float, int]]] = {side: [] for side in sides}
        rows: dict[str, list] = {}
        for n in range(repeat):
            for side in (("before", "after") if n % 2 == 0 else ("after", "before")):
                module, other = sides[side]
                sql, params = module.newest_unchanged_statement(set(), subjects, changed)
                async with db.engine.connect() as conn, conn.begin() as tx:
                    await conn.execute(text(f"DROP INDEX {other}"))  # only its own index, till the rollback
                    plan = (await conn.execute(text(f"EXPLAIN (ANALYZE, TIMING OFF, BUFFERS, FORMAT JSON) {sql}"),
                                               params)).scalar_one()
                    if side not in rows:
                        rows[side] = sorted(tuple(r) for r in (await conn.execute(text(sql), params)).all())
                        out[f"{side}_plan_nodes"] = sorted(node_types(plan[0]["Plan"]))
                    await tx.rollback()
                top = plan[0]
                runs[side].append((top["Execution Time"], top["Plan"].get("Shared Hit Blocks", 0)
                                   + top["Plan"].get("Shared Read Blocks", 0)))
        for side, got in runs.items():
            out[side] = {"execution_ms": [round(t, 2) for t, _ in got],
                         "median_ms": round(statistics.median(t for t, _ in got), 2), "buffers": got[0][1]}
        out["ratio_after_over_before"] = round(out["after"]["median_ms"] / out["before"]["median_ms"], 3)
        out["rows_equal"] = rows["before"] == rows["after"]
        out["rows"] = len(rows["after"])
    finally:
        await db.dispose()
    return out


def node_types(plan: dict) -> frozenset[str]:
    found = {plan["Node Type"] + (f" {plan['Scan Direction']}" if plan.get("Scan Direction") == "Backward" else "")}
    for child in plan.get("Plans", ()):
        found |= node_types(child)
    return frozenset(found)


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--students", type=int, default=1200)
    parser.add_argument("--parts", type=int, default=4, help="the events applied in this many parts, each's last batch read")
    parser.add_argument("--batch", type=int, default=5000)
    parser.add_argument("--repeat", type=int, default=7)
    parser.add_argument("--before-ref", default="HEAD~1")
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args()
    from deadline_week import deadline_organisation, deadline_results

    before = linked_of(args.before_ref)
    directory, groups = deadline_organisation(args.students)
    events = deadline_results(random.Random(7), groups)
    state = Path(tempfile.mkdtemp(prefix="styrkedja-newest33-"))
    state.chmod(0o755)
    pg = EmbeddedPostgres(state / "pgdata").start()
    try:
        ensure_database(pg.server_url(), "newest33")
        url = f"postgresql+asyncpg://{pg.server_url().removeprefix('postgresql://')}/newest33"
        batches = -(-len(events) // args.batch)
        ends = sorted({max(1, round(batches * (i + 1) / args.parts)) * args.batch for i in range(args.parts)})
        results, done = [], 0
        with open("/proc/loadavg") as f:
            load_start = f.read().split()[:3]
        for end in ends:
            end = min(end, len(events))
            asyncio.run(apply_all(url, state / "pgdata", directory, events[done:end], args.batch, live_alerts=True))
            done = end
            part = asyncio.run(compare(url, events[max(0, end - args.batch):end], before, args.repeat))
            part["events_applied"] = end
            print(json.dumps(part))
            results.append(part)
        with open("/proc/loadavg") as f:
            load_end = f.read().split()[:3]
        summary = {"students": args.students, "batch": args.batch, "repeat": args.repeat, "before_ref": args.before_ref,
                   "load_start": load_start, "load_end": load_end, "parts": results}
        if args.json is not None:
            args.json.write_text(json.dumps(summary, indent=2) + "\n")
        return 0 if all(p["rows_equal"] for p in results) else 1
    finally:
        pg.stop()
        shutil.rmtree(state, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())

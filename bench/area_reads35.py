"""The reads of the results' aggregates before and after apply35pg (assessment_aggregates and forecast_aggregates keep
no area rows; an area's cells are its school units' rows summed as they are read, `results.tables.with_areas`): the
same deadline week applied by each code into a database of its own, then each read timed and its answer compared.

A variant runs in a process of its own (`PYTHONPATH`: the base code's `src` folders first for `before`, as
bench/README.md describes); this script runs both, `--rounds` times alternated, and writes the JSON. Per variant: the
aggregates' rows per level, and per read the ms of each call (median of `--calls`, in-process: SQL + Python, one
session, the answer cache passed by: `_read_cells`) and a digest of its answer. The answers must be equal between the
variants (exit status 1 if not): the results and forecasts read of every unit of each level and of one unit of each
level, the disclosure decision's rows of every level (`_results_raw`, every subject), and the alerts' judgement of
every cell of the organiser (`judge_all`, reads only).

    .venv/bin/python bench/area_reads35.py --before-code /tmp/base [--students 1200] [--rounds 2]
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import json
import os
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "bench"))

LEVELS = ("group", "school_unit", "area", "organiser", "nation")


def _variant(students: int, calls: int) -> dict[str, Any]:
    """Apply the deadline week into a fresh embedded PostgreSQL with the code on the path, then time the reads."""
    from styrkedja_devstack.postgres import EmbeddedPostgres, ensure_database

    state = Path(tempfile.mkdtemp(prefix="styrkedja-area35-"))
    state.chmod(0o755)
    pg = EmbeddedPostgres(state / "pgdata").start()
    try:
        ensure_database(pg.server_url(), "area35")
        url = f"postgresql+asyncpg://{pg.server_url().removeprefix('postgresql://')}/area35"
        return asyncio.run(_apply_and_read(url, students, calls))
    finally:
        pg.stop()
        shutil.rmtree(state, ignore_errors=True)


async def _apply_and_read(url: str, students: int, calls: int) -> dict[str, Any]:
    from deadline_week import deadline_organisation, deadline_results
    from figures_read import ORGANISER, SUBJECTS, TOPICS
    from sqlalchemy import text

    from styrkedja_kit.consumer import ConsumerLoop, Delivered
    from styrkedja_kit.db import Database
    from styrkedja_kit.settings import ServiceSettings
    from styrkedja_reporting.access import decision
    from styrkedja_reporting.alerts.handlers import judge_all
    from styrkedja_reporting.main import handler_registry
    from styrkedja_reporting.persistence import metadata
    from styrkedja_reporting.results import read

    db = Database(url)
    async with db.engine.begin() as conn:
        await conn.run_sync(metadata.create_all)
    registry = handler_registry(live_alerts=True)
    loop = ConsumerLoop(ServiceSettings(database_url=url, kafka_bootstrap_servers="127.0.0.1:9",
                                        client_id="area35"),
                        db, group_id=f"area35-{uuid.uuid4().hex[:6]}", topics=sorted(set(TOPICS.values())),
                        handler=registry, applied_table=metadata.tables["consumer_applied_events"],
                        offsets_table=metadata.tables["consumer_offsets"], handles=registry.handles)
    directory, groups = deadline_organisation(students)
    events = deadline_results(random.Random(7), groups)

    def delivered(items: list, start: int) -> list[Delivered]:
        return [Delivered(e, TOPICS[e.type.split(".")[2]], 0, start + n) for n, e in enumerate(items)]

    for start in range(0, len(directory), 1000):
        await loop._apply(delivered(directory[start:start + 1000], 10_000_000 + start), {})
    for start in range(0, len(events), 5000):
        await loop._apply(delivered(events[start:start + 5000], start), {})
    async with db.engine.begin() as conn:  # committed: an ANALYZE in a transaction rolled back keeps no statistics
        await conn.exec_driver_sql("ANALYZE")
    async with db.engine.connect() as conn:
        rows = {table: dict((await conn.execute(text(f"SELECT level, count(*) FROM {table} GROUP BY 1"))).all())
                for table in ("assessment_aggregates", "forecast_aggregates")}
        # one unit of each level: the school unit with the most rows, its first group, its area
        code = (await conn.execute(text(
            "SELECT unit_id FROM assessment_aggregates WHERE level = 'school_unit' GROUP BY 1 ORDER BY count(*) DESC, 1 "
            "LIMIT 1"))).scalar_one()
        group = (await conn.execute(text(
            "SELECT min(unit_id) FROM assessment_aggregates WHERE level = 'group' AND unit_id LIKE :c"),
            {"c": f"{code}/%"})).scalar_one()
        area = (await conn.execute(text(
            "SELECT area_id FROM school_unit_placements WHERE school_unit_code = :c"), {"c": code})).scalar_one()
    one = {"group": group, "school_unit": code, "area": area, "organiser": ORGANISER, "nation": None}
    calls_of: dict[str, Any] = {}
    for kind in ("assessments", "forecasts"):
        for level in LEVELS:
            every = read.Filters(organiser_id=ORGANISER if level != "nation" else None)
            calls_of[f"{kind}.every.{level}"] = lambda s, k=kind, lv=level, f=every: read._read_cells(s, k, lv, f)
            if level != "nation":
                unit = read.Filters(organiser_id=ORGANISER, unit_id=one[level])
                calls_of[f"{kind}.one.{level}"] = lambda s, k=kind, lv=level, f=unit: read._read_cells(s, k, lv, f)
    calls_of["decision_rows.assessments"] = lambda s: decision._results_raw(s, SUBJECTS, "assessments", "2026/27",
                                                                         frozenset())
    calls_of["decision_rows.forecasts"] = lambda s: decision._results_raw(s, SUBJECTS, "forecasts", "2026/27",
                                                                       frozenset())
    calls_of["judge_all"] = lambda s: judge_all(s, ORGANISER)
    reads: dict[str, Any] = {}
    for name, call in calls_of.items():
        spent = []
        async with db.sessions() as session:
            answer = await call(session)  # once untimed: the plan cached, the pages warm
            for _ in range(calls):
                started = time.perf_counter()
                await call(session)
                spent.append((time.perf_counter() - started) * 1000)
        digest = hashlib.sha256(json.dumps(_canonical(answer), sort_keys=True, default=str).encode()).hexdigest()[:16]
        reads[name] = {"ms_median": round(statistics.median(spent), 3), "ms_min": round(min(spent), 3),
                       "digest": digest}
    await db.dispose()
    return {"events": len(events), "aggregate_rows": rows, "reads": reads}


def _canonical(answer: Any) -> Any:
    """An answer as JSON can hold it, in its own order: cells as their fields, a judgement as its verdicts (its time
    left out: `now` differs between calls; its verdicts, in no particular order, sorted)."""
    if isinstance(answer, list):
        return [a.model_dump() if hasattr(a, "model_dump") else a for a in answer]
    if hasattr(answer, "drops"):
        return {"state": sorted(map(repr, answer.state.active | answer.state.below)),
                "drops": sorted(map(repr, answer.drops)), "below": sorted(map(repr, answer.below))}
    return answer


def _child(side: str, before: Path | None, students: int, calls: int) -> dict[str, Any]:
    env = dict(os.environ)
    if side == "before" and before is not None:
        env["PYTHONPATH"] = os.pathsep.join([*(str(p) for p in sorted(before.glob("packages/*/src"))),
                                             *(str(p) for p in sorted(before.glob("services/*/src"))),
                                             env.get("PYTHONPATH", "")])
    out = subprocess.run([sys.executable, __file__, "--variant", "--students", str(students), "--calls", str(calls)],
                         env=env, check=True, capture_output=True, text=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--before-code", type=Path, default=None)
    parser.add_argument("--students", type=int, default=1200)
    parser.add_argument("--calls", type=int, default=15)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results" / "area_reads35.json")
    parser.add_argument("--variant", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.variant:
        print(json.dumps(_variant(args.students, args.calls)))
        return 0
    runs = []
    for n in range(args.rounds):
        for side in (("before", "after") if n % 2 == 0 else ("after", "before")):
            load = os.getloadavg()
            found = _child(side, args.before_code, args.students, args.calls)
            runs.append({"side": side, "round": n, "load_average": [round(x, 2) for x in load], **found})
            print(side, n, {k: v["ms_median"] for k, v in found["reads"].items()}, flush=True)
    digests = {side: {k: v["digest"] for k, v in runs[i]["reads"].items()} for i, side in ((0, "before"), (1, "after"))}
    equal = digests["before"] == digests["after"]
    summary = {k: {"before_ms_median": round(statistics.median(r["reads"][k]["ms_median"] for r in runs
                                                               if r["side"] == "before"), 3),
                   "after_ms_median": round(statistics.median(r["reads"][k]["ms_median"] for r in runs
                                                              if r["side"] == "after"), 3)}
               for k in runs[0]["reads"]}
    args.out.write_text(json.dumps({"students": args.students, "calls": args.calls, "answers_equal": equal,
                                    "summary": summary, "runs": runs}, indent=1) + "\n")
    print("answers equal:", equal)
    return 0 if equal else 1


if __name__ == "__main__":
    sys.exit(main())

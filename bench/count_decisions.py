"""Cold cost of the count tables' disclosure decisions (`access.decision.counts_decision`): on a state
kept by `bench/figures_read.py --state DIR` (run it with `--support 0.1` for interventions), each support
family's decision (every level, every organiser) and the organiser's roster decision, taken with the
decision cache emptied first — what the first read after a new batch pays; every later read of the same
state looks the decision up. Numbers, never pass/fail.

    .venv/bin/python bench/count_decisions.py --state DIR [--repeat 5] [--out bench/results/count_decisions.json]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import time
from datetime import date
from pathlib import Path

from sqlalchemy import text

from styrkedja_devstack.postgres import EmbeddedPostgres
from styrkedja_kit.auth import Level
from styrkedja_kit.db import Database

ROOT = Path(__file__).resolve().parents[1]
ORGANISER = "2999"
#: the families read per subject and the support table holding their subjects (`support.disclose.VIEWED_BY_SUBJECT`
#: in the code of round 24 on; spelt out here so that the code before it is measured the same way)
VIEWED = {"active": "support_students", "outcome": "support_students", "open": "support_students",
          "below": "support_below_pass", "before_after": "support_facts"}


async def measure(url: str, repeat: int, views: bool = False, only: frozenset[str] | None = None) -> dict:
    from styrkedja_reporting.access import decision
    from styrkedja_reporting.access.disclosure import DisclosureRules
    from styrkedja_reporting.directory.disclose import roster_decision
    from styrkedja_reporting.support.disclose import FAMILIES, family_decision

    db = Database(url)
    rules = DisclosureRules()
    readers = {"politician_public": frozenset(Level),
               "above_unit": frozenset({Level.AREA, Level.ORGANISER, Level.NATION})}
    today = date(2026, 10, 1)
    out: dict = {}
    try:
        for reader, suppressed in readers.items():
            timings: dict[str, dict] = {}
            jobs = {family: (lambda s, f=family, sup=suppressed: family_decision(s, f, None, 8, today, sup, rules))
                    for family in FAMILIES}
            jobs["roster"] = lambda s, sup=suppressed: roster_decision(s, ORGANISER, today, sup, rules)
            if views:
                for family, table in VIEWED.items():
                    async with db.sessions() as session:
                        subjects = [code for (code,) in await session.execute(text(
                            f"SELECT DISTINCT subject_code FROM {table} WHERE subject_code <> '' ORDER BY 1"))]
                    jobs[f"{family}:all_views"] = (
                        lambda s, f=family, sup=suppressed, codes=tuple(subjects): _every_view(
                            s, family_decision, f, codes, today, sup, rules))
            for name, job in jobs.items():
                if only is not None and name.split(":")[0] not in only:
                    continue
                cold, warm, withheld, cells = [], [], 0, 0
                for _ in range(repeat):
                    decision._DECISIONS.clear()
                    async with db.sessions() as session:
                        started = time.perf_counter()
                        found = await job(session)
                        cold.append(time.perf_counter() - started)
                        started = time.perf_counter()
                        await job(session)
                        warm.append(time.perf_counter() - started)
                    withheld, cells = len(found.disclosure.withheld), len(found.disclosure.cells)
                timings[name] = {"cells": cells, "withheld": withheld, "cold_best_ms": round(min(cold) * 1000, 1),
                                 "cold_median_ms": round(sorted(cold)[len(cold) // 2] * 1000, 1),
                                 "warm_best_ms": round(min(warm) * 1000, 2)}
                print(f"{reader:<18} {name:<14} {cells:>6} cells {withheld:>5} withheld "
                      f"cold {timings[name]['cold_median_ms']:7.1f} ms  warm {timings[name]['warm_best_ms']:6.2f} ms",
                      flush=True)
            out[reader] = timings
    finally:
        await db.dispose()
    return out


async def _every_view(session, family_decision, family: str, subjects: tuple[str, ...], today, suppressed, rules):
    """Every view of a family decided in turn (the every-subject one last: its answer is returned)."""
    for subject in subjects:
        await family_decision(session, family, subject, 8, today, suppressed, rules)
    return await family_decision(session, family, None, 8, today, suppressed, rules)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--state", type=Path, required=True)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results" / "count_decisions.json")
    parser.add_argument("--views", action="store_true", help="also every subject's view of the per-subject families")
    parser.add_argument("--only", default=None, help="comma-separated families (and roster) to measure")
    parser.add_argument("--label", default=None)
    parser.add_argument("--append", type=Path, default=None, help="append the run as one JSON line (with --label)")
    args = parser.parse_args()
    only = frozenset(args.only.split(",")) if args.only else None
    pg = EmbeddedPostgres(args.state.resolve() / "pgdata").start()
    try:
        url = f"postgresql+asyncpg://{pg.server_url().removeprefix('postgresql://')}/bench_figures"
        result = asyncio.run(measure(url, args.repeat, args.views, only))
    finally:
        pg.stop()
    if args.append is not None:
        import styrkedja_reporting
        with args.append.open("a") as runs:
            runs.write(json.dumps({"label": args.label, "code": styrkedja_reporting.__file__, "result": result}) + "\n")
    else:
        args.out.write_text(json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    main()

"""The rebuild's two biggest aggregates of the facts (figures.pass, levels.assessment_aggregates) whole against
organiser by organiser, on a rebuilt database, alternated (issue 16, sql30): does cutting the after-read statements
into one organiser's facts at a time take away the growth faster than the events (rebuild10: events^1.1-1.3, the
per-row cost of sorts and hashes rising as their working sets leave the caches)?

    .venv/bin/python bench/rebuild_by_organiser.py postgresql://postgres@127.0.0.1:PORT/bench_rebuild_xxxxxx \
        --rounds 2 --out /tmp/by_organiser.json

Each variant runs in a transaction of its own with the rebuild's settings (`work_mem` 256 MB, no parallel workers),
into an unlogged table in a scratch schema, then rolled back; the backend's CPU seconds from /proc and the
database's temp bytes. The facts' organiser index is there (it is built after these statements in the rebuild:
a per-organiser rebuild would have to build it first — its cost is not in these figures)."""

from __future__ import annotations

import asyncio
import json
import os
import sys
from pathlib import Path

from styrkedja_reporting.figures import tables as figure_tables
from styrkedja_reporting.results.tables import ASSESSMENTS

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "bench"))

from measured import RolledBack, rebuild_settings, statement_arguments  # noqa: E402

WITHIN = " AND f.organiser_id = $1"


def _selects() -> dict[str, tuple[str, str]]:
    """name → (the whole's SELECT, one organiser's SELECT with $1)."""
    pass_cols = ", ".join(f'"{c}"' for c in figure_tables.TABLES["pass"].columns)
    dims = ", ".join(f'"{d}"' for d in ASSESSMENTS.dimensions)
    return {
        "figures.pass": (f"SELECT {pass_cols} FROM ({figure_tables._rolled_up_pass()}) AS r",
                         f"SELECT {pass_cols} FROM ({figure_tables._rolled_up_pass(WITHIN)}) AS r"),
        "levels.assessment_aggregates": (f"SELECT {dims}, count FROM ({ASSESSMENTS.recomputed_sql()}) AS r",
                                         f"SELECT {dims}, count FROM ({ASSESSMENTS.recomputed_sql(WITHIN)}) AS r"),
    }


async def one(dsn: str, name: str, by_organiser: bool) -> dict[str, float]:
    whole, part = _selects()[name]
    # the rebuild's pass statement runs without nested loops
    run = RolledBack(dsn, "bench_by_organiser", rebuild_settings(enable_nestloop="off"), count_temp=True)
    async with run:
        connection = run.connection
        organisers = [r[0] for r in await connection.fetch(
            "SELECT DISTINCT organiser_id FROM assessment_facts ORDER BY 1")]
        await run.start_counting_temp()
        rows = 0
        with run.timed() as out:
            if by_organiser:
                await connection.execute(f"CREATE UNLOGGED TABLE t AS {whole} LIMIT 0")
                for organiser in organisers:
                    status = await connection.execute(f"INSERT INTO t {part}", organiser)
                    rows += int(status.rsplit(" ", 1)[1])
            else:
                status = await connection.execute(f"CREATE UNLOGGED TABLE t AS {whole}")
                rows = int(status.rsplit(" ", 1)[1])
    return {**out, "rows": rows, "organisers": len(organisers), "temp_mb": run.temp_mb}


async def main() -> int:
    parser = statement_arguments(__doc__, rounds=2)
    args = parser.parse_args()
    runs = []
    for round_ in range(args.rounds):
        for name in _selects():
            order = (False, True) if round_ % 2 == 0 else (True, False)  # alternated, turned each round
            for by_organiser in order:
                result = {"round": round_, "statement": name, "by_organiser": by_organiser,
                          **await one(args.dsn, name, by_organiser), "load_1min": round(os.getloadavg()[0], 1)}
                runs.append(result)
                print(json.dumps(result), flush=True)
    if args.out:
        args.out.write_text(json.dumps({"dsn_database": args.dsn.rsplit("/", 1)[1], "runs": runs}, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))

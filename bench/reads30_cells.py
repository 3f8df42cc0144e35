"""What one organiser's results read of each level holds as cells (tracemalloc around `results.read._read_cells`, no
scope, no cache): the student level's transient and what `results.read.KEPT` keeps a read of the levels above.
Against a database `bench/reads30.py --state DIR` filled (its PostgreSQL running):

    .venv/bin/python bench/reads30_cells.py postgresql+asyncpg://postgres@127.0.0.1:PORT/reads30_2760_8 ORGANISER
"""

from __future__ import annotations

import asyncio
import sys
import tracemalloc

from styrkedja_kit.db import Database
from styrkedja_reporting.results import read


async def main(url: str, organiser: str) -> None:
    db = Database(url)
    try:
        for level in ("student", "group", "school_unit", "area", "organiser", "nation"):
            async with db.sessions.begin() as session:
                tracemalloc.start()
                cells = await read._read_cells(session, "assessments", level, read.Filters(organiser_id=organiser))
                held, peak = tracemalloc.get_traced_memory()
                tracemalloc.stop()
            print(f"{level:<12} {len(cells):>6} cells, held {held / 2**20:6.2f} MiB (peak {peak / 2**20:6.2f}),"
                  f" {held // max(1, len(cells))} B a cell", flush=True)
            del cells
    finally:
        await db.dispose()


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], sys.argv[2]))

"""Issue 16, mem31: where the bytes of one organiser's student-level results read are (tracemalloc around
`results.read._read_cells`, no scope, then the route's `json_in_turns` encoding of them), twice (the second's
allocation sites printed). Against a database `bench/reads30.py --state DIR` filled (PostgreSQL started here):

    .venv/bin/python bench/mem31_profile.py /tmp/reads30 reads30_1035_3
"""

from __future__ import annotations

import asyncio
import sys
import tracemalloc
from pathlib import Path

from sqlalchemy import text

from styrkedja_devstack.postgres import EmbeddedPostgres
from styrkedja_kit.db import Database
from styrkedja_reporting.results import read, routes


async def main(url: str) -> None:
    db = Database(url)
    try:
        async with db.sessions.begin() as session:
            organiser = (await session.execute(text(
                "SELECT organiser_id FROM assessment_facts ORDER BY 1 LIMIT 1"))).scalar()
        for turn in range(2):
            async with db.sessions.begin() as session:
                tracemalloc.start()
                cells = await read._read_cells(session, "assessments", "student", read.Filters(organiser_id=organiser))
                held, peak = tracemalloc.get_traced_memory()
                sites = tracemalloc.take_snapshot().statistics("lineno")[:8]
            count, size = len(cells), 0
            tracemalloc.reset_peak()
            async for chunk in routes.json_in_turns(cells):  # uses the list up, part by part
                size += len(chunk)
            _, encoding_peak = tracemalloc.get_traced_memory()
            tracemalloc.stop()
            print(f"read {turn}: {count} cells held {held / 2**20:.2f} MiB ({held // max(1, count)} B a cell), peak "
                  f"while reading {peak / 2**20:.2f} MiB; peak while encoding {encoding_peak / 2**20:.2f} MiB; "
                  f"JSON {size / 2**20:.2f} MiB", flush=True)
            if turn:
                for site in sites:
                    print("  ", site)
            del cells
    finally:
        await db.dispose()


if __name__ == "__main__":
    pg = EmbeddedPostgres(Path(sys.argv[1]) / "pgdata").start()
    try:
        asyncio.run(main(f"postgresql+asyncpg://{pg.server_url().removeprefix('postgresql://')}/{sys.argv[2]}"))
    finally:
        pg.stop()

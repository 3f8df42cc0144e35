"""Issue 16, bound28: how much a reporting worker's RSS grows for a results read of N cells — what the bound on one
read (`ReportingSettings.results_read_max_cells`) is chosen by.

Per N, in a fresh process: the rows a student-level read fetches (tuples as asyncpg's records hold them, all at once:
`session.execute` buffers the whole result), made cells by the read's own `results.read._cells`, then encoded by the
route's own `json_in_turns`, the rows popped off their buffer part by part as SQLAlchemy's asyncpg cursor does; RSS (`/proc/self/statm`) before, at the peak of the rows and cells held, and the answer's
bytes. No database: this is what the worker's Python holds, not PostgreSQL's side. Writes results/bound28.json.

    python bench/bound28.py 10000 50000 100000 200000
"""

from __future__ import annotations

import asyncio
import json
import os
import resource
import subprocess
import sys
from collections import deque, namedtuple
from collections.abc import AsyncIterator
from pathlib import Path

GROUP_BY = ["level", "unit_id", "subject_code", "school_year", "term", "round", "kind", "scale", "organiser_id",
            "school_unit_code", "group_id"]
Row = namedtuple("Row", [*GROUP_BY, "value", "count"])  # type: ignore[misc]


def rss_mb() -> float:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


async def one(n: int) -> dict[str, float | int]:
    from styrkedja_reporting.results.read import _cells, _scale
    from styrkedja_reporting.results.routes import json_in_turns

    before = rss_mb()
    # distinct strings per row, as asyncpg decodes each record's text anew
    rows = [Row("student", f"s{i:09d}x", f"GRGRMAT{i % 7:02d}"[:8], "2025/26", "VT", 1 + i % 3, "assessment", "AF",
                f"212000-{i % 9000:04d}", f"{10000000 + i % 5000}", f"g{i % 40}-{i // 400}", "ABCDEF"[i % 6], 1)
            for i in range(n)]
    rows_held = rss_mb()
    buffered = deque(rows)
    del rows

    async def parts() -> AsyncIterator[list[Row]]:  # as a cursor gives them: popped off a buffer
        while buffered:
            yield [buffered.popleft() for _ in range(min(2000, len(buffered)))]

    cells = await _cells(parts(), GROUP_BY, lambda cell: _scale(cell.pop("scale")))
    peak = rss_mb()
    size = 0
    async for chunk in json_in_turns(cells):
        size += len(chunk)
    return {"cells": n, "rss_before_mb": round(before, 1), "rss_rows_mb": round(rows_held, 1),
            "rss_rows_and_cells_mb": round(peak, 1), "growth_mb": round(peak - before, 1),
            "max_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1), "json_bytes": size}


def main() -> None:
    if sys.argv[1:2] == ["--one"]:
        print(json.dumps(asyncio.run(one(int(sys.argv[2])))))
        return
    sizes = [int(a) for a in sys.argv[1:]] or [10_000, 50_000, 100_000, 200_000]
    out = []
    for n in sizes:
        found = json.loads(subprocess.run([sys.executable, __file__, "--one", str(n)], check=True,
                                          capture_output=True, text=True).stdout)
        print(found, flush=True)
        out.append(found)
    result = {"runs": out, "load_average": os.getloadavg()}
    Path(__file__).with_name("results").joinpath("bound28.json").write_text(json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    main()

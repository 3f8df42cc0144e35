"""EXPLAIN (ANALYZE, BUFFERS) of one 10,000-event batch's assessment_aggregates upsert: unnest arrays vs binary
COPY into the staged table + one merge, each twice in a rolled-back savepoint (issue #16, task cells2).

    .venv/bin/python bench/explain_apply_cells.py > bench/results/explain-apply-cells2.txt
"""
import asyncio
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import apply as bench  # noqa: E402
from sqlalchemy import text  # noqa: E402

from styrkedja_reporting import staging  # noqa: E402
from styrkedja_reporting.results import tables as rt  # noqa: E402

OUT = []

def unnest_sql(store):
    dims = ", ".join(staging.quoted(d) for d in store.dimensions)
    cols = [store.aggregates.c[d] for d in store.dimensions] + [store.aggregates.c["count"]]
    name = store.aggregates.name
    return (f"WITH up AS (INSERT INTO {name} ({dims}, count) SELECT * FROM {staging.unnest_of(cols)} "
            f"ON CONFLICT ({dims}) DO UPDATE SET count = {name}.count + EXCLUDED.count "
            f"RETURNING {dims}, count) SELECT {dims} FROM up WHERE count = 0")

orig = rt.FactStore.add
armed = {"on": False}

async def add(self, session, change):
    if self is rt.ASSESSMENTS and armed["on"]:
        armed["on"] = False
        rows = sorted((*k, n) for k, n in change.items() if n)
        OUT.append(f"rows: {len(rows)}")
        for label in ("unnest", "copy+merge", "unnest", "copy+merge"):
            sp = await session.begin_nested()
            t0 = time.perf_counter()
            if label == "unnest":
                plan = (await session.execute(text("EXPLAIN (ANALYZE, BUFFERS) " + unnest_sql(self)),
                                              staging.as_arrays((*self.dimensions, "count"), rows))).scalars().all()
            else:
                await self._staged.stage(session, rows)
                t1 = time.perf_counter()
                plan = (await session.execute(text("EXPLAIN (ANALYZE, BUFFERS) " + self._add.text))).scalars().all()
                OUT.append(f"  copy itself: {t1 - t0:.3f} s")
            OUT.append(f"== {label}: {time.perf_counter() - t0:.3f} s client wall (incl. EXPLAIN ANALYZE overhead)")
            OUT.extend("  " + line for line in plan)
            await sp.rollback()
            session.info.pop(staging._STAGED, None)
    return await orig(self, session, change)

rt.FactStore.add = add

async def main(state: Path) -> None:
    infra = bench.Infrastructure.start(state, broker_kind=None)
    try:
        directory, events = bench.school_data(7, 30000)
        loop, db, _ = await bench.prepare("x", "styrkedja_reporting", infra, directory, 10000)
        items = bench.delivered(events)
        for start in range(0, len(items), 10000):
            armed["on"] = start == 20000
            await loop._apply(items[start:start + 10000], {})
        await db.dispose()
    finally:
        infra.stop()
    print("\n".join(OUT))

if __name__ == "__main__":
    state = Path(tempfile.mkdtemp(prefix="cells2-explain-"))
    state.chmod(0o755)
    asyncio.run(main(state))

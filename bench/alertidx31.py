"""A page of the alert list read place by place from the list's order indexes (round 31, alertidx31): per reader kind
(organiser admin, area manager, principal, teacher), the list statement of a first page and of a page from the middle
of its list, as `alerts.queries.list_alerts` sends it, in three variants on one database — `before`: one statement
over the candidates (`= ANY` of the places, sorted; the code before this round) without the indexes of migration 0034;
`flat_indexed`: that statement with the indexes; `after`: the statement read place by place (`list_query`) with them.
Each variant answers the same rows (checked). Per statement: median / min wall ms (`repeat` runs, a fresh snapshot
each), the rows PostgreSQL read from the alerts table (EXPLAIN ANALYZE: the rows every scan of `alerts` returned and
removed by a filter, times its loops) and its shared buffers. Then the write side: the apply path's alert upsert
(`insert_rows` with `conflict=alert_id`, as `handlers.store_decisions`) of a batch half new, half changes of stored
alerts, with and without the three indexes, alternated. In-process, no HTTP; `page_of`'s judging is measured by
`bench/alert_pages31.py` (teacher, principal).

    .venv/bin/python bench/alertidx31.py --alerts 1000 10000 50000 [--out bench/results/alertidx31.json]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import insert, text

ORG, CODE, AREA = "2999", "11111111", "north"
T0 = datetime(2026, 10, 1, 8, tzinfo=UTC)
FIGURES = {"students": 12, "compared_students": 12, "share": 0.5, "compared_share": 1.0, "change_points": -50.0,
           "threshold_points": 10.0}
INDEXES = {  # migration 0034's
    "ix_alerts_organiser_newest": "organiser_id, changed_at DESC, alert_id",
    "ix_alerts_school_unit_newest": "organiser_id, school_unit_code, changed_at DESC, alert_id",
    "ix_alerts_unit_newest": "organiser_id, level, unit_id, changed_at DESC, alert_id",
}


def _alert(n: int, unit_id: str, level: str, code: str | None, changed_at: datetime) -> dict[str, Any]:
    return dict(alert_id=uuid.uuid4(), organiser_id=ORG, level=level, unit_id=unit_id, school_unit_code=code,
                subject_code=f"S{n % 50:03d}", year=None, school_year="2026/27", term=None, round=2,
                rule="pass_share_drop", status="open", episode=1, raised_at=changed_at, changed_at=changed_at,
                figures=FIGURES)


def _data(count: int) -> list[dict[str, Any]]:
    """As `alert_pages31.py`: 5 alerts of the group 11111111:7A older than the rest; the rest of the group 7B and of
    the school unit 11111111 — and here every tenth of the area north (an area manager's own)."""
    rows = [_alert(n, f"{CODE}:7A", "group", CODE, T0 - timedelta(minutes=n)) for n in range(5)]
    for n in range(count - 5):
        at = T0 + timedelta(seconds=n)
        rows.append(_alert(n, AREA, "area", None, at) if n % 10 == 9 else
                    _alert(n, f"{CODE}:7B", "group", CODE, at) if n % 2 else _alert(n, CODE, "school_unit", CODE, at))
    return rows


def _scopes() -> dict[str, Any]:
    from styrkedja_reporting.alerts.queries import AlertScope
    orgs = frozenset({ORG})
    return {"organiser_admin": AlertScope(organiser_ids=orgs),
            "area_manager": AlertScope(organiser_ids=orgs, school_unit_codes=frozenset({CODE}),
                                       area_ids=frozenset({AREA})),
            "principal": AlertScope(organiser_ids=orgs, school_unit_codes=frozenset({CODE})),
            "teacher": AlertScope(organiser_ids=orgs, school_unit_codes=frozenset(),
                                  group_unit_ids=frozenset({f"{CODE}:7A"}))}


def _nodes(plan: dict[str, Any]) -> Any:
    yield plan
    for child in plan.get("Plans", []):
        yield from _nodes(child)


async def _explain(session: Any, query: Any) -> dict[str, Any]:
    conn = await session.connection()
    compiled = query.compile(dialect=conn.dialect)
    found = (await conn.exec_driver_sql("EXPLAIN (ANALYZE, BUFFERS, FORMAT JSON) " + str(compiled),
                                        tuple(compiled.params[k] for k in compiled.positiontup or ()))).scalar_one()
    [plan] = json.loads(found) if isinstance(found, str) else found
    scans = [node for node in _nodes(plan["Plan"]) if node.get("Relation Name") == "alerts"]
    return {"rows_read": round(sum((node["Actual Rows"] + node.get("Rows Removed by Filter", 0)) * node["Actual Loops"]
                                   for node in scans)),
            "scans": sorted({f"{node['Node Type']} {node.get('Index Name', '')}".strip() for node in scans}),
            "sort": sorted({node.get("Sort Method", "") for node in _nodes(plan["Plan"]) if node["Node Type"] == "Sort"}),
            "buffers": plan["Plan"].get("Shared Hit Blocks", 0) + plan["Plan"].get("Shared Read Blocks", 0),
            "execution_ms": round(plan["Execution Time"], 2)}


async def _indexes(db: Any, present: bool) -> int:
    async with db.sessions.begin() as session:
        for name, columns in INDEXES.items():
            await session.execute(text(f"CREATE INDEX IF NOT EXISTS {name} ON alerts ({columns})" if present
                                       else f"DROP INDEX IF EXISTS {name}"))
        await session.execute(text("ANALYZE alerts"))
        count: int = (await session.execute(text(
            "SELECT count(*) FROM pg_indexes WHERE tablename = 'alerts'"))).scalar_one()
    return count


async def measure(url: str, count: int, limit: int, repeat: int, batches: list[int], write_repeat: int
                  ) -> dict[str, Any]:
    from styrkedja_kit.db import Database
    from styrkedja_kit.sets import insert_rows
    from styrkedja_reporting.alerts import queries
    from styrkedja_reporting.alerts.tables import alerts

    db = Database(url)
    async with db.sessions.begin() as session:
        await session.execute(alerts.delete())
        rows = _data(count)
        for start in range(0, len(rows), 5000):
            await session.execute(insert(alerts), rows[start:start + 5000])
    async with db.engine.connect() as conn:  # a table as autovacuum keeps it (visibility map set)
        await (await conn.execution_options(isolation_level="AUTOCOMMIT")).exec_driver_sql("VACUUM ANALYZE alerts")
    out: dict[str, Any] = {"alerts": count, "readers": {}}
    variants = (("before", False, queries._every_alert), ("flat_indexed", True, queries._every_alert),
                ("after", True, queries.list_query))
    for label, indexed, build in variants:
        out[f"indexes_{label}"] = await _indexes(db, indexed)
        for name, scope in _scopes().items():
            async with db.snapshot() as session:
                whole = (await session.execute(queries._every_alert({}, scope, None, None))).all()
            middle = whole[len(whole) // 2]
            for page, after in (("first", None), ("middle", (middle.changed_at, middle.alert_id))):
                query = build({}, scope, limit + 1, after)
                walls = []
                for _ in range(repeat):
                    async with db.snapshot() as session:
                        started = time.perf_counter()
                        answer = (await session.execute(query)).all()
                        walls.append(time.perf_counter() - started)
                async with db.snapshot() as session:
                    plan = await _explain(session, query)
                start = 0 if after is None else len(whole) // 2 + 1
                assert [r.alert_id for r in answer] == [r.alert_id for r in whole[start:start + limit + 1]], (
                    label, name, page)
                out["readers"].setdefault(name, {}).setdefault(page, {})[label] = {
                    "page_rows": len(answer), "candidates": len(whole),
                    "median_ms": round(statistics.median(walls) * 1000, 2), "min_ms": round(min(walls) * 1000, 2),
                    **plan}
                print(json.dumps({"alerts": count, "reader": name, "page": page, "variant": label,
                                  **out["readers"][name][page][label]}), flush=True)
    if batches:  # the write side: the same upsert with and without the indexes, alternated
        out["writes"] = {}
        for size in batches:
            timings: dict[str, list[float]] = {"without": [], "with": []}
            for turn in range(2 * write_repeat):
                indexed = turn % 2 == 1
                await _indexes(db, indexed)
                async with db.snapshot() as session:
                    stored = (await session.execute(text(
                        "SELECT alert_id FROM alerts ORDER BY random() LIMIT :n"), {"n": size // 2})).scalars().all()
                moment = T0 + timedelta(days=1 + turn)
                batch = [{**_alert(n, f"{CODE}:7B", "group", CODE, moment), "alert_id": stored[n // 2]}
                         if n % 2 else _alert(n, CODE, "school_unit", CODE, moment) for n in range(size)]
                batch = [{**row, "status": "acknowledged"} if n % 2 else row for n, row in enumerate(batch)]
                started = time.perf_counter()
                async with db.sessions.begin() as session:
                    await insert_rows(session, alerts, batch, conflict=("alert_id",))
                timings["with" if indexed else "without"].append(time.perf_counter() - started)
            out["writes"][str(size)] = {k: {"median_ms": round(statistics.median(v) * 1000, 2),
                                            "min_ms": round(min(v) * 1000, 2), "runs": len(v)}
                                        for k, v in timings.items()}
            print(json.dumps({"alerts": count, "upsert_batch": size, **out["writes"][str(size)]}), flush=True)
    await db.dispose()
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--alerts", type=int, nargs="+", default=[1000, 10000, 50000])
    parser.add_argument("--limit", type=int, default=50)
    parser.add_argument("--repeat", type=int, default=7)
    parser.add_argument("--batches", type=int, nargs="*", default=[100, 1000], help="upsert batch sizes, at the "
                        "largest --alerts only")
    parser.add_argument("--write-repeat", type=int, default=15, help="upserts of each batch size, each way")
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args()
    from styrkedja_devstack.postgres import EmbeddedPostgres, ensure_database
    from styrkedja_kit.migrations import upgrade

    state = Path(tempfile.mkdtemp(prefix="alertidx31-"))
    pg = EmbeddedPostgres(state / "pgdata", durable=False).start()
    report: dict[str, Any] = {"what": __doc__.splitlines()[0], "command": " ".join(sys.argv),
                              "at": datetime.now(UTC).isoformat(timespec="seconds"), "cores": os.cpu_count(),
                              "limit": args.limit, "repeat": args.repeat, "write_repeat": args.write_repeat, "load_before": os.getloadavg(),
                              "sizes": []}
    try:
        ensure_database(pg.server_url(), "alertidx31")
        url = f"postgresql+asyncpg://{pg.server_url().removeprefix('postgresql://')}/alertidx31"
        upgrade("styrkedja_reporting", url)
        for count in args.alerts:
            batches = args.batches if count == max(args.alerts) else []
            report["sizes"].append(asyncio.run(measure(url, count, args.limit, args.repeat, batches,
                                                         args.write_repeat)))
        report["load_after"] = os.getloadavg()
        if args.out:
            args.out.write_text(json.dumps(report, indent=1) + "\n")
    finally:
        pg.stop()


if __name__ == "__main__":
    main()

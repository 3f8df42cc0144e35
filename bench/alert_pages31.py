"""A scoped reader's page of the alert list as the organiser's alerts grow (round 31): the rows one page reads and its
time, for a teacher of one group (5 of the unit's alerts its own, the rest of other groups and the unit's) and a
principal of the unit (every alert of the unit its own). `after`: `alerts.read_scope.page_of`, `limit` + 1
candidates at a time, a teacher's by its groups. `before`: the path it replaced, run in the same process on the same
database — every candidate after the position in one statement (no LIMIT; a teacher's by its groups' school units),
each judged (`readable_rows`, `shown_to`), then the page cut. Both give the same rows (checked). In-process, no HTTP:
the statement and the judging, nothing else.

    .venv/bin/python bench/alert_pages31.py --alerts 1000 10000 50000 [--out bench/results/alert_pages31.json]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import statistics
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import event, insert
from sqlalchemy.engine import Engine

ROOT = Path(__file__).resolve().parents[1]
ORG, CODE = "2999", "11111111"
T0 = datetime(2026, 10, 1, 8, tzinfo=UTC)
FIGURES = {"students": 12, "compared_students": 12, "share": 0.5, "compared_share": 1.0, "change_points": -50.0,
           "threshold_points": 10.0}


class Statements:
    """The alert list's statements a page sent, and each one's LIMIT (None: none)."""

    def __init__(self) -> None:
        self.statements = 0
        self.limits: list[int | None] = []

    def __call__(self, conn: Any, cursor: Any, statement: str, parameters: Any, context: Any, many: bool) -> None:
        if "FROM alerts" in statement and "ORDER BY alerts.changed_at DESC" in statement:
            self.statements += 1
            found = re.search(r"LIMIT \$(\d+)", statement)
            self.limits.append(None if found is None else int(parameters[int(found.group(1)) - 1]))


def _alert(n: int, unit_id: str, level: str, changed_at: datetime) -> dict[str, Any]:
    return dict(alert_id=uuid.uuid4(), organiser_id=ORG, level=level, unit_id=unit_id, school_unit_code=CODE,
                subject_code=f"S{n % 50:03d}", year=None, school_year="2026/27", term=None, round=2,
                rule="pass_share_drop", status="open", episode=1, raised_at=changed_at, changed_at=changed_at,
                figures=FIGURES)


async def measure(url: str, count: int, limit: int, repeat: int) -> dict[str, Any]:
    from styrkedja_kit.auth import GroupRef, Principal, Role
    from styrkedja_kit.db import Database
    from styrkedja_reporting.access.disclosure import DisclosureRules
    from styrkedja_reporting.alerts import read_scope
    from styrkedja_reporting.alerts.queries import AlertScope, list_alerts
    from styrkedja_reporting.alerts.read_scope import page_of, readable_rows, shown_to
    from styrkedja_reporting.alerts.tables import alerts

    db = Database(url)
    own = [_alert(n, f"{CODE}:7A", "group", T0 - timedelta(minutes=n)) for n in range(5)]
    noise = [_alert(n, f"{CODE}:7B" if n % 2 else CODE, "group" if n % 2 else "school_unit",
                    T0 + timedelta(seconds=n)) for n in range(count - len(own))]
    async with db.sessions.begin() as session:
        await session.execute(alerts.delete())
        for start in range(0, len(noise), 5000):
            await session.execute(insert(alerts), noise[start:start + 5000])
        await session.execute(insert(alerts), own)
    readers = {"teacher": Principal("t1", frozenset({Role.TEACHER}), frozenset({ORG}),
                                    groups=frozenset({GroupRef(CODE, "7A")})),
               "principal": Principal("p1", frozenset({Role.PRINCIPAL}), frozenset({ORG}),
                                      school_units=frozenset({CODE}))}
    rules = DisclosureRules()
    read: list[int] = []  # the rows each statement of the list returned

    async def counted(*args: Any) -> Any:
        rows = await list_alerts(*args)
        read.append(len(rows))
        return rows

    read_scope.list_alerts = counted  # type: ignore[assignment]  # what page_of calls
    filters: dict[str, Any] = {}
    out: dict[str, Any] = {"alerts": count}
    for name, reader in readers.items():
        old_scope = AlertScope(organiser_ids=reader.organisers, school_unit_codes=frozenset(
            reader.school_units | {g.school_unit_code for g in reader.groups}))

        async def before(session: Any, reader: Principal = reader, old_scope: AlertScope = old_scope) -> list[Any]:
            found = await readable_rows(session, reader, await counted(session, filters, old_scope, None, None))
            return (await shown_to(session, found, reader, rules))[:limit + 1]

        async def after(session: Any, reader: Principal = reader) -> list[Any]:
            return await page_of(session, reader, reader, rules, filters, limit, None)

        variants: dict[str, Any] = {}
        answers = {}
        for label, page in (("before", before), ("after", after)):
            walls = []
            for _ in range(repeat):
                read.clear()
                hook = Statements()
                event.listen(Engine, "after_cursor_execute", hook)
                try:
                    async with db.snapshot() as session:
                        started = time.perf_counter()
                        rows = await page(session)
                        walls.append(time.perf_counter() - started)
                finally:
                    event.remove(Engine, "after_cursor_execute", hook)
            answers[label] = [row.alert_id for row in rows]
            variants[label] = {"page_rows": len(rows), "rows_read": sum(read), "statements": hook.statements,
                               "limits": hook.limits,
                               "median_ms": round(statistics.median(walls) * 1000, 1),
                               "min_ms": round(min(walls) * 1000, 1)}
        assert answers["before"] == answers["after"], name
        out[name] = variants
        print(json.dumps({"alerts": count, "reader": name, **variants}), flush=True)
    await db.dispose()
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--alerts", type=int, nargs="+", default=[1000, 10000, 50000])
    parser.add_argument("--limit", type=int, default=50)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args()
    from styrkedja_devstack.postgres import EmbeddedPostgres, ensure_database
    from styrkedja_kit.migrations import upgrade

    state = Path(tempfile.mkdtemp(prefix="alert-pages31-"))
    pg = EmbeddedPostgres(state / "pgdata", durable=False).start()
    report: dict[str, Any] = {"what": __doc__.splitlines()[0], "command": " ".join(sys.argv),
                              "at": datetime.now(UTC).isoformat(timespec="seconds"), "cores": os.cpu_count(),
                              "limit": args.limit, "repeat": args.repeat, "load_before": os.getloadavg(),
                              "sizes": []}
    try:
        ensure_database(pg.server_url(), "alert_pages31")
        url = f"postgresql+asyncpg://{pg.server_url().removeprefix('postgresql://')}/alert_pages31"
        upgrade("styrkedja_reporting", url)
        for count in args.alerts:
            report["sizes"].append(asyncio.run(measure(url, count, args.limit, args.repeat)))
        report["load_after"] = os.getloadavg()
        if args.out:
            args.out.write_text(json.dumps(report, indent=1) + "\n")
    finally:
        pg.stop()


if __name__ == "__main__":
    main()

"""How long the bulk rebuild holds the live tables' ACCESS EXCLUSIVE lock (swap13, swap16): from its swap's LOCK TABLE
to the commit, the wall time every read of reporting waits at worst, and the statements run meanwhile — for the
reporting code of a git ref ("before") and of this checkout ("after"), alternated on the same log, each on a fresh
migrated database of one embedded PostgreSQL (no broker: the log is decoded up front and fed in-process, as the
rebuild's integration tests do), each rebuild in a process of its own (the two packages' metrics would clash in one). The log is `bench/apply.py`'s (`school_data`: 2 organisers, 20 schools, rounds 1
and 2, forecasts), with a third organiser whose schools' maths drops between the rounds (an alert at the group and
school-unit level of each, and at its area and organiser): `--dipping 1 250 1000` measures each number of dropping
schools in turn (swap16: what stayed under the lock grew with the dipping cells).
The alerts and the alert events the two sides leave are compared: they must be the same.

    .venv/bin/python bench/swap_lock.py [--events 60000] [--dipping 1] [--before-ref bdd24f0] [--rounds 3]
                                        [--out results/x.json]
"""

from __future__ import annotations

import argparse
import asyncio
import importlib
import json
import os
import pickle
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "bench"))
sys.path.insert(0, str(ROOT / "tests"))
sys.path.insert(0, str(ROOT / "services" / "reporting" / "tests" / "integration"))

from apply import old_package, school_data  # noqa: E402
from sqlalchemy import event, text  # noqa: E402

from styrkedja_contracts import AssessmentPublishedV1, OrganisationUnitUpsertedV1, new_event  # noqa: E402
from styrkedja_devstack.postgres import EmbeddedPostgres, ensure_database  # noqa: E402
from styrkedja_devstack.services import database_url  # noqa: E402
from styrkedja_kit.consumer import Delivered  # noqa: E402
from styrkedja_kit.db import Database  # noqa: E402
from styrkedja_kit.migrations import upgrade  # noqa: E402
from support import delivered_in_order  # noqa: E402

T0 = datetime(2026, 9, 1, 8, tzinfo=UTC)


def dropping_school(schools: int = 1) -> list:
    """Organiser 4001, one area, `schools` school units of one group each: maths 90 % at the pass level in round 1,
    60 % in round 2 (the first school's events as swap13's one school had them)."""
    out = [new_event(OrganisationUnitUpsertedV1(unit_type="organiser", unit_id="4001", organiser_id="4001",
                                                name="D", updated_at=T0), source="/b"),
           new_event(OrganisationUnitUpsertedV1(unit_type="area", unit_id="4001-a", organiser_id="4001",
                                                parent_id="4001", name="a", updated_at=T0), source="/b")]
    for school in range(schools):
        code = f"4001{school + 1:04d}"
        out.append(new_event(OrganisationUnitUpsertedV1(unit_type="school_unit", unit_id=f"su-{code}",
                                                        organiser_id="4001", parent_id="4001-a", name="s",
                                                        school_unit_code=code, updated_at=T0), source="/b"))
        for round_, failing in ((1, 2), (2, 8)):
            for n in range(20):
                value = "F" if n < failing else "C"
                name = f"swap13-{round_}-{n}" if school == 0 else f"swap16-{school}-{round_}-{n}"
                out.append(new_event(AssessmentPublishedV1(
                    assessment_id=uuid.uuid5(uuid.NAMESPACE_URL, name), revision=1,
                    organiser_id="4001", school_unit_code=code, group_id="7A",
                    student_id=f"d-{n}" if school == 0 else f"d-{school}-{n}",
                    teacher_id="t-1", gender="female", year=7, subject_code="GRGRMAT01", kind="assessment",
                    scale="AF", value=value, unmet_criteria=("K1",) if value == "F" else (), school_year="2026/27",
                    term="HT", round=round_, assessed_on=T0.date(), published_at=T0), source="/b"))
    return out


async def one(label: str, package: str, url: str, items: list[Delivered]) -> dict:
    bulk = importlib.import_module(f"{package}.rebuild.bulk")
    handles = importlib.import_module(f"{package}.main").handler_registry(live_alerts=False).handles
    db = Database(url)
    held: dict = {"statements": 0}
    holder: list = []

    def statement(conn, cursor, sql, params, context, executemany) -> None:  # noqa: ANN001
        if holder and holder[0] is conn.connection.dbapi_connection:
            held["statements"] += 1
        elif sql.startswith("LOCK TABLE") and "ACCESS EXCLUSIVE" in sql:
            holder.append(conn.connection.dbapi_connection)
            held["asked"] = time.perf_counter()

    def after(conn, cursor, sql, params, context, executemany) -> None:  # noqa: ANN001
        if holder and holder[0] is conn.connection.dbapi_connection and "granted" not in held:
            held["granted"] = time.perf_counter()  # the LOCK TABLE returned: held from here
            held["backend"] = conn.connection.dbapi_connection.driver_connection.get_server_pid()
            held["cpu"] = (time.process_time(), bulk.process_cpu_seconds(held["backend"]))

    def released(conn) -> None:  # noqa: ANN001
        if holder and holder[0] is conn.connection.dbapi_connection:
            holder.clear()
            held["released"] = time.perf_counter()
            python, postgres = held["cpu"]
            # the backend's CPU read before its COMMIT ran: the commit's own work is not in it
            held["cpu"] = {"python": round(time.process_time() - python, 3),
                           "postgres": round(bulk.process_cpu_seconds(held["backend"]) - postgres, 3)}

    event.listen(db.engine.sync_engine, "before_cursor_execute", statement)
    event.listen(db.engine.sync_engine, "after_cursor_execute", after)
    event.listen(db.engine.sync_engine, "commit", released)
    try:
        started = time.perf_counter()
        report = await bulk.rebuild(db, items, group_id="bench-swap13", next_offsets={}, handles=handles)
        seconds = time.perf_counter() - started
        async with db.sessions() as session:
            alerts = (await session.execute(text(
                "SELECT alert_id, level, unit_id, rule, status, episode, figures FROM alerts ORDER BY 1"))).all()
            outbox = (await session.execute(text(
                "SELECT payload FROM outbox WHERE topic = 'styrkedja.alerts' ORDER BY id"))).scalars().all()
    finally:
        await db.dispose()
    events = [json.loads(p) for p in outbox]
    return {"label": label, "rebuild_seconds": round(seconds, 2),
            "lock_held_seconds": round(held["released"] - held["granted"], 4),
            "lock_wait_seconds": round(held["granted"] - held["asked"], 4),
            "statements_under_lock": held["statements"], "lock_held_cpu_seconds": held["cpu"],
            "stages": {k: report.stages.get(k) for k in ("alerts.judge", "swap", "alerts")},
            "cpu": {k: report.cpu.get(k) for k in ("alerts.judge", "swap", "alerts")},
            "alerts": [[str(v) for v in row] for row in alerts],
            "alert_events": [[e["id"], e["type"], e["data"]["alert_id"]] for e in events]}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=60_000)
    parser.add_argument("--before-ref", default="bdd24f0")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--dipping", type=int, nargs="+", default=[1], help="dropping schools (each size in turn)")
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results" / "swap13.json")
    parser.add_argument("--child", nargs=3, metavar=("PACKAGE", "URL", "LOG"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:  # one rebuild, its result as JSON on stdout
        package, url, log = args.child
        sys.path.insert(0, str(Path(log).parent))  # the before package
        items = pickle.loads(Path(log).read_bytes())
        print(json.dumps(asyncio.run(one(package, package, url, items))))
        return 0
    state = Path(tempfile.mkdtemp(prefix="styrkedja-bench-swap13-"))
    state.chmod(0o755)
    postgres = EmbeddedPostgres(state / "pgdata").start()
    try:
        before = old_package(args.before_ref, state)
        directory, events = school_data(7, args.events)
        sizes: dict[str, dict] = {}
        runs: list[dict] = []
        for schools in args.dipping:
            items = delivered_in_order(directory + dropping_school(schools) + events)
            log = state / "log.pickle"
            log.write_bytes(pickle.dumps(items))
            these: list[dict] = []
            for n in range(args.rounds):  # alternated: a busy moment of the machine hits both
                for label, package in (("before", before), ("after", "styrkedja_reporting")):
                    name = f"bench_swap_{schools}_{label}_{n}"
                    ensure_database(postgres.server_url(), name)
                    url = database_url(postgres.server_url(), name)
                    upgrade("styrkedja_reporting", url)
                    out = subprocess.run([sys.executable, __file__, "--child", package, url, str(log)], check=True,
                                         capture_output=True, text=True).stdout
                    run = json.loads(out.strip().splitlines()[-1]) | {"label": label, "dipping_schools": schools}
                    run["load_1min"] = round(os.getloadavg()[0], 2)
                    these.append(run)
                    print(json.dumps({k: v for k, v in run.items() if k not in ("alerts", "alert_events")}),
                          flush=True)
            same = all(r["alerts"] == these[0]["alerts"] and r["alert_events"] == these[0]["alert_events"]
                       for r in these)
            summary: dict = {label: {
                "lock_held_seconds_median": statistics.median(
                    r["lock_held_seconds"] for r in these if r["label"] == label),
                "lock_held_seconds_range": [min(r["lock_held_seconds"] for r in these if r["label"] == label),
                                            max(r["lock_held_seconds"] for r in these if r["label"] == label)],
                "lock_held_cpu_seconds_median": {side: statistics.median(
                    r["lock_held_cpu_seconds"][side] for r in these if r["label"] == label)
                    for side in ("python", "postgres")},
                "statements_under_lock": sorted({r["statements_under_lock"] for r in these if r["label"] == label}),
                "decision_seconds_median": statistics.median(
                    r["stages"]["alerts"] or 0 for r in these if r["label"] == label)}
                for label in ("before", "after")}
            sizes[str(schools)] = {"events": len(items), "alerts": len(these[0]["alerts"]),
                                   "alert_events": len(these[0]["alert_events"]), "same_alerts_and_events": same,
                                   "load_1min": [min(r["load_1min"] for r in these), max(r["load_1min"] for r in these)],
                                   "summary": summary}
            runs += these
        result = {"when": datetime.now(UTC).isoformat(timespec="seconds"), "before_ref": args.before_ref,
                  "cpus": os.cpu_count(), "rounds": args.rounds, "dipping_schools": sizes,
                  "runs": [{k: v for k, v in r.items() if k not in ("alerts", "alert_events")} for r in runs]}
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(result, indent=2) + "\n")
        print(json.dumps({k: v for k, v in result.items() if k != "runs"}, indent=2))
        return 0 if all(size["same_alerts_and_events"] for size in sizes.values()) else 1
    finally:
        postgres.stop()


if __name__ == "__main__":
    raise SystemExit(main())

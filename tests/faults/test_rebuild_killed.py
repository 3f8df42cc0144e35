"""Fault test: the rebuild's process SIGKILLed in its swap transaction (swap16) — after the alerts' decision wrote
their rows and events (before the lock on the live tables), with that lock held, and at its COMMIT — leaves the live
tables, the alerts and the outbox as they were; the rebuild run again then writes the alerts and their events exactly
as a rebuild never killed does: the same event ids, none twice, none lost.

Each rebuild of the log that recovers resolves the four alerts the dropping log raised (one per level); the kill
comes in that second rebuild, so there are stored alerts to lock, change and write events of."""

from __future__ import annotations

import asyncio
import json
import os
import pickle
import signal
import sys
import uuid
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import text

from styrkedja_contracts import AssessmentPublishedV1, OrganisationUnitUpsertedV1, new_event
from styrkedja_kit.consumer import Delivered
from styrkedja_kit.db import Database
from styrkedja_reporting.main import handler_registry
from styrkedja_reporting.rebuild.bulk import rebuild
from support import delivered_in_order

pytestmark = [pytest.mark.integration, pytest.mark.postgres_only]

T0 = datetime(2026, 9, 1, 8, tzinfo=UTC)
GROUP = "reporting-rebuild-killed"
WAIT_SECONDS = 120  # a bound on waiting for a state (a failure, not a measurement)

# the child: one rebuild of a pickled log, standing still (and saying so) at its step until it is killed
CHILD = r"""
import asyncio, pickle, sys, time
from sqlalchemy import event
from styrkedja_kit.db import Database
from styrkedja_reporting.main import handler_registry
from styrkedja_reporting.rebuild.bulk import rebuild

url, log, step, group = sys.argv[1:5]
items = pickle.loads(open(log, "rb").read())


def stand_still():
    print("standing still", flush=True)
    time.sleep(3600)


async def main():
    db = Database(url)
    swap = []

    def after(conn, cursor, sql, params, context, executemany):
        if sql.startswith("LOCK TABLE") and "ACCESS EXCLUSIVE" in sql:
            swap.append(conn.connection.dbapi_connection)
            if step == "lock_held":
                stand_still()
        elif step == "decided" and ('INTO "outbox"' in sql or "INTO outbox" in sql):
            stand_still()

    def commit(conn):
        if step == "committing" and swap and swap[0] is conn.connection.dbapi_connection:
            stand_still()

    event.listen(db.engine.sync_engine, "after_cursor_execute", after)
    event.listen(db.engine.sync_engine, "commit", commit)
    await rebuild(db, items, group_id=group, next_offsets={("t", 0): len(items)},
                  handles=handler_registry(live_alerts=False).handles, chunk=37, connections=2)
    print("finished", flush=True)


asyncio.run(main())
"""


def _log(recovered: bool) -> list[Delivered]:
    """Organiser 4101, one school unit, one group: maths 90 % at the pass level in round 1, 60 % in round 2 (an alert
    at each level); `recovered`: round 2's failing results revised to C (100 %: each alert resolves)."""
    events = [new_event(OrganisationUnitUpsertedV1(unit_type="organiser", unit_id="4101", organiser_id="4101",
                                                   name="K", updated_at=T0), source="/t"),
              new_event(OrganisationUnitUpsertedV1(unit_type="area", unit_id="4101-a", organiser_id="4101",
                                                   parent_id="4101", name="a", updated_at=T0), source="/t"),
              new_event(OrganisationUnitUpsertedV1(unit_type="school_unit", unit_id="su-41010001", organiser_id="4101",
                                                   parent_id="4101-a", name="s", school_unit_code="41010001",
                                                   updated_at=T0), source="/t")]

    def result(round_: int, n: int, value: str, revision: int = 1):
        return new_event(AssessmentPublishedV1(
            assessment_id=uuid.uuid5(uuid.NAMESPACE_URL, f"killed-{round_}-{n}"), revision=revision,
            organiser_id="4101", school_unit_code="41010001", group_id="7A", student_id=f"k-{n}", teacher_id="t-1",
            gender="female", year=7, subject_code="GRGRMAT01", kind="assessment", scale="AF", value=value,
            unmet_criteria=("K1",) if value == "F" else (), school_year="2026/27", term="HT", round=round_,
            assessed_on=T0.date(), published_at=T0), source="/t")

    for round_, failing in ((1, 2), (2, 8)):
        events += [result(round_, n, "F" if n < failing else "C") for n in range(20)]
    if recovered:
        events += [result(2, n, "C", revision=2) for n in range(8)]
    return delivered_in_order(events)


async def _rebuilt(db: Database, items: list[Delivered]) -> None:
    await rebuild(db, items, group_id=GROUP, next_offsets={("t", 0): len(items)},
                  handles=handler_registry(live_alerts=False).handles, chunk=37, connections=2)


async def _state(db: Database) -> dict:
    """The alerts (without their times), the alert events of the outbox (ids, types, alerts, episodes), the live
    facts and the group's offsets."""
    async with db.sessions() as session:
        alerts = (await session.execute(text(
            "SELECT alert_id, level, rule, status, episode, figures FROM alerts ORDER BY alert_id"))).all()
        payloads = (await session.execute(text(
            "SELECT payload FROM outbox WHERE topic = 'styrkedja.alerts' ORDER BY id"))).scalars().all()
        facts = (await session.execute(text("SELECT assessment_id, revision, value FROM assessment_facts "
                                             "ORDER BY assessment_id"))).all()
        offsets = (await session.execute(text("SELECT topic, partition, next_offset FROM consumer_offsets "
                                              "WHERE group_id = :g ORDER BY 1, 2"), {"g": GROUP})).all()
    events = [json.loads(p) for p in payloads]
    return {"alerts": [tuple(str(v) for v in row) for row in alerts],
            "events": [(e["id"], e["type"], e["data"]["alert_id"], e["data"]["episode"]) for e in events],
            "facts": [tuple(str(v) for v in row) for row in facts], "offsets": [tuple(row) for row in offsets]}


async def _killed_at(url: str, items: list[Delivered], step: str, tmp_path: Path) -> None:
    """A rebuild of `items` in a process of its own, SIGKILLed once it stands still at `step`; returns when no
    backend of it is left (its transaction rolled back, its advisory lock gone)."""
    log = tmp_path / "log.pickle"
    log.write_bytes(pickle.dumps(items))
    child = await asyncio.create_subprocess_exec(sys.executable, "-c", CHILD, url, str(log), step, GROUP,
                                                 stdout=asyncio.subprocess.PIPE)
    try:
        assert child.stdout is not None
        line = (await asyncio.wait_for(child.stdout.readline(), WAIT_SECONDS)).decode()
        assert line.strip() == "standing still", f"the rebuild did not reach {step}: {line!r}"
        os.kill(child.pid, signal.SIGKILL)
        assert await asyncio.wait_for(child.wait(), WAIT_SECONDS) == -signal.SIGKILL
    finally:
        if child.returncode is None:
            child.kill()
            await child.wait()
    db = Database(url)
    try:
        async with db.sessions() as session:
            for _ in range(WAIT_SECONDS * 10):
                left = (await session.execute(text(
                    "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
                    "AND pid <> pg_backend_pid()"))).scalar_one()
                await session.rollback()
                if not left:
                    return
                await asyncio.sleep(0.1)
        raise AssertionError("the killed rebuild's backends are still there")
    finally:
        await db.dispose()


@pytest.mark.parametrize("step", ["decided", "lock_held", "committing"])
async def test_a_rebuild_killed_in_its_swap_leaves_everything_and_the_next_one_decides_exactly_once(
        fresh_database, tmp_path, step):
    dropping, recovered = _log(recovered=False), _log(recovered=True)
    reference = Database(fresh_database("styrkedja_reporting"))
    url = fresh_database("styrkedja_reporting")
    db = Database(url)
    try:
        await _rebuilt(reference, dropping)
        await _rebuilt(reference, recovered)
        expected = await _state(reference)
        assert {a[3] for a in expected["alerts"]} == {"resolved"} and len(expected["alerts"]) == 4
        assert [e[1] for e in expected["events"]] == (["se.styrkedja.alert.raised.v1"] * 4
                                                      + ["se.styrkedja.alert.resolved.v1"] * 4)

        await _rebuilt(db, dropping)
        before = await _state(db)
        assert {a[3] for a in before["alerts"]} == {"open"} and len(before["events"]) == 4
        await db.dispose()  # no connection of this test's left on the database: only the child's are waited for
        await _killed_at(url, recovered, step, tmp_path)
        assert await _state(db) == before  # nothing of the killed rebuild: no alert changed, no event, no fact
        await _rebuilt(db, recovered)
        assert await _state(db) == expected
        await _rebuilt(db, recovered)  # and once more: nothing again
        assert await _state(db) == expected
    finally:
        await db.dispose()
        await reference.dispose()

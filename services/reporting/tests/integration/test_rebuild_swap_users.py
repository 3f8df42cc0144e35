"""The rebuild's swap and the users' writes of alerts at once (swap16): an acknowledgement (an organiser admin's, a
principal's), a threshold saved, a reevaluation, a freshness sweep — each started while the rebuild's swap transaction
stands still at one of its steps, the rebuild let go on once the write has finished or waits for a lock (ordered
steps, no timing). Both must finish: the write with its 200, the rebuild with its alerts and events, exactly once.

Before swap16 the rebuild locked the live tables, then the alerts it decided; an acknowledgement locks its alert, then
writes the state version (`freshness`, a live table) and, for a principal, reads the directory: an acknowledgement
holding the alert the rebuild was about to decide waited for the rebuild's lock while the rebuild waited for its alert
— a deadlock, PostgreSQL aborting one of them (the user's 500, or the rebuild). Now the rebuild decides (locks the
alerts) before it locks the live tables, as the acknowledgement does; a reevaluation, which takes the live tables
first, waits for `JUDGE_ALL_LOCK` holding nothing."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Awaitable, Callable
from concurrent.futures import Future
from typing import Any

import pytest
from sqlalchemy import event, text

from styrkedja_kit.db import Database
from styrkedja_reporting.main import handler_registry
from styrkedja_reporting.rebuild.bulk import RebuildReport, rebuild

from .test_alerts import ORG, UNIT, UNIT_ALERT
from .test_batch_split import delivered
from .test_rebuild_swap_lock import DROP_LOG, GROUP, alerts_and_events

pytestmark = [pytest.mark.integration, pytest.mark.postgres_only]

WAIT_SECONDS = 60  # a bound on waiting for a state (a failure, not a measurement)


def _at_lock(sql: str) -> bool:  # the swap's LOCK TABLE returned: the live tables are the rebuild's
    return sql.startswith("LOCK TABLE") and "ACCESS EXCLUSIVE" in sql


def _at_decision(sql: str) -> bool:  # the decision's read of the stored alerts returned: their rows are locked
    return "FOR UPDATE" in sql and "FROM alerts" in sql


STEPS = {"after_the_live_tables_lock": _at_lock, "after_the_alerts_are_locked": _at_decision}


class PausedRebuild:
    """A rebuild in a thread of its own (its own event loop and connections) that stands still after the first
    statement of its swap transaction `at` matches, until `go`."""

    def __init__(self, url: str, events: list, at: Callable[[str], bool]) -> None:
        self.url, self.events, self.at = url, events, at
        self.paused, self.release = threading.Event(), threading.Event()
        self.backend: int | None = None
        self.result: Future[RebuildReport] = Future()
        self.thread = threading.Thread(target=self._run, daemon=True)

    def start(self) -> PausedRebuild:
        self.thread.start()
        return self

    def _run(self) -> None:
        try:
            self.result.set_result(asyncio.run(self._rebuild()))
        except BaseException as failed:  # noqa: BLE001 - handed to the test
            self.result.set_exception(failed)
        finally:
            self.paused.set()  # a rebuild that failed before its step does not leave the test waiting

    async def _rebuild(self) -> RebuildReport:
        db = Database(self.url)

        def after(conn, cursor, sql, params, context, executemany) -> None:
            if self.backend is None and self.at(sql):
                self.backend = conn.connection.dbapi_connection.driver_connection.get_server_pid()
                self.paused.set()
                self.release.wait(WAIT_SECONDS)  # this thread only: the test's loop goes on

        event.listen(db.engine.sync_engine, "after_cursor_execute", after)
        try:
            return await rebuild(db, delivered(self.events), group_id=GROUP, next_offsets={("t", 0): len(self.events)},
                                 handles=handler_registry(live_alerts=False).handles, chunk=37, connections=2)
        finally:
            await db.dispose()

    async def wait_paused(self) -> None:
        assert await asyncio.to_thread(self.paused.wait, WAIT_SECONDS), "the rebuild never reached its step"
        if self.result.done():
            self.result.result()  # its error

    async def finish(self) -> RebuildReport:
        self.release.set()
        return await asyncio.wrap_future(self.result)


async def done_or_waiting(database: Database, write: asyncio.Task[Any], rebuild_backend: int | None) -> None:
    """Until the write has finished or another backend than the rebuild's waits for a lock (the write's)."""
    async with database.sessions() as session:
        for _ in range(WAIT_SECONDS * 20):
            if write.done():
                return
            waiting = (await session.execute(text(
                "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock' "
                "AND pid <> :rebuild AND pid <> pg_backend_pid()"), {"rebuild": rebuild_backend or 0})).scalar_one()
            await session.rollback()
            if waiting:
                return
            await asyncio.sleep(0.05)
    raise AssertionError("the write neither finished nor waited for a lock")


async def with_the_swap_paused(database: Database, step: str, write: Callable[[], Awaitable[Any]]) -> Any:
    """`write` started while the rebuild's swap transaction stands still at `step`; the rebuild let go once the write
    finished or waits; both awaited. Returns the write's answer."""
    paused = PausedRebuild(database.url, DROP_LOG, STEPS[step]).start()
    try:
        await paused.wait_paused()
        task = asyncio.create_task(write())
        await done_or_waiting(database, task, paused.backend)
        report = await paused.finish()
        assert report.stages.get("lock_held") is not None
        return await task
    finally:
        paused.release.set()
        await asyncio.to_thread(paused.thread.join, WAIT_SECONDS)


async def rebuilt(database: Database) -> None:
    await rebuild(database, delivered(DROP_LOG), group_id=GROUP, next_offsets={("t", 0): len(DROP_LOG)},
                  handles=handler_registry(live_alerts=False).handles, chunk=37, connections=2)


@pytest.mark.parametrize("step", sorted(STEPS))
@pytest.mark.parametrize("who", ["organiser_admin", "principal"])
async def test_an_acknowledgement_during_the_swap_waits_and_both_succeed(client, database, token_issuer, step, who):
    await rebuilt(database)  # the four alerts open
    expected = await alerts_and_events(database)
    headers = {}
    if who == "principal":  # reads the directory (a live table) for its scope, after locking the alert
        headers["Authorization"] = "Bearer " + token_issuer.mint(roles=["principal"], organisers=[ORG],
                                                                  school_units=[UNIT], subject="rektor-1")

    async def acknowledge() -> Any:
        return await client.post(f"/v1/alerts/{UNIT_ALERT}/acknowledge", json={"comment": "Extra mattestöd"},
                                 headers=headers)

    answer = await with_the_swap_paused(database, step, acknowledge)
    assert answer.status_code == 200, answer.text
    assert answer.json()["status"] == "acknowledged"
    alerts, events = await alerts_and_events(database)
    # the acknowledgement kept; no event again (the rebuild decided the same verdicts on the same alerts)
    assert events == expected[1]
    assert [row[4] for row in alerts if row[0] == str(UNIT_ALERT)] == ["acknowledged"]
    assert {row[4] for row in alerts if row[0] != str(UNIT_ALERT)} == {"open"}


@pytest.mark.parametrize("step", sorted(STEPS))
async def test_a_threshold_saved_during_the_swap_neither_waits_for_it_nor_fails(client, database, step):
    await rebuilt(database)
    expected = await alerts_and_events(database)

    async def save() -> Any:
        return await client.put(f"/v1/alert-thresholds/{ORG}", json={"drop_points": "40"})

    answer = await with_the_swap_paused(database, step, save)
    assert answer.status_code == 200, answer.text
    # the rebuild decided before the threshold was saved (thresholds apply to cells judged from now on); the next
    # judgement of every cell applies it — 30 points down is no dip at 40: each alert resolved, once
    assert await alerts_and_events(database) == expected
    answer = await client.post("/v1/admin/alerts/reevaluate")
    assert answer.status_code == 200 and answer.json()["events"] == 4
    alerts, events = await alerts_and_events(database)
    assert {row[4] for row in alerts} == {"resolved"}
    assert [e[1] for e in events] == ["se.styrkedja.alert.raised.v1"] * 4 + ["se.styrkedja.alert.resolved.v1"] * 4


@pytest.mark.parametrize("step", sorted(STEPS))
@pytest.mark.parametrize("call", ["reevaluate", "freshness-sweep"])
async def test_a_reevaluation_or_a_sweep_during_the_swap_waits_and_both_succeed(client, database, step, call):
    """A reevaluation takes the live tables, then the rebuild's alerts (`JUDGE_ALL_LOCK` first); a sweep takes the
    live tables, then only freshness alerts (none of the rebuild's)."""
    await rebuilt(database)
    expected = await alerts_and_events(database)

    async def ops() -> Any:
        return await client.post(f"/v1/admin/alerts/{call}")

    answer = await with_the_swap_paused(database, step, ops)
    assert answer.status_code == 200, answer.text
    assert answer.json()["events"] == 0
    assert await alerts_and_events(database) == expected

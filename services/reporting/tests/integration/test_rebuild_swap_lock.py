"""The rebuild's swap holds the live tables' exclusive lock only for the swap (swap13, swap16): the alerts are judged
on the rebuilt tables (`alerts.handlers.judge_all`'s halves, by two of the jobs after the read: after36, after37) and decided
against the stored alerts (`decide_all`: locked, written with their events) before the lock, in the swap's
transaction. The same alerts and the same alert events as
a judgement of the rebuilt state made after the swap (what the rebuild did before); none when the swap's transaction
fails; judged again when a threshold changed between the judgement and the decision; meanwhile the live tables answer
at once."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import event, text

from styrkedja_kit.db import Database
from styrkedja_reporting.alerts import handlers as alert_handlers
from styrkedja_reporting.alerts.queries import save_thresholds
from styrkedja_reporting.main import handler_registry
from styrkedja_reporting.rebuild import bulk
from styrkedja_reporting.rebuild.bulk import APPLIED, derived_tables, rebuild

from .test_alerts import ORG, UNIT_ALERT, result, round_of
from .test_batch_split import delivered
from .test_directory import directory

pytestmark = [pytest.mark.integration, pytest.mark.postgres_only]

GROUP = "reporting-swap13"
#: a school unit's maths drops from 90 % to 60 % between rounds 1 and 2: an alert at each of the four levels
DROP_LOG = directory() + round_of(1, failing=2) + round_of(2, failing=8)


async def rebuilt(db: Database, events: list) -> bulk.RebuildReport:
    return await rebuild(db, delivered(events), group_id=GROUP, next_offsets={("t", 0): len(events)},
                         handles=handler_registry(live_alerts=False).handles, chunk=37, connections=2)


async def alerts_and_events(db: Database) -> tuple[list[tuple[str, ...]], list[tuple[str, ...]]]:
    """The alerts (without their times: now() of the transaction that judged them) and the alert events of the
    outbox (their ids, types and alerts: the ids are a function of the alert and its transition)."""
    async with db.sessions() as session:
        alerts = (await session.execute(text(
            "SELECT alert_id, level, unit_id, rule, status, episode, figures FROM alerts ORDER BY alert_id"))).all()
        outbox = (await session.execute(text(
            "SELECT payload FROM outbox WHERE topic = 'styrkedja.alerts' ORDER BY id"))).scalars().all()
    events = [json.loads(payload) for payload in outbox]
    return ([tuple(str(v) for v in row) for row in alerts],
            [(e["id"], e["type"], e["data"]["alert_id"], str(e["data"]["episode"])) for e in events])


def under_the_lock(db: Database) -> list[str]:
    """Records every statement run on the connection that takes the swap's ACCESS EXCLUSIVE lock, from that
    statement to its commit (or rollback): what every reader of reporting waits for."""
    held: list[str] = []
    holder: list[object] = []

    def statement(conn, cursor, sql, params, context, executemany) -> None:
        if holder and holder[0] is conn.connection.dbapi_connection:
            held.append(sql)
        elif sql.startswith("LOCK TABLE") and "ACCESS EXCLUSIVE" in sql:
            holder.append(conn.connection.dbapi_connection)
            held.append(sql)

    def released(conn) -> None:
        if holder and holder[0] is conn.connection.dbapi_connection:
            holder.clear()
            held.append("COMMIT/ROLLBACK")

    event.listen(db.engine.sync_engine, "before_cursor_execute", statement)
    event.listen(db.engine.sync_engine, "commit", released)
    event.listen(db.engine.sync_engine, "rollback", released)
    return held


#: the derived tables the judgement reads (of every derived table the swap itself only drops and moves)
def reads_of_derived(statements: list[str]) -> list[str]:
    derived = [t for t in derived_tables() if t != APPLIED]
    return [s for s in statements if not s.startswith(("LOCK TABLE", "DROP TABLE", "ALTER TABLE"))
            and any(f" {t} " in f" {s.replace(',', ' ').replace('(', ' ')} " for t in derived)]


def of_the_decision(statements: list[str]) -> list[str]:
    """The statements that read or write the alerts, their thresholds or the outbox."""
    return [s for s in statements if any(f" {t} " in f" {s.replace(',', ' ').replace('(', ' ')} "
                                         for t in ("alerts", "alert_thresholds", "outbox"))]


async def test_the_swap_s_lock_covers_no_judgement_and_the_alerts_are_those_of_a_judgement_after_it(
        settings, fresh_database, monkeypatch):
    dbs = {way: Database(fresh_database("styrkedja_reporting")) for way in ("after", "before")}
    try:
        # what the rebuild did before swap13: the rebuild without alerts, then every cell judged after the swap
        judge_after = dbs["after"]
        real_judge, real_below, real_decide = bulk.judge_pass_drops, bulk.judge_below_forecasts, bulk.decide_all

        async def nothing_judged(session, state):
            return None

        async def nothing_more(session, judgement):
            return judgement

        async def nothing_decided(session, judgement):
            return 0

        monkeypatch.setattr(bulk, "judge_pass_drops", nothing_judged)
        monkeypatch.setattr(bulk, "judge_below_forecasts", nothing_more)
        monkeypatch.setattr(bulk, "decide_all", nothing_decided)
        await rebuilt(judge_after, DROP_LOG)
        async with judge_after.sessions.begin() as session:
            assert await alert_handlers.reevaluate_all(session, moves_version=False) == 4
        monkeypatch.setattr(bulk, "judge_pass_drops", real_judge)
        monkeypatch.setattr(bulk, "judge_below_forecasts", real_below)
        monkeypatch.setattr(bulk, "decide_all", real_decide)

        db = dbs["before"]
        readable: list[int] = []

        async def judged_while_readable(session, state):
            # meanwhile a reader of the live tables gets its answer at once (NOWAIT: no lock on them yet)
            async with db.sessions() as reader:
                await reader.execute(text("LOCK TABLE figure_pass, assessment_facts IN ACCESS SHARE MODE NOWAIT"))
                readable.append((await reader.execute(text("SELECT count(*) FROM assessment_facts"))).scalar_one())
            return await real_judge(session, state)

        monkeypatch.setattr(bulk, "judge_pass_drops", judged_while_readable)
        held = under_the_lock(db)
        report = await rebuilt(db, DROP_LOG)
        assert readable == [0]  # the old (empty) tables, not waited for
        assert held[0].startswith("LOCK TABLE") and held[-1] == "COMMIT/ROLLBACK"
        # under the lock: the swap only, no read of the rebuilt figures or facts — before swap13 the whole judgement
        # ran there (assessment_aggregates, figure_pass, forecast_facts) — and nothing of the alerts' decision: before
        # swap16 the alerts were locked and written, with their events, there
        assert reads_of_derived(held) == [], reads_of_derived(held)
        assert of_the_decision(held) == [], of_the_decision(held)
        assert {"alerts.judge", "alerts.judge.below", "swap", "alerts", "lock_held"} <= set(report.stages)

        expected = await alerts_and_events(judge_after)
        assert len(expected[0]) == len(expected[1]) == 4 and str(UNIT_ALERT) in {row[0] for row in expected[0]}
        assert await alerts_and_events(db) == expected
        # a second rebuild of the same log: the same alerts, no event again (exactly once)
        await rebuilt(db, DROP_LOG)
        assert await alerts_and_events(db) == expected
    finally:
        for one in dbs.values():
            await one.dispose()


async def test_a_failed_swap_writes_no_alert_and_no_event(settings, db, monkeypatch):
    real = bulk.explain.write_plans

    async def failing() -> None:  # after the decision, before the commit: the transaction is rolled back
        raise RuntimeError("the swap's transaction failed")

    monkeypatch.setattr(bulk.explain, "write_plans", failing)
    with pytest.raises(RuntimeError, match="failed"):
        await rebuilt(db, DROP_LOG)
    assert await alerts_and_events(db) == ([], [])
    async with db.sessions() as session:
        assert (await session.execute(text("SELECT count(*) FROM assessment_facts"))).scalar_one() == 0
    monkeypatch.setattr(bulk.explain, "write_plans", real)
    await rebuilt(db, DROP_LOG)
    alerts, events = await alerts_and_events(db)
    assert len(alerts) == len(events) == 4


async def test_a_threshold_saved_between_the_judgement_and_the_lock_is_judged_again(settings, db, monkeypatch):
    real = bulk.judge_pass_drops

    async def judged_then_changed(session, state):
        judgement = await real(session, state)
        assert len([d for d in judgement.drops if d[1].dipping]) == 4  # judged on the default 10 points: dips
        # an organiser admin saves 40 points meanwhile (another transaction, committed before the swap)
        async with db.sessions.begin() as other:
            await save_thresholds(other, ORG, {"drop_points": 40, "below_forecast_points": 10, "min_students": 10})
        return judgement

    monkeypatch.setattr(bulk, "judge_pass_drops", judged_then_changed)
    await rebuilt(db, DROP_LOG)
    # 30 points down is no dip at 40: nothing raised, as a judgement under the lock says
    assert await alerts_and_events(db) == ([], [])


async def test_a_rebuild_of_the_recovered_log_resolves_the_open_alerts(settings, db):
    await rebuilt(db, DROP_LOG)
    alerts, events = await alerts_and_events(db)
    assert {row[4] for row in alerts} == {"open"} and len(events) == 4
    # round 2's failing results revised to C: 100 % — the cells no longer dip; their open alerts resolve
    await rebuilt(db, DROP_LOG + [result(n, "C", 2, revision=2) for n in range(8)])
    alerts, events = await alerts_and_events(db)
    assert {row[4] for row in alerts} == {"resolved"} and len(alerts) == 4
    assert [e[1] for e in events] == ["se.styrkedja.alert.raised.v1"] * 4 + ["se.styrkedja.alert.resolved.v1"] * 4

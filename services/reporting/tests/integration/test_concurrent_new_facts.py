"""Two transactions applying two revisions of the same fact that is not stored yet (two partitions with one
organiser's records, a replay beside the live consumer): `FOR UPDATE` on the stored facts locks nothing for a
fact that is not there, so without the organiser's writers' lock (`results.tables.lock_fact_writers`) both read
"nothing before" and both count theirs — the cells count the fact twice, and the fact stored is whichever
committed last, not the newest revision.

The interleaving is forced: transaction A reads the facts (nothing stored) and waits; B is applied meanwhile —
to its end, or until it waits for a lock A holds; then A goes on. Either way the cells must equal a
recomputation from the facts, and the fact stored must be the newest revision."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from datetime import date
from typing import Any
from uuid import uuid5

import pytest
from sqlalchemy import func, select, text

from styrkedja_contracts import CloudEvent, ForecastSubmittedV1, forecast_id_for, new_event
from styrkedja_kit.consumer import Delivered
from styrkedja_kit.db import Database
from styrkedja_reporting.compliance.handlers import mismatches as compliance_mismatches
from styrkedja_reporting.compliance.handlers import recompute_items, stored_items
from styrkedja_reporting.main import handler_registry
from styrkedja_reporting.results.handlers import apply_results
from styrkedja_reporting.results.tables import ASSESSMENTS, FORECASTS, FactStore

from .test_alerts import AUTUMN, T0, YEAR
from .test_compliance import DIRECTORY, MATHS, assigned
from .test_compliance import forecast as compliance_forecast
from .test_directory import NS, TOPIC, Feeder, directory, published, unit

pytestmark = [pytest.mark.integration, pytest.mark.postgres_only]

ORG, CODE, GROUP = "2999", "11111111", "7A"
#: a transaction waiting for a lock (B waiting for A)
_WAITING = text("SELECT count(*) FROM pg_locks WHERE NOT granted")


def forecast(revision: int, value: str) -> CloudEvent:
    return new_event(ForecastSubmittedV1(
        forecast_id=forecast_id_for(ORG, "s-concurrent", "GRGRMAT01", YEAR, "HT"),
        revision=revision, organiser_id=ORG, school_unit_code=CODE,
        group_id=GROUP, student_id="s-concurrent", teacher_id="t-1", gender="female", year=9,
        subject_code="GRGRMAT01", value=value, school_year=YEAR, term="HT", submitted_at=T0,
        window_deadline=date(AUTUMN, 10, 23), late=False), source="/test")


def assessment(revision: int, value: str) -> CloudEvent:
    return published(uuid5(NS, "concurrent-assessment"), revision, value, ORG, CODE, GROUP, "s-concurrent")


Handler = Callable[[Any, Sequence[Delivered]], Awaitable[None]]


async def _apply(db: Database, handler: Handler, events: Sequence[CloudEvent], partition: int, on_session=None
                 ) -> None:
    async with db.sessions.begin() as session:
        if on_session is not None:
            on_session(session)
        await handler(session, [Delivered(event, TOPIC[event.type.split(".")[2]], partition, offset)
                                for offset, event in enumerate(events)])


class Pause:
    """Transaction A's pause: `reached` where A is to wait (called by A's code), `go_on` to let it go."""

    def __init__(self) -> None:
        self.session: Any = None
        self.loaded, self.go_on = asyncio.Event(), asyncio.Event()

    async def reached(self, session: Any) -> None:
        if session is self.session and not self.loaded.is_set():
            self.loaded.set()
            await self.go_on.wait()


def pause_after_load(monkeypatch) -> Pause:
    """A waits just after its (first) read of the stored facts."""
    pause, original = Pause(), FactStore.load

    async def load(self: FactStore, session: Any, *args: Any) -> Any:
        found = await original(self, session, *args)
        await pause.reached(session)
        return found

    monkeypatch.setattr(FactStore, "load", load)
    return pause


async def concurrently(db: Database, handler: Handler, first: Sequence[CloudEvent], second: Sequence[CloudEvent],
                       pause: Pause) -> None:
    """`first` applied in transaction A, which waits at `pause` while `second` is applied in transaction B (until B
    ends or waits for a lock); then A goes on. A's records in partition 0, B's in partition 1."""

    def note(session: Any) -> None:
        pause.session = session

    a = asyncio.create_task(_apply(db, handler, first, 0, note))
    read = asyncio.create_task(pause.loaded.wait())
    await asyncio.wait({a, read}, return_when=asyncio.FIRST_COMPLETED)
    assert pause.loaded.is_set(), a.result()  # A's error, if it ended before its pause
    b = asyncio.create_task(_apply(db, handler, second, 1))
    async with db.engine.connect() as watcher:
        while not b.done():  # B runs to its end, or until it waits for a lock A holds
            if (await watcher.execute(_WAITING)).scalar_one():
                break
            await watcher.rollback()
            await asyncio.sleep(0.02)
    pause.go_on.set()
    await asyncio.wait_for(asyncio.gather(a, b), 120)


def _registry() -> Handler:
    return handler_registry()


def _results_only() -> Handler:
    return apply_results


@pytest.mark.parametrize("handler", [_registry, _results_only], ids=["registry", "apply_results"])
@pytest.mark.parametrize(("store", "event"), [(ASSESSMENTS, assessment), (FORECASTS, forecast)],
                         ids=["assessment", "forecast"])
async def test_two_revisions_of_a_new_fact_applied_at_once_count_it_once(db, monkeypatch, handler, store, event):
    await Feeder(db)(directory())
    values = ("C", "A") if store is ASSESSMENTS else ("ACCEPTABLE", "NOT_REACHED")
    await concurrently(db, handler(), [event(1, values[0])], [event(2, values[1])], pause_after_load(monkeypatch))
    async with db.sessions() as session:
        mismatches = await store.mismatches(session)
        revisions = (await session.execute(text(f"SELECT revision FROM {store.facts.name}"))).scalars().all()
        organiser_count = (await session.execute(text(
            f"SELECT sum(count) FROM {store.aggregates.name} WHERE level = 'organiser'"))).scalar_one()
    assert not any(mismatches.values()), mismatches  # the cells are what the facts make
    assert revisions == [2]  # the newest revision, whichever transaction committed last
    assert organiser_count == 1  # counted once


async def test_a_report_and_a_new_teacher_of_its_item_at_once_keep_compliance_exact(db):
    """Compliance re-derives an item from the directory and the reports and moves its cells by the difference from
    the stored item, read in the same statement: a forecast batch (A: s-3's maths, reported now) and a directory
    batch (B: a second maths teacher of 7A) both change s-3's item. Unless B waits for A's organiser lock, B reads
    the item as A found it (not yet committed), waits for A's row, then writes its own derivation over A's (s-3
    missing again) and moves the cells from the old item as A did: cells and items no longer agree. (The round
    reports' `FOR UPDATE` reads only stored rows — the insert before it waits for a concurrent writer of the id —
    and two fact batches of one organiser take turns already: the directory's batch is the one that did not.)"""
    registry = handler_registry()
    await Feeder(db, registry)(DIRECTORY)
    pause = Pause()

    async def pausing(session: Any, batch: Sequence[Delivered]) -> None:  # A waits just before its commit
        await registry(session, batch)
        await pause.reached(session)

    await concurrently(db, pausing, [compliance_forecast("s-3", "7A", MATHS)],
                       [assigned("a-9", "7A", MATHS, "t-erik")], pause)
    async with db.sessions() as session:
        assert await compliance_mismatches(session) == 0
        items = await stored_items(session)
        assert items == await recompute_items(session)
    s3 = [(i.teachers, i.status.value) for i in items if i.student_id == "s-3" and i.subject_code == MATHS]
    assert s3 == [(("t-anna", "t-erik"), "on_time")]


async def test_a_batch_moving_a_school_unit_waits_for_its_organisers_writers_before_the_placement_lock(db, monkeypatch):
    """The lock order: a batch takes its organisers' writers' lock before the directory's placement lock. A (a result
    at su-a) holds the organiser's lock and has read its facts, placing them next (`placement_of`: the placement lock,
    shared); B moves su-a to another area (the placement lock, exclusive) and has a result of the organiser too. Were
    B's organiser lock taken only where it reads facts (after the directory), B would hold the placement lock and wait
    for A's organiser lock while A waits for the placement lock: a deadlock, one of them aborted."""
    registry = handler_registry()
    await Feeder(db, registry)(directory())
    moved = unit("school_unit", "su-a", ORG, "south", code=CODE, at=1)
    await concurrently(db, registry, [published(uuid5(NS, "placed-a"), 1, "C", ORG, CODE, GROUP, "s-a")],
                       [moved, published(uuid5(NS, "placed-b"), 1, "A", ORG, CODE, GROUP, "s-b")],
                       pause_after_load(monkeypatch))
    async with db.sessions() as session:
        mismatches = await ASSESSMENTS.mismatches(session)
        a = ASSESSMENTS.read_rows.c  # an area's cells as they are read: its school units' rows
        areas = (await session.execute(select(a.unit_id, func.sum(a.count)).where(a.level == "area").group_by(
            a.unit_id))).all()
    assert not any(mismatches.values()), mismatches
    assert areas == [("south", 2)]  # both results, in su-a's new area

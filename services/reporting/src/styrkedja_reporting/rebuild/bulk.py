"""The bulk rebuild of reporting from the event log, in ONE transaction (readers see the old state
until it commits; the live consumer must be stopped meanwhile, the TRUNCATE locks it out anyway).

The incremental apply path moves deltas per batch; a rebuild starts from nothing, so it writes the
final state once instead:

1. every derived table is emptied (the alerts, their comments and thresholds, what the directory
   write API published, the access audit and the outbox are kept: they are not derived from the log);
2. the events are claimed as the live consumer claims them (the first delivery of an event id, only
   the types some handler applies);
3. the directory (organisation topic) through its normal handler, in big batches, in log order;
4. support, plans and LIKA through their normal handlers (their below-pass rows are recomputed in 8);
5. assessments and forecasts folded to their newest revision in memory (`results.rules.resolve`,
   the live path's rule) and written once by COPY;
6. the six levels of both from the final facts by one GROUP BY each (`FactStore.recomputed_sql`);
7. the figures: pass, dates and students by the consistency check's SQL (`figures.tables.RECOMPUTED`),
   forecast against outcome and merit by its pure rules (`figures.recompute.recomputed_rows`);
8. "below the pass level without support" from the final facts (`support.linked.recomputed_below_pass`);
9. compliance through its normal handler in big batches (it derives from the directory and the
   facts as they are now: final);
10. freshness per topic, the alerts judged once (`alerts.handlers.reevaluate_all`), every applied
    event id recorded and the consumer group's next offsets stored — so the live consumer continues
    after the last rebuilt event, exactly once.

An event a normal handler refuses or fails on is found by halving the batch (savepoints), left out
and handed back for the dead-letter topic, as the live consumer does."""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from styrkedja_kit.consumer import Delivered, Refused

from ..alerts.handlers import reevaluate_all
from ..compliance import handlers as compliance
from ..directory import handlers as directory
from ..figures import tables as figure_tables
from ..figures.recompute import recomputed_rows
from ..lika import handlers as lika
from ..metadata import metadata
from ..registry import HandlerRegistry, _note_freshness
from ..results import handlers as results
from ..results.rules import AssessmentFact, resolve
from ..results.tables import ASSESSMENTS, FORECASTS, _q
from ..support import handlers as support
from ..support.linked import recomputed_below_pass
from ..support.tables import BELOW_PASS

#: Not derived from the log: kept by a rebuild.
KEPT = frozenset({"alerts", "alert_comments", "alert_thresholds", "directory_published", "access_audit", "outbox",
                  "outbox_partition_marks", "alembic_version"})
APPLIED, OFFSETS = "consumer_applied_events", "consumer_offsets"

Progress = Callable[[str, int, float], None]  # stage, events (or rows) done, seconds since the stage began
BatchHandler = Callable[[AsyncSession, Sequence[Delivered]], Awaitable[None]]


@dataclass
class Failed:
    item: Delivered
    reason: str
    message: str


@dataclass
class RebuildReport:
    read: int = 0  # events handed in (decoded)
    applied: int = 0  # claimed: first delivery of an id, a handled type, not refused
    duplicates: int = 0
    unhandled: int = 0
    failed: list[Failed] = field(default_factory=list)
    stages: dict[str, float] = field(default_factory=dict)  # stage → seconds
    counts: dict[str, int] = field(default_factory=dict)  # stage → events or rows


def derived_tables() -> list[str]:
    return sorted(name for name in metadata.tables if name not in KEPT and name not in (APPLIED, OFFSETS))


def _quiet(stage: str, done: int, seconds: float) -> None:
    return None


class _Stages:
    def __init__(self, report: RebuildReport, progress: Progress) -> None:
        self.report, self.progress = report, progress

    async def run(self, name: str, count: int, work: Awaitable[Any]) -> Any:
        started = time.perf_counter()
        self.progress(name, 0, 0.0)
        out = await work
        seconds = time.perf_counter() - started
        self.report.stages[name] = round(seconds, 3)
        self.report.counts[name] = count
        self.progress(name, count, seconds)
        return out


async def rebuild(session: AsyncSession, items: Sequence[Delivered], *, group_id: str,
                  next_offsets: dict[tuple[str, int], int], handles: Callable[[str], bool],
                  progress: Progress = _quiet, chunk: int = 20_000) -> RebuildReport:
    """Replace reporting's derived state by what `items` (the whole log, decoded, in log order) make.
    `session` is in a transaction the caller commits. `next_offsets`: (topic, partition) → the
    offset after the last record read (stored for `group_id`, as the live consumer stores them)."""
    report = RebuildReport(read=len(items))
    stages = _Stages(report, progress)
    # one big transaction of sorts and hash aggregates over every fact: memory for them, not temp files
    await session.execute(text("SET LOCAL work_mem = '256MB'"))
    await stages.run("empty", 0, _empty(session, group_id))

    claimed: dict[Any, Delivered] = {}
    for item in items:
        if not handles(item.event.type):
            report.unhandled += 1
        elif item.event.id in claimed:
            report.duplicates += 1
        else:
            claimed[item.event.id] = item
    fresh = list(claimed.values())
    failed: list[Failed] = report.failed

    def of(types: Sequence[str]) -> list[Delivered]:
        wanted = frozenset(types)
        return [item for item in fresh if item.event.type in wanted]

    def registry(types: Sequence[str], handler: BatchHandler) -> HandlerRegistry:
        one = HandlerRegistry()
        one.register(types, handler)
        return one

    org = of(directory.EVENT_TYPES)
    await stages.run("directory", len(org), _through(
        session, registry(directory.EVENT_TYPES, directory.directory_handler(on_moves=_no_moves)), org, chunk,
        failed))
    supports = of(support.EVENT_TYPES)
    await stages.run("support", len(supports), _through(
        session, registry(support.EVENT_TYPES, support.apply_support), supports, chunk, failed))
    likas = of(lika.EVENT_TYPES)
    await stages.run("lika", len(likas), _through(session, registry(lika.EVENT_TYPES, lika.apply_lika), likas,
                                                  chunk, failed))

    facts = of(results.EVENT_TYPES)
    await stages.run("facts", len(facts), _facts(session, facts, chunk))
    await stages.run("levels", 0, _levels(session))
    await stages.run("figures", 0, _figures(session))
    await stages.run("below_pass", 0, _below_pass(session))
    tracked = of(compliance.EVENT_TYPES)
    # compliance's cost is per batch (a window's statement per touched period): the bigger, the fewer
    await stages.run("compliance", len(tracked), _through(
        session, registry(compliance.EVENT_TYPES, compliance.apply_compliance), tracked, chunk * 5, failed))

    left_out = {f.item.event.id for f in failed}
    applied = [item for item in fresh if item.event.id not in left_out]
    report.applied = len(applied)
    await stages.run("freshness", len(applied), _note_freshness(session, applied))
    await stages.run("alerts", 0, reevaluate_all(session))
    await stages.run("bookkeeping", len(applied), _bookkeeping(session, applied, group_id, next_offsets))
    return report


async def _no_moves(session: AsyncSession, moves: Any) -> None:
    """The directory goes first, with nothing counted yet: there is nothing to move (the levels are
    computed from the final placement afterwards)."""


async def _empty(session: AsyncSession, group_id: str) -> None:
    tables = derived_tables()
    await session.execute(text(f"TRUNCATE {', '.join(_q(t) for t in tables)}"))
    others = (await session.execute(text(f"SELECT 1 FROM {APPLIED} WHERE group_id <> :g LIMIT 1"),
                                    {"g": group_id})).first()
    if others is None:
        await session.execute(text(f"TRUNCATE {APPLIED}"))
    else:
        await session.execute(text(f"DELETE FROM {APPLIED} WHERE group_id = :g"), {"g": group_id})
    await session.execute(text(f"DELETE FROM {OFFSETS} WHERE group_id = :g"), {"g": group_id})


async def _through(session: AsyncSession, handler: BatchHandler, items: Sequence[Delivered], chunk: int,
                   failed: list[Failed]) -> None:
    """A capability's normal handler over `items` in batches of `chunk`, in order; an event that
    breaks a batch is found by halving it (each half in a savepoint) and left out."""
    for start in range(0, len(items), chunk):
        await _halving(session, handler, items[start:start + chunk], failed)


async def _halving(session: AsyncSession, handler: BatchHandler, items: Sequence[Delivered],
                   failed: list[Failed]) -> None:
    try:
        async with session.begin_nested():
            await handler(session, items)
        return
    except Exception as error:
        # a rolled-back savepoint may have taken a staging table the session believes made: drop them all
        await session.execute(text("DISCARD TEMP"))
        session.info.pop("styrkedja.staged", None)
        if len(items) == 1:
            if isinstance(error, Refused):
                failed.append(Failed(items[0], error.reason, error.message))
            else:  # only the type: the text may quote the event's data
                failed.append(Failed(items[0], "handler_failed", f"the handler failed with {type(error).__name__}"))
            return
    half = (len(items) + 1) // 2
    await _halving(session, handler, items[:half], failed)
    await _halving(session, handler, items[half:], failed)


async def _facts(session: AsyncSession, items: Sequence[Delivered], chunk: int) -> None:
    """Newest revision per fact (the live path's `resolve`: equal revisions keep the first), written by COPY."""
    incoming: dict[str, list[tuple[Any, Any]]] = {"assessments": [], "forecasts": []}
    for item in items:
        fact = results.fact_of(item.event)
        if isinstance(fact, AssessmentFact):
            incoming["assessments"].append((fact.assessment_id, fact))
        else:
            incoming["forecasts"].append((fact.forecast_id, fact))
    conn = (await (await session.connection()).get_raw_connection()).driver_connection
    assert conn is not None
    for name, store in (("assessments", ASSESSMENTS), ("forecasts", FORECASTS)):
        final = resolve({}, incoming[name])
        incoming[name] = []
        rows = [store._row_of(fact) for fact in final.values()]  # the tables are empty: straight in by COPY
        del final
        await conn.copy_records_to_table(store.facts.name, records=rows, columns=store.fact_fields)


async def _levels(session: AsyncSession) -> None:
    for store in (ASSESSMENTS, FORECASTS):
        dims = ", ".join(_q(d) for d in store.dimensions)
        await session.execute(text(f"INSERT INTO {store.aggregates.name} ({dims}, count) {store.recomputed_sql()}"))


async def _figures(session: AsyncSession) -> None:
    await session.execute(text(f"ANALYZE {ASSESSMENTS.facts.name}, {FORECASTS.facts.name}"))  # filled just now
    for name, sql in figure_tables.RECOMPUTED.items():
        sql = figure_tables.PASS_BY_STUDENT if name == "pass" else sql
        table = figure_tables.TABLES[name]
        cols = ", ".join(_q(c) for c in (*table.key, *table.values))
        await session.execute(text(f"INSERT INTO {table.table.name} ({cols}) SELECT {cols} FROM ({sql}) AS r"))
    for name in ("forecasts", "merit"):
        rows = await recomputed_rows(session, name, paired_only=True)
        await figure_tables.TABLES[name].add(session, rows)


async def _below_pass(session: AsyncSession) -> None:
    await session.execute(text(f"DELETE FROM {BELOW_PASS.table.name}"))
    await BELOW_PASS.add(session, await recomputed_below_pass(session, below_only=True))


async def _bookkeeping(session: AsyncSession, applied: Sequence[Delivered], group_id: str,
                       next_offsets: dict[tuple[str, int], int]) -> None:
    """Every applied event id (the live consumer skips them if delivered again) and the group's offsets."""
    conn = (await (await session.connection()).get_raw_connection()).driver_connection
    assert conn is not None
    ids = sorted({item.event.id for item in applied}, key=lambda u: u.int)
    await conn.copy_records_to_table(APPLIED, records=[(i, group_id) for i in ids], columns=("event_id", "group_id"))
    if next_offsets:
        await session.execute(text(
            f"INSERT INTO {OFFSETS} (group_id, topic, partition, next_offset) "
            "SELECT :g, t, p, o FROM unnest(CAST(:topics AS text[]), CAST(:partitions AS integer[]), "
            "CAST(:offsets AS bigint[])) AS x(t, p, o) ON CONFLICT (group_id, topic, partition) "
            "DO UPDATE SET next_offset = EXCLUDED.next_offset, updated_at = now()"),
            {"g": group_id, "topics": [t for t, _ in next_offsets], "partitions": [p for _, p in next_offsets],
             "offsets": list(next_offsets.values())})

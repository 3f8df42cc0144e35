"""The consumer's claim of a batch's event ids (`ConsumerLoop._claim_new`: the ids into
`consumer_applied_events`, the next offsets with them, one statement) of a git ref ("before") against this
checkout's ("after"), alternated batch by batch on one PostgreSQL, each side in a database of its own (its own
table's shape: round 24c keyed the claims by (event id, organiser), round 27 by (event id, organiser, topic)) that holds `--fill` claims already
(as a consumer's after a term: the primary key's pages are not all in reach). Each batch is `--batch` new
events (and `--dups` of them re-delivered, ids applied before) in its own transaction; per side: the median
of this process's CPU ms and the backend's CPU ms (psutil, by its pid) and the wall ms per batch. Also
prints the statement's EXPLAIN (ANALYZE, BUFFERS, WAL) of one batch of this checkout's.

    .venv/bin/python bench/claim_pairs.py [--fill 1000000] [--batch 5000] [--pairs 15] [--before-ref main]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "bench"))

from apply_overlap import consumer_of  # noqa: E402

from styrkedja_contracts import OrganisationUnitUpsertedV1, new_event  # noqa: E402
from styrkedja_devstack.postgres import EmbeddedPostgres, ensure_database  # noqa: E402
from styrkedja_kit import consumer as after_consumer  # noqa: E402
from styrkedja_kit.db import Database  # noqa: E402
from styrkedja_kit.settings import ServiceSettings  # noqa: E402

T0 = datetime(2026, 9, 1, tzinfo=UTC)


def batch_of(n: int, start: int) -> list:
    out = []
    for k in range(n):
        event = new_event(OrganisationUnitUpsertedV1(unit_type="organiser", unit_id=f"{2000 + k % 900}",
                                                     organiser_id=f"{2000 + k % 900}", name="H", updated_at=T0),
                          source="/bench")
        raw = event.to_bytes()
        # the organiser as the live loop has it (`claim_organiser` of the key); the side before reads the id only
        out.append(after_consumer.Delivered(event, "t", k % 6, start + k, after_consumer.record_digest(raw),
                                            organiser=event.data.organiser_id))
    return out


async def run(args: argparse.Namespace, before: object, state: Path) -> dict:
    import psutil
    from aiokafka import TopicPartition
    from sqlalchemy import MetaData, text
    from sqlalchemy.ext.asyncio import AsyncSession

    pg = EmbeddedPostgres(state / "pgdata").start()
    try:
        dbs: dict[str, Database] = {}
        tables: dict[str, tuple] = {}
        loops: dict[str, object] = {}
        for label, module in (("before", before), ("after", after_consumer)):
            ensure_database(pg.server_url(), f"claim_{label}")
            url = f"postgresql+asyncpg://{pg.server_url().removeprefix('postgresql://')}/claim_{label}"
            db = dbs[label] = Database(url)
            metadata = MetaData()
            applied, offsets = tables[label] = module.define_consumer_tables(metadata)  # type: ignore[attr-defined]
            organiser = ", organiser_id" if "organiser_id" in applied.c else ""
            topic = ", topic" if "topic" in applied.c else ""  # round 27: keyed by (event id, organiser, topic)
            in_topic = "'t', " if topic else ""  # the batches' topic
            async with db.engine.begin() as conn:
                await conn.run_sync(metadata.create_all)
                await conn.execute(text(
                    f"INSERT INTO {applied.name} (event_id{organiser}{topic}, group_id, digest) SELECT gen_random_uuid(), "
                    f"{'(2000 + i % 900)::text, ' if organiser else ''}{in_topic}"
                    f"'g-claim', decode(md5(i::text), 'hex') FROM generate_series(1, {args.fill}) i"))
            async with db.engine.connect() as conn:
                await conn.execution_options(isolation_level="AUTOCOMMIT")
                await conn.exec_driver_sql("VACUUM ANALYZE consumer_applied_events")
            settings = ServiceSettings(database_url=url, kafka_bootstrap_servers="127.0.0.1:9", client_id="claim")
            loops[label] = module.ConsumerLoop(settings, db, group_id="g-claim", topics=["t"],  # type: ignore[attr-defined]
                                               handler=None, applied_table=applied, offsets_table=offsets)
        batches = [batch_of(args.batch, n * args.batch) for n in range(2 * args.pairs + 1)]
        spent: dict[str, list[tuple[float, float, float]]] = {"before": [], "after": []}
        conns = {label: await db.engine.connect() for label, db in dbs.items()}
        backends = {label: psutil.Process((await conn.get_raw_connection()).driver_connection.get_server_pid())
                    for label, conn in conns.items()}
        try:
            previous: dict[str, list] = {"before": [], "after": []}
            for n in range(2 * args.pairs):
                label = ("before", "after")[(n + n // 2) % 2]  # before, after, after, before, …
                chunk = batches[n] + previous[label][:args.dups]  # re-delivered: ids its side's batch before applied
                previous[label] = batches[n]
                next_offsets = {TopicPartition("t", p): 10**6 + n for p in range(6)}
                backend = backends[label]
                pg_cpu, cpu, wall = sum(backend.cpu_times()[:2]), time.process_time(), time.perf_counter()
                async with AsyncSession(bind=conns[label]) as session, session.begin():
                    fresh, _ = await loops[label]._claim_new(session, chunk, next_offsets)  # type: ignore[attr-defined]
                spent[label].append(((time.process_time() - cpu) * 1000, (sum(backend.cpu_times()[:2]) - pg_cpu) * 1000,
                                     (time.perf_counter() - wall) * 1000))
                assert len(fresh) == len(batches[n]), (label, len(fresh))
            conn, db = conns["after"], dbs["after"]
            # this checkout's statement, explained
            statements: list[tuple[str, dict]] = []
            from sqlalchemy import event as sa_event

            def grab(conn_, cursor, statement, parameters, context, executemany) -> None:  # noqa: ANN001
                statements.append((statement, parameters))

            sa_event.listen(db.engine.sync_engine, "before_cursor_execute", grab)
            async with AsyncSession(bind=conn) as session, session.begin():
                await loops["after"]._claim_new(session, batches[-1], {TopicPartition("t", 0): 1})  # type: ignore[attr-defined]
                await session.rollback()
            sa_event.remove(db.engine.sync_engine, "before_cursor_execute", grab)
            raw = (await conn.get_raw_connection()).driver_connection
            statement, parameters = statements[0]
            rows = await raw.fetch("EXPLAIN (ANALYZE, BUFFERS, WAL) " + statement, *parameters)
            plan = [r[0] for r in rows]
        finally:
            for conn in conns.values():
                await conn.close()
        for db in dbs.values():
            await db.dispose()
        return {side: {"python_cpu_ms_median": round(statistics.median(s[0] for s in v), 1),
                       "postgres_cpu_ms_median": round(statistics.median(s[1] for s in v), 1),
                       "wall_ms_median": round(statistics.median(s[2] for s in v), 1), "batches": len(v)}
                for side, v in spent.items()} | {"plan_after": plan}
    finally:
        pg.stop()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--fill", type=int, default=1_000_000)
    parser.add_argument("--batch", type=int, default=5_000)
    parser.add_argument("--dups", type=int, default=0, help="ids of the batch before re-delivered in each batch")
    parser.add_argument("--pairs", type=int, default=15)
    parser.add_argument("--before-ref", default="main")
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args()
    state = Path(tempfile.mkdtemp(prefix="styrkedja-bench-claim-"))
    state.chmod(0o755)
    try:
        load = os.getloadavg()[0]
        results = asyncio.run(run(args, consumer_of(args.before_ref, state), state))
        results |= {"when": datetime.now(UTC).isoformat(timespec="seconds"), "fill": args.fill, "batch": args.batch,
                    "dups": args.dups, "before_ref": args.before_ref, "load_1min": [round(load, 2),
                                                                                    round(os.getloadavg()[0], 2)]}
        print(json.dumps({k: v for k, v in results.items() if k != "plan_after"}, indent=2))
        print("\n".join(results["plan_after"]))
        if args.out is not None:
            args.out.write_text(json.dumps(results, indent=2) + "\n")
        return 0
    finally:
        shutil.rmtree(state, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())

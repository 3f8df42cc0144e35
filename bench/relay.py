"""Outbox relay probe (issue 16), in-process, smaller than bench/speed.py: the relay alone against
the same PostgreSQL and broker, with the raw consume limit measured in the same run.

  drain    N outbox rows (assessment events, as the write path stores them) filled by COPY before
           the clock starts; the kit's OutboxRelay drains them to the broker: rows/s
  latency  commit → on the topic: a writer commits one row (its NOTIFY in the same transaction) while
           a background writer commits ~1,000 rows/s in batches of 100; a plain consumer of the
           topic sees the row: p50/p99 ms. The relay's share of POST → visible (reporting's apply
           and read path come on top)

    .venv/bin/python bench/relay.py [--rows 200000] [--broker kafka] [--profile] [--out FILE]
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
import uuid
from datetime import UTC, date, datetime
from pathlib import Path

import asyncpg
from aiokafka import AIOKafkaConsumer
from sqlalchemy import MetaData

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "bench"))

from speed import pct, postmaster_pid, raw_consume, tree_cpu_seconds  # noqa: E402

from styrkedja_contracts import AssessmentPublishedV1, new_event, topic_for_event_type  # noqa: E402
from styrkedja_devstack.stack import Infrastructure  # noqa: E402
from styrkedja_kit.app import define_kit_tables  # noqa: E402
from styrkedja_kit.db import Database  # noqa: E402
from styrkedja_kit.outbox import NOTIFY_CHANNEL, OutboxRelay  # noqa: E402
from styrkedja_kit.settings import ServiceSettings  # noqa: E402

metadata = MetaData()
define_kit_tables(metadata, outbox=True, consumer=False)


def rows_of(n: int, seed: int) -> list[tuple]:
    """Outbox rows as the write path stores them: event id, topic, key (organiser), payload."""
    out = []
    for i in range(n):
        event = new_event(AssessmentPublishedV1(
            assessment_id=uuid.uuid4(), revision=1, organiser_id=str(2000 + (i + seed) % 40),
            school_unit_code=str(10_000_000 + i % 500), group_id="7A", student_id=f"stu-{seed}-{i}",
            teacher_id="t-1", gender="female", year=7, subject_code="GRGRMAT01", kind="assessment", scale="AF",
            value="C", unmet_criteria=(), school_year="2026/27", term="HT", round=1,
            assessed_on=date(2026, 11, 1), published_at=datetime.now(UTC)), source="/bench")
        out.append((event.id, topic_for_event_type(event.type).name, event.partition_key(), event.to_bytes()))
    return out


async def fill(dsn: str, rows: list[tuple]) -> None:
    conn = await asyncpg.connect(dsn)
    try:
        await conn.copy_records_to_table("outbox", records=rows, columns=["event_id", "topic", "key", "payload"])
        await conn.execute("ANALYZE outbox")
    finally:
        await conn.close()


async def drain(settings: ServiceSettings, db: Database, dsn: str, sides: dict[str, int] | None = None,
                cpu_ms: dict[str, float] | None = None, index_use: dict[str, float] | None = None,
                explain: list[str] | None = None, hold_snapshot: bool = False) -> tuple[float, int, float]:
    relay = OutboxRelay(settings, db, metadata.tables["outbox"], metadata.tables["outbox_partition_marks"])
    conn = await asyncpg.connect(dsn)
    # an older snapshot held through the drain (a long report, a rebuild, a bulk write elsewhere in the
    # cluster): no marked row's index entry can be flagged dead, every read from the start visits its heap
    holder = await asyncpg.connect(dsn) if hold_snapshot else None
    try:
        if holder is not None:
            await holder.execute("BEGIN ISOLATION LEVEL REPEATABLE READ")
            await holder.fetchval("SELECT count(*) FROM outbox_partition_marks")
        total = await conn.fetchval("SELECT count(*) FROM outbox WHERE published_at IS NULL")
        task = asyncio.create_task(relay.run())
        while relay.published == 0:  # the clock starts at the first publish (not at the broker connect)
            await asyncio.sleep(0.005)
        started, cpu, first = time.perf_counter(), time.process_time(), relay.published
        sides_started = {side: tree_cpu_seconds(pid) for side, pid in (sides or {}).items()}
        index_started = await index_reads(conn)
        while relay.published < total:
            if (explain is not None and not explain and relay.published >= 0.9 * total
                    and getattr(relay, "_floor", 0) is not None):  # (a relay with a floor: while it has one)
                # the relay's read late in the drain, as it sends it (from the bench's connection)
                explain.append(await explain_read(conn, relay))
            await asyncio.sleep(0.01)
        seconds, cpu = time.perf_counter() - started, time.process_time() - cpu
        if cpu_ms is not None and hasattr(relay, "seconds_in"):  # where the publish loop waited
            cpu_ms.update({f"loop_{step}_s": v for step, v in relay.seconds_in.items()})
        if cpu_ms is not None:  # CPU ms per 1,000 rows of each side: the cost of a row, whatever the load
            cpu_ms["relay"] = cpu * 1e6 / (total - first)
            cpu_ms.update({side: (tree_cpu_seconds(pid) - sides_started[side]) * 1e6 / (total - first)
                           for side, pid in (sides or {}).items()})
        relay.stop()
        await task
        if index_use is not None:
            await asyncio.sleep(1.5)  # the backends' statistics reach the shared counters within a second
            scans, blocks, heap = (after - before for after, before in zip(await index_reads(conn), index_started,
                                                                     strict=True))
            index_use.update({"index_scans": scans, "index_blocks": blocks,
                              "index_blocks_per_scan": round(blocks / max(scans, 1), 1),
                              "heap_blocks_per_1000_rows": round(heap * 1000 / max(total - first, 1), 1)})
    finally:
        await conn.close()
        if holder is not None:
            await holder.close()
    return (total - first) / seconds, total, (total - first) / cpu


async def index_reads(conn: asyncpg.Connection) -> tuple[int, int, int]:
    """Scans of the relay's partial index, the index blocks they touched (hit or read), and the outbox's
    heap blocks touched (by reads and markings), so far."""
    row = await conn.fetchrow(
        "SELECT s.idx_scan, io.idx_blks_hit + io.idx_blks_read AS blocks, "
        "(SELECT heap_blks_hit + heap_blks_read FROM pg_statio_user_tables WHERE relname = 'outbox') AS heap "
        "FROM pg_stat_user_indexes s "
        "JOIN pg_statio_user_indexes io USING (indexrelid) WHERE s.indexrelname = 'ix_outbox_unpublished'")
    return int(row["idx_scan"]), int(row["blocks"]), int(row["heap"])


async def explain_read(conn: asyncpg.Connection, relay: OutboxRelay) -> str:
    """EXPLAIN (ANALYZE, BUFFERS) of the relay's plain read (from the start of the partial index) and,
    where the relay has one, of its read from a lower bound (`_read_after_sql`, above its last read id)."""
    plans = []
    limit = relay.settings.outbox_batch_size
    plain = await conn.fetch(f"EXPLAIN (ANALYZE, BUFFERS) {relay._read_sql}", limit)
    plans.append("-- read from the start of ix_outbox_unpublished\n" + "\n".join(r[0] for r in plain))
    after_sql = getattr(relay, "_read_after_sql", None)
    floor = getattr(relay, "_floor", None)
    if after_sql is not None and floor is not None:
        bounded = await conn.fetch(f"EXPLAIN (ANALYZE, BUFFERS) {after_sql}", limit, floor)
        plans.append(f"-- read above the last id read ({floor})\n" + "\n".join(r[0] for r in bounded))
    return "\n\n".join(plans)


async def latency(settings: ServiceSettings, db: Database, dsn: str, bootstrap: str, samples: int,
                  ) -> list[float]:
    relay = OutboxRelay(settings, db, metadata.tables["outbox"], metadata.tables["outbox_partition_marks"])
    task = asyncio.create_task(relay.run())
    consumer = AIOKafkaConsumer("styrkedja.assessments", bootstrap_servers=bootstrap, auto_offset_reset="latest",
                                enable_auto_commit=False,
                                fetch_max_wait_ms=settings.consumer_fetch_max_wait_ms)
    await consumer.start()
    writer = await asyncpg.connect(dsn)
    loader = await asyncpg.connect(dsn)
    stop = asyncio.Event()

    async def write(conn: asyncpg.Connection, rows: list[tuple]) -> None:
        async with conn.transaction():
            await conn.copy_records_to_table("outbox", records=rows, columns=["event_id", "topic", "key", "payload"])
            await conn.execute("SELECT pg_notify($1, '')", NOTIFY_CHANNEL)

    async def background() -> None:  # ~1,000 rows/s: 100 every 100 ms
        n = 0
        while not stop.is_set():
            tick = time.monotonic()
            await write(loader, rows_of(100, 10_000 + n))
            n += 1
            await asyncio.sleep(max(0.0, 0.1 - (time.monotonic() - tick)))

    seen: dict[bytes, float] = {}

    async def read() -> None:
        while not stop.is_set():
            for records in (await consumer.getmany(timeout_ms=100)).values():
                now = time.monotonic()
                for record in records:
                    seen[record.value] = now

    try:
        await asyncio.sleep(2)  # relay leading and listening, consumer assigned
        tasks = [asyncio.create_task(background()), asyncio.create_task(read())]
        await asyncio.sleep(1)
        found = []
        for n in range(samples):
            [row] = rows_of(1, 90_000 + n)
            started = time.monotonic()
            await write(writer, [row])
            deadline = started + 30
            while row[3] not in seen and time.monotonic() < deadline:
                await asyncio.sleep(0.001)
            found.append(seen.get(row[3], deadline) - started)
            await asyncio.sleep(0.037)  # samples spread over the background's rhythm
        stop.set()
        await asyncio.gather(*tasks)
    finally:
        relay.stop()
        await task
        await consumer.stop()
        await writer.close()
        await loader.close()
    return found


async def run(infra: Infrastructure, rows: int, samples: int, profile: bool, settings_overrides: dict,
              raw_messages: int = 200_000, hold_snapshot: bool = False) -> dict:
    bootstrap = infra.kafka_bootstrap_servers
    url = infra.create_database(f"bench_relay_{uuid.uuid4().hex[:6]}")
    dsn = url.replace("postgresql+asyncpg", "postgresql")
    db = Database(url, pool_size=5)
    async with db.engine.begin() as conn:
        await conn.run_sync(metadata.create_all)
    settings = ServiceSettings(service_name=f"bench-relay-{uuid.uuid4().hex[:6]}", database_url=url,
                               kafka_bootstrap_servers=bootstrap,
                               **{k.removeprefix("STYRKEDJA_").lower(): v for k, v in infra.service_env.items()
                                  if k.startswith("STYRKEDJA_KAFKA")}, **settings_overrides)
    out: dict = {}
    try:
        if raw_messages:
            out["raw_consume_per_s"] = round(await raw_consume(bootstrap, raw_messages))
            print(f"raw consume {out['raw_consume_per_s']:,} messages/s", flush=True)
        data = rows_of(rows, 0)
        await fill(dsn, data)
        del data
        sides = {"postgres": postmaster_pid(infra.postgres.data_dir) if infra.postgres is not None else None,
                 "broker": infra.broker.process.pid if infra.broker is not None and infra.broker.process else None}
        sides = {k: v for k, v in sides.items() if v is not None}
        cpu_ms: dict[str, float] = {}
        if profile:
            from pyinstrument import Profiler

            with Profiler(async_mode="enabled") as profiler:
                rate, total, per_cpu = await drain(settings, db, dsn, sides, cpu_ms)
            (ROOT / "bench" / "results" / "profile-relay.txt").write_text(
                f"{rate:,.0f} rows/s\n" + profiler.output_text(unicode=True))
        else:
            index_use: dict[str, float] = {}
            explain: list[str] = []
            rate, total, per_cpu = await drain(settings, db, dsn, sides, cpu_ms, index_use, explain, hold_snapshot)
            out.update(index_use)
            if explain:
                out["explain_read_at_90_percent"] = explain[0]
                print(explain[0], flush=True)
        out["cpu_ms_per_1000_rows"] = {side: round(v, 1) for side, v in cpu_ms.items()}
        print(f"CPU ms per 1,000 rows: {out['cpu_ms_per_1000_rows']}", flush=True)
        out["outbox_relay_rows_per_s"] = round(rate)
        if raw_messages:
            out["relay_ratio_to_raw_consume"] = round(rate / out["raw_consume_per_s"], 3)
        out["relay_rows_per_cpu_s"] = round(per_cpu)  # the relay process's own CPU: less sensitive to load
        print(f"relay {rate:,.0f} rows/s ({total:,} rows; {out.get('relay_ratio_to_raw_consume')} × raw; "
              f"{per_cpu:,.0f} rows per CPU second of the relay)", flush=True)
        if samples:
            url2 = infra.create_database(f"bench_relay_{uuid.uuid4().hex[:6]}")
            db2 = Database(url2, pool_size=5)
            async with db2.engine.begin() as conn:
                await conn.run_sync(metadata.create_all)
            settings2 = settings.model_copy(update={"service_name": f"bench-relay-{uuid.uuid4().hex[:6]}"})
            try:
                found = await latency(settings2, db2, url2.replace("postgresql+asyncpg", "postgresql"), bootstrap,
                                      samples)
            finally:
                await db2.dispose()
            out["commit_to_topic_p50_ms"] = round(statistics.median(found) * 1000, 1)
            out["commit_to_topic_p99_ms"] = round(pct(found, 0.99) * 1000, 1)
            print(f"commit → on the topic at ~1,000 rows/s: p50 {out['commit_to_topic_p50_ms']} ms, "
                  f"p99 {out['commit_to_topic_p99_ms']} ms ({len(found)} samples)", flush=True)
    finally:
        await db.dispose()
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=200_000)
    parser.add_argument("--samples", type=int, default=100)
    parser.add_argument("--hold-snapshot", action="store_true",
                        help="a repeatable-read transaction open through the drain (an older snapshot)")
    parser.add_argument("--raw", type=int, default=200_000, help="messages of the raw consume (0: none)")
    parser.add_argument("--broker", choices=("embedded", "kafka"), default=None)
    parser.add_argument("--profile", action="store_true", help="bench/results/profile-relay.txt")
    parser.add_argument("--set", action="append", default=[], metavar="SETTING=VALUE",
                        help="a ServiceSettings field for the relay, e.g. outbox_batch_size=10000")
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args()
    overrides = dict(item.split("=", 1) for item in args.set)
    state = Path(tempfile.mkdtemp(prefix="styrkedja-relay-"))
    state.chmod(0o755)
    infra = Infrastructure.start(state, broker_kind=args.broker)
    try:
        out = {"date": datetime.now(UTC).isoformat(timespec="seconds"), "cores": os.cpu_count(),
               "load_average_1m_at_start": round(os.getloadavg()[0], 2), "broker": infra.broker_kind,
               "rows": args.rows, "settings": overrides, "older_snapshot_held": args.hold_snapshot,
               **asyncio.run(run(infra, args.rows, args.samples, args.profile, overrides, args.raw,
                                   args.hold_snapshot))}
        out["load_average_1m_at_end"] = round(os.getloadavg()[0], 2)
        if args.out:
            args.out.parent.mkdir(parents=True, exist_ok=True)
            args.out.write_text(json.dumps(out, indent=2) + "\n")
        print(json.dumps(out))
    finally:
        infra.stop()
        shutil.rmtree(state, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())

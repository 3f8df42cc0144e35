"""Reporting apply on several consumers at once (issue 16, apply16): the deadline week of `--organisers`
municipalities (each `bench/deadline_week.py`'s organiser of `--students` students: 16 subjects × 4 rounds, year 9's
forecasts and term grades, the roster) applied by 1, 2, 3 … consuming worker *processes* of one consumer group into
one embedded PostgreSQL, as reporting replicas do: each worker applies the partitions the group would hand it (an
organiser's events are in partition `murmur2(key) % 6` of their topic, as the producers' partitioner puts them; worker
`i` of `n` takes the partitions `p % n == i`), in batches of `--batch` through the consumer's transaction
(`ConsumerLoop._apply`: claim the ids, every handler, the offsets), all workers started at one moment.

Without a broker (the events are decoded in each worker up front, untimed): what applying costs and how it scales
when the cores are the limit, not the fetch. Per run: events/s (all workers' events ÷ the wall time from the start
to the last worker's end), CPU seconds of the workers and of the PostgreSQL server, the lock waits seen (PostgreSQL's
`pg_stat_activity` sampled every 20 ms: which statements waited for a lock another worker's transaction held), and in
the last round the recomputation (every cell against the facts; exit status 1 if any differ). The worker counts are
alternated within each round, so a busy moment of the shared machine hits each.

`--organisers` default 12 with `--balanced` ids (two organisers per partition, so that a worker's share is its
partitions' share); `--no-balanced` takes the ids 1100, 1101, … as they fall.

    .venv/bin/python bench/apply_workers.py [--organisers 12] [--students 100] [--workers 1,2] [--rounds 3] \\
        [--batch 5000] [--out bench/results/apply16.json]
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import multiprocessing
import os
import platform
import random
import shutil
import statistics
import sys
import tempfile
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "bench"))

PARTITIONS = 6  # every topic's (styrkedja_contracts.topics)
TOPIC_OF = {"assessment": "styrkedja.assessments", "forecast": "styrkedja.forecasts",
            "organisation": "styrkedja.organisation", "support": "styrkedja.support"}


def partition_of(organiser: str, partitions: int = PARTITIONS) -> int:
    """The partition the producers' partitioner (aiokafka's default, Kafka's murmur2) gives an organiser's key."""
    from aiokafka.partitioner import murmur2

    return (murmur2(organiser.encode()) & 0x7FFFFFFF) % partitions


def organiser_ids(count: int, balanced: bool, candidates: Iterator[str] | None = None) -> list[str]:
    """`count` organiser ids from `candidates` (default the kommunkoder 1100, 1101, …; repeats skipped), with
    `balanced` only those that keep every partition's count within one (`count` // 6 or one more: with 6 or more,
    every partition has some; with fewer, each is in a partition of its own)."""
    out: list[str] = []
    per_partition: Counter[int] = Counter()
    base, more = divmod(count, PARTITIONS)  # every partition `base`, `more` of them one more
    candidates = candidates if candidates is not None else (str(n) for n in itertools.count(1100))
    while len(out) < count:
        organiser = next(candidates)
        if organiser in out:
            continue
        p = partition_of(organiser)
        if balanced and not (per_partition[p] < base or (
                per_partition[p] == base and sum(n > base for n in per_partition.values()) < more)):
            continue
        per_partition[p] += 1
        out.append(organiser)
    return out


def relabel(event: Any, organiser: str) -> Any:
    """`event` (of `deadline_week`'s organiser 2999) as organiser `organiser`'s: its ids, codes, areas, students."""
    from figures_read import ORGANISER

    from styrkedja_contracts import new_event

    def moved(value: str) -> str:
        if value == ORGANISER:
            return organiser
        if len(value) == 8 and value.startswith(ORGANISER) and value.isdigit():
            return organiser + value[4:]
        for prefix in ("su-", "area-", "st-", "m-"):
            if value.startswith(prefix):
                rest = value[len(prefix):]
                return prefix + (moved(rest) if prefix == "su-" else f"{organiser}-{rest}")
        return value

    data = event.data
    update = {name: moved(getattr(data, name)) for name in type(data).model_fields
              if isinstance(getattr(data, name), str) and name not in ("name", "kind", "scale", "value", "gender",
                                                                       "school_year", "term", "subject_code",
                                                                       "teacher_id", "group_id", "unit_type")}
    return new_event(data.model_copy(update=update), source="/b")


def organiser_data(organiser: str, index: int, students: int, seed: int) -> tuple[list, list]:
    """(directory, results) of one organiser: `deadline_week`'s, relabelled (its own result ids by `seed + index`)."""
    from deadline_week import deadline_organisation, deadline_results

    directory, groups = deadline_organisation(students)
    events = deadline_results(random.Random(seed + index), groups)
    return [relabel(e, organiser) for e in directory], [relabel(e, organiser) for e in events]


def interleaved(per_organiser: list[list], chunk: int = 25) -> list:
    """The organisers' events as they arrive together: a class list (`chunk`) of each in turn, each one's in order."""
    out: list = []
    cursors = [0] * len(per_organiser)
    while any(c < len(events) for c, events in zip(cursors, per_organiser, strict=True)):
        for n, events in enumerate(per_organiser):
            out += events[cursors[n]:cursors[n] + chunk]
            cursors[n] += chunk
    return out


def delivered(events: list, offsets: dict[tuple[str, int], int]) -> list:
    """Each event where the producers put it: its topic, its organiser's partition, the next offset there."""
    from styrkedja_kit.consumer import Delivered

    out = []
    for e in events:
        topic = TOPIC_OF[e.type.split(".")[2]]
        p = partition_of(e.data.organiser_id)
        offset = offsets.get((topic, p), 0)
        offsets[(topic, p)] = offset + 1
        out.append(Delivered(e, topic, p, offset))
    return out


def consumer_loop(url: str, group_id: str, label: str) -> Any:
    from styrkedja_kit.consumer import ConsumerLoop
    from styrkedja_kit.db import Database
    from styrkedja_kit.settings import ServiceSettings
    from styrkedja_reporting.main import handler_registry
    from styrkedja_reporting.persistence import metadata

    handler = handler_registry()
    db = Database(url)
    return ConsumerLoop(ServiceSettings(database_url=url, kafka_bootstrap_servers="localhost:1", client_id=label),
                        db, group_id=group_id, topics=sorted(set(TOPIC_OF.values())), handler=handler,
                        applied_table=metadata.tables["consumer_applied_events"],
                        offsets_table=metadata.tables["consumer_offsets"], handles=handler.handles)


def worker(index: int, workers: int, url: str, group_id: str, organisers: list[str], students: int, seed: int,
           batch: int, ready: Any, go: Any, results: Any, release: Any) -> None:
    """One consuming worker: its partitions' organisers' events decoded (untimed), then applied once `go` is set."""
    try:
        mine = [(n, o) for n, o in enumerate(organisers) if partition_of(o) % workers == index]
        events = interleaved([organiser_data(o, n, students, seed)[1] for n, o in mine])
        items = delivered(events, {})
        asyncio.run(_apply_all(index, url, group_id, items, batch, ready, go, results, release))
    except BaseException as error:  # the parent reports it
        results.put(("failed", index, repr(error)))
        raise


async def _apply_all(index: int, url: str, group_id: str, items: list, batch: int, ready: Any, go: Any,
                     results: Any, release: Any) -> None:
    """Applies, reports, and keeps its database connection until `release` (its backend's CPU is counted then)."""
    from aiokafka import TopicPartition

    loop = consumer_loop(url, group_id, f"bench-workers-{index}")
    ready.put(index)
    while not go.is_set():  # not go.wait(): the event loop stays free meanwhile
        await asyncio.sleep(0.001)
    cpu, started = time.process_time(), time.time()
    batches = []
    async with loop.holding_connection():  # as the loop's run does
        for start in range(0, len(items), batch):
            chunk = items[start:start + batch]
            at = time.perf_counter()
            ends: dict[Any, int] = {}
            for item in chunk:
                ends[TopicPartition(item.topic, item.partition)] = item.offset + 1
            fresh = await loop._apply(chunk, ends)
            if len(fresh) != len(chunk):
                raise RuntimeError(f"worker {index}: {len(chunk) - len(fresh)} events of a fresh batch were there")
            batches.append((time.perf_counter() - at) * 1000)
        out = {"events": len(items), "started": started, "ended": time.time(),
               "cpu_seconds": time.process_time() - cpu, "batches": len(batches),
               "ms_per_batch_p50": round(statistics.median(batches), 1) if batches else None}
        results.put(("done", index, out))
        while not release.is_set():
            await asyncio.sleep(0.01)
    await loop.db.dispose()


def broker_worker(index: int, workers: int, url: str, group_id: str, bootstrap: str, batch: int, ready: Any, go: Any,
                  results: Any, release: Any) -> None:
    """`--from-broker`: one reporting consumer (`ConsumerLoop.run`: join the group, fetch, decode, apply) of the
    group, from `go` until `release` (the parent saw every event applied)."""
    try:
        asyncio.run(_consume(index, workers, url, group_id, bootstrap, batch, ready, go, results, release))
    except BaseException as error:
        results.put(("failed", index, repr(error)))
        raise


async def _consume(index: int, workers: int, url: str, group_id: str, bootstrap: str, batch: int, ready: Any,
                   go: Any, results: Any, release: Any) -> None:
    loop = consumer_loop(url, group_id, f"bench-workers-{index}")
    # as `consumer_workers` N sibling workers would (the group's session: `kafka.group_timing`)
    loop.settings = loop.settings.model_copy(update={"kafka_bootstrap_servers": bootstrap,
                                                     "consumer_max_records": batch, "consumer_workers": workers})
    ready.put(index)
    while not go.is_set():
        await asyncio.sleep(0.001)
    cpu, started = time.process_time(), time.time()
    task = asyncio.create_task(loop.run())
    while not release.is_set():
        await asyncio.sleep(0.01)
    cpu = time.process_time() - cpu  # before the loop leaves the group
    loop.stop()
    await task
    results.put(("done", index, {"events": loop.applied_count, "started": started, "ended": time.time(),
                                 "cpu_seconds": cpu}))
    await loop.db.dispose()


async def publish(bootstrap: str, events: list) -> None:
    """The events on their topics, keyed by organiser (untimed, once per run of the bench)."""
    from aiokafka import AIOKafkaProducer

    from styrkedja_kit.kafka import ensure_topics, registry_topics
    from styrkedja_kit.settings import ServiceSettings

    await ensure_topics(ServiceSettings(kafka_bootstrap_servers=bootstrap), registry_topics(["bench"]))
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, linger_ms=20, max_batch_size=512 * 1024)
    await producer.start()
    try:
        futures = [await producer.send(TOPIC_OF[e.type.split(".")[2]], e.to_bytes(), key=e.partition_key())
                   for e in events]
        await asyncio.gather(*futures)
    finally:
        await producer.stop()


async def offsets_reached(dsn: str, group_id: str) -> int:
    """The group's stored next offsets, summed: every published event applied when it is their count (every
    partition's log begins at 0). Not a count of the applied ids: that statement, polled, cost PostgreSQL more
    than a batch's biggest statement and was counted in the run's CPU."""
    import asyncpg

    conn = await asyncpg.connect(dsn)
    try:
        return int(await conn.fetchval("SELECT coalesce(sum(next_offset), 0) FROM consumer_offsets "
                                       "WHERE group_id = $1", group_id))
    finally:
        await conn.close()


async def sample_waits(dsn: str, stop: asyncio.Event) -> tuple[Counter[str], Counter[str]]:
    """Every 20 ms, the workers' backends (this database's, but the sampler's): what each was doing
    (`wait_event_type: wait_event`, "CPU" where it waited for nothing, "idle: ClientRead" where it waited for its
    worker), and for those that waited for a lock (a row, a transaction id, an advisory lock: another worker's
    transaction held it) the first 90 characters of their statement."""
    import asyncpg

    states: Counter[str] = Counter()
    locks: Counter[str] = Counter()
    conn = await asyncpg.connect(dsn)
    try:
        while not stop.is_set():
            rows = await conn.fetch(
                "SELECT state, wait_event_type AS t, wait_event AS e, "
                "left(regexp_replace(query, '\\s+', ' ', 'g'), 90) AS q FROM pg_stat_activity "
                "WHERE datname = current_database() AND pid <> pg_backend_pid() AND backend_type = 'client backend'")
            for row in rows:
                state = "CPU" if row["t"] is None else f"{row['t']}: {row['e']}"
                states[state if row["state"] == "active" else f"{row['state']}: {row['e']}"] += 1
                if row["t"] == "Lock":
                    locks[f"{row['e']}: {row['q']}"] += 1
            states["(samples)"] += 1
            await asyncio.sleep(0.02)
    finally:
        await conn.close()
    return states, locks


async def prepare(infra: Any, directory: list) -> tuple[str, str]:
    """A fresh database with reporting's tables and every organiser's directory applied (untimed)."""
    from styrkedja_kit.consumer import Delivered
    from styrkedja_reporting.persistence import metadata

    url = infra.create_database(f"bench_workers_{uuid.uuid4().hex[:6]}")
    group_id = f"bench-{uuid.uuid4().hex[:6]}"
    loop = consumer_loop(url, group_id, "bench-workers-setup")
    async with loop.db.engine.begin() as conn:
        await conn.run_sync(metadata.create_all)
    for start in range(0, len(directory), 2000):
        chunk = directory[start:start + 2000]
        await loop._apply([Delivered(e, "setup", 0, 10_000_000 + start + n) for n, e in enumerate(chunk)], {})
    await loop.db.dispose()
    return url, group_id


async def _execute(url: str, sql: str) -> None:
    import asyncpg

    conn = await asyncpg.connect(url.replace("postgresql+asyncpg://", "postgresql://", 1))
    try:
        await conn.execute(sql)
    finally:
        await conn.close()


async def check(url: str) -> dict:
    from apply import recomputation

    from styrkedja_kit.db import Database

    db = Database(url)
    try:
        return await recomputation(db, "styrkedja_reporting")
    finally:
        await db.dispose()


async def rows_written(dsn: str) -> dict[str, int]:
    """Rows written so far per table (inserted + updated + deleted, `pg_stat_user_tables`; the temporary staging
    tables together as `pg_temp`), read after a pause: the backends that ended have flushed their statistics
    (apply17's, parked branch)."""
    import asyncpg

    await asyncio.sleep(1.1)
    conn = await asyncpg.connect(dsn)
    try:
        rows = await conn.fetch("SELECT CASE WHEN schemaname LIKE 'pg_temp%' THEN 'pg_temp' ELSE relname END AS t, "
                                "sum(n_tup_ins + n_tup_upd + n_tup_del) AS n FROM pg_stat_user_tables GROUP BY 1")
    finally:
        await conn.close()
    return {r["t"]: int(r["n"]) for r in rows}


async def rows_detail(dsn: str) -> dict[str, dict[str, int]]:
    """Per table (not the temporary ones): rows inserted, updated (of them HOT), deleted and live so far (apply19:
    which tables write rows they do not keep)."""
    import asyncpg

    conn = await asyncpg.connect(dsn)
    try:
        rows = await conn.fetch("SELECT relname, n_tup_ins, n_tup_upd, n_tup_hot_upd, n_tup_del, n_live_tup "
                                "FROM pg_stat_user_tables WHERE schemaname NOT LIKE 'pg_temp%'")
    finally:
        await conn.close()
    return {r["relname"]: {"ins": r["n_tup_ins"], "upd": r["n_tup_upd"], "hot": r["n_tup_hot_upd"],
                           "del": r["n_tup_del"], "live": r["n_live_tup"]} for r in rows}


#: the tables of cells kept per level (their rows per level at the end of a run: where a level's rows are)
LEVEL_TABLES = ("assessment_aggregates", "forecast_aggregates", "figure_pass", "figure_students", "figure_forecasts",
                "figure_merit", "support_aggregates", "support_students", "support_below_pass", "plan_aggregates")


async def rows_per_level(dsn: str, events: int) -> dict[str, dict[str, float]]:
    """Per cell table and level: the rows it holds at the end of the run, per event applied."""
    import asyncpg

    conn = await asyncpg.connect(dsn)
    out: dict[str, dict[str, float]] = {}
    try:
        present = {r["relname"] for r in await conn.fetch("SELECT relname FROM pg_stat_user_tables")}
        for table in LEVEL_TABLES:
            if table in present:
                rows = await conn.fetch(f"SELECT level, count(*) AS n FROM {table} GROUP BY 1 ORDER BY 1")
                out[table] = {r["level"]: round(r["n"] / events, 3) for r in rows}
    finally:
        await conn.close()
    return out


def run_once(infra: Any, directory: list, organisers: list[str], args: argparse.Namespace, workers: int,
             verify: bool) -> dict:
    from apply import postgres_cpu_seconds

    url, group_id = asyncio.run(prepare(infra, directory))
    plain = url.replace("postgresql+asyncpg://", "postgresql://", 1)
    written_before = asyncio.run(rows_written(plain))
    detail_before = asyncio.run(rows_detail(plain))
    if args.explain_ms:  # the workers' sessions log their slow statements' plans (`profile_apply.auto_explain`)
        name = url.rsplit("/", 1)[1]
        for setting, value in (("session_preload_libraries", "auto_explain"),
                               ("auto_explain.log_min_duration", f"{args.explain_ms}ms"),
                               ("auto_explain.log_analyze", "on"), ("auto_explain.log_nested_statements", "on")):
            asyncio.run(_execute(url, f'ALTER DATABASE "{name}" SET {setting} = \'{value}\''))
    if args.statements:
        from profile_apply import reset_statement_stats

        asyncio.run(_execute(url, "CREATE EXTENSION IF NOT EXISTS pg_stat_statements"))
        asyncio.run(reset_statement_stats(url))
    context = multiprocessing.get_context("spawn")
    ready, results, go, release = context.Queue(), context.Queue(), context.Event(), context.Event()
    if args.from_broker:
        processes = [context.Process(target=broker_worker, args=(i, workers, url, group_id,
                                                                 infra.kafka_bootstrap_servers, args.batch, ready, go,
                                                                 results, release))
                     for i in range(workers)]
    else:
        processes = [context.Process(target=worker, args=(i, workers, url, group_id, organisers, args.students,
                                                          args.seed, args.batch, ready, go, results, release))
                     for i in range(workers)]
    for p in processes:
        p.start()
    try:
        for _ in processes:
            ready.get(timeout=600)
        dsn = url.replace("postgresql+asyncpg://", "postgresql://", 1)

        async def timed() -> tuple[float, float, list, tuple[Counter[str], Counter[str]]]:
            stop = asyncio.Event()
            sampler = asyncio.create_task(sample_waits(dsn, stop))
            await asyncio.sleep(0.05)
            pg = postgres_cpu_seconds(infra.postgres.data_dir)
            started = time.perf_counter()
            go.set()
            done = []
            if args.from_broker:  # until every event is applied (the directory's were, by `prepare`)
                while await offsets_reached(dsn, group_id) < args.from_broker_events:
                    await asyncio.sleep(0.1)
                seconds = time.perf_counter() - started
                pg = postgres_cpu_seconds(infra.postgres.data_dir) - pg
                release.set()
            while len(done) < workers:
                kind, index, body = await asyncio.to_thread(results.get, True, 3600)
                if kind == "failed":
                    raise RuntimeError(f"worker {index}: {body}")
                done.append(body)
            if not args.from_broker:
                seconds = time.perf_counter() - started
                pg = postgres_cpu_seconds(infra.postgres.data_dir) - pg
            stop.set()
            return seconds, pg, done, await sampler

        seconds, pg_cpu, done, (states, waits) = asyncio.run(timed())
    finally:
        release.set()
        for p in processes:
            p.join(timeout=60)
            if p.is_alive():
                p.kill()
    events = sum(d["events"] for d in done)
    cpu = sum(d["cpu_seconds"] for d in done)
    samples = states.pop("(samples)", 0)
    out = {"workers": workers, "events": events, "seconds": round(seconds, 2),
           "events_per_s": round(events / seconds), "cpu_seconds_python": round(cpu, 2),
           "cpu_seconds_postgres": round(pg_cpu, 2),
           "cpu_us_per_event": round((cpu + pg_cpu) * 1e6 / events, 1),
           "python_us_per_event": round(cpu * 1e6 / events, 1), "postgres_us_per_event": round(pg_cpu * 1e6 / events, 1),
           "cores_busy": round((cpu + pg_cpu) / seconds, 2),
           "per_worker": [{k: (round(v, 2) if isinstance(v, float) and k != "started" and k != "ended" else v)
                           for k, v in d.items() if k not in ("started", "ended")}
                          | {"seconds": round(d["ended"] - d["started"], 2)} for d in done],
           "samples": samples, "backend_states": dict(states.most_common(12)),
           "lock_waits": dict(waits.most_common(12))}
    if args.statements:  # per batch of all the workers' batches (in-process mode; from the broker: per 5,000 events)
        from profile_apply import statement_stats

        batches = sum(d.get("batches", 0) for d in done) or max(1, events // 5000)
        out["statements_batches"] = batches
        out["statements"] = asyncio.run(statement_stats(url, batches, top=12))
    written = asyncio.run(rows_written(plain))  # the workers' backends have ended (the workers were joined)
    per = {t: (n - written_before.get(t, 0)) / events for t, n in written.items() if n != written_before.get(t, 0)}
    out["rows_per_event"] = {t: round(v, 3) for t, v in sorted(per.items(), key=lambda kv: -kv[1])}
    out["rows_per_event_total"] = round(sum(v for t, v in per.items() if t != "pg_temp"), 3)
    detail = asyncio.run(rows_detail(plain))  # after `rows_written`'s pause: the statistics are flushed
    out["rows_per_event_by_kind"] = {
        t: {k: round((v - detail_before.get(t, {}).get(k, 0)) / events, 3) for k, v in d.items()}
        for t, d in sorted(detail.items()) if any(d[k] != detail_before.get(t, {}).get(k, 0) for k in d)}
    out["rows_held_per_event_by_level"] = asyncio.run(rows_per_level(plain, events))
    if verify:
        out["recomputation_mismatches"] = asyncio.run(check(url))
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--organisers", type=int, default=12)
    parser.add_argument("--students", type=int, default=100, help="per organiser")
    parser.add_argument("--balanced", action=argparse.BooleanOptionalAction, default=True,
                        help="organiser ids that spread evenly over the partitions")
    parser.add_argument("--workers", default="1,2", help="the worker counts to alternate, e.g. 1,2,3")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--batch", type=int, default=5_000)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results" / "apply16.json")
    parser.add_argument("--from-broker", action="store_true",
                        help="the events on the topics first (untimed), then N reporting consumers (ConsumerLoop.run: "
                             "join the group, fetch, decode, apply) timed from their start to the last event applied")
    parser.add_argument("--statements", action="store_true",
                        help="pg_stat_statements (preloaded: the server restarts once): the top statements per run")
    parser.add_argument("--note", default=None)
    parser.add_argument("--explain-ms", type=int, default=0, metavar="MS",
                        help="auto_explain (ANALYZE) the workers' statements slower than MS; the server's log is "
                             "copied beside --out (its name with -plans.txt)")
    args = parser.parse_args()
    counts = [int(n) for n in args.workers.split(",")]

    from styrkedja_devstack.stack import Infrastructure

    organisers = organiser_ids(args.organisers, args.balanced)
    directory = []
    for n, organiser in enumerate(organisers):
        directory += organiser_data(organiser, n, args.students, args.seed)[0]
    state = Path(tempfile.mkdtemp(prefix="styrkedja-bench-workers-"))
    state.chmod(0o755)
    infra = Infrastructure.start(state, broker_kind="embedded")
    if args.statements:
        asyncio.run(_execute(infra.postgres_url.replace("postgresql://", "postgresql+asyncpg://", 1).rstrip("/")
                             + "/postgres", "ALTER SYSTEM SET shared_preload_libraries = 'pg_stat_statements'"))
        infra.postgres.stop()
        infra.postgres.start()
    results: dict = {"when": datetime.now(UTC).isoformat(timespec="seconds"),
                     "machine": {"python": platform.python_version(), "cpus": os.cpu_count(),
                                 "load_1min_at_start": round(os.getloadavg()[0], 2)},
                     "organisers": organisers, "partitions_of_organisers": dict(Counter(map(partition_of, organisers))),
                     "students_per_organiser": args.students, "batch": args.batch,
                     "mode": "from the broker (ConsumerLoop.run)" if args.from_broker else "in-process _apply",
                     "rounds": []}
    try:
        args.from_broker_events = 0
        if args.from_broker:
            events = interleaved([organiser_data(o, n, args.students, args.seed)[1] for n, o in enumerate(organisers)])
            asyncio.run(publish(infra.kafka_bootstrap_servers, events))
            args.from_broker_events = len(events)
        for n in range(args.rounds):
            row: dict = {}
            order = counts if n % 2 == 0 else counts[::-1]
            for workers in order:
                row[str(workers)] = run_once(infra, directory, organisers, args, workers, verify=n == args.rounds - 1)
                row[str(workers)]["load_1min"] = round(os.getloadavg()[0], 2)
                print(f"round {n + 1}, {workers} worker(s): "
                      f"{json.dumps({k: v for k, v in row[str(workers)].items() if k != 'per_worker'})}", flush=True)
            results["rounds"].append(row)
    finally:
        if args.explain_ms:
            args.out.with_name(args.out.stem + "-plans.txt").write_text(
                infra.postgres.log_file.read_text(errors="replace"))
        infra.stop()
        shutil.rmtree(state, ignore_errors=True)
    summary = {}
    for workers in counts:
        runs = [r[str(workers)] for r in results["rounds"]]
        summary[str(workers)] = {key: statistics.median(r[key] for r in runs)
                                 for key in ("events_per_s", "cpu_us_per_event", "python_us_per_event",
                                             "postgres_us_per_event", "cores_busy", "rows_per_event_total")}
    if len(counts) > 1:
        base = [r[str(counts[0])]["events_per_s"] for r in results["rounds"]]
        for workers in counts[1:]:
            summary[f"{workers}_over_{counts[0]}_pairs"] = [
                round(r[str(workers)]["events_per_s"] / b, 2) for r, b in zip(results["rounds"], base, strict=True)]
    results["median"] = summary
    last = results["rounds"][-1]
    results["cells_equal_recomputation"] = all(not any(r["recomputation_mismatches"].values()) for r in last.values())
    results["machine"]["load_1min_at_end"] = round(os.getloadavg()[0], 2)
    results["note"] = args.note
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(results, indent=2) + "\n")
    print(json.dumps({"median": summary, "cells_equal_recomputation": results["cells_equal_recomputation"]}, indent=2))
    return 0 if results["cells_equal_recomputation"] else 1


if __name__ == "__main__":
    sys.exit(main())

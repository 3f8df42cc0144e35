"""`styrkedja rebuild reporting` (also `python -m styrkedja_reporting.rebuild`): rebuild reporting's
database from the event log into a schema of its own, swapped in by one transaction at the end, with progress
(stage, events, rate) on stderr.

Stop the reporting service's consumer first (scale the consumer to zero, or `STYRKEDJA_CONSUMER_ENABLED=false`):
what it applied meanwhile would be replaced by the swap. When the
rebuild commits, the group's offsets in the database point after the last rebuilt event (and the
broker's marker is committed too), so the consumer, started again, continues there — exactly once."""

from __future__ import annotations

import argparse
import asyncio
import functools
import gc
import json
import multiprocessing
import os
import re
import resource
import signal
import sys
import time
from collections.abc import Awaitable, Callable
from concurrent.futures import Executor, ProcessPoolExecutor
from typing import Any, TypeVar

from aiokafka import ConsumerRecord, TopicPartition
from aiokafka.errors import KafkaConnectionError
from aiokafka.structs import OffsetAndMetadata
from pydantic import ValidationError
from sqlalchemy.engine import make_url

from styrkedja_contracts import TOPICS, ContractError, dead_letter_topic, decode_event
from styrkedja_kit.__main__ import ArgumentParser
from styrkedja_kit.consumer import ConsumerLoop, Delivered, content_digests, same_content
from styrkedja_kit.db import Database
from styrkedja_kit.kafka import ensure_topics, make_consumer, make_producer
from styrkedja_kit.reach import Unanswered, reach_broker, reach_database
from styrkedja_kit.settings import validation_lines

from ..main import handler_registry
from ..metadata import metadata
from ..settings import MAX_REBUILD_WORKERS, RebuildSettings, ReportingSettings
from .bulk import (
    APPLIED,
    OFFSETS,
    CpuClock,
    Failed,
    Rebuilder,
    RebuildReport,
    RebuildRunning,
    _Event,
    peak_rss_mb,
)
from .log import STALL_SECONDS, LogIncomplete, read_log, records_at, stopped

Say = Callable[[str], None]
T = TypeVar("T")


class Unreachable(Exception):
    """The broker or reporting's database did not answer before the rebuild changed anything: said in one line by
    `main` (exit 1), not as a traceback."""


def _no_broker(settings: ReportingSettings, error: Exception) -> Unreachable:
    return Unreachable(f"no broker answered at {settings.kafka_bootstrap_servers} (STYRKEDJA_KAFKA_BOOTSTRAP_SERVERS: "
                       f"{type(error).__name__}); nothing was changed. Start the broker (`styrkedja run`, or the "
                       "stack's) and run the rebuild again")


def _no_database(settings: ReportingSettings, error: Exception) -> Unreachable:
    where = make_url(settings.database_url).render_as_string(hide_password=True)
    return Unreachable(f"reporting's database did not answer at {where} (STYRKEDJA_DATABASE_URL: "
                       f"{type(error).__name__}); nothing was changed")


def reporting_topics() -> list[str]:
    return sorted(t.name for t in TOPICS.values() if "reporting" in t.consumers)


def _stderr(line: str) -> None:
    print(line, file=sys.stderr, flush=True)


async def run(settings: ReportingSettings, *, say: Say = _stderr, chunk: int = 20_000,
              dead_letter: bool = True, decoders: int | None = None, overlap: bool = False,
              connections: int | None = None, stall_seconds: float = STALL_SECONDS,
              pass_parts: int | None = None) -> dict[str, Any]:
    """Read, rebuild, commit; returns what was done and how long each stage took (seconds). `decoders`:
    processes decoding the log beside this one (default `default_decoders()`: one per core where the machine has a
    second). They answer with the facts' staging rows as COPY text, so this process only fetches and COPYs: its
    read CPU at 602k events 31.9 s decoding here → 4.7 s, the decoder's and this one's together as much as
    before (35.0 → 35.7 s; bench/results/rebuild5.json). Earlier decoders answered with tuples, which cost this
    process as much to unpickle and encode again as it saved (rebuild2.json, rebuild4.json). `stall_seconds`: how
    long the read waits for a record while a partition is short of its end before it stops (`LogIncomplete`,
    nothing changed)."""
    decoders = default_decoders() if decoders is None else decoders
    threshold, frozen = gc.get_threshold(), gc.get_freeze_count()
    _quiet_collector(settings.rebuild_gc_gen0)  # before the decoders are forked: theirs too
    # forked first, before any connection is opened (the decoders only run `decoded_for_the_rebuild`)
    pool = ProcessPoolExecutor(decoders, mp_context=multiprocessing.get_context("fork")) if decoders else None
    try:
        summary = await _run(settings, say=say, chunk=chunk, dead_letter=dead_letter, decoders=decoders, pool=pool,
                             overlap=overlap, connections=connections, stall_seconds=stall_seconds,
                             pass_parts=pass_parts)
    finally:
        if pool is not None:
            pool.shutdown(cancel_futures=True)
        gc.set_threshold(*threshold)  # as it was (a test process runs on after a rebuild)
        if not frozen:
            gc.unfreeze()
    # the decoders' peak RSS (the largest's): counted once they have ended
    summary["decoders_max_rss_mb"] = round(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024, 1)
    return summary


def default_decoders() -> int:
    """A decoder process per core where the machine has a second one (at most 4), else none (decoded here). One was
    the read's limit: ~40 CPU us per event in the one decoder, the rest of the read ~10 us (this process and
    PostgreSQL's COPY). At 602k events beside other load (7-14): the read 121/282/126 s with one, 111/102/124 s with
    two, the same CPU (bench/results/rebuild9.json)."""
    cores = os.cpu_count() or 1
    return min(4, cores) if cores > 1 else 0


async def _run(settings: ReportingSettings, *, say: Say, chunk: int, dead_letter: bool, decoders: int,
               pool: Executor | None, overlap: bool = False, connections: int | None = None,
               stall_seconds: float = STALL_SECONDS, pass_parts: int | None = None) -> dict[str, Any]:
    started = time.perf_counter()
    group = settings.consumer_group

    def read_progress(n: int, seconds: float) -> None:
        say(f"read      {n:>12,} events  {n / max(seconds, 1e-9):>10,.0f}/s  {seconds:7.1f} s")

    def stage_progress(stage: str, n: int, seconds: float) -> None:
        if seconds:
            say(f"{stage:<10}{n:>12,} {'events' if n else '':6}  {n / seconds if n else 0:>10,.0f}/s  {seconds:7.1f} s")
        else:
            say(f"{stage:<10} ...")

    registry = handler_registry(live_alerts=False)
    db = Database(settings.database_url)
    loop = ConsumerLoop(settings, db, group_id=group, topics=[], handler=registry,
                        applied_table=metadata.tables[APPLIED], offsets_table=metadata.tables[OFFSETS])
    producer = make_producer(settings, f"{settings.client_id}-rebuild-dlq") if dead_letter else None
    # read and stage in the read's transaction: each fetch's facts go to staging tables as they are read; after the
    # read, the work on `connections` connections into the rebuild's own schema; then ONE transaction swaps it in
    rebuilder = Rebuilder(db, group_id=group, handles=registry.handles, progress=stage_progress, chunk=chunk,
                          overlap=overlap, connections=connections, pass_parts=pass_parts, knobs=settings)
    try:
        # the ops commands' one rule (`styrkedja_kit.reach`): a database or broker that never answers stops the
        # rebuild in one line naming it, the variable of its address and the wait; the database first, and the
        # rebuild's lock (another rebuild running) before the broker (the live tables untouched: `close` below)
        await reach_database(settings.database_url, settings.connect_timeout_seconds)
        try:
            await rebuilder.begin()
        except OSError as error:  # refused, no such host, timed out: asyncpg's connect, before anything was made
            raise _no_database(settings, error) from None
        await reach_broker(settings, settings.connect_timeout_seconds)
        if producer is not None:
            try:
                await producer.start()
            except KafkaConnectionError as error:
                raise _no_broker(settings, error) from None
        # pieces in flight: two per decoder, so that none waits while this process COPYs the oldest
        rebuilder.begin_decoders(pool, settings.max_event_bytes, window=max(4, 2 * decoders))
        read_cpu = CpuClock(rebuilder.stages.backend)
        try:
            log = await read_log(settings, reporting_topics(), client_id=f"{settings.client_id}-rebuild",
                                 progress=read_progress, on_raw=rebuilder.feed_raw,
                                 stall_seconds=stall_seconds)
        except KafkaConnectionError as error:  # no broker at the start (the live tables untouched: `close` below)
            raise _no_broker(settings, error) from None
        await rebuilder.drain()
        read_seconds = time.perf_counter() - started
        rebuilder.report.cpu["read"] = read_cpu.spent()
        say(f"read done: {log.records:,} records, {rebuilder.report.read:,} decoded, {len(rebuilder.dead):,} undecodable "
            f"({log.ends}); staging "
            f"{rebuilder.staging_seconds:.1f} s of it, {decoders} decoder processes")
        applied_started = time.perf_counter()
        report: RebuildReport = await rebuilder.finish(log.next_offsets)
        refused = await _records_of(settings, report.failed + report.conflicts)
        report.conflicts, conflicting = _conflicting(report.conflicts, refused[len(report.failed):],
                                                     settings.max_event_bytes)
        dead = rebuilder.dead + refused[:len(report.failed)] + conflicting
        if dead and producer is not None:  # out before the offsets past them are committed
            await ensure_topics(settings, [(dead_letter_topic(group), 1)])  # as the live consumer makes it
            await dead_letter_in_parts(loop, producer, dead, rebuilder.read_again,
                                       functools.partial(records_at, settings, client_id=f"{settings.client_id}-rebuild"))
        commit_started = time.perf_counter()
        await rebuilder.commit()
        report.stages["commit"] = round(time.perf_counter() - commit_started, 3)
        apply_seconds = time.perf_counter() - applied_started
    finally:
        try:
            await rebuilder.close()  # the shadow schema dropped (and the live tables untouched, if not committed)
        finally:
            if producer is not None:
                await producer.stop()
            await db.dispose()
    await _commit_marker(settings, group, log.next_offsets)
    total = time.perf_counter() - started
    summary = {"events_read": log.records, "decoded": report.read, "undecodable": len(rebuilder.dead),
               "applied": report.applied, "duplicates": report.duplicates, "unhandled": report.unhandled,
               "refused": len(report.failed), "conflicting_duplicates": len(report.conflicts), "read_seconds": round(read_seconds, 3),
               # of the read, a wait that ends it whatever the log's size (bench/speed.py's 6.4M estimate does not grow
               # it): none since each partition's end is taken before the read, on the embedded broker too (ops19)
               "read_end_wait_seconds": 0.0,
               "apply_seconds": round(apply_seconds, 3), "seconds": round(total, 3),
               "events_per_s": round(log.records / total) if total else None,
               "max_rss_mb": peak_rss_mb(),  # VmHWM: this program's own peak
               "decoders": decoders, "overlap": overlap, "connections": rebuilder.connections, "pass_parts": rebuilder.pass_parts,
               "parallel_workers": rebuilder.workers,  # None: the server's own
               "stages": report.stages, "timeline": {job: (round(a, 2), round(b, 2)) for job, (a, b) in report.timeline.items()}, "cpu_seconds": report.cpu,
               "stage_counts": report.counts, "peak_rss_mb_after": report.peak_rss_mb,
               "next_offsets": {f"{t}:{p}": o for (t, p), o in sorted(log.next_offsets.items())}}
    say(f"rebuilt: {report.applied:,} events applied in {total:.1f} s ({summary['events_per_s']:,}/s)")
    return summary


def _quiet_collector(gen0: int | None = None) -> None:
    """What the start made (modules, the registry, pools) out of the collector's sight, and the young generation big
    (`gen0`: STYRKEDJA_REBUILD_GC_GEN0, default `settings.GC_GEN0`; 0: Python's default; None: read from the environment now):
    a rebuild makes few reference cycles."""
    if gen0 is None:
        gen0 = RebuildSettings().rebuild_gc_gen0
    if gen0:
        # a process that froze its start already (a test process that ran a reporting app) keeps it as it is:
        # a freeze cannot be taken back in part, and `run` puts the collector back as it found it
        if not gc.get_freeze_count():
            gc.collect()
            gc.freeze()
        gc.set_threshold(gen0, *gc.get_threshold()[1:])


#: dead letters sent per part: at most this many records read again (each up to the broker's message size) held at once
DEAD_LETTER_PART = 32


async def dead_letter_in_parts(loop: ConsumerLoop, producer: Any, dead: list[tuple[ConsumerRecord, str, str]],
                               read_again: set[tuple[str, int, int]],
                               read: Callable[[list[tuple[str, int, int]]],
                                              Awaitable[dict[tuple[str, int, int], ConsumerRecord]]]) -> None:
    """`dead` to the dead-letter topic in order, a part at a time: the records the rebuild kept without their bytes
    (`Rebuilder.read_again`: big ones) read again from the log for their part only, so the memory holds a part's
    bytes, not every big bad record's of the log. One the log no longer holds (retention) goes out as kept: the
    headers name where it was."""
    part: list[tuple[ConsumerRecord, str, str]] = []
    wanted: list[tuple[str, int, int]] = []
    for n, entry in enumerate(dead, 1):
        part.append(entry)
        where = (entry[0].topic, entry[0].partition, entry[0].offset)
        if where in read_again:
            wanted.append(where)
        if len(wanted) >= DEAD_LETTER_PART or n == len(dead):
            found = await read(wanted) if wanted else {}
            await loop._dead_letter(producer, [(found.get((r.topic, r.partition, r.offset), r), reason, message)
                                               for r, reason, message in part])
            part, wanted = [], []


async def _records_of(settings: ReportingSettings, failed: list[Failed]) -> list[tuple[ConsumerRecord, str, str]]:
    """The refused events' records for the dead-letter topic: the event encoded again, or for an assessment or
    forecast (staged, not kept decoded) the record read again from the log."""
    again = await records_at(settings, [(f.item.topic, f.item.partition, f.item.offset) for f in failed
                                        if isinstance(f.item.event, _Event)], client_id=f"{settings.client_id}-rebuild")
    out = []
    for f in failed:
        item = f.item
        record = again.get((item.topic, item.partition, item.offset)) if isinstance(item.event, _Event) else None
        if record is None:
            value = b"" if isinstance(item.event, _Event) else item.event.to_bytes()
            record = ConsumerRecord(item.topic, item.partition, item.offset, 0, 0, None, value, None, 0, len(value), [])
        out.append((record, f.reason, f.message))
    return out


def _conflicting(conflicts: list[Failed], records: list[tuple[ConsumerRecord, str, str]], max_bytes: int
                 ) -> tuple[list[Failed], list[tuple[ConsumerRecord, str, str]]]:
    """Of the duplicates whose bytes differ from the event that counts under their id (`Rebuilder._claim`), those
    the live consumer calls `conflicting_duplicate` (the kit's `same_content`: the same event re-sent as other JSON —
    key order, spacing, escapes — is an ordinary duplicate), judged on their records read again. Only these few are
    decoded again; a record that cannot be read again or decoded stays a conflict."""
    kept: list[Failed] = []
    dead: list[tuple[ConsumerRecord, str, str]] = []
    for failed, entry in zip(conflicts, records, strict=True):
        record = entry[0]
        if failed.counted is not None and record.value:
            try:
                event = decode_event(record.value, max_bytes=max_bytes)
            except ContractError:
                pass
            else:
                item = Delivered(event, record.topic, record.partition, record.offset,
                                 *content_digests(record.value, event, record.headers))
                if same_content(item, failed.counted):
                    continue
        kept.append(failed)
        dead.append(entry)
    return kept, dead


async def _commit_marker(settings: ReportingSettings, group: str, next_offsets: dict[tuple[str, int], int]) -> None:
    """The broker's offset marker for the group (the database holds the offsets; see the kit consumer)."""
    consumer = make_consumer(settings, f"{settings.client_id}-rebuild-marker", group_id=group,
                             enable_auto_commit=False)
    try:
        await consumer.start()
        partitions = [TopicPartition(t, p) for t, p in next_offsets]
        consumer.assign(partitions)
        await consumer.commit({TopicPartition(t, p): OffsetAndMetadata(o, "") for (t, p), o in next_offsets.items()})
    except Exception as error:  # a marker only: the live consumer seeks to the database's offsets
        _stderr(f"the broker's offset marker was not committed ({type(error).__name__}); the database holds them")
    finally:
        await stopped(consumer)


async def cancelled_on_sigterm(work: Awaitable[T]) -> T:
    """`work`, cancelled by SIGTERM as Ctrl-C cancels it: its `finally` blocks run (the jobs' transactions rolled
    back, the rebuild's schema dropped, the lock released). Python's own SIGTERM ends the process at once: the
    schema was left behind for the next rebuild to drop, and a job's statement ran on in its backend meanwhile."""
    loop = asyncio.get_running_loop()
    task = asyncio.current_task()
    assert task is not None
    loop.add_signal_handler(signal.SIGTERM, task.cancel)
    try:
        return await work
    finally:
        loop.remove_signal_handler(signal.SIGTERM)


#: the most decoder processes and connections an argument may ask for: `--decoders 1000000` forked a process for every
#: chunk in flight (up to two million: the decoders' window), `--connections 100000` asked PostgreSQL for as many
MAX_WORKERS = MAX_REBUILD_WORKERS  # the settings the flags stand for have the same bounds
#: the longest `--stall-seconds` (a day): beyond it the wait is no longer a stall's, and asyncio's timer overflows
MAX_STALL_SECONDS = 86_400


_WHOLE_NUMBER = re.compile(r"-?[0-9]{1,18}")


def _at_least(low: int, high: int | None = None) -> Callable[[str], int]:
    """An argument's type: an integer of at least `low` (and at most `high`) (argparse says which argument and why,
    exit 2). The value is repeated cut at 40 characters: `--chunk` of 5,000 digits was a 5,000-character line."""
    def parse(value: str) -> int:
        if _WHOLE_NUMBER.fullmatch(value.strip()) is None:
            shown = repr(value[:40] + "…" if len(value) > 40 else value)
            raise argparse.ArgumentTypeError(f"{shown} is not a whole number (ASCII digits, at most 18)")
        number = int(value)
        if number < low:
            raise argparse.ArgumentTypeError(f"{number} is below {low}")
        if high is not None and number > high:
            raise argparse.ArgumentTypeError(f"{number} is above {high}")
        return number
    parse.__name__ = f"an integer of at least {low}" if high is None else f"an integer of {low} to {high}"
    return parse


def _writable_file(value: str) -> str:
    """`--profile`'s type: a file that can be written, checked before the rebuild (it was opened after the rebuild
    had committed: FileNotFoundError's traceback, exit 1, for a rebuild that was done)."""
    path = os.path.abspath(value)
    folder = os.path.dirname(path)
    shown = repr(value[:60] + "…" if len(value) > 60 else value)
    if os.path.isdir(path):
        raise argparse.ArgumentTypeError(f"{shown} is a folder, not a file")
    if not os.path.isdir(folder):
        raise argparse.ArgumentTypeError(f"{shown}: no folder {folder!r} to write it in")
    if not os.access(folder, os.W_OK | os.X_OK) or (os.path.exists(path) and not os.access(path, os.W_OK)):
        raise argparse.ArgumentTypeError(f"{shown} cannot be written by this user")
    return value


def argument_parser() -> argparse.ArgumentParser:
    """The command's arguments (also what the docs' test parses the README's `styrkedja rebuild reporting …` with)."""
    paragraphs = __doc__.split("\n\n")
    parser = ArgumentParser(
        prog="styrkedja rebuild reporting", description=paragraphs[0],
        # the warning to stop the consumer first belongs where the operator reads before running it
        epilog=" ".join(paragraphs[1].split()) + " Settings come from reporting's environment: "
        "STYRKEDJA_DATABASE_URL (under `make run`: postgresql://postgres@127.0.0.1:55432/styrkedja_reporting), "
        "STYRKEDJA_KAFKA_BOOTSTRAP_SERVERS (127.0.0.1:19092 by default).")
    parser.add_argument("--chunk", type=_at_least(1), default=20_000, help="events per handler batch (default 20,000)")
    parser.add_argument("--decoders", type=_at_least(0, MAX_WORKERS), default=None,
                        help="processes decoding the log beside this one (default one per core, at most 4, where the "
                             "machine has two cores or more, else 0: decoded here; bench/results/rebuild9.json)")
    parser.add_argument("--connections", type=_at_least(1, MAX_WORKERS), default=None,
                        help="connections doing the work after the read side by side (default: "
                             "STYRKEDJA_REBUILD_CONNECTIONS, else one per core, at most 4; bench/results/rebuild6.json)")
    parser.add_argument("--pass-parts", type=_at_least(1, MAX_WORKERS), default=None,
                        help="parts of the organisers the pass figure is made in, side by side (default: "
                             "STYRKEDJA_REBUILD_PASS_PARTS, else one per connection; bench/README.md split36)")
    parser.add_argument("--json", action="store_true", help="print the summary as JSON on stdout")
    parser.add_argument("--overlap", action="store_true",
                        help="COPY each chunk in a task while the next is read and decoded (default: before; it did "
                             "not pay on two shared cores: bench/results/rebuild3.json)")
    parser.add_argument("--no-dead-letter", action="store_true",
                        help="do not send undecodable or refused events to the dead-letter topic again")
    parser.add_argument("--stall-seconds", type=_at_least(1, MAX_STALL_SECONDS), default=int(STALL_SECONDS),
                        help="how long the read waits for a record while a partition is short of the end taken at "
                             f"the start (the broker stopped, or came back without its logs) before it stops, "
                             f"exit 1, nothing changed (default {int(STALL_SECONDS)})")
    parser.add_argument("--profile", metavar="PATH", type=_writable_file, help="write a pyinstrument profile of the run to PATH (bench)")
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = argument_parser()
    args = parser.parse_args(argv)
    try:
        settings = ReportingSettings()
    except ValidationError as error:  # a STYRKEDJA_* setting refused: one line per variable, not a traceback
        for line in validation_lines(error):
            _stderr(f"{parser.prog}: error: {line}")
        return 2
    unset = settings.database_url_unset()
    if unset is not None:
        # the default names a database no service has: refuse in one line, not with asyncpg's traceback
        parser.error(f"{unset}; a rebuild needs reporting's, styrkedja_reporting")
    no_broker = settings.kafka_bootstrap_servers_problem()
    if no_broker is not None:
        parser.error(no_broker)
    work = run(settings, chunk=args.chunk, dead_letter=not args.no_dead_letter, decoders=args.decoders,
               overlap=args.overlap, connections=args.connections, stall_seconds=args.stall_seconds,
               pass_parts=args.pass_parts)
    try:
        if args.profile:
            from pyinstrument import Profiler  # a bench tool: only imported when asked for

            with Profiler(async_mode="enabled") as profiler:
                summary = asyncio.run(cancelled_on_sigterm(work))
            with open(args.profile, "w") as out:
                out.write(profiler.output_text(unicode=True))
        else:
            summary = asyncio.run(cancelled_on_sigterm(work))
    except asyncio.CancelledError:
        _stderr("stopped by SIGTERM; the rebuild's schema dropped (the live tables as they were unless it had "
                "committed)")
        return 128 + signal.SIGTERM
    except KeyboardInterrupt:  # asyncio.run cancelled the work first: its `finally` blocks ran as for SIGTERM
        _stderr("interrupted (Ctrl-C); the rebuild's schema dropped (the live tables as they were unless it had "
                "committed); run it again to rebuild")
        return 128 + signal.SIGINT
    except (Unreachable, Unanswered, RebuildRunning, LogIncomplete) as error:
        _stderr(f"styrkedja rebuild reporting: {error}")
        return 1
    if args.json:
        print(json.dumps(summary, indent=2))
    return 0


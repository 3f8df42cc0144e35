"""The bulk rebuild of reporting from the event log, into a schema of its own that ONE transaction swaps in at the
end (readers see the old state until it commits; the live consumer must be stopped meanwhile: what it applied
would be replaced).

The incremental apply path moves deltas per batch; a rebuild starts from nothing, so it writes the
final state once instead:

1. every derived table is made again, empty, in the rebuild's schema (`SHADOW_PREFIX` and a suffix: the live
   table's columns, defaults, checks and storage options; its indexes by their live definitions, those of the
   tables filled by one statement after the load); the alerts, their comments and thresholds, what the directory
   write API published, the access audit and the outbox are kept (not derived from the log); the live tables are
   not touched until the swap (11), so a rebuild stopped anywhere before leaves them as they were;
2. while the log is read (`Rebuilder.feed`, chunk by chunk), every assessment and forecast event is
   staged by COPY into unlogged tables made for this transaction — one row each: its id, topic and time,
   compliance's view of it and its fact row (`_HEAD` and the fact; `ids` and `tracked` are views) — and every
   other handled event's id, topic and time; the small event types (directory, support, plans, LIKA, calendar) are
   staged too, as their records' bytes or pickled (`Rebuilder.small_ids`, `_small_row`), so the memory does not grow
   with the log;
3. the claim, set-wise: the first delivery of an event id within its organiser and topic (the live consumer's claim, the
   kit's `claim_of`; in log order) is claimed, later ones are duplicates;
4. the directory (organisation topic) through its normal handler, in big batches, in log order: the claimed small
   events read back from their staging table a batch at a time (at most `chunk` events and about SMALL_BATCH_BYTES of
   their staged forms), made events again and applied (`Rebuilder._small_batches`);
5. support, plans and LIKA through their normal handlers, likewise (their below-pass rows are recomputed in 9);
6. assessments and forecasts resolved to their newest revision by one statement each (DISTINCT ON the
   fact's id and organiser — a record is identified within its organiser —, newest revision first, equal revisions by their content (`results.rules.tie_order`): `results.rules.resolve`, the
   live path's rule) from the staging tables into the empty fact tables;
7. the levels of both from the final facts, rolled up: the group level's rows, the school unit's from those, the area's
   and organiser's from the school unit's (`rolled_up_levels_sql`: the rows of `FactStore.recomputed_sql`), in their
   key's order;
8. the figures: pass (with its newest days) and students by ONE statement (`_figure`: the rows of the consistency
   check's `RECOMPUTED`; pass rolled up from the group level, figure_students' rows its per group cell and student
   rows), forecast against outcome and merit by its pure rules (`figures.recompute.recomputed_rows`);
9. "below the pass level without support" from the final facts by one statement (`rebuild.below_pass`: the rule of
   `support.rules.below_pass_cells` in SQL);
10. compliance by set statements from the final directory and facts and the staged fact events
   (`rebuild.compliance`: calendars, the assessments' run times folded in SQL with the facts, windows, every window derived whole
   by compliance's own statement);
11. freshness per topic, every applied event id; the jobs 4–11 and each deferred index run side by side on
    `connections` connections, each in a transaction of its own (`Rebuilder._run_jobs`: a free connection takes the
    first job whose inputs are done), the alerts judged once on the rebuilt tables by two of them (`alerts.handlers`'
    `judge_pass_drops` once the levels and pass are in, `judge_below_forecasts` once the facts' indexes are built);
    then ONE transaction swaps the rebuilt
    tables in (the live ones
    locked and dropped, the rebuilt ones moved into their schema: names, indexes and keys as they were) and stores the
    consumer group's next offsets — so the live consumer continues after the last rebuilt event, exactly once; the
    judgement is decided against the stored alerts (`alerts.handlers.decide_all`: their changes and events) in that
    transaction before its lock on the live tables; the rebuild's schema (its staging tables) dropped after.

An event a normal handler refuses or fails on is found by halving the batch (savepoints), left out
and handed back for the dead-letter topic, as the live consumer does."""

from __future__ import annotations

import asyncio
import contextlib
import operator
import os
import pickle
import re
import resource
import time
import uuid
from collections import deque
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Sequence
from concurrent.futures import Executor
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

import pydantic_core
from aiokafka import ConsumerRecord
from sqlalchemy import Column, Integer, text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

from styrkedja_contracts import AssessmentRetractedV1, ContractError, decode_event, decode_plain
from styrkedja_contracts.envelope import DEFAULT_MAX_BYTES, cloud_event_of
from styrkedja_contracts.kafka_binding import refusal
from styrkedja_kit.consumer import (
    Claim,
    Delivered,
    Refused,
    claim_of,
    claim_organiser,
    content_digest,
    event_organiser,
    in_contracts_form,
    record_digest,
    undecodable_message,
    unfit,
)
from styrkedja_kit.db import Database, planner_setting
from styrkedja_kit.kafka import CONTRACTS_FORM_HEADER, FORM_HEADERS, NULL_VALUE, NullValue, stand_in_refusal
from styrkedja_kit.sets import copy_records

from ..alerts.handlers import Judgement, alert_state, decide_all, judge_below_forecasts, judge_pass_drops
from ..directory import handlers as directory
from ..figures import tables as figure_tables
from ..figures.recompute import recomputed_rows
from ..lika import handlers as lika
from ..metadata import metadata
from ..registry import HandlerRegistry, note_freshness_from
from ..results import handlers as results
from ..results.rules import GROUP_SEPARATOR, AssessmentFact, submitted_day
from ..results.tables import AGGREGATE_LEVELS, ASSESSMENTS, FORECASTS, sole_fact_writer
from ..settings import RebuildSettings
from ..staging import quoted, timestamptz_text
from ..support import handlers as support
from ..support.tables import BELOW_PASS
from . import explain
from .below_pass import rebuild_below_pass
from .compliance import (
    CALENDAR_TYPE,
    counted_fill,
    counted_table,
    counted_tables_made,
    organiser_bounds,
    organisers_within,
    rebuild_compliance,
    run_times_sql,
)
from .parts import EVERY_ORGANISER, OrganiserRange, organiser_ranges, range_condition

#: Not derived from the log: kept by a rebuild.
KEPT = frozenset({"alerts", "alert_comments", "alert_thresholds", "directory_published", "directory_idempotency_keys",
                  "access_audit", "outbox", "outbox_partition_marks", "alembic_version"})
APPLIED, OFFSETS = "consumer_applied_events", "consumer_offsets"
#: the rebuild's own schema (a suffix per run): the derived tables made again there, swapped in at the end
SHADOW_PREFIX = "styrkedja_rebuild_"
#: the advisory lock a rebuild holds (one rebuild of a database at a time: it drops what a stopped one left)
LOCK_KEY = 0x5374_7279_6B65  # "Stryke"

Progress = Callable[[str, int, float], None]  # stage, events (or rows) done, seconds since the stage began
BatchHandler = Callable[[AsyncSession, Sequence[Delivered]], Awaitable[None]]


class RebuildRunning(RuntimeError):
    """Another rebuild holds this database's rebuild lock (`LOCK_KEY`): this one did not start."""


@dataclass
class Failed:
    item: Delivered
    reason: str
    message: str
    #: a `conflicting_duplicate`'s: the digest of the event that counts under its id (`command` judges it again)
    counted: bytes | None = None


@dataclass
class RebuildReport:
    read: int = 0  # events handed in (decoded)
    applied: int = 0  # claimed: first delivery of an id, a handled type, not refused
    duplicates: int = 0
    unhandled: int = 0
    failed: list[Failed] = field(default_factory=list)
    conflicts: list[Failed] = field(default_factory=list)  # other bytes under a claimed id: dead-lettered too
    stages: dict[str, float] = field(default_factory=dict)  # stage → seconds
    counts: dict[str, int] = field(default_factory=dict)  # stage → events or rows
    peak_rss_mb: dict[str, float] = field(default_factory=dict)  # stage → the process's peak RSS at its end
    #: stage → CPU seconds of this process ("python") and of the rebuild's PostgreSQL backend ("postgres": its
    #: parallel workers not counted): the work itself, whatever else the machine's cores were doing meanwhile
    cpu: dict[str, dict[str, float]] = field(default_factory=dict)
    #: the work after the read: job → (start, end) seconds since its jobs began (they run side by side); unrounded,
    #: as a job in a small rebuild takes less than the printed hundredth and the order must still show
    timeline: dict[str, tuple[float, float]] = field(default_factory=dict)


def derived_tables() -> list[str]:
    return sorted(name for name in metadata.tables if name not in KEPT and name not in (APPLIED, OFFSETS))


def peak_rss_mb() -> float:
    """This program's peak RSS: VmHWM (getrusage's ru_maxrss keeps the parent's peak across fork and exec,
    so a rebuild started by a big process — the bench — reported the parent's)."""
    try:
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return round(int(line.split()[1]) / 1024, 1)
    except OSError:
        pass
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)


def _quiet(stage: str, done: int, seconds: float) -> None:
    return None


def process_cpu_seconds(pid: int | None = None) -> float:
    """CPU seconds (user + system) of process `pid` (another of this machine's: the PostgreSQL backend), or of this
    one; 0.0 where /proc cannot tell."""
    if pid is None:
        return time.process_time()
    try:
        with open(f"/proc/{pid}/stat") as stat:
            fields = stat.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except (OSError, ValueError, IndexError):
        return 0.0


class CpuClock:
    """CPU seconds of this process and of a PostgreSQL backend (by its pid, `pg_backend_pid()`) since `start`."""

    def __init__(self, backend: int | None = None) -> None:
        self.backend = backend
        self.start()

    def start(self) -> None:
        self.python, self.postgres = process_cpu_seconds(), self._postgres()

    def _postgres(self) -> float:
        return process_cpu_seconds(self.backend) if self.backend else 0.0

    def spent(self) -> dict[str, float]:
        return {"python": round(process_cpu_seconds() - self.python, 3),
                "postgres": round(self._postgres() - self.postgres, 3)}


class _Stages:
    def __init__(self, report: RebuildReport, progress: Progress) -> None:
        self.report, self.progress = report, progress
        self.backend: int | None = None  # the session's PostgreSQL backend (its CPU per stage)

    async def run(self, name: str, count: int, work: Awaitable[Any], backend: int | None = None) -> Any:
        """`work` timed as stage `name`; `backend`: the PostgreSQL backend doing it (default: the main line's)."""
        started = time.perf_counter()
        clock = CpuClock(backend or self.backend)
        self.progress(name, 0, 0.0)
        out = await work
        seconds = time.perf_counter() - started
        self.report.cpu[name] = clock.spent()
        self.report.stages[name] = round(seconds, 3)
        self.report.counts[name] = count
        self.report.peak_rss_mb[name] = peak_rss_mb()
        self.progress(name, count, seconds)
        return out


async def rebuild(db: Database, items: Iterable[Delivered], *, group_id: str,
                  next_offsets: dict[tuple[str, int], int], handles: Callable[[str], bool],
                  progress: Progress = _quiet, chunk: int = 20_000, overlap: bool = False,
                  connections: int | None = None, pass_parts: int | None = None) -> RebuildReport:
    """Replace reporting's derived state in `db` by what `items` (the whole log, decoded, in log order) make,
    committed at the end (the live tables untouched until then). `next_offsets`: (topic, partition) → the
    offset after the last record read (stored for `group_id`, as the live consumer stores them).
    The streaming form (`Rebuilder`: `begin`, `feed` chunk by chunk as the log is read, `finish`, `commit`,
    `close`) keeps the memory bounded; this one feeds `items` in chunks of `chunk`."""
    rebuilder = Rebuilder(db, group_id=group_id, handles=handles, progress=progress, chunk=chunk, overlap=overlap,
                          connections=connections, pass_parts=pass_parts)
    try:
        await rebuilder.begin()
        part: list[Delivered] = []
        for item in items:
            part.append(item)
            if len(part) >= chunk:
                await rebuilder.feed(part)
                part = []
        await rebuilder.feed(part)
        report = await rebuilder.finish(next_offsets)
        await rebuilder.commit()
        return report
    finally:
        await rebuilder.close()


#: facts per slice of the students for the figures computed in Python (their memory)
FIGURE_SLICE = 250_000
#: the assessments' facts inserted by this many jobs side by side, a range of organisers each (`Rebuilder._fact_parts`),
#: where there are FACT_PARTS_FROM staged facts or more (below, one job: a small rebuild's parts would cost more
#: transactions than they save, and one job writes every organiser's rows one after the other in the heap)
FACT_PARTS = 2
FACT_PARTS_FROM = 100_000
#: about this many staged assessment events sampled for the parts' bounds
FACT_PARTS_SAMPLE = 20_000
#: records per piece handed to a decoder process
DECODE_PIECE = 2_500
#: a record that does not decode is kept whole up to this many bytes of key and value; a bigger one without them,
#: read again from the log for its dead letter (`command`)
DEAD_KEPT_BYTES = 16_384
_FACT_TYPES = frozenset(results.EVENT_TYPES)


@dataclass
class Staged:
    """One chunk of the log as staging rows (made in a decoder process, or here): the facts' rows and
    compliance's view of them with their ids; the other events decoded (`small`); what did not decode.
    From a decoder process the facts' rows come as COPY text (`texts`: table → the rows in PostgreSQL's COPY
    text format, `copy_text`), one bytes object each instead of tuples of UUIDs and datetimes to pickle,
    unpickle and encode again in the main process."""

    read: int = 0  # decoded
    ids: list[tuple[Any, ...]] = field(default_factory=list)
    assessments: list[tuple[Any, ...]] = field(default_factory=list)
    forecasts: list[tuple[Any, ...]] = field(default_factory=list)
    small: list[tuple[int, Delivered]] = field(default_factory=list)
    #: the small events as their staging rows instead (`decoded_for_the_rebuild`)
    small_rows: list[tuple[Any, ...]] = field(default_factory=list)
    dead: list[tuple[int, str, str]] = field(default_factory=list)  # index in the chunk, reason, message
    texts: dict[str, bytes] = field(default_factory=dict)  # "assessments" / "forecasts" → COPY text of their rows
    text_rows: int = 0  # the rows in `texts`


#: COPY text format (PostgreSQL's `COPY … FROM STDIN`, format text): a backslash, tab, newline or carriage return in a
#: value escaped; NULL is \N; bytea as its hex form, its backslash escaped
_COPY_ESCAPE = str.maketrans({"\\": "\\\\", "\t": "\\t", "\n": "\\n", "\r": "\\r"})


def _copy_str(value: str) -> str:
    return str.translate(value, _COPY_ESCAPE)  # a str subclass (an enum's value) as its plain text


def _copy_uuid(value: uuid.UUID) -> str:
    """A UUID as its 32 hex digits, without the hyphens (PostgreSQL's uuid input takes both forms): `hex` is one
    formatting, `str` that and four slices joined — of the decoder's ~30 µs per event, ~1 µs for a fact event's two
    (bench/README.md rebuild19)."""
    return value.hex


#: the times already met (`_moment`): key → (their COPY text, their `timestamp()`); emptied when it holds TSTZ_MEMO_SIZE
_TSTZ_MEMO: dict[tuple[Any, ...], tuple[str, float]] = {}
TSTZ_MEMO_SIZE = 4_096
_FIXED_OFFSET = pydantic_core.TzInfo  # the decode's aware times: one fixed offset each, whatever the moment
#: the last two times `_moment` was asked, each followed by its answer: [newest, its answer, the one before, its answer]
_RECENT: list[Any] = [None, None, None, None]


def _moment(value: datetime) -> tuple[str, float] | None:
    """(`timestamptz_text(value)`, `value.timestamp()`), made once per distinct time, for an exact `datetime` with the
    decode's fixed-offset `TzInfo` (its `utcoffset` reads no moment); None for any other (naive: refused by the
    caller as before, `timezone`, a zone). A fact event's line holds three times and `unfit` asks two of them their
    `timestamp()` (`ahead_of_record`), nearly always the same moment, and the next event's mostly too: each
    `isoformat` of a decoded time cost ~2.5 µs of a decoder's ~31 per event and each `timestamp()` ~0.6 (its offset
    asked of the decode's `TzInfo` through `datetime`'s C-API, bench/README.md rebuild35, decode36). The key is the
    time's fields and its offset — not the instant: 14:42Z and 15:42+01:00 are equal datetimes with different texts,
    and each keeps its own; equal fields and offset are one instant, one `timestamp()`. The fields as the 10 bytes of
    the time's pickled state (year to microsecond: `datetime.__reduce__`, without `fold`, which a fixed offset
    ignores), ~0.2 µs against ~0.35 for a tuple of seven fields; with the `TzInfo` itself for its offset. The last two
    times asked are answered by identity (`_RECENT`): a fact event's two times are asked by `unfit`, then again by its
    line."""
    recent = _RECENT
    known: tuple[str, float] | None
    if value is recent[0]:
        known = recent[1]
        return known
    if value is recent[2]:
        known = recent[3]
        return known
    tz = value.tzinfo
    known = None
    if type(tz) is _FIXED_OFFSET and type(value) is datetime:
        # (the fields' 10 bytes, the `TzInfo`) as `__reduce__` gives them: a `TzInfo` is equal to, and hashes as,
        # another of its offset (~0.5 µs less per time than a tuple of the bytes and `utcoffset(None)`, decode37)
        key: tuple[Any, ...] = value.__reduce__()[1]  # type: ignore[assignment]
        known = _TSTZ_MEMO.get(key)
        if known is None:
            if len(_TSTZ_MEMO) >= TSTZ_MEMO_SIZE:
                _TSTZ_MEMO.clear()
            known = _TSTZ_MEMO[key] = (timestamptz_text(value), value.timestamp())
    # held, so no other object can be the one asked (a datetime cannot change)
    recent[2], recent[3], recent[0], recent[1] = recent[0], recent[1], value, known
    return known


def _tstz(value: datetime) -> str:
    """`timestamptz_text(value)`, made once per distinct time (`_moment`): the direct lines' and `copy_text`'s times.
    The last two times asked are answered here, without the call (a fact line's times: `unfit` asked them just
    before)."""
    recent = _RECENT
    known = recent[1] if value is recent[0] else recent[3] if value is recent[2] else _moment(value)
    return timestamptz_text(value) if known is None else known[0]


def _seconds(value: datetime) -> float:
    """`value.timestamp()`, made once per distinct time (`_moment`): `unfit`'s (`ahead_of_record`'s `seconds`). The
    last two times asked are answered here, without the call."""
    recent = _RECENT
    known = recent[1] if value is recent[0] else recent[3] if value is recent[2] else _moment(value)
    return value.timestamp() if known is None else known[1]


def _copy_datetime(value: datetime) -> str:
    # a naive time is a TypeError (the binary COPY's reading of it is not the text's: not here); an offset PostgreSQL
    # does not read as text, in UTC (`timestamptz_text`)
    return _tstz(value)


_COPY_TEXT: dict[type, Callable[[Any], str]] = {
    str: _copy_str, int: str, bool: lambda v: "t" if v else "f", uuid.UUID: _copy_uuid, datetime: _copy_datetime,
    date: date.isoformat, bytes: lambda v: "\\\\x" + v.hex(), type(None): lambda v: "\\N"}


def _copy_value(value: Any) -> str:
    encode = _COPY_TEXT.get(type(value))
    if encode is not None:
        return encode(value)
    if isinstance(value, str):
        return _copy_str(value)
    raise TypeError(f"no COPY text for {type(value).__name__}")


def copy_text(rows: Sequence[tuple[Any, ...]]) -> bytes:
    """`rows` in PostgreSQL's COPY text format (UTF-8): the same values a binary COPY of the tuples stores, for the
    types a staging row holds (text, integers, booleans, UUIDs, aware datetimes, dates, bytes, NULL); any other
    type is a TypeError (the caller then keeps the tuples). A row goes through a line maker made for its types
    (`_line_maker`: one join, no call per value); a row with text to escape, through `_copy_value` value by value."""
    lines = []
    makers = _LINE_MAKERS
    for row in rows:
        kinds = tuple(map(type, row))
        if kinds not in makers:
            makers[kinds] = _line_maker(kinds)
        maker = makers[kinds]
        line = None
        if maker is not None:
            make, tabs, backslashes = maker
            line = make(row)
            # only the text values can bring a tab, newline, carriage return or backslash the maker did not put there
            if line.count("\t") != tabs or line.count("\\") != backslashes or "\n" in line or "\r" in line:
                line = None
        if line is None:
            line = "\t".join([_copy_value(v) for v in row])
        lines.append(line)
    lines.append("")
    return "\n".join(lines).encode()


_LINE_MAKERS: dict[tuple[type, ...], tuple[Callable[[tuple[Any, ...]], str], int, int] | None] = {}
_LINE_PARTS: dict[type, str] = {
    str: "r[{i}]", int: "_str(r[{i}])", uuid.UUID: "r[{i}].hex", bool: "('t' if r[{i}] else 'f')",
    datetime: "_tstz(r[{i}])", date: "r[{i}].isoformat()",
    bytes: "_BYTEA + r[{i}].hex()", type(None): "_NULL"}


def _line_maker(kinds: tuple[type, ...]) -> tuple[Callable[[tuple[Any, ...]], str], int, int] | None:
    """A function making the COPY text line of a row of exactly these types, the tabs it puts in and the backslashes
    (bytea's escaped one, NULL's); None where a type has no part here (a str subclass: `_copy_value` decides)."""
    parts = []
    for i, kind in enumerate(kinds):
        part = _LINE_PARTS.get(kind)
        if part is None:
            return None
        parts.append(part.format(i=i))
    make = eval(f"lambda r: _TAB.join(({', '.join(parts)},))",  # noqa: S307  # made from the fixed parts above only
                {"_TAB": "\t", "_str": str, "_BYTEA": "\\\\x", "_NULL": "\\N", "_tstz": _tstz})
    return make, len(kinds) - 1, sum(2 if k is bytes else 1 if k is type(None) else 0 for k in kinds)


#: a record as the decoders take it: (topic, partition, offset, value, timestamp, key, headers); the headers (None where
#: there are none) say whether the value is the contracts' form (`in_contracts_form`: the digest an id keeps, as the
#: live consumer's) and, where the value is refused, its content mode (`kafka_binding.refusal`, as live reads them)
RawRecord = tuple[Any, ...]


#: the headers the outbox relay gives every record (`kafka.CONTRACTS_FORM_HEADER`), one object for all the records
#: that carry exactly these: a piece pickled for a decoder then holds them once (pickle's memo) and the decoder unpickles
#: one, not a sequence, a tuple, a str and a bytes per record (~1.7 of a decoder's ~30 us per event: rebuild33). As the
#: fetcher hands them out (a tuple of pairs; a record made elsewhere may hold a list): the same type, equal. The tuple is
#: the kit's `FORM_HEADERS`, the one the read's runs hold (`kafka.record_tuples`)
_FORM_HEADERS: tuple[tuple[str, bytes], ...] = FORM_HEADERS
_FORM_HEADERS_LIST: list[tuple[str, bytes]] = [CONTRACTS_FORM_HEADER]


def raw_records(records: Sequence[ConsumerRecord]) -> list[RawRecord]:
    """Records as the decoders take them (`RawRecord`, the kit's `RecordTuple`: plain values, cheap to pickle; a null
    value `NULL_VALUE` and a stand-in's its own, both empty bytes; no headers is None; the relay's headers as the one
    `_FORM_HEADERS` (or `_FORM_HEADERS_LIST`), equal to theirs — a decoder only reads them). The rebuild's read makes
    them straight from the fetched batches (`kafka.record_runs`); this is for records at hand."""
    form, form_list, null = _FORM_HEADERS, _FORM_HEADERS_LIST, NULL_VALUE
    return [(r.topic, r.partition, r.offset, null if r.value is None else r.value, r.timestamp, r.key,
             form if r.headers == form else form_list if r.headers == form_list else r.headers or None)
            for r in records]


def decoded_and_staged(raw: Sequence[RawRecord], base: int, max_bytes: int, as_text: bool = False) -> Staged:
    """Records (`RawRecord`; a 6-tuple without headers reads as none) → `Staged`, the record at index i in log position
    base + i. Pure (a decoder process runs it): the same decision as the live consumer's — `decode_event`, `unfit`, and
    for a refused value its headers (`refusal`). `as_text`: the facts' rows as COPY text (`Staged.texts`; a decoder
    process's answer), where every value has a text form; then a fact event that `decode_event` accepts by its fast
    path is made a COPY line straight from the values it validated (`decode_plain`, `_DIRECT`), without the
    `CloudEvent`, the fact and the row tuple in between (the same text: `test_rebuild_direct_lines`)."""
    if as_text:
        direct = _decoded_and_staged(raw, base, max_bytes, direct=True)
        staged = direct if direct is not None else _decoded_and_staged(raw, base, max_bytes)
    else:
        staged = _decoded_and_staged(raw, base, max_bytes)
    assert staged is not None
    if as_text:
        for name in ("assessments", "forecasts"):
            rows = getattr(staged, name)
            if rows:
                try:
                    text = copy_text(rows)
                except (TypeError, UnicodeEncodeError):  # (a lone surrogate: the binary COPY decides, as before)
                    continue  # the tuples go as they are
                staged.texts[name] = staged.texts.get(name, b"") + text
                staged.text_rows += len(rows)
                rows.clear()
    return staged


def _decoded_and_staged(raw: Sequence[RawRecord], base: int, max_bytes: int, direct: bool = False) -> Staged | None:
    """`decoded_and_staged`'s loop. With `direct`, every fact's row is a COPY text line, in log order (`_DIRECT`'s, or
    `copy_text`'s of the row where the fast path did not take the event), and the result is None where a line came out
    otherwise than its maker makes it (a raw tab, newline or backslash in a value of `_DIRECT`'s: never in plain JSON)
    or a row has no text form; the caller then goes again without `direct`."""
    staged = Staged()
    lines: dict[str, list[str]] = {"assessments": [], "forecasts": []}
    backslashes = {"assessments": 0, "forecasts": 0}
    makers = _DIRECT
    read = 0  # by the direct lines (`staged.read` counts the others)
    for i, record in enumerate(raw):
        if len(record) == 7:  # as `raw_records` makes them (a star's list per record cost ~0.1 µs)
            topic, partition, offset, value, timestamp, key, headers = record
        else:
            topic, partition, offset, value, timestamp, key, *rest = record
            headers = rest[0] if rest else None
        event: Any = None
        if direct:
            shadow = decode_plain(value, max_bytes=max_bytes)
            if shadow is not None:
                maker = makers.get(shadow.type)
                if maker is None:
                    event = cloud_event_of(shadow)  # not a fact: decoded as `decode_event` would, below
                # the same values as its `CloudEvent`'s; its moments' `timestamp()` remembered with their texts
                elif unfit(shadow, topic, timestamp, key=key, seconds=_seconds) is None:
                    table, make, escapes = maker
                    # the digest an id keeps (the kit's `content_digest`): of the record's bytes where its headers say
                    # they are the contracts' form (the outbox relay's), else of the contracts' form
                    digest = record_digest(value) if in_contracts_form(headers) else \
                        content_digest(value, cloud_event_of(shadow))
                    lines[table].append(make(base + i, shadow, topic, partition, offset, digest))
                    backslashes[table] += escapes
                    read += 1
                    continue
        if event is None:
            try:
                event = decode_event(value, max_bytes=max_bytes)
            except ContractError as error:
                staged.dead.append((i, *refusal(error, value, headers)))
                continue
            except Exception as error:  # noqa: BLE001 - as the live consumer: a fault of the decode's own (`_decode_into`)
                staged.dead.append((i, "undecodable", undecodable_message(error)))
                continue
        # the live consumer's rules (`unfit`): an event read from another entity's topic, or dated after its record
        wrong = unfit(event, topic, timestamp, key=key)
        if wrong is not None:
            staged.dead.append((i, *wrong))
            continue
        staged.read += 1
        item = Delivered(event, topic, partition, offset, content_digest(value, event, headers),
                         organiser=claim_organiser(key))
        if event.type not in _FACT_TYPES:
            staged.small.append((base + i, item))
        elif not direct:
            _stage_fact(staged, item, base + i)
        else:  # a fact the fast path did not take (text with escapes, an older version): its line in log order
            table = _DIRECT[event.type][0]
            _stage_fact(staged, item, base + i)
            try:
                line = copy_text([getattr(staged, table).pop()]).decode()[:-1]
            except (TypeError, UnicodeEncodeError):
                return None  # the caller goes again without `direct`: such rows go as tuples, as before
            lines[table].append(line)
            backslashes[table] += line.count("\\")
    for table, made in lines.items():
        if made:
            made.append("")
            text = "\n".join(made)
            if text.count("\t") != (len(made) - 1) * _DIRECT_TABS[table] or text.count("\n") != len(made) - 1 or \
                    text.count("\\") != backslashes[table]:
                return None
            staged.texts[table] = text.encode()
            staged.text_rows += len(made) - 1
    staged.read += read
    return staged


def tie_order_sql(store: Any) -> str:
    """`results.rules.tie_order` as an ORDER BY, greatest first: the fields after the id and revision, text by code
    point (`COLLATE "C"`: UTF-8's byte order is the code points'), None last. Equal revisions were kept in log order,
    which across two partitions (one organiser keyed in two spellings by another producer) is not the live one's."""
    from sqlalchemy import String

    order = []
    for name in store.fact_fields[2:]:
        collate = ' COLLATE "C"' if isinstance(store.facts.c[name].type, String) else ""
        order.append(f"{quoted(name)}{collate} DESC NULLS LAST")
    return ", ".join(order)


# A line's text values go into the join as they are: a str's subclass (a `StrEnum`'s member, the shadow's enums) joins
# as its text, which is its value and its `str()` (a `str()` each copied it: ~0.3 µs per event, bench/README.md
# decode36). A UUID as `f"{u.int:032x}"`: its `hex` (`_copy_uuid`), which is that formatting behind a property in
# Python (~0.1 µs each, two per line: decode37).


#: the fields of a published assessment's data a line holds, in one call (~0.25 µs less per event than an attribute each,
#: decode37): by attribute, as the compiled shadow's data (`styrkedja_contracts.compiled`: a msgspec Struct, no
#: `__dict__`) and the shadow's model both hold them
_PUBLISHED_FIELDS = operator.attrgetter(
    "assessment_id", "revision", "organiser_id", "school_unit_code", "group_id", "student_id", "gender", "year",
    "subject_code", "kind", "scale", "value", "school_year", "term", "round", "assessed_on", "published_at")


def _direct_assessment(seq: int, e: Any, topic: str, part: int, off: int, digest: bytes) -> str:
    # as `results.handlers._assessment` and `_stage_fact`, in `_HEAD` + ASSESSMENTS' column order
    (assessment_id, revision, organiser_id, school_unit_code, group_id, student_id, gender, year, subject_code, kind,
     scale, value, school_year, term, round_, assessed_on, published_at) = _PUBLISHED_FIELDS(e.data)
    at = _tstz(published_at)  # the line's `at` and its fact's time: one text
    return "\t".join((str(seq), f"{e.id.int:032x}", e.type, topic, _tstz(e.time), str(part), str(off),
                      "\\\\x" + digest.hex(), at, f"{assessment_id.int:032x}", str(revision), "f", organiser_id,
                      school_unit_code, group_id, student_id, gender, str(year), subject_code, kind, scale, value,
                      school_year, term, str(round_), assessed_on.isoformat(), at))


def _direct_retraction(seq: int, e: Any, topic: str, part: int, off: int, digest: bytes) -> str:
    d = e.data  # as `results.handlers._retraction`
    at = _tstz(d.retracted_at)
    return "\t".join((str(seq), f"{e.id.int:032x}", e.type, topic, _tstz(e.time), str(part), str(off),
                      "\\\\x" + digest.hex(), at, f"{d.assessment_id.int:032x}", str(d.revision), "t", d.organiser_id,
                      d.school_unit_code, d.group_id, d.student_id, "unknown", "0", d.subject_code, "", "", "",
                      d.school_year, d.term, str(d.round), "\\N", at))


def _direct_forecast(seq: int, e: Any, topic: str, part: int, off: int, digest: bytes) -> str:
    d = e.data  # as `results.handlers._forecast`
    return "\t".join((str(seq), f"{e.id.int:032x}", e.type, topic, _tstz(e.time), str(part), str(off),
                      "\\\\x" + digest.hex(), "\\N", f"{d.forecast_id.int:032x}", str(d.revision), "f", d.organiser_id,
                      d.school_unit_code, d.group_id,
                      d.student_id, d.gender, str(d.year), d.subject_code, d.value, d.school_year,
                      d.term, "t" if d.late else "f", submitted_day(d.submitted_at).isoformat()))


def _direct_withdrawal(seq: int, e: Any, topic: str, part: int, off: int, digest: bytes) -> str:
    d = e.data  # as `results.handlers._withdrawal`
    return "\t".join((str(seq), f"{e.id.int:032x}", e.type, topic, _tstz(e.time), str(part), str(off),
                      "\\\\x" + digest.hex(), "\\N", f"{d.forecast_id.int:032x}", str(d.revision), "t", d.organiser_id,
                      d.school_unit_code, d.group_id,
                      d.student_id, "unknown", "0", d.subject_code, "", d.school_year, d.term, "f", "\\N"))


#: a fact event's COPY text line straight from `decode_plain`'s values: type → (staging table, maker, the backslashes
#: the maker puts in: bytea's two, one per NULL)
_DIRECT: dict[str, tuple[str, Callable[[int, Any, str, int, int, bytes], str], int]] = {
    results.EVENT_TYPES[0]: ("assessments", _direct_assessment, 2),
    results.EVENT_TYPES[1]: ("assessments", _direct_retraction, 3),
    results.EVENT_TYPES[2]: ("forecasts", _direct_forecast, 3),
    results.EVENT_TYPES[3]: ("forecasts", _direct_withdrawal, 4),
}
_DIRECT_TABS = {"assessments": len(ASSESSMENTS.fact_fields) + 8, "forecasts": len(FORECASTS.fact_fields) + 8}


def _stage_fact(staged: Staged, item: Delivered, seq: int) -> None:
    """One row per fact event (`_HEAD` then the fact's fields): its id, compliance's view of it and the fact at once."""
    event = item.event
    fact = results.fact_of(event)
    head = (seq, event.id, event.type, item.topic, event.time, item.partition, item.offset, item.digest)
    if isinstance(fact, AssessmentFact):
        data: Any = event.data
        at = data.retracted_at if event.type == AssessmentRetractedV1.event_type else data.published_at
        staged.assessments.append((*head, at, *ASSESSMENTS._row_of(fact)))
    else:
        staged.forecasts.append((*head, None, *FORECASTS._row_of(fact)))


class _Event:
    """What compliance reads of an assessment or forecast event (`apply_compliance`: type, data), kept in
    the staging table instead of the decoded event (about 6 KB each); `id` for the left-out list."""

    __slots__ = ("id", "type", "data", "time")

    def __init__(self, id: Any, type: str, data: Any, time: Any) -> None:
        self.id, self.type, self.data, self.time = id, type, data, time


#: the staged ids of the small events (those of the fact events are in their rows: `_HEAD`), with the digest an id keeps
#: (`content_digest`, the live consumer's) and whose the claim is (`organiser_id`: the kit's `claim_organiser`, the
#: record's key; a fact event's is its row's organiser_id, which `unfit` holds the key to); `ids` is a view of both
#: (every handled event's)
_IDS = ("seq", "event_id", "organiser_id", "topic", "time", "part", "off", "digest")
#: a batch of claimed small events of some types after log position :after (`Rebuilder._small_batches`): the first :n
#: by the index on seq, of those the ones whose staged values before them in the batch hold fewer than :bytes (the first
#: always); the staged values read for those only (their sizes from the stored values' headers)
_SMALL_BATCH = (
    "WITH p AS (SELECT s.seq, octet_length(s.value) AS size FROM {small} s WHERE s.seq > :after "
    "AND s.type = ANY(CAST(:types AS text[])) AND NOT EXISTS (SELECT 1 FROM {dups} d WHERE d.seq = s.seq) "
    "ORDER BY s.seq LIMIT :n), "
    "q AS (SELECT seq FROM (SELECT seq, sum(size) OVER (ORDER BY seq) - size AS before FROM p) w "
    "WHERE before < :bytes) "
    "SELECT s.seq, s.value, s.topic, s.part, s.off, s.digest, s.claim, s.pickled FROM {small} s "
    "JOIN q ON q.seq = s.seq "
    "ORDER BY s.seq")
#: a small event's staging row: its id as `_IDS`, then its type, whose the claim is where its record's key says
#: (`Delivered.organiser`; NULL: the event's own), its record's bytes or the event pickled, and which (`_small_row`)
_SMALL = (*_IDS, "type", "claim", "value", "pickled")
#: about this many bytes of the small events' staged values are read back and made events at once (and at most `chunk`
#: events): a batch is held decoded while its handler runs, ~3x its records' bytes (a LIKA self-assessment at the event
#: size limit is ~0.95 MB decoded); the live consumer's batches are held to the same (`consumer_max_batch_bytes`)
SMALL_BATCH_BYTES = 16 * 1024 * 1024
#: a small event whose record has this many bytes or more is staged pickled, a smaller one as its record's bytes
#: (`_small_row`)
PICKLE_FROM_BYTES = 2_048


def _small_row(seq: int, item: Delivered, value: bytes) -> tuple[Any, ...]:
    """A small event's staging row (`_SMALL`): its claim's columns and either `value`, its record's bytes, decoded
    again at its stage, or — a record of PICKLE_FROM_BYTES or more — the decoded event pickled, unpickled there
    (`decoded_small`). Whichever costs less CPU: a support intervention (~0.7 KB) took ~46 us to decode, ~61 to
    unpickle and ~67 to pickle; a LIKA self-assessment of 3.5 KB 3.8 ms to decode, 0.07 to unpickle and 1.5 to pickle,
    one at the event size limit 63, 0.7 and 1.6 ms (a decoder process's answer carried every event pickled before).
    The pickles are this rebuild's own: made by it (in its decoder processes), written into its own schema under its
    lock, read back by it only and dropped at its end."""
    event = item.event
    organiser = item.organiser if item.organiser is not None else event_organiser(event)
    pickled = len(value) >= PICKLE_FROM_BYTES
    return (seq, event.id, organiser, item.topic, event.time, item.partition, item.offset, item.digest, event.type,
            item.organiser, pickle.dumps(item, protocol=pickle.HIGHEST_PROTOCOL) if pickled else value, pickled)


def decoded_for_the_rebuild(raw: Sequence[RawRecord], base: int, max_bytes: int, as_text: bool = False) -> Staged:
    """`decoded_and_staged`, its small events as their staging rows (`_small_row`), made where they were decoded."""
    staged = decoded_and_staged(raw, base, max_bytes, as_text)
    staged.small_rows = [_small_row(seq, item, raw[seq - base][3]) for seq, item in staged.small]
    staged.small = []
    return staged


def decoded_small(rows: Sequence[tuple[Any, ...]], max_bytes: int) -> list[Delivered]:
    """Staged small events (seq, value, topic, part, off, digest, claim, pickled) made events again: the events the
    read decoded, unpickled (`_small_row`'s), or decoded again from the same bytes (`decode_event`) with where they
    came from. A value longer than `max_bytes` is one the read took already (the contracts' form of an event handed
    in decoded: `Rebuilder.feed`)."""
    return [pickle.loads(value) if pickled else  # noqa: S301 - this rebuild's own pickles (`_small_row`)
            Delivered(decode_event(value, max_bytes=max(max_bytes, len(value))), topic, part, off, digest,
                      organiser=claim) for _, value, topic, part, off, digest, claim, pickled in rows]


#: a fact event's staging row: these, then the fact's fields (`at`: an assessment's publication or retraction time)
_HEAD = ("seq", "event_id", "type", "topic", "time", "part", "off", "digest", "at")

class Rebuilder:
    """The rebuild in bounded memory, into a schema of its own (`shadow`) that replaces the derived tables at the
    end: `begin` makes the shadow tables (as the live ones, without the indexes built at the end) and the staging
    tables; `feed` stages every assessment and forecast event as it is read (COPY into unlogged tables: the fact
    row, compliance's view of it, and every handled event's id, topic and time; the small event types — directory,
    support, LIKA, calendar — as their records' bytes or pickled, made events again a batch at a time by their
    stage); `finish` claims, resolves the revisions and derives everything
    set-wise — independent statements and index builds on `connections` connections at once, each in a transaction
    of its own into the shadow schema — then, in ONE transaction left open for `commit`, swaps the shadow tables
    for the live ones and stores the group's offsets. The live tables stay as they were until that commit: a rebuild
    stopped anywhere before leaves them untouched (its shadow schema is dropped then, or by the next rebuild)."""

    def __init__(self, db: Database, *, group_id: str, handles: Callable[[str], bool],
                 progress: Progress = _quiet, chunk: int = 20_000, overlap: bool = False,
                 connections: int | None = None, pass_parts: int | None = None,
                 knobs: RebuildSettings | None = None) -> None:
        self.db, self.group_id, self.handles, self.chunk = db, group_id, handles, chunk
        #: the rebuild's settings (reporting's environment, read now where not given); the arguments win over them
        self.knobs = RebuildSettings() if knobs is None else knobs
        self.connections = max(1, connections if connections is not None
                               else default_connections(self.knobs.rebuild_connections))
        self.pass_parts = max(1, pass_parts if pass_parts is not None
                              else default_pass_parts(self.connections, self.knobs.rebuild_pass_parts))
        #: PostgreSQL's parallel workers per statement in its transactions (None: the server's own)
        self.workers = parallel_workers(self.connections, self.knobs.rebuild_workers)
        explain.plans_to(self.knobs.rebuild_explain)
        self.report = RebuildReport()
        self.stages = _Stages(self.report, progress)
        #: the most small events held decoded at once after the read (a batch of `_small_batches`)
        self.small_held = 0
        self.seq = 0  # records (or decoded events) seen: the log order
        self.handled = 0  # events of a handled type
        self.staged_facts = 0
        self.work_mem_kb = memory_kb(self.knobs.rebuild_work_mem_mb)
        self.dead: list[tuple[ConsumerRecord, str, str]] = []  # records that do not decode
        #: where a record of `dead` is kept without its bytes (`DEAD_KEPT_BYTES`): read again for its dead letter
        self.read_again: set[tuple[str, int, int]] = set()
        self.pool: Executor | None = None
        #: the facts' rows made COPY text where they are decoded (`copy_text`): a decoder process's answer is then one
        #: bytes object per table, not tuples of UUIDs and datetimes to pickle, unpickle and encode again here
        self.as_text = False
        self.max_bytes, self.window = DEFAULT_MAX_BYTES, 4
        self.pending: deque[tuple[Awaitable[Staged], Sequence[RawRecord]]] = deque()
        if not all(handles(t) for t in _FACT_TYPES):
            raise ValueError("the rebuild stages assessments and forecasts: their handler must be registered")
        self.staging_seconds = 0.0
        # of the read, the seconds this process waited for a decoder's answer (the oldest piece's): with the COPYs'
        # (`staging_seconds`) and its own CPU, what its wall was spent on besides the fetch (bench/README.md rebuild33)
        self.decoder_wait_seconds = 0.0
        self.overlap = overlap
        self.copying: asyncio.Task[None] | None = None
        self.shadow = f"{SHADOW_PREFIX}{uuid.uuid4().hex[:8]}"
        s = self.shadow
        self.ids, self.dups, self.tracked = f"{s}.rebuild_ids", f"{s}.rebuild_dups", f"{s}.rebuild_tracked"
        self.small_ids = f"{s}.rebuild_small_ids"
        self.staging = {"assessments": f"{s}.rebuild_assessments", "forecasts": f"{s}.rebuild_forecasts"}
        self.live = "public"
        self.search_path = "public"
        self.indexes: list[_Index] = []  # the live indexes of the rebuilt tables (their definitions)
        self.deferred: list[_Index] = []  # of those, the ones built after the load
        self.quieted: list[str] = []  # the shadow tables made with autovacuum off (`QUIET_AUTOVACUUM`), reset at the swap
        self.session: AsyncSession | None = None  # the transaction open on the main line: the read, then the swap
        self.lock: AsyncConnection | None = None  # holds the rebuild's advisory lock
        self.committed = False
        self.locked_at: float | None = None  # when the swap took the live tables' lock (`perf_counter`)

    # -- transactions ---------------------------------------------------------------------------------------------
    async def _enter(self, session: AsyncSession) -> int:
        """A transaction of the rebuild: the shadow schema first on its search path (every statement's unqualified
        table is the shadow's), memory for its sorts, hashes and index builds; returns its backend's pid. It is the
        only writer of the shadow's facts and cells (one job per table): it takes no `FACT_WRITERS_LOCK` (a lock of
        the whole database: the live consumer's batches of the same organisers would wait for the rebuild's job)."""
        sole_fact_writer(session)
        await session.execute(text(f"SET LOCAL search_path TO {self.shadow}, {self.search_path}"))
        # sorts, hash aggregates and index builds over every fact (`WORK_MEM_KB`: why not more)
        await session.execute(text(f"SET LOCAL work_mem = '{self.work_mem_kb}kB'"))
        await session.execute(text(f"SET LOCAL maintenance_work_mem = '{self.work_mem_kb}kB'"))
        if self.workers is not None:
            for setting in ("max_parallel_workers_per_gather", "max_parallel_maintenance_workers"):
                await session.execute(text(f"SET LOCAL {setting} = {self.workers}"))
        return int((await session.execute(text("SELECT pg_backend_pid()"))).scalar_one())

    @contextlib.asynccontextmanager
    async def _transaction(self) -> AsyncIterator[tuple[AsyncSession, int]]:
        async with self.db.sessions.begin() as session:
            yield session, await self._enter(session)

    async def begin(self) -> None:
        self.lock = await self.db.engine.connect()
        locked = (await self.lock.execute(text("SELECT pg_try_advisory_lock(:k)"), {"k": LOCK_KEY})).scalar_one()
        await self.lock.commit()
        if not locked:
            await self.lock.close()
            self.lock = None
            raise RebuildRunning("another rebuild of this database is running (one at a time: its lock is held); "
                                 "nothing was changed")
        await self.stages.run("shadow", 0, self._make_shadow())
        self.session = self.db.sessions()
        self.stages.backend = await self._enter(self.session)  # the read's transaction: its COPYs

    async def _make_shadow(self) -> None:
        async with self.db.sessions.begin() as session:
            self.live, self.search_path = (await session.execute(text(
                "SELECT current_schema(), current_setting('search_path')"))).one()
            # what a rebuild stopped before its end left (its process killed): nobody else's, we hold the lock
            for (left,) in (await session.execute(text(
                    "SELECT nspname FROM pg_namespace WHERE starts_with(nspname, :p)"), {"p": SHADOW_PREFIX})).all():
                await session.execute(text(f"DROP SCHEMA {quoted(left)} CASCADE"))
            tables = [*derived_tables(), APPLIED]
            self.indexes = await _indexes_of(session, self.live, tables)
            s = self.shadow
            await session.execute(text(f"CREATE SCHEMA {s}"))
            options: dict[str, str] = dict((await session.execute(text(
                "SELECT relname, array_to_string(reloptions, ', ') FROM pg_class WHERE relnamespace = "
                "to_regnamespace(:live) AND relname = ANY(CAST(:tables AS text[])) AND reloptions IS NOT NULL"),
                {"live": self.live, "tables": tables})).all())
            for table in tables:
                # columns, defaults, checks, not-nulls, storage, statistics, comments: as the live table; its indexes
                # and keys by their live definitions (below, or after the load), its storage options as they are,
                # and autovacuum off until the swap (`QUIET_AUTOVACUUM`) where the live table does not set it itself
                own = [options[table]] if table in options else []
                if not any(o.strip().startswith("autovacuum_enabled=") for part in own for o in part.split(",")):
                    own.append(QUIET_AUTOVACUUM)
                    self.quieted.append(table)
                with_ = f" WITH ({', '.join(own)})" if own else ""
                await session.execute(text(f"CREATE TABLE {s}.{quoted(table)} (LIKE {quoted(self.live)}.{quoted(table)} "
                                           f"INCLUDING ALL EXCLUDING INDEXES){with_}"))
            # STYRKEDJA_REBUILD_KEEP_INDEXES=1 (a bench setting): the indexes kept and maintained row by row, to compare
            later = () if self.knobs.rebuild_keep_indexes else (*DEFERRED_INDEXES, APPLIED)
            # the applied ids' partial indexes (the legacy claims': topic '*') are built now, on the empty table: the
            # rebuild writes no row they hold, so its insert only tests their condition per row, where a build after
            # it read every row of the table for none (0.8 s at 6.4M events, scale34)
            self.deferred = [i for i in self.indexes if i.table in later and not (i.table == APPLIED and
                                                                                 _PARTIAL.search(i.definition))]
            await _build_indexes(session, [i for i in self.indexes if i not in self.deferred], s)
            # unlogged: made and dropped by the rebuild. A fact event is ONE row (`_HEAD` and the fact: a third of the
            # rows and columns a table each took to COPY); `ids` (every handled event's id) and `tracked`
            # (compliance's view of the fact events) are views of them
            head = ("seq bigint NOT NULL, event_id uuid NOT NULL, type text NOT NULL, topic text NOT NULL, "
                    "time timestamptz NOT NULL, part integer NOT NULL, off bigint NOT NULL, digest bytea, at timestamptz")
            a, f = self.staging["assessments"], self.staging["forecasts"]
            ids = "seq, event_id, organiser_id, topic, time, part, off, digest"
            place = "type, event_id, topic, part, off, organiser_id, school_unit_code, group_id, student_id, " \
                    "subject_code, school_year, term"
            for statement in (
                f"CREATE UNLOGGED TABLE {self.small_ids} (seq bigint NOT NULL, event_id uuid NOT NULL, "
                "organiser_id text NOT NULL, topic text NOT NULL, time timestamptz NOT NULL, part integer NOT NULL, "
                "off bigint NOT NULL, digest bytea, type text NOT NULL, claim text, value bytea NOT NULL, "
                "pickled boolean NOT NULL) "
                f"WITH ({QUIET_AUTOVACUUM})",
                # not compressed: read back once, dropped at the end
                f"ALTER TABLE {self.small_ids} ALTER COLUMN value SET STORAGE EXTERNAL",
                f"CREATE UNLOGGED TABLE {a} ({head}, LIKE {quoted(self.live)}.{ASSESSMENTS.facts.name}) "
                f"WITH ({QUIET_AUTOVACUUM})",
                f"CREATE UNLOGGED TABLE {f} ({head}, LIKE {quoted(self.live)}.{FORECASTS.facts.name}) "
                f"WITH ({QUIET_AUTOVACUUM})",
                f"CREATE VIEW {self.ids} AS SELECT {ids} FROM {self.small_ids} UNION ALL SELECT {ids} FROM {a} "
                f"UNION ALL SELECT {ids} FROM {f}",
                f"CREATE VIEW {self.tracked} AS SELECT seq, {place}, round, assessment_id AS fact_id, revision, at, "
                f"time FROM {a} UNION ALL SELECT seq, {place}, CAST(NULL AS integer), forecast_id, revision, at, time "
                f"FROM {f}",
            ):
                await session.execute(text(statement))

    async def commit(self) -> None:
        """The swap's transaction committed (after `finish`): the rebuilt tables are the live ones now."""
        assert self.session is not None
        await self.session.commit()
        if self.locked_at is not None:  # the live tables' exclusive lock, from taken to released: every read waits
            self.report.stages["lock_held"] = round(time.perf_counter() - self.locked_at, 4)
        await self.session.close()
        self.session, self.committed = None, True

    async def close(self) -> None:
        """The end, committed or not: an open transaction rolled back (the live tables as they were), the shadow
        schema (the staging tables, and the shadow tables where not swapped in) dropped, the lock released."""
        if self.copying is not None:
            self.copying.cancel()
            with contextlib.suppress(BaseException):
                await self.copying
            self.copying = None
        if self.session is not None:
            with contextlib.suppress(Exception):
                await self.session.rollback()
            with contextlib.suppress(Exception):
                await self.session.close()
            self.session = None
        if self.lock is not None:
            try:
                await self.lock.execute(text(f"DROP SCHEMA IF EXISTS {self.shadow} CASCADE"))
                await self.lock.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": LOCK_KEY})
                await self.lock.commit()
            finally:
                await self.lock.close()
                self.lock = None

    # -- the read -------------------------------------------------------------------------------------------------
    async def feed(self, items: Sequence[Delivered]) -> None:
        """One chunk of the log, decoded, in log order."""
        staged = Staged(read=len(items))
        for i, item in enumerate(items):
            if item.event.type in _FACT_TYPES:
                _stage_fact(staged, item, self.seq + i)
            else:
                staged.small.append((self.seq + i, item))
        self.seq += len(items)
        await self._copy(staged)

    async def feed_records(self, records: Sequence[ConsumerRecord]) -> None:
        """`feed_raw` of records at hand (`raw_records`)."""
        await self.feed_raw(raw_records(records))

    async def feed_raw(self, raw: list[RawRecord]) -> None:
        """One fetch of records as the decoders take them (`RawRecord`: the read's runs, `log.read_log`'s `on_raw`),
        in log order: decoded (the contracts' `decode_event`, as the live consumer) and staged in the decoder
        processes when there are any (`begin_decoders`), else here. Records that do not decode are kept in `dead`
        (for the dead-letter topic)."""
        base = self.seq
        self.seq += len(raw)
        if self.pool is None:
            staged = decoded_for_the_rebuild(raw, base, self.max_bytes, self.as_text)
            self._dead_of(staged, raw)
            await self._copy(staged)
            return
        loop = asyncio.get_running_loop()
        for start in range(0, len(raw), DECODE_PIECE):
            piece = raw[start:start + DECODE_PIECE]
            future = loop.run_in_executor(self.pool, decoded_for_the_rebuild, piece, base + start, self.max_bytes,
                                          self.as_text)
            self.pending.append((future, piece))
        while len(self.pending) > self.window:  # a few pieces ahead, no more: the memory stays bounded
            await self._land()

    def begin_decoders(self, pool: Executor | None, max_bytes: int, window: int = 4) -> None:
        """Decoder processes (`pool`; None: decoded here). Theirs answer with the facts' rows as COPY text."""
        self.pool, self.max_bytes, self.window = pool, max_bytes, window
        # STYRKEDJA_REBUILD_COPY_TEXT=0 (a bench setting): their answer as tuples, to compare
        self.as_text = pool is not None and self.knobs.rebuild_copy_text

    async def drain(self) -> None:
        """Every piece still with the decoders staged (before `finish`)."""
        while self.pending:
            await self._land()
        await self._settle()

    async def _land(self) -> None:
        future, raw = self.pending.popleft()
        started = time.perf_counter()
        staged = await future
        self.decoder_wait_seconds += time.perf_counter() - started
        self._dead_of(staged, raw)
        await self._copy(staged)

    def _dead_of(self, staged: Staged, raw: Sequence[RawRecord]) -> None:
        # a decoder process sees a fetcher's stand-in (records the client could not read) as an empty value, a
        # tombstone; its own reason is known here only, where the record still has its type (as live says it)
        for i, reason, message in staged.dead:
            topic, partition, offset, value, timestamp, key, *rest = raw[i]
            verdict = stand_in_refusal(value) or (reason, message)
            if len(value) + len(key or b"") > DEAD_KEPT_BYTES:
                # kept until the rebuild commits (its dead letters go out only then): each big bad record's bytes, up
                # to the broker's message size, made the rebuild's memory grow with what a hostile producer sent
                record = ConsumerRecord(topic, partition, offset, timestamp, 0, None, None, None, 0, 0, [])
                self.read_again.add((topic, partition, offset))
            else:  # the record as the fetcher handed it out (the dead letter's value, key and headers)
                value = None if isinstance(value, NullValue) else value
                headers = rest[0] if rest else None
                record = ConsumerRecord(topic, partition, offset, timestamp, 0, key, value, None,
                                        -1 if key is None else len(key), -1 if value is None else len(value),
                                        tuple(headers or ()))
            self.dead.append((record, *verdict))

    async def _copy(self, staged: Staged) -> None:
        """A chunk's staging rows in by COPY, its small events (those of a handled type) among them, as their records'
        bytes or pickled (`_small_row`; an event handed in decoded, `feed`, by its contracts' form), not kept here.
        With `overlap`, the COPY runs as a task while the caller reads and decodes the next chunk (PostgreSQL takes
        the rows on the other core meanwhile); one chunk in flight at a time (one connection), awaited before the next
        and in `finish`."""
        self.report.read += staged.read
        ids = staged.ids
        for row in [*staged.small_rows, *(_small_row(seq, item, item.event.to_bytes()) for seq, item in staged.small)]:
            if not self.handles(row[_SMALL.index("type")]):
                self.report.unhandled += 1
                continue
            ids.append(row)
        staged.small, staged.small_rows = [], []  # the caller's chunk may live on while the next is read
        facts = len(staged.assessments) + len(staged.forecasts) + staged.text_rows
        self.handled += len(ids) + facts
        self.staged_facts += facts
        await self._settle()
        work = self._copy_rows(ids, staged)
        if self.overlap:
            self.copying = asyncio.create_task(work)
        else:
            await work

    async def _settle(self) -> None:
        """The chunk still being copied, in (its error, if any, raised here)."""
        if self.copying is not None:
            copying, self.copying = self.copying, None
            await copying

    async def _copy_rows(self, ids: list[tuple[Any, ...]], staged: Staged) -> None:
        started = time.perf_counter()
        session = self.session  # the kit's COPY (`copy_records`), on the read's transaction
        assert session is not None
        s = self.shadow  # the drivers' COPY takes the schema apart from the name
        await copy_records(session, self.small_ids.split(".")[1], _SMALL, ids, schema=s)
        for name, store, rows in (("assessments", ASSESSMENTS, staged.assessments),
                                  ("forecasts", FORECASTS, staged.forecasts)):
            table = self.staging[name].split(".")[1]
            await copy_records(session, table, (*_HEAD, *store.fact_fields), rows, schema=s)
            if name in staged.texts:
                await _copy_text_in(session, table, (*_HEAD, *store.fact_fields), staged.texts[name], s)
        self.staging_seconds += time.perf_counter() - started

    # -- after the read -------------------------------------------------------------------------------------------
    async def finish(self, next_offsets: dict[tuple[str, int], int]) -> RebuildReport:
        """Everything after the read; returns with the swap's transaction open (`commit`, or `close` to let it go)."""
        report, stages = self.report, self.stages
        await self._settle()
        assert self.session is not None
        await self.session.commit()  # the staged rows: every connection sees them now
        await self.session.close()
        self.session = None
        report.stages["staging"] = round(self.staging_seconds, 3)
        report.stages["decoder_wait"] = round(self.decoder_wait_seconds, 3)
        report.peak_rss_mb["read"] = peak_rss_mb()
        report.counts["staging"] = self.staged_facts
        report.counts["work_mem_kb"] = self.work_mem_kb
        after_read = time.perf_counter()
        # the claim: the first delivery of a claim (id, organiser, topic; of a handled type); the later are duplicates
        await stages.run("claim", self.handled, self._claim())
        async with self._transaction() as (session, backend):
            await stages.run("claim.after", 0, self._claimed(session), backend)
            report.duplicates = int((await session.execute(text(f"SELECT count(*) FROM {self.dups}"))).scalar_one())
            # the counted events' tables, filled by the facts' parts (`_facts`), and the parts' organisers
            for _, statement, params in counted_tables_made(self.tracked, self.dups, QUIET_AUTOVACUUM):
                await session.execute(text(statement), params)
            parts = await self._fact_parts(session)
        # the claim's CPU: its halves' backends and the one analysing and indexing it (its wall: the halves')
        report.cpu["claim"] = {side: round(report.cpu["claim.halves"][side] + report.cpu["claim.after"][side], 3)
                               for side in ("python", "postgres")}
        report.counts["fact_parts"] = len(parts)
        failed: list[Failed] = report.failed
        left_out: list[Claim] = []

        def registry(types: Sequence[str], handler: BatchHandler) -> HandlerRegistry:
            one = HandlerRegistry()
            one.register(types, handler)
            return one

        async def through(session: AsyncSession, backend: int, stage: str, types: Sequence[str],
                          handler: BatchHandler) -> None:
            """The claimed small events of `types` through their normal handler in log order, a batch at a time."""
            count = await self._small_count(session, types)
            one = registry(types, handler)

            async def apply(batch: Sequence[Delivered]) -> None:
                await _halving(session, one, batch, failed)

            await stages.run(stage, count, self._small_batches(session, types, apply), backend)

        async def handlers(session: AsyncSession, backend: int) -> None:
            """The small event types through their normal handlers, in log order: directory, support, LIKA."""
            await through(session, backend, "directory", directory.EVENT_TYPES,
                          directory.directory_handler(on_moves=_no_moves))
            await through(session, backend, "support", support.EVENT_TYPES, support.apply_support)
            await through(session, backend, "lika", lika.EVENT_TYPES, lika.apply_lika)
            # the claims (`claim_of`: id, organiser, topic) of the refused events: another organiser's or topic's event
            # under the same id is its own
            left_out.extend(sorted({claim_of(f.item) for f in failed}, key=lambda c: (c[0].int, c[1], c[2])))

        async def below_pass(session: AsyncSession, backend: int) -> None:
            # support_below_pass's indexes kept until now: the support stage's upserts need its key
            await _drop_indexes(session, (BELOW_PASS.table.name,))
            # in its key's order, as figure_students (its key built from a sorted heap)
            order = _key_order(list(BELOW_PASS.table.primary_key.columns)) if await _byte_order(session) else None
            await rebuild_below_pass(session, order_by=order)

        async def compliance(session: AsyncSession, backend: int) -> None:
            async def calendars(fold: Callable[[Sequence[Delivered]], Awaitable[None]]) -> None:
                await self._small_batches(session, (CALENDAR_TYPE,), fold)

            report.counts["compliance"] = await rebuild_compliance(session, tracked=self.tracked, dups=self.dups,
                                                                   calendar_events=calendars,
                                                                   forecasts=self.staging["forecasts"])

        facts = ("facts.assessment_facts", "facts.forecast_facts")
        derive = ("handlers", *facts)
        parallel = self.workers != 0  # the statements' own parallel plans can get workers

        ranges = _OrganiserRanges(self.pass_parts)

        def figure_jobs(name: str) -> list[_Job]:
            if self.pass_parts == 1:
                async def figure(session: AsyncSession, backend: int) -> None:
                    await _figure(session, name)
                return [_Job(f"figures.{name}", figure, derive)]

            # pass in parts of the organisers, each a job of its own (`parts`): side by side with each other and
            # with the other jobs, where one statement kept one connection busy alone. figure_students stays written
            # in its key's order (its key built from a sorted heap: ~8 CPU s at 6.4M, ~28 on two parts' rows
            # written side by side, session 36): the key leads with the organiser, so the first part writes its rows
            # there, each later part into a table of its own, appended (`figures.students.<part>`) once the parts
            # before it are in
            def part_job(part: int) -> _Job:
                async def figure_part(session: AsyncSession, backend: int) -> None:
                    organisers = await ranges.part(session, part)
                    if organisers == (None, None):  # one part holds them all: the one statement
                        await _figure(session, name)
                    elif organisers is not None:
                        into = None
                        if part > 0:
                            into = _students_of_part(part)
                            await session.execute(text(
                                f"CREATE UNLOGGED TABLE {into} (LIKE {figure_tables.TABLES['students'].table.name})"))
                        await _figure(session, name, organisers, students_into=into)
                return _Job(f"figures.{name}.{part}", figure_part, derive)

            def appended_job(part: int) -> _Job:
                async def append(session: AsyncSession, backend: int) -> None:
                    if await ranges.part(session, part) is not None:
                        await _append_students(session, part)
                before = f"figures.students.{part - 1}" if part > 1 else f"figures.{name}.0"
                return _Job(f"figures.students.{part}", append, (f"figures.{name}.{part}", before))
            return [*(part_job(part) for part in range(self.pass_parts)),
                    *(appended_job(part) for part in range(1, self.pass_parts))]

        def level_jobs() -> list[_Job]:
            """The assessments' levels by one job, or (STYRKEDJA_REBUILD_LEVEL_PARTS) in the parts of the organisers
            pass is made in (the same ranges), each a job of its own. At 6.4M events the one statement took 51 s of
            wall (44 CPU s) on one connection, before the judgement and the aggregates' key (scale37); yet both
            connections were busy to within ~3 s of the end, so its chain did not set the end, and the parts add an
            append (+6 % of the levels' CPU at 1.6M events): off by default (bench/README.md after38). The key leads
            with the organiser: as figure_students, the first part writes its rows into the table, each later part
            into a table of its own, appended in part order (`levels.appended.<part>`) — the heap in the key's
            order, its key's build one pass over sorted rows."""
            whole = "levels.assessment_aggregates"
            if self.pass_parts == 1 or not self.knobs.rebuild_level_parts:
                return [_Job(whole, lambda s, b: _level(s, ASSESSMENTS, parallel), derive)]
            table = ASSESSMENTS.aggregates.name

            def part_job(part: int) -> _Job:
                async def level_part(session: AsyncSession, backend: int) -> None:
                    organisers = await ranges.part(session, part)
                    if organisers == EVERY_ORGANISER:  # one part holds them all: the one statement
                        await _level(session, ASSESSMENTS, parallel)
                    elif organisers is not None:
                        into = None
                        if part > 0:
                            into = _of_part(table, part)
                            await session.execute(text(f"CREATE UNLOGGED TABLE {into} (LIKE {table})"))
                        await _level(session, ASSESSMENTS, parallel, organisers, into=into)
                return _Job(f"{whole}.{part}", level_part, derive)

            def appended_job(part: int) -> _Job:
                async def append(session: AsyncSession, backend: int) -> None:
                    if await ranges.part(session, part) is not None:
                        await _append_part(session, table, part)
                before = f"levels.appended.{part - 1}" if part > 1 else f"{whole}.0"
                return _Job(f"levels.appended.{part}", append, (f"{whole}.{part}", before))
            return [*(part_job(part) for part in range(self.pass_parts)),
                    *(appended_job(part) for part in range(1, self.pass_parts))]

        # each figure of one statement (`figure_tables.REBUILT`), those `MADE_WITH` another by that one's: pass with
        # figure_students' rows (the most rows, the biggest indexes: the longest chain, first)
        figures: list[_Job] = []
        made_by: dict[str, tuple[str, ...]] = {}  # a figure's or level's job → the jobs making it (its parts)
        for name in figure_tables.REBUILT:
            if name not in MADE_WITH:
                figures += (made := figure_jobs(name))
                made_by[f"figures.{name}"] = tuple(job.name for job in made)
        levels = level_jobs()
        made_by["levels.assessment_aggregates"] = tuple(job.name for job in levels)

        def fact_part(n: int, within: OrganiserRange) -> _Job:
            return _Job(f"facts.assessment_facts.{n}",
                        lambda s, b: self._facts(s, "assessments", within, analyse=False))

        async def analysed(session: AsyncSession, backend: int) -> None:
            await session.execute(text(f"ANALYZE {ASSESSMENTS.facts.name}"))

        # the assessments' facts by one job, or by parts side by side (`_fact_parts`) and a job analysing the table
        # once they are in: the jobs after them wait for that one ("facts.assessment_facts") either way
        assessment_facts = [_Job("facts.assessment_facts", lambda s, b: self._facts(s, "assessments"))] \
            if len(parts) == 1 else [*(fact_part(n, within) for n, within in enumerate(parts, 1)),
                                     _Job("facts.assessment_facts", analysed,
                                          tuple(f"facts.assessment_facts.{n}" for n in range(1, len(parts) + 1)))]
        jobs = [
            # the longest chains first: a free connection takes the first job whose inputs are complete
            *assessment_facts,
            _Job("handlers", handlers),
            _Job("facts.forecast_facts", lambda s, b: self._facts(s, "forecasts")),
            *figures,
            # the levels in parts before compliance and below_pass: the judgement and the aggregates' key wait for
            # them, nothing for those two but their own keys (one statement: after them, as it was)
            *(levels if len(levels) > 1 else ()),
            _Job("compliance", compliance, derive),
            _Job("below_pass", below_pass, derive),
            *(levels if len(levels) == 1 else ()),
            _Job("levels.forecast_aggregates", lambda s, b: _level(s, FORECASTS, parallel), derive),
            _Job("figures.forecasts", lambda s, b: _figure_by_rules(s, "forecasts"), derive),
            _Job("figures.merit", lambda s, b: _figure_by_rules(s, "merit"), derive),
            _Job("bookkeeping", lambda s, b: self._bookkeeping(s, left_out), ("handlers",)),
            _Job("freshness", lambda s, b: self._freshness(s, left_out), ("handlers",)),
        ]
        filled_by = {"assessment_facts": "facts.assessment_facts", "forecast_facts": "facts.forecast_facts",
                     "assessment_aggregates": "levels.assessment_aggregates",
                     "forecast_aggregates": "levels.forecast_aggregates",
                     **{figure_tables.TABLES[name].table.name: f"figures.{MADE_WITH.get(name, name)}"
                        for name in figure_tables.REBUILT},
                     "compliance_items": "compliance", "compliance_cells": "compliance",
                     BELOW_PASS.table.name: "below_pass",
                     APPLIED: "bookkeeping"}
        # a table is filled when every job filling it is done (pass's: its parts)
        fillers = {table: made_by.get(job, (job,)) for table, job in filled_by.items()}
        pass_table = figure_tables.TABLES["pass"].table.name  # not waiting for figure_students' appends
        fillers[pass_table] = tuple(j for j in fillers[pass_table] if not j.startswith("figures.students."))
        later = [*self.deferred, *(i for i in self.indexes if i.table == BELOW_PASS.table.name and i not in self.deferred)]
        by_table: dict[str, list[_Index]] = {}
        for index in later:
            by_table.setdefault(index.table, []).append(index)
        # each index by a job of its own (the same table's at once: CREATE INDEX takes a SHARE lock), its key added
        # and the table analysed once they are all there (`keys.<table>`): the biggest first
        order = sorted(by_table, key=lambda t: list(filled_by).index(t) if t in filled_by else len(filled_by))
        shadow = self.shadow

        def index_job(index: _Index) -> _Job:
            async def build(session: AsyncSession, backend: int) -> None:
                await _build_indexes(session, [index], shadow, keys=False)
            return _Job(f"index.{index.name}", build, fillers[index.table])

        # the jobs that read a table: its key's job waits for them too. Its ADD CONSTRAINT … USING INDEX takes an
        # ACCESS EXCLUSIVE lock, and while a job read the table it waited for it holding a connection (scale34 at 6.4M:
        # keys.assessment_facts 17.1 s of wall behind figures.pass, for 0.37 CPU s), and a later reader would have
        # queued behind it
        readers = {table: tuple(j.name for j in jobs if filler in j.after) for table, filler in filled_by.items()}

        def keys_job(table: str) -> _Job:
            async def keys(session: AsyncSession, backend: int) -> None:
                await _keys(session, by_table[table], shadow)
            return _Job(f"keys.{table}", keys,
                        (*(f"index.{i.name}" for i in by_table[table]), *readers.get(table, ())))

        first_figure = next(n for n, job in enumerate(jobs) if job.name.startswith("figures."))
        # figure_students' key (the biggest index) before the figures (a connection free after pass's last part
        # builds it), or right after the levels' parts where they are made in parts: that connection takes the
        # levels' next part first, their chain (the judgement, the aggregates' key) the longer
        at = first_figure if len(levels) == 1 else \
            max(n for n, job in enumerate(jobs) if job.name in made_by["levels.assessment_aggregates"]) + 1
        jobs[at:at] = [index_job(i) for i in by_table.get("figure_students", [])]
        jobs += [index_job(i) for t in order if t != "figure_students" for i in by_table[t]]
        judged: list[Judgement] = []

        async def judge_drops(session: AsyncSession, backend: int) -> None:
            judged.append(await judge_pass_drops(session, await alert_state(session)))

        async def judge_below(session: AsyncSession, backend: int) -> None:
            judged[0] = await judge_below_forecasts(session, judged[0])

        # the alerts judged on the rebuilt tables by two jobs of their own (`judge_all`'s halves), each once the
        # tables it reads are complete: the round cells' pass drops (the levels' cells, figure_pass: read whole,
        # by no index) once the levels, pass and the directory are in; the forecast terms' below-forecast cells
        # (the forecasts' facts, the assessments' by their student index) once those are built. They ran as one
        # job after every other table was keyed and analysed (scale36 at 6.4M: 142.8-161.4 s of 168.8, on one core,
        # 11.3 s of it this process's Python — the event loop's, the other connection's jobs waiting on it). The
        # keys of the tables they read wait for them (`readers`: an ADD CONSTRAINT's lock). The swap's transaction
        # decides the judgement (`decide_all`: judged again there if an alert or a threshold changed since)
        pass_makers = tuple(j for j in fillers[pass_table])
        judging = [_Job("alerts.judge", judge_drops, ("handlers", *fillers["assessment_aggregates"], *pass_makers)),
                   _Job("alerts.judge.below", judge_below,
                        ("alerts.judge", *facts, *(f"index.{i.name}" for t in ("assessment_facts", "forecast_facts")
                                                   for i in by_table.get(t, []))))]
        jobs[first_figure:first_figure] = judging
        for job, tables in ((judging[0], ("assessment_aggregates", pass_table)),
                            (judging[1], ("assessment_facts", "forecast_facts"))):
            for table in tables:
                readers[table] = (*readers.get(table, ()), job.name)
        jobs += [keys_job(t) for t in order]
        await self._run_jobs(jobs)
        for group in ("facts", "levels", "figures", "index", "keys"):
            _sum_stages(report, group, "indexes" if group == "index" else group)
        for whole, makers in made_by.items():  # a figure made in parts: its parts' work, and their span as its time
            if makers != (whole,):
                _sum_stages(report, whole, whole)
                report.timeline[whole] = (min(report.timeline[m][0] for m in makers),
                                          max(report.timeline[m][1] for m in makers))
        for table, indexes in by_table.items():
            report.stages[f"indexes.{table}"] = round(sum(report.stages[f"index.{i.name}"] for i in indexes), 3)
        report.stages["derive"] = round(time.perf_counter() - after_read, 3)  # wall: the claim and the jobs

        # the swap: ONE transaction (left open: `commit`), the live tables replaced by the shadow's at once
        self.session = self.db.sessions()
        session = self.session
        self.stages.backend = int((await session.execute(text("SELECT pg_backend_pid()"))).scalar_one())
        # the alerts judged on the rebuilt tables (by the jobs' last, "alerts.judge") and decided here against the
        # stored alerts, the shadow first on the search path — their rows locked, written with their events
        # (`alerts.handlers.decide_all`; judged again, on the rebuilt tables still, if an alert or threshold changed
        # since the judgement) — before the swap's lock, in its transaction: the live tables stay readable meanwhile
        # (at 1.6M events the judging took 21 s under the lock, swap13; the decision's reads and writes grew with the
        # dipping cells under it, swap16), and a failed or killed swap writes no alert and no event. The alerts' rows
        # are locked before the live tables, as an acknowledgement locks its alert before its own reads and writes of
        # them (the other order deadlocked with it); a reevaluation, which takes the live tables first, waits for
        # `JUDGE_ALL_LOCK` (taken here) holding nothing; a sweep's freshness alerts are never among these rows. The
        # alerts and the outbox are kept tables, none in the shadow schema: written where they live. The swap's
        # freshness rows move the state version: no row of the alerts' own (as the live apply has none)
        await session.execute(text(f"SET LOCAL search_path TO {self.shadow}, {self.search_path}"))
        await stages.run("alerts", 0, decide_all(session, judged[0]))
        await session.execute(text(f"SET LOCAL search_path TO {self.search_path}"))
        await stages.run("swap", 0, self._swap(session, next_offsets))
        report.counts["freshness"] = report.counts["bookkeeping"] = report.applied
        report.counts["small_held"] = self.small_held
        # every backend's CPU after the read once (the per-job entries; their sums by group overlap them)
        own = ["claim.halves", "claim.after", *(job.name for job in jobs), "swap", "alerts"]
        report.cpu["after_read"] = {side: round(sum(report.cpu[k][side] for k in own if k in report.cpu), 3)
                                    for side in ("python", "postgres")}
        await explain.write_plans()
        return report

    async def _run_jobs(self, jobs: Sequence[_Job]) -> None:
        """`jobs` on `connections` connections, each in a transaction of its own; a connection takes the first job
        (in `jobs`' order) whose inputs are done. One job failing stops the others (the shadow schema is dropped)."""
        names = {job.name for job in jobs}
        missing = {a for job in jobs for a in job.after} - names
        if missing or len(names) != len(jobs):
            raise ValueError(f"rebuild jobs: unknown inputs {sorted(missing)} or a name twice")
        done: set[str] = set()
        taken: set[str] = set()
        changed = asyncio.Event()
        started = time.perf_counter()

        async def connection() -> None:
            while len(taken) < len(jobs):
                job = next((j for j in jobs if j.name not in taken and all(a in done for a in j.after)), None)
                if job is None:
                    changed.clear()
                    await changed.wait()
                    continue
                taken.add(job.name)
                begun = time.perf_counter() - started
                async with self._transaction() as (session, backend):
                    await self.stages.run(job.name, 0, job.work(session, backend), backend)
                self.report.timeline[job.name] = (begun, time.perf_counter() - started)
                done.add(job.name)
                changed.set()

        try:
            async with asyncio.TaskGroup() as group:
                for _ in range(min(self.connections, len(jobs))):
                    group.create_task(connection())
        except BaseExceptionGroup as failed:  # the first job's error, as one statement's would be
            raise failed.exceptions[0] from None

    async def _swap(self, session: AsyncSession, next_offsets: dict[tuple[str, int], int]) -> None:
        """The live derived tables dropped and the shadow's moved into their schema (names, indexes and keys as they
        were); the applied event ids likewise where no other consumer group has any (else this group's replaced);
        the group's offsets stored."""
        live, s = quoted(self.live), self.shadow
        tables = derived_tables()
        applied = f"{live}.{quoted(APPLIED)}"
        # the live tables' autovacuum setting again on the rebuilt ones (they had none of their own): before the live
        # tables' lock (its SHARE UPDATE EXCLUSIVE lock on the rebuilt table, held to the commit, keeps autovacuum off
        # it until then as the setting did)
        for table in (*tables, APPLIED):
            if table in self.quieted:
                await session.execute(text(f"ALTER TABLE {s}.{quoted(table)} RESET (autovacuum_enabled)"))
        await session.execute(text(f"LOCK TABLE {', '.join(f'{live}.{quoted(t)}' for t in (*tables, APPLIED))} "
                                   "IN ACCESS EXCLUSIVE MODE"))
        self.locked_at = time.perf_counter()
        others = (await session.execute(text(f"SELECT 1 FROM {applied} WHERE group_id <> :g LIMIT 1"),
                                        {"g": self.group_id})).first()
        if others is None:
            tables.append(APPLIED)
        else:
            await session.execute(text(f"DELETE FROM {applied} WHERE group_id = :g"), {"g": self.group_id})
            await session.execute(text(f"INSERT INTO {applied} SELECT * FROM {s}.{quoted(APPLIED)}"))
        await session.execute(text(f"DROP TABLE {', '.join(f'{live}.{quoted(t)}' for t in tables)}"))
        for table in tables:
            await session.execute(text(f"ALTER TABLE {s}.{quoted(table)} SET SCHEMA {live}"))
        await session.execute(text(f"DELETE FROM {live}.{quoted(OFFSETS)} WHERE group_id = :g"), {"g": self.group_id})
        await _store_offsets(session, self.group_id, next_offsets)

    async def _claim(self) -> None:
        """The duplicates (`_claim_sql`) in halves of the ids side by side where there are two connections or more
        (`claim.<half>`): every id's rows are in one half. At 6.4M events the one statement took 7.7 s of wall,
        alone before every job, the other core idle (scale37)."""
        async with self._transaction() as (session, _):
            await session.execute(text(f"CREATE UNLOGGED TABLE {self.dups} WITH ({QUIET_AUTOVACUUM}) AS "
                                       f"{self._claim_sql()} WITH NO DATA"))
        halves = [""] if self.connections < 2 else [" AND event_id < :half", " AND event_id >= :half"]

        async def half(n: int, within: str) -> None:
            async with self._transaction() as (session, backend):
                work = session.execute(text(f"INSERT INTO {self.dups} {self._claim_sql(within)}"),
                                       {"half": CLAIM_HALF} if within else {})
                await self.stages.run(f"claim.{n}", 0, work, backend)

        await asyncio.gather(*(half(n, within) for n, within in enumerate(halves)))
        self.report.cpu["claim.halves"] = {side: round(sum(self.report.cpu[f"claim.{n}"][side]
                                                           for n in range(len(halves))), 3)
                                           for side in ("python", "postgres")}

    def _claim_sql(self, within: str = "") -> str:
        """Later deliveries of a claim (an id within its organiser and topic, as the live consumer's `_claim_new`:
        another organiser's or topic's event under the same id is its own, whichever partition came first) are
        duplicates; one with
        other bytes than the claimed one (both digests known) is a `conflicting_duplicate` candidate: `command` reads
        it again and keeps it only where the live consumer's `same_content` says so (the same event as other JSON is
        a duplicate), then dead-letters it as the live consumer does (the first counts)."""
        # the ids delivered more than once first, by the id alone (a hash of 16-byte keys: the whole claim's three
        # columns, two of them text, were hashed for every event), then the claims among their rows only (an id
        # under two organisers or topics is two claims); every id's rows read twice, not three times
        # `within`: `AND` a condition on the ids' `event_id` (a half of them: a claim's rows are all in it), on both
        # reads of the ids (the second then probes the hash of `twice` with its half's rows only)
        return (f"WITH twice AS (SELECT event_id FROM {self.ids} WHERE true{within} GROUP BY event_id "
                "HAVING count(*) > 1), "
                "c AS MATERIALIZED (SELECT seq, event_id, organiser_id, topic, part, off, digest "
                f"FROM {self.ids} WHERE event_id IN (SELECT event_id FROM twice){within}), "
                "f AS (SELECT DISTINCT ON (event_id, organiser_id, topic) event_id, organiser_id, topic, "
                "seq AS first, digest FROM c ORDER BY event_id, organiser_id, topic, seq) "
                "SELECT c.seq, c.event_id, c.topic, c.part, c.off, f.digest AS counted, "
                "(c.digest IS NOT NULL AND f.digest IS NOT NULL AND c.digest <> f.digest) AS conflicting "
                "FROM c JOIN f USING (event_id, organiser_id, topic) WHERE c.seq <> f.first")

    async def _claimed(self, session: AsyncSession) -> None:
        """The claim's tables analysed and indexed, its conflicting duplicates reported."""
        await session.execute(text(f"ANALYZE {self.dups}"))
        # the small events are read back in log order a batch at a time (`_small_batches`): by these, each batch
        # from where the last ended (the value column left out of the statistics: its records' bytes)
        await session.execute(text(f"CREATE INDEX ON {self.small_ids} (seq)"))
        await session.execute(text(f"CREATE INDEX ON {self.dups} (seq)"))
        await session.execute(text(f"ANALYZE {self.small_ids} (seq, type)"))
        for row in (await session.execute(text(
                f"SELECT event_id, topic, part, off, counted FROM {self.dups} WHERE conflicting ORDER BY seq"))).all():
            self.report.conflicts.append(Failed(
                Delivered(_Event(row.event_id, "", None, None), row.topic, row.part, row.off),  # type: ignore[arg-type]
                "conflicting_duplicate", f"id {row.event_id}: an event with other content under this id came first "
                "and counts", row.counted))

    async def _small_count(self, session: AsyncSession, types: Sequence[str]) -> int:
        """How many claimed small events of `types` there are (a stage's count)."""
        return int((await session.execute(text(
            f"SELECT count(*) FROM {self.small_ids} s WHERE s.type = ANY(CAST(:types AS text[])) "
            f"AND NOT EXISTS (SELECT 1 FROM {self.dups} d WHERE d.seq = s.seq)"), {"types": list(types)})).scalar_one())

    async def _small_batches(self, session: AsyncSession, types: Sequence[str],
                             apply: Callable[[Sequence[Delivered]], Awaitable[None]]) -> None:
        """The claimed small events of `types` (later deliveries left out: `dups`) handed to `apply` in log order, a
        batch at a time: at most `chunk` events and about SMALL_BATCH_BYTES of their staged forms (at least one), read
        back from their staging table and made events again (`decoded_small`). One batch is held at a time, whatever
        the log's size."""
        after = -1
        while True:
            rows = (await session.execute(text(_SMALL_BATCH.format(small=self.small_ids, dups=self.dups)), {
                "after": after, "types": list(types), "n": self.chunk, "bytes": SMALL_BATCH_BYTES})).all()
            if not rows:
                return
            after = rows[-1][0]
            batch = decoded_small(rows, self.max_bytes)
            del rows
            self.small_held = max(self.small_held, len(batch))
            await apply(batch)
            del batch

    async def _facts(self, session: AsyncSession, name: str,
                     within: OrganiserRange = EVERY_ORGANISER, *, analyse: bool = True) -> None:
        """Newest revision per fact (the live path's `resolve`: equal revisions by `results.rules.tie_order`),
        of the claimed events only, in one statement (the table is empty); analysed for the statements after
        (`analyse`). `within`: the assessments of that range of organisers only (`compliance.organisers_within`; the
        parts of `_fact_parts`, each a job of its own, the counted events' tables made before by the claim's
        transaction)."""
        store = ASSESSMENTS if name == "assessments" else FORECASTS
        cols = ", ".join(quoted(f) for f in store.fact_fields)
        # per (id, organiser): a record is identified within its organiser (`results.tables.fact_table`). The
        # organiser first: the table is written in this order, so one organiser's facts lie on pages of their own
        # and a read of one organiser (the consistency check's parts) reads its pages only; in (id, organiser)
        # order one organiser's rows lay on nearly every page of the heap (bench/README.md sql30, order31). The
        # same rows: DISTINCT ON takes the same key in either order.
        key = f"organiser_id, {quoted(store.fact_fields[0])}"
        if store is ASSESSMENTS:
            # an assessment's `received_at` is its run's first time (`results.rules.run_time`), from its counted events
            # in log order (`rebuild.compliance.counted_statements`, which also keeps the round periods compliance's
            # job reads after): a revised published one's the earliest of its run's (`run_times_sql`), any other's its
            # own — in the one insert, the rows in the organiser's order (an update after would move the revised ones
            # to the heap's end)
            counted = counted_table(self.tracked)
            label, statement, params = counted_fill(self.tracked, self.dups, within)
            await explain.execute(session, label, statement, params)
            values = ", ".join(quoted(f) for f in store.fact_fields[:-1])
            assert store.fact_fields[-1] == "received_at"
            await explain.execute(session, "facts.assessment_facts", (
                f"INSERT INTO {store.facts.name} ({cols}) WITH rt AS MATERIALIZED ({run_times_sql(counted, within)}) "
                f"SELECT DISTINCT ON ({key}) {values}, CASE WHEN retracted OR rt.run_at IS NULL THEN received_at "
                f"ELSE rt.run_at END FROM {self.staging[name]} s LEFT JOIN rt ON rt.r_id = s.assessment_id "
                "AND rt.r_organiser = s.organiser_id "
                f"WHERE NOT EXISTS (SELECT 1 FROM {self.dups} d WHERE d.seq = s.seq){organisers_within('s', within)} "
                f"ORDER BY {key}, revision DESC, {tie_order_sql(store)}, seq"), organiser_bounds(within))
        else:
            await session.execute(text(
                f"INSERT INTO {store.facts.name} ({cols}) SELECT DISTINCT ON ({key}) {cols} FROM {self.staging[name]} s "
                f"WHERE NOT EXISTS (SELECT 1 FROM {self.dups} d WHERE d.seq = s.seq) "
                f"ORDER BY {key}, revision DESC, {tie_order_sql(store)}, seq"))
        if analyse:
            await session.execute(text(f"ANALYZE {store.facts.name}"))

    async def _fact_parts(self, session: AsyncSession) -> list[OrganiserRange]:
        """The assessments' organisers in FACT_PARTS ranges of about as many staged events each (their bounds for
        `_facts`), in the organisers' order, an organiser never cut (`parts.organiser_ranges`, pass's cut too); one
        range (every organiser) with one connection, below FACT_PARTS_FROM staged facts, or where the sample holds one
        organiser only. The facts' insert was one job, alone on the critical
        path while the other connection idled (scale34 at 6.4M: 43.5 s, from ~28 s on by itself): its parts run on
        two connections. The bounds from a sample of the staging table's pages (`TABLESAMPLE SYSTEM`, about
        FACT_PARTS_SAMPLE rows, REPEATABLE: the same sample of the same pages), so the read costs no scan; a skewed
        sample only makes the parts uneven, never other rows."""
        if self.connections < 2 or FACT_PARTS < 2 or self.staged_facts < FACT_PARTS_FROM:
            return [EVERY_ORGANISER]
        percent = min(100.0, 100.0 * FACT_PARTS_SAMPLE / max(1, self.staged_facts))
        sampled = (await session.execute(text(
            f"SELECT organiser_id, count(*) FROM {self.staging['assessments']} TABLESAMPLE SYSTEM ({percent:.6f}) "
            "REPEATABLE (16) GROUP BY organiser_id ORDER BY organiser_id"))).all()
        return organiser_ranges([(str(o), int(n)) for o, n in sampled], FACT_PARTS)

    async def _freshness(self, session: AsyncSession, left_out: list[Claim]) -> None:
        """Newest event time per topic and partition of the applied events (`registry.note_freshness_from`: the live
        rule, set-wise)."""
        await note_freshness_from(session, (
            f"SELECT topic, part, max(time) FROM {self.ids} i WHERE NOT EXISTS (SELECT 1 FROM {self.dups} d "
            f"WHERE d.seq = i.seq) AND {_NOT_LEFT_OUT} GROUP BY topic, part"), _left_out(left_out))

    async def _bookkeeping(self, session: AsyncSession, left_out: list[Claim]) -> None:
        """Every applied claim (event id, organiser, topic: the live consumer skips them if delivered again), into
        the shadow's table."""
        result = await session.execute(text(
            f"INSERT INTO {self.shadow}.{APPLIED} (event_id, organiser_id, topic, group_id, digest) "
            f"SELECT event_id, organiser_id, topic, :g, digest FROM {self.ids} i "
            f"WHERE NOT EXISTS (SELECT 1 FROM {self.dups} d WHERE d.seq = i.seq) "
            f"AND {_NOT_LEFT_OUT} ORDER BY event_id, organiser_id, topic"),
            {"g": self.group_id, **_left_out(left_out)})
        self.report.applied = result.rowcount  # type: ignore[attr-defined]


#: a staged id's claim is none of the refused events' (`_left_out`'s parameters): the ids first, a filter on each row as
#: before (a refused event is rare), the organiser and topic asked of those ids' rows only
_NOT_LEFT_OUT = ("NOT (i.event_id = ANY(CAST(:lo_ids AS uuid[])) AND EXISTS (SELECT 1 FROM unnest(CAST(:lo_ids AS "
                 "uuid[]), CAST(:lo_organisers AS text[]), CAST(:lo_topics AS text[])) AS l(e, o, t) "
                 "WHERE l.e = i.event_id AND l.o = i.organiser_id AND l.t = i.topic))")


def _left_out(left_out: list[Claim]) -> dict[str, list[Any]]:
    return {"lo_ids": [c[0] for c in left_out], "lo_organisers": [c[1] for c in left_out],
            "lo_topics": [c[2] for c in left_out]}


@dataclass
class _Job:
    """A piece of the work after the read, in a transaction of its own: `work(session, backend pid)`, run once
    every job named in `after` is done."""

    name: str
    work: Callable[[AsyncSession, int], Awaitable[Any]]
    after: tuple[str, ...] = ()


def _sum_stages(report: RebuildReport, prefix: str, name: str) -> None:
    """`name`: the sum of the `prefix.*` stages' seconds and CPU (work, not wall: they ran side by side)."""
    parts = [k for k in report.stages if k.startswith(prefix + ".")]
    if not parts:
        return
    report.stages[name] = round(sum(report.stages[k] for k in parts), 3)
    report.cpu[name] = {side: round(sum(report.cpu[k][side] for k in parts if k in report.cpu), 3)
                        for side in ("python", "postgres")}


def parallel_workers(connections: int, configured: int | None = None) -> int | None:
    """PostgreSQL's parallel workers per statement and per index build in the rebuild's transactions
    (STYRKEDJA_REBUILD_WORKERS; None: the server's own, 2 each): none where several connections work side by side —
    the jobs are then the parallelism; workers on top of them only contended for the same two cores (1.6M events:
    151.9 s after the read against 176.7 s, the server's CPU 145 against 171 s; bench/results/rebuild6.json)."""
    if configured is not None:
        return configured
    return 0 if connections > 1 else None


#: `work_mem` and `maintenance_work_mem` of the rebuild's transactions (kB). Not sized to the facts: at 1.6M events
#: 256 MB sent figures.students, figures.pass, below_pass, compliance and the facts' sorts and hashes to temp files
#: (0.2-0.9 GB each), and 782 MB kept them in memory for the same PostgreSQL CPU or more (figures.students' sort
#: 13.5/15.3 s spilled against 16.1/20.6 s in memory: one quicksort of 3.2M rows misses the caches more than sorted
#: runs merged); bench/results/rebuild10.json
WORK_MEM_KB = 256 * 1024


def memory_kb(configured_mb: int | None = None) -> int:
    """`work_mem` and `maintenance_work_mem` (kB) of the rebuild's transactions: WORK_MEM_KB, or
    STYRKEDJA_REBUILD_WORK_MEM_MB (`configured_mb`, a bench setting: `bench/rebuild_held.py --env`)."""
    return configured_mb * 1024 if configured_mb is not None else WORK_MEM_KB


def default_pass_parts(connections: int, configured: int | None = None) -> int:
    """Parts of the organisers pass is made in (STYRKEDJA_REBUILD_PASS_PARTS: `configured`, else one per connection)."""
    return configured if configured is not None else connections


class _OrganiserRanges:
    """The assessment facts' organisers cut into ranges of about equal facts (`parts.organiser_ranges`), counted
    once — by the first part's job to ask, the facts then complete — and handed to every part."""

    def __init__(self, parts: int) -> None:
        self.parts = parts
        self.ranges: list[OrganiserRange] | None = None
        self.lock = asyncio.Lock()

    async def part(self, session: AsyncSession, part: int) -> OrganiserRange | None:
        """Part `part`'s organisers, None where there are fewer organisers than parts."""
        async with self.lock:
            if self.ranges is None:
                counts = (await session.execute(text(
                    f"SELECT organiser_id, count(*) FROM {ASSESSMENTS.facts.name} GROUP BY organiser_id "
                    "ORDER BY organiser_id"))).all()
                self.ranges = organiser_ranges([(str(o), int(n)) for o, n in counts], self.parts)
        return self.ranges[part] if part < len(self.ranges) else None


def default_connections(configured: int | None = None) -> int:
    """Connections for the work after the read (STYRKEDJA_REBUILD_CONNECTIONS: `configured`, else one per core, at
    most 4)."""
    return configured if configured is not None else min(4, max(1, os.cpu_count() or 1))


async def _copy_text_in(session: AsyncSession, table: str, columns: Sequence[str], payload: bytes,
                        schema: str | None = None) -> None:
    """Rows already in COPY text format (`copy_text`) into `table` by one COPY on the session's connection and
    transaction (as the kit's `copy_records` does for tuples)."""
    connection = await session.connection()
    driver = (await connection.get_raw_connection()).driver_connection
    assert driver is not None
    if not driver.is_in_transaction():
        await connection.exec_driver_sql("SELECT 1")
    # a memoryview: asyncpg reads bytes as a file name; a buffer it sends as it is
    await driver.copy_to_table(table, source=memoryview(payload), columns=tuple(columns), format="text",
                               schema_name=schema)


#: the storage option the rebuild's own tables are made with: autovacuum off while it works. The staging tables are
#: dropped at its end, yet autovacuum vacuumed and analysed them once the read committed (1.4 of the 4.7 CPU s autovacuum
#: spent inside a 1.6M rebuild, on the two cores its jobs need); the shadow tables it vacuumed as each job committed, which
#: it does after the swap anyway (their own setting, none, put back there: `Rebuilder._swap`). The jobs' statements read
#: the staging tables without statistics, as the first of them did before (autovacuum came later than they); each
#: derived table is analysed by the rebuild itself where a later statement reads it (bench/README.md rebuild12)
QUIET_AUTOVACUUM = "autovacuum_enabled = false"
#: the claim's halves of the ids (`Rebuilder._claim`): below and from the middle uuid (random ids: about half each)
CLAIM_HALF = "80000000-0000-0000-0000-000000000000"


#: Emptied, then filled by plain INSERT … SELECT only (and support_below_pass, whose indexes are dropped only after the
#: support stage, before its one INSERT: 651k rows took 23.5 of its 32 s at 600k events with its key and index kept) (no upsert needs their unique indexes meanwhile): their indexes
#: are dropped in the rebuild's transaction and built again after the load, one sort each, instead of maintained
#: row by row (at 62k events figure_students' 124,000 rows took 1.4 s to insert, its SELECT 0.1 s)
DEFERRED_INDEXES = ("assessment_facts", "forecast_facts", "assessment_aggregates", "forecast_aggregates",
                    "figure_pass", "figure_students", "compliance_items", "compliance_cells")


@dataclass(frozen=True)
class _Index:
    table: str
    name: str
    definition: str  # pg_get_indexdef: exactly as it was (columns, method, options)
    constraint: str | None  # the primary key or unique constraint it backs
    kind: str | None  # 'p' or 'u'


async def _indexes_of(session: AsyncSession, schema: str, tables: Sequence[str]) -> list[_Index]:
    """The indexes of `tables` in `schema`, with their definitions and the keys they back."""
    rows = (await session.execute(text(
        "SELECT t.relname, x.relname, pg_get_indexdef(i.indexrelid), c.conname, CAST(c.contype AS text) FROM pg_index i "
        "JOIN pg_class t ON t.oid = i.indrelid JOIN pg_class x ON x.oid = i.indexrelid "
        "LEFT JOIN pg_constraint c ON c.conindid = i.indexrelid AND c.contype IN ('p', 'u') "
        "WHERE t.relname = ANY(CAST(:tables AS text[])) AND t.relnamespace = to_regnamespace(:schema) ORDER BY 1, 2"),
        {"tables": list(tables), "schema": schema})).all()
    return [_Index(*row) for row in rows]


async def _drop_indexes(session: AsyncSession, tables: Sequence[str]) -> list[_Index]:
    """The indexes and keys of `tables` (those the search path finds: the shadow's) dropped."""
    rows = (await session.execute(text(
        "SELECT t.relname, x.relname, pg_get_indexdef(i.indexrelid), c.conname, CAST(c.contype AS text) FROM pg_index i "
        "JOIN pg_class t ON t.oid = i.indrelid JOIN pg_class x ON x.oid = i.indexrelid "
        "LEFT JOIN pg_constraint c ON c.conindid = i.indexrelid AND c.contype IN ('p', 'u') "
        "WHERE t.relname = ANY(CAST(:tables AS text[])) AND pg_table_is_visible(t.oid) ORDER BY 1, 2"),
        {"tables": list(tables)})).all()
    found = [_Index(*row) for row in rows]
    for index in found:
        if index.constraint is not None:
            await session.execute(text(f"ALTER TABLE {quoted(index.table)} DROP CONSTRAINT {quoted(index.constraint)}"))
        else:
            await session.execute(text(f"DROP INDEX {quoted(index.name)}"))
    return found


#: a partial index's definition (`pg_get_indexdef`: `… USING btree (…) WHERE (…)`)
_PARTIAL = re.compile(r"\) WHERE ")
#: the table an index definition is on (`pg_get_indexdef`: `… ON [ONLY] schema.table USING …`)
_ON_TABLE = re.compile(r" ON (ONLY )?(\S+) USING ")


def _definition_in(index: _Index, schema: str) -> str:
    """`index`'s definition on the table of its name in `schema` (its own name: an index lives in its table's schema)."""
    definition, n = _ON_TABLE.subn(lambda m: f" ON {m.group(1) or ''}{schema}.{quoted(index.table)} USING ",
                                   index.definition, count=1)
    if n != 1:
        raise ValueError(f"an index definition the rebuild cannot place: {index.name}")
    return definition


async def _build_indexes(session: AsyncSession, indexes: Sequence[_Index], schema: str, *, keys: bool = True) -> None:
    """`indexes` built in `schema` exactly as their definitions say; with `keys`, the keys they back added too
    (else `_keys`, once every index of the table is built)."""
    for index in indexes:
        await session.execute(text(_definition_in(index, schema)))
    if keys:
        await _keys(session, indexes, schema, analyse=False)


async def _keys(session: AsyncSession, indexes: Sequence[_Index], schema: str, *, analyse: bool = True) -> None:
    """The primary keys and unique constraints on their built indexes (no scan: the index is there); with
    `analyse`, the table analysed (its statistics for the reads after the swap)."""
    tables = []
    for index in indexes:
        if index.table not in tables:
            tables.append(index.table)
        if index.constraint is not None:
            kind = "PRIMARY KEY" if index.kind == "p" else "UNIQUE"
            await session.execute(text(f"ALTER TABLE {schema}.{quoted(index.table)} ADD CONSTRAINT "
                                       f"{quoted(index.constraint)} {kind} USING INDEX {quoted(index.name)}"))
    if analyse:
        for table in tables:
            await session.execute(text(f"ANALYZE {schema}.{quoted(table)}"))


async def _no_moves(session: AsyncSession, moves: Any) -> None:
    """The directory goes first, with nothing counted yet: there is nothing to move (the levels are
    computed from the final placement afterwards)."""


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


async def _insert_by_parallel_plan(session: AsyncSession, label: str, table: str, cols: str, select: str, *,
                                   parallel: bool = True, params: dict[str, str] | None = None) -> None:
    """`INSERT INTO table (cols) select` (bound with `params`); with `parallel`, `select` is first made a table by
    CREATE TABLE AS, whose SELECT PostgreSQL plans in parallel (an INSERT … SELECT it never does): the rebuild's Python
    waits meanwhile, so the aggregate over every fact gets both cores. For statements that read much and make little."""
    if not parallel:
        await explain.execute(session, label, f"INSERT INTO {table} ({cols}) {select}", params)
        return
    scratch = f"rebuild_scratch_{uuid.uuid4().hex[:8]}"  # unlogged: made and dropped in the rebuild's transaction
    await explain.execute(session, label, f"CREATE UNLOGGED TABLE {scratch} AS {select}", params)
    await session.execute(text(f"INSERT INTO {table} ({cols}) SELECT {cols} FROM {scratch}"))
    await session.execute(text(f"DROP TABLE {scratch}"))


def rolled_up_levels_sql(store: Any, within: str = "") -> str:
    """The kept levels of one fact table's aggregates (`AGGREGATE_LEVELS`) from its final facts, rolled up: the facts
    counted once per school unit, group and the other dimensions (`g`), the school unit level summed from those rows
    (`s`), the organiser level from the school unit level's (a few times fewer rows than the group level's: at 402k
    events of the term shape 57k against 214k); the area and the nation have no rows (their reads take the school
    units' and the organiser level's). The same rows as `FactStore.recomputed_sql`, which reads and hashes every fact
    once per level. `within`: a condition `AND`ed to the facts' (`parts.range_condition` on `f.organiser_id`: a part
    of the organisers — every row is one organiser's, so the parts' rows are the whole's)."""
    if tuple(store.dimensions[:3]) != ("level", "unit_id", "organiser_id") or \
            tuple(AGGREGATE_LEVELS) != ("group", "school_unit", "organiser"):
        raise ValueError("the levels' roll-up expects (level, unit_id, organiser_id, …) and the three kept levels")
    rest = ", ".join(quoted(d) for d in store.dimensions[2:])
    of_fact = ", ".join(f"f.{quoted(d)}" for d in store.dimensions[2:])
    g = (f"SELECT f.school_unit_code AS su, f.group_id AS gid, {of_fact}, CAST(count(*) AS integer) AS n "
         f"FROM {store.facts.name} f WHERE NOT f.{store.hidden}{within} GROUP BY f.school_unit_code, f.group_id, {of_fact}")
    s = f"SELECT su, {rest}, CAST(sum(n) AS integer) AS n FROM g GROUP BY su, {rest}"
    levels = [
        f"SELECT CAST('group' AS varchar), CAST(su || '{GROUP_SEPARATOR}' || gid AS varchar), {rest}, n FROM g",
        f"SELECT CAST('school_unit' AS varchar), CAST(su AS varchar), {rest}, n FROM s",
        f"SELECT CAST('organiser' AS varchar), CAST(organiser_id AS varchar), {rest}, CAST(sum(n) AS integer) "
        f"FROM s GROUP BY {rest}"]
    return f"WITH g AS MATERIALIZED ({g}), s AS MATERIALIZED ({s}) {' UNION ALL '.join(levels)}"


async def _level(session: AsyncSession, store: Any, parallel: bool, organisers: OrganiserRange = EVERY_ORGANISER, *,
                 into: str | None = None) -> None:
    """The materialised levels of one fact table from its final facts (`rolled_up_levels_sql`); `parallel`: by a
    parallel plan (`_insert_by_parallel_plan`: a scratch table first), else straight into the table (with no
    parallel workers — two connections — the scratch table only wrote and read every row once more).
    `organisers`: those of a part only (`parts`); `into`: the table its rows go to (a later part's, appended)."""
    dims = ", ".join(quoted(d) for d in store.dimensions)
    within, params = range_condition(organisers, "f.organiser_id", "part")
    select = f"SELECT {dims}, count FROM ({rolled_up_levels_sql(store, within)}) AS r({dims}, count)"
    if await _byte_order(session):  # in its key's order, as figure_students (its key built from a
        # sorted heap: at 402k events the fill and the key's build 3.8-4.4 CPU s against 4.4-4.8 unsorted)
        select += f" ORDER BY {_key_order(list(store.aggregates.primary_key.columns))}"
    await _insert_by_parallel_plan(session, f"levels.{store.facts.name}", into or store.aggregates.name,
                                   f"{dims}, count", select, parallel=parallel, params=params)


#: figure_students is inserted in its primary key's order (`_key_order`) where the database's text order is byte order:
#: its key's index is then built from a sorted heap (the build's sort finds it sorted, one pass) instead of sorting
#: every row by the 8-column key, whose comparisons read each column of both tuples (figure_students: 3.2M rows at
#: 1.6M events, 24-25 of its indexes' 41-53 CPU s; bench/results/rebuild8.json, rebuild9.json)
#: database collations whose text order is byte order (code point order of UTF-8): a key made of the columns'
#: bytes (`_key_order`) sorts as the columns do
BYTE_ORDER_COLLATIONS = frozenset({"C", "POSIX", "C.UTF-8", "C.utf8"})


async def _byte_order(session: AsyncSession) -> bool:
    """Whether text in this database's default collation compares as its bytes (libc's C or C.UTF-8, or the
    builtin provider's)."""
    collate = (await session.execute(text(
        "SELECT CASE WHEN datlocprovider = 'b' THEN datlocale ELSE datcollate END, datlocprovider = 'i' "
        "FROM pg_database WHERE datname = current_database()"))).one()
    return not collate[1] and collate[0] in BYTE_ORDER_COLLATIONS


def _key_order(columns: Sequence[Column[Any]]) -> str:
    """ONE text key whose byte order (COLLATE "C") is the order of `columns` (text in byte order, integers): the
    texts joined by a byte below any they hold (chr(1); a value holding one only unsorts the heap: the index build
    then sorts, the rows are the same), an integer as 8 hex digits of it + 2^31. A single key sorts on its first
    bytes and one memcmp, where the columns each took a comparison of their own."""
    parts = []
    for column in columns:
        name = quoted(column.name)
        if isinstance(column.type, Integer):
            parts.append(f"lpad(to_hex(CAST({name} AS bigint) + 2147483648), 8, '0')")
        else:
            parts.append(f"CAST({name} AS text)")
    return f"({' || chr(1) || '.join(parts)}) COLLATE \"C\""


#: the figures planned without nested loops (the setting local to the transaction, set back after it): pass's
#: counters, students and newest days are three subqueries joined on the seven-column cell, the first join estimated
#: at one row, and the newest days were then joined to every cell by a nested loop over all cells — cells × cells,
#: quadratic in the groups: 254 of the rebuild's 273 PostgreSQL CPU seconds at 402k events of make bench's term shape
#: (classes of 25, 16 subjects × 4 rounds), 6.4 s at 66k (bench/README.md "benchshape"); hash joins instead
NO_NESTED_LOOPS = frozenset({"pass"})
#: figures whose rows another figure's statement makes (figure → that figure): figure_students' rows are the pass
#: roll-up's per group cell and student rows (`figure_tables.STUDENTS_OF_GS`), written by pass's statement, so every
#: fact is aggregated per group cell and student once, not once per figure (bench/README.md rebuild19)
MADE_WITH = {"students": "pass"}


def _of_part(table: str, part: int) -> str:
    """The table a later part writes its rows of `table` to (figure_students' of pass, the levels'; the shadow's:
    dropped with it)."""
    return f"{table}_part_{part}"


def _students_of_part(part: int) -> str:
    """The table a later part of pass writes its figure_students rows to."""
    return _of_part(figure_tables.TABLES["students"].table.name, part)


async def _append_part(session: AsyncSession, table: str, part: int) -> None:
    """A later part's rows of `table` appended to it in the order they were written (its key's), the part's own
    table dropped."""
    into = _of_part(table, part)
    await session.execute(text(f"INSERT INTO {table} SELECT * FROM {into}"))
    await session.execute(text(f"DROP TABLE {into}"))


async def _append_students(session: AsyncSession, part: int) -> None:
    """A later part's figure_students rows appended (`_append_part`)."""
    await _append_part(session, figure_tables.TABLES["students"].table.name, part)


async def _figure(session: AsyncSession, name: str, organisers: OrganiserRange = (None, None), *,
                  students_into: str | None = None) -> None:
    """A figure of `figure_tables.REBUILT` that is not `MADE_WITH` another, by one statement (`pass_statement`).
    `organisers`: those of a part only (`parts`); `students_into`: the table its figure_students rows go to (a later
    part's)."""
    if name != "pass" or MADE_WITH != {"students": "pass"}:
        raise ValueError(f"no rebuild statement for the figure {name!r} alone")
    sql, params = pass_statement(organisers, students_into=students_into, byte_order=await _byte_order(session))
    async with (planner_setting(session, "enable_nestloop", "off") if name in NO_NESTED_LOOPS
                else contextlib.nullcontext()):
        await explain.execute(session, f"figures.{name}", sql, params)


def pass_statement(organisers: OrganiserRange = (None, None), *, students_into: str | None = None,
                   byte_order: bool = True) -> tuple[str, dict[str, str]]:
    """Pass (with its newest days) and, by the same statement, figure_students: the roll-up's common table
    expressions (`figure_tables.ROLLED_UP_PASS`) and one more that inserts `gs`'s rows into figure_students, then
    the pass rows inserted; the statement and its parameters. Where text sorts as bytes (`byte_order`) figure_students'
    rows go in in its key's order (its key then built from a sorted heap): `gs` made in that order (`students_key`)
    and read as it is. A data-modifying WITH runs to its end whatever the statement reads of it; it cannot stand in
    a subquery, nor in CREATE TABLE AS: no parallel plan (the rebuild has none with two connections or more,
    `parallel_workers`)."""
    figure, students = figure_tables.TABLES["pass"], figure_tables.TABLES["students"]
    cols = ", ".join(quoted(c) for c in figure.columns)
    student_cols = ", ".join(quoted(c) for c in students.columns)
    key = _key_order(list(students.table.primary_key.columns)) if byte_order else None
    rows = figure_tables.STUDENTS_OF_GS_IN_ORDER if key else figure_tables.STUDENTS_OF_GS
    within, params = range_condition(organisers, "f.organiser_id", "part")
    ctes, select = figure_tables.rolled_up_pass_within(within, key)
    # figure_pass's rows in its key's order too where text sorts as bytes: its key then built from a sorted heap (the
    # final join's order was far from it: its key's build 0.02-0.03 -> 0.07-0.10 CPU s at 402k, pass36)
    ordered = f" ORDER BY {_key_order(list(figure.table.primary_key.columns))}" if byte_order else ""
    sql = (f"WITH {ctes}, rebuilt_students AS (INSERT INTO {students_into or students.table.name} ({student_cols}) "
           f"SELECT {student_cols} FROM ({rows}) AS r) "
           f"INSERT INTO {figure.table.name} ({cols}) SELECT {cols} FROM ({select}) AS r{ordered}")
    return sql, params


async def _figure_by_rules(session: AsyncSession, name: str) -> None:
    """Forecast against outcome or merit by their pure rules in Python: slice by slice of the students (the rows
    add up), so that no more than about FIGURE_SLICE facts are in memory at once."""
    read = {"forecasts": f"SELECT 2 * count(*) FROM {FORECASTS.facts.name} WHERE NOT withdrawn",
            "merit": f"SELECT count(*) FROM {ASSESSMENTS.facts.name} WHERE NOT retracted AND kind = 'term_grade'"}
    slices = await _slices(session, read[name])
    for i in range(slices):
        rows = await recomputed_rows(session, name, paired_only=True, student_slice=None if slices == 1 else (i, slices))
        await figure_tables.TABLES[name].add(session, rows)


async def _slices(session: AsyncSession, count_sql: str) -> int:
    """How many slices of the students keep each slice's facts under FIGURE_SLICE."""
    return max(1, -(-int((await session.execute(text(count_sql))).scalar_one() or 0) // FIGURE_SLICE))


async def _store_offsets(session: AsyncSession, group_id: str, next_offsets: dict[tuple[str, int], int]) -> None:
    if next_offsets:
        await session.execute(text(
            f"INSERT INTO {OFFSETS} (group_id, topic, partition, next_offset) "
            "SELECT :g, t, p, o FROM unnest(CAST(:topics AS text[]), CAST(:partitions AS integer[]), "
            "CAST(:offsets AS bigint[])) AS x(t, p, o) ON CONFLICT (group_id, topic, partition) "
            "DO UPDATE SET next_offset = EXCLUDED.next_offset, updated_at = now()"),
            {"g": group_id, "topics": [t for t, _ in next_offsets], "partitions": [p for _, p in next_offsets],
             "offsets": list(next_offsets.values())})

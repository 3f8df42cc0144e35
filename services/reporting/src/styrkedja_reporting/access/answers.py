"""Answers already given: a read of unchanged state is answered from memory, in microseconds.

Every figure, results, support, LIKA, compliance, directory and alert-list read is a function of four things:
the materialised state, the reader's *class* (what the one read path decided about them: roles,
organisers, areas, school units and groups — completed from the directory — the levels suppressed
for them and the disclosure rules), the request (path, query, `Accept`) and the day (ages, file names, open investigations, the school
year: the local, UTC and Swedish date). So:

- the **state version** is read from the `freshness` table, which every applied batch writes in the
  transaction that changes the aggregates (`registry._note_freshness`; the directory's batches too),
  and every change outside a batch that a kept answer rests on (an alert acknowledged, swept or judged
  again: `freshness.note_change_outside_batches`, in its own transaction): it changes with every
  batch, whichever replica applied it. Concurrent requests share one read of
  it, but a request only takes a version read that *started after it arrived* (`StateVersions`),
  so an answer is never older than what was committed when its request came in (a change
  notification could not promise that: it arrives after the commit is visible);
- the **reader class** is what the route's own access check decided (`keep_answer`, called by a
  route after `access.guard.strict_scope`/`read_scope` and the suppression decision, or
  `keep_answer_of` with the reader after a route's own check): the cache learns it per token
  principal, family of reads (`/v1/figures/`, `/v1/lika/`, …) and state version, and keys the
  answers on it — two readers of one class share an answer, readers of different classes never do;
- an answer is kept only when the route said so (`keep_answer`) — never an audited read (student
  level: `access.guard.audit` marks it), never an error, never one larger than `max_answer_bytes`.

`AnswerCache` is the ASGI middleware that does this in front of the routes (after the token check):
a hit is answered without the framework, a database session or the route; a miss runs the route and
keeps its body, with an `ETag` (and `If-None-Match` → 304). The freshness headers are set anew on
every answer. `Answers` holds one generation (state version, day) per app; a new version drops the
old generation whole.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import hashlib
import logging
import sys
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Hashable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any
from urllib.parse import parse_qsl
from zoneinfo import ZoneInfo

import asyncpg
from prometheus_client import Counter, Gauge
from starlette.requests import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from styrkedja_kit.auth import Principal
from styrkedja_kit.negotiation import raw_accept_of
from styrkedja_kit.supervise import within

from ..freshness import consumer_lag_for, newest_event_time_for
from ..results.read import Scope as ReadScope

log = logging.getLogger(__name__)

#: Keys in the ASGI scope's `state` (what `request.state` holds) that routes and guards set.
CLASS_KEY = "answer_reader_class"
AUDITED_KEY = "audited_read"
NEWEST_HEADER = b"x-styrkedja-newest-event-time"
LAG_HEADER = b"x-styrkedja-consumer-lag"
_NOT_KEPT_HEADERS = frozenset({b"content-length", b"etag", NEWEST_HEADER, LAG_HEADER})

StateRows = tuple[tuple[Any, ...], ...]


# -- what routes call -----------------------------------------------------------------------------
def reader_class(scope: ReadScope) -> Hashable:
    """What the read path decided about a reader, without who they are: readers of one class see
    the same answer to the same request (the route narrows by these, and by nothing else)."""
    p = scope.principal
    who = None if p is None else (p.roles, p.organisers, p.areas, p.school_units, p.groups)
    return (who, scope.suppressed, scope.rules)


def keep_answer(request: Request, scope: ReadScope) -> None:
    """The route's answer may be kept for this reader class (after its access check passed)."""
    request.state.answer_reader_class = reader_class(scope)


def reader_of_class(reader: Principal) -> Hashable:
    """The class of a route that narrows by the reader's scope alone (no suppression): its roles
    and what it may read — the token's, completed from the directory where the route does so."""
    return ("reader", reader.roles, reader.organisers, reader.areas, reader.school_units, reader.groups)


def keep_answer_of(request: Request, reader: Principal) -> None:
    """`keep_answer` for a route whose answer depends on who reads only through `reader`'s scope
    (LIKA, compliance's organiser views): called after the route's own access check passed."""
    request.state.answer_reader_class = reader_of_class(reader)


def mark_audited(request: Request) -> None:
    """An audited read: never kept, never answered from memory (every read writes its audit row)."""
    request.state.audited_read = True


def document_kept_answers(openapi: dict[str, Any], prefixes: Iterable[str]) -> dict[str, Any]:
    """The GETs whose answers `AnswerCache` keeps answer with an `ETag`, and `If-None-Match` naming it with a 304 and no
    body: round 26's fuzzing found that 304 in no operation's document (a generated client, or schemathesis' status
    check, takes it for an undocumented answer). Documented here, with the `ETag` header, on every such operation."""
    prefixes = tuple(prefixes)
    etag = {"description": "Names this answer: send it back as `If-None-Match` to get a 304 while it is unchanged.",
            "schema": {"type": "string"}}
    # the freshness of what the answer rests on, on a kept answer and its 304 alike (`_freshness_headers`), and on
    # the routes' own (`freshness.set_freshness`): round 29 found them sent on every such read and documented on none
    freshness = {
        NEWEST_HEADER.decode().title(): {
            "description": "The time of the newest event applied (RFC 3339), or `none` before any: told to the `ops` "
                           "role alone, `withheld` to every other reader (the time is every organiser's: reporting "
                           "keeps it per topic partition, not per organiser).",
            "schema": {"type": "string"}},
        LAG_HEADER.decode().title(): {
            "description": "Events on the consumer's partitions not applied yet, or `unknown` (the embedded broker, "
                           "a consumer not yet caught up with every partition, or none in this process): told to the "
                           "`ops` role alone, `withheld` to every other reader (the events are every organiser's).",
            "schema": {"type": "string"}}}
    for path, item in openapi.get("paths", {}).items():
        operation = item.get("get")
        if operation is None or not path.startswith(prefixes):
            continue
        responses = operation.setdefault("responses", {})
        if "200" in responses:
            responses["200"].setdefault("headers", {}).update({"ETag": etag, **freshness})
        responses.setdefault("304", {
            "description": "Not Modified: the answer `If-None-Match` names (or any, for `*`) is still the answer; "
                           "no body.",
            "headers": {"ETag": etag, **freshness}})
    return openapi


# -- the state version ----------------------------------------------------------------------------
@dataclass(frozen=True)
class State:
    """One read of the state version: `seq` orders the reads of one `StateVersions`."""

    seq: int
    version: StateRows
    newest: datetime | None


class StateVersions:
    """The state version, read by up to `overlap` reads at once: a request only takes a read that
    started *after* it arrived, so the version it gets includes every batch committed before its
    request. A request that arrives while a read slot is free starts a read at once; one that
    arrives while every slot is busy waits for the next read, which starts when a slot frees and
    serves every request waiting for it — 32 concurrent requests cost a few reads, not 32.

    With `overlap=1` a request that arrives while a read runs waits for that read and the whole next
    one (1.5 round trips on average, and a slow read holds up everyone behind it); with a few slots
    the next read starts as soon as any read ends (a little over one round trip, and one slow read
    holds up only the requests that took it)."""

    def __init__(self, read: Callable[[], Awaitable[StateRows]], close: Callable[[], Awaitable[None]] | None = None,
                 overlap: int = 1) -> None:
        if overlap < 1:
            raise ValueError("overlap: at least one read at a time")
        self._read, self._close, self.overlap = read, close, overlap
        self._in_flight = 0
        self._next: asyncio.Future[State] | None = None  # the read the waiting requests share
        self._seq = 0
        self._tasks: set[asyncio.Task[None]] = set()
        self.reads = 0

    async def aclose(self) -> None:
        if self._close is not None:
            await self._close()

    async def current(self) -> State:
        if self._in_flight < self.overlap:  # a read of its own, started now
            future: asyncio.Future[State] = asyncio.get_running_loop().create_future()
            self._start(future)
            return await asyncio.shield(future)
        if self._next is None:  # every read running started before this request: the next one
            self._next = asyncio.get_running_loop().create_future()
        return await asyncio.shield(self._next)

    def _start(self, future: asyncio.Future[State]) -> None:
        self._seq += 1
        self._in_flight += 1
        task = asyncio.ensure_future(self._run(future, self._seq))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _run(self, future: asyncio.Future[State], seq: int) -> None:
        try:
            rows = await self._read()
            self.reads += 1
            ANSWERS.version_read()
            newest = max((r[2] for r in rows if r[2] is not None), default=None)
            if not future.done():
                future.set_result(State(seq, rows, newest))
        except BaseException as error:  # the waiters see it (and answer without the cache)
            if not future.done():
                future.set_exception(error)
                future.exception()  # retrieved: no "never retrieved" warning when nobody waits
            if not isinstance(error, Exception):
                raise
        finally:
            self._in_flight -= 1
            following, self._next = self._next, None
            if following is not None:
                self._start(following)


FRESHNESS_SQL = "SELECT topic, applied_at, newest_event_time FROM freshness ORDER BY topic, partition"


class VersionReader:
    """Reads the version on connections of its own (plain asyncpg, one prepared statement, one round
    trip: no pool checkout, no pre-ping, no reset): one per read at once (`StateVersions.overlap`),
    each opened on first use and again after a failure."""

    def __init__(self, dsn: str, timeout_seconds: float = 5.0) -> None:
        self.dsn, self.timeout_seconds = dsn, timeout_seconds
        self._idle: list[asyncpg.Connection] = []
        self._open: set[asyncpg.Connection] = set()

    async def __call__(self) -> StateRows:
        conn = None
        try:
            while self._idle and conn is None:
                conn = self._idle.pop()
                if conn.is_closed():
                    self._open.discard(conn)
                    conn = None
            if conn is None:
                conn = await asyncpg.connect(self.dsn, timeout=self.timeout_seconds)
                self._open.add(conn)
            rows = await conn.fetch(FRESHNESS_SQL, timeout=self.timeout_seconds)
        except BaseException:
            if conn is not None:
                self._open.discard(conn)
                await self._close(conn)
            raise
        self._idle.append(conn)
        return tuple(tuple(r) for r in rows)

    async def aclose(self) -> None:
        conns, self._open, self._idle = self._open, set(), []
        for conn in conns:
            await self._close(conn)

    @staticmethod
    async def _close(conn: asyncpg.Connection) -> None:
        if not conn.is_closed():
            with contextlib.suppress(Exception):
                await within(conn.close(), 2)


# -- the answers ----------------------------------------------------------------------------------
@dataclass(frozen=True)
class Answer:
    status: int
    headers: tuple[tuple[bytes, bytes], ...]  # as the route sent them, less length, ETag and freshness
    body: bytes
    etag: bytes


RequestKey = tuple[str, tuple[tuple[str, str], ...], bytes | None]


@dataclass
class Generation:
    """The answers of one state version and day."""

    seq: int
    version: StateRows
    day: Day
    classes: dict[Hashable, Hashable] = field(default_factory=dict)  # (token principal, reads) → reader class
    answers: OrderedDict[tuple[Hashable, RequestKey], Answer] = field(default_factory=OrderedDict)
    size: int = 0
    running: dict[Hashable, asyncio.Event] = field(default_factory=dict)  # misses being answered


class Answers:
    """One generation per namespace (an app): bounded by entries and bytes, least recently used out."""

    NAMESPACES_KEPT = 8

    def __init__(self, max_entries: int = 4096, max_bytes: int = 64 * 2**20,
                 max_answer_bytes: int = 1 * 2**20, *, published: bool = False) -> None:
        self.max_entries, self.max_bytes, self.max_answer_bytes = max_entries, max_bytes, max_answer_bytes
        self._spaces: OrderedDict[Hashable, Generation] = OrderedDict()
        self.hits = self.misses = self.version_reads = 0
        self.published = published  # on /metrics (the process's `ANSWERS`; a test's own cache is not)

    def __len__(self) -> int:
        return sum(len(g.answers) for g in self._spaces.values())

    def clear(self) -> None:
        self._spaces.clear()
        self._publish_size()

    # counted as Prometheus counters too (not read from these at a scrape): under several uvicorn workers a scrape
    # reads every worker's metrics files, and a collector would tell the one worker that answered it
    def hit(self) -> None:
        self.hits += 1
        if self.published:
            HITS.inc()

    def miss(self) -> None:
        self.misses += 1
        if self.published:
            MISSES.inc()

    def version_read(self) -> None:
        self.version_reads += 1
        if self.published:
            VERSION_READS.inc()

    def _publish_size(self) -> None:
        if self.published:
            KEPT_BYTES.set(self.kept_bytes())

    def kept_bytes(self) -> int:
        return sum(g.size for g in self._spaces.values())

    def generation(self, namespace: Hashable, state: State, day: Day) -> Generation:
        """The namespace's generation for this state; a newer state (or day) starts a new one. A read
        older than the generation kept gets a generation of its own that is not kept."""
        current = self._spaces.get(namespace)
        if current is not None and current.version == state.version and current.day == day:
            self._spaces.move_to_end(namespace)
            return current
        made = Generation(state.seq, state.version, day)
        if current is None or state.seq >= current.seq:
            self._spaces[namespace] = made
            self._spaces.move_to_end(namespace)
            while len(self._spaces) > self.NAMESPACES_KEPT:
                self._spaces.popitem(last=False)
            self._publish_size()
        return made

    def find(self, generation: Generation, klass: Hashable, request: RequestKey) -> Answer | None:
        found = generation.answers.get((klass, request))
        if found is not None:
            generation.answers.move_to_end((klass, request))
        return found

    def keep(self, generation: Generation, klass: Hashable, request: RequestKey, answer: Answer) -> None:
        key = (klass, request)
        old = generation.answers.pop(key, None)
        if old is not None:
            generation.size -= entry_bytes(key, old)
        generation.answers[key] = answer
        generation.size += entry_bytes(key, answer)
        while generation.answers and (len(generation.answers) > self.max_entries
                                      or generation.size > self.max_bytes):
            dropped_key, dropped = generation.answers.popitem(last=False)
            generation.size -= entry_bytes(dropped_key, dropped)
        self._publish_size()


#: What an entry holds beyond the objects `entry_bytes` sizes one by one: the `Answer` instance and its attributes'
#: dict, its place in the generation's ordered dict (a slot and a link), the reader class's tuples and the parsed
#: query's. Measured by bench/answer_cache_bytes.py (tracemalloc against the real middleware; bench/README.md).
ENTRY_OVERHEAD_BYTES = 600


def _sized_pairs(pairs: Iterable[tuple[Any, Any]]) -> int:
    return sum(sys.getsizeof(pair) + sys.getsizeof(pair[0]) + sys.getsizeof(pair[1]) for pair in pairs)


def entry_bytes(key: tuple[Hashable, RequestKey], answer: Answer) -> int:
    """The memory one kept answer holds, as `max_bytes` (`read_cache_max_mb`) counts it: its body, headers, ETag and
    key as Python holds them, and the entry's own objects (`ENTRY_OVERHEAD_BYTES`). Round 26: the body's length
    alone was counted, while each entry held ~0.9–1.2 kB besides (and its parsed query ~1 kB more): answers of a few
    hundred bytes, 4,096 of them, held ~10× the bytes counted (bench/answer_cache_bytes.py). A function of the
    objects, so an entry is counted out as it was counted in."""
    _, (path, query, accept) = key
    return (ENTRY_OVERHEAD_BYTES + sys.getsizeof(answer.body) + sys.getsizeof(answer.etag)
            + sys.getsizeof(answer.headers) + _sized_pairs(answer.headers)
            + sys.getsizeof(path) + sys.getsizeof(query) + _sized_pairs(query)
            + (0 if accept is None else sys.getsizeof(accept)))


HITS = Counter("styrkedja_read_answers_hits", "Reads answered from kept answers")
MISSES = Counter("styrkedja_read_answers_misses", "Reads answered by the route (and kept if allowed)")
VERSION_READS = Counter("styrkedja_read_state_version_reads", "Reads of the state version (freshness rows)")
# what the cache holds now, as its budget counts it: a worker's memory is told apart from it (reads30); each worker
# holds a cache of its own, so the workers' values add up (`livesum`: a dead worker's memory is freed)
KEPT_BYTES = Gauge("styrkedja_read_answers_kept_bytes", "Bytes the kept answers hold (entry_bytes)",
                   multiprocess_mode="livesum")

#: The answers of every app in this process (one namespace per `AnswerCache`).
ANSWERS = Answers(published=True)

SWEDEN = ZoneInfo("Europe/Stockholm")
Day = tuple[date, date, date]


def today() -> Day:
    """The day an answer was made on, as every route may date it: the process's local date, the UTC
    date and the Swedish date (support's open investigations since round 28t, LIKA's school year, rosters): an
    answer is kept until any of them turns."""
    now = datetime.now(UTC)
    return date.today(), now.date(), now.astimezone(SWEDEN).date()


@functools.lru_cache(maxsize=4096)
def _query_items(query: bytes) -> tuple[tuple[str, str], ...]:
    """A query string parsed, its parameters in name order (repeated ones in their own order): the
    same few query strings come again and again, so each is parsed once.

    Read losslessly: a byte that is no ASCII, or an escape that is no UTF-8, stays itself (a lone surrogate),
    never U+FFFD or a Latin-1 letter another spelling also reads as. The parameter checks that refuse such a
    query run in the route, behind this cache: a lossy key found the answer kept for `owner=%EF%BF%BD` (U+FFFD,
    which a name may hold) for `owner=%FF`, answered 200 from memory where the route refuses it (round 23a)."""
    text = query.decode("ascii", "surrogateescape")
    return tuple(sorted(parse_qsl(text, keep_blank_values=True, errors="surrogateescape"),
                        key=lambda kv: kv[0])) if text else ()


def request_key(scope: Scope) -> RequestKey:
    """Path, query (parsed; parameters in name order, repeated ones in their own order) and Accept (every field of it,
    as the route reads it: `negotiation.accept_of`)."""
    accept = raw_accept_of(scope["headers"])
    return scope["path"], _query_items(scope.get("query_string", b"")), accept


def _etag_matches(scope: Scope, etag: bytes) -> bool:
    """`If-None-Match` names `etag` (or is `*`). Its fields are one list (RFC 9110 §5.3): round 22, the first field
    alone was read, so a client or proxy sending the tags on two lines got the whole answer again, never a 304."""
    fields = [v for k, v in scope["headers"] if k == b"if-none-match"]
    if not fields:
        return False
    tags = [tag.strip() for field in fields for tag in field.split(b",")]
    return b"*" in tags or any(tag.removeprefix(b"W/") == etag for tag in tags)


def _freshness_headers(state: State, lag: Callable[[], int | None], principal: Any) -> list[tuple[bytes, bytes]]:
    # told as the routes tell them (`freshness.newest_event_time_for`, `consumer_lag_for`): both are every organiser's
    return [(NEWEST_HEADER, newest_event_time_for(principal, state.newest).encode()),
            (LAG_HEADER, consumer_lag_for(principal, lag()).encode())]


class AnswerCache:
    """ASGI middleware in front of the read routes (see the module's doc). `versions` gives the
    `StateVersions` of the running app (None: answer without the cache); `lag` the consumer lag."""

    def __init__(self, app: ASGIApp, *, prefixes: Iterable[str], versions: Callable[[Any], StateVersions | None],
                 lag: Callable[[], int | None], answers: Answers = ANSWERS) -> None:
        self.app, self.prefixes, self.versions, self.lag = app, tuple(prefixes), versions, lag
        self.answers = answers
        self.namespace = object()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] != "GET" or not scope["path"].startswith(self.prefixes):
            await self.app(scope, receive, send)
            return
        principal = scope.get("state", {}).get("principal")
        versions = self.versions(scope["app"]) if "app" in scope else None
        if principal is None or versions is None:
            await self.app(scope, receive, send)
            return
        try:
            state = await versions.current()
        except Exception as error:  # no version, no cache: the route answers (and reports the database)
            log.warning("state version unreadable, answering without the cache: %s", type(error).__name__)
            await self.app(scope, receive, send)
            return
        generation = self.answers.generation(self.namespace, state, today())
        key = request_key(scope)
        # a principal's class is learnt per family of reads (its routes decide it alike)
        reader = (principal, next(p for p in self.prefixes if scope["path"].startswith(p)))
        found = self._find(generation, reader, key)
        if found is None:
            running = generation.running.get((principal, key))
            if running is not None:  # the same read is being answered: wait for it, then look again
                await running.wait()
                found = self._find(generation, reader, key)
        if found is not None:
            self.answers.hit()
            await self._send(found, state, scope, send)
            return
        self.answers.miss()
        done = generation.running.setdefault((principal, key), asyncio.Event())
        try:
            await self._answer(generation, reader, key, state, scope, receive, send)
        finally:
            done.set()
            if generation.running.get((principal, key)) is done:
                del generation.running[(principal, key)]

    def _find(self, generation: Generation, reader: Hashable, key: RequestKey) -> Answer | None:
        klass = generation.classes.get(reader)
        return None if klass is None else self.answers.find(generation, klass, key)

    async def _send(self, answer: Answer, state: State, scope: Scope, send: Send) -> None:
        fresh = _freshness_headers(state, self.lag, scope.get("state", {}).get("principal"))
        if _etag_matches(scope, answer.etag):
            await send({"type": "http.response.start", "status": 304,
                        "headers": [(b"etag", answer.etag), *fresh]})
            await send({"type": "http.response.body", "body": b""})
            return
        headers = [*answer.headers, (b"content-length", str(len(answer.body)).encode()), (b"etag", answer.etag),
                   *fresh]
        await send({"type": "http.response.start", "status": answer.status, "headers": headers})
        await send({"type": "http.response.body", "body": answer.body})

    async def _answer(self, generation: Generation, reader: Hashable, key: RequestKey, state: State, scope: Scope,
                      receive: Receive, send: Send) -> None:
        """Run the route; keep its answer when it said so (`keep_answer`) and it is whole and small."""
        start: Message | None = None
        chunks: list[bytes] = []
        size = 0
        passing = False  # not kept: the messages go straight through
        limit = self.answers.max_answer_bytes

        async def through(message: Message) -> None:
            nonlocal start, size, passing
            if passing:
                await send(message)
                return
            if message["type"] == "http.response.start":
                marks = scope.get("state", {})
                if message["status"] != 200 or CLASS_KEY not in marks or marks.get(AUDITED_KEY):
                    passing = True
                    await send(message)
                else:
                    start = message
                return
            if message["type"] != "http.response.body" or start is None:
                await send(message)
                return
            chunks.append(message.get("body", b""))
            size += len(chunks[-1])
            if size > limit:  # too large to keep: send what is held and stream the rest
                passing = True
                await send(start)
                await send({"type": "http.response.body", "body": b"".join(chunks), "more_body": True})
                chunks.clear()
                if not message.get("more_body", False):
                    await send({"type": "http.response.body", "body": b""})
                return
            if message.get("more_body", False):
                return
            body = b"".join(chunks)
            etag = b'"' + hashlib.blake2b(body, digest_size=16).hexdigest().encode() + b'"'
            kept = tuple((k, v) for k, v in start.get("headers", []) if k.lower() not in _NOT_KEPT_HEADERS)
            answer = Answer(start["status"], kept, body, etag)
            klass = scope["state"][CLASS_KEY]
            generation.classes[reader] = klass
            self.answers.keep(generation, klass, key, answer)
            await self._send(answer, state, scope, send)

        await self.app(scope, receive, through)

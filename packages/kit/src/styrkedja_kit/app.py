"""The FastAPI application every service is built from: lifespan (database, outbox relay,
consumer loop), `/healthz`, `/readyz`, `/metrics`, problem+json errors, JSON logs."""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import errno
import gc
import hashlib
import logging
import multiprocessing
import os
import platform
import re
import socket
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import unquote_to_bytes

import asyncpg
from fastapi import APIRouter, Depends, FastAPI, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, PlainTextResponse
from fastapi.routing import APIRoute
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest, start_http_server
from sqlalchemy import MetaData
from starlette.datastructures import Headers
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.requests import ClientDisconnect
from starlette.routing import Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from .admission import ClientBound, ClientSlots, OverloadGuard, PerClient, Slots, client_of
from .auth.principal import Principal, Role
from .auth.web import document_security
from .consumer import ConsumerLoop, Handler, define_consumer_tables
from .db import Database
from .documented import document_headers, integer_bounds
from .inputs import document_batch_limit, json_refusal
from .kafka import make_admin
from .leader import AdvisoryLock
from .logging import configure_logging
from .metrics import leave as leave_metrics
from .metrics import registry as metrics_registry
from .metrics import start_worker_process
from .negotiation import JSON, accept_of, acceptable, admits, not_acceptable
from .outbox import Outbox, OutboxRelay, define_outbox_tables
from .parameters import Parameters, describe, judge, strict_parameters
from .problems import (
    PROBLEM_JSON,
    TITLES,
    Problem,
    RefusedBody,
    allowed_methods,
    document_problems,
    field_error,
    install_problem_handlers,
    literal_path_first,
    literal_templates_of,
    problem_response,
)
from .request_examples import document_examples
from .security import HardeningMiddleware, install_cors, install_security, without_body
from .settings import ServiceSettings
from .supervise import end_if_cancel_asked, within

log = logging.getLogger(__name__)


@dataclass
class ConsumerSpec:
    group_id: str
    topics: Sequence[str]
    handler_factory: Callable[[Runtime], Handler]
    # which event types the handler applies; others are skipped and not recorded as applied
    handles: Callable[[str], bool] | None = None


@dataclass
class Runtime:
    """What a running service holds; reachable from requests as `request.app.state.runtime`."""

    settings: ServiceSettings
    db: Database
    metadata: MetaData
    outbox: Outbox | None = None
    relay: OutboxRelay | None = None
    consumers: list[ConsumerLoop] = field(default_factory=list)
    # consumer loops left to a sibling worker (uvicorn --workers): this worker only serves HTTP
    standby: list[OneWorkerConsumes] = field(default_factory=list)
    tasks: list[asyncio.Task[None]] = field(default_factory=list)

    def require_outbox(self) -> Outbox:
        """The outbox of a service built with `uses_outbox=True` (a wiring error otherwise)."""
        if self.outbox is None:
            raise RuntimeError(f"{self.settings.service_name} was built without an outbox")
        return self.outbox


def sibling_workers_lock_key(group_id: str, slot: int = 0) -> int | None:
    """Under uvicorn's `--workers N` every worker is started by one supervisor: the advisory lock
    key the workers of one supervisor (on one host) share for `group_id` and consuming `slot`
    (`sibling_workers_lock_keys`), so that as many of them consume as the settings say and the others
    only serve HTTP. None in a process of its own (one worker, a test, a pod): it consumes, as one
    member of the group among the service's other replicas."""
    if multiprocessing.parent_process() is None:
        return None
    scope = f"styrkedja-consumer:{socket.gethostname()}:{os.getppid()}:{group_id}" + (f":{slot}" if slot else "")
    return int.from_bytes(hashlib.blake2b(scope.encode(), digest_size=8).digest(), "big", signed=True)


def sibling_workers_lock_keys(group_id: str, consuming: int) -> list[int] | None:
    """The keys of `consuming` slots (`ServiceSettings.consumer_workers`), or None in a process of its own."""
    keys = [sibling_workers_lock_key(group_id, slot) for slot in range(consuming)]
    return None if None in keys else [key for key in keys if key is not None]


class OneWorkerConsumes:
    """Runs `loop` in at most as many of the sibling workers as there are `keys` (one PostgreSQL advisory
    lock per consuming slot, `sibling_workers_lock_keys`, held on its own connection: a worker takes the
    first free slot); the others wait, and one takes over when a consuming worker dies (its connection,
    and so the lock, goes with it). One key (`consumer_workers` 1, the default): one consumer per host,
    as the members of one group in one process group would otherwise take partitions from each other (on a busy
    machine with short sessions, rebalancing again and again). Several keys: that many members of the
    group, each the single writer of the partitions the group hands it — reporting's apply is per
    organiser (one partition's events touch no other partition's rows), so two consumers use two cores
    (bench/results/apply16.json). A consuming worker's static membership id (`consumer_group_instance_id`)
    gets its slot's number after it (but slot 0's), so that two members never share one."""

    def __init__(self, db: Database, loop: ConsumerLoop, key: int | Sequence[int], retry_seconds: float = 2.0) -> None:
        self.db, self.loop, self.retry_seconds = db, loop, retry_seconds
        self.keys = [key] if isinstance(key, int) else list(key)
        self.key = self.keys[0]
        self.slot: int | None = None  # the slot this worker consumes in, while it does
        self.consuming = False
        self._settings: ServiceSettings | None = getattr(loop, "settings", None)
        self._stopping = asyncio.Event()

    def stop(self) -> None:
        self._stopping.set()
        self.loop.stop()

    async def run(self) -> None:
        while not self._stopping.is_set():
            end_if_cancel_asked()
            for slot, key in enumerate(self.keys):
                lock = AdvisoryLock(self.db.asyncpg_dsn, key)
                try:
                    if await lock.try_acquire():
                        self.consuming, self.slot = True, slot
                        self._member_of_slot(slot)
                        log.info("this worker consumes", extra={"group": self.loop.group_id, "slot": slot})
                        if await self._consume_while_holding(lock):
                            return
                        break  # the lock went: from the first slot again, after the wait
                except (OSError, asyncpg.PostgresError) as error:
                    log.info("consumer lock: database not reachable", extra={"error": repr(error)})
                    break
                finally:
                    self.consuming, self.slot = False, None
                    await lock.release()
                if self._stopping.is_set():
                    return
            with contextlib.suppress(asyncio.TimeoutError):
                await within(self._stopping.wait(), self.retry_seconds)

    def _member_of_slot(self, slot: int) -> None:
        if self._settings is None:
            return
        instance = self._settings.consumer_group_instance_id
        if instance and slot:
            self.loop.settings = self._settings.model_copy(update={"consumer_group_instance_id": f"{instance}-{slot}"})
        else:
            self.loop.settings = self._settings

    async def _consume_while_holding(self, lock: AdvisoryLock) -> bool:
        """Run the loop until it ends (True) or the lock's connection goes (False: the loop is stopped,
        since another worker may take the lock and consume now, and this one tries for the lock again)."""
        consuming = asyncio.ensure_future(self.loop.run())
        lost = asyncio.ensure_future(lock.lost.wait())
        try:
            await asyncio.wait([consuming, lost], return_when=asyncio.FIRST_COMPLETED)
        except BaseException:  # cancelled: the loop goes with this task
            consuming.cancel()
            raise
        finally:
            lost.cancel()
        if consuming.done():
            consuming.result()
            return True
        log.warning("consumer lock: its connection went; stopping this worker's consumer",
                    extra={"group": self.loop.group_id})
        self.loop.stop()
        await consuming
        if self._stopping.is_set():
            return True
        self.loop.resume()
        return False


#: the methods whose operations read a body, where one documents it
_BODY_METHODS = frozenset({"POST", "PUT", "PATCH"})


class RequestGuard:
    """Before any route reads a body: a body larger than `max_body_bytes` is a 413 (by its
    Content-Length at once, or while it streams in); a body that `_unreadable_body` refuses (not
    JSON, no media type, JSON in another charset than UTF-8, a content or transfer coding) is a 415, and one
    whose objects name a key twice or hold `NaN`/`Infinity` (`json_refusal`, judged as the route reads it) a 422. HEAD is
    answered as GET without the body, on every route that answers GET (RFC 9110 §9.3.2). A body whose
    first bytes show UTF-16, UTF-32 or a byte order mark (`_not_utf8`) is a 415 too, a path with an
    encoded '/' or '\\' (`_ENCODED_SEPARATOR`), a dot segment or bytes that are no UTF-8 (`_odd_path`) a 400. Pure ASGI, so it costs nothing per request beyond
    a header look-up."""

    _BODY_METHODS = _BODY_METHODS
    #: methods no operation reads a body of: a body sent with one (filters a client meant as a search, as some APIs
    #: take them on GET) was read by no one, and the answer covered everything, as an unknown query parameter's did
    _BODILESS_METHODS = frozenset({"GET", "HEAD", "DELETE"})

    def __init__(self, app: ASGIApp, max_body_bytes: int, body_seconds: float = 60.0) -> None:
        self.app = app
        self.max_body_bytes = max_body_bytes
        self.body_seconds = body_seconds

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        receive = _within(receive, asyncio.get_running_loop().time() + self.body_seconds, self.body_seconds)
        headers, repeated = _body_headers(scope["headers"])
        declared = headers.get(b"content-length")
        refusal: tuple[int, str, str, str] | None = None  # status, field, rule, message
        raw_path = (scope.get("raw_path") or b"").partition(b"?")[0]  # httpx's has the query
        if _ENCODED_SEPARATOR.search(raw_path):
            refusal = (400, "path", "encoded_separator", "path: a segment must not hold an encoded '/' or '\\' "
                                                           "(%2F, %5C): no id has one")
        elif (odd := _odd_path(raw_path)) is not None:
            refusal = (400, "path", *odd)
        elif repeated is not None:
            field = repeated.decode("latin-1")
            refusal = (400, field, "single_header", f"{field}: sent more than once, with different values")
        elif b"transfer-encoding" in headers and scope.get("http_version") == "1.0":
            # RFC 9112 §6.1: HTTP/1.0 has no transfer codings, and such a message's framing is faulty: the server
            # unframed chunks, where an HTTP/1.0 proxy in front took the body to end with the connection
            refusal = (400, "transfer-encoding", "http_syntax", "transfer-encoding: HTTP/1.0 has no transfer codings "
                       "(RFC 9112 §6.1); send the body with a Content-Length")
        elif declared is not None:
            if not declared.isdigit():
                refusal = (400, "body", "malformed_header", "content-length: not a number")
            elif int(declared) > self.max_body_bytes:
                refusal = (413, "body", "max_body_bytes", f"body: larger than {self.max_body_bytes} bytes")
        bodied = (declared not in (None, b"0")) or b"transfer-encoding" in headers
        # a method the path does not answer is routing's 405 (or a path of none its 404) whatever the body: judged
        # first, the body's refusal hid it (round 31: `GET /v1/forecasts` with a body was a 400 `no_body`, where the
        # answer is that GET is no method there, and its `Allow`). Asked only of a body about to be refused, so that
        # no write the path answers pays for the look-up
        if refusal is None and scope["method"] in self._BODILESS_METHODS and bodied and _answers(scope):
            method = scope["method"]
            refusal = (400, "body", "no_body", f"body: a {method} takes no body (RFC 9110 §9.3); send what it asks "
                                               "for in the query")
        if refusal is None and scope["method"] in self._BODY_METHODS and bodied:
            unreadable = _unreadable_body(headers, scope["method"])
            refusal = (415, *unreadable) if unreadable else None
            if refusal is None:  # the charset the bytes themselves show (none declared, or UTF-8 declared)
                try:
                    head, receive = await _peek_body(receive, 4)
                except RefusedBody as late:  # its first bytes never came: answered here, before the app
                    head, refusal = b"", (late.status_code, late.error["field"], late.error["rule"], late.detail)
                other = _not_utf8(head) if refusal is None else None
                refusal = (415, "body", "utf8_charset", other) if other else refusal
            if refusal is not None and refusal[0] == 415 and not _answers(scope):
                refusal = None  # its media type judged by no route: the 405's (the body is never read)
        if refusal is not None:
            status, field, rule, detail = refusal
            response = problem_response(status, TITLES[status], detail,
                                        [{"field": field, "rule": rule, "message": detail}],
                                        instance=scope.get("path"))
            if field.endswith("-encoding"):
                response.headers["accept-encoding"] = "identity"  # RFC 7694
            if status == 415 and field == "content-type" and scope["method"] == "PATCH":
                response.headers["accept-patch"] = ACCEPTED_BODY_TYPE  # RFC 5789 §2.2: what a PATCH here takes
            if status == 408 or field == "transfer-encoding":  # the rest of the body may still come, or was framed
                response.headers["connection"] = "close"     # as the client did not mean: not read as the next request
            await response(scope, receive, send)
            return
        if scope["method"] == "HEAD":
            await self.app({**scope, "method": "GET"}, receive, without_body(send))
            return
        received = 0
        limit = self.max_body_bytes
        # a body the route reads is scanned whole for a key given twice or NaN (`json_refusal`) when it is, after the
        # token was checked: nothing is parsed for a caller without one, nor for a route that reads no body
        scanned = scope["method"] in self._BODY_METHODS
        chunks: list[bytes] = []

        async def limited_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                body = message.get("body", b"")
                received += len(body)
                if received > limit:  # a chunked body without a Content-Length
                    raise StarletteHTTPException(413, f"body: larger than {limit} bytes")
                if scanned:
                    chunks.append(body)
                    if not message.get("more_body", False):
                        whole = chunks[0] if len(chunks) == 1 else b"".join(chunks)
                        chunks.clear()
                        refused = json_refusal(whole) if whole else None
                        if refused is not None:  # a key given twice, NaN, Infinity, a number read rounded (`json_refusal`)
                            raise RefusedBody(415 if refused[1] == "utf8_charset" else 422, *refused)
            return message

        try:
            await self.app(scope, limited_receive, send)
        except ClientDisconnect:
            # the client went away before its body was whole, or uvicorn refused the body's framing (a chunk size
            # of 18 hex digits) and answered it itself: nobody is left to answer, and it is no fault of ours. As
            # an error it was a traceback in the log for every such request, one a client could send at will
            log.info("the client went away before its request body was read")


def _answers(scope: Scope) -> bool:
    """Whether the request's path answers its method (HEAD where it answers GET), as its 405's `Allow` says
    (`allowed_methods`). Asked only of a request with a body: the document is built once and kept."""
    if "app" not in scope:  # outside an app (no router to ask): judged by the method alone, as before
        return True
    method = "GET" if scope["method"] == "HEAD" else scope["method"]
    return method in allowed_methods(Request(scope))


async def reads_no_body(request: Request) -> None:
    """The app-wide dependency: a body sent to an operation that reads none (a POST whose work its query says,
    reporting's alert sweeps) is a 400 naming `body` and `no_body`, as on a GET (`RequestGuard`, which runs before
    routing and so judges by the method alone). Round 25: `POST /v1/admin/alerts/freshness-sweep` with
    `{"at": "…"}` swept as of now, the body read by no one, where the client meant a moment of its own."""
    route = request.scope.get("route")
    if not isinstance(route, APIRoute) or route.body_field is not None or request.method not in _BODY_METHODS:
        return
    if "requestBody" in (route.openapi_extra or {}):  # a route reading its body itself documents it so
        return
    length = request.headers.get("content-length")
    if (length is not None and length != "0") or "transfer-encoding" in request.headers:
        detail = "body: this operation takes no body; send what it asks for in the query"
        raise Problem(400, TITLES[400], detail, [field_error("body", "no_body", detail)])


def _within(receive: Receive, deadline: float, seconds: float) -> Receive:
    """`receive` for a request whose body must be whole by `deadline` (the event loop's clock), or it is a 408
    problem naming `body` (`body_deadline`): without it a client declaring a length and sending less, or sending a
    byte a minute, held its connection and the request's task for as long as it liked, unanswered (uvicorn bounds
    neither). Once the body is whole, or the client gone, `receive` is the server's own again: a streamed answer
    listens on it for the client going away, for as long as the answer takes."""
    whole = False

    async def bounded() -> Message:
        nonlocal whole
        if whole:
            return await receive()
        try:
            async with asyncio.timeout_at(deadline):
                message = await receive()
        except TimeoutError:
            raise RefusedBody(408, "body", "body_deadline",
                              f"body: not received whole within {seconds:g} s of the request") from None
        whole = message["type"] != "http.request" or not message.get("more_body", False)
        return message

    return bounded


#: a percent-encoded '/' or '\\' in the path: the server decodes it before routing, so `/units/a%2Fratings` would be
#: answered by the route of `/units/a/ratings` — another resource than the one named. No id holds either (the
#: path parameters' patterns), so such a path is refused by the rule instead of landing elsewhere or on a 404
_ENCODED_SEPARATOR = re.compile(rb"%(?:2[Ff]|5[Cc])")

#: a segment `.` or `..`, as sent or percent-encoded: a proxy or client in front resolves it (`/units/..` is `/`), so
#: the service would answer another resource than the one the proxy judged; no id is either
_DOT_SEGMENT = re.compile(rb"(?:^|/)(?:\.|%2[eE]){1,2}(?=/|$)")


def _odd_path(raw_path: bytes) -> tuple[str, str] | None:
    """(rule, message) when a request's path (raw, before decoding) is one no operation can mean, else None: a dot
    segment, or percent-encoded bytes that are no UTF-8 (read as U+FFFD, `%ff` and `%fe` named the same id).
    Without it such a path reached the route as a parameter (`unit_id=..`) or a 404. A control character (`%00`)
    is left to the parameter it stands in: each path parameter obeys the text rules (`parameters`), named."""
    if (b"." in raw_path or b"%2" in raw_path) and _DOT_SEGMENT.search(raw_path):
        return "dot_segment", "path: a segment must not be '.' or '..' (RFC 3986 §3.3): no id is"
    if b"%" in raw_path or not raw_path.isascii():  # a control character is the parameter's own rule to name
        try:
            unquote_to_bytes(raw_path).decode("utf-8")
        except UnicodeDecodeError:
            return "utf8", "path: must be percent-encoded UTF-8 (RFC 3986 §2.5)"
    return None


#: fields a request may send once only (RFC 9110 §5.3: not lists), and list fields whose lines add up. `Origin` and
#: the preflight's method: Starlette's CORS reads the first line, a proxy or cache in front may read the last (round
#: 21: `Origin: <listed>` then `Origin: <evil>` was answered as the listed origin's)
_SINGLE_FIELDS = frozenset({b"content-type", b"content-length", b"origin", b"access-control-request-method"})
_LIST_FIELDS = frozenset({b"content-encoding", b"transfer-encoding"})


def _body_headers(raw: list[tuple[bytes, bytes]]) -> tuple[dict[bytes, bytes], bytes | None]:
    """The request's headers by name, and the name of a single field sent twice with different values
    (or None). Lines of a list field are joined (`gzip` then `identity` is `gzip, identity`, RFC 9110
    §5.3), as a proxy or the framework reads them: judged by the last line, a body the framework or a
    proxy reads by the first went by unjudged."""
    headers: dict[bytes, bytes] = {}
    repeated = None
    for name, value in raw:
        known = headers.get(name)
        if known is not None:
            if name in _LIST_FIELDS:
                value = known + b"," + value
            elif name in _SINGLE_FIELDS and known != value:
                repeated = name
        headers[name] = value
    return headers, repeated


def _unreadable_body(headers: dict[bytes, bytes], method: str) -> tuple[str, str, str] | None:
    """Why a body with these headers cannot be read as sent (field, rule, message), or None. The
    services read bodies as they arrive: a compressed one would be read as garbage (and a zip bomb is
    never unpacked), and JSON between systems is UTF-8 (RFC 8259 §8.1)."""
    media_type, *parameters = headers.get(b"content-type", b"").split(b";")
    media_type = media_type.strip().lower()
    # every charset given: one read by its first (this code did), another by its last (a proxy, a gateway) saw
    # another charset in `charset=utf-8; charset=latin-1`
    charsets = {value.strip().strip(b'"').lower() for name, _, value in
                (p.partition(b"=") for p in parameters) if name.strip().lower() == b"charset"}
    charset = charsets.pop() if len(charsets) == 1 else (None if not charsets else b"several")
    # a list (RFC 9110 §8.4): `identity` among the codings undoes nothing, whichever line it came on
    codings = {c.strip() for c in headers.get(b"content-encoding", b"").lower().split(b",")} - {b"", b"identity"}
    transfer = {c.strip() for c in headers.get(b"transfer-encoding", b"").lower().split(b",")} - {
        b"", b"chunked", b"identity"}  # the server unframes chunks; no coding inside them is undone
    if not media_type:
        # FastAPI reads a body without a media type as no JSON, and its refusal named the body's shape
        # (`body: Input should be a valid dictionary`), not the header the client left out
        return "content-type", "json_body", f"content-type: missing; send the body as {ACCEPTED_BODY_TYPE}"
    if media_type != b"application/json" and not media_type.endswith(b"+json"):
        return "content-type", "json_body", f"content-type: the body must be {ACCEPTED_BODY_TYPE}"
    if media_type in _PATCH_TYPES:  # JSON, but a patch of a document (RFC 7386, RFC 6902), on every method alike: a
        # PUT took a merge patch `{"grace_days": 3}` as the whole calendar, every other field reset to its default,
        # and a PATCH (whose body here is a document naming the fields it sets) a JSON Patch's array of operations
        # as a body of the wrong shape, a 422 about `body` where the client had to learn which media type is taken
        kind = media_type.decode("latin-1")
        return "content-type", "json_body", (f"content-type: {kind} is a patch, which no operation applies; send "
                                             f"the {'fields to set' if method == 'PATCH' else 'whole document'} "
                                             f"as {ACCEPTED_BODY_TYPE}")
    if charset not in (None, b"utf-8", b"utf8"):
        return "content-type", "utf8_charset", "content-type: the body must be JSON in UTF-8 (charset=utf-8 or none)"
    if codings:
        return "content-encoding", "identity_encoding", "content-encoding: send the body uncompressed (identity)"
    if transfer:
        return ("transfer-encoding", "identity_encoding",
                "transfer-encoding: send the body uncompressed (chunked or not)")
    return None


_BYTE_ORDER_MARKS = (b"\xef\xbb\xbf", b"\xff\xfe", b"\xfe\xff")
#: the one media type every operation that reads a body takes (a `+json` document type is read as it), named by each
#: 415 about the media type, and on a PATCH in `Accept-Patch` (RFC 5789 §2.2)
ACCEPTED_BODY_TYPE = "application/json"
#: JSON media types that mean a patch, not a document (RFC 7386 merge patch, RFC 6902 JSON patch): no operation
#: applies one, a PATCH's body included (the fields it sets, as a document)
_PATCH_TYPES = frozenset({b"application/merge-patch+json", b"application/json-patch+json"})


def _not_utf8(head: bytes) -> str | None:
    """Why a JSON body starting with `head` (its first 4 bytes) is not UTF-8 JSON, or None. JSON between
    systems is UTF-8 without a byte order mark (RFC 8259 §8.1). Python's `json.loads` of bytes takes UTF-16 and
    UTF-32 too (and so did FastAPI's body parsing), which it tells by a NUL among the first two bytes of a body of
    two bytes or of four and more (`json.detect_encoding`, after RFC 4627 §3): exactly those bodies are refused
    here. A NUL elsewhere (`{}` and then a NUL) is no charset but a byte JSON never holds, which the parser
    refuses by its own rule (`json_invalid`); judged by any NUL among the four, it was called UTF-16 or UTF-32."""
    if head.startswith(_BYTE_ORDER_MARKS):
        return "body: starts with a byte order mark; send JSON in UTF-8 without one (RFC 8259)"
    if (len(head) == 2 or len(head) >= 4) and 0 in head[:2]:
        return "body: JSON in UTF-16 or UTF-32; send it in UTF-8 (RFC 8259)"
    return None


async def _peek_body(receive: Receive, size: int) -> tuple[bytes, Receive]:
    """The body's first `size` bytes (fewer if it is shorter), and a `receive` that hands the app the
    messages read for them first: the body is not read further than its first message(s)."""
    read: list[Message] = []
    head = b""
    while len(head) < size:
        message = await receive()
        read.append(message)
        if message["type"] != "http.request":
            break
        head += message.get("body", b"")
        if not message.get("more_body", False):
            break

    async def replay() -> Message:
        return read.pop(0) if read else await receive()
    return head[:size], replay


async def broker_reachable(settings: ServiceSettings) -> None:
    admin = make_admin(settings, f"{settings.client_id}-readiness", request_timeout_ms=3000)
    try:
        await admin.start()
    finally:
        await admin.close()


async def _check(probe: Awaitable[None], seconds: float) -> str:
    """One readiness check's word: `ok`, or why not (its error's type, `TimeoutError` past `seconds`)."""
    try:
        await within(probe, seconds)
        return "ok"
    except Exception as exc:
        return f"unreachable: {type(exc).__name__}"


def tune_garbage_collector(gen0_threshold: int) -> None:
    """A batch of a thousand items makes hundreds of thousands of short-lived objects: with Python's
    default (a young collection every 700 allocations) a third of the write path's CPU went to the
    cycle collector (bench/results/write-fast.json). 0 keeps Python's default."""
    if gen0_threshold:
        gc.set_threshold(gen0_threshold, *gc.get_threshold()[1:])


_M_TRIM_THRESHOLD, _M_MMAP_THRESHOLD, _M_ARENA_MAX = -1, -3, -8  # glibc's mallopt parameters


def tune_allocator(trim_threshold: int | None, mmap_threshold: int | None, arena_max: int | None) -> bool:
    """Set glibc's allocator (`mallopt`), like its MALLOC_TRIM_THRESHOLD_, MALLOC_MMAP_THRESHOLD_ and
    MALLOC_ARENA_MAX_ variables would at start: a consumer catching up allocates large blocks per
    batch, which glibc's defaults keep for reuse, so the process stays as large as its largest
    moment. False where the C library is not glibc (nothing is set), or nothing was asked for."""
    wanted = [(param, value) for param, value in ((_M_TRIM_THRESHOLD, trim_threshold),
                                                  (_M_MMAP_THRESHOLD, mmap_threshold),
                                                  (_M_ARENA_MAX, arena_max)) if value is not None]
    if not wanted or platform.libc_ver()[0] != "glibc":
        return False
    libc = ctypes.CDLL(None)
    return all(libc.mallopt(ctypes.c_int(param), ctypes.c_int(value)) == 1 for param, value in wanted)


def app_on_first_access(create_app: Callable[[Any], FastAPI], settings: Callable[[], ServiceSettings]
                        ) -> Callable[[str], FastAPI]:
    """A service module's `__getattr__` (PEP 562) for `uvicorn <package>.main:app`: the app is built on
    first access, from the environment (which must name the token issuer, `STYRKEDJA_AUTH_ISSUER`), so
    that importing the module needs neither; later accesses get the same app."""
    made: list[FastAPI] = []

    def __getattr__(name: str) -> FastAPI:
        if name != "app":
            raise AttributeError(name)
        if not made:
            made.append(create_app(settings()))
        return made[0]

    return __getattr__


def create_service_app(settings: ServiceSettings, metadata: MetaData, routers: Sequence[APIRouter], *,
                       title: str, uses_outbox: bool = True, consumer: ConsumerSpec | None = None,
                       require_token: bool = False, request_examples: Mapping[str, Any] | None = None) -> FastAPI:
    """`metadata` must already hold the kit's tables (see `define_kit_tables`). `request_examples`: each write
    operation's example body by operation id (`request_examples.load_request_examples`). `require_token`:
    every route but /healthz, /readyz (and /metrics where `metrics_on_app_port` serves it) needs a bearer token (see
    `security.py`); /readyz tells its consumers' detail to an `ops` token alone (`tells_detail`)."""
    configure_logging(settings.service_name, settings.log_level)

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        tune_garbage_collector(settings.gc_gen0_threshold)
        tune_allocator(settings.malloc_trim_threshold_bytes, settings.malloc_mmap_threshold_bytes,
                       settings.malloc_arena_max)
        # first: a listener that cannot listen stops the start before any task runs (hostile round 30h)
        listener = serve_metrics(settings)
        start_worker_process()
        db = Database(settings.database_url, settings.database_pool_size, settings.database_pool_timeout_seconds)
        runtime = Runtime(settings=settings, db=db, metadata=metadata)
        if uses_outbox:
            runtime.outbox = Outbox(metadata.tables["outbox"])
            if settings.outbox_enabled:
                runtime.relay = OutboxRelay(settings, db, metadata.tables["outbox"],
                                            metadata.tables["outbox_partition_marks"])
                runtime.tasks.append(asyncio.create_task(runtime.relay.run(), name="outbox-relay"))
        if consumer and settings.consumer_enabled:
            loop = ConsumerLoop(settings, db, group_id=consumer.group_id, topics=consumer.topics,
                                handler=consumer.handler_factory(runtime),
                                applied_table=metadata.tables["consumer_applied_events"],
                                offsets_table=metadata.tables["consumer_offsets"],
                                handles=consumer.handles)
            keys = sibling_workers_lock_keys(consumer.group_id, settings.consumer_workers)
            if keys is None:
                runtime.consumers.append(loop)
                runtime.tasks.append(asyncio.create_task(loop.run(), name=f"consumer-{consumer.group_id}"))
            else:
                one = OneWorkerConsumes(db, loop, keys)
                runtime.standby.append(one)
                runtime.consumers.append(loop)
                runtime.tasks.append(asyncio.create_task(one.run(), name=f"consumer-{consumer.group_id}"))
        app.state.runtime = runtime
        literal_templates_of(app)  # found before the first request, not by it
        log.info("service started")
        try:
            yield
        finally:
            if listener is not None:
                listener.shutdown()
                listener.server_close()
            # SIGTERM: uvicorn stops taking requests, then we finish the batch in hand and leave.
            if runtime.relay:
                runtime.relay.stop()
            for loop in runtime.consumers:
                loop.stop()
            for one in runtime.standby:
                one.stop()
            done, pending = await asyncio.wait(runtime.tasks, timeout=15) if runtime.tasks else (set(), set())
            for task in pending:
                task.cancel()
            await db.dispose()
            leave_metrics()  # last: the batch in hand may still have set a gauge
            log.info("service stopped")

    # no redirect of `/path/` to `/path`: Starlette builds its Location from the request's Host header, so a
    # forged Host made the service answer a 307 to another site (a POST's body and token re-sent there by
    # clients that follow it); every documented path is exact, anything else is a 404 problem
    # every operation, the probes too: first, a path a template with fixed segments matches is that template's, a
    # method it does not answer a 405 (`literal_path_first`), as routing's own; an Accept header admitting no type it
    # answers in is a 406 (`negotiation`); then its query and path parameters read strictly, an unknown query parameter refused (`parameters`)
    app = FastAPI(title=title, lifespan=lifespan, redirect_slashes=False,
                  dependencies=[Depends(literal_path_first), Depends(acceptable), Depends(strict_parameters("refuse")),
                                Depends(reads_no_body)])
    install_problem_handlers(app)
    # inside the token check (added first, so innermost of the three): one client's writes at once, by its subject
    app.add_middleware(ClientBound, max_writes=settings.max_writes_per_client_in_flight,
                       retry_after_seconds=settings.overload_retry_after_seconds)
    install_security(app, settings, require_token=require_token)
    app.add_middleware(RequestGuard, max_body_bytes=settings.max_request_body_bytes,
                       body_seconds=settings.request_body_timeout_seconds)
    # outermost guard: a request beyond what the instance takes on at once is refused before anything reads it
    app.add_middleware(OverloadGuard, max_requests=settings.max_requests_in_flight,
                       max_writes=settings.max_writes_in_flight,
                       retry_after_seconds=settings.overload_retry_after_seconds)
    # outside even that: every answer, the guards' own refusals too, carries the CORS headers an allowed origin's
    # browser needs to read it, and (outermost) the security headers and no-store
    install_cors(app, settings)
    app.add_middleware(HardeningMiddleware)
    app.state.export_slots = Slots(EXPORT_SLOTS, settings.max_exports_in_flight,
                                   settings.overload_retry_after_seconds)
    app.state.client_export_slots = PerClient(EXPORT_SLOTS, settings.max_exports_per_client_in_flight,
                                              "max_exports_per_client_in_flight", settings.overload_retry_after_seconds)

    @app.get("/healthz", tags=["ops"])
    async def healthz() -> dict[str, str]:
        return {"status": "alive"}

    @app.get("/readyz", tags=["ops"], responses={
        200: {"description": "Ready: every check `ok`", "content": {"application/json": {"schema": READINESS_SCHEMA}}},
        503: {"description": "Not ready: a dependency does not answer (each check says which)",
              "content": {"application/json": {"schema": READINESS_SCHEMA}}}})
    async def readyz(request: Request) -> JSONResponse:
        runtime: Runtime = app.state.runtime
        seconds = settings.readiness_timeout_seconds
        # at once, each within its own time: the answer comes within `seconds` whatever hangs (round 21: the database
        # check took a connection of the app's pool, and waited behind slow queries holding every one)
        database, broker = await asyncio.gather(_check(runtime.db.ping(seconds), seconds),
                                                _check(broker_reachable(settings), seconds))
        checks: dict[str, str] = {"database": database, "broker": broker}
        waiting = {id(one.loop) for one in runtime.standby if not one.consuming}
        for loop in runtime.consumers:
            if id(loop) in waiting:  # another worker of this process consumes; this one serves HTTP
                checks[f"consumer:{loop.group_id}"] = "ok"
                continue
            checks[f"consumer:{loop.group_id}"] = "ok" if loop.assigned else "waiting for partition assignment"
        ready = all(v == "ok" for v in checks.values())
        body: dict[str, Any] = {"service": settings.service_name, "status": "ready" if ready else "not ready",
                                "checks": checks}
        if runtime.consumers and tells_detail(request):  # membership, lag and freshness of each consumer (see ConsumerLoop.status)
            body["consumers"] = [{**loop.status(), "worker": "consumes"} if id(loop) not in waiting else
                                 {"group": loop.group_id, "worker": "http only: a sibling worker consumes"}
                                 for loop in runtime.consumers]
        return JSONResponse(body, status_code=200 if ready else 503)

    if settings.metrics_on_app_port:  # otherwise a 404, as any path the service does not serve (see the settings)
        @app.get("/metrics", tags=["ops"], response_class=PlainTextResponse, responses={
            200: {"description": "Prometheus text exposition format",
                  "content": {"text/plain": {"schema": {"type": "string"}}}}})
        async def metrics() -> Response:
            return Response(generate_latest(metrics_registry()), media_type=CONTENT_TYPE_LATEST)

    for router in routers:
        app.include_router(router)

    generated_openapi = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            app.openapi_schema = document_examples(integer_bounds(document_headers(document_security(
                document_batch_limit(describe(document_problems(generated_openapi())), settings.max_batch_items),
                app, require_token=require_token))), request_examples or {})
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
    judge_framework_pages(app)
    return app


def tells_detail(request: Request) -> bool:
    """/readyz's consumers (lag, the newest applied event's time, events applied, log gaps) to an `ops` token alone:
    they move with every organiser's events, and the path takes no token — a probe's caller got them, any caller who
    reached the port (privacy round 30o). A probe needs the status code; the checks name no tenant and no data."""
    principal = getattr(request.state, "principal", None)
    return isinstance(principal, Principal) and principal.has(Role.OPS)


def serve_metrics(settings: ServiceSettings) -> Any:
    """The metrics on a listener of their own (`metrics_port`, `metrics_bind`), or None. Of several uvicorn workers
    sharing the port the first to bind it serves it — every worker's metrics (`metrics.registry`: their shared files);
    the others' start goes on. A worker that served it and died frees the port for the one uvicorn starts instead."""
    if settings.metrics_port is None:
        return None
    try:
        server, _ = start_http_server(settings.metrics_port, settings.metrics_bind, registry=metrics_registry())
    except OSError as error:
        if error.errno != errno.EADDRINUSE:  # no other worker's: an address not of this host, a name not resolved
            raise RuntimeError(f"STYRKEDJA_METRICS_BIND={settings.metrics_bind!r} with STYRKEDJA_METRICS_PORT="
                               f"{settings.metrics_port}: the metrics listener cannot listen there ({error}); give an "
                               "address of this host (127.0.0.1, 0.0.0.0)") from None
        log.warning("metrics listener not started (another worker of this process may serve it)",
                    extra={"port": settings.metrics_port, "bind": settings.metrics_bind, "error": str(error)})
        return None
    return server


#: /readyz's answer, ready (200) or not (503): round 26's fuzzing found the 503's JSON body documented as no content at
#: all (a client generated from the document expects none) and the 200's as any JSON
READINESS_SCHEMA: dict[str, Any] = {
    "type": "object", "title": "Readiness", "required": ["service", "status", "checks"],
    "properties": {
        "service": {"type": "string"},
        "status": {"type": "string", "enum": ["ready", "not ready"]},
        "checks": {"type": "object", "additionalProperties": {"type": "string"},
                   "description": "check → `ok`, or why not (`unreachable: …`, `waiting for partition assignment`)"},
        "consumers": {"type": "array", "items": {"type": "object"},
                      "description": "each consumer's group, partitions, lag and newest applied event (reporting): "
                                     "to an `ops` bearer token alone, left out for every other caller"}}}


#: no query or path parameter at all: what FastAPI's own pages take
_NO_PARAMETERS = Parameters(query={}, path={})


def judge_framework_pages(app: FastAPI) -> None:
    """FastAPI's own pages (its OpenAPI document, Swagger UI, ReDoc) are no `APIRoute`s, so the app-wide dependencies
    never ran for them: `/openapi.json?x=1` and `/docs` with `Accept: text/csv` were answered 200, where every
    operation answers 422 `unknown_parameter` and 406 `not_acceptable` (round 25). The same two rules now hold at
    each page, raised inside the router so the app's problem handlers answer them. (Swagger UI's OAuth2 redirect
    page is left alone: an identity provider calls it back with a query of its own.)"""
    pages = {app.openapi_url: JSON, app.docs_url: "text/html", app.redoc_url: "text/html"}
    for route in app.router.routes:
        if isinstance(route, Route) and not isinstance(route, APIRoute) and route.path in pages:
            route.app = _judged_page(route.app, pages[route.path])


def _judged_page(page: ASGIApp, media_type: str) -> ASGIApp:
    async def judged(scope: Scope, receive: Receive, send: Send) -> None:
        accept = accept_of(Headers(scope=scope))
        if accept is not None and not admits(accept, (media_type, PROBLEM_JSON)):
            raise not_acceptable(accept, (media_type,))
        errors = judge(_NO_PARAMETERS, scope.get("query_string") or b"", {})
        if errors:
            raise RequestValidationError(errors)
        await page(scope, receive, send)

    return judged


def define_kit_tables(metadata: MetaData, *, outbox: bool = True, consumer: bool = False,
                      lean_outbox: bool = False) -> None:
    """The kit's tables on a service's metadata; `lean_outbox`: see `define_outbox_tables(lean=...)`."""
    if outbox:
        define_outbox_tables(metadata, lean=lean_outbox)
    if consumer:
        define_consumer_tables(metadata)


#: what the export bound counts (its 503's detail and its metric's `bound` label: the first word)
EXPORT_SLOTS = "exports (CSV and xlsx files, answers streamed as they are read)"


def export_slots(request: Request) -> ClientSlots:
    """The bound on the files (CSV, xlsx) the service writes at once (`max_exports_in_flight`), and on those of the
    request's client (`max_exports_per_client_in_flight`): a route writing one takes a slot (`held`, or
    `take_or_refuse` and `give` around a stream) or answers 503 `overloaded` / 429 `client_in_flight`."""
    state = request.app.state
    slots: Slots | None = getattr(state, "export_slots", None)
    if slots is None:  # an app not made by `create_service_app` (a route's own test): the settings' default bounds
        slots = state.export_slots = Slots(EXPORT_SLOTS, ServiceSettings.model_fields["max_exports_in_flight"].default)
    per_client: PerClient | None = getattr(state, "client_export_slots", None)
    if per_client is None:
        per_client = state.client_export_slots = PerClient(
            EXPORT_SLOTS, ServiceSettings.model_fields["max_exports_per_client_in_flight"].default,
            "max_exports_per_client_in_flight")
    return ClientSlots(slots, per_client, client_of(request.scope))


def runtime_of(request: Request) -> Runtime:
    runtime: Runtime = request.app.state.runtime
    return runtime

"""Bounded concurrency at the door: what a service takes on at once, and a 503 with Retry-After beyond it.

Without a bound, a client opening hundreds of connections, or a platform sending its bulk writes in a loop without
waiting for the answers, was taken on whole: every request a task, every body (up to `max_request_body_bytes`, 4 MiB,
and its parsed objects, ten times that) in memory at once, every export a workbook being written, each waiting for a
database connection for `database_pool_timeout_seconds` before its 503. Memory grew with the client's will, and the
event loop spent its time on requests that would be refused anyway. Now:

* `OverloadGuard` (the kit's outermost middleware, every service): at most `max_requests_in_flight` requests at once
  and, of those, at most `max_writes_in_flight` with a method that carries a body (POST, PUT, PATCH) or changes state
  (DELETE); the next is answered at once, before its body is read, with a 503 problem naming `request` and the rule
  `overloaded`, and `Retry-After: overload_retry_after_seconds`. The probes (`/healthz`, `/readyz`, `/metrics`) are
  never counted nor refused: an overloaded instance still says it is alive and ready (it is; refusing the excess is
  what keeps it so), and its metrics are still read.
* `Slots`: a named bound for one kind of costly answer (a workbook), taken without waiting by the route
  (`Slots.held`, or `Slots.take` and `give` around a stream), an `Overloaded` problem when none is free.

* `ClientBound` (inside the token check, every service): of those, one client (a token's subject) at most
  `max_writes_per_client_in_flight` writes at once, and `ClientSlots` at most `max_exports_per_client_in_flight` files;
  the next is a 429 problem naming `request` and the rule `client_in_flight` (the bound in its message) with
  Retry-After. Without it one platform sending its bulk writes in a loop took every one of the instance's write slots,
  and every other school's platform got 503s for as long as it kept on: the global bounds keep the instance alive, the
  per-client ones keep one client from starving the rest. A client's count is forgotten when it drops to 0, so
  holding them costs memory by the clients in flight, not by those ever seen.

A request is counted from its first byte to the last byte of its answer (a streamed export too). Nothing here waits:
a request is taken or refused at once, so a refusal costs a client one round trip, and a burst never queues up
behind the ones already in."""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterator

from prometheus_client import Counter
from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Receive, Scope, Send

from .problems import TITLES, Problem, problem_response

log = logging.getLogger(__name__)

#: the paths a load balancer or an orchestrator asks to know whether the instance lives and may take requests
PROBES = frozenset({"/healthz", "/readyz", "/metrics"})
#: methods whose requests bring a body to hold (or change stored state): the costly ones
WRITE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
RULE = "overloaded"
#: the rule of a 429: one client's own bound was full (the instance may still have room for others)
CLIENT_RULE = "client_in_flight"
#: requests refused for a bound, by bound (`requests`, `writes`, `exports`): what an operator alerts on and scales by
OVERLOADED = Counter("styrkedja_requests_overloaded_total", "Requests answered 503 overloaded (a bound of "
                     "styrkedja_kit.admission was full)", ["bound"])
#: requests refused for a client's own bound (`writes`, `exports`): one client sending more than its share
CLIENT_REFUSED = Counter("styrkedja_requests_client_in_flight_total", "Requests answered 429 client_in_flight (one "
                         "client's bound of styrkedja_kit.admission was full)", ["bound"])


def overloaded_detail(what: str, limit: int) -> str:
    return (f"request: more than {limit} {what} at once; this one was not read — send it again after Retry-After "
            "seconds")


class Overloaded(Problem):
    """A 503 naming `request` and the rule `overloaded`, with the seconds to wait (`retry_after`)."""

    def __init__(self, what: str, limit: int, retry_after: int) -> None:
        detail = overloaded_detail(what, limit)
        super().__init__(503, TITLES[503], detail, [{"field": "request", "rule": RULE, "message": detail}],
                         headers={"Retry-After": str(retry_after)})


class _Held:
    """`held()` for a bound taken by `take_or_refuse()` and given back by `give()`."""

    def take_or_refuse(self) -> None:
        raise NotImplementedError

    def give(self) -> None:
        raise NotImplementedError

    @contextlib.contextmanager
    def held(self) -> Iterator[None]:
        """A slot for the block, or the bound's refusal before it runs."""
        self.take_or_refuse()
        try:
            yield
        finally:
            self.give()


class Slots(_Held):
    """At most `limit` holders at once, taken without waiting. One event loop's (not thread-safe: take and give
    on the loop)."""

    def __init__(self, what: str, limit: int, retry_after: int = 1) -> None:
        if limit < 1:
            raise ValueError("a bound of at least one")
        self.what, self.limit, self.retry_after = what, limit, retry_after
        self.held_now = 0
        self.refused = 0

    def take(self) -> bool:
        if self.held_now >= self.limit:
            self.refused += 1
            OVERLOADED.labels(self.what.split()[0]).inc()
            return False
        self.held_now += 1
        return True

    def give(self) -> None:
        self.held_now -= 1

    def take_or_refuse(self) -> None:
        """Take a slot, or raise `Overloaded` (the caller gives it back)."""
        if not self.take():
            raise Overloaded(self.what, self.limit, self.retry_after)


class OverloadGuard:
    """Pure ASGI: see the module. `max_requests` bounds every request but the probes, `max_writes` those of
    `WRITE_METHODS` among them."""

    def __init__(self, app: ASGIApp, max_requests: int, max_writes: int, retry_after_seconds: int = 1) -> None:
        self.app = app
        self.requests = Slots("requests", max_requests, retry_after_seconds)
        self.writes = Slots("writes (POST, PUT, PATCH, DELETE)", max_writes, retry_after_seconds)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope.get("path") in PROBES:
            await self.app(scope, receive, send)
            return
        writes = self.writes if scope.get("method") in WRITE_METHODS else None
        refused_by = None
        if not self.requests.take():
            refused_by = self.requests
        elif writes is not None and not writes.take():
            self.requests.give()
            refused_by = writes
        if refused_by is not None:
            if refused_by.refused == 1 or refused_by.refused % 1000 == 0:  # a line now and then, not one per refusal
                log.warning("overloaded: %s refused (more than %d %s at once)", refused_by.refused,
                            refused_by.limit, refused_by.what)
            await overloaded_response(refused_by, scope.get("path"))(scope, receive, send)
            return
        try:
            await self.app(scope, receive, send)
        finally:
            self.requests.give()
            if writes is not None:
                writes.give()


def overloaded_response(slots: Slots, instance: str | None = None) -> JSONResponse:
    """The 503 problem of a request `slots` had no room for, with its Retry-After; the connection is closed, so that
    a body the client is still sending is not read as its next request."""
    detail = overloaded_detail(slots.what, slots.limit)
    response = problem_response(503, TITLES[503], detail, [{"field": "request", "rule": RULE, "message": detail}],
                                instance=instance)
    response.headers["Retry-After"] = str(slots.retry_after)
    response.headers["Connection"] = "close"
    response.headers["Cache-Control"] = "no-store"  # answered outside the hardening middleware: no cache keeps it
    return response


def client_detail(what: str, limit: int, setting: str) -> str:
    return (f"request: more than {limit} {what} at once from this client (`{setting}`); this one was not read — send "
            "it again after Retry-After seconds, once one of yours is answered")


class ClientInFlight(Problem):
    """A 429 naming `request` and the rule `client_in_flight`, the bound's setting in its message, with the seconds
    to wait (`retry_after`)."""

    def __init__(self, what: str, limit: int, setting: str, retry_after: int) -> None:
        detail = client_detail(what, limit, setting)
        super().__init__(429, TITLES[429], detail, [{"field": "request", "rule": CLIENT_RULE, "message": detail}],
                         headers={"Retry-After": str(retry_after)})


class PerClient:
    """At most `limit` holders per client at once, taken without waiting; `setting` names the bound in a refusal. A
    client's count is dropped when it comes back to 0. One event loop's, as `Slots`."""

    def __init__(self, what: str, limit: int, setting: str, retry_after: int = 1) -> None:
        if limit < 1:
            raise ValueError("a bound of at least one")
        self.what, self.limit, self.setting, self.retry_after = what, limit, setting, retry_after
        self.held_now: dict[str, int] = {}
        self.refused = 0

    def take(self, client: str) -> bool:
        held = self.held_now.get(client, 0)
        if held >= self.limit:
            self.refused += 1
            CLIENT_REFUSED.labels(self.what.split()[0]).inc()
            return False
        self.held_now[client] = held + 1
        return True

    def give(self, client: str) -> None:
        held = self.held_now.get(client, 0) - 1
        if held > 0:
            self.held_now[client] = held
        else:
            self.held_now.pop(client, None)

    def refusal(self) -> ClientInFlight:
        return ClientInFlight(self.what, self.limit, self.setting, self.retry_after)


def client_of(scope: Scope) -> str | None:
    """The client a request comes from: its verified token's subject (`TokenMiddleware` put the principal in the
    scope's state), None without one (an app without tokens: only the global bounds hold)."""
    principal = (scope.get("state") or {}).get("principal")
    subject = getattr(principal, "subject", None)
    return subject if isinstance(subject, str) else None


class ClientSlots(_Held):
    """One client's slot for a file: its own bound (`PerClient`, a 429) and the instance's (`Slots`, a 503), both
    taken or neither. The same calls as `Slots`: `held()`, or `take_or_refuse()` and `give()` around a stream."""

    def __init__(self, slots: Slots, per_client: PerClient | None, client: str | None) -> None:
        self.slots, self.per_client, self.client = slots, per_client, client

    def take_or_refuse(self) -> None:
        own = self.per_client if self.client is not None else None
        if own is not None and self.client is not None and not own.take(self.client):
            raise own.refusal()
        try:
            self.slots.take_or_refuse()
        except Overloaded:
            if own is not None and self.client is not None:
                own.give(self.client)
            raise

    def give(self) -> None:
        self.slots.give()
        if self.per_client is not None and self.client is not None:
            self.per_client.give(self.client)


class ClientBound:
    """Pure ASGI, inside the token check: at most `max_writes` requests of `WRITE_METHODS` per client at once (see
    the module); a request without a verified client (the probes, an app without tokens) is not counted here."""

    def __init__(self, app: ASGIApp, max_writes: int, retry_after_seconds: int = 1) -> None:
        self.app = app
        self.writes = PerClient("writes (POST, PUT, PATCH, DELETE)", max_writes, "max_writes_per_client_in_flight",
                                retry_after_seconds)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        client = client_of(scope) if scope["type"] == "http" and scope.get("method") in WRITE_METHODS else None
        if client is None:
            await self.app(scope, receive, send)
            return
        if not self.writes.take(client):
            if self.writes.refused == 1 or self.writes.refused % 1000 == 0:
                log.warning("client in flight: %s refused (a client sent more than %d %s at once)",
                            self.writes.refused, self.writes.limit, self.writes.what)
            await client_refused_response(self.writes, scope.get("path"))(scope, receive, send)
            return
        try:
            await self.app(scope, receive, send)
        finally:
            self.writes.give(client)


def client_refused_response(bound: PerClient, instance: str | None = None) -> JSONResponse:
    """The 429 problem of a request beyond its client's `bound`, with Retry-After; the connection closed, as the
    body is not read (`overloaded_response`)."""
    detail = client_detail(bound.what, bound.limit, bound.setting)
    response = problem_response(429, TITLES[429], detail,
                                [{"field": "request", "rule": CLIENT_RULE, "message": detail}], instance=instance)
    response.headers["Retry-After"] = str(bound.retry_after)
    response.headers["Connection"] = "close"
    return response


__all__ = ["CLIENT_REFUSED", "CLIENT_RULE", "OVERLOADED", "PROBES", "RULE", "ClientBound", "ClientInFlight",
           "ClientSlots", "OverloadGuard", "Overloaded", "PerClient", "Slots", "client_of", "overloaded_response"]

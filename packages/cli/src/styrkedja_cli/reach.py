"""The HTTP peers of `styrkedja`'s commands (our services, an SS 12000 server, its token endpoint) under the one
rule of the ops commands (`styrkedja_kit.reach`): a peer that never answers, refuses or cannot be found is one
line, `Unanswered`, naming it, its URL, how long it was waited for and what sets that wait, and the option that
sets its address; `main` says it and exits 1, no traceback. Before this, `styrkedja demo` against a service that
accepts and says nothing printed a bare "ReadTimeout:" after 120 s."""

from __future__ import annotations

import asyncio

import httpx

from styrkedja_kit.reach import TIMEOUT_VARIABLE, Peer, Unanswered, connect_seconds

__all__ = ["Peer", "TIMEOUT_VARIABLE", "Unanswered", "connect_seconds", "http_peer", "reach_http", "unanswered"]

#: what a probe asks for: every service answers it without a token (`OPEN_PATHS`); any answer at all will do
PROBE_PATH = "/healthz"


def http_peer(what: str, url: str, option: str) -> Peer:
    """`what` ("the assessment service") at `url` (shown without credentials, query or fragment), whose address
    `option` sets ("--assessment-url")."""
    try:
        parsed = httpx.URL(url)
        shown = str(parsed.copy_with(userinfo=b"", query=None, fragment=None))
    except (httpx.InvalidURL, TypeError, ValueError):
        shown = url
    return Peer(what, shown, option)


def _wait(error: httpx.TimeoutException, timeout: httpx.Timeout) -> float | None:
    """The wait that ran out, as the client was given it."""
    return {httpx.ConnectTimeout: timeout.connect, httpx.ReadTimeout: timeout.read, httpx.WriteTimeout: timeout.write,
            httpx.PoolTimeout: timeout.pool}.get(type(error))


def unanswered(peer: Peer, error: httpx.TransportError, timeout: httpx.Timeout, *, bound_by: str | None,
               attempts: int = 1, outcome: str | None = "nothing was changed") -> Unanswered | None:
    """The one line for an HTTP client's failure to hear from `peer`: silence (a timeout: after how long, what sets
    it) or no connection at all; None for other faults (a protocol error, a TLS fault: the caller's own words)."""
    tried = f", {attempts} attempts" if attempts > 1 else ""
    if isinstance(error, httpx.TimeoutException):
        seconds = _wait(error, timeout)
        if seconds is not None:
            return peer.timed_out(seconds, bound_by=bound_by, detail=f", {type(error).__name__}{tried}",
                                  outcome=outcome)
        return None
    if isinstance(error, httpx.ConnectError):
        return peer.unreachable(error, outcome=outcome)
    return None


async def reach_http(peer: Peer, url: str, seconds: float, *, refused_is_said_later: bool = False) -> None:
    """Any HTTP answer from `url` within `seconds` (a refusal too: the command's own request says what it means),
    or `Unanswered`. `refused_is_said_later`: a connection refused or a name not found passes, for the command's
    first request to say in its own words (the demo's "is the system running?", the import's at-once stop)."""
    async with httpx.AsyncClient(timeout=seconds, follow_redirects=False) as client:
        try:
            async with asyncio.timeout(seconds):  # a server trickling a byte a second is no answer either
                await client.get(url.rstrip("/") + PROBE_PATH)
        except (TimeoutError, httpx.TimeoutException):
            raise peer.timed_out(seconds) from None
        except httpx.TransportError as error:  # refused, no such host, closed without a word
            if not refused_is_said_later:
                raise peer.unreachable(error) from None

"""A total deadline for one answer, across every read of its connection. httpx's timeouts are per read: a server
sending its status line and then a header byte every 50 s (or a body byte every 50 s) never times out, and an answer
checked only as its body's chunks arrive (`HttpSource._body`) was never checked while its headers trickled in — one
page took as long as the server chose (httpcore reads headers of up to 100 KiB: a byte a minute is 70 days). Here each
read of the socket waits at most until the deadline, and a read after it raises `TooSlow`, which httpx and httpcore
pass on unchanged (they map only their own errors) after closing the connection."""

from __future__ import annotations

import time
import weakref
from collections.abc import Callable, Iterable
from typing import Any

import httpcore
import httpx


class TooSlow(Exception):
    """The answer was not in by its deadline (`Deadline`): not a network's passing fault, not asked again."""


class Deadline:
    """When the answer being read must be in (`at`, by `clock`), or None for no bound: set before each request
    (`HttpSource._request`), read by every socket read of the client (`_Stream`)."""

    def __init__(self, clock: Callable[[], float] = time.monotonic, whole: float | None = None) -> None:
        self.clock = clock
        self.at: float | None = None
        #: how long one whole answer may take, where the client's user sets `at` from it (`command._ask`:
        #: --reporting-answer-seconds); None: that user's own default
        self.whole = whole

    def bound(self, timeout: float | None) -> tuple[float | None, bool]:
        """A read's timeout cut to what is left before the deadline, and whether the deadline is what bounds it;
        `TooSlow` when nothing is left."""
        if self.at is None:
            return timeout, False
        left = self.at - self.clock()
        if left <= 0:
            raise TooSlow
        if timeout is None or left < timeout:
            return left, True
        return timeout, False


class _Stream(httpcore.NetworkStream):
    """A connection whose reads and writes end by the deadline (`Deadline.bound`)."""

    def __init__(self, stream: httpcore.NetworkStream, deadline: Deadline) -> None:
        self._stream, self._deadline = stream, deadline

    def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        bounded, by_deadline = self._deadline.bound(timeout)
        try:
            return self._stream.read(max_bytes, bounded)
        except httpcore.ReadTimeout:
            if by_deadline:
                raise TooSlow from None
            raise

    def write(self, buffer: bytes, timeout: float | None = None) -> None:
        bounded, by_deadline = self._deadline.bound(timeout)
        try:
            self._stream.write(buffer, bounded)
        except httpcore.WriteTimeout:
            if by_deadline:
                raise TooSlow from None
            raise

    def close(self) -> None:
        self._stream.close()

    def start_tls(self, ssl_context: Any, server_hostname: str | None = None,
                  timeout: float | None = None) -> httpcore.NetworkStream:
        # (the handshake's own reads are the inner stream's: bounded by the connect timeout, as httpx has it)
        return _Stream(self._stream.start_tls(ssl_context, server_hostname, timeout), self._deadline)

    def get_extra_info(self, info: str) -> Any:
        return self._stream.get_extra_info(info)


class _Backend(httpcore.NetworkBackend):
    """httpcore's own backend, its connections' reads bounded by the deadline (`_Stream`)."""

    def __init__(self, backend: httpcore.NetworkBackend, deadline: Deadline) -> None:
        self._backend, self._deadline = backend, deadline

    def connect_tcp(self, host: str, port: int, timeout: float | None = None, local_address: str | None = None,
                    socket_options: Iterable[Any] | None = None) -> httpcore.NetworkStream:
        return _Stream(self._backend.connect_tcp(host, port, timeout, local_address, socket_options), self._deadline)

    def connect_unix_socket(self, path: str, timeout: float | None = None,
                            socket_options: Iterable[Any] | None = None) -> httpcore.NetworkStream:
        return _Stream(self._backend.connect_unix_socket(path, timeout, socket_options), self._deadline)

    def sleep(self, seconds: float) -> None:
        self._backend.sleep(seconds)


#: the deadline of each client `bounded_client` made (`deadline_of`)
_DEADLINES: weakref.WeakKeyDictionary[httpx.Client, Deadline] = weakref.WeakKeyDictionary()


def bounded_client(deadline: Deadline, **options: Any) -> httpx.Client:
    """An httpx client (`options` as httpx.Client's) whose connections read by `deadline`: direct ones, and those
    through a proxy from the environment (`HTTP_PROXY`, `HTTPS_PROXY`, `ALL_PROXY`: httpx mounts a transport of its
    own per proxy, whose connections kept httpx's per-read timeouts alone before round 36 — a proxy, or a server
    behind it, trickling a page's headers held it as long as it chose) or given (`proxy=`). httpx has no setting for
    a connection's backend: each transport's pool is given one before it makes any connection (the pool hands its
    backend to each connection it opens, a proxy's tunnel and forwarding connections alike; `test_ss12000_round35`
    and `test_hostile_round36` see a trickling server stopped, directly and through a proxy, should httpx's insides
    change). A transport of another kind (a test's mock) is left as it is."""
    return bound(httpx.Client(**options), deadline)


def bound(client: httpx.Client, deadline: Deadline) -> httpx.Client:
    """`client` (made, no request sent yet) with its connections reading by `deadline` (see `bounded_client`)."""
    transports = [getattr(client, "_transport", None), *getattr(client, "_mounts", {}).values()]
    for transport in transports:
        pool = getattr(transport, "_pool", None)  # (None where a pattern is mounted without a proxy: NO_PROXY)
        backend = getattr(pool, "_network_backend", None)
        if isinstance(backend, httpcore.NetworkBackend) and not isinstance(backend, _Backend):
            pool._network_backend = _Backend(backend, deadline)  # type: ignore[union-attr]
    _DEADLINES[client] = deadline
    return client


def deadline_of(client: httpx.Client) -> Deadline | None:
    """The deadline `bounded_client` gave `client`, or None (a client made otherwise: a test's)."""
    return _DEADLINES.get(client)


def proxy_of(client: httpx.Client, url: str) -> str | None:
    """The proxy `client` reaches `url` through (one from the environment: `HTTP_PROXY`, `HTTPS_PROXY`, `ALL_PROXY`,
    or given), as `scheme://host:port` — never its user name or password, which such a URL may hold — or None for a
    direct connection (or a client whose transports say nothing: a test's)."""
    try:
        transport = client._transport_for_url(httpx.URL(url))
    except (httpx.InvalidURL, AttributeError, TypeError):
        return None
    if transport is getattr(client, "_transport", None):
        return None
    proxy = getattr(getattr(transport, "_pool", None), "_proxy_url", None)
    if not isinstance(proxy, httpcore.URL):
        return None
    port = f":{proxy.port}" if proxy.port else ""
    return f"{proxy.scheme.decode('ascii', 'replace')}://{proxy.host.decode('ascii', 'replace')}{port}"

"""What the HTTP server answers by itself, before any app code runs, as problem+json.

uvicorn answers a request it cannot parse (a bad request line, a byte a header may not hold, a
broken chunk, two framings) with `400` and a plain-text body of its own, and its httptools parser
takes a request head of any size (a header of megabytes, thousands of headers: all held in memory,
then handed to the app). `ProblemHttpProtocol` is uvicorn's own protocol with both answers changed:
the 400 is `application/problem+json` naming `request` and the rule `http_syntax`, and a request head
(request line and headers) over `MAX_HEAD_BYTES` is a `431` naming `headers` and `max_header_bytes`,
refused while it streams in, and so is one of more than `MAX_HEADER_COUNT` header fields (rule
`max_header_count`: ~13,000 tiny headers fit under the byte limit, each a Python object per layer). Neither repeats a byte of the request. The services run under it with
`uvicorn --http styrkedja_kit.server:ProblemHttpProtocol` (their images, the devstack).
"""

from __future__ import annotations

import json
import re
from typing import Any

import h11
from uvicorn.protocols.http.h11_impl import H11Protocol

from .security import SECURITY_HEADERS

#: request line and headers together at most (a token is a few kB; h11's own limit is 16 KiB)
MAX_HEAD_BYTES = 64 * 1024
#: header fields of one request at most (Apache httpd's LimitRequestFields default; a browser sends ~20)
MAX_HEADER_COUNT = 100

_REASONS = {400: b"Bad Request", 431: b"Request Header Fields Too Large"}
#: the hardening every answer of the app carries (`security.SECURITY_HEADERS`; round 25: only nosniff was here, so a
#: request the server refused by itself was answered without the frame rules and no-referrer)
_HEADERS = (b"content-type: application/problem+json\r\ncache-control: no-store\r\n"
            + b"".join(name + b": " + value + b"\r\n" for name, value in SECURITY_HEADERS)
            + b"connection: close\r\n")


def problem_bytes(status: int, field: str, rule: str, detail: str) -> bytes:
    """A whole HTTP/1.1 response: the problem (RFC 9457) for what the server refused by itself."""
    body = json.dumps({"type": "about:blank", "title": _REASONS[status].decode(), "status": status,
                       "detail": detail, "errors": [{"field": field, "rule": rule, "message": detail}]},
                      separators=(",", ":")).encode()
    return (b"HTTP/1.1 %d %s\r\n" % (status, _REASONS[status]) + _HEADERS
            + b"content-length: %d\r\n\r\n" % len(body) + body)


SYNTAX = (400, "request", "http_syntax", "request: not a well-formed HTTP/1.1 request (RFC 9112)")
HEAD_TOO_LARGE = (431, "headers", "max_header_bytes",
                  f"headers: the request line and headers are larger than {MAX_HEAD_BYTES} bytes")
TOO_MANY_HEADERS = (431, "headers", "max_header_count",
                    f"headers: the request has more than {MAX_HEADER_COUNT} header fields")
#: RFC 9112 §3.2: an HTTP/1.1 request without a Host header, or with more than one, is a 400. h11 refuses both;
#: httptools took both (round 25), handing the app a request whose host a proxy in front may have read otherwise
ONE_HOST = (400, "host", "single_host", "host: an HTTP/1.1 request carries exactly one Host header (RFC 9112 §3.2)")


class _ProblemAnswers:
    """For a uvicorn HTTP protocol class: its own 400 as a problem, and the head's size bounded."""

    transport: Any

    def _refuse(self, refusal: tuple[int, str, str, str]) -> None:
        if not self.transport.is_closing():
            self.transport.write(problem_bytes(*refusal))
            self.transport.close()

    def send_400_response(self, msg: str) -> None:  # uvicorn's hook for what its parser refused
        self._refuse(getattr(self, "_head_refusal", None) or SYNTAX)


#: bytes no header value may hold (RFC 9110 §5.5: visible characters, obs-text, space and tab): httptools
#: (llhttp) refuses them, h11 takes everything but NUL and whitespace (`[^\x00\s]`) and would hand the app a
#: header with a control byte
_CONTROL = re.compile(rb"[\x00-\x08\x0a-\x1f\x7f]")


class _StrictConnection(h11.Connection):
    """h11's connection, refusing what llhttp (httptools) refuses and h11 takes: control bytes (`_CONTROL`) in
    a header value, an HTTP version other than 1.0 and 1.1 (HTTP/9.9, the HTTP/2
    preface), both Content-Length and Transfer-Encoding (a request another server in the path may frame
    otherwise: smuggling); and a head over `MAX_HEAD_BYTES` that arrived whole in one read (h11 bounds only a
    head still incomplete), or of more than `MAX_HEADER_COUNT` fields. `hint`: why it refused last (h11's
    status hint; 431 for a head too large); `problem`: the 431's problem (`HEAD_TOO_LARGE`, `TOO_MANY_HEADERS`)."""

    hint = 400
    problem = HEAD_TOO_LARGE

    def next_event(self) -> Any:
        try:
            event = super().next_event()
        except h11.RemoteProtocolError as error:
            self.hint = error.error_status_hint
            if "Host: header" in str(error):  # h11's "Missing mandatory ..." and "Found multiple ..."
                self.problem = ONE_HOST
            raise
        if isinstance(event, h11.Request):
            refusal = _refusal(event)
            if refusal is not None:
                self.hint = refusal[0]
                self.problem = TOO_MANY_HEADERS if refusal[1] == _TOO_MANY else HEAD_TOO_LARGE
                raise h11.RemoteProtocolError(refusal[1], error_status_hint=refusal[0])
        return event


_TOO_MANY = "too many header fields"


def _refusal(request: h11.Request) -> tuple[int, str] | None:
    headers = request.headers
    if len(headers) > MAX_HEADER_COUNT:
        return 431, _TOO_MANY
    if len(request.target) + sum(len(name) + len(value) + 4 for name, value in headers) > MAX_HEAD_BYTES:
        return 431, "request head too large"
    if request.http_version not in (b"1.0", b"1.1"):
        return 400, "not HTTP/1.x"
    if any(_CONTROL.search(value) for _, value in headers):  # h11 checks the target itself
        return 400, "a control byte in a header"
    names = {name for name, _ in headers}  # h11 gives them lower-cased
    if b"content-length" in names and b"transfer-encoding" in names:
        return 400, "both Content-Length and Transfer-Encoding"
    return None


class ProblemH11Protocol(_ProblemAnswers, H11Protocol):
    """uvicorn's h11 protocol (where httptools is missing), judging as the httptools one does: control bytes
    refused (`_StrictConnection`), a head over `MAX_HEAD_BYTES` (h11 bounds it itself) a 431."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # uvicorn made `self.conn` with its own limit (16 KiB by default): the kit's rule instead, as for httptools
        self.conn = _StrictConnection(h11.SERVER, max_incomplete_event_size=MAX_HEAD_BYTES)

    @property
    def _head_refusal(self) -> tuple[int, str, str, str] | None:
        if isinstance(self.conn, _StrictConnection) and (self.conn.hint == 431 or self.conn.problem is ONE_HOST):
            return self.conn.problem
        return None


try:
    from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol
except ImportError:  # httptools is not installed: uvicorn's `auto` would take h11 too
    ProblemHttpProtocol: type = ProblemH11Protocol
else:
    class ProblemHttpToolsProtocol(_ProblemAnswers, HttpToolsProtocol):
        """uvicorn's httptools protocol, counting the bytes of each request's head as they arrive."""

        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            self._in_head = True  # reading a request line and headers (not a body)
            self._head_bytes = 0
            self._turns = 0  # heads and messages completed, to tell whether a feed crossed one
            self._parsed_head = 0  # of the head being parsed: its URL, names and values
            self._header_count = 0  # of the head being parsed
            self._host_count = 0  # of the head being parsed
            self._head_refusal: tuple[int, str, str, str] | None = None  # why the parser was stopped

        def data_received(self, data: bytes) -> None:
            turns = self._turns
            super().data_received(data)
            if not self._in_head or self.transport.is_closing():
                return
            # a feed that ended a head or a message counts from that point: (at most) one chunk is not counted
            self._head_bytes = self._head_bytes + len(data) if turns == self._turns else 0
            if self._head_bytes > MAX_HEAD_BYTES:
                self._refuse(HEAD_TOO_LARGE)

        def on_url(self, url: bytes) -> None:
            self._parsed_head += len(url)
            super().on_url(url)

        def on_header(self, name: bytes, value: bytes) -> None:
            self._parsed_head += len(name) + len(value) + 4
            self._header_count += 1
            if name.lower() == b"host":
                self._host_count += 1
            if self._header_count > MAX_HEADER_COUNT:  # the parser stops at the first field too many
                self._head_refusal = TOO_MANY_HEADERS
                raise ValueError("too many header fields")
            super().on_header(name, value)

        def on_headers_complete(self) -> None:
            if self._parsed_head > MAX_HEAD_BYTES:  # a head that came whole in one read: no app runs for it
                self._head_refusal = HEAD_TOO_LARGE
                raise ValueError("request head too large")  # the parser stops; uvicorn calls send_400_response
            if self._host_count != 1 and self.parser.get_http_version() == "1.1":
                self._head_refusal = ONE_HOST
                raise ValueError("not exactly one Host header")
            self._in_head, self._head_bytes, self._parsed_head, self._turns = False, 0, 0, self._turns + 1
            self._header_count = self._host_count = 0
            super().on_headers_complete()

        def on_message_complete(self) -> None:
            self._in_head, self._head_bytes, self._turns = True, 0, self._turns + 1
            # a chunked body's trailer fields reach `on_header` too: counted, they were the next request's (a trailer
            # `Host` made the next request on the connection one of two Hosts, refused)
            self._header_count = self._host_count = self._parsed_head = 0
            super().on_message_complete()

    ProblemHttpProtocol = ProblemHttpToolsProtocol

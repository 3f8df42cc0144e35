"""A stub SS 12000 server on a real socket (`SocketServer`), for what `httpx.MockTransport` cannot show: headers or a
body trickling in, a connection reset mid-body, HTTP/1.0 without a Content-Length, a redirect's Authorization header
as the client really sends it. Each request is answered by a script (`answer`, `trickled`, `reset`, …) writing to
the connection as a server of its kind would; the requests are kept (`asked`) to check what was sent where."""

from __future__ import annotations

import contextlib
import socket
import struct
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any


@dataclass
class Asked:
    method: str
    target: str
    headers: dict[str, str]  # (names in lower case)


#: a request's script: writes its answer to the connection; False closes the connection after it
Script = Callable[[Asked, socket.socket], Any]


class SocketServer:
    """Listens on 127.0.0.1 (a port of its own) until `close`; each request is answered by `script`."""

    def __init__(self, script: Script) -> None:
        self.script = script
        self.asked: list[Asked] = []
        self._socket = socket.socket()
        self._socket.bind(("127.0.0.1", 0))
        self._socket.listen(32)
        self.url = f"http://127.0.0.1:{self._socket.getsockname()[1]}"
        self._open: list[socket.socket] = []
        threading.Thread(target=self._serve, daemon=True).start()

    def __enter__(self) -> SocketServer:
        return self

    def __exit__(self, *_: Any) -> None:
        self.close()

    def _serve(self) -> None:
        while True:
            try:
                conn, _ = self._socket.accept()
            except OSError:  # closed
                return
            self._open.append(conn)
            threading.Thread(target=self._connection, args=(conn,), daemon=True).start()

    def _connection(self, conn: socket.socket) -> None:
        pending = b""
        try:
            while True:
                while b"\r\n\r\n" not in pending:
                    data = conn.recv(65536)
                    if not data:
                        return
                    pending += data
                head, pending = pending.split(b"\r\n\r\n", 1)
                first, *lines = head.decode("latin-1").split("\r\n")
                method, target, _ = first.split(" ", 2)
                asked = Asked(method, target, {k.strip().lower(): v.strip() for k, v in
                                               (line.split(":", 1) for line in lines)})
                self.asked.append(asked)
                if self.script(asked, conn) is False:
                    return
        except OSError:  # the client went away (a deadline, a refusal): nothing more to answer
            pass
        finally:
            conn.close()

    def close(self) -> None:
        self._socket.close()
        for conn in self._open:
            with contextlib.suppress(OSError):  # (closed already)
                conn.shutdown(socket.SHUT_RDWR)


def head(status: int = 200, headers: Iterable[tuple[str, str]] = (), *, version: str = "HTTP/1.1",
         reason: str = "Answer") -> bytes:
    return (f"{version} {status} {reason}\r\n" + "".join(f"{k}: {v}\r\n" for k, v in headers) + "\r\n").encode(
        "latin-1")


def answer(status: int = 200, body: bytes = b"", headers: Iterable[tuple[str, str]] = ()) -> Script:
    """A whole answer, with its Content-Length."""
    def script(asked: Asked, conn: socket.socket) -> None:
        conn.sendall(head(status, [*headers, ("Content-Length", str(len(body)))]) + body)
    return script


def trickled(body: bytes, *, in_headers: bool, pause: float = 0.05) -> Script:
    """An answer sent a little at a time, for ever if need be: a header line every `pause` (`in_headers`: a
    server whose headers never end), else the body a byte every `pause`."""
    def script(asked: Asked, conn: socket.socket) -> bool:
        if in_headers:
            conn.sendall(b"HTTP/1.1 200 OK\r\n")
            for _ in range(100_000):
                conn.sendall(b"X-Still: coming\r\n")
                time.sleep(pause)
        conn.sendall(head(200, [("Content-Length", str(len(body)))]))
        for byte in body:
            conn.sendall(bytes([byte]))
            time.sleep(pause)
        return False
    return script


def reset(after: bytes = b"") -> Script:
    """`after` sent, then the connection reset (RST: SO_LINGER 0), as a crashed worker or a load balancer does."""
    def script(asked: Asked, conn: socket.socket) -> bool:
        if after:
            conn.sendall(after)
            time.sleep(0.02)
        conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        return False
    return script


def closed_http10(body: bytes) -> Script:
    """HTTP/1.0 without a Content-Length: the body ends where the server closes the connection."""
    def script(asked: Asked, conn: socket.socket) -> bool:
        conn.sendall(head(200, [("Content-Type", "application/json")], version="HTTP/1.0") + body)
        return False
    return script


def endless_chunks(chunk: bytes = b" " * 65536) -> Script:
    """A chunked body that never ends (until the client goes)."""
    def script(asked: Asked, conn: socket.socket) -> bool:
        conn.sendall(head(200, [("Transfer-Encoding", "chunked"), ("Content-Type", "application/json")]))
        while True:
            conn.sendall(f"{len(chunk):x}\r\n".encode() + chunk + b"\r\n")
    return script


def in_turn(*scripts: Script) -> Script:
    """The first request answered by the first script, the next by the next, the last script for all after."""
    count = [0]

    def script(asked: Asked, conn: socket.socket) -> Any:
        count[0] += 1
        return scripts[min(count[0], len(scripts)) - 1](asked, conn)
    return script

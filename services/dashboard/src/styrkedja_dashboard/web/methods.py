"""What a request may be before a route reads it. HEAD is answered as GET without the body, on every page (RFC 9110 §9.3.2: a server answering GET should answer
HEAD too). FastAPI's routes take only the methods they name, so a HEAD of `/kedjan` (a link checker, a monitor, a
browser's prefetch) was a 405. Plain ASGI: the GET's status and headers, Content-Length included, and no body."""

from __future__ import annotations

from fastapi import HTTPException  # FastAPI passes its own on from a body read (any other is its 400)
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from styrkedja_kit.security import without_body

#: the scope's mark of a GET that answers a HEAD: a route passing a service's file on reads it as "headers only"
HEAD_ONLY = "styrkedja.head_only"


class HeadAsGet:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] != "HEAD":
            await self.app(scope, receive, send)
            return
        await self.app({**scope, "method": "GET", HEAD_ONLY: True}, receive, without_body(send))


#: the most a form post may send: the dashboard's forms (sign-out, an alert's acknowledgement: a comment of at most
#: 2,000 characters, each up to 12 bytes percent-encoded) send a few kB
MAX_FORM_BYTES = 64 * 1024


class BoundedBody:
    """A request body larger than `MAX_FORM_BYTES` is a 413 page, by its Content-Length before a byte of it is read,
    or as it streams in. Starlette's form parser bounds only each field (1 MB, 1,000 fields: a GB in all) and spools
    a multipart file part to disk however large: anyone, signed in or not, could post gigabytes to `/logga-ut`
    (its CSRF check comes after the form is read)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = dict(scope["headers"]).get(b"content-length")
        received = 0

        async def bounded() -> Message:
            nonlocal received
            if declared is not None and (not declared.isdigit() or int(declared) > MAX_FORM_BYTES):
                raise _too_large()
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > MAX_FORM_BYTES:
                    raise _too_large()
            return message

        await self.app(scope, bounded, send)


def _too_large() -> HTTPException:
    return HTTPException(413, f"Formuläret är för stort (högst {MAX_FORM_BYTES // 1024} kB).")

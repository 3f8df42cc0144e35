"""HEAD is answered as GET without the body, on every page (RFC 9110 §9.3.2: a server answering GET should answer
HEAD too). FastAPI's routes take only the methods they name, so a HEAD of `/kedjan` (a link checker, a monitor, a
browser's prefetch) was a 405. Plain ASGI: the GET's status and headers, Content-Length included, and no body."""

from __future__ import annotations

from starlette.types import ASGIApp, Message, Receive, Scope, Send


class HeadAsGet:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] != "HEAD":
            await self.app(scope, receive, send)
            return

        async def without_body(message: Message) -> None:
            if message["type"] == "http.response.body":
                if message.get("more_body", False):
                    return
                message = {"type": "http.response.body", "body": b"", "more_body": False}
            await send(message)

        await self.app({**scope, "method": "GET"}, receive, without_body)

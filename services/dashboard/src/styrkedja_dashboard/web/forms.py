"""A GET form sends every field, the empty ones too (`?amne=&omgang=`): an empty value means "not
chosen", so it is dropped from the query before the routes validate it (an empty subject code is no
bad subject code). Plain ASGI, so the raw query stays byte for byte what the browser sent."""

from __future__ import annotations

from starlette.types import ASGIApp, Receive, Scope, Send


def without_empty_values(query: bytes) -> bytes:
    """`a=1&b=&c` → `a=1`: parameters without a value are left out, the others kept as sent."""
    return b"&".join(part for part in query.split(b"&") if part.partition(b"=")[2])


class DropEmptyQueryValues:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope.get("query_string"):
            kept = without_empty_values(scope["query_string"])
            if kept != scope["query_string"]:
                scope = {**scope, "query_string": kept}
        await self.app(scope, receive, send)

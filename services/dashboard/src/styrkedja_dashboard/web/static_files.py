"""The dashboard's `/static`: Starlette's `StaticFiles`, its Range refusals the dashboard's own.

Starlette answers a Range it cannot serve itself, in text/plain: 416 "" for a range beyond the file, 400 "Malformed
range header." for a range-set it cannot read, and 400 for a unit other than bytes. Here a range-set that is not one
(`bytes=x`, `bytes=5-3`, `bytes=`) or lies beyond the file is rejected as RFC 9110 §15.5.17 has it, 416 with
`Content-Range: bytes */<length>` (§14.4), raised as the HTTP error every other refusal of the dashboard is, so the
error page answers it (its security headers, no caching: `security.py`); a unit it does not understand is ignored and
the whole file sent (§14.2: an origin server MUST ignore it)."""

from __future__ import annotations

import os

from starlette.datastructures import Headers
from starlette.exceptions import HTTPException
from starlette.responses import FileResponse, MalformedRangeHeader, RangeNotSatisfiable, Response
from starlette.staticfiles import NotModifiedResponse, StaticFiles
from starlette.types import Receive, Scope, Send


class _RangeCheckedFile(FileResponse):
    """A file whose `Range` is judged before Starlette reads it (the same parser: what passes here, it serves)."""

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        headers = Headers(scope=scope)
        asked = headers.get("range")
        if_range = headers.get("if-range")
        if (asked is not None and self.status_code == 200 and scope["method"].upper() in ("GET", "HEAD")
                and (if_range is None or self._should_use_range(if_range))):
            if asked.partition("=")[0].strip().lower() != "bytes":  # a unit not understood: no range at all
                scope = {**scope, "headers": [(k, v) for k, v in scope["headers"] if k != b"range"]}
            else:
                size = (self.stat_result or os.stat(self.path)).st_size
                try:
                    self._parse_range_header(asked, size)
                except (MalformedRangeHeader, RangeNotSatisfiable):
                    raise HTTPException(416, headers={"Content-Range": f"bytes */{size}"}) from None
        await super().__call__(scope, receive, send)


class DashboardStaticFiles(StaticFiles):
    def file_response(self, full_path: str | os.PathLike[str], stat_result: os.stat_result, scope: Scope,
                      status_code: int = 200) -> Response:
        """Starlette's own, its file a `_RangeCheckedFile`."""
        answer = _RangeCheckedFile(full_path, status_code=status_code, stat_result=stat_result)
        if self.is_not_modified(answer.headers, Headers(scope=scope)):
            return NotModifiedResponse(answer.headers)
        return answer

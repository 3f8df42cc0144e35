"""The FastAPI helper every reporting table route calls:

    @router.get("/v1/figures/…")
    async def figures(request: Request, format: str | None = None):
        return export_response(request, Table("resultat-…", COLUMNS, rows()), format)

It answers in the chosen format as a streaming response, with a `Content-Disposition` file name
for CSV and xlsx. Rows are pulled one by one as the client reads (sync iterators run in the
thread pool, async ones on the loop), so an export of a whole organiser never sits in memory."""

from __future__ import annotations

import asyncio
import os
import re
import unicodedata
from collections.abc import AsyncIterable, AsyncIterator, Awaitable, Callable, Iterable, Iterator
from datetime import date
from typing import Any
from urllib.parse import quote

import anyio
from fastapi import Request
from fastapi.responses import Response, StreamingResponse
from starlette.types import Receive, Scope, Send

from styrkedja_kit.admission import ClientSlots
from styrkedja_kit.app import export_slots
from styrkedja_kit.days import school_today
from styrkedja_kit.negotiation import accept_of
from styrkedja_kit.rules import RuleViolation

from .negotiate import MEDIA_TYPES, ExportFormat, choose_format
from .render import CHUNK, CSV_DIALECTS, CsvEncoder, JsonEncoder, XlsxSink, file_chunks, temporary_xlsx
from .table import Row, Table, check_row


def _encoder(table: Table, fmt: ExportFormat, dialect: str) -> JsonEncoder | CsvEncoder:
    return JsonEncoder(table.columns) if fmt is ExportFormat.json else CsvEncoder(table.columns, CSV_DIALECTS[dialect])


def stream_table(table: Table, fmt: ExportFormat, dialect: str = "excel-sv") -> Iterator[bytes]:
    """The table as bytes, in chunks of about 64 KiB (rows must be a sync iterable)."""
    rows = table.rows
    if not isinstance(rows, Iterable):
        raise TypeError("stream_table needs sync rows; use astream_table")
    if fmt is ExportFormat.xlsx:
        path = temporary_xlsx()
        try:
            sink = XlsxSink(table, path)
            for index, row in enumerate(rows):
                sink.add(check_row(table.columns, row, index))
            sink.close()
        except BaseException:
            os.unlink(path)
            raise
        yield from file_chunks(path)
        return
    encoder = _encoder(table, fmt, dialect)
    buffer = bytearray(encoder.head())
    for index, row in enumerate(rows):
        buffer += encoder.row(check_row(table.columns, row, index))
        if len(buffer) >= CHUNK:
            yield bytes(buffer)
            buffer.clear()
    buffer += encoder.tail()
    yield bytes(buffer)


async def astream_table(table: Table, fmt: ExportFormat, dialect: str = "excel-sv") -> AsyncIterator[bytes]:
    """As `stream_table`, for rows that come from an async iterable (e.g. a database cursor)."""
    rows = table.rows
    if not isinstance(rows, AsyncIterable):
        raise TypeError("astream_table needs async rows; use stream_table")
    if fmt is ExportFormat.xlsx:
        path = temporary_xlsx()
        try:
            sink = XlsxSink(table, path)
            index = 0
            async for row in rows:
                sink.add(check_row(table.columns, row, index))  # one row to a buffered temp file: cheap
                index += 1
            await asyncio.to_thread(sink.close)  # zipping the workbook takes a while: not on the loop
        except BaseException:
            os.unlink(path)
            raise
        try:
            file = await asyncio.to_thread(open, path, "rb")  # not on the loop: the disk may be slow
            try:
                while chunk := await asyncio.to_thread(file.read, CHUNK):
                    yield chunk
            finally:
                file.close()
        finally:
            os.unlink(path)
        return
    encoder = _encoder(table, fmt, dialect)
    buffer = bytearray(encoder.head())
    index = 0
    async for row in rows:
        buffer += encoder.row(check_row(table.columns, row, index))
        index += 1
        if len(buffer) >= CHUNK:
            yield bytes(buffer)
            buffer.clear()
    buffer += encoder.tail()
    yield bytes(buffer)


def file_name(name: str, fmt: ExportFormat, day: date | None = None) -> str:
    """`<name>-<date>.<ext>`, the name kept readable (å ä ö stay; anything a file system or a
    header could trip on becomes `-`)."""
    stem = re.sub(r"[^\w.-]+", "-", unicodedata.normalize("NFC", name), flags=re.UNICODE).strip("-.") or "export"
    return f"{stem[:100]}-{(day or school_today()).isoformat()}.{fmt.value}"


def content_disposition(filename: str) -> str:
    """RFC 6266: an ASCII fallback plus the UTF-8 name for clients that read `filename*`."""
    ascii_name = unicodedata.normalize("NFKD", filename).encode("ascii", "ignore").decode()
    ascii_name = re.sub(r'["\\\x00-\x1f\x7f]', "_", ascii_name) or "export"  # nothing that ends the quoted string
    return f"attachment; filename=\"{ascii_name}\"; filename*=UTF-8''{quote(filename)}"


def export_response(request: Request, table: Table, format: str | None = None, *,
                    dialect: str | None = None, day: date | None = None,
                    close: Callable[[], Awaitable[None]] | None = None) -> StreamingResponse:
    """Answer `request` with `table` in the format asked for (`format=` query parameter, then
    the `Accept` header); 422 for an unknown `format`, 406 for an unacceptable `Accept`. `close`: what the
    rows are read from (`ClosingStream`), closed once the answer is sent or the client is gone; the caller closes it
    where this raises (no answer)."""
    fmt = choose_format(format if format is not None else request.query_params.get("format"),
                        accept_of(request.headers))
    dialect = dialect or request.query_params.get("dialect") or "excel-sv"
    if dialect not in CSV_DIALECTS:
        raise RuleViolation("dialect", "csv_dialect", f"unknown CSV dialect {dialect!r}; use one of "
                            f"{', '.join(CSV_DIALECTS)}")
    body = astream_table(table, fmt, dialect) if isinstance(table.rows, AsyncIterable) else \
        stream_table(table, fmt, dialect)
    headers = {"Vary": "Accept"}
    if fmt is ExportFormat.json:
        if close is not None:  # read as it is sent: a database connection held for the answer
            return held_stream(request, body, media_type=MEDIA_TYPES[fmt], headers=headers, close=close)
        return ClosingStream(body, media_type=MEDIA_TYPES[fmt], headers=headers)
    headers["Content-Disposition"] = content_disposition(file_name(table.name, fmt, day))
    # a file (a workbook on disk, a CSV): at most `max_exports_in_flight` at once
    return held_stream(request, body, media_type=MEDIA_TYPES[fmt], headers=headers, close=close)


def held_stream(request: Request, body: AsyncIterable[bytes] | Iterable[bytes], *, media_type: str,
                headers: dict[str, str] | None = None,
                close: Callable[[], Awaitable[None]] | None = None) -> StreamingResponse:
    """A streamed answer holding one of the export slots (`export_slots`: 503 `overloaded` / 429 `client_in_flight`
    when none is free) until its last byte is sent or the client is gone: a file, or an answer sent as it is read
    (a student-level read in JSON), which holds a database connection and its transaction as long as its client
    takes to read it — unbounded, a few slow clients would hold the whole pool."""
    slots = export_slots(request)
    slots.take_or_refuse()
    return _HeldStream(slots, body, media_type=media_type, headers=headers, close=close)


def give_back(answer: Response) -> None:
    """An answer built (`held_stream`) but never sent, since what was to come before it failed (the commit of the
    read it answers): the export slot it holds given back, which only its sending would."""
    if isinstance(answer, _HeldStream):
        answer.slots.give()


async def _nothing() -> None:
    return None


class ClosingStream(StreamingResponse):
    """A streamed answer read from something the route opened and leaves open for it (a database session: a
    student-level read sent as it is read, `results.routes`): `close` is awaited once the last byte is sent, the
    client is gone or the sending failed, after the body is closed. Not left to the body's own `finally`: a client
    that leaves while a chunk is being sent leaves the body suspended at its `yield`, closed only when collected;
    and shielded, since a client's leaving cancels the sending task (or raises in it), and a cancelled close would
    leave the connection out of the pool."""

    def __init__(self, *args: object, close: Callable[[], Awaitable[None]] | None = None, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        self.close = close or _nothing

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            await super().__call__(scope, receive, send)
        finally:
            with anyio.CancelScope(shield=True):
                try:
                    closing = getattr(self.body_iterator, "aclose", None)
                    if closing is not None:
                        await closing()
                finally:
                    await self.close()


class _HeldStream(ClosingStream):
    """A streamed file holding one of `slots` until its last byte is sent (or the client is gone)."""

    def __init__(self, slots: ClientSlots, *args: object, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.slots = slots

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            await super().__call__(scope, receive, send)
        finally:
            self.slots.give()


__all__ = ["ClosingStream", "Row", "astream_table", "content_disposition", "export_response", "file_name", "give_back",
           "held_stream", "stream_table"]

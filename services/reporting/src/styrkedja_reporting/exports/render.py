"""Renderers: JSON, CSV and xlsx, each turning a table into a stream of bytes row by row.

* JSON: `{"columns": [...], "rows": [{key: value}, ...]}`; a withheld value is `null` and its
  reason is given in the row's `withheld` object (`{"share": "OMITTED_DUE_TO_BASED_ON_FEW_PUPILS"}`);
  a share shown as `~100` (the optional near-full rule) is `null` with the marker in the row's
  `approximately` object (`{"share": "~100"}`); CSV and xlsx write `~100`.
* CSV: UTF-8 with BOM (so Excel reads å ä ö), CRLF, header row first. The default dialect is the
  one Swedish Excel opens without an import dialog: `;` between fields and a decimal comma;
  `rfc4180` gives `,` and a decimal point. Shares are fractions (0,4567), as in JSON; a withheld
  value is `..`, no value is an empty field; a text starting with = + - @ gets a leading `'` so
  Excel never runs it as a formula.
* xlsx: XlsxWriter in constant-memory mode (one row in memory), header frozen, column widths
  set, numbers as numbers, shares in percent format, dates as dates, withheld values `..`. An
  xlsx file is a zip whose directory comes last, so it is written to a temporary file first and
  then streamed from it in chunks.
"""

from __future__ import annotations

import csv
import io
import json
import os
import tempfile
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any

import xlsxwriter

from styrkedja_kit.spreadsheet import csv_text

from .table import Approximately, Column, ColumnType, Row, Table, Withheld

WITHHELD_TEXT = ".."
BOM = "\ufeff".encode()
CHUNK = 64 * 1024


@dataclass(frozen=True)
class CsvDialect:
    delimiter: str
    decimal: str


CSV_DIALECTS = {"excel-sv": CsvDialect(";", ","), "rfc4180": CsvDialect(",", ".")}


class JsonEncoder:
    def __init__(self, columns: Sequence[Column]) -> None:
        self.columns = columns
        self.first = True

    def head(self) -> bytes:
        meta = [{"key": c.key, "header": c.header, "type": c.type.value} for c in self.columns]
        return b'{"columns":' + json.dumps(meta, ensure_ascii=False).encode() + b',"rows":['

    def row(self, values: Row) -> bytes:
        record: dict[str, Any] = {}
        withheld: dict[str, str] = {}
        approximately: dict[str, str] = {}
        for column, value in zip(self.columns, values, strict=True):
            if isinstance(value, Withheld):
                record[column.key] = None
                withheld[column.key] = value.reason
            elif isinstance(value, Approximately):
                record[column.key] = None
                approximately[column.key] = value.text
            else:
                record[column.key] = value.isoformat() if isinstance(value, date) else value
        if withheld:
            record["withheld"] = withheld
        if approximately:
            record["approximately"] = approximately
        separator = b"" if self.first else b","
        self.first = False
        return separator + json.dumps(record, ensure_ascii=False, allow_nan=False).encode()

    def tail(self) -> bytes:
        return b"]}"


class CsvEncoder:
    def __init__(self, columns: Sequence[Column], dialect: CsvDialect = CSV_DIALECTS["excel-sv"]) -> None:
        self.columns, self.dialect = columns, dialect
        self.buffer = io.StringIO()
        self.writer = csv.writer(self.buffer, delimiter=dialect.delimiter, lineterminator="\r\n")

    def _line(self, fields: Sequence[str]) -> bytes:
        self.writer.writerow(fields)
        line = self.buffer.getvalue()
        self.buffer.seek(0)
        self.buffer.truncate()
        return line.encode()

    def head(self) -> bytes:
        return BOM + self._line([csv_text(c.header) for c in self.columns])  # a header made from data too

    def field(self, column: Column, value: Any) -> str:
        if value is None:
            return ""
        if isinstance(value, Withheld):
            return WITHHELD_TEXT
        if isinstance(value, Approximately):
            return value.text
        if isinstance(value, date):
            return value.isoformat()
        if isinstance(value, float):
            return repr(value).replace(".", self.dialect.decimal)
        if column.type is ColumnType.text or isinstance(value, str):  # text in a column of another type too
            return csv_text(str(value))  # a name like "=HYPERLINK(…)" must not run as a formula in Excel
        return str(value)

    def row(self, values: Row) -> bytes:
        return self._line([self.field(c, v) for c, v in zip(self.columns, values, strict=True)])

    def tail(self) -> bytes:
        return b""


DEFAULT_WIDTH = {ColumnType.text: 24, ColumnType.integer: 10, ColumnType.number: 10, ColumnType.share: 10,
                 ColumnType.date: 12}


class XlsxSink:
    """Writes rows into an xlsx file at `path` holding one row in memory at a time. A sheet holds
    at most `max_rows` rows (Excel's limit, header included); further rows go on to a new sheet
    with the same header, named "<sheet> (2)", … — never silently dropped."""

    max_rows = 1_048_576
    max_text = 32_767  # Excel's limit on the characters in a cell

    def __init__(self, table: Table, path: str, *, max_rows: int | None = None) -> None:
        self.columns, self.name = table.columns, table.sheet
        self.max_rows = max_rows or self.max_rows
        self.workbook = xlsxwriter.Workbook(path, {"constant_memory": True, "tmpdir": os.path.dirname(path)})
        self.bold = self.workbook.add_format({"bold": True, "bottom": 1})
        self.formats = {
            ColumnType.share: self.workbook.add_format({"num_format": "0.0%"}),
            ColumnType.date: self.workbook.add_format({"num_format": "yyyy-mm-dd"}),
            ColumnType.number: self.workbook.add_format({"num_format": "0.0#"}),
            ColumnType.integer: self.workbook.add_format({"num_format": "0"}),
        }
        self.withheld = self.workbook.add_format({"align": "right"})
        self.sheets = 0
        self._new_sheet()

    def _new_sheet(self) -> None:
        self.sheets += 1
        suffix = f" ({self.sheets})" if self.sheets > 1 else ""
        self.sheet = self.workbook.add_worksheet(self.name[:31 - len(suffix)] + suffix)
        for index, column in enumerate(self.columns):
            width = column.width or max(len(column.header) + 2, DEFAULT_WIDTH[column.type])
            self.sheet.set_column(index, index, width)
        self.sheet.freeze_panes(1, 0)
        for index, column in enumerate(self.columns):
            self.sheet.write_string(0, index, column.header, self.bold)
        self.next_row = 1

    def add(self, values: Row) -> None:
        if self.next_row >= self.max_rows:
            self._new_sheet()
        r = self.next_row
        for c, (column, value) in enumerate(zip(self.columns, values, strict=True)):
            if value is None:
                continue
            if isinstance(value, Withheld):
                self.sheet.write_string(r, c, WITHHELD_TEXT, self.withheld)
            elif isinstance(value, Approximately):
                self.sheet.write_string(r, c, value.text, self.withheld)
            elif column.type is ColumnType.text or isinstance(value, str):  # text in a column of another type too
                self.sheet.write_string(r, c, value[:self.max_text])  # a string, never a formula
            elif column.type is ColumnType.date:
                self.sheet.write_datetime(r, c, value, self.formats[ColumnType.date])
            else:
                self.sheet.write_number(r, c, value, self.formats[column.type])
        self.next_row += 1

    def close(self) -> None:
        self.workbook.close()


def temporary_xlsx() -> str:
    handle, path = tempfile.mkstemp(prefix="styrkedja-export-", suffix=".xlsx")
    os.close(handle)
    return path


def file_chunks(path: str) -> Iterator[bytes]:
    """The file in chunks, removed afterwards (also when the client goes away mid-download)."""
    try:
        with open(path, "rb") as file:
            while chunk := file.read(CHUNK):
                yield chunk
    finally:
        os.unlink(path)

"""CSV and xlsx of a table the dashboard shows, until reporting serves the same table itself
(then the download link points at reporting's `format=csv|xlsx` and this goes)."""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Collection
from typing import Any

import xlsxwriter
from starlette.responses import Response

from styrkedja_kit.days import school_today
from styrkedja_kit.spreadsheet import csv_text

from .shapes import flat, number, shown

#: what a download's name may hold: a name is built from values others chose (the report's period is reporting's,
#: an organiser id the identity provider's), and a header is no place for a quote, a line break or a non-Latin-1
#: character (the first ends the name early and starts a parameter of the sender's choosing, the second a header of
#: its choosing, the third was a 500 where Starlette encodes the header)
_UNSAFE_IN_NAME = re.compile(r"[^A-Za-z0-9._-]+")


def attachment_header(filename: str) -> str:
    """`attachment; filename="…"` for any name: each run of characters outside `A-Za-z0-9._-` one `-`, at most 150
    characters (the extension kept)."""
    stem, dot, ext = filename.rpartition(".")
    stem, ext = (stem, ext) if dot else (filename, "")
    safe_stem = _UNSAFE_IN_NAME.sub("-", stem).strip("-.")[:150] or "fil"
    safe_ext = _UNSAFE_IN_NAME.sub("", ext)[:8]
    return f'attachment; filename="{safe_stem}{"." + safe_ext if safe_ext else ""}"'


def _name(stem: str, ext: str) -> str:
    return f"{stem}-{school_today().isoformat()}.{ext}"


def csv_value(value: Any) -> str | int:
    """One CSV cell: a float with a decimal comma (none for NaN, infinity or beyond `shapes.LARGEST`), an integer as it is, text formula-safe (`csv_text`); a list
    or an object (a service's nested value) as `a; b` / `k: v` (`shapes.flat`) with every text inside made
    formula-safe too, never Python's `['a', 'b']`; null as an empty cell."""
    if isinstance(value, float):
        # NaN and infinity (Python's JSON reader takes `-Infinity` from a service) are no figure: an empty cell, as
        # the page shows a dash. Written as `-inf` it began with `-` and a spreadsheet read the cell as a formula
        return str(value).replace(".", ",") if number(value) is not None else ""
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if isinstance(value, str):
        return csv_text(shown(value))
    return csv_text(shown(flat(value, leaf=csv_text)))


def csv_response(stem: str, header: list[str], rows: list[list[Any]]) -> Response:
    """Swedish Excel's dialect: `;`, decimal comma, UTF-8 with BOM; withheld stays `..`; text that a
    spreadsheet would run as a formula (an alert's comment `=HYPERLINK(...)`) gets a leading `'`."""
    out = io.StringIO()
    writer = csv.writer(out, delimiter=";", lineterminator="\r\n")
    writer.writerow([csv_value(h) for h in header])
    for row in rows:
        writer.writerow([csv_value(v) for v in row])
    return Response(("\ufeff" + out.getvalue()).encode(), media_type="text/csv; charset=utf-8",
                    headers={"Content-Disposition": attachment_header(_name(stem, "csv"))})


def xlsx_response(stem: str, header: list[str], rows: list[list[Any]], *,
                  share_columns: bool | Collection[int] = True) -> Response:
    """`share_columns`: the columns whose numbers are shares (0.25 shown as 25,0 %), every float's when True;
    any other number is written as it is (a change of -12.5 percentage points is -12.5, not -1250 %)."""
    buffer = io.BytesIO()
    book = xlsxwriter.Workbook(buffer, {"in_memory": True})
    sheet = book.add_worksheet("Tabell")
    bold = book.add_format({"bold": True})
    percent = book.add_format({"num_format": "0.0%"})
    for c, name in enumerate(header):
        sheet.write_string(0, c, shown(name), bold)
    sheet.freeze_panes(1, 0)
    for r, row in enumerate(rows, start=1):
        for c, value in enumerate(row):
            if isinstance(value, float) and number(value) is not None and (share_columns is True or (
                    not isinstance(share_columns, bool) and c in share_columns)):
                sheet.write_number(r, c, value, percent)
            elif isinstance(value, str):
                sheet.write_string(r, c, shown(value))  # never a formula, whatever the text starts with
            elif number(value) is not None:
                sheet.write_number(r, c, value)
            elif value is not None and not isinstance(value, float):  # NaN/infinity: an empty cell, as on the page
                sheet.write_string(r, c, shown(flat(value)))  # a list or object as `a; b`: xlsxwriter's write() raised
    sheet.set_column(0, len(header) - 1, 16)
    book.close()
    return Response(buffer.getvalue(),
                    media_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
                    headers={"Content-Disposition": attachment_header(_name(stem, "xlsx"))})

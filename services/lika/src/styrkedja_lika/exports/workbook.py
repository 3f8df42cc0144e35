"""The xlsx workbook of a self-assessment and its action plan (pure: data in, bytes out).

Unlike SKR's own export, ours keeps the comments of every rating and the notes of the plan. Column
headers are Swedish. Text typed by people is always written as text, never as a formula, so a
comment such as `=HYPERLINK(...)` cannot run in the reader's Excel."""

from __future__ import annotations

import io
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from openpyxl import Workbook
from openpyxl.styles import Alignment, Font
from openpyxl.worksheet.worksheet import Worksheet

RATING_HEADERS = ("Område", "Indikator", "Benämning", "Värdering", "Kommentar")
PLAN_HEADERS = ("Ordning", "Aktivitet", "Benämning", "Indikator", "Område", "Nuvarande värdering", "Prioritet",
                "Status", "Ansvarig", "Klart senast", "Föreslagen termin", "Taggar", "Anteckning")
STATUS_LABELS = {"planned": "Planerad", "in_progress": "Pågår", "done": "Klar", "dropped": "Avbruten"}
_WIDTHS = {"Kommentar": 60, "Anteckning": 60, "Benämning": 50}
#: what a spreadsheet reads as an escaped character in a cell's text (ECMA-376 ST_Xstring: `_x0041_` is "A", `_x000D_`
#: a carriage return), which openpyxl writes as it is: a comment holding one showed another text in Excel and
#: LibreOffice than the one typed. Its underscore written as `_x005F_` keeps it as typed.
_ESCAPE_LIKE = re.compile(r"_(?=x[0-9A-Fa-f]{4}_)")


def as_typed(text: str) -> str:
    """`text` as a cell's text that a spreadsheet shows as typed (see `_ESCAPE_LIKE`)."""
    return _ESCAPE_LIKE.sub("_x005F_", text) if "_x" in text else text


@dataclass(frozen=True)
class Sheet:
    title: str
    about: Sequence[tuple[str, Any]]
    headers: Sequence[str]
    rows: Sequence[Sequence[Any]]


def _write(ws: Worksheet, sheet: Sheet) -> None:
    bold = Font(bold=True)
    for label, value in sheet.about:
        ws.append([label, value])
        ws.cell(ws.max_row, 1).font = bold
    if sheet.about:
        ws.append([])
    ws.append(list(sheet.headers))
    header_row = ws.max_row
    for cell in ws[header_row]:
        cell.font = bold
    for row in sheet.rows:
        ws.append(list(row))
    for row_cells in ws.iter_rows():
        for cell in row_cells:
            if isinstance(cell.value, str):
                cell.value = as_typed(cell.value)
                cell.data_type = "s"  # never a formula, whatever the text starts with
    wrap = Alignment(wrap_text=True, vertical="top")
    for n, header in enumerate(sheet.headers, start=1):
        letter = ws.cell(header_row, n).column_letter
        ws.column_dimensions[letter].width = _WIDTHS.get(header, max(12, len(header) + 2))
        if header in _WIDTHS:
            for (cell,) in ws.iter_rows(min_row=header_row + 1, min_col=n, max_col=n):
                cell.alignment = wrap
    ws.freeze_panes = ws.cell(header_row + 1, 1)
    ws.auto_filter.ref = f"A{header_row}:{ws.cell(header_row, len(sheet.headers)).column_letter}{ws.max_row}"


def workbook_bytes(sheets: Sequence[Sheet]) -> bytes:
    wb = Workbook()
    assert wb.active is not None
    wb.remove(wb.active)
    for sheet in sheets:
        _write(wb.create_sheet(sheet.title[:31]), sheet)
    out = io.BytesIO()
    wb.save(out)
    return out.getvalue()


def plan_rows(items: Sequence[Mapping[str, Any]], area_labels: Mapping[str, str],
              rating_labels: Mapping[str, str]) -> list[list[Any]]:
    return [[i["position"], i["activity_id"], i["title"], i["indicator_id"], area_labels.get(i["area"], i["area"]),
             rating_labels.get(i["current_rating"], i["current_rating"]), i["priority"],
             STATUS_LABELS.get(i["status"], i["status"]), i["owner"], i["due_date"], i["suggested_term"],
             ", ".join(i["tags"]), i["note"]] for i in items]

"""Text that people typed, in a file a spreadsheet opens (OWASP "CSV injection"): a cell whose text
starts with `=`, `+`, `-`, `@`, a tab or a carriage return is a formula to Excel and LibreOffice —
`=HYPERLINK("https://evil.example","klicka")` in an alert's comment would become a live link, a
`=cmd|...` a command. Every CSV and xlsx the services and the dashboard write goes through here:

* CSV: such a text gets a leading `'` (`csv_text`), which the spreadsheet shows as text;
* xlsx: text is written as a string cell (`write_string`, never `write`), whatever it starts with.
"""

from __future__ import annotations

from typing import Any

#: what makes a spreadsheet read a cell's text as a formula
FORMULA_STARTS = frozenset("=+-@\t\r")


def csv_text(value: str) -> str:
    """`value` for a CSV cell: never read as a formula."""
    return "'" + value if value[:1] in FORMULA_STARTS else value


def csv_cell(value: Any) -> Any:
    """Any cell value for a CSV writer: text made safe (`csv_text`), anything else as it is."""
    return csv_text(value) if isinstance(value, str) else value

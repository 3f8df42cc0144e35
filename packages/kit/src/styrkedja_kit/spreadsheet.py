"""Text that people typed, in a file a spreadsheet opens (OWASP "CSV injection"): a cell whose text
starts with `=`, `+`, `-`, `@`, a tab or a carriage return is a formula to Excel and LibreOffice —
`=HYPERLINK("https://evil.example","klicka")` in an alert's comment would become a live link, a
`=cmd|...` a command. Every CSV and xlsx the services and the dashboard write goes through here:

* CSV: such a text gets a `'` (`csv_text`), which the spreadsheet shows as text — at its start, and
  wherever inside it a spreadsheet may start a cell (see `CELL_BREAKS`);
* xlsx: text is written as a string cell (`write_string`, never `write`), whatever it starts with.
"""

from __future__ import annotations

import re
from typing import Any

#: what makes a spreadsheet read a cell's text as a formula
FORMULA_STARTS = frozenset("=+-@\t\r")
#: where a spreadsheet may start a new cell inside a CSV text: after its locale's list separator (`;` in a
#: Swedish Excel, `,` in an English one, a tab in an import), which need not be the file's, and after a line
#: break. Quoting does not keep such a text in one cell: `"Mat,@SUM(A1)"` in a `;` file, split at `,` by an
#: English Excel, opens a cell `@SUM(A1)"` — a formula. Quotes right after the break are a quoted field's
CELL_BREAKS = ",;\t\r\n"
_STARTS = "[" + re.escape("".join(sorted(FORMULA_STARTS))) + "]"
_ANY_START = re.compile(_STARTS)
_FORMULA_AT_A_CELL_START = re.compile("(?:^|(?<=[" + CELL_BREAKS + "]))(\"*)(?=" + _STARTS + ")")


def csv_text(value: str) -> str:
    """`value` for a CSV cell: never read as a formula, by a spreadsheet splitting at any separator."""
    if _ANY_START.search(value) is None or _FORMULA_AT_A_CELL_START.search(value) is None:
        return value  # most text: nothing that could start a formula, or not where a cell could start
    return _FORMULA_AT_A_CELL_START.sub(r"\1'", value)


def csv_cell(value: Any) -> Any:
    """Any cell value for a CSV writer: text made safe (`csv_text`), anything else as it is."""
    return csv_text(value) if isinstance(value, str) else value

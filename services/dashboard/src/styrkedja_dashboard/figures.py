"""Pure: reporting's table JSON (`{"columns": [...], "rows": [...]}`) → values that keep a withheld
figure withheld, with its reason. Tolerant of where the service puts the reason: the row's
`withheld` (or `reasons`) object, a `{"value": …, "reason": …}` figure, or a `<key>_reason` field."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from .clients import UpstreamError
from .shapes import text

WITHHELD = "OMITTED_DUE_TO_BASED_ON_FEW_PUPILS"


@dataclass(frozen=True)
class Value:
    value: Any
    reason: str | None = None  # a reason code other than EXISTS

    @property
    def withheld(self) -> bool:
        return self.value is None and self.reason is not None and self.reason != "MISSING"

    @property
    def missing(self) -> bool:
        return self.value is None and not self.withheld


def value_of(row: dict[str, Any], key: str) -> Value:
    raw: Any = row.get(key)
    reason: Any = None
    if isinstance(raw, dict):
        raw, reason = raw.get("value"), raw.get("reason")
    for holder in ("withheld", "reasons", "reason"):
        found = row.get(holder)
        if isinstance(found, dict) and found.get(key):
            reason = reason or found.get(key)
    reason = reason or row.get(f"{key}_reason")
    if reason == "EXISTS":
        reason = None
    if raw is None and reason is None and isinstance(row.get("withheld"), list) and key in row["withheld"]:
        reason = WITHHELD
    return Value(raw, str(reason) if reason else None)


@dataclass(frozen=True)
class Column:
    key: str
    header: str
    type: str


@dataclass
class FigureTable:
    columns: list[Column]
    rows: list[dict[str, Value]]

    def column(self, key: str) -> Column | None:
        return next((c for c in self.columns if c.key == key), None)

    def keyed(self, *keys: str) -> dict[tuple[Any, ...], dict[str, Value]]:
        return {tuple(r[k].value for k in keys): r for r in self.rows}


class Row(dict[str, Value]):
    """A table row: a column the service left out reads as missing (`Value(None)`), never a KeyError."""

    def __missing__(self, key: str) -> Value:
        return Value(None)


def figure_table(body: Any, service: str = "reporting") -> FigureTable:
    """Either the table JSON or a bare list of row objects (a table without `rows` has none). Anything else (rows
    that are no list of objects, columns that are no list, a number or text for the table) is nonsense from the
    service: a 502 naming it. A column without a key is left out; a header or type of another type reads as the
    key and as text; a row without a column's key reads as missing (`Row`)."""
    if isinstance(body, dict):
        raw_columns, raw_rows = body.get("columns", []), body.get("rows", [])
    else:
        raw_columns, raw_rows = [], body
    if (not isinstance(raw_rows, list) or not all(isinstance(r, dict) for r in raw_rows)
            or not isinstance(raw_columns, list)):
        raise UpstreamError(service, 502, "en tabell väntades", unreadable=True)
    columns = [Column(c["key"], text(c.get("header")) or c["key"], c["type"] if isinstance(c.get("type"), str)
                      else "text") for c in raw_columns if isinstance(c, dict) and isinstance(c.get("key"), str)]
    if not columns and raw_rows:
        columns = [Column(k, k, "text") for k in raw_rows[0] if k not in ("withheld", "reasons")]
    rows = [Row({c.key: value_of(r, c.key) for c in columns}) for r in raw_rows]
    return FigureTable(columns, list(rows))


BANDS = {"green": ("grön", "Färskt underlag"), "yellow": ("gul", "Underlaget börjar bli gammalt"),
         "red": ("röd", "Gammalt underlag")}
BAND_ORDER = {"green": 0, "yellow": 1, "red": 2}


def arrow(change: float | None) -> tuple[str, str]:
    """A trend arrow and its words (change in share, 0–1; a point or less counts as unchanged)."""
    if change is None:
        return "", ""
    if change > 0.01:
        return "↑", "ökning"
    if change < -0.01:
        return "↓", "minskning"
    return "→", "oförändrat"

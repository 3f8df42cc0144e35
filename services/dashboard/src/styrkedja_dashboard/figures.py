"""Pure: reporting's table JSON (`{"columns": [...], "rows": [...]}`) → values that keep a withheld
figure withheld, with its reason. Tolerant of where the service puts the reason: the row's
`withheld` (or `reasons`) object, a `{"value": …, "reason": …}` figure, or a `<key>_reason` field."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

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


def figure_table(body: Any) -> FigureTable:
    """Either the table JSON or a bare list of row objects."""
    if isinstance(body, dict):
        columns = [Column(c["key"], c.get("header", c["key"]), c.get("type", "text")) for c in body.get("columns", [])]
        raw_rows = body.get("rows", [])
    else:
        raw_rows, columns = list(body or []), []
    if not columns and raw_rows:
        columns = [Column(k, k, "text") for k in raw_rows[0] if k not in ("withheld", "reasons")]
    rows = [{c.key: value_of(r, c.key) for c in columns} for r in raw_rows]
    return FigureTable(columns, rows)


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

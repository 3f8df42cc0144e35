"""The one table model every export renders: typed columns and rows as an iterator, so a table
of any size is produced row by row and never held in memory."""

from __future__ import annotations

import math
from collections.abc import AsyncIterable, Iterable, Sequence
from dataclasses import dataclass
from datetime import date
from enum import StrEnum
from typing import Any

# Skolverket's reason code for a figure based on too few pupils (DESIGN.md invariant 5)
FEW_PUPILS = "OMITTED_DUE_TO_BASED_ON_FEW_PUPILS"


class ColumnType(StrEnum):
    text = "text"
    integer = "integer"
    number = "number"  # e.g. a mean merit value
    share = "share"  # a fraction 0–1: a number in JSON and CSV, a percentage in xlsx
    date = "date"


@dataclass(frozen=True)
class Withheld:
    """A value the disclosure rules withhold: `..` in CSV and xlsx, `null` with the reason in JSON."""

    reason: str = FEW_PUPILS


@dataclass(frozen=True)
class Approximately:
    """A share shown only approximately (the optional `~100` rule: 1–4 students not reaching the
    pass level): `~100` in CSV and xlsx; `null` in JSON with the marker in the row's `approximately`
    object (`{"share_reaching_pass": "~100"}`)."""

    text: str = "~100"


@dataclass(frozen=True)
class Ratio:
    """A share column's counts: `numerator` over the sum of the `denominator` columns. `numerator` None: its count is
    no column of the table (a gender part's students reaching the pass level), and is the share times the
    denominator (shares are kept to 4 decimals: the count exactly, below 5,000 students)."""

    numerator: str | None
    denominator: tuple[str, ...]


@dataclass(frozen=True)
class Difference:
    """A column that is one column of the row less another (a change, a gender gap)."""

    minuend: str
    subtrahend: str


@dataclass(frozen=True)
class Column:
    key: str  # the JSON field name
    header: str  # the CSV/xlsx header, Swedish allowed
    type: ColumnType = ColumnType.text
    width: int | None = None  # xlsx column width in characters; default from header and type
    # what a derived figure is computed from, for the disclosure rules to compute it again from the counts as shown
    # where they round them (`access.guard.withhold_small`); a share or number column without it is withheld there
    of: Ratio | Difference | None = None


Row = Sequence[Any]  # one value per column, in column order; None = no value


@dataclass(frozen=True)
class Table:
    name: str  # used for the file name, e.g. "resultat-2120000000-VT-2026-27"
    columns: Sequence[Column]
    rows: Iterable[Row] | AsyncIterable[Row]
    sheet: str = "Resultat"  # the xlsx sheet name (at most 31 characters)


def _finite_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def check_row(columns: Sequence[Column], row: Row, index: int) -> Row:
    """A row must have one value per column and each value must fit its type: a programming
    error in the producing route, so a ValueError (never silently a wrong export)."""
    if len(row) != len(columns):
        raise ValueError(f"row {index} has {len(row)} values for {len(columns)} columns")
    for column, value in zip(columns, row, strict=True):
        if value is None or isinstance(value, Withheld | Approximately):
            continue
        ok = {
            ColumnType.text: isinstance(value, str),
            ColumnType.integer: isinstance(value, int) and not isinstance(value, bool),
            ColumnType.number: _finite_number(value),
            ColumnType.share: _finite_number(value),
            ColumnType.date: isinstance(value, date),
        }[column.type]
        if not ok:
            raise ValueError(f"row {index}, column {column.key!r}: {value!r} is not a {column.type}")
    return row

"""Pure: result cells from reporting → a table of units × subjects (no I/O, no rules: a figure
the service withheld stays withheld, with its reason)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from styrkedja_contracts.subjects import subject_name  # the contracts' list; an unknown code shows as itself

from ..figures import WITHHELD
from ..formats import figure
from ..shapes import number, text

LEVEL_NAMES = {"organiser": "Huvudman", "area": "Område", "school_unit": "Skolenhet", "group": "Grupp",
               "student": "Elev"}
NEXT_LEVEL = {"organiser": "school_unit", "school_unit": "group"}


@dataclass
class Cell:
    share: float | None
    reason: str | None
    assessed: float | None
    reaching_pass: float | None

    @property
    def withheld(self) -> bool:
        return self.share is None and self.reason is not None


@dataclass
class Row:
    unit_id: str
    cells: dict[str, Cell] = field(default_factory=dict)


@dataclass
class Matrix:
    level: str
    subjects: list[str]
    rows: list[Row]
    cells: list[dict[str, Any]] = field(default_factory=list)  # as the service sent them


def _merge(cells: list[dict[str, Any]]) -> dict[str, Any]:
    """Cells of one unit and subject over several rounds/kinds/scales: the newest round counts."""
    return max(cells, key=lambda c: (text(c.get("school_year")) or "", c.get("term") == "VT", number(c.get("round")) or 0))


def matrix(level: str, cells: list[dict[str, Any]], *, key: str = "unit_id") -> Matrix:
    """Rows by `key` (`unit_id`, or `year` for one unit split by year), a column per subject."""
    by_unit: dict[str, dict[str, list[dict[str, Any]]]] = {}
    for cell in cells:
        unit, subject = text(cell.get(key)), text(cell.get("subject_code"))
        if unit is not None and subject is not None:  # a cell that names no unit or subject has no place in the table
            by_unit.setdefault(unit, {}).setdefault(subject, []).append(cell)
    subjects = sorted({s for found in by_unit.values() for s in found}, key=subject_name)
    rows = []
    for unit_id in sorted(by_unit, key=lambda k: (len(k), k) if key == "year" else (0, k)):
        row = Row(unit_id)
        for subject, found in by_unit[unit_id].items():
            chosen = _merge(found)
            share, reason = figure(chosen.get("share_reaching_pass"))
            withheld = chosen.get("withheld")
            reason = reason or (text(withheld.get("share_reaching_pass")) if isinstance(withheld, dict) else None)
            if share is None and chosen.get("reason") == WITHHELD:  # the cell's own reason (Skolverket's code)
                reason = WITHHELD
            assessed, _ = figure(chosen.get("assessed"))
            passing, _ = figure(chosen.get("reaching_pass"))
            # a share that is no number (text, a list: another version, or a hostile one) is no figure: a dash
            row.cells[subject] = Cell(number(share), reason, number(assessed), number(passing))
        rows.append(row)
    return Matrix(level, subjects, rows, cells)


def table(m: Matrix) -> tuple[list[str], list[list[Any]]]:
    """Header and rows for CSV/xlsx: the share, or `..` where the service withheld it."""
    header = [LEVEL_NAMES.get(m.level, m.level)] + [subject_name(s) for s in m.subjects]
    rows: list[list[Any]] = []
    for row in m.rows:
        values: list[Any] = [row.unit_id]
        for subject in m.subjects:
            cell = row.cells.get(subject)
            values.append(None if cell is None else (".." if cell.withheld else cell.share))
        rows.append(values)
    return header, rows

"""Pure: the chain table's extra figures — trend arrow and gender gap per cell, freshness badge
and coverage per unit — from reporting's figure tables (withheld stays withheld)."""

from __future__ import annotations

from dataclasses import dataclass

from ..figures import BAND_ORDER, FigureTable, Value, arrow
from ..shapes import number


@dataclass
class CellExtra:
    change: Value
    gap: Value

    @property
    def arrow(self) -> tuple[str, str]:
        return arrow(number(self.change.value))


@dataclass
class UnitExtra:
    band: str | None = None
    newest: str | None = None
    withheld_freshness: bool = False
    coverage_low: float | None = None
    coverage_high: float | None = None
    coverage_withheld: bool = False
    coverage_unknown: bool = False


def cell_extras(trend: FigureTable | None, gap: FigureTable | None) -> dict[tuple[str, str], CellExtra]:
    """Per (unit, subject). Where a unit has several years the service's cells are per year: the
    change is then shown only if every year's figure is (the per-year figures are on the unit page)."""
    out: dict[tuple[str, str], CellExtra] = {}
    by_cell: dict[tuple[str, str], list[dict[str, Value]]] = {}
    for row in trend.rows if trend else []:
        by_cell.setdefault((str(row["unit_id"].value), str(row["subject_code"].value)), []).append(row)
    for key, rows in by_cell.items():
        out[key] = CellExtra(_one_of(rows, "change"), Value(None))
    gaps: dict[tuple[str, str], list[dict[str, Value]]] = {}
    for row in gap.rows if gap else []:
        gaps.setdefault((str(row["unit_id"].value), str(row["subject_code"].value)), []).append(row)
    for key, rows in gaps.items():
        out.setdefault(key, CellExtra(Value(None), Value(None))).gap = _one_of(rows, "gap")
    return out


def _one_of(rows: list[dict[str, Value]], key: str) -> Value:
    """A cell's figure from its years' rows: the one row's; of several, withheld where any year's is (the cell's
    figure rests on it: reporting withholds a change or gap whose cells are), else none (per year on the unit page).
    The gap of several years read as no figure where the change read `..`."""
    if len(rows) == 1:
        return rows[0].get(key, Value(None))
    withheld = next((r[key] for r in rows if r.get(key, Value(None)).withheld), None)
    return Value(None, withheld.reason) if withheld is not None else Value(None)


def unit_extras(freshness: FigureTable | None, coverage: FigureTable | None) -> dict[str, UnitExtra]:
    """Per unit: the worst freshness band of its cells (the stalest subject decides), and the range
    of coverage over its subjects."""
    out: dict[str, UnitExtra] = {}
    for row in freshness.rows if freshness else []:
        extra = out.setdefault(str(row["unit_id"].value), UnitExtra())
        band = row.get("band", Value(None))
        if band.withheld:
            extra.withheld_freshness = True
        # a band this dashboard does not know (another version of reporting, or a hostile one) is no badge:
        # the page looks its name up in BANDS
        elif isinstance(band.value, str) and band.value in BAND_ORDER and BAND_ORDER[band.value] >= BAND_ORDER.get(extra.band or "", -1):
            extra.band = band.value
            newest = row.get("newest", Value(None)).value
            extra.newest = newest if isinstance(newest, str) else extra.newest
    for row in coverage.rows if coverage else []:
        extra = out.setdefault(str(row["unit_id"].value), UnitExtra())
        share = row.get("share", Value(None))
        found = number(share.value)
        if share.withheld:
            extra.coverage_withheld = True
        elif found is not None:
            extra.coverage_low = min(found, extra.coverage_low if extra.coverage_low is not None else 9.0)
            extra.coverage_high = max(found, extra.coverage_high or 0.0)
        else:
            extra.coverage_unknown = True
    return out

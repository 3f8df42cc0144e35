"""Rules of the directory. Pure: no I/O."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

Row = dict[str, Any]


def unit_scope(unit_type: str, school_unit_code: str | None) -> str:
    """Group ids are scoped by school unit (two schools may both have a "7A"); other ids by organiser."""
    return (school_unit_code or "") if unit_type == "group" else ""


def newest(changes: Iterable[tuple[tuple[Any, ...], Row]]) -> dict[tuple[Any, ...], Row]:
    """Key → the newest change of the batch (`updated_at`); at the same time a removal wins,
    so the outcome does not depend on the order events arrive in."""
    out: dict[tuple[Any, ...], Row] = {}
    for key, row in changes:
        held = out.get(key)
        if held is None or (row["updated_at"], row["removed"]) > (held["updated_at"], held["removed"]):
            out[key] = row
    return out


def moves(before: Mapping[str, str | None], after: Mapping[str, str | None]) -> list[tuple[str, str | None, str | None]]:
    """(school unit code, old area, new area) of every school unit whose area changed."""
    return sorted((code, before.get(code), area) for code, area in after.items() if before.get(code) != area)

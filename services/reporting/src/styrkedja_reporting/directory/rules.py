"""Rules of the directory. Pure: no I/O."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from styrkedja_contracts.identifiers import canonical_organiser_id

Row = dict[str, Any]


def organiser_spelt(unit_id: str | None, organiser_id: str) -> str | None:
    """A unit id that spells the event's own organiser (its organiser unit's id, or a parent id naming it) in
    the organiser's kept spelling: a producer that wrote `2120001234` for the organiser `212000-1234` names one
    unit, so the tree's root, the figures' organiser cells and every query name it alike. Other ids as they are
    (an area or a school unit is never spelt as its organiser)."""
    if unit_id is None or unit_id == organiser_id:
        return unit_id
    return organiser_id if canonical_organiser_id(unit_id) == organiser_id else unit_id


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

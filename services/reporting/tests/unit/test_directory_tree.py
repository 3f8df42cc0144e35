"""The directory's tree (`directory.routes._tree`), a pure function of the held units: every held unit is in it."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

from pydantic import TypeAdapter

from styrkedja_reporting.directory.routes import Unit, _tree
from styrkedja_reporting.directory.rules import MAX_TREE_DEPTH


def _row(unit_type: str, unit_id: str, parent_id: str | None, code: str | None = None, scope: str = "") -> Any:
    return SimpleNamespace(unit_type=unit_type, unit_id=unit_id, organiser_id="2999", parent_id=parent_id,
                           name=unit_id, school_unit_code=code, year=None, roster_size=None, scope=scope)


def _shape(units: list[Unit]) -> list[tuple[str, list[Any]]]:
    return [(u.unit_id, _shape(u.children)) for u in units]


def test_units_whose_parents_lead_back_to_themselves_are_roots_not_left_out() -> None:
    """Failed on the old code: the answer was `[("2999", [("north", [("north-sub", [])])])]`: the area that named
    itself its parent, its school unit and group, and the two areas each naming the other (with the one below them)
    hung under no root and were left out of the tree without a word."""
    rows = [_row("organiser", "2999", None), _row("area", "north", "2999"), _row("area", "north-sub", "north"),
            _row("area", "self", "self"), _row("school_unit", "su-self", "self", code="29990011"),
            _row("group", "7A", "su-self", code="29990011", scope="29990011"),
            _row("area", "east", "west"), _row("area", "west", "east"), _row("area", "below-west", "west")]
    assert _shape(_tree(rows)) == [
        ("2999", [("north", [("north-sub", [])])]),
        ("self", [("su-self", [("7A", [])])]),
        ("east", []), ("west", [("below-west", [])]),
    ]



def test_a_chain_of_areas_deeper_than_the_bound_is_cut_into_roots_and_the_answer_serialises() -> None:
    """Failed on the old code: 300 areas each under the one before were nested 300 deep, past what pydantic serialises
    (`Maximum serialization depth exceeded`: a 500 for every read of the tree)."""
    chain = [_row("organiser", "2999", None)] + [_row("area", f"a{n}", f"a{n - 1}" if n else "2999") for n in range(300)]
    roots = _tree(chain)
    TypeAdapter(list[Unit]).dump_json(roots)  # raised on the old code
    held: list[str] = []

    def depth(unit: Unit) -> int:
        held.append(unit.unit_id)
        return 1 + max((depth(child) for child in unit.children), default=-1)

    assert max(depth(root) for root in roots) == MAX_TREE_DEPTH
    assert sorted(held) == sorted(row.unit_id for row in chain)  # every unit, once
    assert [r.unit_id for r in roots] == ["2999", "a32", "a65", "a98", "a131", "a164", "a197", "a230", "a263", "a296"]

"""One place per unit row (`access.scope.node_of_unit`): the directory's tree and the alerts judge a unit of the same
place by the same `Node`, so a reader reads a unit's roster size where it reads its alerts (round 24: each turned
its rows into places by its own copy of the same rules)."""

from __future__ import annotations

from types import SimpleNamespace

from styrkedja_kit.auth import Level, Node
from styrkedja_reporting.alerts.read_scope import node_of_alert

PLACED = {"29990011": ("2999", "north")}


def _alert(level: str, unit_id: str, code: str | None = None) -> SimpleNamespace:
    return SimpleNamespace(level=level, organiser_id="2999", unit_id=unit_id, school_unit_code=code)


def test_the_tree_and_the_alerts_place_a_unit_alike() -> None:
    from styrkedja_reporting.access.scope import node_of_unit  # the one helper (absent before: two copies)

    # (level, the directory row's unit id, the alert's unit id, the school unit code) → the node
    expected = {
        Level.ORGANISER: ("2999", "2999", None, Node(Level.ORGANISER, organiser_id="2999")),
        Level.AREA: ("north", "north", None, Node(Level.AREA, organiser_id="2999", area_id="north")),
        Level.SCHOOL_UNIT: ("su-source-id", "29990011", "29990011", Node(
            Level.SCHOOL_UNIT, organiser_id="2999", area_id="north", school_unit_code="29990011")),
        Level.GROUP: ("7A", "29990011:7A", "29990011", Node(
            Level.GROUP, organiser_id="2999", area_id="north", school_unit_code="29990011", group_id="7A")),
    }
    for level, (unit_id, alert_unit_id, code, node) in expected.items():
        tree = node_of_unit(level, "2999", PLACED, area_id=unit_id, school_unit_code=code, group_id=unit_id)
        assert tree == node == node_of_alert(_alert(level.name.lower(), alert_unit_id, code), PLACED), level

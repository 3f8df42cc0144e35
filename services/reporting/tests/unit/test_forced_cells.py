"""A cell withheld whatever its size (`access.disclosure.disclose`'s `forced`), with its complements; and which
below-pass cells the support decision forces (`support.disclose.below_forced`, privacy round 29: the results' students
below the pass level less the shown count of those without support gave a withheld count of supported students)."""

from __future__ import annotations

from styrkedja_kit.auth import Level
from styrkedja_reporting.access.complement import TOTAL, TreeDecision, tree_key, unit_of
from styrkedja_reporting.access.decision import ComponentRows, decide_counts
from styrkedja_reporting.access.disclosure import Cell, DisclosureRules, Partition, disclose
from styrkedja_reporting.support.disclose import below_forced, family_rows

EVERY = frozenset(Level)
CELLS = {"org": Cell(Level.ORGANISER, 55), "north": Cell(Level.AREA, 25), "south": Cell(Level.AREA, 20),
         "east": Cell(Level.AREA, 10)}
SPLIT = [Partition("org", ("north", "south", "east"))]


def test_a_forced_cell_is_withheld_with_a_complement_whatever_its_size():
    assert disclose(CELLS, SPLIT, suppressed=EVERY).withheld == frozenset()  # every cell large: none withheld
    decision = disclose(CELLS, SPLIT, suppressed=EVERY, forced={"north"})
    assert "north" in decision.withheld and len(decision.withheld - {"org"}) >= 2  # org − the others gives no north


def test_a_forced_cell_at_a_level_the_reader_sees_exactly_is_shown():
    assert disclose(CELLS, SPLIT, suppressed={Level.ORGANISER}, forced={"north"}).withheld == frozenset()


def _active(north: int) -> TreeDecision:
    rows = ComponentRows()
    every = {"area": {("2999", "north", None): north, ("2999", "south", None): 12, ("2999", "east", None): 15},
             "organiser": {("2999", "2999", None): north + 27}}
    family_rows("active", every, None, rows)
    family_rows("active", every, "GRGRMAT01", rows)
    return decide_counts(rows, {}, EVERY, DisclosureRules())


def _below() -> ComponentRows:
    rows = ComponentRows()
    every = {"area": {("2999", "north", "GRGRMAT01"): 22, ("2999", "north", None): 22}}
    family_rows("below", every, None, rows)
    family_rows("below", every, "GRGRMAT01", rows)
    return rows


def test_the_below_pass_cells_of_a_unit_whose_supported_students_are_withheld_are_forced():
    forced = below_forced(_below(), _active(3))
    north = unit_of("area", "2999", "north")
    assert forced == {tree_key(("below", None, "GRGRMAT01"), north), tree_key(("below", None, None), north),
                      tree_key(("below", "GRGRMAT01", "GRGRMAT01"), north),
                      tree_key(("below", "GRGRMAT01", None), north)}
    assert all(key[2] == TOTAL for key in forced)


def test_no_below_pass_cell_is_forced_where_the_supported_students_are_shown():
    assert below_forced(_below(), _active(20)) == frozenset()

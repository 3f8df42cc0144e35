"""A level the reader's class suppresses but no decision of the class holds (hostile round 26c): every figure there is
withheld. The politician's (and the public's) class is suppressed at every level, and a token of that class reads the
groups through a narrower role (a politician who is also their teacher); no decision of the class holds a group — the
results' leave them out (`decision.left_out`), the support figures' and the roster sizes' never held them."""

from __future__ import annotations

from datetime import date

from styrkedja_kit.auth import Level, Role
from styrkedja_reporting.access.complement import EveryCellWithheld
from styrkedja_reporting.access.decision import COUNT_LEVELS, undecided
from styrkedja_reporting.access.disclosure import SUPPRESSED_LEVELS, DisclosureRules
from styrkedja_reporting.directory.disclose import ROSTER_LEVELS, roster_withheld

EVERY = frozenset(Level)


def test_the_groups_of_a_class_suppressed_everywhere_are_undecided() -> None:
    assert undecided("group", EVERY)
    assert undecided("group", EVERY, COUNT_LEVELS) and undecided("group", EVERY, ROSTER_LEVELS)
    assert not undecided("school_unit", EVERY) and not undecided("area", EVERY, COUNT_LEVELS)
    teacher = SUPPRESSED_LEVELS[Role.TEACHER]
    assert not undecided("group", teacher, COUNT_LEVELS)  # a teacher's groups: exact, no decision needed


def test_every_cell_withheld_withholds_every_figure() -> None:
    decision = EveryCellWithheld.make(DisclosureRules())
    assert decision.withheld(("pass",), "group", "11111111/7A")
    assert decision.outcome_withheld(("pass",), "group", "11111111/7A", "female")
    assert not decision.near_full(("pass",), "group", "11111111/7A")


async def test_a_politicians_group_roster_sizes_are_withheld() -> None:
    # failed before: the group level is no roster decision's, so no size was withheld (a group of 3 read exactly)
    hidden = await roster_withheld(None, "group", "2999", ["22222222/7A"], date(2026, 10, 1),  # type: ignore[arg-type]
                                   EVERY, DisclosureRules())
    assert hidden == {"22222222/7A"}

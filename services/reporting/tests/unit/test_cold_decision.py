"""The first read after a batch (`access.decision.decision_for` on a new state version): a component
whose rows the batch did not change is not decided again, one whose rows changed always is — a new
number is never shown with the decision taken on the old ones — and the shortcut for a tree with
nothing to withhold is the full decision."""

from __future__ import annotations

from typing import Any

import pytest

from styrkedja_kit.auth import Level
from styrkedja_reporting.access import decision
from styrkedja_reporting.access.complement import TreeRow, protect_tree, tree_partitions
from styrkedja_reporting.access.decision import pass_slice
from styrkedja_reporting.access.disclosure import DisclosureRules, disclose

RULES = DisclosureRules()
POLITICIAN = frozenset(Level)
SY = "2026/27"
PLACED = {"11111111": ("2999", None), "22222222": ("2999", None)}


def _pass_raw(subject: str, u1: tuple[int, int], u2: tuple[int, int]) -> dict[str, list[tuple[Any, ...]]]:
    """A subject's pass rows as `components_read` gives them: two school units, their organiser and
    the nation, (girls, boys) assessed, everyone reaching the pass level."""
    total = (u1[0] + u2[0], u1[1] + u2[1])
    rows = [(level, "2999", unit, 7, "HT", subject, f, m, 0, f, m, 0, f + m)
            for level, unit, (f, m) in (("school_unit", "11111111", u1), ("school_unit", "22222222", u2),
                                        ("organiser", "2999", total), ("nation", "SE", total))]
    return {"results": [], "figures": rows}


def answer_component_reads(monkeypatch, read) -> None:
    """`read` as the decisions' `components_read`, every version still current, the decisions' caches empty."""
    async def same_version(session, version):
        return True

    monkeypatch.setattr(decision, "components_read", read)
    monkeypatch.setattr(decision, "rows_at", same_version)
    for cache in ("_DECISIONS", "_BY_ROWS", "_ASKED"):
        monkeypatch.setattr(decision, cache, type(getattr(decision, cache))())
    monkeypatch.setattr(decision, "_IN_FLIGHT", {})


@pytest.fixture
def reads(monkeypatch):
    """`components_read` answering from `reads.state` (subject → raw rows), and what it was asked."""
    class Reads:
        state: dict[str, dict[str, list[tuple[Any, ...]]]] = {}
        asked: list[list[Any]] = []

    async def read(session, components, without=frozenset()):
        Reads.asked.append(sorted(components))
        return {c: Reads.state[c[2]] for c in components}, PLACED

    answer_component_reads(monkeypatch, read)
    return Reads


async def test_a_batch_decides_again_only_the_components_whose_rows_it_changed(reads):
    reads.state = {"MAT": _pass_raw("MAT", (12, 13), (11, 14)), "SVE": _pass_raw("SVE", (15, 15), (20, 20))}
    components = [("assessment", SY, "MAT"), ("assessment", SY, "SVE")]
    solved = decision.SOLVED[0]
    first = await decision.decision_for(None, components, POLITICIAN, RULES, version=("v1",))  # type: ignore[arg-type]
    assert decision.SOLVED[0] - solved == 2 and reads.asked == [components]  # both read in one go
    cell = (pass_slice("MAT", 7, (SY, "HT")), "school_unit", "22222222", "female")
    assert not first.withheld(*cell)

    # the same state version again: nothing read, nothing decided
    await decision.decision_for(None, components, POLITICIAN, RULES, version=("v1",))  # type: ignore[arg-type]
    assert decision.SOLVED[0] - solved == 2 and len(reads.asked) == 1

    # a batch in mathematics only: a new version, mathematics decided again, Swedish taken as it was
    reads.state["MAT"] = _pass_raw("MAT", (12, 13), (3, 14))
    after = await decision.decision_for(None, components, POLITICIAN, RULES, version=("v2",))  # type: ignore[arg-type]
    assert decision.SOLVED[0] - solved == 3
    assert after.withheld(*cell)  # the new small count is withheld: never the old decision on new numbers
    assert after.withheld(pass_slice("MAT", 7, (SY, "HT")), "school_unit", "22222222", "male")  # and its complement
    sve = (pass_slice("SVE", 7, (SY, "HT")), "school_unit", "11111111", "female")
    assert not after.withheld(*sve)

    # back to the numbers of v1 on a third version: the decision taken on exactly those rows
    reads.state["MAT"] = _pass_raw("MAT", (12, 13), (11, 14))
    again = await decision.decision_for(None, components, POLITICIAN, RULES, version=("v3",))  # type: ignore[arg-type]
    assert decision.SOLVED[0] - solved == 3 and not again.withheld(*cell)


async def test_a_decision_kept_for_one_reader_class_is_not_another_classs(reads):
    reads.state = {"MAT": _pass_raw("MAT", (12, 13), (3, 14))}
    solved = decision.SOLVED[0]
    above_unit = frozenset({Level.AREA, Level.ORGANISER, Level.NATION})
    politician = await decision.decision_for(None, [("assessment", SY, "MAT")], POLITICIAN, RULES, version=("v",))  # type: ignore[arg-type]
    principal = await decision.decision_for(None, [("assessment", SY, "MAT")], above_unit, RULES, version=("w",))  # type: ignore[arg-type]
    assert decision.SOLVED[0] - solved == 2
    cell = (pass_slice("MAT", 7, (SY, "HT")), "school_unit", "22222222", "female")
    assert politician.withheld(*cell) and not principal.withheld(*cell)


def _rows(u2_girls: int, unknown: int = 0) -> list[TreeRow]:
    s = pass_slice("MAT", 7, (SY, "HT"))
    u1, u2 = {"female": 12, "male": 13, "unknown": unknown}, {"female": u2_girls, "male": 14}
    out = []
    for unit, parent, part in ((("school_unit", "11111111"), ("organiser", "2999"), u1),
                               (("school_unit", "22222222"), ("organiser", "2999"), u2),
                               (("organiser", "2999"), ("nation", "SE"),
                                {g: u1.get(g, 0) + u2.get(g, 0) for g in ("female", "male", "unknown")}),
                               (("nation", "SE"), None, {g: u1.get(g, 0) + u2.get(g, 0)
                                                         for g in ("female", "male", "unknown")})):
        counts = {g: n for g, n in part.items() if n}
        out.append(TreeRow(s, unit, parent, {**counts, "*": sum(counts.values())}))
    return out


@pytest.mark.parametrize("u2_girls,unknown", [(11, 0), (3, 0), (11, 2), (10, 0), (9, 0)])
def test_the_decision_with_nothing_to_withhold_is_the_full_decision(u2_girls, unknown):
    rows = _rows(u2_girls, unknown)
    cells, partitions = tree_partitions(sorted(rows, key=lambda r: repr((r.slice, r.unit))))
    full = disclose(cells, partitions, suppressed=POLITICIAN, rules=RULES)
    got = protect_tree(rows, suppressed=POLITICIAN, rules=RULES)
    assert (got.cells, got.withheld, got.outcome_withheld, got.unprotectable) == (
        full.cells, full.withheld, full.outcome_withheld, full.unprotectable)
    assert bool(got.withheld) == (u2_girls < 10 or 0 < unknown < 10)


def test_the_near_full_rule_is_never_skipped():
    rules = DisclosureRules(approximate_near_full=True)
    rows = [TreeRow(r.slice, r.unit, r.parent, r.counts, dict.fromkeys(r.counts, 2 if r.unit[1] == "22222222" else 0))
            for r in _rows(11)]
    got = protect_tree(rows, suppressed=POLITICIAN, rules=rules)
    assert got.near_full and got.outcome_withheld >= got.near_full

"""The bench's cell check at the issue's 6.4M (scale30): organiser by organiser (`support.check_by_organiser`), from
the compact facts `deadline_week.TermData` keeps when `compact` instead of the posted bodies, and still failing when
a single cell is wrong."""

from collections import Counter

import pytest
from bench_scripts import bench

import support
from support import LEVELS, Mittkoping, differing_cells


def _deadline_week():
    return bench("deadline_week")


def test_the_compact_facts_recompute_the_same_cells_as_the_posted_bodies():
    data = _deadline_week().TermData(seed=5, students=160, organiser_count=3)
    data.compact = True
    data.placed = True
    bodies = [body for _ in range(16) for body in data.new_assessments(160 * 4)]  # in batches, as the bench asks
    data.release()

    from_bodies = data._cells(bodies, LEVELS)  # what `final` of these bodies recomputes
    assert data.final == {} and sum(len(f) for f in data.facts.values()) == len(bodies)
    assert data.expected() == from_bodies
    by_organiser: dict[tuple, Counter] = {}
    for organiser in data.organisers:
        mine = data.expected_of(organiser)
        assert {k[1] for k in mine if k[0] == "organiser"} == {organiser}
        for key, counts in mine.items():
            by_organiser.setdefault(key, Counter()).update(counts)
        assert {k[1] for k in mine} <= data.units_of(organiser)
    assert by_organiser == from_bodies  # the nation's cells are the organisers' parts summed
    assert data.my_units() >= {k[1] for k in from_bodies}
    with pytest.raises(ValueError, match="results"):
        data.new_assessments(1)  # released: nothing more to hand out


def test_the_per_organiser_check_reads_one_organiser_at_a_time_and_fails_on_one_wrong_cell(monkeypatch):
    data = Mittkoping(seed=7)
    for n, body in enumerate(data.new_assessments(300)):
        data.final[f"a-{n}"] = body
    levels = tuple(level for level in LEVELS if level != "area")  # nothing placed
    asked: list[tuple[str, ...]] = []
    wrong: dict[str, tuple] = {}

    def reported(url, units, organisers, levels, *, tokens):
        asked.append(organisers)
        (organiser,) = organisers
        cells = {k: Counter(v) for k, v in data.expected_of(organiser, levels).items() if k[1] in units}
        if organiser in wrong:
            cells[wrong[organiser]]["A"] += 1
        return cells

    monkeypatch.setattr(support, "reported", reported)
    monkeypatch.setattr(support, "consumer_diagnosis", lambda url: "")
    assert support.check_by_organiser("http://reporting", data, timeout=5, levels=levels, tokens=None) >= 0
    assert asked == [(o,) for o in data.organisers]

    second = data.organisers[1]
    wrong[second] = next(k for k in data.expected_of(second, levels) if k[0] == "school_unit")
    with pytest.raises(AssertionError, match=f"organiser {second}: 1 cells differ") as failure:
        support.check_by_organiser("http://reporting", data, timeout=0.3, levels=levels, tokens=None)
    assert repr(wrong[second]) in str(failure.value)


def test_differing_cells_names_the_wrong_missing_and_unexpected_cells():
    expected = {("group", "g", 1): Counter(A=2), ("group", "h", 1): Counter(B=1)}
    got = {("group", "g", 1): Counter(A=1), ("group", "x", 1): Counter(C=1)}
    missing, extra = differing_cells(expected, got)
    assert missing == expected and extra == {("group", "x", 1): Counter(C=1)}
    assert differing_cells(expected, dict(expected)) == ({}, {})

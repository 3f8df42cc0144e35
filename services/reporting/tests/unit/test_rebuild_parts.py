"""The rebuild's parts of the organisers (`rebuild.parts`): contiguous, whole organisers, about equal facts, every
organiser in one range."""

import pytest
from hypothesis import given
from hypothesis import strategies as st

from styrkedja_reporting.rebuild.parts import organiser_ranges, range_condition


def _inside(organiser: str, part: tuple[str | None, str | None]) -> bool:
    lo, hi = part
    return (lo is None or organiser >= lo) and (hi is None or organiser < hi)


def test_equal_organisers_are_cut_into_equal_parts() -> None:
    counts = [(f"{n:04d}", 100) for n in range(290)]
    ranges = organiser_ranges(counts, 2)
    assert ranges == [(None, "0145"), ("0145", None)]
    sizes = [sum(n for o, n in counts if _inside(o, part)) for part in organiser_ranges(counts, 4)]
    assert len(sizes) == 4 and max(sizes) - min(sizes) <= 100, sizes


def test_fewer_organisers_than_parts_give_fewer_ranges_and_one_part_the_whole() -> None:
    assert organiser_ranges([("2998", 40)], 3) == [(None, None)]
    assert organiser_ranges([], 2) == [(None, None)]
    assert organiser_ranges([("a", 5), ("b", 5)], 1) == [(None, None)]
    assert organiser_ranges([("a", 5), ("b", 5)], 5) == [(None, "b"), ("b", None)]


def test_a_large_organiser_is_never_cut() -> None:
    assert organiser_ranges([("a", 1), ("b", 1000), ("c", 1)], 3) == [(None, "b"), ("b", "c"), ("c", None)]
    # the cut nearest half the facts: before b (600 | 1,001), not after it (1,600 | 1)
    assert organiser_ranges([("a", 600), ("b", 1000), ("c", 1)], 2) == [(None, "b"), ("b", None)]


def test_no_parts_are_refused() -> None:
    with pytest.raises(ValueError, match="parts"):
        organiser_ranges([("a", 1)], 0)


@given(st.dictionaries(st.text(min_size=1, max_size=4), st.integers(0, 50), max_size=30), st.integers(1, 6))
def test_every_organiser_is_in_exactly_one_range(counts: dict[str, int], parts: int) -> None:
    ordered = sorted(counts.items())
    ranges = organiser_ranges(ordered, parts)
    assert 1 <= len(ranges) <= parts
    assert ranges[0][0] is None and ranges[-1][1] is None
    for organiser, _ in [*ordered, ("", 0), ("\uffff", 0)]:  # and those not counted
        assert sum(_inside(organiser, part) for part in ranges) == 1


def test_the_condition_binds_only_the_bounds_it_has() -> None:
    assert range_condition((None, None), "f.organiser_id", "part") == ("", {})
    assert range_condition(("a", None), "f.organiser_id", "part") == (" AND f.organiser_id >= :part_lo",
                                                                      {"part_lo": "a"})
    assert range_condition(("a", "b"), "x", "p") == (" AND x >= :p_lo AND x < :p_hi", {"p_lo": "a", "p_hi": "b"})

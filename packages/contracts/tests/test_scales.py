from __future__ import annotations

import pytest

from styrkedja_contracts import Scale, is_valid_value, merit_points, reaches_pass, scale_values


def test_values_best_to_worst() -> None:
    assert scale_values(Scale.AF) == ("A", "B", "C", "D", "E", "F")
    assert scale_values(Scale.THREE_LEVEL) == ("MORE_THAN_ACCEPTABLE", "ACCEPTABLE", "NOT_REACHED")
    assert scale_values("AF") == scale_values(Scale.AF)


def test_special_school_af_has_no_f() -> None:
    assert scale_values(Scale.AF, special_school=True) == ("A", "B", "C", "D", "E")
    assert not is_valid_value(Scale.AF, "F", special_school=True)
    assert scale_values(Scale.THREE_LEVEL, special_school=True) == scale_values(Scale.THREE_LEVEL)


def test_is_valid_value() -> None:
    assert is_valid_value(Scale.AF, "E")
    assert not is_valid_value(Scale.AF, "ACCEPTABLE")
    assert not is_valid_value(Scale.AF, "a")
    assert is_valid_value(Scale.THREE_LEVEL, "NOT_REACHED")
    assert not is_valid_value(Scale.THREE_LEVEL, "C")


@pytest.mark.parametrize(
    ("scale", "value", "passes"),
    [
        (Scale.AF, "A", True),
        (Scale.AF, "E", True),
        (Scale.AF, "F", False),
        (Scale.THREE_LEVEL, "MORE_THAN_ACCEPTABLE", True),
        (Scale.THREE_LEVEL, "ACCEPTABLE", True),
        (Scale.THREE_LEVEL, "NOT_REACHED", False),
    ],
)
def test_reaches_pass(scale: Scale, value: str, passes: bool) -> None:
    assert reaches_pass(scale, value) is passes


def test_reaches_pass_rejects_foreign_value() -> None:
    with pytest.raises(ValueError, match="not a value on scale AF"):
        reaches_pass(Scale.AF, "ACCEPTABLE")


def test_merit_points() -> None:
    assert [merit_points(v) for v in scale_values(Scale.AF)] == [20.0, 17.5, 15.0, 12.5, 10.0, 0.0]
    for bad in ("ACCEPTABLE", "G", ""):
        with pytest.raises(ValueError, match="merit points"):
            merit_points(bad)

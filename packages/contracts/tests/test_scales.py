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


def _by_the_lists(scale: object, value: object, special_school: bool = False) -> object:
    """What `is_valid_value` and `reaches_pass` answer by `scale_values` alone (their first definition), or the
    refusal they raise: their look-up tables (decode18) must give the same for every argument."""
    try:
        values = scale_values(scale, special_school=special_school)
    except ValueError as error:
        return ("refused", str(error))
    valid = value in values
    below = {"F", "NOT_REACHED"}
    return (valid, (value not in below) if valid else "not on the scale")


@pytest.mark.parametrize("scale", [*Scale, *(s.value for s in Scale), "XX", "af", ""])
@pytest.mark.parametrize("value", ["A", "E", "F", "ACCEPTABLE", "NOT_REACHED", "MORE_THAN_ACCEPTABLE", "e", "", "A ",
                                   ["A"], None])
@pytest.mark.parametrize("special_school", [False, True])
def test_look_ups_answer_as_the_lists(scale: object, value: object, special_school: bool) -> None:
    expected = _by_the_lists(scale, value, special_school)
    try:
        valid: object = is_valid_value(scale, value, special_school=special_school)
    except ValueError as error:
        valid = ("refused", str(error))
    if isinstance(expected, tuple) and expected[0] == "refused":
        assert valid == expected
        return
    assert isinstance(expected, tuple) and valid is expected[0]
    if special_school:
        return
    try:
        reached: object = reaches_pass(scale, value)
    except (ValueError, TypeError) as error:
        reached = "not on the scale" if "not a value on scale" in str(error) else ("refused", str(error))
    assert reached == expected[1]

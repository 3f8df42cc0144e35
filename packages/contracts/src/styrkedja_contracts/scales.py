"""One scale model for all results (bedömningar, betyg, prognoser).

* ``Scale.AF`` – betygsskalan A–F. ``F`` is below the pass level (godtagbara
  kunskaper = E). Grundsärskola (anpassad grundskola) uses A–E only: use
  ``scale_values(Scale.AF, special_school=True)`` /
  ``is_valid_value(Scale.AF, v, special_school=True)``.
* ``Scale.THREE_LEVEL`` – trestegsskala used for prognoser and
  lågstadiebedömningar: ``NOT_REACHED`` (ej uppnått, below pass),
  ``ACCEPTABLE`` (godtagbara kunskaper), ``MORE_THAN_ACCEPTABLE`` (mer än
  godtagbara kunskaper).

Ordering convention: ``scale_values`` returns values **best → worst**.
"""

from __future__ import annotations

from enum import StrEnum

__all__ = [
    "Scale",
    "scale_values",
    "all_scale_values",
    "is_valid_value",
    "reaches_pass",
    "merit_points",
    "off_scale_words",
]


class Scale(StrEnum):
    """The result scales."""

    AF = "AF"
    THREE_LEVEL = "THREE_LEVEL"


_VALUES: dict[Scale, tuple[str, ...]] = {
    Scale.AF: ("A", "B", "C", "D", "E", "F"),
    Scale.THREE_LEVEL: ("MORE_THAN_ACCEPTABLE", "ACCEPTABLE", "NOT_REACHED"),
}
_BELOW_PASS: dict[Scale, frozenset[str]] = {
    Scale.AF: frozenset({"F"}),
    Scale.THREE_LEVEL: frozenset({"NOT_REACHED"}),
}
_MERIT_POINTS: dict[str, float] = {"A": 20.0, "B": 17.5, "C": 15.0, "D": 12.5, "E": 10.0, "F": 0.0}


def scale_values(scale: Scale | str, *, special_school: bool = False) -> tuple[str, ...]:
    """The values of ``scale``, ordered best → worst.

    ``special_school=True`` gives the grundsärskola variant: A–E for ``AF``
    (no F); ``THREE_LEVEL`` is unchanged.
    """
    if scale.__class__ is not Scale:  # a validated model's field is one already (per event: no enum call)
        scale = Scale(scale)
    values = _VALUES[scale]
    if special_school and scale is Scale.AF:
        return values[:-1]
    return values


def all_scale_values() -> tuple[str, ...]:
    """Every value of every scale (used for JSON Schema enums)."""
    return tuple(v for s in Scale for v in _VALUES[s])


# Per (scale, value) and per (scale, special_school): one dict look-up for the answers asked per event and per
# fact (decoding an assessment, every pass judgement of reporting's apply), where the functions below went through
# an enum call and `scale_values` each time (~1-3 µs, over 100,000 times per 40,000 events: bench/results/decode18.json).
# Keyed by the member and by its plain text alike (a validated model holds the member, a stored fact the text); a key
# not here (not a scale, not a value, not hashable) takes the functions' own way, which answers or refuses as ever.
_VALID: dict[tuple[Scale | str, bool], frozenset[str]] = {
    (key, special): frozenset(scale_values(scale, special_school=special))
    for scale in Scale for key in (scale, scale.value) for special in (False, True)}
_REACHES: dict[tuple[Scale | str, str], bool] = {
    (key, value): value not in _BELOW_PASS[scale] for scale in Scale for key in (scale, scale.value)
    for value in _VALUES[scale]}


def is_valid_value(scale: Scale | str, value: str, *, special_school: bool = False) -> bool:
    """True if ``value`` is a value on ``scale``."""
    try:
        values = _VALID.get((scale, special_school))
        if values is not None and type(value) is str:
            return value in values
    except TypeError:  # not hashable: the tuple's own comparison below
        pass
    return value in scale_values(scale, special_school=special_school)


def off_scale_words(scale: Scale, *, special_school: bool = False) -> str:
    """The words of `value_on_scale` (a value not of its scale), the same at a door and in an event's dead letter:
    the values allowed, never the text sent (a client's free text in a result's field is not answered back)."""
    # `special_school`: the anpassad grundskola's variant of the scale (A–E on AF: it gives no F)
    where = " in the anpassad grundskola" if special_school and scale is Scale.AF else ""
    allowed = ", ".join(scale_values(scale, special_school=special_school))
    return f"not a value of scale {scale.value}{where} (allowed: {allowed})"


def reaches_pass(scale: Scale | str, value: str) -> bool:
    """True if ``value`` reaches the pass level (E or better; ACCEPTABLE or better).

    Raises ``ValueError`` if the value is not on the scale.
    """
    try:
        reached = _REACHES.get((scale, value))
        if reached is not None and type(value) is str:
            return reached
    except TypeError:
        pass
    if scale.__class__ is not Scale:
        scale = Scale(scale)
    if not is_valid_value(scale, value):
        raise ValueError(f"{value!r} is not a value on scale {scale.value} ({', '.join(_VALUES[scale])})")
    return value not in _BELOW_PASS[scale]


def merit_points(value: str) -> float:
    """Meritvärde points of an A–F grade: A 20, B 17.5, C 15, D 12.5, E 10, F 0.

    Raises ``ValueError`` for any value that is not an A–F grade.
    """
    try:
        return _MERIT_POINTS[value]
    except (KeyError, TypeError):
        raise ValueError(f"merit points exist only for A-F grades, not {value!r}") from None

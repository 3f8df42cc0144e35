"""An item rule written once: the producing service's HTTP door and the event's model call the same function.

Events on Kafka come also from producers we don't write (other school platforms). A rule that only the door held let
an event of another producer be applied that the door refuses, so a figure counted what the system forbids (round
29r). A rule function here is pure, looks at one item's values and returns every rule they break (`Broken`): the door
turns each into its 422 (the field, the rule and the words as they are), the event's `model_validator` refuses the
first with `refuse` — a dead letter `invalid_data` naming the field, the words and the rule, by the live decode (its
fast path runs the same validator: `fastpath.ShadowEvent.checked`) and the rebuild's alike. Which rule is held by
which event, and which rules of the doors are not item rules, is `styrkedja_contracts.door_rules`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from pydantic_core import PydanticCustomError

__all__ = ["Broken", "refuse"]


@dataclass(frozen=True)
class Broken:
    """One broken item rule: the field the door names, the rule's name, and its words (never the value sent)."""

    field: str
    rule: str
    words: str


def refuse(broken: Sequence[Broken]) -> None:
    """In an event's `model_validator`: refuse the first broken rule. A model's rule has no field in its error's
    location, so the words name it first (`data: start_date: …`, as the date rules of round 28u), and the rule's name
    last, in brackets: a dead letter says which rule as the door's problem does."""
    if broken:
        first = broken[0]
        # the words as context, not as the template: a `{` in them is no placeholder
        raise PydanticCustomError(first.rule, "{field}: {words} ({rule})",
                                  {"field": first.field, "words": first.words, "rule": first.rule})

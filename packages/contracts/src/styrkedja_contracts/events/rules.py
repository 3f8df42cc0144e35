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
from typing import Any

from pydantic_core import PydanticCustomError

from ..identifiers import BLANK_RULE, name_form, name_rule_broken

__all__ = ["BLANK_WORDS", "Broken", "UNIQUE_RULE", "blank_broken", "refuse", "repeated", "says_nothing"]

#: each value of a list once: the door's `UniqueItems` (kit); an event's lists are sets, which take a repeat
#: (`door_rules.NOT_HELD`)
UNIQUE_RULE = "unique"
#: the words of `BLANK_RULE` for free text (a criterion, a reason): the door's `says_something` (kit) and an event's
BLANK_WORDS = "must have a visible character (not only spaces or line breaks): leave it out, or null, for none"


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


def says_nothing(value: str) -> bool:
    """Free text without a visible character (only spaces, line breaks or invisible ones): it says nothing."""
    for ch in value:  # noqa: SIM110 (a loop: a generator in `all` costs its frames, per criterion per event)
        # a visible ASCII character answers at once (the decode of every assessment asks this of its criteria)
        if "!" <= ch <= "~" or name_rule_broken(ch) is None:
            return False
    return True


def repeated(values: Sequence[Any]) -> tuple[int, int] | None:
    """`(index, first)` of the first value that repeats an earlier one (text compared by its one form, `name_form`: no
    reader tells such spellings apart), or None."""
    seen: dict[Any, int] = {}
    for index, value in enumerate(values):
        first = seen.setdefault(name_form(value) if isinstance(value, str) else value, index)
        if first != index:
            return index, first
    return None


def blank_broken(field: str, texts: Sequence[str]) -> list[Broken]:
    """`BLANK_RULE` of each text of a list field that says nothing (at the door `says_something`, naming the item)."""
    found: list[Broken] = []
    for index, text in enumerate(texts):
        if says_nothing(text):
            found.append(Broken(f"{field}.{index}", BLANK_RULE, BLANK_WORDS))
    return found

"""Rules for free text typed by people (comments, notes, owners, tags). Pure.

A personal identity number never enters a table or an event; control characters (other than line
breaks and tabs in multi-line text) and the bidirectional overrides (the contracts' `BIDI_CONTROLS`)
are refused because they hide or reorder text in exports and logs; Unicode's noncharacters (U+FFFE, U+FFFF, ...)
because they are no text and an xlsx cannot hold them. One-line text is a name (an owner,
a tag): it obeys the contracts' name rules too (`name_rule_broken`: no invisible characters, a visible
one, no scripts mixed to look like another name, no word of another script's Latin look-alikes beside Latin
words), which multi-line text (a comment, a note) need not: it may keep a joiner or a direction mark. Any text, one
line or many, has a visible character (`not_blank`): an optional text with nothing to say is left out (`null`), as
an optional query parameter is (the kit's `not_blank`)."""

from __future__ import annotations

import unicodedata

from styrkedja_contracts.identifiers import (
    BIDI_CONTROLS,
    BLANK_RULE,
    INVISIBLE_RULE,
    LOOK_ALIKE_NAME,
    LOOK_ALIKE_RULE,
    MIXED_SCRIPT_NAME,
    MIXED_SCRIPT_RULE,
    NONCHARACTER_RULE,
    contains_personal_identity_number,
    has_noncharacter,
    name_rule_broken,
)

from .problems import FieldProblem

_MULTILINE_ALLOWED = frozenset("\n\r\t")


def text_problems(field: str, value: str | None, *, multiline: bool = False) -> list[FieldProblem]:
    """Every rule `value` breaks, each naming `field`."""
    if value is None:
        return []
    problems = []
    if contains_personal_identity_number(value):
        problems.append(FieldProblem(field, "no_personal_identity_number",
                                     "must not contain a personal identity number (personnummer/samordningsnummer)"))
    allowed = _MULTILINE_ALLOWED if multiline else frozenset()
    if any((unicodedata.category(ch) in ("Cc", "Cs") and ch not in allowed) or ch in BIDI_CONTROLS for ch in value):
        problems.append(FieldProblem(field, "no_control_characters",
                                     "must not contain control characters" +
                                     (" (line breaks and tabs are allowed)" if multiline else "")))
    if has_noncharacter(value):  # no text, and no xlsx can hold U+FFFE or U+FFFF (the export was a broken file)
        problems.append(FieldProblem(field, NONCHARACTER_RULE, "must not contain Unicode noncharacters (U+FFFE, "
                                     "U+FFFF, U+FDD0-U+FDEF, ...)"))
    broken = None if multiline or problems else name_rule_broken(value)
    if multiline and not problems and not any(name_rule_broken(ch) is None for ch in value):
        # an optional text says something or is left out, as an owner or a tag is: "" or "  \n" was stored and
        # exported as a comment (a cell that looks empty and is not, a note that "is there"); `null` says none
        broken = BLANK_RULE
    if broken == INVISIBLE_RULE:
        problems.append(FieldProblem(field, INVISIBLE_RULE, "must not contain invisible characters (zero-width, "
                                     "joiners, direction marks, line or paragraph separators)"))
    elif broken == BLANK_RULE:
        problems.append(FieldProblem(field, BLANK_RULE, "must have a visible character (not only spaces" +
                                     (" or line breaks): leave it out, or null, for none)" if multiline else ")")))
    elif broken == MIXED_SCRIPT_RULE:  # an owner or a tag of look-alike letters: two tags, two owners that look one
        problems.append(FieldProblem(field, MIXED_SCRIPT_RULE, MIXED_SCRIPT_NAME))
    elif broken == LOOK_ALIKE_RULE:  # "IT-plan АВ": a tag whose last word is Cyrillic letters drawn as Latin ones
        problems.append(FieldProblem(field, LOOK_ALIKE_RULE, LOOK_ALIKE_NAME))
    return problems

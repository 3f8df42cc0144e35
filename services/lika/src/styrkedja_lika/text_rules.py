"""Rules for free text typed by people (comments, notes, owners, tags). Pure.

A personal identity number never enters a table or an event; control characters (other than line
breaks and tabs in multi-line text) and the bidirectional overrides (the contracts' `BIDI_CONTROLS`)
are refused because they hide or reorder text in exports and logs."""

from __future__ import annotations

import unicodedata

from styrkedja_contracts.identifiers import BIDI_CONTROLS, contains_personal_identity_number

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
    return problems

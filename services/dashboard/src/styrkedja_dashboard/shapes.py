"""Pure: a field of another service's answer as the dashboard shows it. One rule for every page, template and
download: inside a record any field may be missing or of another type (another version of the service, or a
hostile one); what is there is shown, a dash (or an empty cell) for the rest, never a 500. Whether the answer as
a whole has the promised shape (a list of records, one record, a table) is `clients.records`/`clients.record`'s
and `figures.figure_table`'s: that is a 502 naming the service."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from decimal import Decimal
from typing import Any

from styrkedja_contracts.identifiers import BIDI_CONTROLS

#: the largest magnitude taken as a figure: far beyond any count of students, inside Babel's decimal precision
LARGEST = 10**15


def number(value: object) -> int | float | None:
    """A number, or None (text, a boolean, a list where a number belongs is no number)."""
    if isinstance(value, bool) or not isinstance(value, (int, float, Decimal)):
        return None
    # NaN, infinity (Python's JSON reader takes them) and magnitudes beyond LARGEST are no figure: a share of NaN
    # broke the heat map's int(), 10**400 every float() of it
    return (float(value) if isinstance(value, Decimal) else value) if -LARGEST <= value <= LARGEST else None


def text(value: object) -> str | None:
    """A field shown as text: text as sent, a number as its digits; None for anything else (missing, a list,
    an object, a boolean), which a page shows as a dash."""
    if isinstance(value, str):
        return value
    found = number(value)
    return None if found is None else str(found)


def texts(value: object) -> list[str]:
    """A list of texts (group ids, subject codes): the items that are text or a number; not a list → none."""
    if not isinstance(value, (list, tuple)):
        return []
    return [t for t in (text(item) for item in value) if t is not None]


def size(value: object) -> int | None:
    """How many items a list field has; None when it is no list (a count cannot be read off a number or text)."""
    return len(value) if isinstance(value, (list, tuple, dict)) else None


def named(value: object, names: Mapping[str, str]) -> str:
    """The Swedish name of a code the dashboard knows, else the code as sent, a list or object as `flat` text, ""
    for none (a list as a role or status was a 500 in `names.get(value, value)`: unhashable)."""
    found = text(value)
    if found is None:
        found = flat(value)  # a list or object as text (`rektor; lärare`); missing as ""
    return names.get(found, found)


#: Unicode's bidirectional embedding, override and isolate controls, removed from every text shown or written
_NO_BIDI = str.maketrans(dict.fromkeys(BIDI_CONTROLS))


def shown(value: str) -> str:
    """A service's text as a page or a download shows it: without the bidirectional embedding, override and isolate
    controls (`BIDI_CONTROLS`). The contracts refuse them at every door, but a service of another version (or a
    hostile one) can still send one, and in a page an override is not ended by the element it is in: a school
    unit named `Norr<U+202E>` turned the names after it in the same line (`Dina skolenheter: …`, a breadcrumb, the
    title) around as they were shown, so a person read other names than were there ("Trojan Source")."""
    return value.translate(_NO_BIDI) if any(c in value for c in BIDI_CONTROLS) else value


def _same(part: str) -> str:
    return part


#: how deep `flat` reads a nested value: a person reads a list of lists, not more
FLAT_DEPTH = 8
#: what stands for what lies deeper
DEEPER = "…"


def flat(value: Any, leaf: Callable[[str], str] = _same, _depth: int = 0) -> str:
    """Any JSON value as one line a person reads: text and numbers as they are, a list as `a; b`, an object as
    `k: v; k2: v2` (keys sorted: the same answer reads the same), true/false as `ja`/`nej`, null as "".
    `leaf` is applied to every text and number inside (a CSV makes each one formula-safe). A list or object nested
    deeper than `FLAT_DEPTH` reads as `…`: a service's `[[[…]]]` 500 deep (which Python's JSON reader takes) ran this
    out of stack, a 500 on every page and download showing the field."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "ja" if value else "nej"
    if isinstance(value, (str, int, float, Decimal)):
        return leaf(str(value))
    if isinstance(value, (Mapping, list, tuple, set, frozenset)) and _depth >= FLAT_DEPTH:
        return DEEPER
    if isinstance(value, Mapping):
        return "; ".join(f"{leaf(str(key))}: {flat(value[key], leaf, _depth + 1)}" for key in sorted(value, key=str))
    if isinstance(value, (list, tuple, set, frozenset)):
        return "; ".join(flat(item, leaf, _depth + 1) for item in value)
    return ""  # no JSON value: nothing a service sent

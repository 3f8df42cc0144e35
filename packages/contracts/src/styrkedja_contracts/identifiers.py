"""Identifiers used in events, and the personnummer guard.

A Swedish personal identity number (personnummer) or co-ordination number
(samordningsnummer) must never enter an event or a table. This module detects
them in free text and provides the constrained identifier types used by the
event models:

* ``OrganiserId`` – huvudman: kommunkod (4 digits) or organisationsnummer
  (``NNNNNN-NNNN`` or 10 digits), kept exactly as given.
* ``SchoolUnitCode`` – Skolverket's skolenhetskod (8 digits).
* ``GroupId`` / ``StudentId`` / ``TeacherId`` – pseudonymous ids
  (1–64 chars of ``[A-Za-z0-9._:-]``) that must not contain a personnummer.
* ``SubjectCode`` – Skolverket's ämneskod, e.g. ``GRGRMAT01``.
* ``SchoolYear`` – läsår, ``"2026/27"``.
* ``Term`` – termin, ``HT`` (hösttermin) / ``VT`` (vårtermin).
* ``Gender`` – kön as reported: ``female`` / ``male`` / ``unknown``.
"""

from __future__ import annotations

import re
from enum import StrEnum
from typing import Annotated, Any

from pydantic import AfterValidator, BeforeValidator, StringConstraints

__all__ = [
    "PIN_ERROR",
    "contains_personal_identity_number",
    "is_valid_luhn",
    "luhn_check_digit",
    "OrganiserId",
    "SchoolUnitCode",
    "GroupId",
    "StudentId",
    "TeacherId",
    "SubjectCode",
    "SchoolYear",
    "Term",
    "Gender",
]

PIN_ERROR = (
    "must not contain a personal identity number (personnummer/samordningsnummer); "
    "use a pseudonymous id"
)

# A candidate: a run of exactly 6 or 8 digits (date part), an optional
# separator ('-', '+' or a space) and exactly 4 digits (serial + check digit),
# not touching any other digit. The look-ahead makes every start position a
# candidate, so a failed candidate cannot hide an overlapping valid one.
_CANDIDATE = re.compile(r"(?<!\d)(?=(\d{8}|\d{6})([-+ ]?)(\d{4})(?!\d))")
# Canonical UUIDs (8-4-4-4-12 hex) are machine generated; their digit groups
# can look like "19900101-1234" by chance, so they are masked before scanning.
_UUID = re.compile(
    r"(?<![0-9A-Fa-f])[0-9A-Fa-f]{8}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{12}"
    r"(?![0-9A-Fa-f])"
)
_CENTURIES = ("18", "19", "20")


def is_valid_luhn(digits: str) -> bool:
    """Luhn (mod 10) check over a string of digits, the last one being the check digit."""
    if not digits.isdigit():
        return False
    total = 0
    for i, ch in enumerate(reversed(digits)):
        d = int(ch)
        if i % 2 == 1:
            d *= 2
            if d > 9:
                d -= 9
        total += d
    return total % 10 == 0


def luhn_check_digit(digits: str) -> str:
    """The Luhn check digit to append to ``digits`` (e.g. the 9 first digits YYMMDDNNN)."""
    if not digits.isdigit():
        raise ValueError("digits only")
    for check in "0123456789":
        if is_valid_luhn(digits + check):
            return check
    raise AssertionError("unreachable")  # pragma: no cover


def _is_pin(date_part: str, serial: str) -> bool:
    if len(date_part) == 8:
        if date_part[:2] not in _CENTURIES:
            return False
        date_part = date_part[2:]
    month = int(date_part[2:4])
    day = int(date_part[4:6])
    if not 1 <= month <= 12:  # organisationsnummer have "month" digits >= 20
        return False
    if not (1 <= day <= 31 or 61 <= day <= 91):  # 61–91: samordningsnummer
        return False
    return is_valid_luhn(date_part + serial)


def contains_personal_identity_number(text: str) -> bool:
    """True if ``text`` contains something that is a valid personnummer or samordningsnummer.

    Recognised forms: ``YYMMDD-NNNN``, ``YYMMDD+NNNN``, ``YYMMDD NNNN``,
    ``YYMMDDNNNN``, ``YYYYMMDD-NNNN``, ``YYYYMMDD NNNN``, ``YYYYMMDDNNNN``
    (century 18, 19 or 20). Month must be 01–12, day 01–31 (or 61–91 for a
    samordningsnummer) and the Luhn check digit over the 10-digit form must be
    valid. Organisation numbers (month digits >= 20) are not flagged, nor are
    digits that are part of a longer run of digits, nor digit groups inside a
    canonical UUID.
    """
    if not isinstance(text, str) or len(text) < 10:
        return False
    text = _UUID.sub("#", text)
    for m in _CANDIDATE.finditer(text):
        if _is_pin(m.group(1), m.group(3)):
            return True
    return False


def _reject_pin(value: Any) -> Any:
    if isinstance(value, str) and contains_personal_identity_number(value):
        raise ValueError(PIN_ERROR)
    return value


def _check_school_year(value: str) -> str:
    first, second = value.split("/")
    if int(second) != (int(first) + 1) % 100:
        raise ValueError(
            f"school year {value!r} must be two consecutive years, e.g. '2026/27' "
            "(second part = first year + 1, last two digits)"
        )
    return value


_PSEUDONYM = StringConstraints(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9._:-]{1,64}$")

OrganiserId = Annotated[
    str,
    StringConstraints(pattern=r"^(\d{4}|\d{6}-\d{4}|\d{10})$"),
    BeforeValidator(_reject_pin),
]
"""Huvudman: kommunkod (``"2999"``) or organisationsnummer (``"212000-1234"`` / ``"2120001234"``)."""

SchoolUnitCode = Annotated[str, StringConstraints(pattern=r"^\d{8}$")]
"""Skolenhetskod: exactly 8 digits."""

GroupId = Annotated[str, _PSEUDONYM, BeforeValidator(_reject_pin)]
"""Pseudonymous group (klass/undervisningsgrupp) id."""

StudentId = Annotated[str, _PSEUDONYM, BeforeValidator(_reject_pin)]
"""Pseudonymous student (elev) id – never a personnummer."""

TeacherId = Annotated[str, _PSEUDONYM, BeforeValidator(_reject_pin)]
"""Pseudonymous teacher (lärare) id – never a personnummer."""

SubjectCode = Annotated[str, StringConstraints(pattern=r"^[A-Z0-9]{3,16}$"), BeforeValidator(_reject_pin)]
"""Skolverket ämneskod, e.g. ``GRGRMAT01`` (3–16 uppercase letters/digits)."""

SchoolYear = Annotated[
    str, StringConstraints(pattern=r"^\d{4}/\d{2}$"), AfterValidator(_check_school_year)
]
"""Läsår, ``"2026/27"``: second part is the first year + 1 (mod 100)."""


class Term(StrEnum):
    """Termin: HT = hösttermin (autumn), VT = vårtermin (spring)."""

    HT = "HT"
    VT = "VT"


class Gender(StrEnum):
    """Kön as used in reporting breakdowns."""

    female = "female"
    male = "male"
    unknown = "unknown"

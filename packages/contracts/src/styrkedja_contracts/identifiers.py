"""Identifiers used in events, and the personnummer guard.

A Swedish personal identity number (personnummer) or co-ordination number
(samordningsnummer) must never enter an event or a table. This module detects
them in free text and provides the constrained identifier types used by the
event models:

* ``OrganiserId`` – huvudman: kommunkod (4 digits, as it is) or organisationsnummer, always kept in one
  spelling (see "One organiser, one id" below).
* ``SchoolUnitCode`` – Skolverket's skolenhetskod (8 digits).
* ``GroupId`` / ``StudentId`` / ``TeacherId`` – pseudonymous ids
  (1–64 chars of ``[A-Za-z0-9._:-]``) that must not contain a personnummer.
* ``SubjectCode`` – Skolverket's ämneskod, e.g. ``GRGRMAT01``.
* ``SchoolYear`` – läsår, ``"2026/27"``.
* ``Term`` – termin, ``HT`` (hösttermin) / ``VT`` (vårtermin).
* ``Gender`` – kön as reported: ``female`` / ``male`` / ``unknown``.

One organiser, one id
---------------------
An organisation number is written ``NNNNNN-NNNN`` wherever Styrkedja keeps it: ``2120001234``,
``212000-1234`` and the twelve-digit ``162120001234`` / ``16212000-1234`` (the prefix 16 that
Skatteverket's twelve-digit form gives every legal person) are one organiser, ``212000-1234``
(`canonical_organiser_id`). Every entry point goes through ``OrganiserId`` or that function: request
bodies, query and path parameters, event data when decoded (so events stored in another spelling
fold into the same aggregates on a rebuild, and a record keyed by another spelling of its organiser is
not a key mismatch), the ``organisers`` claim of a token, the SS 12000 import and the CLI. The message
key is the canonical id, so one organiser's new events share one partition. A kommunkod (``2180``)
stays as it is: it is a different id from the municipality's organisation number (``212000-0142``),
and which one an organiser is known by is the directory's choice, not a spelling.

The Luhn check digit of an organisation number is *not* checked: a real one always passes, but the
ids of tests, fixtures and demos (``212000-1234``, ``2999999999``) do not, and events already on
the topics with such ids would be dead-lettered by a rebuild. A mistyped number gains nothing: it is
no organiser a token names (the write scope refuses it) and no directory holds it. Nor is the third
digit (>= 2 for legal persons) checked; a sole trader's number is a personnummer and is refused as one.
The JSON Schemas keep the ten-digit pattern (published; narrowing it would break them).

Case
----
Ids are compared exactly as stored. Organiser ids and school unit codes are digits; a subject code
must be upper case (lower case is refused, not folded). Pseudonymous ids (group, student, teacher)
are opaque and stay case-sensitive: a platform's pseudonyms may differ by case alone, and folding
them would merge two students into one — a merge cannot be undone from the aggregates, a split
shows. UUID-shaped ids from SS 12000 are lowered by the importer; a platform sending those UUIDs
must send them lowered too.

Pseudonymous ids and the personnummer check
-------------------------------------------
An id with a date and a four-digit time (``elev_20240102_1230``) is refused when the ten digits
happen to pass Luhn (one in ten): the check cannot tell it from a personnummer, on purpose. Safe
spellings are in ``docs/identifiers.md``: keep the date and the time apart by a character other
than ``-``, ``+``, ``_``, ``.`` or space (``20240102T1230``, ``20240102:1230``), or add seconds.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable
from datetime import date
from enum import StrEnum
from functools import lru_cache
from typing import Annotated, Any
from urllib.parse import unquote

from pydantic import AfterValidator, BeforeValidator, StringConstraints
from pydantic_core import PydanticCustomError

__all__ = [
    "PIN_ERROR",
    "PIN_RULE",
    "CONTROL_RULE",
    "NONCHARACTER_RULE",
    "ASCII_RULE",
    "INVISIBLE_RULE",
    "BLANK_RULE",
    "check_text",
    "has_noncharacter",
    "NONCHARACTERS",
    "check_name",
    "name_rule_broken",
    "check_source",
    "check_subject",
    "line_rule_broken",
    "URI_REFERENCE_RULE",
    "UNASSIGNED_RULE",
    "MIXED_SCRIPT_RULE",
    "MIXED_SCRIPT_NAME",
    "mixes_scripts",
    "LOOK_ALIKE_RULE",
    "LOOK_ALIKE_NAME",
    "look_alike_word",
    "URI_REFERENCE_PATTERN",
    "TEXT_RULES_HELD",
    "contains_personal_identity_number",
    "INERT_LETTERS",
    "is_plain_json",
    "plain_json_may_contain_personal_identity_number",
    "plain_json_without_pin",
    "plain_json_key_tokens",
    "key_tokens",
    "normalise_for_detection",
    "redact_personal_identity_numbers",
    "is_valid_luhn",
    "luhn_check_digit",
    "SafeText",
    "Name",
    "NAME_SPACES",
    "name_form",
    "nfc",
    "OrganiserId",
    "canonical_organiser_id",
    "is_organisation_number",
    "SchoolUnitCode",
    "GroupId",
    "StudentId",
    "TeacherId",
    "SubjectCode",
    "SchoolYear",
    "SCHOOL_YEAR_RULE",
    "school_year_bounds",
    "school_year_of",
    "within_school_year",
    "Term",
    "Gender",
]

PIN_ERROR = (
    "must not contain a personal identity number (personnummer/samordningsnummer); "
    "use a pseudonymous id"
)
#: Rule names (the ``type`` of the pydantic error, the ``rule`` of a problem+json field error).
PIN_RULE = "no_personal_identity_number"
CONTROL_RULE = "no_control_characters"
NONCHARACTER_RULE = "no_noncharacters"
ASCII_RULE = "ascii_only"
INVISIBLE_RULE = "no_invisible_characters"
BLANK_RULE = "not_blank"
#: the envelope's `source` (`check_source`), its `subject` (`check_subject`)
URI_REFERENCE_RULE = "uri_reference"
UNASSIGNED_RULE = "no_unassigned_characters"
MIXED_SCRIPT_RULE = "no_mixed_scripts"
#: a name of Latin words with a word wholly of another script's Latin look-alikes ("Klass 7А", a Cyrillic А)
LOOK_ALIKE_RULE = "no_whole_script_confusables"
#: an assessment's date in its school year (`within_school_year`)
SCHOOL_YEAR_RULE = "within_school_year"

# A candidate: a run of exactly 6 or 8 digits (date part), a separator of at most a few spaces
# around an optional '-' or '+' — or '_' or '.', which an id may hold, so that "elev_19121212_1212" is
# found as "elev-19121212-1212" is (not ':' or '/': Styrkedja's own keys join a school unit code and an
# id with them, "unit:group:20121212:2024", "20121212/2024") — and exactly 4 digits (serial +
# check digit), not touching any other digit. The look-ahead makes every start position a
# candidate, so a failed candidate cannot hide an overlapping valid one. Runs on text that
# `normalise_for_detection` made ASCII for digits, dashes and spaces, so `\d` and `\s` are ASCII here.
_CANDIDATE = re.compile(r"(?<!\d)(?=(\d{8}|\d{6})(\s{0,3}[-+_.]?\s{0,3})(\d{4})(?!\d))", re.ASCII)
# Canonical UUIDs (8-4-4-4-12 hex) are machine generated; their digit groups
# can look like "19900101-1234" by chance, so they are masked before scanning.
_UUID = re.compile(
    r"(?<![0-9A-Fa-f])[0-9A-Fa-f]{8}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{12}"
    r"(?![0-9A-Fa-f])"
)
#: Hex digests (MD5, SHA-1, SHA-224, SHA-256, SHA-384, SHA-512: 32 to 128 hex digits, one case, standing alone) are
#: machine generated too: a platform's pseudonymous ids and a client's `Idempotency-Key` are often one. About one
#: SHA-256 in 1,900 holds ten or twelve digits that pass for a personnummer by chance (the importer's own keys were
#: refused so, CI session 22), so they are masked as UUIDs are. A run of digits alone is a number, not a digest:
#: only runs holding a letter (`_is_digest`) are masked.
_HEX_DIGEST = re.compile(r"(?<![0-9A-Za-z])(?:[0-9a-f]{32,128}|[0-9A-F]{32,128})(?![0-9A-Za-z])")
_DIGEST_LENGTHS = frozenset((32, 40, 56, 64, 96, 128))
_CENTURIES = ("18", "19", "20")
_SIX_DIGITS = re.compile(r"\d{6}", re.ASCII)  # every candidate has one
#: Unicode's bidirectional embedding, override and isolate controls (LRE RLE PDF LRO RLO, LRI RLI FSI PDI): in
#: a name or a comment they make a reader (a spreadsheet, a terminal, a code review) see the text in another
#: order than it is stored ("Trojan Source", CVE-2021-42574). The marks LRM, RLM and ALM stay allowed
BIDI_CONTROLS = "\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069"
# C0 controls other than tab, newline and carriage return (CRLF line ends), DEL, the C1 controls (U+0080-U+009F:
# NEL ends a line for Python's `splitlines` and log viewers, CSI starts a terminal's escape sequence; they come of
# UTF-8 read as Latin-1, "Å" as "Ã" and U+0085; LIKA's own text rule refused them already, every other input and
# event took them until round 17), lone surrogates (JSON can carry "\ud800"; PostgreSQL and UTF-8 cannot store
# them) and the bidirectional controls.
_FORBIDDEN = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ud800-\udfff" + BIDI_CONTROLS + "]")
#: Unicode's 66 noncharacters (U+FDD0-U+FDEF and the last two code points of every plane: U+FFFE, U+FFFF, U+1FFFE,
#: ...): no text, only a program's own markers. XML 1.0 cannot hold U+FFFE or U+FFFF, so one in a comment or a name
#: made every xlsx holding it a file Excel refuses to open (round 19); none is typed or pasted by a person
NONCHARACTERS = "\ufdd0-\ufdef" + "".join(f"{chr(p * 0x10000 + 0xfffe)}{chr(p * 0x10000 + 0xffff)}" for p in range(17))
"""Unicode's noncharacters as the body of a regular expression's character class (`[...]`)."""
_NONCHARACTER = re.compile(f"[{NONCHARACTERS}]")


def has_noncharacter(value: str) -> bool:
    """Whether `value` holds one of Unicode's noncharacters (`_NONCHARACTER`). Pure; ASCII never does."""
    return not value.isascii() and _NONCHARACTER.search(value) is not None
_MINUS_SIGNS = frozenset("\u2212\u2043\u02d7\u2796\u2011\ufe63\uff0d")


@lru_cache(maxsize=4096)
def _ascii_equivalent(ch: str) -> str:
    """What a non-ASCII character stands for when looking for a number: a digit of any script
    becomes its ASCII digit, every dash a '-', every space a ' ', invisible format characters
    (soft hyphen, zero-width space, word joiner) nothing."""
    digit = unicodedata.decimal(ch, None)
    if digit is not None:
        return str(digit)
    category = unicodedata.category(ch)
    if category == "Pd" or ch in _MINUS_SIGNS:
        return "-"
    if category in ("Zs", "Zl", "Zp"):
        return " "
    if category == "Cf":
        return ""
    return ch


def normalise_for_detection(text: str) -> str:
    """Unicode NFKC (full-width digits, compatibility spaces), then every digit, dash and space
    variant as its ASCII form. ASCII text is returned as it is (the fast path of ingest)."""
    if text.isascii():
        return text
    text = unicodedata.normalize("NFKC", text)
    return "".join(ch if ch < "\x80" else _ascii_equivalent(ch) for ch in text)


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


def _masked(found: re.Match[str]) -> str:
    return "#" * len(found.group())


def _masked_digest(found: re.Match[str]) -> str:
    """A hex digest's run masked (`_HEX_DIGEST`); another run of hex (a number, a word, an odd length) kept."""
    run = found.group()
    return "#" * len(run) if len(run) in _DIGEST_LENGTHS and not run.isdigit() else run


def _pin_spans(text: str) -> list[tuple[int, int]]:
    """Spans (in the normalised text) of every valid personnummer/samordningsnummer."""
    text = _UUID.sub(_masked, text)
    text = _HEX_DIGEST.sub(_masked_digest, text)
    spans = []
    for m in _CANDIDATE.finditer(text):
        if _is_pin(m.group(1), m.group(3)):
            spans.append((m.start(), m.start() + len(m.group(1)) + len(m.group(2)) + len(m.group(3))))
    return spans


def contains_personal_identity_number(text: str) -> bool:
    """True if ``text`` contains something that is a valid personnummer or samordningsnummer.

    The text is normalised first (``normalise_for_detection``: NFKC, digits of any script,
    every Unicode dash, space and no-break space), so ``19121212\u20131212``, ``１９１２１２１２-１２１２``
    and ``121212 - 1212`` are found like ``19121212-1212``.
    Recognised forms: ``YYMMDD-NNNN``, ``YYMMDD+NNNN``, ``YYMMDD NNNN``, ``YYMMDD - NNNN``,
    ``YYMMDDNNNN``, ``YYYYMMDD-NNNN``, ``YYYYMMDD NNNN``, ``YYYYMMDDNNNN``, and with ``_`` or
    ``.`` (which an id may hold) as the separator
    (century 18, 19 or 20). Month must be 01–12, day 01–31 (or 61–91 for a
    samordningsnummer) and the Luhn check digit over the 10-digit form must be
    valid. Organisation numbers (month digits >= 20) are not flagged, nor are
    digits that are part of a longer run of digits, nor digit groups inside a
    canonical UUID or a hex digest (32 to 128 hex digits of one case, holding a letter, standing alone).
    """
    if not isinstance(text, str) or len(text) < 10:
        return False
    if text.isascii():  # the ingest fast path: most strings have no run of six digits at all
        return _SIX_DIGITS.search(text) is not None and bool(_pin_spans(text))
    return bool(_pin_spans(normalise_for_detection(text)))


#: Letters outside ASCII that `normalise_for_detection` leaves as they are, even inside a string: the
#: Latin-1 letters À–ÿ (not × and ÷). Each is its own NFKC form, a starter (combining class 0) that
#: composes with no ASCII character, a letter (no digit, dash, space or format character); a test holds
#: these properties for every one of them.
INERT_LETTERS = "".join(chr(c) for c in range(0xC0, 0x100) if c not in (0xD7, 0xF7))
# every byte of "plain" JSON text: ASCII but the backslash and DEL, and the UTF-8 bytes of INERT_LETTERS
# (all two bytes, lead byte 0xC3; no other character's UTF-8 has only these bytes: a lead byte other than
# 0xC3 is not among them, and 0xC3 with a continuation byte among them is one of INERT_LETTERS)
_PLAIN_BYTES = bytes(sorted({*range(0x80), *INERT_LETTERS.encode("utf-8")} - {ord("\\"), 0x7F}))
# a byte's class for the candidate search: an ASCII digit '0', what `_CANDIDATE`'s separator may hold
# (ASCII whitespace, '+', '-', '_', '.') ' ' for JSON's blanks (space, tab, newline, carriage return) and '-' for the
# others, anything else 'x'. The blanks have a class of their own so that the one translation also says whether the text
# has any (`plain_json_key_tokens`: then its key tokens are counted without taking them out first)
_JSON_BLANKS = b" \t\n\r"
_CLASSES = bytes(ord("0") if chr(b).isdigit() and b < 0x80 else ord(" ") if chr(b) in " \t\n\r" else
                 ord("-") if chr(b) in "\f\v+-_." else ord("x") for b in range(256))
_CLASS_CANDIDATE = re.compile(rb"000000[ -]{0,7}0000")  # holds every `_CANDIDATE` match, in classes
# `_CLASSES` where a byte of plain text stands (`_PLAIN_BYTES`), '!' for every other byte: one translation gives both
# whether the text is plain (no '!') and, for plain text, the very classes of `_CLASSES` (`plain_json_without_pin`)
_PLAIN_CLASSES = bytes(_CLASSES[b] if b in _PLAIN_BYTES else ord("!") for b in range(256))


def is_plain_json(raw: bytes) -> bool:
    """Whether the UTF-8 JSON text `raw` has no backslash (so no escape), no DEL and no character but
    ASCII and `INERT_LETTERS`. In plain text every string of the document is a substring of it,
    character for character, and no string holds a control character or a lone surrogate
    (`json.loads` refuses raw control characters in strings; only an escape makes one)."""
    return not raw.translate(None, _PLAIN_BYTES)


def plain_json_may_contain_personal_identity_number(raw: bytes) -> bool:
    """For `is_plain_json` text: False only when no string of the document (values and keys, at any
    depth) holds a personnummer by `contains_personal_identity_number`; True means "look at every
    string" (the exact check). The check on the text is the scanner's own, on fewer characters:

    In plain text `normalise_for_detection` changes no string, so a personnummer in a string is a
    `_CANDIDATE` match inside the string whose digits pass `_is_pin`. All of its characters are ASCII
    digits, ASCII whitespace, '+' or '-': it lies inside one maximal run of such characters of the
    text (a string's quotes bound it), and `_CANDIDATE` run on that run alone finds it (the same
    characters; its look-behind and look-ahead see the same neighbours, or none where the text has a
    non-digit). Every run holding a match holds a `_CLASS_CANDIDATE` match (six digits, at most seven
    separator characters, four digits), so only those runs are looked at. Masking UUIDs and digests first (the
    scanner's step) only removes candidates, and a run outside any string (a JSON number) can only
    make the answer True."""
    return _classes_hold_pin(raw, raw.translate(_CLASSES))


def plain_json_without_pin(raw: bytes) -> bool:
    """`is_plain_json(raw) and not plain_json_may_contain_personal_identity_number(raw)`, the text translated once
    (`_PLAIN_CLASSES`) instead of twice: a fast path's first question of every message (the reporting rebuild's
    decoders ask it of every event: each translation ~0.6 µs of ~30, bench/README.md decode36)."""
    return plain_json_key_tokens(raw) >= 0


def key_tokens(raw: bytes) -> int:
    """At least as many as the keys of the JSON text `raw` (all objects, any depth), and as many where no
    string begins with blanks and a colon and none holds an escaped quote before a colon: each key ends in
    a closing quote, blanks and a colon, and an unescaped '"' only opens or closes a string. Counting '":'
    with the blanks taken out costs ~1 µs a message; a regex over the text (`"\\s*:`) four."""
    return raw.translate(None, _JSON_BLANKS).count(b'":')


def plain_json_key_tokens(raw: bytes) -> int:
    """`key_tokens(raw)` where `plain_json_without_pin(raw)`, else -1: the fast path's first two questions of every
    message from one translation (`_PLAIN_CLASSES`). The classes say whether the text has a JSON blank at all; where it
    has none (every event the contracts write: `CloudEvent.to_bytes` is compact), taking the blanks out changes
    nothing and the key tokens are counted in the text as it is (the translation without the blanks was ~0.55 of the
    count's ~1.4 µs per event in a rebuild decoder: bench/README.md read39)."""
    classes = raw.translate(_PLAIN_CLASSES)
    if b"!" in classes or _classes_hold_pin(raw, classes):
        return -1
    return raw.count(b'":') if b" " not in classes else raw.translate(None, _JSON_BLANKS).count(b'":')


def _classes_hold_pin(raw: bytes, classes: bytes) -> bool:
    """`plain_json_may_contain_personal_identity_number` of plain `raw` whose classes (`_CLASSES`) are `classes`. Each
    candidate's whole run is looked at, then the search goes on after the run: a match cannot reach past the 'x' that
    ends it, so no candidate of another run is passed over (a `finditer` over every candidate, skipping those inside
    the run just looked at, gave the same runs for ~0.5 µs more of the rebuild decoder's per event: its iterator and
    a match object per candidate; bench/README.md decode37)."""
    search = _CLASS_CANDIDATE.search
    found = search(classes)
    while found is not None:
        start = classes.rfind(b"x", 0, found.start()) + 1
        end = classes.find(b"x", found.end())
        if end < 0:
            return _run_holds_pin(raw[start:])
        if _run_holds_pin(raw[start:end]):
            return True
        found = search(classes, end)
    return False


@lru_cache(maxsize=1_024)
def _run_holds_pin(run: bytes) -> bool:
    """Whether a run of digits, whitespace and separators (`plain_json_may_contain_personal_identity_number`'s) holds
    a personnummer: a pure function of its bytes, remembered. The same runs recur event after event — an organiser's
    organisation number (`214168-5760`) has a personnummer's shape and is in each of its events — and the look at
    one (`_CANDIDATE`, `_is_pin`) was ~1.5 µs of the reporting rebuild decoder's per event (bench/README.md
    rebuild35)."""
    return any(_is_pin(m.group(1), m.group(3)) for m in _CANDIDATE.finditer(run.decode("ascii")))


def redact_personal_identity_numbers(text: str) -> tuple[str, int]:
    """``text`` with every personnummer/samordningsnummer replaced by ``[REDACTED]``, and how
    many were replaced. A text with one is returned normalised (see ``normalise_for_detection``)."""
    if not isinstance(text, str) or len(text) < 10:
        return text, 0
    normalised = normalise_for_detection(text)
    spans = _pin_spans(normalised)
    if not spans:
        return text, 0
    out, last, count = [], 0, 0
    for start, end in spans:
        if end <= last:  # inside the previous one (19121212-1212 also holds 121212-1212)
            continue
        out.append(normalised[last:max(start, last)])
        out.append("[REDACTED]")
        last, count = end, count + 1
    out.append(normalised[last:])
    return "".join(out), count


def check_text(value: str) -> str:
    """The text rules every string of an input and an event obeys, written once:
    no C0 control characters other than tab, newline and carriage return (PostgreSQL refuses
    NUL), no C1 control characters, no bidirectional embedding, override or isolate controls (`BIDI_CONTROLS`), no lone
    surrogates, no noncharacters (`has_noncharacter`), and no personal identity number in any spelling.
    Raises a pydantic error whose type is the rule name."""
    broken = _text_rule_broken(value) if len(value) <= 256 else _text_rule_broken.__wrapped__(value)
    if broken == CONTROL_RULE:
        raise PydanticCustomError(CONTROL_RULE, "must not contain control characters (other than tab and newline)")
    if broken == NONCHARACTER_RULE:
        raise PydanticCustomError(NONCHARACTER_RULE, "must not contain Unicode noncharacters (U+FFFE, U+FFFF, "
                                                     "U+FDD0-U+FDEF, ...): they are no text, and no spreadsheet "
                                                     "file can hold them")
    if broken == PIN_RULE:
        raise PydanticCustomError(PIN_RULE, PIN_ERROR)
    return value


def check_line(value: str) -> str:
    """`check_text` for a one-line attribute (an envelope's `source` and `subject`: names, not prose):
    not even tab, newline or carriage return, which would split a log line or a header that carries it.
    Raises a pydantic error whose type is the rule name."""
    if "\t" in value or "\n" in value or "\r" in value or _FORBIDDEN.search(value):
        raise PydanticCustomError(CONTROL_RULE, "must not contain control or bidirectional control characters "
                                                "(one line of text)")
    return check_text(value)


#: RFC 3986's characters of a URI-reference (§2: unreserved, reserved, and `%` with two hex digits): ASCII only, every
#: other character percent-encoded, no space, no `"<>\\^`{|}`. The envelope's `source` (CloudEvents: a
#: URI-reference) is held to it: `/bedömning` or `/assessment\u200b` is an IRI at best, two spellings of one
#: producer at worst (the consumers' bookkeeping, the dead letters and the logs keep it as it came)
URI_REFERENCE_PATTERN = r"^(?:[A-Za-z0-9\-._~:/?#\[\]@!$&'()*+,;=]|%[0-9A-Fa-f]{2})+$"
_URI_REFERENCE = re.compile(URI_REFERENCE_PATTERN)


def check_source(value: str) -> str:
    """The envelope's `source`: a URI-reference of RFC 3986's characters (`URI_REFERENCE_PATTERN`), whose
    percent-decoded text obeys the text rules too (as a link's does, `events.base.check_url`: `%31%39…` spells a
    personnummer, `%E2%80%AE` a right-to-left override). Raises a pydantic error whose type is the rule name."""
    if not _URI_REFERENCE.match(value):
        raise PydanticCustomError(URI_REFERENCE_RULE, "must be a URI-reference (RFC 3986): ASCII letters, digits and "
                                  "-._~:/?#[]@!$&'()*+,;= only, any other character percent-encoded (%HH) "
                                  "(uri_reference)")
    if "%" in value:
        check_text(unquote(value))
    return value


#: Unicode categories a one-line label (the envelope's `subject`) holds none of, and the rule each breaks: controls
#: and surrogates (`check_line` words most of them), format characters (zero-width space, joiners, word joiner, BOM,
#: soft hyphen, the direction marks, tag characters) and the line and paragraph separators, which show nothing or
#: break the line where the label is shown, and private-use and unassigned code points, which no two fonts show alike
#: (a later Unicode version may assign one: the rule then widens, never narrows)
_LINE_REFUSED = {"Cc": CONTROL_RULE, "Cs": CONTROL_RULE, "Cf": INVISIBLE_RULE, "Zl": INVISIBLE_RULE,
                 "Zp": INVISIBLE_RULE, "Co": UNASSIGNED_RULE, "Cn": UNASSIGNED_RULE}
#: scripts whose letters stand for each other ("а" Cyrillic, "a" Latin, "ο" Greek): a word mixing two of them is a
#: look-alike of another word (Unicode TS #39's mixed-script confusables; Latin, Greek and Cyrillic hold nearly all)
_CONFUSABLE_SCRIPTS = ("LATIN", "GREEK", "CYRILLIC")


def _confusable_script(ch: str) -> str | None:
    words = unicodedata.name(ch, "").split()
    return next((script for script in _CONFUSABLE_SCRIPTS if script in words), None)


@lru_cache(maxsize=4096)
def line_rule_broken(value: str) -> str | None:
    """The rule a one-line label (`check_subject`) breaks beyond `check_line`'s, or None: a character of a refused
    category (`_LINE_REFUSED`), or a word (a run of letters and marks) whose letters are of two of Latin, Greek and
    Cyrillic (`MIXED_SCRIPT_RULE`). Pure; ASCII breaks none of them (`check_line` refuses its controls)."""
    if value.isascii():
        return None
    scripts: set[str] = set()
    for ch in value:
        category = unicodedata.category(ch)
        rule = _LINE_REFUSED.get(category)
        if rule is not None:
            return rule
        if category[0] not in "LM":
            scripts.clear()  # a word ends
        elif category[0] == "L" and (script := _confusable_script(ch)) is not None:
            scripts.add(script)
            if len(scripts) > 1:
                return MIXED_SCRIPT_RULE
    return None


def check_subject(value: str) -> str:
    """The envelope's `subject` beyond `check_line`: a label shown as it came (a dead letter, a log line, an operator's
    terminal) shows what it holds: no invisible, private-use or unassigned character, no word of look-alike letters
    of two scripts (`line_rule_broken`). Raises a pydantic error whose type is the rule name."""
    broken = line_rule_broken(value) if len(value) <= 256 else line_rule_broken.__wrapped__(value)
    if broken == CONTROL_RULE:
        raise PydanticCustomError(CONTROL_RULE, "must not contain control characters or lone surrogates "
                                                "(no_control_characters)")
    if broken == INVISIBLE_RULE:
        raise PydanticCustomError(INVISIBLE_RULE, "must not contain invisible characters (zero-width, joiners, "
                                  "direction marks, BOM, soft hyphen, line or paragraph separators) "
                                  "(no_invisible_characters)")
    if broken == UNASSIGNED_RULE:
        raise PydanticCustomError(UNASSIGNED_RULE, "must not contain private-use or unassigned code points "
                                                   "(no_unassigned_characters)")
    if broken == MIXED_SCRIPT_RULE:
        raise PydanticCustomError(MIXED_SCRIPT_RULE, "a word must not mix Latin, Greek or Cyrillic letters: such a "
                                  "word is a look-alike of another (no_mixed_scripts)")
    return value


#: Characters that show nothing but still make a name another name: "Skola" and "Sk\u200bola" look the same and
#: are two units, two tags, two rows of a report. Refused in names (`check_name`): every format character (category
#: Cf: zero-width space, non-joiner and joiner, word joiner, BOM, soft hyphen, the bidi marks LRM, RLM and ALM, tag
#: characters) and the line and paragraph separators U+2028/U+2029 (Zl, Zp). Free text (comments, notes, reasons)
#: keeps them: it is read, never compared or grouped by, and needs them — ZWJ joins emoji sequences, ZWNJ is part
#: of Persian and Indic spelling, LRM/RLM order mixed Arabic and Swedish; the personnummer check reads past them
#: (`normalise_for_detection`).
_INVISIBLE_CATEGORIES = frozenset({"Cf", "Zl", "Zp"})
#: letters and symbols that are drawn as nothing (Hangul fillers, the blank braille pattern): no visible character
_BLANK_LOOKING = frozenset("\u115f\u1160\u3164\uffa0\u2800")


def _visible(ch: str) -> bool:
    return not ch.isspace() and unicodedata.category(ch)[0] not in "CZM" and ch not in _BLANK_LOOKING


#: Unicode TS #39's augmented script sets (section 5.1): a Han character is also of Japanese, Korean and Han with
#: Bopomofo writing, a kana of Japanese, a hangul of Korean, a bopomofo of Han with Bopomofo — so that a Japanese word
#: of kanji and kana is of one script, as its readers see it
_AUGMENTED = {"Hani": ("Hanb", "Jpan", "Kore"), "Hira": ("Jpan",), "Kana": ("Jpan",), "Hang": ("Kore",),
              "Bopo": ("Hanb",)}
#: the scripts Latin may share a word with (Unicode TS #39's "highly restrictive" level): Han and kana, Han and
#: bopomofo, Han and hangul, as Japanese, Chinese and Korean words hold Latin letters ("Tシャツ")
_WITH_LATIN_IN_A_WORD = frozenset({"Jpan", "Hanb", "Kore"})


@lru_cache(maxsize=1)
def _script_extension() -> Callable[[str], Any]:
    """fontTools' Script_Extensions lookup, imported at the first name beyond Latin-1: its tables are ~2.5 MB in every
    process importing the contracts (and shift its garbage collector's rhythm: send's peak per change, test_ss12000_
    compact), and most processes never see such a name."""
    from fontTools import unicodedata as font_unicodedata

    return font_unicodedata.script_extension  # type: ignore[no-any-return]


@lru_cache(maxsize=8192)
def _scripts_of(ch: str) -> frozenset[str] | None:
    """The augmented script set of a character (`_AUGMENTED`), from Unicode's Script_Extensions as fontTools holds it
    (its tables follow each Unicode release); None for a character of every script (Common and Inherited: digits,
    punctuation, spaces, most marks)."""
    found = frozenset(_script_extension()(ch))
    if "Zyyy" in found or "Zinh" in found:
        return None
    return found.union(*(_AUGMENTED.get(script, ()) for script in found))


def _highly_restrictive(word: str) -> bool:
    """Whether the characters of `word` are of one script (Unicode TS #39 section 5.1: their resolved script set is not
    empty) or of Latin and one of `_WITH_LATIN_IN_A_WORD` (section 5.2's "highly restrictive")."""
    resolved: frozenset[str] | None = None  # None: every script
    without_latin: frozenset[str] | None = None
    for ch in word:
        scripts = _scripts_of(ch)
        if scripts is None:
            continue
        resolved = scripts if resolved is None else resolved & scripts
        if "Latn" not in scripts:
            without_latin = scripts if without_latin is None else without_latin & scripts
    return resolved is None or bool(resolved) or bool(without_latin and without_latin & _WITH_LATIN_IN_A_WORD)


def mixes_scripts(name: str) -> bool:
    """Whether a word of the name (text between spaces) mixes scripts, so that it can look like another
    (`MIXED_SCRIPT_RULE`): by Unicode TS #39's "highly restrictive" level, applied to each word, a word is of one script,
    or Latin with Han and kana, bopomofo or hangul. "Skоla" (a Cyrillic о) is refused, as are "Sk-оla" and "S.k.о.l.a";
    a name of words each of its own script is not ("Modersmål Ελληνικά", "Skolan – العربية": mother-tongue groups are
    named so), nor is any name of one script (Swedish, Sámi, Finnish, Somali, Arabic, Ukrainian, Greek). Text of
    Latin-1 alone (Latin letters, digits, punctuation) never mixes. Pure."""
    return max(name) >= "\u0100" and not all(_highly_restrictive(word) for word in name.split())


@lru_cache(maxsize=1)
def _latin_look_alikes() -> frozenset[str]:
    """The characters Unicode's confusables.txt (UTS #39, as the pinned confusable-homoglyphs package holds it, both
    ways) pairs with one ASCII letter or digit: Cyrillic а and А, Greek ο and Ν, Armenian օ, Cherokee Ꭺ, Cyrillic З
    ("3"). Read at the first name that has a Latin word and a word of another script (~0.9 MB of JSON, ~25 ms of CPU;
    most processes never see one), from the package's data file, not its module: that keeps the whole table, +8.5 MB
    in every process that read it once, where 1,315 characters are kept here."""
    import json
    from importlib.resources import files

    confusables_data = json.loads(files("confusable_homoglyphs").joinpath("confusables.json").read_bytes())
    return frozenset(ch for ch, pairs in confusables_data.items()
                     if len(ch) == 1 and not ch.isascii() and any(
                         len(p["c"]) == 1 and p["c"].isascii() and p["c"].isalnum() for p in pairs))


def _looks_latin(word: str) -> bool:
    """Whether every letter of `word` (its marks taken off: "ά" is "α" with an accent) is drawn like an ASCII letter or
    digit (`_latin_look_alikes`); digits and punctuation join any word."""
    look_alikes = _latin_look_alikes()
    return all(ch in look_alikes or _scripts_of(ch) is None
               for ch in unicodedata.normalize("NFD", word) if unicodedata.category(ch)[0] != "M")


def look_alike_word(name: str) -> str | None:
    """The first word of `name` that is a whole-script look-alike of a Latin word beside the name's Latin words
    (`LOOK_ALIKE_RULE`), else None. A word of one script other than Latin (words never mix scripts: `mixes_scripts`)
    whose every letter is drawn like an ASCII letter or digit (Unicode TS #39's whole-script confusables, by
    confusables.txt) reads as Latin: in "Klass 7А" the Cyrillic "7А" is read "7A", and the group is another row of
    every report than "Klass 7A". Only where the name has a Latin word, and only where no other word of that script
    shows that the name is written in it too: "7А", "Рос Сор" (wholly Cyrillic), "Svenska і Українська" (a real
    Ukrainian word beside the look-alike "і"), "Modersmål Ελληνικά" are taken. Latin-1 text never has such a word.
    Pure."""
    if max(name, default="\0") < "\u0100":
        return None
    latin = False
    others: list[tuple[str, frozenset[str]]] = []  # each word of another script, with its scripts
    for word in name.split():
        resolved: frozenset[str] | None = None
        for ch in word:
            scripts = _scripts_of(ch)
            if scripts is not None:
                resolved = scripts if resolved is None else resolved & scripts
        if resolved is None:
            continue  # digits and punctuation alone
        if "Latn" in resolved:
            latin = True
        else:
            others.append((word, resolved))
    if not latin or not others:  # (most names: of one script, never reading the confusables)
        return None
    shown: set[str] = set()  # the scripts of a word that does not look Latin: the name is written in them
    alike: list[tuple[str, frozenset[str]]] = []
    for word, scripts in others:
        if _looks_latin(word):
            alike.append((word, scripts))
        else:
            shown.update(scripts)
    return next((word for word, scripts in alike if not scripts & shown), None)


@lru_cache(maxsize=4096)
def name_rule_broken(value: str) -> str | None:
    """The rule a name breaks beyond `check_text`'s, or None: `CONTROL_RULE` for a tab, newline or carriage return
    (free text keeps them, a comment's line breaks; a name is one line: "Skola\tNorr" splits a TSV row, "Skola\n"
    a log line), `INVISIBLE_RULE`, `BLANK_RULE`, `MIXED_SCRIPT_RULE` (`mixes_scripts`), `LOOK_ALIKE_RULE`
    (`look_alike_word`). Pure."""
    if "\t" in value or "\n" in value or "\r" in value:
        return CONTROL_RULE
    if value.isascii():  # most names: no format character, blank when only spaces and the like
        return None if any(" " < ch < "\x7f" for ch in value) else BLANK_RULE
    if any(unicodedata.category(ch) in _INVISIBLE_CATEGORIES for ch in value):
        return INVISIBLE_RULE
    if not any(_visible(ch) for ch in value):
        return BLANK_RULE
    if mixes_scripts(value):
        return MIXED_SCRIPT_RULE
    return LOOK_ALIKE_RULE if look_alike_word(value) is not None else None


#: what a name with a whole-script look-alike word is told (`check_name`; LIKA's door says the same)
LOOK_ALIKE_NAME = ("a word of a name beside Latin words must not be written wholly in letters of another script drawn "
                   "like Latin ones (Unicode TS #39, whole-script confusables), as \"7А\" with a Cyrillic А in "
                   "\"Klass 7А\" reads \"Klass 7A\"; a name written in that script is taken "
                   "(no_whole_script_confusables)")
#: what a name mixing scripts is told (`check_name`; LIKA's door says the same)
MIXED_SCRIPT_NAME = ("a word of a name must not mix scripts (Unicode TS #39, highly restrictive): each word of one "
                     "script (Latin may join Han and kana, bopomofo or hangul), as \"Skоla\" with a Cyrillic о looks "
                     "like \"Skola\" (no_mixed_scripts)")


def check_name(value: str) -> str:
    """The rules of a name (a unit's, a group's, a duty's, an owner, a tag, a title) beyond `check_text`: one line
    (no tab, newline or carriage return), no invisible format characters (see `_INVISIBLE_CATEGORIES`), at least
    one visible character, and no scripts mixed to look like another name (`mixes_scripts`), nor a word of another
    script's Latin look-alikes beside Latin words (`look_alike_word`). Raises a pydantic error whose type is the rule
    name."""
    broken = name_rule_broken(value) if len(value) <= 256 else name_rule_broken.__wrapped__(value)
    if broken == CONTROL_RULE:
        raise PydanticCustomError(CONTROL_RULE, "a name is one line: no tab, newline or other control character")
    if broken == INVISIBLE_RULE:
        raise PydanticCustomError(INVISIBLE_RULE, "a name must not contain invisible characters (zero-width, "
                                  "joiners, direction marks, line or paragraph separators)")
    if broken == BLANK_RULE:
        raise PydanticCustomError(BLANK_RULE, "a name must have a visible character (not only spaces)")
    if broken == MIXED_SCRIPT_RULE:
        raise PydanticCustomError(MIXED_SCRIPT_RULE, MIXED_SCRIPT_NAME)
    if broken == LOOK_ALIKE_RULE:
        raise PydanticCustomError(LOOK_ALIKE_RULE, LOOK_ALIKE_NAME)
    return value


@lru_cache(maxsize=65_536)
def _text_rule_broken(value: str) -> str | None:
    # A pure function of the string, cached (short strings only, so the cache stays small): one
    # write checks the same string as input, as event data and in the envelope, and a batch
    # repeats organiser, unit, group, subject and period.
    if _FORBIDDEN.search(value):
        return CONTROL_RULE
    if has_noncharacter(value):
        return NONCHARACTER_RULE
    if has_personal_identity_number(value):
        return PIN_RULE
    return None


def has_personal_identity_number(text: str) -> bool:
    """`contains_personal_identity_number`, cached for short strings (see `check_text`)."""
    if len(text) <= 256:
        return _has_pin_cached(text)
    return contains_personal_identity_number(text)


@lru_cache(maxsize=65_536)
def _has_pin_cached(text: str) -> bool:
    return contains_personal_identity_number(text)


def _reject_pin(value: Any) -> Any:
    # The identifier types' text check (five fields of every batch item): a short string that
    # obeys the rules is answered by the cache `check_text` would ask, without calling it.
    if type(value) is str and len(value) <= 256 and _text_rule_broken(value) is None:
        return value
    if isinstance(value, str):
        check_text(value)
    return value


def _ascii_only(value: str) -> str:
    # pydantic's `\d` and `[A-Z]` patterns run on the Rust regex engine, where `\d` is any
    # Unicode digit: '２９９９' or '٢٩٩٩' would pass. The JSON Schema pattern means ASCII.
    if not value.isascii():
        raise PydanticCustomError(ASCII_RULE, "must be ASCII letters and digits only")
    return value


def _check_school_year(value: str) -> str:
    first, second = value.split("/")
    if not 1900 <= int(first) <= 9998:  # its terms' dates must exist (`date` ends in 9999)
        raise ValueError(f"school year {value!r} must start in 1900–9998")
    if int(second) != (int(first) + 1) % 100:
        raise ValueError(
            f"school year {value!r} must be two consecutive years, e.g. '2026/27' "
            "(second part = first year + 1, last two digits)"
        )
    return value


@lru_cache(maxsize=256)  # asked per assessment decoded (`within_school_year`): a few school years, two dates each
def school_year_bounds(school_year: str) -> tuple[date, date]:
    """The first and the last day of a school year (läsår): `2026/27` is 2026-07-01 … 2027-06-30."""
    first = int(school_year[:4])
    return date(first, 7, 1), date(first + 1, 6, 30)


def school_year_of(day: date) -> str:
    """The school year `day` lies in: 2026-07-01 and 2027-06-30 are in `2026/27`."""
    first = day.year if day.month >= 7 else day.year - 1
    return f"{first}/{(first + 1) % 100:02d}"


def within_school_year(day: date, school_year: str) -> bool:
    """Whether `day` lies in `school_year` (`school_year_bounds`). The rule of an assessment's `assessed_on`
    (`SCHOOL_YEAR_RULE`): a date years ahead would keep its school unit's freshness green for years."""
    start, end = school_year_bounds(school_year)
    return start <= day <= end


class _TextRulesHeld:
    """See `TEXT_RULES_HELD`."""

    def __repr__(self) -> str:
        return "TEXT_RULES_HELD"


TEXT_RULES_HELD = _TextRulesHeld()
"""A marker in a text type's metadata (pydantic ignores it): every value the type accepts obeys
``check_text`` already — its pattern and the ASCII rule allow ASCII digits and '/' only, fewer
than ten characters (no control character, and too short for any personnummer), so a request
body (`styrkedja_kit.inputs.InputModel`) need not check such a field again. A test holds it."""

#: an id of a source system's entity (SS 12000's own ids and references, a pseudonym, a unit's id): ASCII letters,
#: digits and `._:-`, 1–64 — one rule for the contracts, reporting's directory door and the SS 12000 importer
SOURCE_ID_PATTERN = r"^[A-Za-z0-9._:-]{1,64}$"

_PSEUDONYM = StringConstraints(min_length=1, max_length=64, pattern=SOURCE_ID_PATTERN)

SafeText = Annotated[str, AfterValidator(check_text)]
"""Free text (unmet criteria, reasons, comments, names): no control characters, no personnummer.
Usable as a FastAPI query or path parameter type as it is."""


def nfc(value: Any) -> Any:
    """A name in Unicode NFC: "Å" typed as one character (U+00C5) or as "A" and a combining ring (U+030A),
    as a Mac's file names and some keyboards give it, is one name — stored, compared and searched alike.
    Anything but text is left to the type's own rules. ASCII (most names) is its own NFC."""
    if type(value) is str and not value.isascii():
        return unicodedata.normalize("NFC", value)
    return value


#: The spaces a name may be surrounded by and is kept without (`name_form`): every space separator (Unicode's Zs:
#: the space, the no-break space, the en, em and thin spaces, the ideographic space, ...). Not tab, newline or
#: carriage return: those are control characters, refused in a name wherever they stand (`check_name`).
NAME_SPACES = "".join(chr(c) for c in range(0x3001) if unicodedata.category(chr(c)) == "Zs")


_OTHER_SPACES = frozenset(NAME_SPACES) - {" "}
#: a run of spaces inside a name, or one that is not the ordinary space (`name_form` makes it one ordinary space)
_INNER_SPACES = re.compile(f"[{re.escape(NAME_SPACES)}]{{2,}}|[{re.escape(NAME_SPACES.replace(' ', ''))}]")


def name_form(value: Any) -> Any:
    """The one form of a name: Unicode NFC (`nfc`) without surrounding spaces (`NAME_SPACES`), every run of spaces
    inside it one ordinary space, so that "Skola ", " Skola" and "Skola" (a space left in a spreadsheet cell or a
    hand-typed SS 12000 field) are one name, as "Norra  skolan" (two spaces), "Norra\u00a0skolan" (a no-break space,
    as a word processor or a web form pasted it) and "Norra skolan" are, and as "Å" composed and decomposed are: no
    reader tells them apart, on a page, in a spreadsheet or a printed report. A name of spaces only is left as it
    is, for `check_name` to refuse as `not_blank`. Anything but text is left to the type's own rules. Pure."""
    value = nfc(value)
    if type(value) is str and value:
        if value[0] in NAME_SPACES or value[-1] in NAME_SPACES:
            value = value.strip(NAME_SPACES) or value
        # two spaces in a row, or a space that is not the ordinary one (none in ASCII): tried without a regex, as most
        # names need no forming
        if ("  " in value or not (value.isascii() or _OTHER_SPACES.isdisjoint(value))) and not value.isspace():
            value = _INNER_SPACES.sub(" ", value)
    return value


Name = Annotated[str, BeforeValidator(name_form), AfterValidator(check_text), AfterValidator(check_name)]
"""A name (a school unit's, a team's, a tag): `SafeText` in its one form (`name_form`: Unicode NFC, no surrounding
spaces), one line, with no invisible character and at least one visible one (`check_name`). Formed before the
length rules, so that they count what is stored. Usable as a FastAPI query parameter type as it is."""

# An organisation number in the spellings registers and platforms use: ten digits with or without the hyphen
# before the last four (Bolagsverket, SS 12000 servers, Skolverket's registers), or the twelve-digit form with
# the prefix 16 (Skatteverket's, e-invoicing, some HR and SS 12000 exports), with or without the hyphen
_ORGANISATION_NUMBER = re.compile(r"(?:16)?([0-9]{6})-?([0-9]{4})", re.ASCII)


def is_organisation_number(value: str) -> bool:
    """Whether `value` is an organisation number in one of the spellings `canonical_organiser_id` reads."""
    return _ORGANISATION_NUMBER.fullmatch(value) is not None


def canonical_organiser_id(value: str) -> str:
    """The one spelling of an organiser id: an organisation number as ``NNNNNN-NNNN`` (``"2120001234"``,
    ``"212000-1234"``, ``"162120001234"`` and ``"16212000-1234"`` are all ``"212000-1234"``); anything else
    (a kommunkod, or what is no organiser id at all, left to the type's pattern to refuse) as it is."""
    found = _ORGANISATION_NUMBER.fullmatch(value)
    return value if found is None else f"{found.group(1)}-{found.group(2)}"


def _canonical_organiser(value: Any) -> Any:
    # The organiser id's one validator: its spelling, then the text rules (`_reject_pin`'s) on what is kept —
    # "16" + a personnummer is no candidate as typed (a run of twelve digits) but is one once the prefix is
    # gone. One call, answered from a cache for the ids a batch repeats, as `_reject_pin` is.
    if type(value) is str and len(value) <= 13:
        kept = _checked_organiser_id(value)
        if kept is not None:
            return kept
        return check_text(canonical_organiser_id(value))  # raises, naming the rule
    return _reject_pin(value)


@lru_cache(maxsize=4096)
def _checked_organiser_id(value: str) -> str | None:
    """`value` in its one spelling, or None when that breaks a text rule."""
    kept = canonical_organiser_id(value)
    return kept if _text_rule_broken(kept) is None else None


OrganiserId = Annotated[
    str,
    StringConstraints(pattern=r"^(\d{4}|\d{6}-\d{4}|\d{10})$"),
    BeforeValidator(_canonical_organiser),
    AfterValidator(_ascii_only),
]
"""Huvudman: kommunkod (``"2999"``, as it is) or organisationsnummer, kept as ``"212000-1234"`` whichever of
``"2120001234"``, ``"212000-1234"``, ``"162120001234"``, ``"16212000-1234"`` was given (`canonical_organiser_id`).
The JSON Schema's pattern still names the ten-digit spellings (a narrower pattern would break the published
schema); what a model holds, and so every event, key and row written from it, is the canonical one."""

SchoolUnitCode = Annotated[str, StringConstraints(pattern=r"^\d{8}$"), AfterValidator(_ascii_only), TEXT_RULES_HELD]
"""Skolenhetskod: exactly 8 ASCII digits."""

GroupId = Annotated[str, _PSEUDONYM, BeforeValidator(_reject_pin), AfterValidator(_ascii_only)]
"""Pseudonymous group (klass/undervisningsgrupp) id."""

StudentId = Annotated[str, _PSEUDONYM, BeforeValidator(_reject_pin), AfterValidator(_ascii_only)]
"""Pseudonymous student (elev) id – never a personnummer."""

TeacherId = Annotated[str, _PSEUDONYM, BeforeValidator(_reject_pin), AfterValidator(_ascii_only)]
"""Pseudonymous teacher (lärare) id – never a personnummer."""

SubjectCode = Annotated[
    str, StringConstraints(pattern=r"^[A-Z0-9]{3,16}$"), BeforeValidator(_reject_pin), AfterValidator(_ascii_only)
]
"""Skolverket ämneskod, e.g. ``GRGRMAT01`` (3–16 uppercase ASCII letters/digits). Whether the
code is on Skolverket's list is checked by ``styrkedja_contracts.subjects.KnownSubjectCode``."""

SchoolYear = Annotated[
    str,
    StringConstraints(pattern=r"^\d{4}/\d{2}$"),
    AfterValidator(_ascii_only),
    AfterValidator(_check_school_year),
    TEXT_RULES_HELD,
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

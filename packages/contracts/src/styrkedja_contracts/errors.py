"""Contract errors raised by ``decode_event`` / ``new_event``.

Each error has a short machine-readable ``reason`` (used as the dead-letter
reason) and a human message naming the field and the rule. Messages never
repeat the offending input value (it could be a personnummer).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from .events.base import full_loc

__all__ = [
    "ContractError",
    "OversizedEventError",
    "UndecodableEventError",
    "DuplicateKeyError",
    "InvalidEnvelopeError",
    "UnknownEventTypeError",
    "InvalidEventDataError",
    "PersonalIdentityNumberError",
    "format_validation_errors",
]


class ContractError(Exception):
    """Base class: an event breaks the contract. ``reason`` is machine readable."""

    reason: str = "contract_error"

    def __init__(self, message: str, *, fields: Sequence[str] = (), rules: Sequence[str] = ()) -> None:
        super().__init__(message)
        self.message = message
        self.fields: tuple[str, ...] = tuple(fields)
        #: the rules broken (pydantic's error types: `no_invisible_characters`, `uri_reference`, ...), where known:
        #: what a door that made the event answers beside the field (`styrkedja_kit.rules.publishable_event`)
        self.rules: tuple[str, ...] = tuple(rules)

    def __str__(self) -> str:
        return f"{self.reason}: {self.message}"


class OversizedEventError(ContractError):
    """The raw message is larger than allowed."""

    reason = "oversized"


class UndecodableEventError(ContractError):
    """Not UTF-8 JSON, or not a JSON object."""

    reason = "undecodable"


class DuplicateKeyError(UndecodableEventError):
    """An object of the message names a key twice: JSON parsers differ on which value counts (RFC 8259 §4)."""

    reason = "duplicate_key"


class InvalidEnvelopeError(ContractError):
    """The CloudEvents envelope is missing a field or breaks a rule."""

    reason = "invalid_envelope"


class UnknownEventTypeError(ContractError):
    """The ``type`` is not in the registry (or cannot be upcast to a known version)."""

    reason = "unknown_type"


class InvalidEventDataError(ContractError):
    """``data`` does not validate against the event's model."""

    reason = "invalid_data"


class PersonalIdentityNumberError(InvalidEventDataError):
    """A personnummer/samordningsnummer was found in a string of the event."""


#: the errors a message lists at most (then how many more): a message is a dead letter's `dlq.message`, a log line,
#: a decoder process's answer to the rebuild, which keeps every refused record's until its end; one event of 256 kB
#: with 20,000 unknown keys was a message of 890 kB (and 20,000 fields), a key of 100,000 characters one of 100 kB
MAX_LISTED_ERRORS = 20
#: a key of the path at most (then `…`), and a rule's words at most: what a message repeats of the input is bounded
MAX_KEY_CHARS = 40
MAX_RULE_CHARS = 300


def _key(part: str) -> str:
    """A key of a path as a message names it: at most `MAX_KEY_CHARS` characters, escaped where not printable (a
    newline, an escape sequence or a direction mark in a key would reach the dead letter's header and the terminal
    of whoever reads it as it came)."""
    cut = part[:MAX_KEY_CHARS]
    if not cut.isprintable():
        cut = ascii(cut)[1:-1]
    return cut + "…" if len(part) > MAX_KEY_CHARS else cut


def _loc_to_path(loc: Iterable[Any], prefix: str = "") -> str:
    path = prefix
    for part in loc:
        if isinstance(part, int):
            path += f"[{part}]"
        else:
            path = f"{path}.{_key(str(part))}" if path else _key(str(part))
    return path or "(event)"


def format_validation_errors(errors: Sequence[Mapping[str, Any]], prefix: str = "") -> tuple[str, list[str]]:
    """Turn pydantic ``ValidationError.errors()`` into ``("field: rule; ...", [fields])``.

    The input values are deliberately left out of the message, and what it repeats of the input is bounded: the
    first `MAX_LISTED_ERRORS` errors (then how many more), each key of a path cut and escaped (`_key`).
    """
    parts: list[str] = []
    fields: list[str] = []
    for err in errors[:MAX_LISTED_ERRORS]:
        path = _loc_to_path(full_loc(err), prefix)
        msg = str(err.get("msg", "invalid"))
        for noise in ("Value error, ", "Assertion failed, "):
            if msg.startswith(noise):
                msg = msg[len(noise):]
        if len(msg) > MAX_RULE_CHARS:
            msg = msg[:MAX_RULE_CHARS] + "…"
        parts.append(f"{path}: {msg}")
        fields.append(path)
    if len(errors) > MAX_LISTED_ERRORS:
        parts.append(f"and {len(errors) - MAX_LISTED_ERRORS} more errors")
    return "; ".join(parts), fields

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

    def __init__(self, message: str, *, fields: Sequence[str] = ()) -> None:
        super().__init__(message)
        self.message = message
        self.fields: tuple[str, ...] = tuple(fields)

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


def _loc_to_path(loc: Iterable[Any], prefix: str = "") -> str:
    path = prefix
    for part in loc:
        if isinstance(part, int):
            path += f"[{part}]"
        else:
            path = f"{path}.{part}" if path else str(part)
    return path or "(event)"


def format_validation_errors(errors: Sequence[Mapping[str, Any]], prefix: str = "") -> tuple[str, list[str]]:
    """Turn pydantic ``ValidationError.errors()`` into ``("field: rule; ...", [fields])``.

    The input values are deliberately left out of the message.
    """
    parts: list[str] = []
    fields: list[str] = []
    for err in errors:
        path = _loc_to_path(full_loc(err), prefix)
        msg = str(err.get("msg", "invalid"))
        for noise in ("Value error, ", "Assertion failed, "):
            if msg.startswith(noise):
                msg = msg[len(noise):]
        parts.append(f"{path}: {msg}")
        fields.append(path)
    return "; ".join(parts), fields

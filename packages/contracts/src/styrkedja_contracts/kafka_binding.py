"""CloudEvents' Kafka protocol binding: what a record's headers say about how its event is carried.

Styrkedja takes the structured JSON content mode only: the whole CloudEvent, one JSON object, in the
record's value, with a `content-type` header of `application/cloudevents+json` (a `charset` of UTF-8
at most) or none. In the binary content mode the value is the event's data alone and its attributes
travel as `ce_*` headers; in the batch mode (`application/cloudevents-batch+json`) the value is an array.
The value decides whether an event is read; where the value is refused, the headers say why better than
the value's first missing attribute would ("specversion: Field required" sends a producer looking at its
payload, not at the mode its client library was set to). `refusal` is that decision for a refused value:
the live consumer's and the rebuild's (which reads the headers of refused records only, as live does).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from .errors import ContractError, OversizedEventError

__all__ = ["STRUCTURED_MEDIA_TYPE", "CONTENT_MODE_RULE", "content_mode_refusal", "refusal"]

STRUCTURED_MEDIA_TYPE = "application/cloudevents+json"
_BATCH_MEDIA_TYPE = "application/cloudevents-batch+json"
CONTENT_MODE_RULE = (f"structured JSON mode only: the whole CloudEvent as one JSON object in the record's value, "
                     f"content-type {STRUCTURED_MEDIA_TYPE} (charset utf-8) or none; see README.md, "
                     f"'Other producers and the partitioner'")


def _text(raw: Any) -> str | None:
    """A header's key or value as text, or None where it is not UTF-8."""
    if isinstance(raw, str):
        return raw
    if isinstance(raw, (bytes, bytearray, memoryview)):
        try:
            return bytes(raw).decode("utf-8")
        except UnicodeDecodeError:
            return None
    return None


def content_mode_refusal(headers: Iterable[tuple[Any, Any]] | None) -> str | None:
    """Why a record's headers say its value is not a CloudEvent in structured JSON mode, or None (no such
    header, or one that says it is). The words name the header and the rule, never a header's value."""
    content_types: set[str | None] = set()
    binary = False
    for key, value in headers or ():
        name = _text(key)
        if name is None:
            continue  # a header no binding names: not ours to judge
        name = name.strip().lower()
        if name.startswith("ce_"):
            binary = True
        elif name == "content-type":
            content_types.add(_text(value))
    if binary:
        return f"ce_* headers: binary content mode not accepted: {CONTENT_MODE_RULE}"
    if not content_types:
        return None
    if len(content_types) > 1:
        return f"content-type: given more than once with different values: {CONTENT_MODE_RULE}"
    (content_type,) = content_types
    if content_type is None:
        return f"content-type: not UTF-8 text: {CONTENT_MODE_RULE}"
    media_type, *parameters = (part.strip().lower() for part in content_type.split(";"))
    if media_type == _BATCH_MEDIA_TYPE:
        return f"content-type: batch content mode not accepted (one event per record): {CONTENT_MODE_RULE}"
    if media_type != STRUCTURED_MEDIA_TYPE:
        return (f"content-type: another media type than {STRUCTURED_MEDIA_TYPE} says binary content mode (the value "
                f"is the data alone): not accepted: {CONTENT_MODE_RULE}")
    for parameter in parameters:
        name, _, value = parameter.partition("=")
        if name.strip() == "charset" and value.strip().strip('"') not in ("utf-8", "utf8"):
            return f"content-type: charset must be utf-8: {CONTENT_MODE_RULE}"
    return None


def refusal(error: ContractError, value: bytes | None, headers: Iterable[tuple[Any, Any]] | None) -> tuple[str, str]:
    """The dead-letter reason and message of a record whose value `decode_event` refused with `error`: `content_mode`
    (`content_mode_refusal`) where its headers say another content mode — the mode is the rule it broke, not the
    value's first missing attribute — else the error's own. A tombstone or an oversized value keeps its own refusal:
    no mode makes either an event. The headers are read here only, for a refused value: what decodes is applied
    whatever they say."""
    mode = None if not value or isinstance(error, OversizedEventError) else content_mode_refusal(headers)
    return ("content_mode", mode) if mode is not None else (error.reason, str(error))

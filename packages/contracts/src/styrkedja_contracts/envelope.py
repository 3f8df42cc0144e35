"""CloudEvents 1.0 envelope (structured JSON mode) and the encode/decode API.

Wire format: one JSON object per Kafka message, keyed by the organiser id
(huvudman) of the data::

    {"specversion": "1.0", "id": "<uuid>", "source": "/assessment",
     "type": "se.styrkedja.assessment.published.v1", "time": "...",
     "subject": "...", "datacontenttype": "application/json",
     "dataschema": "https://schemas.styrkedja.se/events/<type>.json",
     "data": {...}}

``decode_event`` upcasts older versions to the newest one, so the returned
``CloudEvent`` always carries the newest ``type``/``dataschema`` and model.
No string anywhere in an event may contain a personnummer/samordningsnummer.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Annotated, Any, Literal
from uuid import UUID, uuid4

from pydantic import (
    AfterValidator,
    AwareDatetime,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    SerializeAsAny,
    StringConstraints,
    TypeAdapter,
    ValidationError,
)

from .compiled import CompiledEvent, compiled_decoder, data_model_of
from .errors import (
    DuplicateKeyError,
    InvalidEnvelopeError,
    InvalidEventDataError,
    OversizedEventError,
    PersonalIdentityNumberError,
    UndecodableEventError,
    UnknownEventTypeError,
    format_validation_errors,
)
from .events.base import EventData, datetime_as_text, iter_strings, uuid_as_text
from .fastpath import ShadowEvent, adopt, json_union, shadow_event
from .identifiers import (
    PIN_ERROR,
    check_line,
    check_source,
    check_subject,
    contains_personal_identity_number,
    has_personal_identity_number,
    is_plain_json,
    key_tokens,
    plain_json_key_tokens,
    plain_json_may_contain_personal_identity_number,
    redact_personal_identity_numbers,
)
from .registry import REGISTRY, EventRegistry, schema_uri

__all__ = [
    "CloudEvent",
    "Envelope",
    "DEFAULT_MAX_BYTES",
    "TYPE_PATTERN",
    "new_event",
    "decode_event",
    "decode_plain",
    "cloud_event_of",
    "find_personal_identity_number",
]

DEFAULT_MAX_BYTES = 256_000
_URI_PATTERN = r"^[A-Za-z][A-Za-z0-9+.-]*:\S+$"
TYPE_PATTERN = r"^se\.styrkedja\.[a-z][a-z0-9_]*\.[a-z][a-z0-9_]*\.v[0-9]+$"


#: the envelope's `time` lies in these years (UTC)
EARLIEST_EVENT_TIME = datetime(2000, 1, 1, tzinfo=UTC)
LATEST_EVENT_TIME = datetime(2199, 12, 31, 23, 59, 59, tzinfo=UTC)
#: how far an event's `time` (or a moment of its data) may lie after its record's timestamp: the two come from the
#: producer's clocks (the event's when it was made, the record's when it was sent, normally later), so only a clock
#: skew separates them the other way. The consumers judge by it (`styrkedja_kit.consumer.ahead_of_record`), and so do
#: the doors that take a moment of a change from a client (reporting's directory, the SS 12000 import), by their clock
MAX_AHEAD_OF_RECORD_MS = 3_600_000


class _EnvelopeAttributes(BaseModel):
    """CloudEvents context attributes used by Styrkedja."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    specversion: Literal["1.0"]
    # the 36-character form only (`uuid_as_text`), as the schema's `format: uuid` says and every outbox writes
    id: Annotated[UUID, BeforeValidator(uuid_as_text)] = Field(description="Unique per event; consumers deduplicate on it.")
    # every string attribute obeys the contracts' text rule (`identifiers.check_line`): a control or
    # bidirectional character in `source` or `subject` reaches logs, dead letters and the consumers'
    # bookkeeping as it came, even where no handler reads it, so it is refused with the envelope. `source` is
    # moreover a URI-reference of RFC 3986's ASCII characters (`check_source`), `subject` a label that shows what it
    # holds (`check_subject`, round 36): rules of the validation, not of the schema, whose `pattern` a published
    # version fixed (packages/contracts/README.md: a tightened rule is a validation change). That pattern is the
    # schema's only, not validated: `check_source` refuses every value it refuses (a URI-reference holds no white
    # space), naming its rule — validated, it came first and named a space's refusal (a no-break space, U+00A0)
    # `string_pattern_mismatch`, the published pattern, not the rule the docs name (knobs37)
    source: Annotated[str, AfterValidator(check_line), AfterValidator(check_source)] = Field(
        min_length=1,
        max_length=512,
        json_schema_extra={"pattern": r"^\S+$"},
        description="URI-reference (RFC 3986: ASCII, any other character percent-encoded) of the producer, "
                    "e.g. /assessment",
    )
    type: str = Field(max_length=128, pattern=TYPE_PATTERN, description="se.styrkedja.<entity>.<verb>.v<N>")
    # a time no producer of ours can have written (years 1 or 9999: at UTC's end an offset cannot
    # even be taken off) is refused with the envelope, not left to break a handler's date sums
    time: Annotated[AwareDatetime, BeforeValidator(datetime_as_text)] = Field(ge=EARLIEST_EVENT_TIME,
                                                                               le=LATEST_EVENT_TIME)
    subject: Annotated[str, StringConstraints(min_length=1, max_length=256), AfterValidator(check_line),
                       AfterValidator(check_subject)] | None = Field(
        default=None, description="What the event is about within its source (CloudEvents), one line of text: no "
                                  "control, invisible, private-use or unassigned character, no word mixing Latin, "
                                  "Greek or Cyrillic letters")
    datacontenttype: Literal["application/json"] = "application/json"
    dataschema: str | None = Field(
        default=None, max_length=512, pattern=_URI_PATTERN, description="URI of the data's JSON Schema"
    )


class Envelope(_EnvelopeAttributes):
    """The envelope as it travels (``data`` still a plain JSON object). Used for the envelope JSON Schema."""

    model_config = ConfigDict(title="CloudEvent")

    data: dict[str, Any]


class CloudEvent(_EnvelopeAttributes):
    """A decoded (or newly created) event: envelope plus a validated data model."""

    specversion: Literal["1.0"] = "1.0"
    dataschema: str = Field(max_length=512, pattern=_URI_PATTERN)
    data: SerializeAsAny[EventData]

    def to_bytes(self) -> bytes:
        """Compact UTF-8 JSON (CloudEvents structured mode); an absent subject is omitted."""
        exclude = {"subject"} if self.subject is None else None
        return self.model_dump_json(exclude=exclude).encode("utf-8")

    def partition_key(self) -> bytes:
        """Kafka message key: the data's field its topic is keyed by (the organiser id, huvudman), UTF-8:
        the topic registry's rule (`topics.message_key`), which consumers hold each record to."""
        from .topics import message_key  # the registry imports the event models, as this module does

        return message_key(self)


def find_personal_identity_number(value: Any, prefix: str = "") -> str | None:
    """Path of the first string (at any depth) that contains a personnummer, or None. A key on the path that
    holds one (the string found may be the key itself) is named redacted: the path is what a refusal says."""
    for path, text in iter_strings(value, prefix):
        if has_personal_identity_number(text):
            return _said_path(path)
    return None


#: the longest path a refusal names (then `…`): the keys on it are the producer's, of any length
MAX_PATH_CHARS = 200


def _said_path(path: str) -> str:
    """`path` as a refusal names it: redacted, escaped where not printable (a key's newline or escape sequence would
    reach the dead letter's `dlq.message` header as it came) and cut at `MAX_PATH_CHARS` (a key of 100,000 characters
    was repeated whole), redacted again after the cut (a cut digit run may read as a personnummer)."""
    path = redact_personal_identity_numbers(path)[0]
    if not path.isprintable():
        path = ascii(path)[1:-1]
    if len(path) > MAX_PATH_CHARS:
        path = redact_personal_identity_numbers(path[:MAX_PATH_CHARS])[0] + "…"
    return path or "(event)"


def _json_has_personal_identity_number(doc: Any) -> bool:
    """Whether any string of a parsed JSON value (dict keys included, at any depth) contains a
    personnummer: the same strings as `find_personal_identity_number` checks, without building a
    path for each (the path is found only for a message that has one). Iterative, like
    `iter_strings`, so deep nesting cannot exhaust the stack."""
    stack: list[Any] = [doc]
    pop, push = stack.pop, stack.append
    while stack:
        item = pop()
        if isinstance(item, dict):
            for key, value in item.items():
                if isinstance(value, str):
                    if _has_pin(value):
                        return True
                elif isinstance(value, (dict, list)):
                    push(value)
                if isinstance(key, str) and _has_pin(key):
                    return True
        elif isinstance(item, list):
            for value in item:
                if isinstance(value, str):
                    if _has_pin(value):
                        return True
                elif isinstance(value, (dict, list)):
                    push(value)
        elif isinstance(item, str) and _has_pin(item):
            return True
    return False


def _has_pin(text: str) -> bool:
    """`has_personal_identity_number`, except that a string shaped like a canonical UUID (event,
    assessment and subject ids: new in every event) is checked without entering the per-string
    cache, where it would only push out the strings that do repeat (and hold memory)."""
    if len(text) == 36 and text[8] == text[13] == text[18] == text[23] == "-":
        return contains_personal_identity_number(text)
    return has_personal_identity_number(text)


def _pin_error(path: str) -> PersonalIdentityNumberError:
    return PersonalIdentityNumberError(f"{path}: {PIN_ERROR}", fields=(path,))


def new_event(
    data: EventData,
    *,
    source: str,
    subject: str | None = None,
    event_id: UUID | None = None,
    time: datetime | None = None,
    registry: EventRegistry | None = None,
) -> CloudEvent:
    """Wrap ``data`` in a CloudEvent; ``type`` and ``dataschema`` come from its registered type.

    ``event_id`` defaults to a random UUID, ``time`` to now (UTC).
    Raises ``UnknownEventTypeError`` if the model is not registered,
    ``InvalidEventDataError`` if any string carries a personnummer and
    ``InvalidEnvelopeError`` for a bad source/subject/time.
    """
    registry = registry or REGISTRY
    model = type(data)
    event_type = getattr(model, "event_type", None)
    if not isinstance(data, EventData) or registry.models.get(event_type or "") is not model:
        raise UnknownEventTypeError(
            f"{model.__name__} is not a registered event data model", fields=("type",)
        )
    path = find_personal_identity_number({"source": source, "subject": subject})
    path = path or find_personal_identity_number(data, "data")
    if path:
        raise _pin_error(path)
    try:
        return CloudEvent(
            id=event_id or uuid4(),
            source=source,
            type=event_type,
            time=time or datetime.now(UTC),
            subject=subject,
            dataschema=schema_uri(str(event_type)),
            data=data,
        )
    except ValidationError as exc:
        message, fields = format_validation_errors(exc.errors())
        raise InvalidEnvelopeError(message, fields=fields, rules=[str(e["type"]) for e in exc.errors()]) from None


@functools.cache
def _shadow_event(model: type[EventData]) -> ShadowEvent | None:
    """The envelope's attributes (the fields and rules of `Envelope`) with the data model as `data`, as a
    shadow (`fastpath.shadow_event`): one validation for the whole message, no callback into Python. Its `dataschema`
    is its type's (`schema_uri`) or none: a message naming another takes the ordinary steps, which refuse it in
    words."""
    return shadow_event(_EnvelopeAttributes, model, schema_uri(model.event_type))


def _decode_newest(doc: dict[str, Any], registry: EventRegistry) -> CloudEvent | None:
    """The message as `decode_event` decodes it, for an event of a newest registered type whose data
    model has a shadow, when the shadow accepts it; else None (the ordinary steps decide). Only where no
    string of `doc` holds a personnummer, a control character or a lone surrogate (see the caller)."""
    event_type = doc.get("type")
    if type(event_type) is not str:
        return None
    model = registry.models.get(event_type)
    if model is None or registry.latest_type(event_type) != event_type:
        return None  # unknown, or upcast first: the ordinary steps
    shadow = _shadow_event(model)
    event = None if shadow is None else shadow.accepts(doc)
    return None if event is None else _from_shadow(model, event)


def _from_shadow(model: type[EventData], event: Any) -> CloudEvent | None:
    """None where `dataschema` names another schema than its type's: the ordinary steps refuse it, in words."""
    if event.dataschema is not None and event.dataschema != schema_uri(event.type):
        return None
    return _cloud_event(event.id, event.source, event.type, event.time, event.subject, schema_uri(event.type),
                        adopt(model, event.data))


def check_dataschema(event_type: str, dataschema: str | None) -> None:
    """An event's `dataschema`, where it has one, is its type's (`schema_uri`), as the AsyncAPI document's
    message for the type says (`const`): one naming another schema (another type's, another version's, another
    host's) says the data is something its type is not, and is refused with the envelope."""
    if dataschema is not None and dataschema != schema_uri(event_type):
        raise InvalidEnvelopeError(f"dataschema: must be {schema_uri(event_type)} for type {event_type}",
                                   fields=("dataschema",))


@functools.cache
def _json_shadows() -> tuple[TypeAdapter[Any] | None, dict[str, ShadowEvent]]:
    """`fastpath.json_union` of the default registry's shadows (its types when first asked; a type
    registered later is not in it and takes the other ways), and the shadow of each type."""
    shadows = {event_type: shadow for event_type, model in REGISTRY.models.items()
               if (shadow := _shadow_event(model)) is not None}
    return json_union(list(shadows.values())), shadows


def decode_plain(raw: bytes, *, max_bytes: int = DEFAULT_MAX_BYTES) -> Any | None:
    """`decode_event(raw, max_bytes=max_bytes)`'s fast path up to, not including, the `CloudEvent`: the validated
    shadow of the message where `decode_event` accepts it by that path, else None (then `decode_event` decides: it
    may accept the message the ordinary way, or refuse it). The shadow holds the values the `CloudEvent` would:
    `id`, `source`, `type` (the newest: a message of an older version takes the ordinary way), `time`, `subject`,
    and `data` with the data model's fields (its `dataschema` is the type's, or None where the message has none).
    For a reader that needs a few values of many events and no `CloudEvent` (the reporting rebuild): one decision
    with `decode_event`, which accepts by this very function.

    The steps: plain text without a personnummer (`plain_json_without_pin`: see the module's notes on the fast
    path), then for a bulk type its compiled shadow (`compiled`: a `CompiledEvent`, holding the same values), else the
    shadow (`fastpath`) of the raw text, pydantic-core reading and validating it at once, with a
    `dataschema` that is its type's or none (the shadow's rule, `_shadow_event`); its type still the registry's
    newest; its model's own rules (`checked`); every key once. In one function: the rebuild's decoders ask it of
    every event, and a call between two steps cost ~0.1 µs of their ~27 per event (bench/README.md decode37)."""
    # the key tokens (`key_tokens`) come with the first question's answer, from its translation (-1: not plain, or a
    # personnummer may be in it): ~0.5 µs less per event than counting them apart (bench/README.md read39)
    if type(raw) is not bytes or not 0 < len(raw) <= max_bytes or (tokens := plain_json_key_tokens(raw)) < 0:
        return None
    union, shadows = _SHADOWS if _SHADOWS is not None else _shadows_once()
    # a bulk type's compiled shadow first (`compiled`: msgspec reads the text in C, pydantic-core the texts it cannot
    # judge; this step ~-5 µs per event, a rebuild decoder's whole ~-32 %, bench/README.md decode38): what it refuses,
    # the shadow decides
    if _COMPILED is not None:
        compiled = _COMPILED(raw, tokens)
        if compiled is not None:
            return compiled
    if union is None:
        return None
    try:
        # the adapter's own validator: `TypeAdapter.validate_json` with no options is this call behind a frame that
        # passes its defaults on (~0.3-0.8 µs of the rebuild decoder's ~30 per event, bench/README.md decode36)
        event: Any = union.validator.validate_json(raw)
    except ValidationError:
        return None
    event_type = event.type
    shadow = shadows[event_type]
    if REGISTRY.models.get(event_type) is not shadow.model or REGISTRY.latest_type(event_type) != event_type:
        return None  # registered anew since, or a newer version now: the ordinary steps
    if shadow.checked(event) is None:
        return None
    # a key given twice leaves fewer fields set than the text has keys (a shadow has no nested object)
    if tokens != len(event.__pydantic_fields_set__) + len(event.data.__pydantic_fields_set__):
        return None  # or a string that reads like a key: the ordinary steps decide
    # the shadow took no `dataschema` but its type's (`_shadow_event`): another one the ordinary steps refuse in words
    return event


#: `_json_shadows()` once made (`decode_plain` reads it without the cache's call)
_SHADOWS: tuple[TypeAdapter[Any] | None, dict[str, ShadowEvent]] | None = None


#: the compiled shadows of the bulk types among `_json_shadows()` (`compiled.compiled_decoder`), made with `_SHADOWS`
_COMPILED: Callable[[bytes, int | None], Any] | None = None


def _shadows_once() -> tuple[TypeAdapter[Any] | None, dict[str, ShadowEvent]]:
    global _SHADOWS, _COMPILED
    shadows = _json_shadows()
    _COMPILED = compiled_decoder(shadows[1], schema_uri)
    _SHADOWS = shadows
    return _SHADOWS


def cloud_event_of(shadow: Any) -> CloudEvent:
    """The `CloudEvent` `decode_event` returns for a message whose shadow `decode_plain` returned (nothing validated
    again: the data model's instance holds the shadow's values, `fastpath.adopt`)."""
    data = data_model_of(shadow) if type(shadow) is CompiledEvent else \
        adopt(_json_shadows()[1][shadow.type].model, shadow.data)
    return _cloud_event(shadow.id, shadow.source, shadow.type, shadow.time, shadow.subject, schema_uri(shadow.type),
                        data)


_CLOUD_EVENT_FIELDS = frozenset(CloudEvent.model_fields)


def _cloud_event(event_id: UUID, source: str, event_type: str, time: datetime, subject: str | None,
                 dataschema: str, data: EventData) -> CloudEvent:
    """`CloudEvent.model_construct` of every field (nothing validated again), without its per-field work."""
    event = CloudEvent.__new__(CloudEvent)
    object.__setattr__(event, "__dict__", {
        "specversion": "1.0", "id": event_id, "source": source, "type": event_type, "time": time,
        "subject": subject, "datacontenttype": "application/json", "dataschema": dataschema, "data": data})
    object.__setattr__(event, "__pydantic_fields_set__", set(_CLOUD_EVENT_FIELDS))
    object.__setattr__(event, "__pydantic_extra__", None)
    object.__setattr__(event, "__pydantic_private__", None)
    return event


DUPLICATE_KEY_RULE = ("the key is given twice in one object: JSON parsers differ on which value counts (RFC 8259 §4), "
                      "so a producer's log, a gateway and this consumer could read different events; send it once")


def _key_count(doc: Any) -> int:
    """How many keys the objects of a parsed JSON value hold, at any depth (iterative, as `iter_strings`)."""
    count = 0
    stack: list[Any] = [doc]
    pop, push = stack.pop, stack.append
    while stack:
        item = pop()
        if isinstance(item, dict):
            count += len(item)
            item = item.values()
        for value in item:
            if isinstance(value, (dict, list)):
                push(value)
    return count


class _Pairs(list[tuple[str, Any]]):
    """An object as the pairs it was written with (only to find where a key stands twice)."""


def _path_part(key: str) -> str:
    """A key as a dead letter's path names it: at most 40 characters, escaped where not printable."""
    key = key[:40]
    return key if key.isprintable() else ascii(key)[1:-1]


def duplicate_key_location(text: str | bytes) -> tuple[str | int, ...] | None:
    """Where the first key (document order) that an object of the JSON `text` names twice stands: the keys and
    list positions down to it, the key last; None when every object names each key once. Shared with the kit's
    HTTP bodies, which name the place in their own notation."""
    stack: list[tuple[Any, tuple[str | int, ...]]] = [(json.loads(text, object_pairs_hook=_Pairs), ())]
    while stack:
        value, path = stack.pop()
        if isinstance(value, _Pairs):
            seen: set[str] = set()
            for key, _ in value:
                if key in seen:
                    return (*path, key)
                seen.add(key)
            stack.extend((item, (*path, key)) for key, item in reversed(value))
        elif isinstance(value, list):
            stack.extend((item, (*path, n)) for n, item in reversed(list(enumerate(value))))
    return None


def duplicate_key_path(text: str) -> str | None:
    """The path of the first key (document order) that an object of the JSON `text` names twice, or None."""
    location = duplicate_key_location(text)
    if location is None:
        return None
    path = ""
    for part in location:
        if isinstance(part, int):
            path += f"[{part}]"
        else:
            path = f"{path}.{_path_part(part)}" if path else _path_part(part)
    return path


def _check_keys_once(raw: bytes, text: str, doc: dict[str, Any]) -> None:
    """Refuse a message where an object names a key twice (`DuplicateKeyError`, naming where): as many key
    tokens in the text as keys parsed is proof enough (`key_tokens`); else the pairs decide."""
    if key_tokens(raw) == _key_count(doc):
        return
    try:
        path = duplicate_key_path(text)
    except RecursionError:  # parsed again a few frames deeper than the first parse, which just held its nesting
        raise UndecodableEventError("message is not UTF-8 JSON: RecursionError") from None
    if path is not None:
        raise DuplicateKeyError(f"{path}: {DUPLICATE_KEY_RULE}", fields=(path,))


#: the refusal of a record without a value: a tombstone (a compacted topic's deletion marker; a Kafka producer
#: sends one as a key with a null value) or an empty value
EMPTY_MESSAGE = "message is empty: a tombstone (a record without a value) or an empty value, not an event"


def decode_event(
    raw: bytes | bytearray | memoryview | str,
    *,
    max_bytes: int = DEFAULT_MAX_BYTES,
    registry: EventRegistry | None = None,
) -> CloudEvent:
    """Parse and validate one message into a ``CloudEvent`` of the newest version.

    Steps: size limit → UTF-8 JSON object → personnummer scan of every string
    → each key once per object → envelope → type lookup and upcasting → data validation. Raises a
    ``ContractError`` subclass whose ``reason`` is one of ``oversized``,
    ``undecodable``, ``duplicate_key``, ``invalid_envelope``, ``unknown_type``, ``invalid_data``.
    """
    registry = registry or REGISTRY
    if isinstance(raw, str):
        raw = raw.encode("utf-8")
    size = len(raw)
    if size > max_bytes:
        raise OversizedEventError(f"message is {size} bytes, the limit is {max_bytes} bytes")
    if not size:  # JSON's parser would call it "not UTF-8 JSON", which sends a reader looking at the bytes
        raise UndecodableEventError(EMPTY_MESSAGE)
    if type(raw) is not bytes:
        raw = bytes(raw)
    # plain text (no escape, no DEL, ASCII and a few letters) without a personnummer: pydantic-core reads
    # and validates the raw text at once (`decode_plain`); anything it refuses goes the ordinary way below,
    # which decides and words the refusal
    if registry is REGISTRY:
        shadow = decode_plain(raw, max_bytes=max_bytes)
        if shadow is not None:
            return cloud_event_of(shadow)
    try:
        text = raw.decode("utf-8")
        doc = json.loads(text)
    except (UnicodeDecodeError, ValueError, RecursionError) as exc:
        raise UndecodableEventError(f"message is not UTF-8 JSON: {type(exc).__name__}") from None
    if not isinstance(doc, dict):
        raise UndecodableEventError(f"message must be a JSON object, not {type(doc).__name__}")

    # plain text (no escape, no DEL, ASCII and a few letters): the pre-filter over the text rules a
    # personnummer out or sends the message to the exact walk over every string; and no string can
    # hold a control character or a lone surrogate, so the data model's shadow applies
    plain = is_plain_json(raw)
    if (not plain or plain_json_may_contain_personal_identity_number(raw)) and _json_has_personal_identity_number(doc):
        raise _pin_error(find_personal_identity_number(doc) or "(event)")
    # after the personnummer scan: a key named in the refusal has been scanned
    _check_keys_once(raw, text, doc)
    if plain:
        event = _decode_newest(doc, registry)
        if event is not None:
            return event

    try:
        envelope = Envelope.model_validate(doc)
    except ValidationError as exc:
        message, fields = format_validation_errors(exc.errors())
        raise InvalidEnvelopeError(message, fields=fields) from None

    event_type, data = envelope.type, envelope.data
    try:
        event_type, data = registry.upcast(event_type, data)
    except UnknownEventTypeError:
        raise
    except Exception as exc:  # a failing upcaster means the old data was not what it claimed
        raise InvalidEventDataError(
            f"data: cannot upcast {envelope.type} to the newest version ({type(exc).__name__}: {exc})",
            fields=("data",),
        ) from None
    check_dataschema(envelope.type, envelope.dataschema)
    model = registry.model_for(event_type)
    try:
        payload = model.model_validate(data)
    except ValidationError as exc:
        message, fields = format_validation_errors(exc.errors(), prefix="data")
        raise InvalidEventDataError(message, fields=fields) from None
    return _cloud_event(envelope.id, envelope.source, event_type, envelope.time, envelope.subject,
                        schema_uri(event_type), payload)

"""The cheaper decode (one path-free personnummer scan, the newest type remembered per type)
accepts and refuses exactly what the straightforward decode did: same event, or same error
reason, message and fields, over every contract example and hostile variants of each."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from pydantic import ValidationError

from styrkedja_contracts import (
    REGISTRY,
    AssessmentPublishedV1,
    ContractError,
    EventRegistry,
    decode_event,
    example_bytes,
    schema_uri,
)
from styrkedja_contracts.envelope import DEFAULT_MAX_BYTES, CloudEvent, Envelope, find_personal_identity_number
from styrkedja_contracts.errors import (
    InvalidEnvelopeError,
    InvalidEventDataError,
    OversizedEventError,
    PersonalIdentityNumberError,
    UndecodableEventError,
    UnknownEventTypeError,
    format_validation_errors,
)
from styrkedja_contracts.identifiers import PIN_ERROR, luhn_check_digit
from styrkedja_contracts.registry import _type_name, parse_event_type


def _reference_upcast(registry: EventRegistry, event_type: str, data: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    family, version = parse_event_type(event_type)
    latest = registry.latest_version(family)
    if latest is None or version > latest:
        raise UnknownEventTypeError(f"type {event_type!r} is not a registered event type", fields=("type",))
    target, current = _type_name(family, latest), event_type
    while current != target:
        upcaster = registry.upcasters.get(current)
        if upcaster is None:
            raise UnknownEventTypeError(f"type {event_type!r} is not registered: no upcaster from {current} "
                                        f"to v{version + 1}", fields=("type",))
        data = upcaster(dict(data))
        version += 1
        current = _type_name(family, version)
    return current, data


def reference_decode(raw: bytes, registry: EventRegistry = REGISTRY) -> CloudEvent:
    """The decode as it was written first: every step plain, a path built for every string."""
    if len(raw) > DEFAULT_MAX_BYTES:
        raise OversizedEventError(f"message is {len(raw)} bytes, the limit is {DEFAULT_MAX_BYTES} bytes")
    try:
        doc = json.loads(bytes(raw).decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError) as exc:
        raise UndecodableEventError(f"message is not UTF-8 JSON: {type(exc).__name__}") from None
    if not isinstance(doc, dict):
        raise UndecodableEventError(f"message must be a JSON object, not {type(doc).__name__}")
    path = find_personal_identity_number(doc)
    if path:
        raise PersonalIdentityNumberError(f"{path}: {PIN_ERROR}", fields=(path,))
    try:
        envelope = Envelope.model_validate(doc)
    except ValidationError as exc:
        message, fields = format_validation_errors(exc.errors())
        raise InvalidEnvelopeError(message, fields=fields) from None
    try:
        event_type, data = _reference_upcast(registry, envelope.type, envelope.data)
    except UnknownEventTypeError:
        raise
    except Exception as exc:
        raise InvalidEventDataError(
            f"data: cannot upcast {envelope.type} to the newest version ({type(exc).__name__}: {exc})",
            fields=("data",),
        ) from None
    model = registry.model_for(event_type)
    try:
        payload = model.model_validate(data)
    except ValidationError as exc:
        message, fields = format_validation_errors(exc.errors(), prefix="data")
        raise InvalidEventDataError(message, fields=fields) from None
    upcast = event_type != envelope.type
    dataschema = envelope.dataschema if envelope.dataschema and not upcast else schema_uri(event_type)
    return CloudEvent.model_construct(specversion="1.0", id=envelope.id, source=envelope.source, type=event_type,
                                      time=envelope.time, subject=envelope.subject,
                                      datacontenttype="application/json", dataschema=dataschema, data=payload)


def outcome(decode: Any, raw: bytes) -> tuple[Any, ...]:
    try:
        event = decode(raw)
    except ContractError as exc:
        return ("refused", type(exc).__name__, exc.reason, str(exc), tuple(exc.fields))
    return ("accepted", type(event.data).__name__, event.model_dump(mode="json"))


def _pnr() -> str:
    digits = "900101123" + luhn_check_digit("900101123")
    return f"{digits[:6]}-{digits[6:]}"


HOSTILE_STRINGS = (_pnr(), f"elev {_pnr()} i 7b", "19" + _pnr().replace("-", ""), "１９９００１０１-１２３" +
                   luhn_check_digit("900101123"), "a\x00b", "\ud800", "", "x" * 600, "2999", "not-a-uuid",
                   # shaped like a UUID (checked outside the per-string cache), a personnummer inside
                   "aaaaaaaa-bbbb-cccc-dddd-" + "900101123" + luhn_check_digit("900101123") + "ab",
                   "xx" + _pnr() + "-cccc-dddd-eeeeeeeeeeee", "3b0e6f0a-9c4d-4f7e-8a21-5d6c7e8f9a01")
HOSTILE_VALUES: tuple[Any, ...] = (*HOSTILE_STRINGS, None, 0, -1, 2**31, 2**70, 1.5, True, [], {},
                                   [_pnr()], {_pnr(): 1}, {"k": [{"deep": _pnr()}]})


def _paths(value: Any, path: tuple[Any, ...] = ()) -> Iterator[tuple[Any, ...]]:
    yield path
    if isinstance(value, dict):
        for key, item in value.items():
            yield from _paths(item, (*path, key))
    elif isinstance(value, list):
        for i, item in enumerate(value):
            yield from _paths(item, (*path, i))


def _replaced(doc: Any, path: tuple[Any, ...], value: Any) -> Any:
    doc = json.loads(json.dumps(doc))
    target = doc
    for step in path[:-1]:
        target = target[step]
    target[path[-1]] = value
    return doc


def variants(event_type: str) -> Iterator[bytes]:
    raw = example_bytes(event_type)
    doc = json.loads(raw)
    yield raw
    for path in _paths(doc):
        if not path:
            continue
        for value in HOSTILE_VALUES:
            yield json.dumps(_replaced(doc, path, value)).encode()
        parent = _replaced(doc, path, None)  # the field's own key made hostile
        target = parent
        for step in path[:-1]:
            target = target[step]
        if isinstance(target, dict):
            target[f"{path[-1]} {_pnr()}"] = target.pop(path[-1])
            yield json.dumps(parent).encode()
    for extra in ({"x": _pnr()}, {_pnr(): "x"}, {"extension": "ok"}):
        yield json.dumps({**doc, **extra}).encode()
        yield json.dumps({**doc, "data": {**doc["data"], **extra}}).encode()
    older = {**doc, "type": event_type.rsplit(".v", 1)[0] + ".v0"}
    yield json.dumps(older).encode()
    yield json.dumps({**doc, "type": event_type.rsplit(".v", 1)[0] + ".v99"}).encode()
    yield json.dumps({**doc, "type": "se.styrkedja.nothing.here.v1"}).encode()
    yield json.dumps({**doc, "type": _pnr()}).encode()


GARBAGE = (b"", b"[]", b"null", b'"19900101-1239"', b"{", b"\xff\xfe{}", b"\xef\xbb\xbf{}", b'{"a": NaN}',
           b"[" * 5000 + b"]" * 5000, b'{"data": ' * 3000 + b"{}" + b"}" * 3000, b"x" * (DEFAULT_MAX_BYTES + 1),
           json.dumps([_pnr()]).encode(), b'{"specversion": "1.0"}')


@pytest.mark.parametrize("event_type", sorted(REGISTRY.models))
def test_same_outcome_for_every_example_and_its_hostile_variants(event_type: str) -> None:
    seen = 0
    for raw in variants(event_type):
        assert outcome(decode_event, raw) == outcome(reference_decode, raw), raw[:300]
        seen += 1
    assert seen > 20


@pytest.mark.parametrize("raw", GARBAGE, ids=range(len(GARBAGE)))
def test_same_outcome_for_garbage(raw: bytes) -> None:
    assert outcome(decode_event, raw) == outcome(reference_decode, raw)


def test_same_outcome_through_an_upcaster_and_after_a_new_version() -> None:
    v1 = AssessmentPublishedV1.event_type
    v0 = v1.replace(".v1", ".v0")
    doc = json.loads(example_bytes(v1))
    doc["type"] = v0
    doc["data"]["grade"] = doc["data"].pop("value")

    def upcast(data: dict[str, Any]) -> dict[str, Any]:
        data["value"] = data.pop("grade")
        return data

    raw = json.dumps(doc).encode()
    with REGISTRY.temporary_upcaster(v0, upcast):
        assert outcome(decode_event, raw) == outcome(reference_decode, raw)
        assert outcome(decode_event, raw)[0] == "accepted"
    assert outcome(decode_event, raw) == outcome(reference_decode, raw)
    assert outcome(decode_event, raw)[0] == "refused"

    class AssessmentPublishedV2(AssessmentPublishedV1):
        event_type = v1.replace(".v1", ".v2")
        source_system: str

    registry = EventRegistry(REGISTRY.models.values())
    registry.register_upcaster(v1, lambda data: {**data, "source_system": "unknown"})
    v1_raw = example_bytes(v1)
    assert decode_event(v1_raw, registry=registry).type == v1  # remembered: v1 is the newest ...
    registry.register(AssessmentPublishedV2)  # ... until a newer version is registered
    new, old = decode_event(v1_raw, registry=registry), reference_decode(v1_raw, registry)
    assert new.type == old.type == AssessmentPublishedV2.event_type
    assert new.model_dump(mode="json") == old.model_dump(mode="json")

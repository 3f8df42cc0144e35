"""The shadow of the bulk events compiled: msgspec reads and checks most of a message in C (issue 16, decode38).

`fastpath`'s shadow is a pydantic-core model: reading and validating a published assessment took ~7.5 µs of a rebuild
decoder's ~27 per event, most of it the patterns of ten text fields and the pydantic objects it builds
(bench/README.md decode36, decode37). A `msgspec` Struct of the same envelope and data, with no pattern in it, reads
the same text in ~1.2 µs. So each bulk type (`COMPILED_TYPES`) gets a compiled shadow of its shadow (`compiled_event`),
narrower than the shadow, never wider; whatever it refuses the shadow decides, and what the shadow refuses the
ordinary way:

* a field the shadow holds to a `Literal`, a `str` enum, integer bounds, a strict bool or a text's length (alone, or
  in a tuple with a `max_length`) is held to the same in msgspec (strict: no text for a number, no number for a
  text; its JSON parser refuses what `json.loads` refuses, and is only asked about plain text, `decode_plain`);
* every other field (a UUID, a date or time, a text with a pattern: each by `fastpath`'s narrowing) is read as text
  and then validated by **the shadow's own annotation of it**, in pydantic-core — all of one event's such texts in one
  call (a tuple of them), so the verdict and the value (`UUID`, `datetime` with its `TzInfo`, `date`) are the
  shadow's. Such a field must be required: an optional one sends its type to the shadow (no compiled shadow);
* an optional field is read as absent (`msgspec.UNSET`) where its key is, so that the fields given can be counted
  against the keys of the text (`identifiers.key_tokens`, as `decode_plain` has them: a key given twice leaves fewer
  fields than keys; the shadow's count of its fields set), then given the shadow's default;
* a `source` holding a `%` is left to the shadow (whose `checked` decodes it);
* the data model's own `model_validator`s run on the data model's instance built from the values (as `fastpath.adopt`
  builds it), the same functions, as the shadow's `checked` runs them;
* the type must still be the registry's newest, with the same model (as the shadow's).

A compiled event (`CompiledEvent`) holds what the shadow holds (`id`, `source`, `type`, `time`, `subject`,
`dataschema`, and `data`: here the data model's instance itself), so `envelope.cloud_event_of` and the rebuild's direct
lines read it as they read the shadow. `test_compiled_shadow` holds the claims field by field and by hypothesis against
the shadow, and `test_decode_equivalence` against the decode as first written.
"""

from __future__ import annotations

import types
from collections.abc import Callable
from enum import Enum
from typing import Annotated, Any, Literal, Union, get_args, get_origin
from uuid import UUID

import annotated_types
import msgspec
from pydantic import BaseModel, StringConstraints, TypeAdapter, ValidationError
from pydantic.fields import FieldInfo

from .events.base import EventData
from .fastpath import ShadowEvent
from .identifiers import key_tokens
from .registry import REGISTRY

__all__ = ["COMPILED_TYPES", "CompiledEvent", "compiled_event", "compiled_decoder", "data_model_of"]

#: the types whose events travel in bulk by the hundred thousand (every result and forecast of a term): compiled.
#: Others take the shadow (a compiled type costs a Struct and a line of generated code; a rare one saves nothing)
COMPILED_TYPES = ("se.styrkedja.assessment.published.v1", "se.styrkedja.assessment.retracted.v1",
                  "se.styrkedja.forecast.submitted.v1", "se.styrkedja.forecast.withdrawn.v1")

_UNSET = msgspec.UNSET


class CompiledEvent:
    """What a validated shadow holds of a message (`fastpath`), made by a compiled shadow: `data` is the compiled
    shadow's Struct of the data, holding the shadow's values (its defaults where a field was not given), and
    `given` whether each of the data's optional fields was (`data_model_of` makes the data model's instance of it)."""

    __slots__ = ("id", "source", "type", "time", "subject", "dataschema", "data", "given")

    def __init__(self, id: Any, source: str, type: str, time: Any, subject: str | None, dataschema: str | None,
                 data: Any, given: tuple[bool, ...]) -> None:
        self.id, self.source, self.type, self.time = id, source, type, time
        self.subject, self.dataschema, self.data, self.given = subject, dataschema, data, given


class _Unsupported(Exception):
    pass


def _lengths(metadata: list[Any] | tuple[Any, ...]) -> dict[str, Any] | None:
    """msgspec's `Meta` of a text's length constraints, or None where `metadata` holds any other constraint."""
    meta: dict[str, Any] = {}
    for item in metadata:
        if isinstance(item, annotated_types.MinLen):
            meta["min_length"] = item.min_length
        elif isinstance(item, annotated_types.MaxLen):
            meta["max_length"] = item.max_length
        elif isinstance(item, StringConstraints) and \
                {k for k, v in vars(item).items() if v is not None} <= {"min_length", "max_length"}:
            meta.update({k: v for k, v in vars(item).items() if v is not None})
        else:
            return None
    return meta


def _int_bounds(metadata: list[Any] | tuple[Any, ...]) -> dict[str, Any] | None:
    """msgspec's `Meta` of an integer's bounds (strict, as msgspec is), or None for any other constraint."""
    meta: dict[str, Any] = {}
    for item in metadata:
        if isinstance(item, annotated_types.Ge):
            meta["ge"] = item.ge
        elif isinstance(item, annotated_types.Le):
            meta["le"] = item.le
        elif type(item).__name__ == "Strict" and getattr(item, "strict", None) is True:
            continue
        else:
            return None
    return meta if {"ge", "le"} <= set(meta) else None


def _split(annotation: Any, metadata: list[Any] | tuple[Any, ...] = ()) -> tuple[Any, list[Any]]:
    """(the base type, its metadata) of `Annotated[annotation, *metadata]` flattened."""
    metadata = list(metadata)
    while get_origin(annotation) is Annotated:
        annotation, *inner = get_args(annotation)
        metadata = [*inner, *metadata]
    flat: list[Any] = []
    for item in metadata:
        if isinstance(item, FieldInfo):
            flat.extend(item.metadata)
        else:
            flat.append(item)
    return annotation, flat


def _held_in_c(annotation: Any, metadata: list[Any] | tuple[Any, ...] = ()) -> Any:
    """The msgspec type that accepts exactly what the shadow's `Annotated[annotation, *metadata]` accepts of JSON, or
    less; `_Unsupported` where none is made here (the field is then read as text and validated by the shadow's
    annotation, `compiled_event`)."""
    base, meta = _split(annotation, metadata)
    origin = get_origin(base)
    if origin in (Union, types.UnionType):
        args = get_args(base)
        if type(None) not in args or len(args) != 2:
            raise _Unsupported(f"union {base!r}")
        inner = next(arg for arg in args if arg is not type(None))
        if meta and _split(inner)[0] is not str:
            raise _Unsupported(f"constraints on {base!r}")
        # pydantic puts a text's constraints on an optional text (`str | None = Field(max_length=…)`) on the text
        return Union[_held_in_c(inner, meta), None]  # noqa: UP007
    if origin is Literal:
        if meta or not all(type(value) is str for value in get_args(base)):
            raise _Unsupported(f"literal {base!r}")
        return base
    if isinstance(base, type) and issubclass(base, Enum) and issubclass(base, str) and not meta:
        return base  # msgspec reads a str enum by its values, to the member (the shadow's `use_enum_values` is off)
    if base is bool and all(type(m).__name__ == "Strict" and getattr(m, "strict", None) is True for m in meta):
        return bool
    if base is int:
        bounds = _int_bounds(meta)
        if bounds is None:
            raise _Unsupported(f"int {meta!r}")
        return Annotated[int, msgspec.Meta(**bounds)]
    if base is str:
        lengths = _lengths(meta)
        if lengths is None:
            raise _Unsupported(f"str {meta!r}")
        return Annotated[str, msgspec.Meta(**lengths)] if lengths else str
    if origin is tuple:
        args = get_args(base)
        items = _lengths(meta)
        if len(args) != 2 or args[1] is not Ellipsis or items is None or set(items) - {"max_length"}:
            raise _Unsupported(f"tuple {base!r}")
        item_base, item_meta = _split(args[0])
        if item_base is not str or _lengths(item_meta) is None:
            raise _Unsupported(f"tuple of {args[0]!r}")
        return Annotated[tuple[_held_in_c(args[0]), ...], msgspec.Meta(**items)]  # type: ignore[misc]
    raise _Unsupported(f"type {base!r}")


class _Plan:
    """A model's fields as the compiled shadow takes them: the msgspec fields, the ones validated as text by the shadow's
    annotation (in order), the optional ones with their defaults."""

    def __init__(self, model: type[BaseModel], skip: tuple[str, ...] = ()) -> None:
        self.fields: list[tuple[str, Any, Any]] = []  # (name, msgspec type, default or msgspec.NODEFAULT)
        self.texts: list[tuple[str, Any]] = []  # (name, the shadow's annotation)
        self.optional: list[tuple[str, Any]] = []  # (name, the shadow's default)
        self.required: list[str] = []
        for name, info in model.model_fields.items():
            if name in skip:
                continue
            annotation = Annotated[(info.annotation, *info.metadata)] if info.metadata else info.annotation
            try:
                held = _held_in_c(annotation)
            except _Unsupported:
                if not info.is_required():
                    raise
                self.texts.append((name, annotation))
                held = str
            if info.is_required():
                self.fields.append((name, held, msgspec.NODEFAULT))
                self.required.append(name)
            else:
                self.fields.append((name, Union[held, msgspec.UnsetType], _UNSET))  # noqa: UP007
                self.optional.append((name, info.default))


#: each compiled shadow's memo of a text field's verdicts holds at most this many texts (then it starts again)
MEMO_SIZE = 4_096


def _miss(memo: dict[str, Any], validate: Callable[[Any], Any], text: str) -> Any:
    """The shadow's value of `text` for a field (`validate`: the shadow's annotation of it, in pydantic-core), kept in
    `memo`; None where the shadow refuses it."""
    try:
        value = validate(text)
    except ValidationError:
        return None
    if len(memo) >= MEMO_SIZE:
        memo.clear()
    memo[text] = value
    return value


def _is_uuid(annotation: Any) -> bool:
    base, _ = _split(annotation)
    return base is UUID or (get_origin(base) in (Union, types.UnionType) and UUID in get_args(base))


def compiled_event(shadow: ShadowEvent, dataschema: str) -> tuple[type[msgspec.Struct], Callable[[Any, int], Any]] | None:
    """(the compiled shadow's Struct of the envelope, tagged by the type, and its finishing function: the Struct as
    decoded and the text's key tokens (`identifiers.key_tokens`) → a `CompiledEvent`, or None where the shadow must
    decide), or None where no compiled shadow is made. `dataschema`: the type's own, the one the shadow takes."""
    model = shadow.model
    event_type = model.event_type
    envelope = shadow.validator
    data_model: Any = envelope.model_fields["data"].annotation
    its_dataschema: Any = envelope.model_fields["dataschema"].annotation
    if its_dataschema != Union[Literal[dataschema], None]:  # noqa: UP007
        return None
    try:
        outer = _Plan(envelope, skip=("type", "data"))
        inner = _Plan(data_model)
    except _Unsupported:
        return None
    if {"id", "source", "time", "subject", "dataschema"} - {name for name, *_ in outer.fields} or \
            {"id", "source", "time"} - set(outer.required) or shadow.sources not in ((), ("source",)):
        return None
    data_struct = msgspec.defstruct(f"Compiled{model.__name__}", outer_fields(inner), kw_only=True,
                                    forbid_unknown_fields=True)
    struct = msgspec.defstruct(f"Compiled{model.__name__}Event", [*outer_fields(outer), ("data", data_struct)],
                               kw_only=True, forbid_unknown_fields=True, tag_field="type", tag=event_type)
    scope: dict[str, Any] = {}
    texts = [(f"e.{name}", annotation) for name, annotation in outer.texts] + \
        [(f"d.{name}", annotation) for name, annotation in inner.texts]
    uuids = [(place, annotation) for place, annotation in texts if _is_uuid(annotation)]
    value_of: dict[str, str] = {}  # a text field's place → the name of its validated value in the function
    lines = [
        "def finish(e, tokens):",
        # the type still the registry's newest, its model the same (the shadow's check)
        "    if _models.get(_T) is not _MODEL or _latest(_T) != _T:",
        "        return None",
        "    d = e.data",
    ]
    if shadow.sources:  # a `%` in the source: the shadow decodes and judges it (`ShadowEvent.checked`)
        lines += ["    if '%' in e.source:", "        return None"]
    lines += [f"    g{n} = d.{name} is not _UNSET" for n, (name, _) in enumerate(inner.optional)]
    # the keys given against the text's (a key given twice leaves fewer; the type's tag and `data` are two)
    lines += [f"    if tokens != {len(outer.required) + len(inner.required) + 2}"
              + "".join(f" + (e.{name} is not _UNSET)" for name, _ in outer.optional)
              + "".join(f" + g{n}" for n in range(len(inner.optional))) + ":",
              "        return None"]
    # the texts that repeat (a source, an organiser, a school unit, a group, a time, a date): from a memo per field
    for n, (place, annotation) in enumerate(texts):
        if (place, annotation) in uuids:
            continue
        scope[f"_M{n}"], scope[f"_V{n}"] = {}, TypeAdapter(annotation).validator.validate_python
        value_of[place] = f"m{n}"
        lines += [f"    m{n} = _M{n}.get({place})",
                  f"    if m{n} is None:",
                  f"        m{n} = _miss(_M{n}, _V{n}, {place})",
                  f"        if m{n} is None:",
                  "            return None"]
    if uuids:  # new in every event: in one call
        together: Any = tuple[tuple(a for _, a in uuids)]  # type: ignore[misc]
        scope["_uuids"] = TypeAdapter(together).validator.validate_python
        names = [f"u{n}" for n in range(len(uuids))]
        value_of |= {place: name for (place, _), name in zip(uuids, names, strict=True)}
        lines += ["    try:",
                  f"        ({', '.join(names)},) = _uuids(({', '.join(place for place, _ in uuids)},))",
                  "    except _Invalid:",
                  "        return None"]
    # the data's values the shadow holds as other than their text (a UUID, a date, a time), and its defaults
    lines += [f"    {place} = {value_of[place]}" for place, annotation in texts
              if place.startswith("d.") and _split(annotation)[0] is not str]
    for n, (name, _) in enumerate(inner.optional):
        lines += [f"    if not g{n}:", f"        d.{name} = _DEFAULTS[{n}]"]
    lines += [
        "    try:",
        "        for check in _AFTER:",
        "            if check(d) is not d:",
        "                return None",
        "    except Exception:",  # a refusal, or a check that broke: the shadow decides (and the ordinary way words it)
        "        return None"]

    def envelope_value(name: str) -> str:
        if f"e.{name}" in value_of:
            return value_of[f"e.{name}"]
        if name in dict(outer.optional):
            return f"(e.{name} if e.{name} is not _UNSET else _ENVELOPE_DEFAULTS[{name!r}])"
        return f"e.{name}"

    lines += [f"    return _Event({envelope_value('id')}, {envelope_value('source')}, _T, {envelope_value('time')}, "
              f"{envelope_value('subject')}, {envelope_value('dataschema')}, d, "
              f"({''.join(f'g{n}, ' for n in range(len(inner.optional)))}))"]
    scope |= {
        "_models": REGISTRY.models, "_latest": REGISTRY.latest_type, "_T": event_type, "_MODEL": model,
        "_UNSET": _UNSET, "_miss": _miss, "_Invalid": ValidationError,
        "_DEFAULTS": tuple(default for _, default in inner.optional), "_AFTER": shadow.after, "_Event": CompiledEvent,
        "_ENVELOPE_DEFAULTS": dict(outer.optional)}
    exec("\n".join(lines), scope)  # noqa: S102  # made from the models' field names only, as `bulk._line_maker`'s
    _MODELS[event_type] = (model, tuple(inner.required), tuple(name for name, _ in inner.optional))
    return struct, scope["finish"]


#: each compiled type → (its data model, the model's required fields, its optional ones in `given`'s order)
_MODELS: dict[str, tuple[type[EventData], tuple[str, ...], tuple[str, ...]]] = {}


def data_model_of(event: CompiledEvent) -> EventData:
    """The data model's instance of a compiled event's data, as the shadow's `fastpath.adopt` makes it: the same values
    and fields set."""
    model, required, optional = _MODELS[event.type]
    instance = model.__new__(model)
    fields = set(required)
    fields.update(name for name, given in zip(optional, event.given, strict=True) if given)
    object.__setattr__(instance, "__dict__", msgspec.structs.asdict(event.data))
    object.__setattr__(instance, "__pydantic_fields_set__", fields)
    object.__setattr__(instance, "__pydantic_extra__", None)
    object.__setattr__(instance, "__pydantic_private__", None)
    return instance


def outer_fields(plan: _Plan) -> list[tuple[Any, ...]]:
    return [(name, held) if default is msgspec.NODEFAULT else (name, held, default) for name, held, default in plan.fields]


def compiled_decoder(shadows: dict[str, ShadowEvent],
                     schema_uri: Callable[[str], str]) -> Callable[[bytes, int | None], Any] | None:
    """One function for the compiled shadows of `COMPILED_TYPES` among `shadows`: raw plain text (`decode_plain`'s) and
    its key tokens (`identifiers.key_tokens`, counted where not given) → a `CompiledEvent`, or None where the shadow
    must decide; None where no type is compiled."""
    finishers: dict[type, Callable[[Any, int], Any]] = {}
    for event_type in COMPILED_TYPES:
        shadow = shadows.get(event_type)
        made = None if shadow is None else compiled_event(shadow, schema_uri(event_type))
        if made is not None:
            finishers[made[0]] = made[1]
    if not finishers:
        return None
    members = tuple(finishers)
    decoder = msgspec.json.Decoder(members[0] if len(members) == 1 else Union[members])  # noqa: UP007
    decode, finishing = decoder.decode, finishers.get

    def compiled(raw: bytes, tokens: int | None = None) -> Any:
        try:
            event = decode(raw)
        except Exception:  # noqa: BLE001 - refused (or not UTF-8, or another type): the shadow decides
            return None
        return finishing(type(event))(event, key_tokens(raw) if tokens is None else tokens)  # type: ignore[misc]

    return compiled

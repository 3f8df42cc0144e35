"""A faster, never more lenient, validation of a whole event for `decode_event` (issue 16).

`decode_event` knows two things about a message before it validates it: no string of it holds a
personnummer (it scanned every string, or its pre-filter proved there is none), and — for "plain" text
(`identifiers.is_plain_json`: no backslash, no DEL) — no string holds a control character or a lone
surrogate (`json.loads` refuses raw control characters in strings, and only an escape makes one). Under
those two facts the text rules (`identifiers.check_text`: the `*` field validator of `ContractModel`,
`SafeText`, the identifier types' `_reject_pin`) can never fire, and they return the value unchanged.
What costs is calling them: pydantic-core calling back into Python, about a microsecond per field and
rule, most of a data model's validation time.

`shadow_event(envelope, model)` is one pydantic model of the envelope's fields with a shadow of the data
model as `data`, validated in pydantic-core alone, plus a few plain Python checks run around it:

* the text-rule validators (`check_text`, `check_line`, `_reject_pin`, `enforce_value_rules`), the envelope subject's
  `check_subject` (plain text holds no invisible character and only Latin letters) and `nfc` (plain text is its own
  NFC) are left out;
* the envelope source's `check_source` becomes the pattern of a URI-reference (RFC 3986's characters), in place of
  the field's own wider pattern; where the value holds a `%`, `check_source` itself runs on the validated shadow too
  (`checked`: the decoded text's rules, which no pattern can say);
* `_canonical_organiser` (other spellings of an organisation number rewritten to ``NNNNNN-NNNN``, then the
  text rules) is left out, its field's pattern narrowed to the canonical spellings, which it returns
  unchanged when the text rules hold: a ten- or twelve-digit organiser id takes the ordinary way, and is
  rewritten there;
* `check_name` (one line, no invisible character, a visible one) becomes the pattern "words parted by one ordinary
  space": in plain text no character is a control or invisible but the space; and `name_form` (NFC, surrounding
  spaces dropped, inner runs of spaces made one space) is left out beside it, which returns exactly such text
  unchanged (a name with a surrounding space, two spaces in a row or a no-break space takes the ordinary way, and
  is formed there);
* `_ascii_only` is left out only where the field's pattern becomes ASCII-only (`\\d` → `[0-9]`), which
  accepts exactly the strings the pattern and the ASCII rule accepted together;
* the integer rule of `enforce_value_rules` (fits a PostgreSQL integer) becomes bounds (the tightest
  of them and the field's own: pydantic keeps the last `ge`/`le` given);
* the year rule of dates and times (`within_years`) becomes bounds: the same years for `date`, for aware
  datetimes an instant from 1900-01-02 to 2199-12-30 UTC (narrower: an offset moves less than a day);
* a field whose validators end in `subjects._known` or `identifiers._check_school_year` becomes a
  `Literal` of the values the field's own full annotation accepts, out of the subject list and the
  school years 1990/91–2099/00 (narrower for school years: other years take the ordinary way);
* `date_as_text` and `datetime_as_text` (a date or time must be text of RFC 3339's form, not a number) become a
  pydantic-core chain: text of that form (`_IsoText`: the rule's own pattern, and such text is never a number to
  `temporal_as_text`), then the date or time validated from that text;
* `uuid_as_text` (a UUID in its 36-character form only) becomes a pydantic-core chain: text of that form
  (`_UuidText`), then the UUID: exactly what the rule lets through to the UUID that the UUID then accepts;
* `LongestFirst` (a tuple longer than its `max_length` refused before its items) is left out: the tuple's own
  `max_length` refuses the same lists, after its items, and the ordinary way words the refusal;
* the envelope's `type` is the data model's type alone (narrower than its pattern);
* the data model's `model_validator(mode="after")` functions run on the validated shadow (`checked`),
  the same functions, called directly.

So whatever the shadow accepts, the full validation accepts too, with the same values (`decode_event`
builds the data model's instance from the shadow's values without validating again: `adopt`); whatever
the shadow refuses goes the ordinary way, which decides and words the error. `json_union` validates the
raw text of plain messages against every shadow at once, without `json.loads`. A model the builder does
not understand (nested models, field validators of its own) gets no shadow. `test_decode_equivalence`
holds the claim over every example, hostile variants of each and generated events, against the decode
as it was written first.
"""

from __future__ import annotations

import dataclasses
import types
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime
from enum import Enum
from typing import Annotated, Any, Literal, Union, get_args, get_origin
from uuid import UUID

import annotated_types
from pydantic import (
    AfterValidator,
    AwareDatetime,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    GetCoreSchemaHandler,
    StringConstraints,
    TypeAdapter,
    ValidationError,
    create_model,
)
from pydantic.fields import FieldInfo
from pydantic_core import core_schema

from . import identifiers, subjects
from .events.base import (
    DATE_TEXT,
    DATETIME_TEXT,
    MAX_INT4,
    UUID_TEXT,
    EventData,
    LongestFirst,
    date_as_text,
    datetime_as_text,
    enforce_value_rules,
    uuid_as_text,
    within_years,
)
from .identifiers import check_text

__all__ = ["ShadowEvent", "shadow_event", "json_union", "adopt"]

#: the patterns of the identifier types, and what each means together with the ASCII rule
_ASCII_PATTERNS = {
    # the organiser id's canonical spellings only: exactly the values `_canonical_organiser` leaves as they are
    r"^(\d{4}|\d{6}-\d{4}|\d{10})$": r"^([0-9]{4}|[0-9]{6}-[0-9]{4})$",
    r"^\d{8}$": r"^[0-9]{8}$",
    r"^\d{4}/\d{2}$": r"^[0-9]{4}/[0-9]{2}$",
    r"^[A-Za-z0-9._:-]{1,64}$": r"^[A-Za-z0-9._:-]{1,64}$",
    r"^[A-Z0-9]{3,16}$": r"^[A-Z0-9]{3,16}$",
}
#: rewriting validators whose every fixed point the narrowed pattern of their field admits, and nothing else:
#: left out, since what the shadow accepts they would return unchanged (other spellings take the ordinary way)
_CANONICAL = {identifiers._canonical_organiser: r"^([0-9]{4}|[0-9]{6}-[0-9]{4})$"}
_TEXT_RULES = frozenset({check_text, identifiers.check_line, identifiers._reject_pin, enforce_value_rules,
                         # plain text holds no control, format, private-use or unassigned character, and its letters
                         # (ASCII and `INERT_LETTERS`) are all Latin: no word of two scripts
                         identifiers.check_subject,
                         # plain text is NFC already: ASCII and precomposed Latin-1 letters, all starters
                         # (`INERT_LETTERS`), have no decomposition a composition would change
                         identifiers.nfc})
#: what `identifiers.check_name` accepts of plain text that `identifiers.name_form` returns as it is (see `_metadata`):
#: words of no space (nor control character) parted by one ordinary space each: neither begins nor ends with a
#: space (so not only spaces either), no two spaces in a row, no space but the ordinary one
_SPACES = "".join(f"\\u{ord(ch):04x}" for ch in identifiers.NAME_SPACES)
_NAME_AS_FORMED = rf"^[^{_SPACES}\x00-\x1f\x7f]+(?: [^{_SPACES}\x00-\x1f\x7f]+)*$"
_INT4 = (annotated_types.Ge(-MAX_INT4 - 1), annotated_types.Le(MAX_INT4))
_DATE_YEARS = (annotated_types.Ge(date(1900, 1, 1)), annotated_types.Le(date(2199, 12, 31)))
_AWARE_YEARS = (annotated_types.Ge(datetime(1900, 1, 2, tzinfo=UTC)),
                annotated_types.Le(datetime(2199, 12, 30, tzinfo=UTC)))


def _enumerable() -> dict[Any, Callable[[], list[str]]]:
    return {subjects._known: lambda: sorted(subjects.subject_list().subjects),
            identifiers._check_school_year: lambda: [f"{y}/{(y + 1) % 100:02d}" for y in range(1990, 2100)]}


class _Unsupported(Exception):
    pass


def _func(meta: Any) -> Any:
    return meta.func if isinstance(meta, (AfterValidator, BeforeValidator)) else None


def _literal_of(base: Any, metadata: list[Any] | tuple[Any, ...], candidates: list[str]) -> Any:
    """`Literal` of the candidates that `Annotated[base, *metadata]` (the field as it is) accepts as they are."""
    full: TypeAdapter[Any] = TypeAdapter(Annotated[(base, *metadata)])
    accepted = []
    for value in candidates:
        try:
            if full.validate_python(value) == value:
                accepted.append(value)
        except ValidationError:
            pass
    if not accepted:
        raise _Unsupported("nothing to enumerate")
    return Literal[tuple(accepted)]


class _UuidText:
    """In an `Annotated` of `UUID`, last: the input must be text in the 36-character form (`base.UUID_TEXT`), then the
    UUID validates it. Where `uuid_as_text` stood: it refuses exactly the other spellings pydantic reads as a UUID, and
    passes this form (and anything that is no UUID at all, which the UUID then refuses) on unchanged."""

    def __get_pydantic_core_schema__(self, source: Any, handler: GetCoreSchemaHandler) -> core_schema.CoreSchema:
        return core_schema.chain_schema([core_schema.str_schema(pattern=f"^{UUID_TEXT.pattern}$"), handler(source)])


class _IsoText:
    """In an `Annotated`, last: the input must be text of the rule's form (`DATE_TEXT` for `date_as_text`,
    `DATETIME_TEXT` for `datetime_as_text`), then the type (with the metadata before this one) validates the text.
    Where the rule stood: it passes exactly such text on unchanged (text beginning with four ASCII digits and a '-'
    is never a number to `temporal_as_text`: `_NUMBER_TEXT` would have to read the '-' after the digits as a '.',
    an exponent, a space or the end)."""

    def __init__(self, rule: Any) -> None:
        self.pattern = {date_as_text: DATE_TEXT, datetime_as_text: DATETIME_TEXT}[rule].pattern

    def __get_pydantic_core_schema__(self, source: Any, handler: GetCoreSchemaHandler) -> core_schema.CoreSchema:
        return core_schema.chain_schema([core_schema.str_schema(pattern=f"^(?:{self.pattern})$"), handler(source)])


def _metadata(base: Any, metadata: list[Any] | tuple[Any, ...], temporal: list[Any] | None) -> list[Any]:
    """`metadata` of a field (or of an `Annotated`) of type `base`, as the module says."""
    pattern_ascii = False
    source_rule = False
    out: list[Any] = []
    patterns = {_ASCII_PATTERNS.get(meta.pattern) for meta in metadata
                if isinstance(meta, StringConstraints) and isinstance(meta.pattern, str)}
    for meta in metadata:
        func = _func(meta)
        if func in _TEXT_RULES:
            continue
        if func is identifiers.check_source:
            # a URI-reference's characters: the rule where nothing is percent-encoded (else `checked` calls it on the
            # value, for its decoded text); set last, below, in place of the field's other patterns (wider)
            source_rule = True
            continue
        if func is identifiers.name_form:
            if identifiers.check_name not in {_func(m) for m in metadata}:
                raise _Unsupported("name_form without check_name")
            continue
        if func in _CANONICAL:
            if patterns != {_CANONICAL[func]}:
                raise _Unsupported(f"{func!r} without its canonical pattern")
            continue
        if func is identifiers.check_name:
            # in plain text a string holds no control or format character (none is ASCII or among `INERT_LETTERS`
            # but escaped), every character but the space is visible, and every letter is Latin (no script is mixed:
            # `mixes_scripts` passes Latin-1): the name rule, with `name_form` changing nothing, is "neither begins
            # nor ends with a space" there, a pattern
            out.append(StringConstraints(pattern=_NAME_AS_FORMED))
            continue
        if isinstance(func, LongestFirst):  # the tuple's `max_length` refuses the same lists, after its items
            continue
        if func is uuid_as_text:
            if _optional_of(base) is not UUID:
                raise _Unsupported("uuid_as_text on another type")
            continue  # `_shadow_type` puts `_UuidText` in its place
        if func in (date_as_text, datetime_as_text):
            if temporal is None:  # not a field of the model itself: `accepts` cannot call it
                raise _Unsupported("a date's or time's text rule inside a type")
            temporal.append(func)
            continue
        if isinstance(meta, StringConstraints) and meta.pattern is not None:
            if not isinstance(meta.pattern, str) or meta.pattern not in _ASCII_PATTERNS:
                raise _Unsupported(f"pattern {meta.pattern!r}")
            pattern_ascii = True
            meta = StringConstraints(**{**{k: getattr(meta, k) for k in meta.__dataclass_fields__},
                                        "pattern": _ASCII_PATTERNS[meta.pattern]})
        elif func is within_years:
            plain = _optional_of(base)
            if plain is date:
                out.extend(_DATE_YEARS)
            elif plain is AwareDatetime:
                out.extend(_AWARE_YEARS)
            else:
                out.append(meta)
            continue
        elif func is identifiers._ascii_only and pattern_ascii:
            continue
        elif func is not None and func not in (identifiers._ascii_only, within_years):
            raise _Unsupported(f"validator {func!r}")
        elif isinstance(meta, FieldInfo):  # `Field(...)` inside an `Annotated`: only its constraints validate
            out.extend(_metadata(None, meta.metadata, None))
            continue
        out.append(meta)
    # `source`: RFC 3986's pattern, the rule's, in place of any pattern the field's metadata validates (pydantic keeps
    # the last given: another would win over it). The envelope's `source` validates none now: its published `^\\S+$`
    # is the schema's only (`json_schema_extra`, knobs37), no metadata read here; a pattern given back to the field
    # would be taken off by `_without_pattern`, being wider (a URI-reference holds no white space)
    if source_rule:
        out = [kept for meta in out if (kept := _without_pattern(meta)) is not None]
        out.append(StringConstraints(pattern=identifiers.URI_REFERENCE_PATTERN))
    if base is int:
        out.extend(_INT4)
    if base is not None:  # pydantic keeps the last `ge` (`le`) given: one of each, the tightest
        lower = [meta.ge for meta in out if isinstance(meta, annotated_types.Ge)]
        upper = [meta.le for meta in out if isinstance(meta, annotated_types.Le)]
        out = [meta for meta in out if not isinstance(meta, (annotated_types.Ge, annotated_types.Le))]
        if lower:
            out.append(annotated_types.Ge(max(lower)))  # type: ignore[type-var]
        if upper:
            out.append(annotated_types.Le(min(upper)))  # type: ignore[type-var]
    return out


def _without_pattern(meta: Any) -> Any:
    """`meta` without its `pattern` (a narrower one replaces it), where it holds one (None: nothing is left of it);
    `_Unsupported` where it would lose more than the pattern."""
    if getattr(meta, "pattern", None) is None:
        return meta
    if isinstance(meta, StringConstraints):
        return dataclasses.replace(meta, pattern=None)
    if set(vars(meta)) == {"pattern"}:  # `Field(pattern=...)`'s metadata: the pattern alone
        return None
    raise _Unsupported(f"a pattern beside other constraints: {meta!r}")


def _optional_of(annotation: Any) -> Any:
    """`X` of `X | None` (or `annotation` itself)."""
    if get_origin(annotation) in (Union, types.UnionType):
        args = [arg for arg in get_args(annotation) if arg is not type(None)]
        if len(args) == 1:
            return args[0]
    return annotation


def _shadow_type(base: Any, metadata: list[Any] | tuple[Any, ...], temporal: list[Any] | None = None) -> Any:
    """The shadow of `Annotated[base, *metadata]` (of `base` alone where there is no metadata)."""
    enumerable = _enumerable()
    for meta in metadata:
        if _func(meta) in enumerable:
            return _literal_of(base, metadata, enumerable[_func(meta)]())
    text: list[Any] = []
    shadow_metadata = _metadata(base, metadata, text if temporal is not None else None)
    if any(_func(meta) is uuid_as_text for meta in metadata):  # the 36-character form in pydantic-core (`_UuidText`)
        uuid: Any = Annotated[(UUID, *shadow_metadata, _UuidText())]
        return uuid if base is UUID else Union[uuid, None]  # noqa: UP007
    if text:  # a date or time: the text rule in pydantic-core (`_IsoText`), inside `| None`
        plain = _optional_of(base)
        if (plain, text) not in ((date, [date_as_text]), (AwareDatetime, [datetime_as_text])):
            raise _Unsupported(f"temporal {base!r}")
        inner: Any = Annotated[(plain, *shadow_metadata, _IsoText(text[0]))]
        return inner if plain is base else Union[inner, None]  # noqa: UP007
    shadow_base = base if base is int else _annotation(base)
    return Annotated[(shadow_base, *shadow_metadata)] if shadow_metadata else shadow_base


def _annotation(annotation: Any) -> Any:
    origin = get_origin(annotation)
    if origin is Annotated:
        base, *metadata = get_args(annotation)
        return _shadow_type(base, metadata)
    if origin in (Union, types.UnionType):
        return Union[tuple(_annotation(arg) for arg in get_args(annotation))]  # noqa: UP007
    if origin is tuple:
        args = get_args(annotation)
        if len(args) == 2 and args[1] is Ellipsis:
            return tuple[_annotation(args[0]), ...]  # type: ignore[misc]
        raise _Unsupported(f"tuple {annotation!r}")
    if origin is Literal:
        return annotation
    if annotation is int:
        return Annotated[int, *_INT4]
    if annotation in (type(None), str, bool, UUID, date, AwareDatetime):  # dates: the year rule is metadata
        return annotation
    if isinstance(annotation, type) and issubclass(annotation, Enum) and issubclass(annotation, str):
        return annotation  # its values are constants that obey the text rules (a test holds them)
    raise _Unsupported(f"type {annotation!r}")


def _fields(model: type[BaseModel]) -> dict[str, Any]:
    """The shadow's fields."""
    fields: dict[str, Any] = {}
    for name, info in model.model_fields.items():
        if info.alias or info.validation_alias or info.discriminator or info.default_factory is not None:
            raise _Unsupported(name)
        annotation = _shadow_type(info.annotation, info.metadata, [])
        fields[name] = (annotation, ...) if info.is_required() else (annotation, Field(default=info.default))
    return fields


def _config(model: type[BaseModel]) -> ConfigDict:
    config = ConfigDict()
    config.update({k: v for k, v in model.model_config.items() if k != "title"})  # type: ignore[typeddict-item]
    return config


@dataclass(frozen=True)
class ShadowEvent:
    """The shadow of one event type (see the module)."""

    model: type[EventData]
    validator: type[BaseModel]
    after: tuple[Callable[[Any], Any], ...]
    #: envelope fields held to `identifiers.check_source`: called on a value holding a `%` (its decoded text)
    sources: tuple[str, ...] = ()

    def accepts(self, doc: dict[str, Any]) -> Any:
        """The validated shadow of the message `doc`, or None where the ordinary validation must decide."""
        try:
            event = self.validator.model_validate(doc)
        except ValidationError:
            return None
        return self.checked(event)

    def checked(self, event: Any) -> Any:
        """`event` (a validated shadow) if the data model's own `model_validator`s pass it, else None."""
        try:
            for name in self.sources:
                value = getattr(event, name)
                if value is not None and "%" in value:
                    identifiers.check_source(value)
            for check in self.after:
                if check(event.data) is not event.data:
                    return None
        except Exception:  # a refusal, or a check that broke: the ordinary way decides (and words it)
            return None
        return event


def shadow_event(envelope: type[BaseModel], model: type[EventData],
                 dataschema: str | None = None) -> ShadowEvent | None:
    """The shadow of an event whose envelope attributes are `envelope` (no `data`) and whose data model is
    `model`, or None where the builder cannot vouch for one. Its `type` is the model's type alone (a
    narrower rule than the envelope's pattern), so that shadows can be told apart by it (`json_union`).
    `dataschema`: the one `dataschema` the type may name (the envelope's `dataschema` field then that text or
    absent/null, a narrower rule than its pattern: any other the caller refuses in words, `check_dataschema`)."""
    for cls in (envelope, model):
        decorators = cls.__pydantic_decorators__
        if set(decorators.field_validators) - {"_value_rules"} or decorators.field_serializers or \
                decorators.validators or decorators.root_validators or decorators.model_serializers:
            return None
    if envelope.__pydantic_decorators__.model_validators or "type" not in envelope.model_fields or \
            any(d.info.mode != "after" for d in model.__pydantic_decorators__.model_validators.values()):
        return None
    try:
        envelope_fields = _fields(envelope)
        data_fields = _fields(model)
    except _Unsupported:
        return None
    envelope_fields["type"] = (Literal[model.event_type], ...)
    if dataschema is not None and "dataschema" in envelope_fields:
        # in pydantic-core, in place of its pattern and of a comparison in Python after it (~0.3 µs of the rebuild
        # decoder's per event, bench/README.md decode37)
        envelope_fields["dataschema"] = (Union[Literal[dataschema], None], Field(default=None))  # noqa: UP007
    data = create_model(f"Shadow{model.__name__}", __config__=_config(model), __module__=__name__,
                        **data_fields)
    validator = create_model(f"Shadow{model.__name__}Event", __config__=_config(envelope), __module__=__name__,
                             **envelope_fields, data=(data, ...))
    after = tuple(d.func for d in model.__pydantic_decorators__.model_validators.values())
    sources = tuple(name for name, info in envelope.model_fields.items()
                    if identifiers.check_source in {_func(meta) for meta in info.metadata})
    return ShadowEvent(model, validator, after, sources)


def json_union(shadows: list[ShadowEvent]) -> TypeAdapter[Any] | None:
    """One validator of raw JSON for several shadows, told apart by `type` (pydantic-core parses the text
    itself: no `json.loads`). Its JSON parser refuses what `json.loads` refuses and reads the rest the
    same way (the last of two equal keys wins, numbers as Python reads them; `test_decode_equivalence`
    holds it on hostile syntax); `decode_event` uses it on plain text only (no escapes)."""
    if not shadows:
        return None
    members = tuple(shadow.validator for shadow in shadows)
    union: Any = members[0] if len(members) == 1 else Annotated[Union[members], Field(discriminator="type")]  # noqa: UP007
    return TypeAdapter(union)


def adopt(model: type[EventData], shadow: BaseModel) -> EventData:
    """An instance of `model` holding the shadow's values, as `model.model_validate` would have made it
    (the same field values and set fields): `model_construct` without its per-field work."""
    instance = model.__new__(model)
    object.__setattr__(instance, "__dict__", dict(shadow.__dict__))
    object.__setattr__(instance, "__pydantic_fields_set__", shadow.model_fields_set)
    object.__setattr__(instance, "__pydantic_extra__", None)
    object.__setattr__(instance, "__pydantic_private__", None)
    return instance

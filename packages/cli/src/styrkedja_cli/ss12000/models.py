"""The parts of SS 12000:2020 (API v2) the importer reads, written from the public specification.

Unknown fields are ignored (servers differ, and a `civicNo` anywhere is simply never kept).
Timestamps are kept as text here: `aware()` gives a naive one an explicit zone.

Dates (`format: date`, RFC 3339 full-date, e.g. "2026-08-17") are read as the specification writes them and
also as an RFC 3339 date-time (many servers serialise a date column as one: "2026-08-17T00:00:00",
"2026-08-16T22:00:00Z", "2026-08-17T08:30:00.1234567+02:00"): the day is taken in Europe/Stockholm
(`SCHOOL_ZONE`, the zone of a Swedish school's calendar), a date-time with an offset converted to it, one
without read as Stockholm time already. How many dates came so is said by the import (`DATE_TIMES_READ`).
Anything else (another format, a day that does not exist, a number) refuses the item naming the field and
the rule (`source._validated`: the item alone, or an entry of one of its lists alone, `ENTRY_LISTS`; only an item
whose id cannot be read stops the import).

Every field required here is required by SS 12000 2.1.0 too (`packages/cli/tests/ss12000_spec/`); some it requires
are optional here, where servers leave them out and the plan can do without (or refuses that item alone).
"""

from __future__ import annotations

import functools
import re
from collections import Counter
from contextvars import ContextVar
from datetime import UTC, date, datetime
from numbers import Number
from types import UnionType
from typing import Annotated, Any, Union, get_args, get_origin
from zoneinfo import ZoneInfo

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StringConstraints,
    ValidationInfo,
    field_validator,
    model_validator,
)

from styrkedja_contracts.identifiers import SOURCE_ID_PATTERN, nfc

#: a name as the source wrote it, in Unicode NFC: "Å" typed as one character or as "A" and a combining ring is
#: one name (a server on a Mac, or a name pasted from a PDF, sends the second), so a re-import spelled the other
#: way changes nothing
SourceName = Annotated[str, BeforeValidator(nfc)]

_UUID = re.compile(r"^[0-9A-Fa-f]{8}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{12}$")


def canonical_id(value: Any) -> Any:
    """An id as one spelling: a UUID in lower case. SS 12000's ids are `format: uuid`, whose hex digits are
    case-insensitive on input (RFC 9562 §4): a server that writes an entity's id in upper case and a reference
    to it in lower case (two serialisers, a database's uniqueidentifier) names one entity, and a server that
    changes case between runs must not read as every entity removed and made anew. Other ids stay as given."""
    return value.lower() if isinstance(value, str) and _UUID.match(value) else value


DOTS_ONLY = "must not be only dots: `.` and `..` are path segments (/groups/.. is the API's root)"


def _not_only_dots(value: str) -> str:
    # an incremental run asks for a group an activity names by its id (`/groups/{id}`): an id of dots alone would
    # ask for another resource of the server (the whole list, its root) and read it as that group
    if not value.strip("."):
        raise ValueError(DOTS_ONLY)
    return value


#: an SS 12000 id (an entity's own or a reference): text, UUIDs in lower case
SourceId = Annotated[str, StringConstraints(min_length=1, max_length=64, pattern=SOURCE_ID_PATTERN),
                     BeforeValidator(canonical_id), AfterValidator(_not_only_dots)]


#: a number where SS 12000 has text (codes, ids): refused, not turned into text — `"municipalityCode": 180` may be
#: 0180 (Stockholm) or a typing error, and a school unit code of 7 digits is no code; only the server knows
NUMBER_FOR_TEXT = "must be text (a JSON string, as SS 12000 has it), not a number: a number may have lost leading zeros"

NUMBER_FOR_DATE = "must be a date written YYYY-MM-DD (SS 12000: format date), not a number"
#: the rule a list, an object or a boolean given for a date breaks: pydantic's "Input should be a valid date" said
#: nothing of what a date is. Java's Jackson writes a LocalDate as `[2026, 8, 17]` unless told to write ISO 8601
OTHER_FOR_DATE = "must be a date written YYYY-MM-DD as text (SS 12000: format date), not {found}"
#: the rule a text of digits alone given for a date breaks (it is a text: "not a number" misled)
DIGITS_FOR_DATE = "must be a date written YYYY-MM-DD (SS 12000: format date), not digits alone"
#: the rule a text given for a date breaks
NOT_A_DATE = ("must be a date (RFC 3339 full-date YYYY-MM-DD, SS 12000's format date) or an RFC 3339 date-time "
              "(YYYY-MM-DDThh:mm:ss, optionally a fraction and an offset)")
NO_SUCH_DAY = "not a real day (or time of day) of the calendar"
#: the rules a value given for one of SS 12000's integers (schoolYear, startSchoolYear, endSchoolYear: `type:
#: integer`, 0 to 10) breaks: pydantic read "7" as 7, 7.5 refused but true as 1 (a boolean where a year stands
#: became year 1) — a text or a boolean is refused, as a number is where SS 12000 has text (`NUMBER_FOR_TEXT`)
TEXT_FOR_INTEGER = "must be an integer (a JSON number, as SS 12000 has it), not {found}"
NOT_WHOLE = "must be a whole number (SS 12000: type integer)"
YEAR_RANGE = "must be 0 to 10 (SS 12000's school years)"
#: the rule a value given for one of SS 12000's booleans (an enrolment's `cancelled`) breaks: pydantic read "yes",
#: "on", 1 and "false" as booleans, so a server's text of its own ("N", "nej") was a cancellation or none unsaid
NOT_A_BOOLEAN = "must be true or false (a JSON boolean, as SS 12000 has it), not {found}"

#: the rule a meta timestamp (`format: date-time`) breaks
NOT_A_TIMESTAMP = ("not an RFC 3339 timestamp (SS 12000's format date-time: YYYY-MM-DDThh:mm:ss, optionally a "
                   "fraction and an offset)")
#: the rule a meta timestamp given as anything but text breaks: Java's Jackson writes a Date as milliseconds since
#: 1970 and a LocalDateTime as `[2026, 8, 17, 8, 30]` by default. It was refused as "a number may have lost leading
#: zeros" (the rule of a code), or as "Input should be a valid string"
OTHER_FOR_TIMESTAMP = ("must be an RFC 3339 timestamp written as text (SS 12000's format date-time: "
                       "YYYY-MM-DDThh:mm:ss, optionally a fraction and an offset), not {found}")

#: the zone a school's days are counted in: a date sent as a date-time with an offset is that instant's day here
SCHOOL_ZONE = ZoneInfo("Europe/Stockholm")
# a full-date, also with the offset of the place the day is in (XML Schema's xs:date, as Java's and .NET's XML-bred
# serialisers write it: "2026-08-17+02:00", "2026-08-17Z"): the day is the day written, wherever it is
_FULL_DATE = re.compile(r"^([0-9]{4}-[0-9]{2}-[0-9]{2})([Zz]|[+-][0-9]{2}:[0-9]{2})?$")
# RFC 3339 §5.6 date-time; its offset left out too (then Stockholm time), "T" or a space between (§5.6's note), the
# offset also as ISO 8601's basic "+0200" or hours alone "+02" (Java's SimpleDateFormat `Z` writes "+0200")
_DATE_TIME = re.compile(r"^([0-9]{4}-[0-9]{2}-[0-9]{2})[Tt ]([0-9]{2}:[0-9]{2}):([0-9]{2})(\.[0-9]+)?"
                        r"([Zz]|[+-][0-9]{2}(?::?[0-9]{2})?)?$")
#: the directory's first and last days (its contracts take dates of the years 1900–2199). An end date after the last is
#: what systems write for "no end" (9999-12-31, .NET's DateTime.MaxValue, 2999-12-31), a start or an end before the
#: first what they write for none (.NET's DateTime.MinValue, 0001-01-01, an unset date): each is read as none —
#: refused, it cost every membership of a group (or a teacher's duty, and with it the teaching) its place. A start
#: after the last day stays refused: read as none, it would have begun at once
FIRST_DAY, LAST_DAY = date(1900, 1, 1), date(2199, 12, 31)
#: per model and field ("Group.endDate"), how many dates outside FIRST_DAY–LAST_DAY were read as none (said); None: not
#: counted
DATES_READ_AS_NONE: ContextVar[Counter[str] | None] = ContextVar("dates_read_as_none", default=None)
#: per field name, how many dates this import read from a date-time (said by the command); None: not counted
DATE_TIMES_READ: ContextVar[Counter[str] | None] = ContextVar("date_times_read", default=None)


def source_date(value: str, field: str = "") -> date:
    """A date as SS 12000 servers write it (see the module's docstring). Raises ValueError naming the rule."""
    text = value.strip()
    try:
        whole_day = _FULL_DATE.match(text)
        if whole_day:
            return date.fromisoformat(whole_day.group(1))
        found = _DATE_TIME.match(text)
        if found is None:
            raise ValueError(NOT_A_DATE)
        day, minutes, seconds, fraction, offset = found.groups()
        # a leap second (RFC 3339 allows :60) is the last second of its minute for a day's purposes
        seconds = "59" if seconds == "60" else seconds
        moment = datetime.fromisoformat(f"{day}T{minutes}:{seconds}{(fraction or '')[:7]}{_offset(offset)}")
    except ValueError as error:
        raise ValueError(NOT_A_DATE if str(error) == NOT_A_DATE else NO_SUCH_DAY) from None
    counted = DATE_TIMES_READ.get()
    if counted is not None:
        counted[field] += 1
    try:
        return (moment.astimezone(SCHOOL_ZONE) if moment.tzinfo is not None else moment).date()
    except OverflowError:
        # its day in Stockholm is beyond the calendar's ends (.NET's DateTime.MaxValue, "9999-12-31T23:59:59.9999999Z",
        # a "no end" as .NET servers write it, is 10000-01-01 there): the calendar's end, or its start (an
        # OverflowError is no ValueError: it went through pydantic as a traceback)
        return date.max if moment.year == date.max.year else date.min


def _offset(offset: str | None) -> str:
    """An offset as `datetime.fromisoformat` reads it on every Python this runs on: "+02:00" ("Z", "+0200", "+02")."""
    if not offset:
        return ""
    if offset in ("Z", "z"):
        return "+00:00"
    digits = offset[1:].replace(":", "")
    return f"{offset[0]}{digits[:2]}:{digits[2:4] or '00'}"


class Model(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True, populate_by_name=True)

    @model_validator(mode="before")
    @classmethod
    def _null_is_absent(cls, value: Any) -> Any:
        # many servers' serialisers write an optional field they do not have as null rather than leaving it out
        # (`"groupMemberships": null`, `"cancelled": null`): the same as absent, its default — a required one
        # stays missing, and refuses the item as before. An optional date written as "" (or blanks) is absent
        # too: it is no date by the specification (`format: date`), but it holds nothing that could be lost
        # An optional object written as an empty list (`"_embedded": []`, `"meta": []`) is absent too: PHP's
        # json_encode writes an empty associative array so, and it holds nothing either
        if isinstance(value, dict):
            blank_dates, objects = _optional_dates(cls), _optional_objects(cls)
            if any(_absent(k, v, blank_dates, objects) for k, v in value.items()):
                return {k: v for k, v in value.items() if not _absent(k, v, blank_dates, objects)}
        return value

    @field_validator("*", mode="before")
    @classmethod
    def _text_is_not_a_number(cls, value: Any, info: ValidationInfo) -> Any:
        # Number: a folder file is streamed (ijson), which reads a number as a Decimal
        if isinstance(value, Number) and not isinstance(value, bool) and info.field_name in _text_fields(cls):
            raise ValueError(NUMBER_FOR_TEXT)
        # pydantic reads a number (or a text of digits) given for a date as seconds since 1970: `"endDate": 0`,
        # which some serialisers write for "no date", ended the unit in 1970
        if info.field_name in _dates(cls) and isinstance(value, Number) and not isinstance(value, bool):
            raise ValueError(NUMBER_FOR_DATE)
        if info.field_name in _dates(cls) and (isinstance(value, bool) or not isinstance(value, (str, Number, date))):
            raise ValueError(OTHER_FOR_DATE.format(found=_kind_of(value)))
        if info.field_name in _dates(cls) and isinstance(value, str) and value.strip().isdigit():
            raise ValueError(DIGITS_FOR_DATE)  # "20260817" (ISO 8601's basic form) or seconds since 1970: not said
        if info.field_name in _dates(cls) and isinstance(value, str):
            field = cls.model_fields[info.field_name]
            day = source_date(value, field.alias or info.field_name)
            if day < FIRST_DAY and info.field_name in ("start_date", "end_date") or (
                    day > LAST_DAY and info.field_name == "end_date"):
                counted = DATES_READ_AS_NONE.get()
                if counted is not None:
                    counted[f"{cls.__name__}.{field.alias or info.field_name}"] += 1
                return None  # a system's "none" (0001-01-01, 9999-12-31): none the directory could tell from it
            return day
        if info.field_name in _integers(cls):
            return _integer(value)
        if info.field_name in _booleans(cls) and not isinstance(value, bool):
            raise ValueError(NOT_A_BOOLEAN.format(found=_kind_of(value)))
        return value


def _kind_of(value: Any) -> str:
    """What a JSON value is, in words (never the value: it may be personal data)."""
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, Number):
        return "a number"
    if isinstance(value, str):
        return "text (a JSON string)"
    return "a list" if isinstance(value, list) else "an object" if isinstance(value, dict) else "another value"


def _integer(value: Any) -> int:
    """One of SS 12000's school years (`type: integer`, 0 to 10) as an int: a number of a whole value (7, 7.0, a
    folder file's Decimal), else a ValueError naming the rule."""
    if isinstance(value, bool) or not isinstance(value, Number):
        raise ValueError(TEXT_FOR_INTEGER.format(found=_kind_of(value)))
    try:
        whole = int(value)  # type: ignore[call-overload]
    except (ValueError, OverflowError, TypeError):  # nan, inf
        raise ValueError(NOT_WHOLE) from None
    if whole != value:
        raise ValueError(NOT_WHOLE)
    if not 0 <= whole <= 10:
        raise ValueError(YEAR_RANGE)
    return whole


def _annotated_with(model: type[BaseModel], wanted: type, *, optional_only: bool) -> frozenset[str]:
    """The names (alias and attribute name) of `model`'s fields of type `wanted` (or `wanted | None`)."""
    names: set[str] = set()
    for name, field in model.model_fields.items():
        annotation = field.annotation
        if (annotation is wanted or wanted in get_args(annotation)) and not (optional_only and field.is_required()):
            names |= {name, field.alias or name}
    return frozenset(names)


def _absent(key: str, value: Any, blank_dates: frozenset[str], objects: frozenset[str]) -> bool:
    return (value is None or (key in blank_dates and isinstance(value, str) and not value.strip())
            or (key in objects and isinstance(value, list) and not value))


@functools.cache
def _optional_objects(model: type[BaseModel]) -> frozenset[str]:
    """The names (alias and attribute name) of `model`'s optional fields that hold an object (another model, or
    None): not a list of them — `"groupMemberships": []` is a group without members."""
    names: set[str] = set()
    for name, field in model.model_fields.items():
        kinds = get_args(field.annotation) if get_origin(field.annotation) in (Union, UnionType) else (field.annotation,)
        if not field.is_required() and any(isinstance(k, type) and issubclass(k, BaseModel) for k in kinds):
            names |= {name, field.alias or name}
    return frozenset(names)


@functools.cache
def _optional_dates(model: type[BaseModel]) -> frozenset[str]:
    return _annotated_with(model, date, optional_only=True)


@functools.cache
def _dates(model: type[BaseModel]) -> frozenset[str]:
    return _annotated_with(model, date, optional_only=False)


@functools.cache
def _integers(model: type[BaseModel]) -> frozenset[str]:
    return _annotated_with(model, int, optional_only=False)


@functools.cache
def _booleans(model: type[BaseModel]) -> frozenset[str]:
    return _annotated_with(model, bool, optional_only=False)


@functools.cache
def _text_fields(model: type[BaseModel]) -> frozenset[str]:
    return _annotated_with(model, str, optional_only=False)


class Ref(Model):
    id: SourceId


class Meta(Model):
    created: str | None = None
    modified: str | None = None

    @field_validator("created", "modified", mode="before")
    @classmethod
    def _blank_is_absent(cls, value: Any) -> Any:
        # as an optional date written "": a serialiser's "no time", which holds nothing that could be lost (it
        # refused the whole page: `meta.modified: ""` on one item stopped the import)
        if value is not None and not isinstance(value, str):
            raise ValueError(OTHER_FOR_TIMESTAMP.format(found=_kind_of(value)))  # (before the rule of text fields)
        return None if not value or not value.strip() else value

    @field_validator("created", "modified")
    @classmethod
    def _a_timestamp(cls, value: str | None) -> str | None:
        # checked as the page is read, so a bad one refuses its item instead of failing later
        if value is not None:
            try:
                timestamp(value)
            except ValueError:
                raise ValueError(NOT_A_TIMESTAMP) from None
        return value


class Organisation(Model):
    id: SourceId
    # a name the directory cannot take (empty, longer than 200 characters, a control character) is the directory's
    # rule, not the specification's (displayName is any text): the item is refused on its own, its page read
    display_name: SourceName = Field(alias="displayName")
    # required by the specification; Skolverket's reference API leaves it out (its organisations are all
    # school units, each with its schoolUnitCode): `mapping` tells the kind without it where it can
    organisation_type: str | None = Field(None, alias="organisationType")
    organisation_number: str | None = Field(None, alias="organisationNumber")
    municipality_code: str | None = Field(None, alias="municipalityCode")
    school_unit_code: str | None = Field(None, alias="schoolUnitCode")
    parent: Ref | None = Field(None, alias="parentOrganisation")
    start_date: date | None = Field(None, alias="startDate")
    end_date: date | None = Field(None, alias="endDate")
    meta: Meta | None = None


class Membership(Model):
    # required by SS 12000 2.1.0 (GroupMembership: person), not by 2.0, and left out by servers: a membership without
    # its person is refused on its own in the plan, not the page it stands on
    person: Ref | None = None
    start_date: date | None = Field(None, alias="startDate")
    end_date: date | None = Field(None, alias="endDate")


class Group(Model):
    id: SourceId
    display_name: SourceName = Field(alias="displayName")  # its bounds are the directory's (see Organisation)
    group_type: str | None = Field(None, alias="groupType")
    organisation: Ref
    memberships: list[Membership] = Field(default_factory=list, alias="groupMemberships")
    start_date: date | None = Field(None, alias="startDate")
    end_date: date | None = Field(None, alias="endDate")
    meta: Meta | None = None


class Duty(Model):
    id: SourceId
    person: Ref | None = None  # not required by the specification: such a duty is refused on its own in the plan
    duty_at: Ref = Field(alias="dutyAt")
    duty_role: SourceName = Field(alias="dutyRole")  # its bounds are the directory's (see Organisation)
    start_date: date | None = Field(None, alias="startDate")
    end_date: date | None = Field(None, alias="endDate")
    meta: Meta | None = None


class TeacherAssignment(Model):
    duty: Ref
    start_date: date | None = Field(None, alias="startDate")
    end_date: date | None = Field(None, alias="endDate")


class Activity(Model):
    id: SourceId
    display_name: str | None = Field(None, alias="displayName")
    # Undervisning (teaching), else a student's, an exam's or a teacher's own activity: only teaching is a teaching
    # assignment (`mapping.NOT_TEACHING`)
    activity_type: str | None = Field(None, alias="activityType")
    groups: list[Ref] = Field(default_factory=list)
    teachers: list[TeacherAssignment] = Field(default_factory=list)
    syllabus: Ref | None = None
    organisation: Ref | None = None
    start_date: date | None = Field(None, alias="startDate")
    end_date: date | None = Field(None, alias="endDate")
    meta: Meta | None = None


class Syllabus(Model):
    id: Annotated[str, StringConstraints(min_length=1, max_length=64), BeforeValidator(canonical_id)]
    subject_code: str | None = Field(None, alias="subjectCode")
    start_school_year: int | None = Field(None, alias="startSchoolYear")
    end_school_year: int | None = Field(None, alias="endSchoolYear")


class Enrolment(Model):
    """A student's enrolment at a school unit: where SS 12000 keeps the year (årskurs)."""

    enroled_at: Ref = Field(alias="enroledAt")
    school_year: int | None = Field(None, alias="schoolYear")
    # required by the specification (SchoolTypesEnum), left out by some servers: which school form the year is of
    school_type: str | None = Field(None, alias="schoolType")
    start_date: date | None = Field(None, alias="startDate")
    end_date: date | None = Field(None, alias="endDate")
    cancelled: bool = False


class PersonMembership(Model):
    """A group membership as a person states it (`expand=groupMemberships`): the group (a GroupFragment, of which
    only the id is read), its start and end. The group is not required by the specification: a membership without
    one is refused on its own in the plan."""

    group: Ref | None = None
    start_date: date | None = Field(None, alias="startDate")
    end_date: date | None = Field(None, alias="endDate")


class PersonEmbedded(Model):
    memberships: list[PersonMembership] | None = Field(None, alias="groupMemberships")


class Person(Model):
    """Only the id, the enrolments, the group memberships the person states and when it changed (`meta`): names,
    civic numbers (civicNo) and every other field of a person (and of its `_embedded` objects: duties, placements, responsibleFor) are
    dropped as the page is read. Memberships stand where the specification puts them, `_embedded.groupMemberships`
    (`/persons?expand=groupMemberships`), or on the person itself, as some servers serve them; `None`: the person
    states none (not: is in no group)."""

    id: SourceId
    enrolments: list[Enrolment] = Field(default_factory=list)
    embedded: PersonEmbedded | None = Field(None, alias="_embedded")
    memberships: list[PersonMembership] | None = Field(None, alias="groupMemberships")
    meta: Meta | None = None  # when it changed: an incremental run re-reads the memberships of those changed since

    def stated_memberships(self) -> tuple[str, list[PersonMembership]] | None:
        """The person's memberships and the path of the field they stand in: `_embedded.groupMemberships` when the
        person has it (the specification's place), else `groupMemberships`; None when it has neither."""
        if self.embedded is not None and self.embedded.memberships is not None:
            return "_embedded.groupMemberships", self.embedded.memberships
        if self.memberships is not None:
            return "groupMemberships", self.memberships
        return None


class Compact:
    """An item as the importer holds it once its model has validated it: the model's fields in `__slots__` (no
    instance dict, no per-instance set of the fields given: `model_fields_set` is one shared frozenset per distinct
    set), lists as tuples, nested models compact too. A pydantic model costs a dict and a set per object, nested
    ones included: a 100 MB page of groups with their memberships held 0.8 GB as models. Read-only, and equal when
    of one model with equal fields, as the frozen models are (`_Once` compares a page's item with one read before)."""

    __slots__ = ("model_fields_set",)
    #: the model's field names, in its order (the slots besides `model_fields_set`)
    _fields: tuple[str, ...] = ()
    #: the model it was validated by
    model: type[Model]
    model_fields_set: frozenset[str]

    def __eq__(self, other: object) -> bool:
        return type(other) is type(self) and all(getattr(self, f) == getattr(other, f) for f in self._fields)

    def __hash__(self) -> int:
        return hash((type(self), *(getattr(self, f) for f in self._fields)))

    def __setattr__(self, name: str, value: Any) -> None:
        raise AttributeError(f"{type(self).__name__} is read-only")

    def __repr__(self) -> str:
        return f"{type(self).__name__}({', '.join(f'{f}={getattr(self, f)!r}' for f in self._fields)})"

    def model_dump(self) -> dict[str, Any]:
        """The fields as a dict, nested items too (as the model's `model_dump`, by field name)."""
        return {f: _dumped(getattr(self, f)) for f in self._fields}


def _dumped(value: Any) -> Any:
    if isinstance(value, Compact):
        return value.model_dump()
    if isinstance(value, tuple):
        return [_dumped(v) for v in value]
    return value


def _compact_class(model: type[Model]) -> type[Compact]:
    fields = tuple(model.model_fields)
    namespace: dict[str, Any] = {"__slots__": fields, "_fields": fields, "model": model, "__module__": __name__,
                                 "__qualname__": f"Compact{model.__name__}"}
    # a model's own methods (`Person.stated_memberships`) read only its fields: the compact item has them too
    namespace.update({name: value for name, value in vars(model).items()
                      if callable(value) and not name.startswith("_") and name not in BaseModel.__dict__})
    return type(f"Compact{model.__name__}", (Compact,), namespace)


#: the models whose items are shared by value within one import (`Shared`): what many items name alike (a school
#: unit's Ref on each of its groups, a person's on each group it is in, one `meta` stamp of a bulk load)
_SHARED_BY_VALUE = ("Ref", "Meta")


class Shared:
    """One import's table of values held once: equal texts (ids, types, timestamps), dates, field name sets and
    `Ref`/`Meta` items are one object each, however many items hold them. Only what is kept anyway is in it (a
    hostile page of distinct values costs one dict entry per value beside the value, never more items)."""

    def __init__(self) -> None:
        self.values: dict[Any, Any] = {}
        self.items: dict[tuple[Any, ...], Compact] = {}
        self.field_sets: dict[frozenset[str], frozenset[str]] = {}
        #: (entity, id) → why the item was refused as it was read (`source._validated`): it broke the specification
        #: on its own, its id readable — left out of what was read, refused in the plan (what came of it before kept)
        self.refused: dict[tuple[str, str], str] = {}
        #: (entity, id) → the entries of its lists refused as it was read (`ENTRY_LISTS`: "teachers[2].duty: Field
        #: required"), each "<path>: <rule>": the item was read without them, and the plan refuses each on its own
        self.faults: dict[tuple[str, str], list[str]] = {}

    def compact(self, item: Model) -> Compact:
        """`item` (validated) as the importer holds it: `Compact`, its values shared."""
        kind = _COMPACT[type(item)]
        given = item.__dict__
        values = tuple(self._value(given[name]) for name in kind._fields)
        if type(item).__name__ in _SHARED_BY_VALUE:
            found = self.items.get((kind, values))
            if found is not None:
                return found
        out = object.__new__(kind)
        for name, value in zip(kind._fields, values, strict=True):
            object.__setattr__(out, name, value)
        fields_set = frozenset(item.model_fields_set)
        object.__setattr__(out, "model_fields_set", self.field_sets.setdefault(fields_set, fields_set))
        if type(item).__name__ in _SHARED_BY_VALUE:
            self.items[(kind, values)] = out
        return out

    def _value(self, value: Any) -> Any:
        if isinstance(value, (str, date)):  # (a datetime is a date: none is held)
            return self.values.setdefault(value, value)
        if isinstance(value, BaseModel):
            return self.compact(value)  # type: ignore[arg-type]
        if isinstance(value, list):
            return tuple(self._value(v) for v in value)
        return value  # None, a bool, an int (small ones are shared by Python)


#: per entity, the lists (their paths in an item) whose entries are read one by one: an entry that breaks the
#: specification on its own (a teacher without its `duty`, a membership that is no object, an enrolment without
#: `enroledAt`) is refused on its own, the item read without it (`Shared.faults`) — it stopped the import. An entry
#: of these is an item of its own to the directory (a membership, a teaching assignment) or a fact of its item's (an
#: enrolment's year), never what the item is; a list that is no list is its item's fault (`Shared.refused`)
ENTRY_LISTS: dict[str, tuple[tuple[str, ...], ...]] = {
    "groups": (("groupMemberships",),),
    "activities": (("groups",), ("teachers",)),
    "persons": (("enrolments",), ("groupMemberships",), ("_embedded", "groupMemberships")),
}

ENTITIES: dict[str, type[Model]] = {
    "organisations": Organisation, "persons": Person, "groups": Group, "duties": Duty, "syllabuses": Syllabus,
    "activities": Activity,
}
"""What is read, in the order it is read (activities refer to groups, duties and syllabuses)."""

_COMPACT: dict[type[Model], type[Compact]] = {
    model: _compact_class(model) for model in (Ref, Meta, Organisation, Membership, Group, Duty, TeacherAssignment,
                                               Activity, Syllabus, Enrolment, PersonMembership, PersonEmbedded, Person)}

OPTIONAL = frozenset({"persons", "syllabuses"})
"""A source may hold these back (403/404, or no file): without persons the groups' years from enrolments are
unknown, without syllabuses the teaching assignments' subjects and the years from single-year syllabuses.
Skolverket's reference API serves no /syllabuses at all, and a token may lack the right to read persons."""


def timestamp(value: str) -> datetime:
    """An RFC 3339 date-time as servers write it: RFC 3339 (§5.6) lets "T" and "Z" be lower case; any fraction of a
    second (.NET writes seven digits) is cut to microseconds. Its shape is `_DATE_TIME`'s (a space for the "T", the offset
    left out or written +0200 as dates' are): `fromisoformat` alone took ISO 8601's other forms, none a date-time of
    SS 12000's (`meta.modified` "2026-08-17" was midnight, "2026-W34-1" a week's Monday, "2026-08-17T08" an hour).
    Raises ValueError."""
    found = _DATE_TIME.match(value.strip())
    if found is None:
        raise ValueError(NOT_A_TIMESTAMP)
    day, minutes, seconds, fraction, offset = found.groups()
    # a leap second (RFC 3339 allows :60, which `datetime` has not) is the last second of its minute
    seconds = "59" if seconds == "60" else seconds
    return datetime.fromisoformat(f"{day}T{minutes}:{seconds}{(fraction or '')[:7]}{_offset(offset)}")


def one_instant(value: str | None, naive_zone: ZoneInfo) -> datetime | None:
    """An SS 12000 timestamp as `aware` reads it, or None when it is no one instant: written without an offset at a
    local time `naive_zone` has twice (the repeated hour of the last Sunday of October) or not at all (the skipped hour
    of March)."""
    moment = aware(value, naive_zone)
    if moment is None or moment.tzinfo is not naive_zone:  # (an offset written is a fixed `timezone`, never the zone)
        return moment
    other = moment.replace(fold=1 - moment.fold)
    return moment if moment.astimezone(UTC) == other.astimezone(UTC) else None


def aware(value: str | None, naive_zone: ZoneInfo) -> datetime | None:
    """An SS 12000 timestamp; one without a zone is read in `naive_zone` (said, not guessed)."""
    if value is None:
        return None
    parsed = timestamp(value)
    return parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=naive_zone)

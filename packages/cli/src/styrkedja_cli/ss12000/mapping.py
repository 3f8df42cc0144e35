"""SS 12000 entities → directory changes (organisation event data). Pure: no I/O.

The organisation tree. SS 12000 lets organisations nest to any depth under `parentOrganisation`
(organisationType Huvudman, Verksamhetsområde, Förvaltning, Rektorsområde, Skola, Skolenhet, Varumärke, Bolag,
Övrigt in SS 12000 2.1.0; Stadsdel of 2.0, deprecated but still served; servers add others,
e.g. Förvaltning, Verksamhetsområde); the directory has three levels, organiser → area → school unit:

* Huvudman → organiser (its id: a municipality's municipalityCode, else its organisationNumber;
  any other Huvudman's organisationNumber). An organisation above a Huvudman (a group of companies
  owning several) is no level of the directory: folded (said, not sent).
* Skolenhet → school unit (schoolUnitCode); without an organisationType, an organisation with a
  schoolUnitCode is a Skolenhet (Skolverket's reference API serves only those, without the type).
* The area of a school unit: of the organisations between it and its Huvudman, the topmost
  Verksamhetsområde or Stadsdel (the directory's area: a head of a verksamhetsområde is its area
  manager); without one, the topmost of any other type (Förvaltning, Rektorsområde, Varumärke, Bolag, Övrigt, a type
  the importer does not know), never a Skola (a school of several school units). It is sent as an
  area under the organiser; the other levels (a Förvaltning above a Verksamhetsområde, a
  Rektorsområde or a Skola below one) are folded: said in the summary, not sent. A level with no
  school unit below it yet is an area when it would be one for a school unit placed under it.
* A source without any Huvudman (Skolverket's reference API) is imported only with an organiser
  named for it (`--organiser`): then every organisation without a Huvudman above it is that
  organiser's; a source with a Huvudman and `--organiser` is refused (two answers to whose it is).
* One school unit code on two Skolenheter of an organiser (the source deleted and recreated one under
  a new id and still serves the old, or two units were given one code), and two groups of one
  school unit with one name and one period: each of them refused, said as possibly recreated —
  nothing of them sent, nothing held for them removed, until the source has one.

* Where a group or a duty not at a Skolenhet is (round 30; `_Placer`, docs/import.md): a group at the one Skolenhet
  its organisation resolves to through the tree (the nearest at or above it, else the only one below it; none or
  several: left out by design, its memberships and teaching with it); a duty at or below a Skolenhet at it, at a
  Rektorsområde or a Skola a principal's at every Skolenhet below (one duty of the directory each, `_duty_key`) and
  another role's at the one if there is one. An organisation below a Skolenhet is part of it, never an area.
* groups at a Skolenhet → groups (ids scoped by the school unit) and their memberships, but for
  staff groups (groupType Personalgrupp), which are left out; a group's year (årskurs) is the
  schoolYear of its members' enrolments at that school unit (of a schoolType counted in årskurs,
  `YEAR_SCHOOL_TYPES`: a gymnasium's year 2 is none) when more than half of the members with one
  agree (SS 12000 keeps the year on the enrolment, not the group), else the year of its activities' syllabuses when those all name one single year;
* duties at a Skolenhet → duties (one at another organisation: left out by design, `DUTY_ABOVE_UNITS`); activities
  of teaching (no activityType of `NOT_TEACHING`) × their groups (not a staff group) × their teachers' duties →
  teaching assignments, the subject from the activity's syllabus. An assignment is the group's: it is
  imported under the group's organiser and school unit, also when the teacher's duty is at another
  organiser's school unit (a municipality's teacher teaching a group of an independent school by
  agreement, mother tongue tuition run centrally): the group's Huvudman is responsible for its teaching,
  its results are read up the group's chain, and only that organiser's token writes it. The duty stays
  its own organiser's. Such assignments are counted per pair of organisers and said (`taught_across`).
* A person's securityMarking (Sekretessmarkering, Skyddad folkbokföring) is never read: a protected
  person's membership or duty is imported exactly as anyone's — the same pseudonymous id (the
  person's UUID), the same fields, no flag, nothing left out (a protected student missing from a
  roster would stand out by the difference, and be missing from the results). What the directory
  shows of any person is only that id; small groups are withheld on reading, as for all.

Every change is checked against the contract here: one that breaks it is refused with the
entity, its id and the rule — never with the offending value, which might be personal data.
"""

from __future__ import annotations

import functools
import re
from array import array
from bisect import bisect_right
from collections import Counter
from collections.abc import Callable, Collection, Iterable, Iterator, Mapping, MutableSequence, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any, TypeVar, cast
from uuid import UUID, uuid5
from zoneinfo import ZoneInfo

from pydantic import ValidationError

from styrkedja_contracts import (
    DutyUpsertedV1,
    GroupMembershipUpsertedV1,
    OrganisationUnitUpsertedV1,
    TeachingAssignmentUpsertedV1,
)
from styrkedja_contracts.envelope import MAX_AHEAD_OF_RECORD_MS
from styrkedja_contracts.identifiers import canonical_organiser_id, nfc, redact_personal_identity_numbers
from styrkedja_contracts.subjects import is_known_subject_code

from .models import (
    SCHOOL_ZONE,
    Activity,
    Duty,
    Enrolment,
    Group,
    Membership,
    Meta,
    Organisation,
    Person,
    Ref,
    Shared,
    Syllabus,
    aware,
    one_instant,
)

NS = UUID("0b5e1c2a-5512-4000-8000-000000012000")
ORGANISER = "huvudman"
SCHOOL_UNIT = "skolenhet"
# a kommunkod, or an organisation number in any spelling `canonical_organiser_id` reads (ten digits, with or
# without the hyphen, or twelve with the prefix 16)
_ORGANISER_ID = re.compile(r"^([0-9]{4}|(16)?[0-9]{6}-?[0-9]{4})$")
#: the rule a membership or a duty without its person breaks (SS 12000 does not require the person of either;
#: the directory's are a student's or a teacher's: without one there is nothing to import)
NO_PERSON = "person: missing (the specification allows leaving it out; the directory needs whose it is)"
#: SS 12000's groupType for "a group whose members are staff": the directory's memberships are students'
STAFF_GROUP = "personalgrupp"
STAFF_GROUP_RULE = "groupType: Personalgrupp (its members are staff; a group's members in the directory are students)"
#: the rule an activity's staff group breaks (a staff meeting, planning time: an activity of a Personalgrupp, which is
#: left out by design): no group of students is taught there, so no teaching assignment is made of it — by design,
#: not a fault of the source's (it was refused as "group … is not known", and every run so exited 3)
STAFF_GROUP_TAUGHT = ("groups[{n}]: group {group} is of groupType Personalgrupp (left out: its members are staff), so "
                      "no teaching assignment is made of it")
#: SS 12000's activity types that are no teaching (ActivityTypeEnum: Undervisning is; Elevaktivitet, a students' activity
#: such as a field day; Provaktivitet, an exam, invigilated by whoever is free; Läraraktivitet, a teacher's own, such
#: as planning), compared without case. An activity of one made a teaching assignment of each of its teachers for each
#: of its groups: an invigilator became a teacher of the group in the syllabus's subject — reading its results, and
#: listed by compliance as owing its forecasts. Left out by design, said. `Övrigt` (other) and a type the
#: specification lacks stay teaching, as an activity without a type does: a server labelling teaching so must not
#: lose it
NOT_TEACHING = frozenset(nfc(t).casefold() for t in ("Elevaktivitet", "Provaktivitet", "Läraraktivitet"))
NOT_TEACHING_RULE = ("activityType: {kind} (not Undervisning): no teaching assignment is made of it (its teachers do "
                     "not teach its groups)")
#: the rule a duty at an organisation of the source that is no Skolenhet breaks (central staff at the Huvudman or a
#: Förvaltning, a head of a Verksamhetsområde): the directory's duties are at school units; left out by design, not
#: refused (it was "not a known Skolenhet", and every run of a municipality's source so exited 3). A duty at an
#: organisation the source does not have stays refused
DUTY_ABOVE_UNITS = ("dutyAt: organisation {at} is of organisationType {kind}, no Skolenhet (the directory's duties "
                    "are at school units)")
#: the organisation types whose Skolenheter a duty there is at (a Rektorsområde: the school units one principal
#: leads; a Skola: a school of one or several school units): a principal's duty there is at every Skolenhet below it,
#: any other duty at the one Skolenhet if there is exactly one. Decided here: a Rektor of a Rektorsområde is the
#: principal of the Skolenheter in it (SS 12000's Rektorsområde is "the units one rektor is responsible for"); a duty
#: higher up (Huvudman, Förvaltning, Verksamhetsområde) names no school unit of its own and stays left out by design
SPREAD_KINDS = frozenset({"rektorsområde", "skola"})
#: the duty roles (compared as `DUTY_ROLES`) reporting reads as a unit's principal: the only ones placed at several
#: school units — least privilege, and the only roles whose duty gives a school unit's reads (a teacher's come from
#: its teaching assignments)
PRINCIPAL_ROLES = frozenset(nfc(r).casefold() for r in ("Rektor", "Biträdande rektor"))
#: the rules a group or a duty whose organisation resolves to no single Skolenhet breaks (by design, not a fault of
#: the source's: real servers hang groups on a Skola, a Klass or an Enhet; left out, said). Until round 30 every group
#: not at a Skolenhet itself was refused ("not a known Skolenhet"), every run exiting 3
GROUP_NOT_PLACED = ("organisation: organisation {at} is of organisationType {kind}, with {below} below it and none "
                    "above it: a group is at one school unit, and which is not known")
DUTY_NOT_PLACED = ("dutyAt: organisation {at} is of organisationType {kind}, with {below} below it and none above it: "
                   "a duty of role {role} is at one school unit (only a principal's is at each of them)")
#: the rule a group or a duty at an organisation /deletedEntities names (an incremental run: the school unit closed
#: at the source, its groups and duties not yet ended there) breaks: gone with it, by design. They were refused ("not
#: a known Skolenhet"), every incremental run exiting 3, and the principal's duty kept at the closed unit
ORGANISATION_DELETED = ("{field}: organisation {at} was deleted at the source (/deletedEntities): what is at it goes "
                        "with it")
#: what follows a group left out for its place (`GROUP_NOT_PLACED`): its memberships and its activities' teaching
GROUP_LEFT_OUT = "organisation: its group {group} is left out ({why})"
GROUP_LEFT_OUT_TAUGHT = "groups[{n}]: group {group} is left out ({why}), so no teaching assignment is made of it"
NOT_ONE_UNIT = "no single Skolenhet"
#: why a teaching assignment is not made of a group or a duty /deletedEntities names (an incremental run)
DELETED_AT_SOURCE = "deleted at the source (/deletedEntities)"
DUTY_DELETED_TAUGHT = ("teachers[{n}].duty: duty {duty} was " + DELETED_AT_SOURCE
                       + ", so no teaching assignment is made of it")
UNIT_DELETED = "its organisation deleted at the source"
#: SS 12000 2.1.0's GroupTypesEnum and DutyRole (with "Biträdande rektor", which servers add and the directory reads
#: as a principal), compared without case: a value outside them is imported as given and counted (`unknown_types`)
GROUP_TYPES = frozenset(nfc(t).casefold() for t in ("Undervisning", "Klass", "Mentor", "Provgrupp", "Schema", "Avdelning",
                                               "Personalgrupp", "Övrigt"))
DUTY_ROLES = frozenset(nfc(r).casefold() for r in (
    "Rektor", "Lärare", "Förskollärare", "Barnskötare", "Bibliotekarie", "Lärarassistent", "Fritidspedagog",
    "Annan personal", "Studie- och yrkesvägledare", "Förstelärare", "Kurator", "Skolsköterska", "Skolläkare",
    "Skolpsykolog", "Speciallärare/specialpedagog", "Skoladministratör", "Övrig arbetsledning",
    "Övrig pedagogisk personal", "Förskolechef", "Biträdande rektor"))
#: why what hangs under a refused school unit is not sent (the unit's id follows, never its content)
UNDER_REFUSED = "left out: its school unit was refused"
AREA_REFUSED = "left out: its area was refused"
GROUP_REFUSED = "left out: its group was refused"
ORGANISER_REFUSED = "left out: its Huvudman was refused"
#: why a group or a duty at an organisation refused (a loop, no Huvudman above it, no organisationType) is not sent: a
#: fault of the source's, so not left out by design (that removes what an earlier run made of it); kept as it was
ORGANISATION_REFUSED = "left out: its organisation was refused"
#: where the organiser id of any unit comes from: its Huvudman's municipalityCode or organisationNumber
ORGANISER_FIELDS = "municipalityCode, organisationNumber"
#: the contract's fields of a unit (organiser, area, school unit, group) → the SS 12000 fields they come from, as a
#: refusal names them (the operator mends the source, which has no `school_unit_code`)
UNIT_FIELDS = {"name": "displayName", "unit_id": "id", "school_unit_code": "schoolUnitCode",
               "parent_id": "parentOrganisation.id", "organiser_id": ORGANISER_FIELDS, "updated_at": "meta.modified",
               "unit_type": "organisationType"}
GROUP_FIELDS = {**UNIT_FIELDS, "school_unit_code": "organisation.schoolUnitCode", "parent_id": "organisation.id",
                "year": "groupMemberships.person.enrolments.schoolYear", "unit_type": "groupType",
                "start_date": "startDate", "end_date": "endDate"}
DUTY_FIELDS = {"duty_id": "id", "person_id": "person.id", "duty_role": "dutyRole",
               "school_unit_code": "dutyAt.schoolUnitCode", "start_date": "startDate", "end_date": "endDate",
               "organiser_id": ORGANISER_FIELDS, "updated_at": "meta.modified"}
#: every Swedish municipality's organisation number starts so (212000-NNNN)
_MUNICIPALITY_NUMBER = re.compile(r"^(16)?212000-?[0-9]{4}$")


@dataclass
class Refused:
    """An item not imported: its entity, its id and the rule. The id and the reason come from the
    source (a membership's id names its person): a personal identity number in them is redacted."""

    entity: str
    id: str
    reason: str
    #: the organisers it is of, where the organisation tree tells (`plan`), else none: --only-organiser leaves out
    #: another organiser's, whose refusals are not this import's to count (`keep_organisers`)
    organisers: tuple[str, ...] = field(default=(), compare=False)

    def __post_init__(self) -> None:
        self.id = redact_personal_identity_numbers(self.id)[0]
        self.reason = redact_personal_identity_numbers(self.reason)[0]


#: the fields whose every value is one change's own (an id made of what the change is of, `uuid5`): not held in a
#: plan's shared texts, where each was one entry more (some 56 bytes a membership) shared by nothing
UNSHARED = frozenset({"membership_id", "assignment_id"})


class _Block:
    """Consecutive changes of one type, source id and data keys (a group's memberships): held by column, a value the
    rows share once for all of them (`constant`), the others one list a column (`varying`: a pointer a row), and a
    change's own UUID (`membership_id`) as its 16 bytes in `ids`. A membership held as its own row cost 300 bytes of
    a 100 MB organiser's plan (the row's tuple, its id's text); so some 40. Values of one key are compared with ==:
    the contract gives a key one type (a validated model's dump), so no 1 is read back as True."""

    __slots__ = ("head", "constant", "varying", "ids", "count", "_same", "_kept", "_id_at")

    def __init__(self, head: tuple[Any, Any, tuple[str, ...]], values: tuple[Any, ...], id_at: int | None) -> None:
        self.head = head  # (type, source_id, keys)
        self.constant = list(values)
        self.varying: dict[int, list[Any]] = {}
        self.ids: bytearray | None = None
        self._id_at = id_at
        if id_at is not None:
            self.ids = bytearray(bytes.fromhex(values[id_at].replace("-", "")))
            self.constant[id_at] = None
        self.count = 1
        self._columns_changed()

    def _columns_changed(self) -> None:
        # the positions still constant, read at once (C speed) to compare a new row with them
        kept = [at for at in range(len(self.constant)) if at not in self.varying and at != self._id_at]
        self._kept = kept
        self._same = tuple(self.constant[at] for at in kept)

    def add(self, values: tuple[Any, ...]) -> None:
        if self.ids is not None:
            self.ids += bytes.fromhex(values[self._id_at].replace("-", ""))  # type: ignore[index]
        for at, column in self.varying.items():
            column.append(values[at])
        if tuple([values[at] for at in self._kept]) != self._same:
            for at in self._kept:
                if values[at] != self.constant[at]:
                    self.varying[at] = [self.constant[at]] * self.count + [values[at]]
            self._columns_changed()
        self.count += 1

    def rows(self, start: int, stop: int) -> Iterator[tuple[Any, ...]]:
        """The changes from `start` to `stop` (offsets in the block), each as a flat row."""
        varying = list(self.varying.items())
        id_at = self._id_at
        for offset in range(start, stop):
            values = self.constant.copy()
            for at, column in varying:
                values[at] = column[offset]
            if id_at is not None and self.ids is not None:
                digits = self.ids[16 * offset:16 * offset + 16].hex()
                values[id_at] = f"{digits[:8]}-{digits[8:12]}-{digits[12:16]}-{digits[16:20]}-{digits[20:]}"
            yield (*self.head, *values)

    def row(self, offset: int) -> tuple[Any, ...]:
        return next(self.rows(offset, offset + 1))


@functools.cache
def _own_id_at(keys: tuple[str, ...]) -> int | None:
    """Where among a change's data keys its own id is (`UNSHARED`), if it has one."""
    return next((n for n, key in enumerate(keys) if key in UNSHARED), None)


class Changes(MutableSequence[dict[str, Any]]):
    """One entity's changes of a plan, each `{type, data, source_id}` as sent, held compact and made a dict again when
    read. A change held as its dict cost some 1 KB (a membership: the dict, its data's dict and every value a text of
    its own), more than the compact items it was planned from; a list of dicts is what each reader gets (a chunk sent
    is `changes[start:end]`), a dict read is a copy (changing it changes nothing held).

    Held so: a change alone as one flat tuple (type, source_id, keys, *values; the data's keys one tuple shared by
    every change of that shape, equal texts one object per plan: `shared`); changes appended one after another of one
    type, source id and keys (a group's memberships) as a `_Block` by column. Anything but appending (a removal, an
    insertion: a plan's few organisation units) holds them all as tuples again first."""

    __slots__ = ("_rows", "_shared", "_ends")

    def __init__(self, changes: Iterable[dict[str, Any]] = (), shared: dict[Any, Any] | None = None) -> None:
        self._rows: list[tuple[Any, ...] | _Block] = []
        self._ends = array("q")  # how many changes the rows up to each hold
        self._shared: dict[Any, Any] = {} if shared is None else shared
        self.extend(changes)

    def _pack(self, change: dict[str, Any]) -> tuple[Any, ...]:
        # one flat tuple (type, source_id, keys, *values): a tuple of the values inside it cost 64 bytes a change more
        data = change["data"]
        keys = tuple(data)
        keys = self._shared.setdefault(("keys", keys), keys)
        return (change["type"], change.get("source_id"), keys,
                *(self._shared.setdefault(v, v) if isinstance(v, str) and k not in UNSHARED else v
                  for k, v in data.items()))

    @staticmethod
    def _unpack(row: tuple[Any, ...]) -> dict[str, Any]:
        return {"type": row[0], "data": dict(zip(row[2], row[3:], strict=True)), "source_id": row[1]}

    def _flat(self) -> list[tuple[Any, ...]]:
        return [r for held in self._rows for r in ((held,) if isinstance(held, tuple) else held.rows(0, held.count))]

    def _slice(self, start: int, stop: int) -> Iterator[tuple[Any, ...]]:
        """The rows from `start` to `stop` (a chunk sent), each block read from where the slice enters it."""
        at = bisect_right(self._ends, start)
        while start < stop and at < len(self._rows):
            held, begins = self._rows[at], self._ends[at - 1] if at else 0
            if isinstance(held, tuple):
                yield held
            else:
                yield from held.rows(start - begins, min(stop, self._ends[at]) - begins)
            start = self._ends[at]
            at += 1

    def _flatten(self) -> list[tuple[Any, ...]]:
        """Every change as its own tuple (before a change other than an append)."""
        flat = self._flat()
        self._rows = list(flat)
        self._ends = array("q", range(1, len(flat) + 1))
        return flat

    def append(self, value: dict[str, Any]) -> None:
        row = self._pack(value)
        last = self._rows[-1] if self._rows else None
        head = row[:3]
        if last is not None and row[1] is not None and (last.head if isinstance(last, _Block) else last[:3]) == head:
            id_at = _own_id_at(head[2])
            if id_at is not None and not _is_uuid(row[3 + id_at]):
                id_at = None
            if isinstance(last, _Block):
                if last._id_at == id_at:
                    last.add(row[3:])
                    self._ends[-1] += 1
                    return
            elif id_at is None or _is_uuid(last[3 + id_at]):
                block = _Block(head, last[3:], id_at)
                block.add(row[3:])
                self._rows[-1] = block
                self._ends[-1] += 1
                return
        self._rows.append(row)
        self._ends.append((self._ends[-1] if self._ends else 0) + 1)

    def _row(self, index: int) -> tuple[Any, ...]:
        if index < 0:
            index += len(self)
        if not 0 <= index < len(self):
            raise IndexError("Changes index out of range")
        at = bisect_right(self._ends, index)
        held = self._rows[at]
        return held if isinstance(held, tuple) else held.row(index - (self._ends[at - 1] if at else 0))

    def __iter__(self) -> Iterator[dict[str, Any]]:
        for row in self._slice(0, len(self)):
            yield self._unpack(row)

    def __getitem__(self, index: Any) -> Any:
        if isinstance(index, slice):
            start, stop, step = index.indices(len(self))
            if step == 1:
                return [self._unpack(row) for row in self._slice(start, stop)]
            return [self._unpack(self._row(n)) for n in range(start, stop, step)]
        return self._unpack(self._row(index))

    def __setitem__(self, index: Any, value: Any) -> None:
        rows = self._flatten()
        if isinstance(index, slice):
            rows[index] = [self._pack(v) for v in value]
        else:
            rows[index] = self._pack(value)
        self._rows, self._ends = list(rows), array("q", range(1, len(rows) + 1))

    def __delitem__(self, index: Any) -> None:
        rows = self._flatten()
        del rows[index]
        self._rows, self._ends = list(rows), array("q", range(1, len(rows) + 1))

    def __len__(self) -> int:
        return self._ends[-1] if self._ends else 0

    def insert(self, index: int, value: dict[str, Any]) -> None:
        rows = self._flatten()
        rows.insert(index, self._pack(value))
        self._rows, self._ends = list(rows), array("q", range(1, len(rows) + 1))

    def __eq__(self, other: object) -> bool:
        if isinstance(other, Changes):
            return [self._unpack(r) for r in self._flat()] == [other._unpack(r) for r in other._flat()]
        return isinstance(other, list) and list(self) == other

    __hash__ = None  # type: ignore[assignment]  # mutable, as a list

    def __add__(self, other: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
        return [*self, *other]

    def __radd__(self, other: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
        return [*other, *self]

    def __repr__(self) -> str:
        return repr(list(self))


#: a UUID's canonical text (what `str(UUID(...))` writes): a block's 16 bytes read as the same text
_CANONICAL_UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")


def _is_uuid(value: Any) -> bool:
    return isinstance(value, str) and _CANONICAL_UUID.fullmatch(value) is not None


#: the contract's patterns a source's value may break, in words (a refusal is read by the person mending the source)
PATTERNS_IN_WORDS = {"school_unit_code": "must be 8 digits, nothing else (Skolverket's skolenhetskod, e.g. 29990011)"}


def one_line_value(value: str) -> str:
    """A value of the source's as a note quotes it: on one line, as every note, and at most 40 characters."""
    return "".join(c if c.isprintable() else " " for c in value.strip()[:40])


@dataclass
class Plan:
    """What to send: per entity type, the changes ({type, data, source_id}; held compact, `Changes`)."""

    changes: dict[str, Changes] = field(default_factory=dict)
    refused: list[Refused] = field(default_factory=list)
    #: organisations that are no level of the directory (see the module's docstring): said, not sent, not counted
    #: as refused; what an earlier import made of them goes in a full import
    folded: list[Refused] = field(default_factory=list)
    #: of `refused`, those that look deleted and recreated under a new id (said apart in the summary)
    recreated: list[Refused] = field(default_factory=list)
    #: per date field, how many of its dates the source wrote as a date-time (`models.source_date`)
    dates_from_date_times: dict[str, int] = field(default_factory=dict)
    #: per model and field, how many dates outside the directory's years were read as none (`models.FIRST_DAY`)
    dates_read_as_none: dict[str, int] = field(default_factory=dict)
    #: refused by a rule of what the directory holds, not for a fault of this run: unlike `refused`, what came
    #: from them before is not kept by a full import (a refusal must not read as a deletion; this one is one)
    left_out: list[Refused] = field(default_factory=list)
    #: what hangs under a school unit refused this run (its groups, their memberships and teaching assignments, its
    #: duties), and a school unit under an area refused for its content (with all that hangs under it): not sent
    #: under the refused unit's id, and, as for the unit itself, what came from them before is kept
    under_refused: list[Refused] = field(default_factory=list)
    #: groups served without `groupMemberships` (optional in the specification; a server may serve memberships only
    #: on persons, `expand=groupMemberships`): their members are unknown, not none — what reporting holds for them
    #: is neither sent nor removed
    members_unknown: set[str] = field(default_factory=set)
    #: of them, those the summary counts (--only-organiser's, `keep_organisers`); None: all
    members_unknown_said: set[str] | None = None
    #: per group that states its own `groupMemberships`, how many memberships persons state otherwise (one that the
    #: group does not list, or lists with other dates): the group's list was imported (`members_of`)
    membership_conflicts: dict[str, int] = field(default_factory=dict)
    #: memberships persons state of groups the source did not serve (or an incremental run did not read): not read
    memberships_of_unserved_groups: int = 0
    #: ids of one entity differing only in case, each "<entity> <id>, <id>" (imported as given: `_case_apart`)
    case_apart: list[str] = field(default_factory=list)
    #: subject codes of Skolverket's shape that are not on the shipped list (`styrkedja_contracts.subjects`), and how
    #: many teaching assignments carry each: kept (the list is versioned data, a source may be newer), said
    unknown_subjects: Counter[str] = field(default_factory=Counter)
    #: enrolments' schoolType values that are not SS 12000's, and how many enrolments have each: no year read of them
    unmapped_school_types: Counter[str] = field(default_factory=Counter)
    #: teaching assignments whose teacher's duty is at another organiser's school unit than the group, per (the
    #: group's organiser, the duty's): imported under the group's organiser (see the module's docstring)
    taught_across: Counter[tuple[str, str]] = field(default_factory=Counter)
    #: per field ("groups.groupType", "duties.dutyRole"), the values sent that are not SS 12000's and how many items
    #: had each: a group type a server adds is a group of students to the directory, a duty role is kept as given
    unknown_types: dict[str, Counter[str]] = field(default_factory=dict)
    #: every school unit code the source's Skolenheter have, sent or refused: a group reporting holds under a code
    #: none has is under a school unit the source no longer has (said by an incremental run, which removes only what
    #: /deletedEntities names)
    unit_codes: set[str] = field(default_factory=set)
    #: per class (a group of type Klass), how many of its students are in another class at the same time (said)
    in_two_classes: dict[str, int] = field(default_factory=dict)
    #: per organiser the import was not asked to write (`keep_organisers`, --only-organiser), per entity, how many
    #: changes of its were left out: another organiser's school units a municipality's source holds (an independent
    #: school's), which a token for the municipality may not write
    other_organisers: dict[str, Counter[str]] = field(default_factory=dict)
    #: ids /deletedEntities named that no entity can have (no `SourceId`): not sent as removals (said)
    deleted_not_ids: int = 0
    #: per entity, the ids the source still listed that /deletedEntities named too (an incremental run): taken as
    #: deleted, not sent (`plan`: deleted wins), said
    listed_deleted: dict[str, list[str]] = field(default_factory=dict)
    #: persons the source still served that /deletedEntities named (their ids not said), and the memberships of them a
    #: list still stated: not read, not sent (deleted wins)
    persons_listed_deleted: int = 0
    memberships_listed_deleted: int = 0
    #: the ids of the memberships refused this run (`membership_id`s, as a sent one's would be): what reporting holds
    #: of each is kept, as of any refused item — but a refused membership no longer holds its whole group back, whose
    #: list is the whole of its members (`moves.kept_back`: a student dropped from it goes)
    refused_memberships: set[str] = field(default_factory=set)
    #: per group, the (person, startDate) of its entries refused as stated twice with two ends (`_once_each`): their
    #: ids are known once the group's start is (`refused_memberships`)
    clashed: dict[str, list[tuple[str, Any]]] = field(default_factory=dict, repr=False, compare=False)
    #: of an incremental run, the source ids reporting holds under an organiser the source no longer places them
    #: under → the organisers they are sent under now (`moves.crossed`): what the old one holds of them is removed
    crossed: dict[str, frozenset[str]] = field(default_factory=dict)
    #: whose the counts above are, for --only-organiser to count only what it imports (`keep_organisers`): a group's
    #: organiser by the tree (`_whose`; none known: the import's, as for a refusal), and the unknown values and
    #: subject codes per organiser they were sent under
    group_organisers: dict[str, str | None] = field(default_factory=dict, repr=False, compare=False)
    unknown_at: Counter[tuple[str, str, str]] = field(default_factory=Counter, repr=False, compare=False)
    subjects_at: Counter[tuple[str, str]] = field(default_factory=Counter, repr=False, compare=False)
    #: the import's clock: a change dated further after it than the consumer takes (`MAX_AHEAD_OF_RECORD_MS`) is
    #: refused on its own (`add`), as reporting's door refuses it (a 422 for the whole batch, round 28t)
    now: datetime | None = None
    #: the texts and data key tuples the plan's changes hold alike, held once (`Changes`)
    _shared: dict[Any, Any] = field(default_factory=dict, repr=False, compare=False)

    def unknown(self, field_name: str, value: str, organiser: str) -> None:
        said = one_line_value(value)
        self.unknown_types.setdefault(field_name, Counter())[said] += 1
        self.unknown_at[(field_name, said, organiser)] += 1

    def add(self, entity: str, model: Any, data: dict[str, Any], source_id: str | None, ident: str,
            fields: dict[str, str] | None = None) -> bool:
        """The change if it keeps the contract (True), else refused naming the field and the rule (False). The field
        is named as the source has it, so that it can be mended there: `fields` maps the contract's field names to
        the SS 12000 item's field paths (`school_unit_code` → `schoolUnitCode`); a field it does not name is said as
        the contract has it."""
        try:
            valid = model.model_validate(data)
        except ValidationError as error:
            first = error.errors()[0]
            loc = [str(p) for p in first["loc"]]
            source_field = (fields or {}).get(loc[0]) if loc else None
            where = ".".join([source_field, *loc[1:]] if source_field else loc) or "data"
            rule = first["msg"]
            if first["type"] == "string_pattern_mismatch" and loc and loc[0] in PATTERNS_IN_WORDS:
                rule = PATTERNS_IN_WORDS[loc[0]]  # pydantic quotes the regex ("should match pattern '^\d{8}$'")
            if not loc:  # a rule of the whole item (an end before its start): named by the source's fields it is of
                # the contract's `Broken` carries the field and its words (`end_date`, `must not be before …`)
                said = first.get("ctx") or {}
                if isinstance(said.get("field"), str) and isinstance(said.get("words"), str):
                    rule = f"{said['field']} {said['words']}"
                where, rule = _rule_of_fields(rule, fields or {})
            self.refused.append(Refused(entity, ident, f"{where}: {rule}"))
            return False
        at = getattr(valid, "updated_at", None)
        if self.now is not None and at is not None and at > self.now + timedelta(milliseconds=MAX_AHEAD_OF_RECORD_MS):
            # the source's clock is wrong: the directory keeps the newest change, so one dated ahead would hide every
            # later change until then (reporting's door refuses it, and with it the batch it is in)
            where = (fields or {}).get("updated_at", "updated_at")
            self.refused.append(Refused(entity, ident, f"{where}: lies in the future ({at.isoformat()})"))
            return False
        if entity not in self.changes:
            self.changes[entity] = Changes(shared=self._shared)
        self.changes[entity].append(
            {"type": model.event_type, "data": valid.model_dump(mode="json"), "source_id": source_id})
        return True


#: the group type a student is in one of at a time (SS 12000's `Klass`); in teaching groups (`Undervisning`) a
#: student is in many at once
CLASS = "klass"


def _in_two_classes(memberships: Sequence[dict[str, Any]], classes: set[str]) -> dict[str, int]:
    """Per class (a group of type Klass), how many of its students are in another class at the same time (their
    memberships' dates overlapping; no end is open): imported as given, said — a source's mistake (a move between
    classes without the old membership's end) counts the student in both classes."""
    per_student: dict[tuple[str, str], list[tuple[str, str, str]]] = {}
    for change in memberships:
        data = change["data"]
        if data["group_id"] in classes:
            per_student.setdefault((data["organiser_id"], data["student_id"]), []).append(
                (data["start_date"] or "", data["end_date"] or "9999-12-31", data["group_id"]))
    out: Counter[str] = Counter()
    for spans in per_student.values():
        both = {group for start, end, group in spans for other_start, other_end, other in spans
                if other != group and start <= other_end and other_start <= end}
        out.update(both)
    return dict(sorted(out.items()))


def _rule_of_fields(rule: str, fields: dict[str, str]) -> tuple[str, str]:
    """A rule of a whole item ("Value error, end_date must not be before start_date") as the source's fields have it:
    the field it begins with as where (`endDate`), the others in it by their source paths (`must not be before
    startDate`); ("data", rule) when it names none."""
    text = rule.removeprefix("Value error, ")
    named = sorted((m.start(), name) for name in fields if (m := re.search(rf"\b{re.escape(name)}\b", text)))
    if not named:
        return "data", rule
    lead = named[0][1]
    if text.startswith(lead):
        text = text.removeprefix(lead).strip()
    for _, name in named:
        text = re.sub(rf"\b{re.escape(name)}\b", fields[name].replace("\\", "\\\\"), text)
    return fields[lead], text


def _kind(org: Organisation) -> str:
    if org.organisation_type is None or not org.organisation_type.strip():
        return SCHOOL_UNIT if (org.school_unit_code or "").strip() else ""
    # in NFC first, as every name: "Verksamhetsområde" with its å as "a" and a combining ring (a Mac's, a pasted
    # text's) was a type the importer does not know, and the Förvaltning above it became the school units' area
    return nfc(org.organisation_type).strip().casefold()


#: the organisation types that are the directory's area where a chain holds one (DESIGN: verksamhetsområde ↔ area;
#: a city district's committee runs its schools as one); a Skola (a school of several school units) never is one
AREA_KINDS = frozenset({"verksamhetsområde", "stadsdel"})
NO_TYPE = "organisationType: missing (required by the specification; without a schoolUnitCode its kind is unknown)"
NO_ORGANISER = ("organisations: none is of organisationType Huvudman, so whose the units are is unknown (Skolverket's "
                "reference API has none): name the organiser with --organiser")
HUVUDMAN_DELETED = ("organisations: every Huvudman the source lists ({ids}) is named by /deletedEntities too, and what "
                    "hangs under it is still listed: deleted wins, so whose the units are is unknown; nothing was "
                    "sent — once the server's lists no longer hold it (or it is no longer named), run again")
#: the rule a source breaks whose organisations read hold no Huvudman while some were refused as they were read (session
#: 34): the Huvudman may be among them — it was said to have none, and told to name one with --organiser
HUVUDMAN_UNREAD = ("organisations: none read is of organisationType Huvudman, and organisations were refused as they "
                   "were read ({count}; the first: {first}): whose the units are is unknown until they are mended at "
                   "the source; nothing was sent")
TWO_ORGANISERS = ("--organiser: the source has its own Huvudman (organisationType Huvudman), whose the units are is "
                  "taken from it: leave --organiser out")


class NoOrganiser(ValueError):
    """The source does not say whose its units are, or says it besides `--organiser`: the rule, for the command."""


def _person(member: Any) -> str:
    return member.person.id if member.person else "(no person)"


def _period(start: Any, end: Any) -> str:
    return f"{start or 'open'}..{end or 'open'}"


YEARS = range(10)  # the contract's årskurs 0–9; SS 12000 allows 10 (e.g. year 4 of gymnasiesärskola)
#: the school types (SS 12000's SchoolTypesEnum) whose schoolYear is the compulsory school's årskurs, the directory's
#: year: förskoleklass (0), grundskola, anpassad grundskola and its träningsskola, specialskola, sameskola. Any other
#: (gymnasieskola's year 2 is no årskurs 2; adult education, fritidshem, förskola…) gives a group no year
YEAR_SCHOOL_TYPES = frozenset({"FKLASS", "GR", "GRS", "TR", "SP", "SAM"})
#: the rest of SS 12000 2.1.0's SchoolTypesEnum: known, and no årskurs
OTHER_SCHOOL_TYPES = frozenset({"FS", "FTH", "OPPFTH", "GY", "GYS", "VUX", "VUXSFI", "VUXGR", "VUXGY", "VUXSARGR",
                                "VUXSARTR", "VUXSARGY", "SFI", "SARVUX", "SARVUXGR", "SARVUXGY", "KU", "YH", "FHS",
                                "STF", "KKU", "HS", "ABU", "AU"})


def group_years(groups: Sequence[Group], persons: Sequence[Person], activities: Sequence[Activity],
                syllabuses: Sequence[Syllabus], members: dict[str, list[Member]] | None = None,
                unmapped: Counter[str] | None = None, at: dict[str, str] | None = None) -> dict[str, int]:
    """The year of each group it can be told for (see the module's docstring); `members`: each group's memberships
    wherever they were stated (`members_of`), else the group's own. Only an enrolment of a school type counted in
    årskurs gives a year (`YEAR_SCHOOL_TYPES`; one without a schoolType as well, as servers leave it out); one of a
    type that is not SS 12000's gives none, counted in `unmapped` (per value). `at`: group id → the Skolenhet it is
    placed at, where that is not its organisation (a group on a Klass: its members are enroled at the Skolenhet)."""
    enrolments: dict[str, list[Enrolment]] = {}
    for person in persons:
        kept = enrolments.setdefault(person.id, [])
        for enrolment in person.enrolments:
            kind = (enrolment.school_type or "").strip().upper()
            if not kind or kind in YEAR_SCHOOL_TYPES:
                kept.append(enrolment)
            elif kind not in OTHER_SCHOOL_TYPES and unmapped is not None:
                unmapped[(enrolment.school_type or "").strip()[:40]] += 1
    out: dict[str, int] = {}
    for group in groups:
        unit = (at or {}).get(group.id, group.organisation.id)
        votes: Counter[int] = Counter()
        stated = [m.membership for m in members[group.id]] if members is not None and group.id in members \
            else group.memberships
        for member in stated:
            if member.person is None:
                continue
            on = member.start_date or group.start_date
            years = {e.school_year for e in enrolments.get(member.person.id, ())
                     if e.enroled_at.id == unit and not e.cancelled and e.school_year is not None
                     and (on is None or ((e.start_date is None or e.start_date <= on)
                                         and (e.end_date is None or e.end_date >= on)))}
            if len(years) == 1:
                votes[years.pop()] += 1
        if votes:
            year, count = votes.most_common(1)[0]
            if count * 2 > sum(votes.values()) and year in YEARS:
                out[group.id] = year
    single = {s.id: s.start_school_year for s in syllabuses
              if s.start_school_year is not None and s.start_school_year == s.end_school_year}
    by_group: dict[str, set[int | None]] = {}
    for activity in activities:
        taught = single.get(activity.syllabus.id) if activity.syllabus else None
        for ref in activity.groups:
            by_group.setdefault(ref.id, set()).add(taught)
    for gid, taught_years in by_group.items():
        only = next(iter(taught_years)) if len(taught_years) == 1 else None
        if gid not in out and only is not None and only in YEARS:
            out[gid] = only
    return out


#: why a Huvudman of an organiser id another Huvudman of the source is sent as is not sent itself (folded, said)
SAME_ORGANISER = ("organisationType Huvudman: another Huvudman of organiser id {oid} is sent as it ({sent}): the "
                  "directory has one organiser of one id")
#: the rules an organisation without an organiser above it breaks (each reason begins with the field it is about)
NO_HUVUDMAN = "parentOrganisation: no Huvudman above it"
NO_ORGANISER_ID = ("organisationNumber: its Huvudman has no municipalityCode or organisationNumber (the organiser's "
                   "id)")
#: the rules a Huvudman's id breaks when it has one but not of the shape the directory knows organisers by (it was
#: said as none: "has no municipalityCode", of a Huvudman with "180", a kommunkod whose leading zero a server storing
#: it as a number lost — some 60 of Sweden's 290 begin with 0). Never the value (a sole trader's number is a person's)
BAD_MUNICIPALITY_CODE = ("municipalityCode: {whose} is no kommunkod (four digits, SCB's: 0180; a leading zero lost?), "
                         "and no organisationNumber of ten digits (NNNNNN-NNNN) to know the organiser by")
BAD_ORGANISATION_NUMBER = ("organisationNumber: {whose} is no organisation number (ten digits, NNNNNN-NNNN, or twelve "
                           "with 16 before them), and no municipalityCode to know the organiser by")


def _no_organiser_id(owner: Organisation | None, *, own: bool) -> str:
    """Why `owner` (a Huvudman) gives no organiser id: its fields named, as the source has them (`own`: said of the
    Huvudman itself, else of an organisation under it)."""
    whose = "this Huvudman's" if own else "its Huvudman's"
    if owner is not None and (owner.municipality_code or "").strip():
        return BAD_MUNICIPALITY_CODE.format(whose=whose)
    if owner is not None and (owner.organisation_number or "").strip():
        return BAD_ORGANISATION_NUMBER.format(whose=whose)
    return NO_ORGANISER_ID
#: the rule an organisation on a parentOrganisation loop without a Huvudman on it breaks
LOOP = ("parentOrganisation: a loop of {count} organisation(s) without a Huvudman (each its own ancestor): no place "
        "in the tree")


@dataclass(frozen=True)
class _Place:
    owner: Organisation | None  # the nearest Huvudman at or above
    area: str | None  # the topmost Verksamhetsområde or Stadsdel between here and the Huvudman (`area_at`)
    level: str | None  # else the topmost level there that can be an area
    #: at or below a Skolenhet: what is below it (a Klass, an Enhet) is part of the school unit, never an area
    in_unit: bool = False


_NOWHERE = _Place(None, None, None)


class _Tree:
    """The organisation tree, each organisation's Huvudman and area read once: time linear in the number of
    organisations however deep the tree (a walk up from each one was quadratic, and its loop check cubic: 1,000
    organisations on a loop took 19 s of CPU, 5,000 about 40 minutes). An organisation on a parentOrganisation
    loop without a Huvudman on it is `looped` (refused); what hangs under the loop has no Huvudman above it."""

    def __init__(self, orgs: dict[str, Organisation]) -> None:
        self.orgs = orgs
        self.looped: dict[str, int] = {}  # id → how many organisations its loop has
        self.places: dict[str, _Place] = {}
        for org in orgs.values():
            self._resolve(org)

    def parent(self, org: Organisation) -> Organisation | None:
        return self.orgs.get(org.parent.id) if org.parent and org.parent.id != org.id else None

    def _resolve(self, org: Organisation) -> None:
        """`org`'s place, and that of every organisation on the way up to one whose place is known."""
        path: list[Organisation] = []
        on_path: dict[str, int] = {}
        current: Organisation | None = org
        above = _NOWHERE
        while current is not None:
            if current.id in self.places:
                above = self.places[current.id]
                break
            if current.id in on_path:  # back on this walk: a loop, with no Huvudman on it (the walk stops at one)
                loop = path[on_path[current.id]:]
                for member in loop:
                    self.looped[member.id] = len(loop)
                break
            on_path[current.id] = len(path)
            path.append(current)
            if _kind(current) == ORGANISER:  # the top of the directory: what is above it is no part of its chain
                break
            current = self.orgs.get(current.parent.id) if current.parent else None
        for member in reversed(path):
            kind = _kind(member)
            if member.id in self.looped:
                place = _NOWHERE
            elif kind == ORGANISER:
                place = _Place(member, None, None)
            elif above.in_unit:
                # below a school unit (a Klass, an Enhet, a Skolenhet below a Skolenhet): no area of its own. A Klass
                # below a Skolenhet was sent as an area of the organiser, a school unit below it placed in that area
                place = _Place(above.owner, above.area, above.level, in_unit=True)
            else:
                place = _Place(above.owner, above.area or (member.id if kind in AREA_KINDS else None),
                               above.level or (member.id if kind not in ("skola", SCHOOL_UNIT) else None),
                               in_unit=kind == SCHOOL_UNIT)
            self.places[member.id] = above = place

    def above(self, starts: Sequence[Organisation]) -> set[str]:
        """The ids of every organisation above any of `starts` (each walked only as far as one walked before)."""
        out: set[str] = set()
        for start in starts:
            current = self.parent(start)
            while current is not None and current.id not in out:
                out.add(current.id)
                current = self.parent(current)
        return out


class _Placer:
    """The Skolenheter an organisation that is no Skolenhet stands for: the nearest Skolenhet at or above it (a Klass,
    an Enhet, an Annan below a school unit; a Skolenhet below a Skolenhet is its own), else those below it (a Skola, a
    Rektorsområde, any level above the school units). Read once for all, top-down and back up the tree: time linear in
    the number of organisations however deep the tree (as `_Tree`); a Huvudman is a top (nothing above it is walked),
    and what hangs on a parentOrganisation loop has no Skolenhet above or below it."""

    #: how many of the Skolenheter below an organisation are kept to name (`some`); the rest only counted
    NAMED = 3

    def __init__(self, tree: _Tree, organisations: Sequence[Organisation]) -> None:
        self.children: dict[str, list[Organisation]] = {}
        tops: list[Organisation] = []
        for org in organisations:
            parent = tree.parent(org) if _kind(org) != ORGANISER else None
            if parent is None:
                tops.append(org)
            else:
                self.children.setdefault(parent.id, []).append(org)
        self.nearest: dict[str, Organisation | None] = {}  # id → the Skolenhet at or above it
        self.count: Counter[str] = Counter()  # id → how many Skolenheter are below it
        self.some: dict[str, list[Organisation]] = {}  # id → the first `NAMED` of them
        order: list[tuple[Organisation, str | None]] = []  # each with its parent's id, parents first
        stack: list[tuple[Organisation, Organisation | None, str | None]] = [(t, None, None) for t in reversed(tops)]
        while stack:
            org, above, parent_id = stack.pop()
            if org.id in self.nearest:
                continue
            here = org if _kind(org) == SCHOOL_UNIT else above
            self.nearest[org.id] = here
            order.append((org, parent_id))
            stack += [(child, here, org.id) for child in reversed(self.children.get(org.id, ()))]
        for org, parent_id in reversed(order):  # children before their parent
            if parent_id is None:
                continue
            own = [org] if _kind(org) == SCHOOL_UNIT else []
            self.count[parent_id] += len(own) + self.count[org.id]
            # (children come last to first here: each put before those of its later siblings, the first kept)
            self.some[parent_id] = (own + self.some.get(org.id, []) + self.some.get(parent_id, []))[:self.NAMED]

    def above(self, org: Organisation) -> Organisation | None:
        """The nearest Skolenhet at or above `org`, below its Huvudman."""
        return self.nearest.get(org.id)

    def every_below(self, org: Organisation) -> list[Organisation]:
        """Every Skolenhet below `org` (its subtree walked: asked only of a principal's organisation)."""
        out: list[Organisation] = []
        stack = list(reversed(self.children.get(org.id, ())))
        while stack:
            current = stack.pop()
            if _kind(current) == SCHOOL_UNIT:
                out.append(current)
            if _kind(current) != ORGANISER:
                stack += reversed(self.children.get(current.id, ()))
        return out

    def said_below(self, org: Organisation) -> str:
        """The Skolenheter below `org` said by their count and first ids: "no Skolenhet", "2 Skolenheter (a, b)"."""
        count, named = self.count[org.id], self.some.get(org.id, [])
        if not count:
            return "no Skolenhet"
        ids = ", ".join(u.id for u in named) + (", …" if count > len(named) else "")
        return f"{count} Skolenhet{'er' if count > 1 else ''} ({ids})"


def _duty_key(duty_id: str, code: str) -> str:
    """The directory's id of a duty placed at one of several school units: the source's id and the unit's code
    (readable, and stable as long as the duty and the unit are), else — too long for the contract's 64 characters —
    a UUID of them."""
    key = f"{duty_id}:{code}"
    return key if len(key) <= 64 else str(uuid5(NS, key))


@dataclass(frozen=True, slots=True)
class Member:
    """A membership and where the source states it: the path of its entry (`groupMemberships[3]` on its group,
    `_embedded.groupMemberships[0]` on its person), which a refusal names — made of the list's path and the entry's
    index when asked: one Member is made a membership of a source (686,415 of a 100 MB organiser), and with a
    dict and its path's text each they held 118 MB while it was planned."""

    membership: Membership
    list_path: str
    index: int

    @property
    def path(self) -> str:
        return f"{self.list_path}[{self.index}]"


#: the rule a membership stated twice with other dates breaks (two entries of one group, person and start)
TWICE = "{path}: stated again at {other} with another endDate (one group, person and startDate): neither is imported"


def members_of(groups: Sequence[Group], persons: Sequence[Person], out: Plan,
               persons_deleted: Collection[str] = (), *, persons_unread: bool = False) -> dict[str, list[Member]]:
    """Each group's memberships, wherever the specification lets a server state them: on the group
    (`groupMemberships`) or on its persons (`_embedded.groupMemberships` as `/persons?expand=groupMemberships`
    gives them, or `groupMemberships` on the person). The rule where they differ: **the most specific whole list
    wins** — a group's own list is the whole of its members, so a group that has the field takes its memberships
    from it alone, and what persons state otherwise of it is counted (`membership_conflicts`), not imported; a
    group without the field takes them from every person who states any (a person's `_embedded` before its bare
    field). Its members are known only when every person served states a list (else `members_unknown`: what
    reporting holds for it is neither sent nor removed). One entry of a group, person and start is one membership:
    stated again alike it is read once, with another end both are refused (`TWICE`). A person's membership without
    its group is refused naming the person; one of a group not served is not read (counted). A person
    /deletedEntities names (`persons_deleted`) is a member of none, whatever a list still states (`plan`: deleted
    wins; counted in `out.listed_deleted`, its id not said). `persons_unread`: a person, or a membership it states, was
    refused as it was read: no group's members are known from persons (`members_unknown`)."""
    if persons_deleted:
        served = len(persons)
        persons = [p for p in persons if p.id not in persons_deleted]
        if len(persons) < served:
            out.persons_listed_deleted += served - len(persons)
    groups_by_id = {g.id: g for g in groups}
    held = Shared()  # a person's Ref once however many groups it is in
    stated = {p.id: p.stated_memberships() for p in persons}
    every_person_states = bool(persons) and not persons_unread and all(lists is not None for lists in stated.values())
    from_persons: dict[str, list[Member]] = {}
    for person in persons:
        lists = stated[person.id]
        if lists is None:
            continue
        path, entries = lists
        for n, entry in enumerate(entries):
            if entry.group is None:
                out.refused.append(Refused("persons", person.id, f"{path}[{n}].group: missing (the specification "
                                                                 "allows leaving it out; a membership is of a group)"))
                continue
            if entry.group.id not in groups_by_id:
                out.memberships_of_unserved_groups += 1
                continue
            # held compact, as a group's own entries are (its values validated already, on the person): as a
            # pydantic model each cost some 1 KB (its dict, its fields' set, its Ref's), 100 MB for a municipality's
            # 100,000 memberships served only on persons, against some 70 bytes for those served on their groups
            given: dict[str, Any] = {"person": Ref.model_construct(id=person.id), "start_date": entry.start_date,
                                     "end_date": entry.end_date}
            # (a compact item reads as its model, as every item read from a page does)
            membership = cast(Membership, held.compact(Membership.model_construct(
                **{k: v for k, v in given.items() if v is not None})))
            from_persons.setdefault(entry.group.id, []).append(Member(membership, path, n))
    stating = {pid for pid, lists in stated.items() if lists is not None}
    out_members: dict[str, list[Member]] = {}
    for group in groups:
        if "memberships" in group.model_fields_set:
            own = [Member(m, "groupMemberships", n) for n, m in enumerate(group.memberships)]
            if stating:
                # what persons state otherwise: an entry the group does not list (or lists with other dates), and an
                # entry of the group's that a person stating its own list lacks
                listed = {_said_membership(m.membership) for m in own}
                theirs = from_persons.get(group.id, [])
                confirmed = {_said_membership(m.membership) for m in theirs}
                differing = sum(_said_membership(m.membership) not in listed for m in theirs) + sum(
                    m.membership.person is not None and m.membership.person.id in stating
                    and _said_membership(m.membership) not in confirmed for m in own)
                if differing:
                    out.membership_conflicts[group.id] = differing
            chosen = own
        else:
            chosen = from_persons.get(group.id, [])
            if not every_person_states:
                out.members_unknown.add(group.id)
        if persons_deleted:
            stated_of = len(chosen)
            chosen = [m for m in chosen if m.membership.person is None or m.membership.person.id not in persons_deleted]
            out.memberships_listed_deleted += stated_of - len(chosen)
        out_members[group.id] = _once_each(group.id, chosen, out)
    return out_members


def _said_membership(membership: Membership) -> tuple[str | None, Any, Any]:
    return (membership.person.id if membership.person else None, membership.start_date, membership.end_date)


def _membership_start(group: Group, start_date: date | None, naive_zone: ZoneInfo) -> date | None:
    """A membership's start: its own, else its group's. Skolverket's reference API has neither: then the day the
    group came into the source (stable from run to run, unlike the import day): its day in Sweden, as every date-time
    read as a date (`models.SCHOOL_ZONE`) — `naive_zone` says only how a timestamp without an offset is written
    (--naive-timezone UTC made 23:30Z on the 16th the 16th)."""
    created = aware(group.meta.created, naive_zone) if group.meta else None
    return start_date or group.start_date or (created.astimezone(SCHOOL_ZONE).date() if created else None)


def _membership_id(group: Group, person_id: str, start_date: date | None, naive_zone: ZoneInfo) -> str:
    """A membership's id (`membership_id`): of its group, its person and its start, the same every run."""
    return str(uuid5(NS, f"{group.id}/{person_id}/{_membership_start(group, start_date, naive_zone)}"))


def _once_each(group_id: str, members: list[Member], out: Plan) -> list[Member]:
    """`members` with an entry stated again alike read once, and one stated again with another end refused (both)."""
    first: dict[tuple[str, Any], Member] = {}
    clashing: set[tuple[str, Any]] = set()
    kept: list[Member] = []
    for member in members:
        if member.membership.person is None:
            kept.append(member)
            continue
        key = (member.membership.person.id, member.membership.start_date)
        before = first.get(key)
        if before is None:
            first[key] = member
            kept.append(member)
        elif before.membership.end_date != member.membership.end_date and key not in clashing:
            clashing.add(key)
            out.clashed.setdefault(group_id, []).append(key)
            out.refused.append(Refused("memberships", f"{group_id}/{key[0]}",
                                       TWICE.format(path=before.path, other=member.path)))
    return [m for m in kept if m.membership.person is None
            or (m.membership.person.id, m.membership.start_date) not in clashing]


S = TypeVar("S", Organisation, Group, Duty, Activity)


def _case_apart(out: Plan, entity: str, items: Sequence[S]) -> Sequence[S]:
    """Ids of one entity that differ only in case (`G1`, `g1`; a UUID is read in one case already): imported as the
    ids they are (an id that is no UUID is exact, docs/import.md), and said (`Plan.case_apart`), for a source
    comparing ids without case — as many databases do — means one entity by them."""
    spellings: dict[str, set[str]] = {}
    for item in items:
        spellings.setdefault(item.id.casefold(), set()).add(item.id)
    out.case_apart += [f"{entity} {', '.join(sorted(same))}" for same in spellings.values() if len(same) > 1]
    return items


def _recreated(field_name: str, what: str, ids: list[str], this: str) -> str:
    others = ", ".join(i for i in ids if i != this)
    return (f"{field_name}: the same as on {others} ({len(ids)} {what} in one place: deleted and recreated under a "
            "new id? the directory holds one; nothing of them is sent or removed until the source has one)")


def _not_deleted(out: Plan, entity: str, items: Sequence[S], deleted: Collection[str]) -> Sequence[S]:
    """`items` without those /deletedEntities names (`plan`: deleted wins), those counted in `out.listed_deleted`."""
    if not deleted:
        return items
    kept = [item for item in items if item.id not in deleted]
    if len(kept) < len(items):
        out.listed_deleted[entity] = sorted({item.id for item in items} & set(deleted))
    return kept


def plan(organisations: Sequence[Organisation], groups: Sequence[Group], duties: Sequence[Duty],
         activities: Sequence[Activity], syllabuses: Sequence[Syllabus], *, naive_zone: ZoneInfo,
         now: datetime, persons: Sequence[Person] = (), organiser: tuple[str, str] | None = None,
         deleted: Collection[str] = (), persons_deleted: Collection[str] = (),
         read_refused: Mapping[tuple[str, str], str] | None = None,
         entry_faults: Mapping[tuple[str, str], Sequence[str]] | None = None) -> Plan:
    """`organiser`: (id, name) of the organiser a source without a Huvudman is for (`--organiser`); `deleted`: the ids
    /deletedEntities names (an incremental run), `persons_deleted` the persons' of them. `read_refused`: (entity, id) →
    why an item was refused as it was read (`models.Shared.refused`: not among the items given), `entry_faults`:
    (entity, id) → its entries refused so (`models.Shared.faults`): each refused here on its own, the rest planned."""
    deleted = set(deleted)
    out = Plan(now=now)
    # an item that broke the specification on its own (its id read): refused, so that a full import keeps what came of
    # it (`moves.kept_back`); what names it says it was refused rather than "not known"
    unread: dict[str, set[str]] = {}
    for (entity, ident), reason in (read_refused or {}).items():
        if ident not in deleted and ident not in persons_deleted:
            out.refused.append(Refused(entity, ident, reason))
            unread.setdefault(entity, set()).add(ident)
    faults = entry_faults or {}
    # deleted wins over listed: SS 12000 ids are UUIDs never given again, a deletion is final, and /deletedEntities
    # is the server's record of it — a list still holding the item is the server's lag (servers differ in how soon a
    # deletion leaves the lists), not the item come back. Sent, the item was removed right after by its id, but what
    # the run made from it under other keys (an activity's teaching naming a group or a duty, a unit's groups and
    # duties) stayed until a full run. Left unread, what names it is left out by design as for any deleted item
    organisers_deleted = sorted(o.id for o in organisations if o.id in deleted and _kind(o) == ORGANISER)
    organisations = _not_deleted(out, "organisations", organisations, deleted)
    groups = _not_deleted(out, "groups", groups, deleted)
    duties = _not_deleted(out, "duties", duties, deleted)
    activities = _not_deleted(out, "activities", activities, deleted)
    organisations = _case_apart(out, "organisations", organisations)
    groups = _case_apart(out, "groups", groups)
    duties = _case_apart(out, "duties", duties)
    activities = _case_apart(out, "activities", activities)
    # a person refused, or one of its memberships: what it states of its groups is not known whole, so neither is a
    # list of members made of what persons state (`members_unknown`: nothing of it removed)
    for stating in persons:
        for fault in faults.get(("persons", stating.id), ()) if stating.id not in persons_deleted else ():
            out.refused.append(Refused("persons", stating.id, fault))
    persons_unread = bool(unread.get("persons")) or any(
        not fault.startswith("enrolments") for (entity, _), said in faults.items() if entity == "persons"
        for fault in said)
    members = members_of(groups, persons, out, persons_deleted, persons_unread=persons_unread)
    orgs = {o.id: o for o in organisations}

    def when(meta: Meta | None) -> datetime:
        # a time without an offset in the hour Sweden's clocks repeat (or skip) is no one instant: read either way,
        # two changes of one item in it may be dated in the wrong order — 02:10 of the second pass before 02:50 of
        # the first — and reporting keeps the newest, ignoring the later change as older (`unchanged`). Dated by the
        # import's clock instead, which is after both and orders changes by the runs that read them
        return one_instant((meta.modified or meta.created) if meta else None, naive_zone) or now

    tree = _Tree(orgs)

    def organiser_of(org: Organisation) -> Organisation | None:
        return tree.places[org.id].owner

    def organiser_id(owner: Organisation) -> str | None:
        # a municipality is known by its municipality code; any other Huvudman (a company, a foundation, a
        # region) by its organisation number: SS 12000's municipalityCode is where the organisation is, so an
        # independent school's Huvudman in Stockholm may carry 0180 and must not become the municipality
        number = (owner.organisation_number or "").strip()
        own_number = bool(_ORGANISER_ID.match(number)) and not _MUNICIPALITY_NUMBER.match(number)
        for candidate in ((number,) if own_number else (owner.municipality_code, owner.organisation_number)):
            if candidate and _ORGANISER_ID.match(candidate.strip()):
                # one spelling, the one every request, token and event carries: a source writing 2120001234
                # and a platform writing 212000-1234 are the same organiser
                return canonical_organiser_id(candidate.strip())
        return None

    def area_at(org: Organisation) -> str | None:
        """The area of what hangs under `org`: from `org` up to its Huvudman, the topmost Verksamhetsområde or
        Stadsdel, else the topmost organisation that can be an area (see the module's docstring)."""
        place = tree.places[org.id]
        return place.area or place.level

    def area_of(school_unit: Organisation) -> str | None:
        return area_at(orgs[school_unit.parent.id]) if school_unit.parent and school_unit.parent.id in orgs else None

    def is_area(org: Organisation) -> bool:
        """The area of a school unit, or a level with none below it yet that would be one."""
        return org.id in areas or (org.id not in above_school_units and area_at(org) == org.id)

    school_units = [o for o in organisations if _kind(o) == SCHOOL_UNIT]
    placer = _Placer(tree, organisations)
    # the Skolenhet each group is at: its organisation's own, else the one it resolves to through the parent tree
    # (a Skola of one Skolenhet, a Klass or an Enhet below one); none or several: the group is left out, said
    group_unit: dict[str, str] = {}  # group id → the Skolenhet's id
    group_unplaced: dict[str, str] = {}  # group id → why it is at no single Skolenhet
    for group in groups:
        where = orgs.get(group.organisation.id)
        if where is None:
            continue  # not in the source: refused below, as before
        unit = placer.above(where)
        if unit is None and placer.count[where.id] == 1:
            unit = placer.some[where.id][0]
        if unit is not None:
            group_unit[group.id] = unit.id
        else:
            group_unplaced[group.id] = GROUP_NOT_PLACED.format(
                at=where.id, kind=one_line_value(where.organisation_type or ""), below=placer.said_below(where))
    years = group_years(groups, persons, activities, syllabuses, members, out.unmapped_school_types, group_unit)
    out.unit_codes = {(o.school_unit_code or "").strip() for o in school_units} - {""}
    areas = {a for a in map(area_of, school_units) if a is not None}
    above_school_units = tree.above(school_units)

    has_huvudman = any(_kind(o) == ORGANISER for o in organisations)
    unread_orgs = unread.get("organisations", set())
    if organiser is not None and has_huvudman:
        raise NoOrganiser(TWO_ORGANISERS)
    if organiser is None and not has_huvudman and organisations:
        # (a source whose every Huvudman /deletedEntities names, still listed with what hangs under it: not one
        # without a Huvudman, which --organiser would mend)
        raise NoOrganiser(HUVUDMAN_DELETED.format(ids=", ".join(organisers_deleted)) if organisers_deleted
                          else HUVUDMAN_UNREAD.format(count=len(unread_orgs), first=next(
                              f"{r.id}: {r.reason}" for r in out.refused if r.id in unread_orgs)) if unread_orgs
                          else NO_ORGANISER)
    by_code: dict[tuple[str, str], list[str]] = {}
    for org in organisations:
        owner = organiser_of(org)
        owner_id = organiser_id(owner) if owner is not None else organiser[0] if organiser else None
        if _kind(org) == SCHOOL_UNIT and owner_id and (org.school_unit_code or "").strip():
            by_code.setdefault((owner_id, (org.school_unit_code or "").strip()), []).append(org.id)

    placed: dict[str, tuple[str, Organisation]] = {}  # organisation id → (organiser id, school unit)
    folded_ids: set[str] = set()
    refused_areas: set[str] = set()
    refused_organisers: dict[str, str] = {}  # organiser id → the refused Huvudman's source id
    below_huvudman = tree.above([o for o in organisations if _kind(o) == ORGANISER])
    huvudman_of: dict[str, list[Organisation]] = {}  # organiser id → its Huvudmän in the source
    for org in organisations:
        if _kind(org) == ORGANISER and org.id not in tree.looped:
            oid = organiser_id(org)
            if oid is not None:
                huvudman_of.setdefault(oid, []).append(org)
    organisers_done: set[str] = set()
    for org in organisations:
        kind = _kind(org)
        refused_above = _refused_above(org, orgs, unread_orgs) if unread_orgs else None
        if refused_above is not None:
            # below an organisation refused as it was read: where it is in the tree is not known (placed without it, a
            # school unit moved out of its area), so it is left out as under a refused unit, what came of it kept
            out.under_refused.append(Refused("organisations", org.id, f"{ORGANISATION_REFUSED} ({refused_above})"))
            continue
        if not kind:
            out.refused.append(Refused("organisations", org.id, NO_TYPE))
            continue
        owner = organiser_of(org)
        if owner is None and org.id in below_huvudman:
            folded_ids.add(org.id)
            out.folded.append(Refused("organisations", org.id, "above its Huvudman: no level of the directory"))
            continue
        if org.id in tree.looped:
            out.refused.append(Refused("organisations", org.id, LOOP.format(count=tree.looped[org.id])))
            continue
        if owner is None and organiser is None:
            out.refused.append(Refused("organisations", org.id, NO_HUVUDMAN))
            continue
        oid = organiser_id(owner) if owner is not None else organiser[0] if organiser else None
        if oid is None:
            out.refused.append(Refused("organisations", org.id, _no_organiser_id(owner, own=owner is org)))
            continue
        base = {"organiser_id": oid, "name": org.display_name, "updated_at": when(org.meta)}
        if kind == ORGANISER:
            if oid in organisers_done:
                continue  # one of several Huvudmän of this organiser id: decided with the first (below)
            organisers_done.add(oid)
            # several Huvudmän of one organiser id (a server merging two systems, a preschool's and a school's,
            # each with its own Huvudman of the municipality): the directory has one organiser, sent once — as the
            # first by id that it takes, whatever order the server lists them in; the others are folded, said. Each
            # sent, the organiser's name flipped between theirs twice a run, every run `changed`
            sent_as = None
            for one in sorted(huvudman_of[oid], key=lambda o: o.id):
                data = {**base, "name": one.display_name, "updated_at": when(one.meta), "unit_type": "organiser",
                        "unit_id": oid}
                if sent_as is None and out.add("organisations", OrganisationUnitUpsertedV1, data, one.id, one.id,
                                               {**UNIT_FIELDS, "unit_id": ORGANISER_FIELDS}):
                    sent_as = one.id
                elif sent_as is not None:
                    out.folded.append(Refused("organisations", one.id, SAME_ORGANISER.format(oid=oid, sent=sent_as)))
                else:
                    refused_organisers[oid] = one.id
        elif kind == SCHOOL_UNIT:
            code = (org.school_unit_code or "").strip()
            if code and len(by_code[(oid, code)]) > 1:
                out.refused.append(Refused("organisations", org.id, _recreated(
                    "schoolUnitCode", "Skolenheter", by_code[(oid, code)], org.id)))
                out.recreated.append(out.refused[-1])
                continue
            sent = out.add("organisations", OrganisationUnitUpsertedV1,
                           {**base, "unit_type": "school_unit", "unit_id": org.id, "parent_id": area_of(org) or oid,
                            "school_unit_code": code or None}, org.id, org.id, UNIT_FIELDS)
            if code and sent:  # a unit refused for its content (a name holding a civic number) places nothing
                placed[org.id] = (oid, org)
        elif tree.places[org.id].in_unit:
            unit = placer.above(org)
            out.folded.append(Refused("organisations", org.id, f"organisationType {org.organisation_type}: " + (
                f"inside Skolenhet {unit.id}: part of that school unit (what is at it is that school unit's)"
                if unit is not None else "inside a Skolenhet: part of that school unit")))
        elif not is_area(org):
            above = area_at(org)
            out.folded.append(Refused("organisations", org.id, f"organisationType {org.organisation_type}: " + (
                "its school units hang under the organiser (no area above them)" if above is None else
                f"inside area {above}: its school units are that area's" if above != org.id else
                "above a Verksamhetsområde or Stadsdel: each of its school units is in the one below it")))
        elif not out.add("organisations", OrganisationUnitUpsertedV1,
                         {**base, "unit_type": "area", "unit_id": org.id, "parent_id": oid}, org.id, org.id,
                         UNIT_FIELDS):
            refused_areas.add(org.id)
    # what hangs under a Huvudman refused for its content is not sent under its organiser id either (a directory
    # of areas and school units without their organiser), unless another Huvudman of that id was sent
    organisers_sent = {c["data"]["unit_id"] for c in out.changes.get("organisations", [])
                       if c["data"]["unit_type"] == "organiser"}
    orphaned = refused_organisers.keys() - organisers_sent

    def left_out(change: dict[str, Any]) -> str | None:
        """Why a unit planned is not sent after all: its Huvudman (above) or its area (below) was refused."""
        data = change["data"]
        if data["unit_type"] != "organiser" and data["organiser_id"] in orphaned:
            return f"{ORGANISER_REFUSED} ({refused_organisers[data['organiser_id']]})"
        # a school unit under an area refused for its content is not sent under the area's id either (its place in
        # the chain is that area); the area may come after it in the source, so this is decided once all are read
        if data["unit_type"] == "school_unit" and data["parent_id"] in refused_areas:
            return f"{AREA_REFUSED} ({data['parent_id']})"
        return None

    if orphaned or refused_areas:
        # the list kept made once (a removal of each one left out made the list again: quadratic, 19 s of CPU for
        # a source of 20,000 units with 2,000 under refused Huvudmän)
        kept = []
        for change in out.changes.get("organisations", []):
            why = left_out(change)
            if why is None:
                kept.append(change)
                continue
            placed.pop(change["source_id"], None)
            out.under_refused.append(Refused("organisations", change["source_id"], why))
        if "organisations" in out.changes:
            out.changes["organisations"] = Changes(kept, shared=out._shared)
    # every school unit refused above, for whatever rule (its content, a loop, no Huvudman, a code on two units):
    # what hangs under it is left out, not sent under the refused unit's id
    sent_units = {c["source_id"] for c in out.changes.get("organisations", [])}
    refused_units = {o.id for o in school_units if o.id not in sent_units and o.id not in folded_ids}
    if organiser is not None and any(c["data"]["organiser_id"] == organiser[0]
                                     for c in out.changes.get("organisations", [])):
        oid, name = organiser
        out.add("organisations", OrganisationUnitUpsertedV1, {
            "organiser_id": oid, "name": name, "updated_at": now, "unit_type": "organiser", "unit_id": oid},
            None, f"--organiser {oid}")  # from no entity of the source: its own id is its source id
        units = out.changes["organisations"]
        units.insert(0, units.pop())  # the organiser before its units, as a Huvudman usually comes

    # the organisations refused above (for whatever rule) that are no school unit: what is at them is left out as
    # under a refused unit (a group at a Rektorsområde on a parentOrganisation loop was left out by design, said as
    # having no Skolenhet below it, and what an earlier run made of it removed)
    refused_levels = {r.id for r in [*out.refused, *out.under_refused] if r.entity == "organisations"} - refused_units
    group_names: dict[tuple[str, str, str], list[str]] = {}
    for group in groups:
        if group_unit.get(group.id) in placed and (group.group_type or "").strip().casefold() != STAFF_GROUP:
            # one name and period on one organisation: two groups of one name on two Enheter of a school unit (a
            # "Matematik" of each) are two groups, not one recreated
            same = (group.organisation.id, nfc(group.display_name).strip().casefold(),
                    _period(group.start_date, group.end_date))
            group_names.setdefault(same, []).append(group.id)
    group_place: dict[str, tuple[str, str]] = {}  # group id → (organiser id, school unit code)
    groups_left: dict[str, str] = {}  # group id → why what hangs under it is left out (naming the refused one)
    groups_left_out: dict[str, str] = {}  # group id → why it is left out by design for its place (its teaching follows)

    def leave(entity: str, ident: str, unit: str) -> None:
        out.under_refused.append(Refused(entity, ident, f"{UNDER_REFUSED} ({unit})"))

    for group in groups:
        unit_id = group_unit.get(group.id, group.organisation.id)
        at = placed.get(unit_id)
        if (group.group_type or "").strip().casefold() == STAFF_GROUP:
            out.left_out.append(Refused("groups", group.id, STAFF_GROUP_RULE))
            continue
        if group.organisation.id in refused_levels:
            groups_left[group.id] = f"{ORGANISATION_REFUSED} ({group.organisation.id})"
            out.under_refused.append(Refused("groups", group.id, groups_left[group.id]))
            for listed in members[group.id]:
                out.under_refused.append(Refused("memberships", f"{group.id}/{_person(listed.membership)}",
                                                 groups_left[group.id]))
            continue
        gone = group.organisation.id not in orgs and group.organisation.id in deleted
        if group.id in group_unplaced or gone:
            # by design, not refused: what an earlier run made of it goes, as a duty's above the units
            groups_left_out[group.id] = UNIT_DELETED if gone else NOT_ONE_UNIT
            out.left_out.append(Refused("groups", group.id, ORGANISATION_DELETED.format(
                field="organisation", at=group.organisation.id) if gone else group_unplaced[group.id]))
            for listed in members[group.id]:
                out.left_out.append(Refused("memberships", f"{group.id}/{_person(listed.membership)}",
                                            GROUP_LEFT_OUT.format(group=group.id, why=groups_left_out[group.id])))
            continue
        if unit_id in refused_units:
            groups_left[group.id] = f"{UNDER_REFUSED} ({unit_id})"
            leave("groups", group.id, unit_id)
            for listed in members[group.id]:
                leave("memberships", f"{group.id}/{_person(listed.membership)}", unit_id)
            continue
        if at is None:
            out.refused.append(Refused("groups", group.id, "organisation: its organisation is not a known Skolenhet"))
            continue
        namesakes = group_names[(group.organisation.id, nfc(group.display_name).strip().casefold(),
                                 _period(group.start_date, group.end_date))]
        if len(namesakes) > 1:
            out.refused.append(Refused("groups", group.id, _recreated(
                "displayName", "groups of one period at one Skolenhet", namesakes, group.id)))
            out.recreated.append(out.refused[-1])
            continue
        oid, school = at
        code = (school.school_unit_code or "").strip()
        changed = when(group.meta)
        if not out.add("groups", OrganisationUnitUpsertedV1, {
                "unit_type": "group", "unit_id": group.id, "organiser_id": oid, "parent_id": school.id,
                "name": group.display_name, "school_unit_code": code, "year": years.get(group.id),
                "updated_at": changed}, group.id, group.id, GROUP_FIELDS):
            # a group refused for its content (a name the directory cannot take): its memberships and teaching
            # assignments are not sent for a group reporting does not have
            groups_left[group.id] = f"{GROUP_REFUSED} ({group.id})"
            for listed in members[group.id]:
                out.under_refused.append(Refused("memberships", f"{group.id}/{_person(listed.membership)}",
                                                 groups_left[group.id]))
            continue
        group_place[group.id] = (oid, code)
        # an entry of its groupMemberships that could not be read: whose it is, and so which membership, is not known
        # — the group is refused with it (sent with its other members, nothing of it removed: `moves.kept_back`), as a
        # list of entries a server wrote all wrong would else read as a group of no members
        for fault in faults.get(("groups", group.id), ()):
            out.refused.append(Refused("groups", group.id, fault))
        out.refused_memberships.update(_membership_id(group, person, start, naive_zone)
                                       for person, start in out.clashed.get(group.id, ()))
        kind = (group.group_type or "").strip()
        if kind and nfc(kind).casefold() not in GROUP_TYPES:
            out.unknown("groups.groupType", kind, oid)
        for stated in members[group.id]:
            member = stated.membership
            if member.person is None:
                out.refused.append(Refused("memberships", f"{group.id}/(no person)", f"{stated.path}.{NO_PERSON}"))
                continue
            start = _membership_start(group, member.start_date, naive_zone)
            mid = _membership_id(group, member.person.id, member.start_date, naive_zone)
            on_group = stated.path.startswith("groupMemberships")
            if not out.add("memberships", GroupMembershipUpsertedV1, {
                "membership_id": mid, "organiser_id": oid, "school_unit_code": code, "group_id": group.id,
                "student_id": member.person.id, "start_date": start, "end_date": member.end_date or group.end_date,
                "updated_at": changed}, group.id, f"{group.id}/{member.person.id}", {
                    "student_id": f"{stated.path}.person.id" if on_group else "id",
                    # a membership's start is its own, else its group's (else the day the group was created)
                    "start_date": f"{stated.path}.startDate" if member.start_date else
                    f"{stated.path}.startDate, startDate",
                    "end_date": f"{stated.path}.endDate" if member.end_date else "endDate",
                    "school_unit_code": "organisation.schoolUnitCode", "group_id": f"{stated.path}.group.id"
                    if not on_group else "id", "updated_at": "meta.modified", "organiser_id": ORGANISER_FIELDS}):
                out.refused_memberships.add(mid)

    out.in_two_classes = _in_two_classes(out.changes.get("memberships", []),
                                         {g.id for g in groups if (g.group_type or "").strip().casefold() == CLASS})

    duty_person: dict[str, str] = {}
    duty_organiser: dict[str, str] = {}  # duty id → the organiser of the school unit it is at
    for duty in duties:
        if duty.person is None:
            out.refused.append(Refused("duties", duty.id, NO_PERSON))
            continue
        duty_person[duty.id] = duty.person.id
        where = orgs.get(duty.duty_at.id)
        kind = _kind(where) if where is not None else ""
        if where is None and duty.duty_at.id in deleted:
            out.left_out.append(Refused("duties", duty.id, ORGANISATION_DELETED.format(field="dutyAt",
                                                                                       at=duty.duty_at.id)))
            continue
        if where is None and duty.duty_at.id in unread.get("organisations", ()):
            out.under_refused.append(Refused("duties", duty.id, f"{ORGANISATION_REFUSED} ({duty.duty_at.id})"))
            continue
        if where is None or not kind:
            out.refused.append(Refused("duties", duty.id, "dutyAt: not a known Skolenhet"))
            continue
        if where.id in refused_levels:
            out.under_refused.append(Refused("duties", duty.id, f"{ORGANISATION_REFUSED} ({where.id})"))
            continue
        # the Skolenheter the duty is at: the one at or above its organisation (a duty at a Klass or an Enhet of a
        # school unit is at that unit); at a Rektorsområde or a Skola, a principal's at every one below it, any
        # other's at the one if it holds one; higher up, none (left out by design, as round 29 had it)
        unit = placer.above(where)
        principal = nfc(duty.duty_role).strip().casefold() in PRINCIPAL_ROLES
        below = placer.count[where.id] if unit is None and kind in SPREAD_KINDS else 0
        if unit is None and kind not in SPREAD_KINDS:
            out.left_out.append(Refused("duties", duty.id, DUTY_ABOVE_UNITS.format(
                at=duty.duty_at.id, kind=one_line_value(where.organisation_type or ""))))
            continue
        if unit is None and (not below or (below > 1 and not principal)):
            out.left_out.append(Refused("duties", duty.id, DUTY_NOT_PLACED.format(
                at=where.id, kind=one_line_value(where.organisation_type or ""), below=placer.said_below(where),
                role=one_line_value(duty.duty_role))))
            continue
        at_units = [unit] if unit is not None else placer.every_below(where)
        sent = tried = False
        for school_unit in at_units:
            if school_unit.id in refused_units:
                if not tried:  # (said once a duty, however many of its units were refused)
                    leave("duties", duty.id, school_unit.id)
                tried = True
                continue
            at = placed.get(school_unit.id)
            if at is None:
                continue  # a Skolenhet without a schoolUnitCode: no school unit of the directory (refused below)
            tried = True
            oid, school = at
            code = (school.school_unit_code or "").strip()
            duty_organiser.setdefault(duty.id, oid)
            # one duty at several school units is one duty of the directory at each, its id scoped by the unit's
            # code (the directory's duty is at one school unit); at one, the source's own id
            sent = out.add("duties", DutyUpsertedV1, {
                "duty_id": duty.id if len(at_units) == 1 else _duty_key(duty.id, code), "organiser_id": oid,
                "school_unit_code": code, "person_id": duty.person.id, "duty_role": duty.duty_role,
                "start_date": duty.start_date, "end_date": duty.end_date, "updated_at": when(duty.meta)}, duty.id,
                duty.id, DUTY_FIELDS) or sent
        if not tried:  # at no school unit of the directory: not dropped unsaid
            out.refused.append(Refused("duties", duty.id, "dutyAt: not a known Skolenhet"))
        if sent and nfc(duty.duty_role).strip().casefold() not in DUTY_ROLES:
            out.unknown("duties.dutyRole", duty.duty_role, duty_organiser.get(duty.id, ""))

    # a syllabus's subjectCode as served (blank: none): the specification allows any text there, the directory takes
    # Skolverket's shape of an ämneskod (`SubjectCode`), so an assignment whose subject breaks it is refused naming
    # `syllabus.subjectCode` and the rule (it was sent without its subject, unsaid: a subject reporting held was
    # overwritten with none); a well-formed code not on the shipped list is kept and said (`unknown_subjects`)
    subjects = {s.id: s.subject_code.strip() for s in syllabuses if s.subject_code and s.subject_code.strip()}
    # a syllabus an activity names that a source serving syllabuses does not have: its subject is unknown, not none
    # (sent without it, the subject reporting held was overwritten with none); a source holding all of them back
    # (Skolverket's reference API has no /syllabuses) is said as such by the command, its assignments sent
    served_syllabuses = {s.id for s in syllabuses}
    staff_groups = {g.id for g in groups if (g.group_type or "").strip().casefold() == STAFF_GROUP}
    groups_read = {g.id for g in groups} | unread.get("groups", set())
    duties_read = {d.id for d in duties}
    refused_duty_said: set[tuple[str, int]] = set()  # (activity, teacher entry) said to name a refused duty
    for activity in activities:
        kind = nfc(activity.activity_type or "").strip()
        if kind.casefold() in NOT_TEACHING:
            if activity.teachers and activity.groups:  # (one of no teacher or no group makes none anyway)
                out.left_out.append(Refused("activities", activity.id, NOT_TEACHING_RULE.format(kind=kind)))
            continue
        # an entry of its groups or teachers that could not be read: refused (nothing of the activity removed), the
        # teaching of the others sent
        for fault in faults.get(("activities", activity.id), ()):
            out.refused.append(Refused("activities", activity.id, fault))
        if activity.syllabus is not None and activity.syllabus.id in unread.get("syllabuses", ()):
            # its subject is not known (sent without it, the subject reporting holds would be overwritten with none)
            if activity.teachers and activity.groups:
                out.refused.append(Refused("activities", activity.id,
                                           f"syllabus: syllabus {activity.syllabus.id} was refused"))
            continue
        subject = subjects.get(activity.syllabus.id) if activity.syllabus else None
        unknown_syllabus = (activity.syllabus is not None and bool(served_syllabuses)
                            and activity.syllabus.id not in served_syllabuses)
        for g, group_ref in enumerate(activity.groups):
            place = group_place.get(group_ref.id)
            if group_ref.id in groups_left:
                out.under_refused.append(Refused("activities", activity.id, groups_left[group_ref.id]))
                continue
            if group_ref.id in groups_left_out:
                out.left_out.append(Refused("activities", activity.id, GROUP_LEFT_OUT_TAUGHT.format(
                    n=g, group=group_ref.id, why=groups_left_out[group_ref.id])))
                continue
            if place is None and group_ref.id in staff_groups:
                out.left_out.append(Refused("activities", activity.id, STAFF_GROUP_TAUGHT.format(n=g,
                                                                                                 group=group_ref.id)))
                continue
            if place is None and group_ref.id in deleted and group_ref.id not in groups_read:
                # by design, not refused: what reporting held of this teaching goes (`left_behind`), as the group's
                # own entities go by /deletedEntities — it was refused as naming a group "not known", and kept
                out.left_out.append(Refused("activities", activity.id, GROUP_LEFT_OUT_TAUGHT.format(
                    n=g, group=group_ref.id, why=DELETED_AT_SOURCE)))
                continue
            if place is None and group_ref.id in groups_read:
                # a group of the source refused (at an organisation it does not have, a name on two groups): said as
                # "not known", which it is not, and a refusal of its own (the group's refusal says why)
                out.under_refused.append(Refused("activities", activity.id, f"{GROUP_REFUSED} ({group_ref.id})"))
                continue
            if place is None:
                out.refused.append(Refused("activities", activity.id, f"groups: group {group_ref.id} is not known"))
                continue
            if unknown_syllabus and activity.teachers and activity.syllabus is not None:
                out.refused.append(Refused("activities", activity.id,
                                           f"syllabus: syllabus {activity.syllabus.id} is not known"))
                continue
            for n, teacher in enumerate(activity.teachers):
                person = duty_person.get(teacher.duty.id)
                if person is None and teacher.duty.id in deleted and teacher.duty.id not in duties_read:
                    out.left_out.append(Refused("activities", activity.id, DUTY_DELETED_TAUGHT.format(
                        n=n, duty=teacher.duty.id)))
                    continue
                if person is None and teacher.duty.id in unread.get("duties", ()):
                    if (activity.id, n) not in refused_duty_said:  # (once an entry, however many groups it teaches)
                        refused_duty_said.add((activity.id, n))
                        out.refused.append(Refused("activities", activity.id,
                                                   f"teachers[{n}].duty: duty {teacher.duty.id} was refused"))
                    continue
                if person is None:
                    out.refused.append(Refused("activities", activity.id, f"teachers.duty: duty {teacher.duty.id} is not known"))
                    continue
                sent = out.add("activities", TeachingAssignmentUpsertedV1, {
                    "assignment_id": str(uuid5(NS, f"{activity.id}/{group_ref.id}/{teacher.duty.id}")),
                    "organiser_id": place[0], "school_unit_code": place[1], "group_id": group_ref.id,
                    "teacher_id": person, "subject_code": subject,
                    "start_date": teacher.start_date or activity.start_date,
                    "end_date": teacher.end_date or activity.end_date, "updated_at": when(activity.meta)},
                    activity.id, activity.id, {
                        "assignment_id": "id", "organiser_id": ORGANISER_FIELDS, "updated_at": "meta.modified",
                        "school_unit_code": f"groups[{g}].organisation.schoolUnitCode", "group_id": f"groups[{g}].id",
                        "teacher_id": f"teachers[{n}].duty.person.id", "subject_code": "syllabus.subjectCode",
                        "start_date": f"teachers[{n}].startDate" if teacher.start_date else "startDate",
                        "end_date": f"teachers[{n}].endDate" if teacher.end_date else "endDate"})
                if sent and subject is not None and not is_known_subject_code(subject):
                    out.unknown_subjects[subject] += 1
                    out.subjects_at[(subject, place[0])] += 1
                if sent and duty_organiser.get(teacher.duty.id, place[0]) != place[0]:
                    out.taught_across[(place[0], duty_organiser[teacher.duty.id])] += 1
    _whose(out, orgs, tree, groups, duties, activities, organiser_id, organiser[0] if organiser else None)
    return out


def _refused_above(org: Organisation, orgs: dict[str, Organisation], unread: Collection[str]) -> str | None:
    """The organisation refused as it was read (`unread`) that `org` hangs under through `parentOrganisation`, if
    any (a loop ends the walk: refused as one)."""
    seen: set[str] = set()
    current: Organisation | None = org
    while current is not None and current.parent is not None and current.id not in seen:
        seen.add(current.id)
        if current.parent.id in unread:
            return current.parent.id
        current = orgs.get(current.parent.id)
    return None


def _whose(out: Plan, orgs: dict[str, Organisation], tree: _Tree, groups: Sequence[Group], duties: Sequence[Duty],
           activities: Sequence[Activity], organiser_id: Callable[[Organisation], str | None],
           explicit: str | None) -> None:
    """Each item the plan does not send (refused, left out) marked with the organisers it is of, where the tree tells:
    an organisation's Huvudman's, a group's (and its memberships') organisation's, a duty's `dutyAt`'s, an activity's
    groups'. An item at an organisation the source lacks, or under no Huvudman, is of none known."""
    def owner_at(org_id: str | None) -> str | None:
        org = orgs.get(org_id) if org_id is not None else None
        if org is None:
            return None
        owner = tree.places[org.id].owner if org.id in tree.places else None
        return organiser_id(owner) if owner is not None else explicit

    group_at = {g.id: g.organisation.id for g in groups}
    duty_at = {d.id: d.duty_at.id for d in duties}
    taught = {a.id: [ref.id for ref in a.groups] for a in activities}
    out.group_organisers = {g: owner_at(at) for g, at in group_at.items()}
    for item in [*out.refused, *out.under_refused, *out.left_out, *out.folded]:
        if item.entity == "organisations":
            at: list[str | None] = [item.id]
        elif item.entity in ("groups", "memberships"):
            at = [group_at.get(item.id.split("/")[0])]
        elif item.entity == "duties":
            at = [duty_at.get(item.id)]
        elif item.entity == "activities":
            at = [group_at.get(g) for g in taught.get(item.id, [])]
        else:
            at = []
        owners = [owner_at(a) for a in at]
        if owners and None not in owners:
            item.organisers = tuple(sorted({o for o in owners if o is not None}))


def keep_organisers(the_plan: Plan, organisers: Collection[str]) -> None:
    """Only the changes of `organisers` kept in `the_plan` (--only-organiser): those of any other organiser the source
    holds are taken out and counted per organiser and entity (`Plan.other_organisers`). A municipality's source may
    hold other organisers' school units (an independent school's, a neighbouring municipality's), and its token may
    write only its own: reporting refuses a chunk holding any other organiser's change (403, nothing stored), and
    what it holds for one (`/held`) before anything is sent, so such a source could not be imported at all. Nothing
    of those organisers is sent nor removed (a full run reads and removes only what the organisers it sends hold)."""
    for entity, changes in list(the_plan.changes.items()):
        if all(c["data"]["organiser_id"] in organisers for c in changes):
            continue

        def kept(changes: Changes = changes, entity: str = entity) -> Iterator[dict[str, Any]]:
            # one at a time into the new list (a list of them all as dicts held some 1 KB a change at once)
            for change in changes:
                organiser = change["data"]["organiser_id"]
                if organiser in organisers:
                    yield change
                else:
                    the_plan.other_organisers.setdefault(organiser, Counter())[entity] += 1

        the_plan.changes[entity] = Changes(kept(), shared=the_plan._shared)
        if not the_plan.changes[entity]:
            del the_plan.changes[entity]
    # what the source holds of another organiser that was refused or left out is not this import's either: counted
    # with that organiser's (`--only-organiser: organiser … not imported (…, 1 refused)`), not listed, and no cause of
    # --strict's exit 3 — it was, for a fault only that organiser's import (or its source's owner) can mend
    wanted = set(organisers)
    for name, said in (("refused", "refused"), ("under_refused", "left out"), ("left_out", "left out by design")):
        items: list[Refused] = getattr(the_plan, name)
        mine = [r for r in items if not r.organisers or wanted.intersection(r.organisers)]
        for item in items:
            if item.organisers and not wanted.intersection(item.organisers):
                for other in item.organisers:
                    the_plan.other_organisers.setdefault(other, Counter())[said] += 1
        setattr(the_plan, name, mine)
    still = {id(r) for r in the_plan.refused}
    the_plan.recreated = [r for r in the_plan.recreated if id(r) in still]
    _count_only(the_plan, wanted)


def _count_only(the_plan: Plan, wanted: set[str]) -> None:
    """The plan's counts of what the summary says (round 32: they were of the whole source, so an independent school's
    unknown group type, its students in two classes, its organisation folded were said by the municipality's run,
    which neither sends nor reads them for it) of `wanted`'s items alone — and of those whose organiser the tree does
    not tell, as their refusals are (`_whose`). What cannot be told per organiser (a person's, a date's as read) is
    said of the whole source still (docs/import.md)."""
    def mine(group: str) -> bool:
        organiser = the_plan.group_organisers.get(group)
        return organiser is None or organiser in wanted

    the_plan.folded = [r for r in the_plan.folded if not r.organisers or wanted.intersection(r.organisers)]
    # (`members_unknown` itself stays whole: what an organiser holds of a group moved from it is kept by it)
    the_plan.members_unknown_said = {g for g in the_plan.members_unknown if mine(g)}
    the_plan.membership_conflicts = {g: n for g, n in the_plan.membership_conflicts.items() if mine(g)}
    the_plan.in_two_classes = {g: n for g, n in the_plan.in_two_classes.items() if mine(g)}
    the_plan.taught_across = Counter({pair: n for pair, n in the_plan.taught_across.items() if pair[0] in wanted})
    the_plan.unknown_subjects = Counter()
    for (code, organiser), n in the_plan.subjects_at.items():
        if organiser in wanted:
            the_plan.unknown_subjects[code] += n
    the_plan.unknown_types = {}
    for (where, value, organiser), n in the_plan.unknown_at.items():
        if organiser in wanted:
            the_plan.unknown_types.setdefault(where, Counter())[value] += n

"""SS 12000 entities → directory changes (organisation event data). Pure: no I/O.

* organisationType Huvudman → organiser (its id: a municipality's municipalityCode, else its
  organisationNumber; any other Huvudman's organisationNumber);
  Skolenhet → school unit (schoolUnitCode); any other organisation under a Huvudman is one of
  the organiser's own units → area (verksamhetsområde). A school unit's area is its nearest
  such ancestor; without one it hangs under the organiser.
* groups at a Skolenhet → groups (ids scoped by the school unit) and their memberships, but for
  staff groups (groupType Personalgrupp), which are left out; a
  group's year (årskurs) is the schoolYear of its members' enrolments at that school unit when
  more than half of the members with one agree (SS 12000 keeps the year on the enrolment, not the
  group), else the year of its activities' syllabuses when those all name one single year;
* duties at a Skolenhet → duties; activities × their groups × their teachers' duties →
  teaching assignments, the subject from the activity's syllabus.

Every change is checked against the contract here: one that breaks it is refused with the
entity, its id and the rule — never with the offending value, which might be personal data.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from uuid import UUID, uuid5
from zoneinfo import ZoneInfo

from pydantic import ValidationError

from styrkedja_contracts import (
    DutyUpsertedV1,
    GroupMembershipUpsertedV1,
    OrganisationUnitUpsertedV1,
    TeachingAssignmentUpsertedV1,
)
from styrkedja_contracts.identifiers import canonical_organiser_id, redact_personal_identity_numbers

from .models import Activity, Duty, Group, Meta, Organisation, Person, Syllabus, aware

NS = UUID("0b5e1c2a-5512-4000-8000-000000012000")
ORGANISER = "huvudman"
SCHOOL_UNIT = "skolenhet"
# a kommunkod, or an organisation number in any spelling `canonical_organiser_id` reads (ten digits, with or
# without the hyphen, or twelve with the prefix 16)
_ORGANISER_ID = re.compile(r"^([0-9]{4}|(16)?[0-9]{6}-?[0-9]{4})$")
_SUBJECT = re.compile(r"^[A-Z0-9]{3,16}$")
#: the rule a membership or a duty without its person breaks (SS 12000 does not require the person of either;
#: the directory's are a student's or a teacher's: without one there is nothing to import)
NO_PERSON = "person: missing (the specification allows leaving it out; the directory needs whose it is)"
#: SS 12000's groupType for "a group whose members are staff": the directory's memberships are students'
STAFF_GROUP = "personalgrupp"
STAFF_GROUP_RULE = "groupType: Personalgrupp (its members are staff; a group's members in the directory are students)"
#: every Swedish municipality's organisation number starts so (212000-NNNN)
_MUNICIPALITY_NUMBER = re.compile(r"^(16)?212000-?[0-9]{4}$")


@dataclass
class Refused:
    """An item not imported: its entity, its id and the rule. The id and the reason come from the
    source (a membership's id names its person): a personal identity number in them is redacted."""

    entity: str
    id: str
    reason: str

    def __post_init__(self) -> None:
        self.id = redact_personal_identity_numbers(self.id)[0]
        self.reason = redact_personal_identity_numbers(self.reason)[0]


@dataclass
class Plan:
    """What to send: per entity type, the changes ({type, data, source_id})."""

    changes: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    refused: list[Refused] = field(default_factory=list)
    #: refused by a rule of what the directory holds, not for a fault of this run: unlike `refused`, what came
    #: from them before is not kept by a full import (a refusal must not read as a deletion; this one is one)
    left_out: list[Refused] = field(default_factory=list)

    def add(self, entity: str, model: Any, data: dict[str, Any], source_id: str, ident: str) -> None:
        try:
            valid = model.model_validate(data)
        except ValidationError as error:
            first = error.errors()[0]
            where = ".".join(str(p) for p in first["loc"]) or "data"
            self.refused.append(Refused(entity, ident, f"{where}: {first['msg']}"))
            return
        self.changes.setdefault(entity, []).append(
            {"type": model.event_type, "data": valid.model_dump(mode="json"), "source_id": source_id})


def _kind(org: Organisation) -> str:
    return org.organisation_type.strip().casefold()


YEARS = range(10)  # the contract's årskurs 0–9; SS 12000 allows 10 (e.g. year 4 of gymnasiesärskola)


def group_years(groups: Sequence[Group], persons: Sequence[Person], activities: Sequence[Activity],
                syllabuses: Sequence[Syllabus]) -> dict[str, int]:
    """The year of each group it can be told for (see the module's docstring)."""
    enrolments = {p.id: p.enrolments for p in persons}
    out: dict[str, int] = {}
    for group in groups:
        votes: Counter[int] = Counter()
        for member in group.memberships:
            if member.person is None:
                continue
            on = member.start_date or group.start_date
            years = {e.school_year for e in enrolments.get(member.person.id, ())
                     if e.enroled_at.id == group.organisation.id and not e.cancelled and e.school_year is not None
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


def plan(organisations: Sequence[Organisation], groups: Sequence[Group], duties: Sequence[Duty],
         activities: Sequence[Activity], syllabuses: Sequence[Syllabus], *, naive_zone: ZoneInfo,
         now: datetime, persons: Sequence[Person] = ()) -> Plan:
    out = Plan()
    years = group_years(groups, persons, activities, syllabuses)
    orgs = {o.id: o for o in organisations}

    def when(meta: Meta | None) -> datetime:
        return aware((meta.modified or meta.created) if meta else None, naive_zone) or now

    def organiser_of(org: Organisation) -> Organisation | None:
        seen: set[str] = set()
        current: Organisation | None = org
        while current is not None and current.id not in seen:
            if _kind(current) == ORGANISER:
                return current
            seen.add(current.id)
            current = orgs.get(current.parent.id) if current.parent else None
        return None

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

    def area_of(org: Organisation) -> str | None:
        seen: set[str] = set()
        current = orgs.get(org.parent.id) if org.parent else None
        while current is not None and current.id not in seen and _kind(current) != ORGANISER:
            if _kind(current) != SCHOOL_UNIT:
                return current.id
            seen.add(current.id)
            current = orgs.get(current.parent.id) if current.parent else None
        return None

    placed: dict[str, tuple[str, Organisation]] = {}  # organisation id → (organiser id, school unit)
    for org in organisations:
        owner = organiser_of(org)
        if owner is None:
            out.refused.append(Refused("organisations", org.id, "no Huvudman above it"))
            continue
        oid = organiser_id(owner)
        if oid is None:
            out.refused.append(Refused("organisations", org.id,
                                       "its Huvudman has no municipalityCode or organisationNumber"))
            continue
        base = {"organiser_id": oid, "name": org.display_name, "updated_at": when(org.meta)}
        kind = _kind(org)
        if kind == ORGANISER:
            out.add("organisations", OrganisationUnitUpsertedV1,
                    {**base, "unit_type": "organiser", "unit_id": oid}, org.id, org.id)
        elif kind == SCHOOL_UNIT:
            out.add("organisations", OrganisationUnitUpsertedV1,
                    {**base, "unit_type": "school_unit", "unit_id": org.id, "parent_id": area_of(org) or oid,
                     "school_unit_code": (org.school_unit_code or "").strip() or None}, org.id, org.id)
            if org.school_unit_code:
                placed[org.id] = (oid, org)
        else:
            out.add("organisations", OrganisationUnitUpsertedV1,
                    {**base, "unit_type": "area", "unit_id": org.id, "parent_id": oid}, org.id, org.id)

    group_place: dict[str, tuple[str, str]] = {}  # group id → (organiser id, school unit code)
    for group in groups:
        at = placed.get(group.organisation.id)
        if (group.group_type or "").strip().casefold() == STAFF_GROUP:
            out.left_out.append(Refused("groups", group.id, STAFF_GROUP_RULE))
            continue
        if at is None:
            out.refused.append(Refused("groups", group.id, "its organisation is not a known Skolenhet"))
            continue
        oid, school = at
        code = (school.school_unit_code or "").strip()
        group_place[group.id] = (oid, code)
        changed = when(group.meta)
        out.add("groups", OrganisationUnitUpsertedV1, {
            "unit_type": "group", "unit_id": group.id, "organiser_id": oid, "parent_id": school.id,
            "name": group.display_name, "school_unit_code": code, "year": years.get(group.id),
            "updated_at": changed}, group.id, group.id)
        for member in group.memberships:
            if member.person is None:
                out.refused.append(Refused("memberships", f"{group.id}/(no person)", NO_PERSON))
                continue
            # Skolverket's reference API has neither the group's nor the membership's start: then the
            # day the group came into the source (stable from run to run, unlike the import day)
            created = aware(group.meta.created, naive_zone) if group.meta else None
            start = member.start_date or group.start_date or (
                created.astimezone(naive_zone).date() if created else None)
            mid = str(uuid5(NS, f"{group.id}/{member.person.id}/{start}"))
            out.add("memberships", GroupMembershipUpsertedV1, {
                "membership_id": mid, "organiser_id": oid, "school_unit_code": code, "group_id": group.id,
                "student_id": member.person.id, "start_date": start, "end_date": member.end_date or group.end_date,
                "updated_at": changed}, group.id, f"{group.id}/{member.person.id}")

    duty_person: dict[str, str] = {}
    for duty in duties:
        at = placed.get(duty.duty_at.id)
        if duty.person is None:
            out.refused.append(Refused("duties", duty.id, NO_PERSON))
            continue
        duty_person[duty.id] = duty.person.id
        if at is None:
            out.refused.append(Refused("duties", duty.id, "dutyAt is not a known Skolenhet"))
            continue
        oid, school = at
        out.add("duties", DutyUpsertedV1, {
            "duty_id": duty.id, "organiser_id": oid, "school_unit_code": (school.school_unit_code or "").strip(),
            "person_id": duty.person.id, "duty_role": duty.duty_role, "start_date": duty.start_date,
            "end_date": duty.end_date, "updated_at": when(duty.meta)}, duty.id, duty.id)

    subjects = {s.id: s.subject_code.strip() for s in syllabuses
                if s.subject_code and _SUBJECT.match(s.subject_code.strip())}
    for activity in activities:
        subject = subjects.get(activity.syllabus.id) if activity.syllabus else None
        for group_ref in activity.groups:
            place = group_place.get(group_ref.id)
            if place is None:
                out.refused.append(Refused("activities", activity.id, f"group {group_ref.id} is not known"))
                continue
            for teacher in activity.teachers:
                person = duty_person.get(teacher.duty.id)
                if person is None:
                    out.refused.append(Refused("activities", activity.id, f"duty {teacher.duty.id} is not known"))
                    continue
                out.add("activities", TeachingAssignmentUpsertedV1, {
                    "assignment_id": str(uuid5(NS, f"{activity.id}/{group_ref.id}/{teacher.duty.id}")),
                    "organiser_id": place[0], "school_unit_code": place[1], "group_id": group_ref.id,
                    "teacher_id": person, "subject_code": subject,
                    "start_date": teacher.start_date or activity.start_date,
                    "end_date": teacher.end_date or activity.end_date, "updated_at": when(activity.meta)},
                    activity.id, activity.id)
    return out

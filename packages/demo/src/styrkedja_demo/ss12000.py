"""Mittköping's directory as an SS 12000:2020 (API v2) folder dump: one file per endpoint,
`<endpoint>.json` = `{"data": [...]}` — the folder layout `styrkedja import ss12000 --dir` reads.

Persons are written with names and sex only: **no civicNo**, no birth date. Their SS 12000 id
(a UUID) is the pseudonymous student or teacher id everywhere else.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from styrkedja_contracts.subjects import subject_name

from .generator import Municipality, Principal, Teacher
from .story import LANGUAGES

#: SS 12000 code list values
ORGANISER_TYPE, AREA_TYPE, UNIT_TYPE = "Huvudman", "Verksamhetsområde", "Skolenhet"
SEX = {"female": "Kvinna", "male": "Man", "unknown": "Okänt"}
ENTITY_FILES = ("organisations", "persons", "groups", "duties", "syllabuses", "activities")


def _meta(muni: Municipality) -> dict[str, str]:
    # fixed, so that a dump written again is byte for byte the same
    stamp = f"{muni.story.current_school_year[:4]}-08-10T08:00:00+02:00"
    return {"created": stamp, "modified": stamp}


def dump(muni: Municipality) -> dict[str, list[dict[str, Any]]]:
    """Every SS 12000 entity list of the municipality."""
    meta = _meta(muni)
    first = int(muni.story.current_school_year[:4])
    start, end = f"{first}-08-17", f"{first + 1}-06-11"
    units = {u.id: u for u in muni.units}
    organisations: list[dict[str, Any]] = [{
        "id": muni.organiser_id, "displayName": muni.story.organiser_name, "organisationType": ORGANISER_TYPE,
        "municipalityCode": muni.organiser_code, "meta": meta}]
    organisations += [{"id": a.id, "displayName": a.name, "organisationType": AREA_TYPE,
                       "parentOrganisation": {"id": muni.organiser_id}, "meta": meta} for a in muni.areas]
    organisations += [{
        "id": u.id, "displayName": u.name, "organisationType": UNIT_TYPE, "schoolUnitCode": u.code,
        "schoolTypes": ["GRS" if u.special else "GR"], "municipalityCode": muni.organiser_code,
        "parentOrganisation": {"id": u.area_id}, "meta": meta} for u in muni.units]

    group_of = {g.id: g for g in muni.groups}
    # SS 12000 keeps a student's year (årskurs) on the enrolment at the school unit
    persons = [{"id": s.id, "givenName": s.given_name, "familyName": s.family_name, "sex": SEX[s.gender],
                "enrolments": [{"enroledAt": {"id": group_of[s.group_id].unit_id},
                                "schoolYear": group_of[s.group_id].year,
                                "schoolType": "GRS" if units[group_of[s.group_id].unit_id].special else "GR",
                                "startDate": start, "endDate": end}],
                "meta": meta} for s in muni.students]
    staff: list[Teacher | Principal] = [*muni.teachers, *muni.principals]
    persons += [{"id": t.id, "givenName": t.given_name, "familyName": t.family_name, "meta": meta} for t in staff]

    members: dict[str, list[dict[str, Any]]] = {}
    for s in muni.students:
        members.setdefault(s.group_id, []).append({"person": {"id": s.id}, "startDate": start, "endDate": end})
    groups = [{"id": g.id, "displayName": g.name, "groupType": "Klass",
               "schoolType": "GRS" if units[g.unit_id].special else "GR", "organisation": {"id": g.unit_id},
               "startDate": start, "endDate": end, "groupMemberships": members.get(g.id, []), "meta": meta}
              for g in muni.groups]

    duties = [{"id": t.duty_id, "person": {"id": t.id}, "dutyAt": {"id": t.unit_id}, "dutyRole": "Lärare",
               "startDate": start, "meta": meta} for t in muni.teachers]
    duties += [{"id": p.duty_id, "person": {"id": p.id}, "dutyAt": {"id": p.unit_id}, "dutyRole": "Rektor",
                "startDate": start, "meta": meta} for p in muni.principals]

    subjects = sorted({a.subject_code for a in muni.assignments} | set(LANGUAGES))
    syllabuses = [{"id": f"syllabus-{code}", "subjectCode": code, "subjectName": subject_name(code),
                   "schoolType": "GR"} for code in subjects]

    duty_of = {t.id: t.duty_id for t in muni.teachers}
    group_of = {g.id: g for g in muni.groups}
    activities = [{
        "id": a.id, "displayName": f"{group_of[a.group_id].name} {subject_name(a.subject_code)}",
        "activityType": "Undervisning", "groups": [{"id": a.group_id}],
        "teachers": [{"duty": {"id": duty_of[a.teacher_id]}, "startDate": start}],
        "syllabus": {"id": f"syllabus-{a.subject_code}"}, "organisation": {"id": group_of[a.group_id].unit_id},
        "startDate": start, "endDate": end, "meta": meta} for a in muni.assignments]
    return {"organisations": organisations, "persons": persons, "groups": groups, "duties": duties,
            "syllabuses": syllabuses, "activities": activities}


def write_dump(muni: Municipality, folder: Path) -> dict[str, int]:
    """Write the dump into `folder` (created if missing); the number of items per file."""
    folder.mkdir(parents=True, exist_ok=True)
    counts = {}
    for entity, items in dump(muni).items():
        (folder / f"{entity}.json").write_text(json.dumps({"data": items}, ensure_ascii=False, indent=1),
                                               encoding="utf-8")
        counts[entity] = len(items)
    return counts

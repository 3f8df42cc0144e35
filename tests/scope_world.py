"""A small world of two organisers for the least-privilege rounds (hostile round 35): every school unit, area, group
and student carries an id no other carries, so an answer can be searched for what lies outside a token's scope.

Organiser 2999 (A): area north (units 41110001, 41110002), area south (41110003). Organiser 3001 (B): area west
(43330004). Each unit has group 7A of 12 students and 7B of 4 (a small group), half girls, half boys; results in
two rounds (41110002 dips in the second: an alert), forecasts, support interventions and a LIKA self-assessment.
Student ids are `elev-<unit letter><group>-NN` (unit letters a, b, c, d in the order above), so `elev-b7` is every
student of 41110002. `fed` applies it to a reporting database through the handler registry, as the consumer would.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any
from uuid import NAMESPACE_URL, uuid5

from styrkedja_contracts import (
    AssessmentPublishedV1,
    ForecastSubmittedV1,
    GroupMembershipUpsertedV1,
    OrganisationUnitUpsertedV1,
    TeachingAssignmentUpsertedV1,
    forecast_id_for,
    new_event,
)
from styrkedja_contracts.events.lika import LikaSelfAssessmentPublishedV1
from styrkedja_contracts.events.support import SupportInterventionRecordedV1
from support import decision

A, B = "2999", "3001"
#: area → organiser
AREAS = {"north-q": A, "south-q": A, "west-q": B}
#: school unit code → (area, organiser, the letter of its students' ids)
UNITS = {"41110001": ("north-q", A, "a"), "41110002": ("north-q", A, "b"), "41110003": ("south-q", A, "c"),
         "43330004": ("west-q", B, "d")}
#: group → students in it, in every unit
GROUPS = {"7A": 12, "7B": 4}
SUBJECT, YEAR, TERM = "GRGRMAT01", "2026/27", "HT"
PERIOD = {"school_year": YEAR, "term": TERM, "subject_code": SUBJECT}
T0 = datetime(2026, 9, 1, 8, 0, tzinfo=UTC)
TOPIC = {"assessment": "styrkedja.assessments", "organisation": "styrkedja.organisation",
         "forecast": "styrkedja.forecasts", "support": "styrkedja.support", "lika": "styrkedja.lika"}


def students(code: str, group: str) -> list[str]:
    return [f"elev-{UNITS[code][2]}{group}-{n:02d}" for n in range(GROUPS[group])]


def teacher(code: str, group: str) -> str:
    return f"larare-{UNITS[code][2]}{group}"


def _unit(kind: str, unit_id: str, organiser: str, parent: str | None, code: str | None = None,
          year: int | None = None) -> Any:
    return new_event(OrganisationUnitUpsertedV1(
        unit_type=kind, unit_id=unit_id, organiser_id=organiser, parent_id=parent, name=f"{kind} {unit_id}",
        school_unit_code=code, year=year, updated_at=T0), source="/scope-world")


def _value(code: str, n: int, round_: int) -> str:
    if round_ == 2 and code == "41110002":
        return "F"  # the dip
    return "CDEFAB"[n % 6] if round_ == 1 else "CCDDAB"[n % 6]


def events() -> list[Any]:
    log: list[Any] = []
    for organiser in (A, B):
        log.append(_unit("organiser", organiser, organiser, None))
    for area, organiser in AREAS.items():
        log.append(_unit("area", area, organiser, organiser))
    for code, (area, organiser, _) in UNITS.items():
        log.append(_unit("school_unit", f"su-{code}", organiser, area, code))
        for group in GROUPS:
            log.append(_unit("group", group, organiser, f"su-{code}", code, 7))
            log.append(new_event(TeachingAssignmentUpsertedV1(
                assignment_id=f"ta-{code}-{group}", organiser_id=organiser, school_unit_code=code, group_id=group,
                teacher_id=teacher(code, group), subject_code=SUBJECT, start_date=date(2026, 8, 15),
                updated_at=T0), source="/scope-world"))
    for code, (_, organiser, _) in UNITS.items():
        for group in GROUPS:
            for n, student in enumerate(students(code, group)):
                log.append(_student_events(code, organiser, group, student, n))
    flat: list[Any] = []
    for item in log:
        flat.extend(item if isinstance(item, list) else [item])
    for code, (_, organiser, letter) in UNITS.items():
        flat.append(new_event(LikaSelfAssessmentPublishedV1(
            self_assessment_id=uuid5(NAMESPACE_URL, f"scope-world/lika/{code}"), organiser_id=organiser,
            school_unit_code=code, school_form="grundskola", respondent_role="rektor", catalogue_version="2026.1",
            ratings=[{"indicator_id": "L1", "area": "ledning", "rating": "PLANNED", "comment": f"om L1 {letter}"}],
            published_at=T0), source="/scope-world"))
    return flat


def _student_events(code: str, organiser: str, group: str, student: str, n: int) -> list[Any]:
    gender = "female" if n % 2 else "male"
    out: list[Any] = [new_event(GroupMembershipUpsertedV1(
        membership_id=f"m-{student}", organiser_id=organiser, school_unit_code=code, group_id=group,
        student_id=student, start_date=date(2026, 8, 15), updated_at=T0), source="/scope-world")]
    for round_ in (1, 2):
        value = _value(code, n, round_)
        out.append(new_event(AssessmentPublishedV1(
            assessment_id=uuid5(NAMESPACE_URL, f"scope-world/{student}/{round_}"), revision=1, organiser_id=organiser,
            school_unit_code=code, group_id=group, student_id=student, teacher_id=teacher(code, group),
            gender=gender, year=7, subject_code=SUBJECT, kind="assessment", scale="AF", value=value,
            unmet_criteria=("Taluppfattning",) if value == "F" else (), school_year=YEAR, term=TERM, round=round_,
            assessed_on=date(2026, 9, 20) + timedelta(days=30 * round_),
            published_at=T0 + timedelta(days=30 * round_)), source="/scope-world"))
    out.append(new_event(ForecastSubmittedV1(
        forecast_id=forecast_id_for(organiser, student, SUBJECT, YEAR, TERM), revision=1, organiser_id=organiser,
        school_unit_code=code, group_id=group, student_id=student, teacher_id=teacher(code, group), gender=gender,
        year=7, subject_code=SUBJECT, school_year=YEAR, term=TERM,
        value="NOT_REACHED" if n % 3 == 0 else "ACCEPTABLE", submitted_at=T0 + timedelta(days=50),
        window_deadline=date(2026, 10, 23), late=False), source="/scope-world"))
    if n % 3 == 0:
        kind = "extra_adjustment" if n % 2 else "special_support"
        start = date(2026, 9, 1)
        out.append(new_event(SupportInterventionRecordedV1(
            intervention_id=uuid5(NAMESPACE_URL, f"scope-world/support/{student}"), revision=1,
            organiser_id=organiser, school_unit_code=code, group_id=group, student_id=student, subject_code=SUBJECT,
            kind=kind, status="decided", start_date=start, recorded_at=T0, **decision(kind, "decided", start)),
            source="/scope-world"))
    return out


async def fed(database_url: str) -> None:
    """The world applied to reporting's database at `database_url`, in batches of 200 as the consumer would."""
    from styrkedja_kit.consumer import Delivered
    from styrkedja_kit.db import Database
    from styrkedja_reporting.main import handler_registry

    database, handler = Database(database_url), handler_registry()
    log = events()
    try:
        for start in range(0, len(log), 200):
            delivered = [Delivered(e, TOPIC[e.type.split(".")[2]], 0, start + n)
                         for n, e in enumerate(log[start:start + 200])]
            async with database.sessions.begin() as session:
                await handler(session, delivered)
    finally:
        await database.dispose()


def lika_drafts(client: Any, mint: Any) -> dict[str, str]:
    """A LIKA self-assessment per unit of 41110001, 41110002 (organiser 2999) and 43330004 (3001), each rated with a
    comment naming its unit's letter (`kommentar-b`), written by its organiser's head of education through the LIKA
    service's API (drafts: a draft is read by the unit's own readers alone). School unit code → its id."""
    ids: dict[str, str] = {}
    for code in ("41110001", "41110002", "43330004"):
        organiser, letter = UNITS[code][1], UNITS[code][2]
        auth = {"authorization": "Bearer " + mint(roles=["organiser_admin"], organisers=[organiser])}
        created = client.post("/v1/self-assessments", headers=auth, json={
            "organiser_id": organiser, "school_unit_code": code, "school_form": "grundskola",
            "respondent_role": "rektor", "catalogue_version": "2026.2"})
        assert created.status_code == 201, created.text
        ids[code] = created.json()["self_assessment_id"]
        rated = client.patch(f"/v1/self-assessments/{ids[code]}/ratings", headers=auth, json={"ratings": [
            {"indicator_id": "GR-LED-01", "rating": "ACHIEVED", "comment": f"kommentar-{letter}"}]})
        assert rated.status_code == 200, rated.text
    return ids


@dataclass(frozen=True)
class Narrow:
    """A narrow token's claims, and the strings no answer to it may hold (ids outside its scope)."""

    label: str
    claims: dict[str, Any]
    forbidden: tuple[str, ...]
    #: figures withheld where small at every level (the politician's and the public's)
    suppressed: bool = False
    #: writes for any organiser (ops' admin endpoints: `WriteReach.ANYWHERE`)
    writes_outside: bool = False


def _unit_strings(*codes: str) -> tuple[str, ...]:
    return tuple(s for code in codes for s in (code, f"elev-{UNITS[code][2]}7", f"kommentar-{UNITS[code][2]}"))


#: every student's id (`elev-a7A-00`; not `elev-`: the dashboard's "elev-id" is a word)
EVERY_STUDENT = tuple(f"elev-{letter}7" for _, _, letter in UNITS.values())
OTHER_ORGANISER = ("43330004", "elev-d7", "kommentar-d", "west-q")


def narrow_tokens() -> list[Narrow]:
    """Each reading role DESIGN.md names, of the narrowest scope, and the strings it must never read."""
    return [
        Narrow("principal of 41110001", {"roles": ["principal"], "organisers": [A], "school_units": ["41110001"]},
               _unit_strings("41110002", "41110003", "43330004") + ("south-q", "west-q")),
        Narrow("teacher of 41110001/7A", {"roles": ["teacher"], "organisers": [A], "groups": ["41110001/7A"]},
               _unit_strings("41110002", "41110003", "43330004") + ("elev-a7B", "41110001/7B", "south-q", "west-q")),
        Narrow("ICT coordinator of 41110001", {"roles": ["ict_coordinator"], "organisers": [A],
                                               "school_units": ["41110001"]},
               EVERY_STUDENT + _unit_strings("41110002", "41110003", "43330004") + ("/7A", "/7B")),
        Narrow("area manager of north", {"roles": ["area_manager"], "organisers": [A], "areas": ["north-q"]},
               EVERY_STUDENT + _unit_strings("41110003", "43330004") + ("south-q", "west-q")),
        Narrow("head of education of 2999", {"roles": ["organiser_admin"], "organisers": [A]}, OTHER_ORGANISER),
        Narrow("politician of 2999", {"roles": ["politician"], "organisers": [A]},
               EVERY_STUDENT + OTHER_ORGANISER + ("/7A", "/7B"), suppressed=True),
        Narrow("the public", {"roles": ["public"], "organisers": []},
               EVERY_STUDENT + ("41110001", "41110002", "41110003", "43330004", "/7A", "/7B"), suppressed=True),
        Narrow("platform of 2999", {"roles": ["platform"], "organisers": [A], "client_id": "scope-platform"},
               EVERY_STUDENT + OTHER_ORGANISER),
        Narrow("ops", {"roles": ["ops"], "organisers": []}, EVERY_STUDENT, writes_outside=True),
    ]

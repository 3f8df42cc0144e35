"""Students at risk name only the reader's own organisers' students (hostile round 23a).

Found and fixed: the list of one school unit read every fact at that school unit code, whatever organiser it was
published for. A school unit code is Skolverket's and the same under any organiser: facts another organiser's
platform published for it (the school before a change of organiser, or a platform's mistake) were listed, with
their pseudonymous student ids, subjects below pass and support, to the principal and the organiser admin of the
organiser the unit is placed under — another organiser's students, which no other read of reporting shows them."""

from __future__ import annotations

from datetime import date, timedelta
from uuid import uuid5

import pytest

from styrkedja_contracts import AssessmentPublishedV1, SupportInterventionRecordedV1, new_event
from styrkedja_kit.db import Database
from support import decision

from .test_answers_other_reads import Feed
from .test_directory import NS, T0, Feeder, directory

pytestmark = [pytest.mark.integration, pytest.mark.postgres_only]

ORG, OTHER, UNIT = "2999", "3001", "11111111"  # 11111111 is placed under 2999
SUBJECTS = ("GRGRMAT01", "GRGRSVE01", "GRGRENG01")


def failed(organiser: str, student: str, subject: str):
    return new_event(AssessmentPublishedV1(
        assessment_id=uuid5(NS, f"risk-org-{organiser}-{student}-{subject}"), revision=1, organiser_id=organiser,
        school_unit_code=UNIT, group_id="7A", student_id=student, teacher_id="t-1", gender="female", year=7,
        subject_code=subject, kind="assessment", scale="AF", value="F", unmet_criteria=("Taluppfattning",),
        school_year="2026/27", term="HT", round=1, assessed_on=date(2026, 9, 30),
        published_at=T0 + timedelta(minutes=1)), source="/test")


def supported(organiser: str, student: str):
    return new_event(SupportInterventionRecordedV1(
        intervention_id=uuid5(NS, f"risk-org-support-{organiser}-{student}"), revision=1, organiser_id=organiser,
        school_unit_code=UNIT, group_id="7A", student_id=student, subject_code="GRGRMAT01", kind="extra_adjustment",
        status="decided", start_date=date(2026, 9, 1), recorded_at=T0,
        **decision("extra_adjustment", "decided", date(2026, 9, 1))), source="/test")


@pytest.fixture
async def fed(settings):
    database = Database(settings.database_url)
    await Feeder(database)(directory() + [failed(ORG, "s-own", s) for s in SUBJECTS]
                           + [failed(OTHER, "s-other", s) for s in SUBJECTS])
    await Feed(database)(supported(OTHER, "s-own"))
    yield database
    await database.dispose()


async def test_the_list_holds_the_readers_organisers_students_only(fed, bare_client, token_issuer):
    # failed before: s-other (published for 3001) was listed to 2999's principal and admin, and s-own carried the
    # support 3001 recorded under the same pseudonymous id
    params = {"school_year": "2026/27", "term": "HT"}
    for claims in ({"roles": ["principal"], "school_units": [UNIT]}, {"roles": ["organiser_admin"]}):
        headers = {"Authorization": "Bearer " + token_issuer.mint(organisers=[ORG], **claims)}
        listed = await bare_client.get(f"/v1/school-units/{UNIT}/students-at-risk", params=params, headers=headers)
        assert listed.status_code == 200, listed.text
        assert [(s["student_id"], s["active_support"]) for s in listed.json()] == [("s-own", [])], claims

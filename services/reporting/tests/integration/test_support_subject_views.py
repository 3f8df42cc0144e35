"""A support count read for one subject and for every subject, withheld alike (hostile round 24a).

Found and fixed: the support figures were decided per subject asked for (`subject_code`, or none: every subject),
each view alone. A politician read north's 3 students with special support in mathematics withheld (with south's 12
as its complement), north's 12 in Swedish and its 15 in any subject shown: 15 − 12 = 3, exactly where no student has
support in two subjects (the organiser's 30 + 39 = 69 said so). Now a family read by subject is one decision over
every subject's view and the every-subject one, tied by `every subject = Σ each subject` where it holds
(`support.disclose.VIEWED_BY_SUBJECT`).

Three areas of one organiser, one school unit and group each; students with special support in mathematics and in
Swedish (none in both): north 3 and 12, south 12 and 12, east 15 and 15."""

from __future__ import annotations

from datetime import date
from uuid import uuid5

import pytest

from styrkedja_contracts import new_event
from styrkedja_contracts.events.support import SupportInterventionRecordedV1
from styrkedja_kit.db import Database
from support import decision

from .test_directory import NS, T0, membership, unit
from .test_support import feed

pytestmark = [pytest.mark.integration, pytest.mark.postgres_only]

ORG = "2999"
AREAS = {"north": ("11111111", 3, 12), "south": ("22222222", 12, 12), "east": ("33333333", 15, 15)}
MATHS, SWEDISH = "GRGRMAT01", "GRGRSVE01"


def _support(code: str, student: str, subject: str) -> object:
    return new_event(SupportInterventionRecordedV1(
        intervention_id=uuid5(NS, f"views-{student}-{subject}"), revision=1, organiser_id=ORG, school_unit_code=code,
        group_id="7A", student_id=student, subject_code=subject, kind="special_support", status="decided",
        start_date=date(2026, 9, 1), recorded_at=T0, **decision("special_support", "decided", date(2026, 9, 1))),
        source="/test")


@pytest.fixture
async def fed(settings):
    database = Database(settings.database_url)
    events = [unit("organiser", ORG, ORG, None)]
    for area, (code, maths, swedish) in AREAS.items():
        events += [unit("area", area, ORG, ORG), unit("school_unit", f"su-{area}", ORG, area, code=code),
                   unit("group", "7A", ORG, f"su-{area}", code=code, year=7)]
        for i in range(maths + swedish):
            events += [membership(f"m-{area}-{i}", ORG, code, "7A", f"s-{area}-{i}", date(2026, 8, 17)),
                       _support(code, f"s-{area}-{i}", MATHS if i < maths else SWEDISH)]
    await feed(database, [events])
    yield database
    await database.dispose()


async def _special_support(client, headers, subject: str | None) -> dict[str, object]:
    out = {}
    for area in AREAS:
        params = {"level": "area", "unit_id": area, "organiser_id": ORG} | ({"subject_code": subject} if subject else {})
        response = await client.get("/v1/support/summary", headers=headers, params=params)
        assert response.status_code == 200, response.text
        out[area] = response.json()["students_with_kind_active"]["special_support"]
    return out


async def test_no_subjects_count_is_the_every_subject_count_less_the_others(fed, bare_client, token_issuer):
    politician = {"Authorization": "Bearer " + token_issuer.mint(roles=["politician"], organisers=[ORG])}
    maths = await _special_support(bare_client, politician, MATHS)
    swedish = await _special_support(bare_client, politician, SWEDISH)
    every = await _special_support(bare_client, politician, None)
    assert maths["north"] is None
    for area in AREAS:
        if maths[area] is None:  # withheld: not the every-subject count less Swedish's
            assert every[area] is None or swedish[area] is None, (area, maths, swedish, every)
    # the organiser admin still reads every view exactly
    admin = {"Authorization": "Bearer " + token_issuer.mint(roles=["organiser_admin"], organisers=[ORG])}
    assert await _special_support(bare_client, admin, MATHS) == {a: m for a, (_, m, _) in AREAS.items()}
    assert await _special_support(bare_client, admin, None) == {a: m + s for a, (_, m, s) in AREAS.items()}

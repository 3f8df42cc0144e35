"""A rebuild reads the topics as they are: events written when organiser ids were kept as given
(`2120001234`), keyed so, beside events in the one spelling (`212000-1234`). Every one of them is staged,
none dead-lettered, and every staged fact and event names the organiser in the one spelling, so that they
fold into one organiser's aggregates. Failed on the old code: staged as two organisers."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime
from uuid import UUID

from styrkedja_contracts import AssessmentPublishedV1, OrganisationUnitUpsertedV1, new_event
from styrkedja_reporting.rebuild.bulk import decoded_and_staged

T0 = datetime(2026, 10, 1, 8, tzinfo=UTC)


def record(event, spelling: str, offset: int) -> tuple[str, int, int, bytes, int | None, bytes | None]:
    doc = json.loads(event.to_bytes())
    doc["data"]["organiser_id"] = spelling
    topic = "styrkedja.assessments" if "assessment" in event.type else "styrkedja.organisation"
    return topic, 0, offset, json.dumps(doc).encode(), int(T0.timestamp() * 1000), spelling.encode()


def assessment(n: int):
    return new_event(AssessmentPublishedV1(
        assessment_id=UUID(int=n), revision=1, organiser_id="212000-1234", school_unit_code="44444444",
        group_id="7A", student_id=f"s-{n}", teacher_id="t-1", gender="female", year=7, subject_code="GRGRMAT01",
        kind="assessment", scale="AF", value="C", school_year="2026/27", term="HT", round=1,
        assessed_on=date(2026, 9, 30), published_at=T0), source="/test", time=T0)


def test_events_in_either_spelling_and_keyed_so_are_staged_as_one_organiser():
    unit = new_event(OrganisationUnitUpsertedV1(unit_type="organiser", unit_id="org", organiser_id="212000-1234",
                                                name="Huvudmannen", updated_at=T0), source="/test", time=T0)
    raw = [record(assessment(1), "2120001234", 0), record(assessment(2), "212000-1234", 1),
           record(unit, "2120001234", 2)]
    staged = decoded_and_staged(raw, 0, 1 << 20)
    assert staged.dead == [] and staged.read == 3
    organisers = {value for row in staged.assessments for value in row if value in ("2120001234", "212000-1234")}
    assert len(staged.assessments) == 2 and organisers == {"212000-1234"}
    assert [item.event.data.organiser_id for _, item in staged.small] == ["212000-1234"]

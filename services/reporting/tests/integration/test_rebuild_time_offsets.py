"""Hostile inputs, round 25 (b): a time whose UTC offset PostgreSQL cannot read as text, in the rebuild's COPY.

The contracts take any UTC offset Python's datetime holds (RFC 3339's `time-numoffset`: up to ±23:59), a platform
producing straight to Kafka can send `2026-11-16T20:00:00+20:00`; PostgreSQL reads a time zone displacement as text
up to ±15:59 only ("time zone displacement out of range"). Reporting hands times to PostgreSQL as text in two places:
the rows it sends as one JSON text (`staging.json_rows`: the live handlers' batches, compliance's round reports among
them) and the rebuild's COPY text of its facts' staging rows — each time as the event wrote it (`isoformat`). Such an
event failed the live batch (applied alone, then dead-lettered as `handler_failed`: lost) and stopped the rebuild
(no rebuild possible while the event is on the topic). Now such a time goes as the same instant in UTC
(`staging.timestamptz_text`). Failed on the old code, as said at each test.
"""

from __future__ import annotations

import random
from datetime import UTC, date, datetime, timedelta, timezone

import pytest

from styrkedja_contracts import forecast_id_for, new_event
from styrkedja_contracts.events.assessment import AssessmentPublishedV1
from styrkedja_contracts.events.forecast import ForecastSubmittedV1
from styrkedja_kit.db import Database
from styrkedja_reporting.rebuild.bulk import APPLIED, OFFSETS, copy_text

from .test_batch_split import CODES, NS, ORG, in_batches, loop_on
from .test_rebuild import database_rows, full_log, rebuilt_from_records

pytestmark = [pytest.mark.integration, pytest.mark.postgres_only]

#: offsets RFC 3339 and the contracts take that PostgreSQL does not read as text
FAR = (timezone(timedelta(hours=16)), timezone(timedelta(hours=23, minutes=59)), timezone(-timedelta(hours=20)))


def _far_events() -> list:
    out = []
    for n, zone in enumerate(FAR):
        at = datetime(2026, 10, 20, 12, 0, tzinfo=UTC).astimezone(zone)
        out.append(new_event(AssessmentPublishedV1(
            assessment_id=NS.__class__(int=NS.int + 1000 + n), revision=1, organiser_id=ORG, school_unit_code=CODES[0],
            group_id="7A", student_id=f"s-far-{n}", teacher_id="t-1", gender="male", year=7, subject_code="GRGRMAT01",
            kind="assessment", scale="AF", value="C", unmet_criteria=(), school_year="2026/27", term="HT", round=1,
            assessed_on=date(2026, 10, 13), published_at=at), source="/t", time=at))
        out.append(new_event(ForecastSubmittedV1(
            forecast_id=forecast_id_for(ORG, f"s-far-{n}", "GRGRMAT01", "2026/27", "HT"),
            revision=1, organiser_id=ORG, school_unit_code=CODES[0],
            group_id="7A", student_id=f"s-far-{n}", teacher_id="t-1", gender="male", year=7, subject_code="GRGRMAT01",
            value="ACCEPTABLE", school_year="2026/27", term="HT", submitted_at=at, window_deadline=date(2026, 10, 23),
            late=False), source="/t", time=at))
    return out


def test_copy_text_writes_a_time_postgresql_cannot_read_as_text_in_utc() -> None:
    """Failed on the old code: `+16:00` as it came."""
    at = datetime(2026, 10, 20, 12, 0, tzinfo=UTC)
    for zone in FAR:
        line = copy_text([(at.astimezone(zone),)]).decode()
        assert line == "2026-10-20T12:00:00+00:00\n", line
    assert copy_text([(at.astimezone(timezone(timedelta(hours=15, minutes=59))),)]) == b"2026-10-21T03:59:00+15:59\n"


@pytest.fixture
def database_urls(fresh_database) -> dict[str, str]:
    return {way: fresh_database("styrkedja_reporting") for way in ("incremental", "rebuild")}


@pytest.mark.parametrize("as_text", [True, False], ids=["as COPY text", "as tuples"])
async def test_events_with_far_utc_offsets_are_rebuilt_as_the_live_consumer_applies_them(settings, database_urls,
                                                                                         as_text):
    """Failed on the old code: the live apply's batch failed on the compliance handler's cast of the time (its rows go
    as JSON text), and the rebuild's COPY on the staging row's."""
    log = full_log()
    far = _far_events()
    log = log[:40] + far + log[40:]
    random.Random(25).shuffle(log[40:])
    dbs = {way: Database(url) for way, url in database_urls.items()}
    try:
        await in_batches(loop_on(settings, dbs["incremental"]), log, 25)
        report = await rebuilt_from_records(dbs["rebuild"], log, as_text=as_text)
        assert report.failed == [] and report.applied == len({event.id for event in log})
        reference, found = await database_rows(dbs["incremental"]), await database_rows(dbs["rebuild"])
        for table, expected in reference.items():
            if table == APPLIED:
                assert {row[0] for row in found[table]} == {row[0] for row in expected}
            elif table != OFFSETS:
                assert found[table] == expected, (table, found[table] - expected, expected - found[table])
    finally:
        for db in dbs.values():
            await db.dispose()

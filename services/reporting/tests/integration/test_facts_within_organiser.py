"""A record is identified within its organiser: (organiser, id), never the id alone (round 24b).

Reporting found assessments, forecasts, support interventions, compliance's round reports and LIKA's self-assessments
and action plans by their id alone. A
revision or retraction produced straight to Kafka under ANOTHER organiser's id and message key (topics are keyed by
organiser: another partition, consumed before or after) took the record over — moved it, and organiser A's figures,
to organiser B. The producers never do this (their natural keys hold the organiser), a client writing to Kafka may.

Now B's events are B's own records: A's rows in every derived table are those of A's log alone, whichever side is
consumed first, the whole database equals the recomputation from the facts, and the rebuild of the same log makes the
live apply's tables row for row."""

from __future__ import annotations

import random
from collections import Counter
from datetime import timedelta
from uuid import uuid5

import pytest
from sqlalchemy import text

from styrkedja_contracts import forecast_id_for, new_event
from styrkedja_contracts.events.assessment import AssessmentPublishedV1, AssessmentRetractedV1
from styrkedja_contracts.events.forecast import ForecastSubmittedV1, ForecastWithdrawnV1
from styrkedja_contracts.events.lika import LikaActionPlanChangedV1, LikaSelfAssessmentPublishedV1
from styrkedja_contracts.events.organisation import OrganisationUnitUpsertedV1
from styrkedja_contracts.events.support import (
    InterventionStatus,
    SupportInterventionRecordedV1,
    SupportInterventionRetractedV1,
)
from styrkedja_kit.db import Database
from styrkedja_reporting.metadata import metadata
from styrkedja_reporting.ops.queries import consistency_of
from styrkedja_reporting.rebuild import bulk
from styrkedja_reporting.rebuild.bulk import OFFSETS, derived_tables
from support import decision

from .test_batch_split import CODES, NS, ORG, T0, in_batches, loop_on
from .test_rebuild import database_rows, full_log, organiser_runs, rebuilt

pytestmark = [pytest.mark.integration, pytest.mark.postgres_only]

OTHER = "2999"  # organiser B
OTHER_CODE = "44444444"  # B's school unit


def _other_directory() -> list:
    return [new_event(OrganisationUnitUpsertedV1(organiser_id=OTHER, unit_type="organiser", unit_id=OTHER,
                                                 parent_id=None, name="B", school_unit_code=None, updated_at=T0),
                      source="/b"),
            new_event(OrganisationUnitUpsertedV1(organiser_id=OTHER, unit_type="school_unit", unit_id="su-b",
                                                 parent_id=OTHER, name="B su", school_unit_code=OTHER_CODE,
                                                 updated_at=T0), source="/b")]


def _lika(organiser: str, code: str, revision: int, status: str) -> list:
    """A self-assessment and a revision of its action plan, under one id whoever the organiser."""
    common = dict(self_assessment_id=uuid5(NS, "lika-shared"), organiser_id=organiser, school_unit_code=code,
                  school_form="grundskola", catalogue_version="2026.1")
    return [new_event(LikaSelfAssessmentPublishedV1(
        **common, respondent_role="rektor", published_at=T0 + timedelta(minutes=revision),
        ratings=({"indicator_id": "L1", "area": "ledning", "rating": "ACHIEVED"},)), source="/t"),
        new_event(LikaActionPlanChangedV1(**common, revision=revision, changed_at=T0 + timedelta(minutes=revision),
                                          items=({"activity_id": "a1", "indicator_id": "L1", "area": "ledning",
                                                  "position": 1, "title": "Aktivitet", "status": status,
                                                  "priority": 1},)), source="/t")]


def _under_other(data, revision: int):
    return data.model_copy(update={"organiser_id": OTHER, "school_unit_code": OTHER_CODE, "revision": revision,
                                   "student_id": f"b-{data.student_id}"})


def takeovers(log: list, seed: int = 24) -> list:
    """B's events under ids of A's records: higher revisions of assessments, forecasts and interventions (in B's
    school unit, of B's students, another value), and retractions and withdrawals of others. (B's students are its
    own: a student id names one student across organisers — forecast against outcome and merit follow a student
    who changes organiser —, so results of A's students under B would count in A's linked figures by design.)"""
    rnd = random.Random(seed)
    firsts: dict = {}
    for event in log:
        data = event.data
        fact_id = next((getattr(data, n) for n in ("assessment_id", "forecast_id", "intervention_id")
                        if hasattr(data, n)), None)
        if fact_id is not None and event.type in (AssessmentPublishedV1.event_type, ForecastSubmittedV1.event_type,
                                                  SupportInterventionRecordedV1.event_type):
            firsts.setdefault(fact_id, event)
    out: list = []
    for fact_id in sorted(firsts, key=str):
        event, pick = firsts[fact_id], rnd.random()
        data = event.data
        if pick > 0.35:
            continue
        if event.type == AssessmentPublishedV1.event_type:
            if pick < 0.2:
                value = "F" if data.value != "F" else "A"
                out.append(new_event(_under_other(data, 9).model_copy(update={"value": value}), source="/b"))
            else:
                out.append(new_event(AssessmentRetractedV1(
                    assessment_id=fact_id, revision=10, organiser_id=OTHER, school_unit_code=OTHER_CODE,
                    group_id=data.group_id, student_id=f"b-{data.student_id}", subject_code=data.subject_code,
                    school_year=data.school_year, term=data.term, round=data.round,
                    retracted_at=T0 + timedelta(days=40)), source="/b"))
        elif event.type == ForecastSubmittedV1.event_type:
            # a forecast's id is its key's (`derived_from_key`, on the submission since round 29r, the withdrawal
            # since 30a): an event under A's id and B's key is refused by the decode, never applied. B's events here
            # carry the ids of B's keys, and are B's own records, as the others'
            own = forecast_id_for(OTHER, f"b-{data.student_id}", data.subject_code, data.school_year, data.term)
            if pick < 0.2:
                out.append(new_event(_under_other(data, 9).model_copy(update={"forecast_id": own}), source="/b"))
            else:
                out.append(new_event(ForecastWithdrawnV1(
                    forecast_id=own, revision=10, organiser_id=OTHER, school_unit_code=OTHER_CODE,
                    group_id=data.group_id, student_id=f"b-{data.student_id}", subject_code=data.subject_code,
                    school_year=data.school_year, term=data.term, withdrawn_at=T0 + timedelta(days=40)), source="/b"))
        elif pick < 0.2:
            closed = {"status": InterventionStatus.closed, **decision(data.kind, "closed", data.start_date)}
            out.append(new_event(_under_other(data, 9).model_copy(update=closed), source="/b"))
        else:
            out.append(new_event(SupportInterventionRetractedV1(
                intervention_id=fact_id, revision=10, organiser_id=OTHER, school_unit_code=OTHER_CODE,
                group_id=data.group_id, student_id=f"b-{data.student_id}", subject_code=data.subject_code, kind=data.kind,
                retracted_at=T0 + timedelta(days=40)), source="/b"))
    kinds = Counter(e.type.split(".")[-2] for e in out)
    assert min(kinds.values()) >= 3 and len(kinds) == 6, kinds  # every kind of takeover, several times
    return out + _lika(OTHER, OTHER_CODE, 5, "done")


async def rows_of(db: Database, organiser: str) -> dict[str, Counter]:
    """One organiser's rows of every derived table that has an organiser (volatile columns left out)."""
    every = await database_rows(db)
    out: dict[str, Counter] = {}
    for name in derived_tables():
        columns = [c.name for c in metadata.tables[name].columns if c.name not in ("applied_at", "updated_at",
                                                                                    "changed_at")]
        if "organiser_id" in columns:
            at = columns.index("organiser_id")
            out[name] = Counter({row: n for row, n in every[name].items() if row[at] == organiser})
    return out


async def consistent(db: Database) -> None:
    async with db.sessions() as session:
        found = await consistency_of(session)
    assert found.consistent, str(found.model_dump())


@pytest.fixture
def urls(fresh_database) -> dict[str, str]:
    return {way: fresh_database("styrkedja_reporting") for way in ("alone", "B first", "B last", "rebuild")}


async def test_another_organiser_s_events_under_a_s_ids_never_touch_a_s_records_live_or_rebuilt(settings, urls):
    log = full_log()
    log = log[:6] + _lika(ORG, CODES[0], 1, "planned") + log[6:]  # after A's directory (its school units)
    b, directory = takeovers(log), _other_directory()
    dbs = {way: Database(url) for way, url in urls.items()}
    try:
        await in_batches(loop_on(settings, dbs["alone"]), log, 25)
        await in_batches(loop_on(settings, dbs["B first"]), directory + b + log, 25)
        await in_batches(loop_on(settings, dbs["B last"]), directory + log + b, 25)
        await rebuilt(settings, dbs["rebuild"], directory + log + b)

        alone = await rows_of(dbs["alone"], ORG)
        assert alone["figure_pass"] and alone["forecast_aggregates"] and alone["support_aggregates"]
        assert alone["assessment_facts"] and alone["lika_self_assessments"] and alone["lika_action_plans"]
        for way in ("B first", "B last", "rebuild"):
            await consistent(dbs[way])
            found = await rows_of(dbs[way], ORG)
            for table, expected in alone.items():
                assert found[table] == expected, (way, table, found[table] - expected, expected - found[table])
            # B's records are B's own: counted in B's cells
            other = await rows_of(dbs[way], OTHER)
            assert other["assessment_facts"] and other["forecast_facts"] and other["support_facts"]
            assert other["figure_pass"] and other["lika_action_plans"]
            assert other["lika_self_assessments"]
        reference, found_rows = await database_rows(dbs["B last"]), await database_rows(dbs["rebuild"])
        for table, expected in reference.items():
            if table != OFFSETS:
                assert found_rows[table] == expected, (table, found_rows[table] - expected, expected - found_rows[table])
        # the rebuild writes the facts organiser by organiser (`bulk._facts`), though A's and B's share their ids:
        # each organiser's rows one run of the heap, so a read of one organiser (the consistency check's parts)
        # reads its own pages only
        for table in ("assessment_facts", "forecast_facts"):
            runs, organisers = await organiser_runs(dbs["rebuild"], table)
            assert runs == organisers == 2, (table, runs, organisers)
        async with dbs["B first"].sessions() as session:  # one id, two organisers' records
            shared = (await session.execute(text(
                "SELECT count(*) FROM (SELECT assessment_id FROM assessment_facts GROUP BY 1 HAVING count(*) = 2) x"
            ))).scalar_one()
        assert shared == sum(1 for e in b if e.type.startswith("se.styrkedja.assessment."))
    finally:
        for db in dbs.values():
            await db.dispose()


async def test_the_facts_written_in_parts_side_by_side_are_the_rows_of_one_job(settings, fresh_database, monkeypatch):
    """`bulk.Rebuilder._fact_parts`: from FACT_PARTS_FROM staged facts the assessments' facts are written by two jobs
    side by side, a range of organisers each (here A's, then B's, who share their ids), their counted events and run
    times too (`compliance.organisers_within`) — the same rows in every table as the one job's. The key of the facts
    is added after every job that reads them (its lock waited for them holding a connection), and the alerts are
    judged by two jobs of their own, each once the tables it reads are in (after37), before those tables' keys."""
    log = full_log()
    log = log[:6] + _lika(ORG, CODES[0], 1, "planned") + log[6:]
    whole = _other_directory() + log + takeovers(log)
    dbs = {way: Database(fresh_database("styrkedja_reporting")) for way in ("one job", "parts")}
    try:
        one = await rebuilt(settings, dbs["one job"], whole, connections=2)
        monkeypatch.setattr(bulk, "FACT_PARTS_FROM", 0)
        parts = await rebuilt(settings, dbs["parts"], whole, connections=2)
        assert one.counts["fact_parts"] == 1 and parts.counts["fact_parts"] == 2
        assert {"facts.assessment_facts.1", "facts.assessment_facts.2"} <= set(parts.timeline)
        assert "facts.assessment_facts.1" not in one.timeline
        expected, found = await database_rows(dbs["one job"]), await database_rows(dbs["parts"])
        for table, rows in expected.items():
            assert found[table] == rows, (table, found[table] - rows, rows - found[table])
        await consistent(dbs["parts"])
        for report in (one, parts):
            timeline = report.timeline
            for reader in ("figures.pass", "levels.assessment_aggregates", "below_pass", "compliance"):
                assert timeline["keys.assessment_facts"][0] >= timeline[reader][1], (reader, timeline)
            # the pass drops judged once the levels and pass are in (not after every key: after37), their tables'
            # keys after it; the below-forecast cells once the facts' indexes are built, the facts' keys after it
            assert timeline["alerts.judge"][0] >= max(timeline["figures.pass"][1],
                                                      timeline["levels.assessment_aggregates"][1]), timeline
            for table in ("figure_pass", "assessment_aggregates"):
                assert timeline[f"keys.{table}"][0] >= timeline["alerts.judge"][1], (table, timeline)
            assert timeline["alerts.judge.below"][0] >= max(
                timeline["index.ix_assessment_facts_student_newest"][1], timeline["alerts.judge"][1]), timeline
            for table in ("assessment_facts", "forecast_facts"):
                assert timeline[f"keys.{table}"][0] >= timeline["alerts.judge.below"][1], (table, timeline)
            assert {"alerts.judge", "alerts.judge.below", "alerts"} <= set(report.stages)
    finally:
        for db in dbs.values():
            await db.dispose()

"""Issue 16 (apply13): the live alerts and compliance do not depend on how the consumer cuts the log into batches.

One event log — a directory (two areas, three school units, a roster and teaching assignments, an organiser
calendar with round deadlines), results in three rounds of which round 2 dips in mathematics in one school unit
and round 3 recovers in one group, revisions that cross the pass level both ways, retractions (one before what
it retracts), forecasts with revisions and a withdrawal, term grades below the forecasts in one school unit, and
a school unit whose newest result is old (freshness red) — applied through the consumer's transaction
(`ConsumerLoop._apply`) into fresh databases: as one batch, in batches of 7 and of 50, shuffled in batches of 13
with a part delivered again, and by the halving path.

In every database: the active alerts (id, rule, status) are the same, raised and resolved live; judging every
cell again on the final state (`reevaluate_all`, the freshness sweep) changes nothing — the live judgement is the
recomputation's; the compliance items and cells are the same row for row and equal the recomputation.
"""

from __future__ import annotations

import random
from collections import Counter
from datetime import UTC, date, datetime, timedelta
from uuid import UUID, uuid5

import pytest
from sqlalchemy import text

from styrkedja_contracts import (
    AssessmentPublishedV1,
    AssessmentRetractedV1,
    ForecastSubmittedV1,
    ForecastWithdrawnV1,
    GroupMembershipUpsertedV1,
    TeachingAssignmentUpsertedV1,
    forecast_id_for,
    new_event,
)
from styrkedja_contracts.calendar import forecast_window
from styrkedja_contracts.events.calendar import CalendarChangedV1, ReportingCalendar, RoundDeadline
from styrkedja_contracts.events.organisation import OrganisationUnitUpsertedV1
from styrkedja_contracts.identifiers import school_year_bounds, school_year_of
from styrkedja_contracts.scales import Scale, reaches_pass
from styrkedja_kit.consumer import in_time_order
from styrkedja_kit.db import Database
from styrkedja_reporting.alerts import freshness
from styrkedja_reporting.alerts.handlers import forecast_tallies, reevaluate_all
from styrkedja_reporting.compliance.handlers import mismatches as compliance_mismatches
from styrkedja_reporting.figures.forecast_outcome import ForecastTally

from .test_batch_split import delivered, in_batches, loop_on, rows

pytestmark = [pytest.mark.integration, pytest.mark.postgres_only]

NS = UUID("7d3c1a52-0000-4000-8000-0000000a1e13")
ORG = "2996"
UNITS = {"11111111": "area-north", "22222222": "area-south", "33333333": "area-south"}
STALE = "33333333"  # its results are old: freshness red
GROUPS = {"11111111": ("9A", "9B"), "22222222": ("9C",), "33333333": ("9D",)}
MATHS, ENGLISH = "GRGRMAT01", "GRGRENG01"
RECENT = date.today() - timedelta(days=20)  # freshness is judged at the real clock: these stay green
OLD = date.today() - timedelta(days=400)
#: the school year of the recent results, the forecasts and the compliance windows: the one RECENT lies in (an
#: assessment lies in its school year), so that the test holds whatever the date; every time of the log is set
#: from its first autumn, so each report keeps its place against the windows' deadlines (rounds 1 and 2 on time)
YEAR = school_year_of(RECENT)
T0 = datetime(school_year_bounds(YEAR)[0].year, 8, 20, 8, 0, tzinfo=UTC)


def _year(code: str) -> str:
    """The school year of a unit's results: an assessment lies in its school year (`within_school_year`)."""
    return school_year_of(OLD) if code == STALE else YEAR


def _directory() -> list:
    def unit(kind: str, unit_id: str, parent: str | None, code: str | None = None):
        return new_event(OrganisationUnitUpsertedV1(organiser_id=ORG, unit_type=kind, unit_id=unit_id,
                                                    parent_id=parent, name=f"{kind} {unit_id}",
                                                    school_unit_code=code, updated_at=T0), source="/t")

    out = [unit("organiser", ORG, None), unit("area", "area-north", ORG), unit("area", "area-south", ORG)]
    out += [unit("school_unit", f"su-{code}", area, code) for code, area in UNITS.items()]
    calendar = ReportingCalendar(round_deadlines=(RoundDeadline(round=1, term="HT", iso_week=40),
                                                  RoundDeadline(round=2, term="HT", iso_week=50)))
    out.append(new_event(CalendarChangedV1(organiser_id=ORG, revision=1, calendar=calendar, changed_at=T0),
                         source="/t"))
    return out


def _students() -> list[tuple[str, str, str]]:
    """(student, school unit, group): twelve per group."""
    return [(f"s-{code}-{group}-{i}", code, group) for code, groups in GROUPS.items() for group in groups
            for i in range(12)]


def _roster() -> list:
    out = []
    for student, code, group in _students():
        out.append(new_event(GroupMembershipUpsertedV1(
            membership_id=f"m-{student}", organiser_id=ORG, school_unit_code=code, group_id=group,
            student_id=student, start_date=T0.date() - timedelta(days=5), updated_at=T0), source="/t"))
    for code, groups in GROUPS.items():
        for group in groups:
            for subject in (MATHS, ENGLISH):
                out.append(new_event(TeachingAssignmentUpsertedV1(
                    assignment_id=f"a-{code}-{group}-{subject}", organiser_id=ORG, school_unit_code=code,
                    group_id=group, teacher_id=f"t-{group}-{subject}", subject_code=subject, updated_at=T0),
                    source="/t"))
    return out


def _result(aid: UUID, revision: int, value: str, student: str, code: str, group: str, subject: str, round_: int,
            kind: str = "assessment", term: str = "HT"):
    return new_event(AssessmentPublishedV1(
        assessment_id=aid, revision=revision, organiser_id=ORG, school_unit_code=code, group_id=group,
        student_id=student, teacher_id="t-1", gender=("female", "male")[revision % 2], year=9, subject_code=subject,
        kind=kind, scale="AF", value=value, unmet_criteria=("K1",) if value == "F" else (), school_year=_year(code),
        term=term, round=round_, assessed_on=OLD if code == STALE else RECENT,
        published_at=T0 + timedelta(days=round_ * 30, minutes=revision)), source="/t")


def _retraction(aid: UUID, revision: int, student: str, code: str, group: str, subject: str, round_: int,
                term: str = "HT"):
    return new_event(AssessmentRetractedV1(
        assessment_id=aid, revision=revision, organiser_id=ORG, school_unit_code=code, group_id=group,
        student_id=student, subject_code=subject, school_year=_year(code), term=term, round=round_,
        retracted_at=T0 + timedelta(days=round_ * 30, minutes=revision)), source="/t")


def _forecast(student: str, code: str, group: str, value: str, revision: int = 1):
    return new_event(ForecastSubmittedV1(
        forecast_id=forecast_id_for(ORG, student, MATHS, YEAR, "VT"),
        revision=revision, organiser_id=ORG, school_unit_code=code,
        group_id=group, student_id=student, teacher_id="t-1", gender="female", year=9, subject_code=MATHS,
        value=value, school_year=YEAR, term="VT", submitted_at=T0 + timedelta(days=200, minutes=revision),
        window_deadline=forecast_window(YEAR, "VT").deadline, late=revision > 1), source="/t")


def make_log(seed: int) -> list:
    rnd = random.Random(seed)
    log: list = []
    for student, code, group in _students():
        n = int(student.rsplit("-", 1)[1])
        for subject in (MATHS, ENGLISH):
            for round_ in (1, 2, 3):
                # round 2 dips in mathematics in the first school unit; round 3 recovers in its group 9A only
                dips = subject == MATHS and code == "11111111" and (round_ == 2 or (round_ == 3 and group == "9B"))
                final = "F" if dips and n < 8 else rnd.choice("ABCE")
                aid = uuid5(NS, f"a-{student}-{subject}-{round_}")
                revisions = rnd.randint(1, 3)
                for revision in range(1, revisions):  # earlier revisions cross the pass level both ways
                    log.append(_result(aid, revision, rnd.choice("CF"), student, code, group, subject, round_))
                log.append(_result(aid, revisions, final, student, code, group, subject, round_))
                if n == 11 and subject == ENGLISH and round_ == 1:  # retracted (the shuffle may put it first)
                    log.append(_retraction(aid, revisions + 1, student, code, group, subject, round_))
        # a forecast (one revised, one withdrawn), and a term grade: below the forecast in the first school unit
        said = "ACCEPTABLE" if n % 3 else "MORE_THAN_ACCEPTABLE"
        log.append(_forecast(student, code, group, "NOT_REACHED" if n == 5 else said))
        if n == 5:
            log.append(_forecast(student, code, group, said, revision=2))
        if n == 9 and code == "22222222":
            log.append(new_event(ForecastWithdrawnV1(
                forecast_id=forecast_id_for(ORG, student, MATHS, YEAR, "VT"),
                revision=2, organiser_id=ORG, school_unit_code=code,
                group_id=group, student_id=student, subject_code=MATHS, school_year=YEAR, term="VT",
                withdrawn_at=T0 + timedelta(days=201)), source="/t"))
        grade = "F" if code == "11111111" and n < 7 else rnd.choice("BCE")
        log.append(_result(uuid5(NS, f"g-{student}"), 1, grade, student, code, group, MATHS, 4, kind="term_grade",
                           term="VT"))
        if n in (2, 3):  # an earlier round's term grade too: the higher round's counts, unless it is retracted
            log.append(_result(uuid5(NS, f"g3-{student}"), 1, "A" if grade == "F" else "F", student, code, group,
                               MATHS, 3, kind="term_grade", term="VT"))
        if n == 3:
            log.append(_retraction(uuid5(NS, f"g-{student}"), 2, student, code, group, MATHS, 4, term="VT"))
    rnd.shuffle(log)
    return _directory() + _roster() + log


def expected_forecast_tallies(log: list) -> dict[tuple[str, str], ForecastTally]:
    """Forecast against outcome per unit, from the log alone: each forecast's newest revision (not withdrawn)
    against the student's term grade in the subject and term — newest revision, not retracted, the highest
    round, then the highest id."""
    newest: dict = {}
    for event in log:
        key = getattr(event.data, "assessment_id", None) or getattr(event.data, "forecast_id", None)
        if key is not None and (key not in newest or event.data.revision > newest[key].revision):
            newest[key] = event.data
    grades: dict = {}
    for data in newest.values():
        if isinstance(data, AssessmentPublishedV1) and data.kind == "term_grade":
            cell = (data.student_id, data.subject_code, str(data.school_year), data.term)
            if cell not in grades or (data.round, data.assessment_id) > (grades[cell].round, grades[cell].assessment_id):
                grades[cell] = data
    counted: dict[tuple[str, str], Counter] = {}
    for data in newest.values():
        if not isinstance(data, ForecastSubmittedV1):
            continue
        grade = grades.get((data.student_id, data.subject_code, str(data.school_year), data.term))
        said = reaches_pass(Scale.THREE_LEVEL, data.value)
        outcome = ("no_outcome" if grade is None else "held" if reaches_pass(Scale.AF, grade.value) == said
                   else "said_reaches_did_not" if said else "said_not_reached_did")
        for unit in (("group", f"{data.school_unit_code}/{data.group_id}"), ("school_unit", data.school_unit_code),
                     ("area", UNITS[data.school_unit_code]), ("organiser", ORG)):
            counted.setdefault(unit, Counter())[outcome] += 1
    return {unit: ForecastTally(**outcomes) for unit, outcomes in counted.items()}


WAYS = ("one batch", "batches of 7", "shuffled, batches of 13", "halving", "batches of 50")


@pytest.fixture
def database_urls(fresh_database) -> dict[str, str]:
    return {way: fresh_database("styrkedja_reporting") for way in WAYS}


async def active_alerts(db: Database) -> set[tuple[str, str, str, str]]:
    async with db.sessions() as session:
        found = (await session.execute(text(
            "SELECT alert_id, rule, level, status FROM alerts WHERE status <> 'resolved'"))).all()
    return {tuple(str(v) for v in row) for row in found}  # type: ignore[misc]


async def test_alerts_and_compliance_are_the_same_however_the_log_is_batched(settings, database_urls):
    log = make_log(13)
    dbs = {way: Database(url) for way, url in database_urls.items()}
    try:
        await loop_on(settings, dbs["one batch"])._apply(delivered(log), {})
        await in_batches(loop_on(settings, dbs["batches of 7"]), log, 7)
        await in_batches(loop_on(settings, dbs["batches of 50"]), log, 50)
        shuffled = log[:len(_directory()) + len(_roster())] + random.Random(3).sample(
            log[len(_directory()) + len(_roster()):], len(log) - len(_directory()) - len(_roster()))
        loop = loop_on(settings, dbs["shuffled, batches of 13"])
        await in_batches(loop, shuffled, 13)
        await in_batches(loop, shuffled[-200:], 50)  # delivered again: nothing changes
        failed: list = []
        await loop_on(settings, dbs["halving"])._apply_halves(in_time_order(delivered(log)), {}, failed,
                                                               failed_already=True)
        assert failed == []

        tallies = expected_forecast_tallies(log)
        assert tallies[("school_unit", "11111111")].said_reaches_did_not >= 6, tallies
        reference = await active_alerts(dbs["one batch"])
        rules = Counter((rule, level) for _, rule, level, _ in reference)
        # the log raises what it should: pass drops at every level, below forecast, freshness
        assert {("pass_share_drop", level) for level in ("group", "school_unit", "area", "organiser")} <= set(rules), rules
        assert rules[("below_forecast", "school_unit")] >= 1 and rules[("freshness_red", "school_unit")] == 1, rules
        compliance = {t: await rows(dbs["one batch"], t) for t in ("compliance_items", "compliance_cells")}
        assert sum(compliance["compliance_items"].values()) == len(_students()) * 2 * 3  # 2 subjects, 3 windows
        for way, db in dbs.items():
            assert await active_alerts(db) == reference, way
            async with db.sessions.begin() as session:
                # the tallies below forecast is judged on equal those worked out from the log
                assert await forecast_tallies(session, ORG, MATHS, YEAR, "VT") == tallies, way
                # judged again on the final state: nothing to raise or resolve
                assert await reevaluate_all(session) == 0, way
                assert await compliance_mismatches(session) == 0, way
            assert await freshness.sweep(db) == 0, way
            for table, expected in compliance.items():
                assert await rows(db, table) == expected, (way, table)
        # and what raised them resolves: the dipping round 2 revised to passing in the first school unit
        fixes = [_result(uuid5(NS, f"a-{student}-{MATHS}-2"), 9, "C", student, code, group, MATHS, 2)
                 for student, code, group in _students() if code == "11111111"]
        for way, db in dbs.items():
            await loop_on(settings, db)._apply(delivered(fixes), {})
            async with db.sessions.begin() as session:
                drops = Counter(tuple(r) for r in (await session.execute(text(
                    "SELECT round, status FROM alerts WHERE rule = 'pass_share_drop' AND level <> 'area'"))).all())
                # round 2's resolved; round 3 of the group still failing now drops against it: raised by the
                # revision of the round before
                assert drops[(2, "resolved")] >= 3 and not drops[(2, "open")], (way, drops)
                assert drops[(3, "open")] >= 1, (way, drops)
                assert await reevaluate_all(session) == 0, way
    finally:
        for db in dbs.values():
            await db.dispose()


async def test_a_school_unit_moved_to_another_area_is_judged_there_in_the_same_batch(settings, fresh_database):
    """The dipping school unit moves to the other area in a batch that also revises one of its round-2 results:
    the directory is applied first, so the live judgement places the unit's cells in its new area, whose round 2
    now dips (raised live). The old area is not judged by that batch (`main.move_school_units` moves the figures,
    not the alerts): its alert resolves when a reevaluation (or a later result there) judges it."""
    db = Database(fresh_database("styrkedja_reporting"))
    try:
        await in_batches(loop_on(settings, db), make_log(13), 50)
        moved = "11111111"
        query = text("SELECT unit_id, status FROM alerts WHERE rule = 'pass_share_drop' AND level = 'area' "
                     "AND subject_code = :maths AND round = 2")
        async with db.sessions() as session:
            before = dict((await session.execute(query, {"maths": MATHS})).all())
        assert before == {"area-north": "open"}, before
        move = new_event(OrganisationUnitUpsertedV1(
            organiser_id=ORG, unit_type="school_unit", unit_id=f"su-{moved}", parent_id="area-south",
            name=f"school_unit su-{moved}", school_unit_code=moved, updated_at=T0 + timedelta(days=1)), source="/t")
        student, code, group = next(s for s in _students() if s[1] == moved)
        revised = _result(uuid5(NS, f"a-{student}-{MATHS}-2"), 9, "F", student, code, group, MATHS, 2)
        await loop_on(settings, db)._apply(delivered([move, revised]), {})
        async with db.sessions() as session:
            live = dict((await session.execute(query, {"maths": MATHS})).all())
        assert live.get("area-south") == "open", live  # judged in its new area, in the batch that moved it
        async with db.sessions.begin() as session:
            await reevaluate_all(session)
            settled = dict((await session.execute(query, {"maths": MATHS})).all())
            assert settled == {"area-north": "resolved", "area-south": "open"}, settled
            assert await reevaluate_all(session) == 0
            assert await compliance_mismatches(session) == 0
    finally:
        await db.dispose()

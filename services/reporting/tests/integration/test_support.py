"""Support interventions and plans in reporting, against a real PostgreSQL: real CloudEvents in
batches. Every materialised cell and every figure equals a recomputation from the event log made
here independently (not with the service's functions), at every level, also after a replay of
the same log in another order and batching into a fresh database.
"""

from __future__ import annotations

import csv
import io
import random
from collections import Counter
from datetime import UTC, date, datetime, timedelta
from uuid import UUID, uuid5

import openpyxl
import pytest
from sqlalchemy import text

from styrkedja_contracts import new_event
from styrkedja_contracts.events.assessment import AssessmentPublishedV1
from styrkedja_contracts.events.organisation import OrganisationUnitUpsertedV1, TeachingAssignmentUpsertedV1
from styrkedja_contracts.events.plan import PlanPublishedV1, PlanRetractedV1
from styrkedja_contracts.events.support import SupportInterventionRecordedV1, SupportInterventionRetractedV1
from styrkedja_kit.consumer import Delivered
from styrkedja_kit.db import Database
from styrkedja_reporting.main import handler_registry
from styrkedja_reporting.support import read
from styrkedja_reporting.support.handlers import mismatches
from support import decision

pytestmark = [pytest.mark.integration, pytest.mark.postgres_only]

apply_batch = handler_registry(live_alerts=False)
NS = UUID("5b1f0c1e-0000-4000-8000-0000000051a9")
T0 = datetime(2026, 10, 1, 8, 0, tzinfo=UTC)
ORG = "2999"
UNITS = ("12345678", "23456789")
GROUPS = ("7A", "7B", "8A")
SUBJECTS = ("GRGRMAT01", "GRGRSVE01")
KINDS = ("extra_adjustment", "investigation", "special_support", "action_programme")
STATUSES = ("proposed", "decided", "in_progress", "evaluated", "closed")
TOPIC = {"support": "styrkedja.support", "assessment": "styrkedja.assessments", "plan": "styrkedja.assessments",
         "organisation": "styrkedja.organisation"}
AREA = "area-nord"
# round 1 before the support of most students started (2 or 20 weeks before 1 September), round 2 after
ROUND_DAYS = {1: date(2026, 8, 3), 2: date(2026, 10, 15)}  # in the school year 2026/27 (`within_school_year`)
STARTED = ("decided", "in_progress", "evaluated", "closed")


def directory_events() -> list:
    """Both school units in one area, and teaching assignments of every group × subject but one."""
    events = [new_event(OrganisationUnitUpsertedV1(
        organiser_id=ORG, unit_type="organiser", unit_id=ORG, name="Mittköping", updated_at=T0), source="/t"),
        new_event(OrganisationUnitUpsertedV1(
            organiser_id=ORG, unit_type="area", unit_id=AREA, parent_id=ORG, name="Nord", updated_at=T0),
            source="/t")]
    for code in UNITS:
        events.append(new_event(OrganisationUnitUpsertedV1(
            organiser_id=ORG, unit_type="school_unit", unit_id=code, parent_id=AREA, name=f"Skola {code}",
            school_unit_code=code, updated_at=T0), source="/t"))
    n = 0
    for code in UNITS:
        for group in GROUPS:
            for subject in SUBJECTS:
                if (code, group, subject) == (UNITS[1], "8A", SUBJECTS[1]):
                    continue
                n += 1
                events.append(new_event(TeachingAssignmentUpsertedV1(
                    assignment_id=f"ta-{n}", organiser_id=ORG, school_unit_code=code, group_id=group,
                    teacher_id=f"t-{n}", subject_code=subject, updated_at=T0), source="/t"))
    return events


def make_log(seed: int) -> list:
    """A random log: assessments, interventions in several revisions, retractions, plans."""
    rnd = random.Random(seed)
    events: list = []
    students = [(f"s-{i}", UNITS[i % 2], GROUPS[i % 3]) for i in range(40)]
    for student, code, group in students:
        for subject in SUBJECTS:
            for round_ in (1, 2):
                value = rnd.choice("ABCDEFFF")
                events.append(new_event(AssessmentPublishedV1(
                    assessment_id=uuid5(NS, f"a-{student}-{subject}-{round_}"), revision=1, organiser_id=ORG,
                    school_unit_code=code, group_id=group, student_id=student, teacher_id="t-1", gender="female",
                    year=7, subject_code=subject, kind="assessment", scale="AF", value=value,
                    unmet_criteria=("K1",) if value == "F" else (), school_year="2026/27", term="HT", round=round_,
                    assessed_on=ROUND_DAYS[round_], published_at=T0), source="/t"))
        for j in range(rnd.randint(0, 2)):
            iid = uuid5(NS, f"i-{student}-{j}")
            kind = rnd.choice(KINDS)
            subject = rnd.choice((*SUBJECTS, None))
            for revision in range(1, rnd.randint(1, 3) + 1):
                status = rnd.choice(STATUSES)
                start = date(2026, 9, 1) - timedelta(weeks=rnd.choice((2, 20)))
                events.append(new_event(SupportInterventionRecordedV1(
                    intervention_id=iid, revision=revision, organiser_id=ORG, school_unit_code=code, group_id=group,
                    student_id=student, subject_code=subject, kind=kind, status=status, start_date=start,
                    recorded_at=T0, **{**decision(kind, status, start), "evaluation_outcome": rnd.choice((
                        "better", "unchanged", "worse")) if status in ("evaluated", "closed") else None}),
                    source="/t"))
            if rnd.random() < 0.2:
                events.append(new_event(SupportInterventionRetractedV1(
                    intervention_id=iid, revision=9, organiser_id=ORG, school_unit_code=code, group_id=group,
                    student_id=student, kind=kind, subject_code=subject, retracted_at=T0), source="/t"))
    for code in UNITS:
        for group in GROUPS:
            for subject in SUBJECTS:
                if rnd.random() < 0.6:
                    pid = uuid5(NS, f"p-{code}-{group}-{subject}")
                    place = dict(organiser_id=ORG, school_unit_code=code, group_id=group, subject_code=subject,
                                 school_year="2026/27", term="HT")
                    events.append(new_event(PlanPublishedV1(plan_id=pid, revision=1, published_on=date(2026, 8, 20),
                                                            recorded_at=T0, **place), source="/t"))
                    if rnd.random() < 0.2:
                        events.append(new_event(PlanRetractedV1(plan_id=pid, revision=2, retracted_at=T0, **place),
                                                source="/t"))
    return events


async def feed(db: Database, batches) -> None:
    offset = 0
    for batch in batches:
        delivered = []
        for event in batch:
            delivered.append(Delivered(event, TOPIC[event.type.split(".")[2]], 0, offset))
            offset += 1
        async with db.sessions.begin() as session:
            await apply_batch(session, delivered)


def chunks(events: list, size: int) -> list[list]:
    return [events[i:i + size] for i in range(0, len(events), size)]


# ------------------------------------------------------------- independent recomputation

def final(events, id_field: str) -> dict:
    """Newest revision per id; a retraction type ends with `retracted`."""
    out: dict = {}
    for event in events:
        data = event.data.model_dump(mode="json")
        if id_field not in data:
            continue
        data["_removed"] = event.type.endswith("retracted.v1")
        current = out.get(data[id_field])
        if current is None or current["revision"] < data["revision"]:
            out[data[id_field]] = data
    return {k: v for k, v in out.items() if not v["_removed"]}


def units_of(code: str, group: str) -> list[tuple[str, str]]:
    return [("group", f"{code}/{group}"), ("school_unit", code), ("area", AREA), ("organiser", ORG), ("nation", "SE")]


def expected_support_cells(interventions: dict) -> Counter:
    cells: Counter = Counter()
    for f in interventions.values():
        for level, unit in units_of(f["school_unit_code"], f["group_id"]):
            if level == "nation":
                continue  # no nation cells are kept: its reads take the organiser level's
            cells[(level, unit, ORG, f["kind"], f["subject_code"] or "", f["status"],
                   f["evaluation_outcome"] or "")] += 1
    return cells


def expected_before_after(events, level: str, unit: str) -> list[dict]:
    """Per subject, round and phase: supported students (support in the subject, started) and how
    many reached the pass level, results dated before / on or after the earliest start."""
    interventions, assessments = final(events, "intervention_id"), final(events, "assessment_id")
    starts: dict = {}
    for f in interventions.values():
        if (level, unit) in units_of(f["school_unit_code"], f["group_id"]) and f["status"] in STARTED \
                and f["subject_code"]:
            key = (f["student_id"], f["subject_code"])
            starts[key] = min(starts.get(key, f["start_date"]), f["start_date"])
    cells: dict = {}
    for a in assessments.values():
        start = starts.get((a["student_id"], a["subject_code"]))
        if start is None:
            continue
        phase = "before" if a["assessed_on"] < start else "after"
        cell = cells.setdefault((a["subject_code"], a["school_year"], a["term"], a["round"], phase), [0, 0])
        cell[0] += 1
        cell[1] += a["value"] != "F"
    return [{"subject_code": s, "school_year": y, "term": t, "round": r, "phase": ph, "students": n,
             "reaching_pass": p, "share_reaching_pass": round(p / n, 4)}
            for (s, y, t, r, ph), (n, p) in sorted(cells.items(), key=lambda c: (*c[0][:4], c[0][4] == "after"))]


def expected_figures(events, level: str, unit: str, today: date) -> dict:
    interventions = final(events, "intervention_id")
    assessments = final(events, "assessment_id")
    plans = final(events, "plan_id")

    def inside(f) -> bool:
        return (level, unit) in units_of(f["school_unit_code"], f["group_id"])

    active = [f for f in interventions.values() if f["status"] in ("decided", "in_progress")]
    with_kind = {k: len({f["student_id"] for f in active if f["kind"] == k and inside(f)}) for k in KINDS}
    latest: dict = {}
    for a in assessments.values():
        if inside(a):
            key = (a["student_id"], a["subject_code"])
            if key not in latest or latest[key]["round"] < a["round"]:
                latest[key] = a
    below = {student for (student, subject), a in latest.items() if a["value"] == "F" and not any(
        f["student_id"] == student and (f["subject_code"] in (subject, None)) for f in active)}
    taught = {(c, g, s) for c in UNITS for g in GROUPS for s in SUBJECTS if (c, g, s) != (UNITS[1], "8A", SUBJECTS[1])}
    taught = {t for t in taught if (level, unit) in units_of(t[0], t[1])}
    planned = {(p["school_unit_code"], p["group_id"], p["subject_code"]) for p in plans.values()} & taught
    before = (today - timedelta(weeks=8)).isoformat()
    overdue = sum(1 for f in interventions.values() if f["kind"] == "investigation" and inside(f)
                  and f["status"] in ("proposed", "decided", "in_progress") and f["start_date"] < before)
    evaluated = [f for f in interventions.values() if inside(f) and f["status"] in ("evaluated", "closed")]
    outcome_students = {k: {o: len({f["student_id"] for f in evaluated if f["kind"] == k
                                    and f["evaluation_outcome"] == o}) for o in ("better", "unchanged", "worse")}
                        for k in KINDS}
    return {"with_kind": with_kind, "below": len(below), "taught": len(taught), "planned": len(planned),
            "overdue": overdue, "outcome_students": outcome_students,
            "assessed": len({a["student_id"] for a in assessments.values() if inside(a)}),
            "before_after": expected_before_after(events, level, unit)}


async def figures(db: Database, level: str, unit: str, today: date) -> dict:
    where = read.Where(level, unit, None if level == "nation" else ORG)  # type: ignore[arg-type]
    async with db.sessions() as session:
        students = await read.students_by_kind(session, where, None)
        below, listed = await read.below_pass_without_support(session, where, None)
        coverage = await read.plan_coverage(session, where, "2026/27", "HT", None)
        overdue = await read.open_investigations(session, where, 8, today)
        kinds = await read.interventions_by_kind(session, where, None)
        before_after = await read.results_before_after(session, where, None)
    assert (len(listed) == below) if level in read.LIST_LEVELS else listed == []
    return {"figures": {"with_kind": students["students_with_kind_active"], "below": below,
                        "taught": coverage["assignments"], "planned": coverage["with_published_plan"],
                        "overdue": overdue, "outcome_students": kinds["evaluation_outcome_students"],
                        "assessed": students["students_assessed"],
                        "before_after": before_after},
            "kinds": kinds, "listed": listed}


async def aggregate_rows(db: Database, table: str) -> Counter:
    async with db.sessions() as session:
        rows = (await session.execute(text(f"SELECT * FROM {table}"))).mappings().all()
    return Counter({tuple(v for k, v in r.items() if k != "count"): dict(r).get("count", 1) for r in rows})


async def mismatch_count(db: Database) -> int:
    """Cells of every support table at every level that differ from the service's recomputation."""
    async with db.sessions() as session:
        found = await mismatches(session)
    assert set(found) == {"support", "plans", "support_students", "below_pass_without_support"}
    return sum(n for levels in found.values() for n in levels.values())


ALL_UNITS = [("nation", "SE"), ("organiser", ORG), ("area", AREA), *[("school_unit", c) for c in UNITS],
             *[("group", f"{c}/{g}") for c in UNITS for g in GROUPS]]


@pytest.fixture
async def other_db(fresh_database):
    database = Database(fresh_database("styrkedja_reporting"))
    yield database
    await database.dispose()


async def test_every_figure_equals_a_recomputation_at_every_level_and_after_a_replay(db, other_db):
    today = date(2026, 10, 1)
    log = make_log(7)
    await feed(db, [directory_events(), *chunks(log, 37)])
    assert await aggregate_rows(db, "support_aggregates") == expected_support_cells(final(log, "intervention_id"))
    assert await mismatch_count(db) == 0
    first = {}
    for level, unit in ALL_UNITS:
        got = await figures(db, level, unit, today)
        assert got["figures"] == expected_figures(log, level, unit, today), (level, unit)
        first[(level, unit)] = got
    # something was counted: the test can fail
    assert first[("nation", "SE")]["figures"]["below"] > 0 and first[("nation", "SE")]["figures"]["planned"] > 0
    assert sum(first[("nation", "SE")]["kinds"]["active_interventions"].values()) > 0
    assert {r["phase"] for r in first[("nation", "SE")]["figures"]["before_after"]} == {"before", "after"}

    # replay: the same log, shuffled per id order kept by revision numbers, other batching, re-delivered twice
    replay = list(log)
    random.Random(3).shuffle(replay)
    await feed(other_db, [directory_events(), *chunks(replay, 11), *chunks(replay[:50], 7)])
    assert await mismatch_count(other_db) == 0
    for table in ("support_aggregates", "support_facts", "plan_aggregates", "plan_facts", "support_students",
                  "support_below_pass"):
        assert await aggregate_rows(other_db, table) == await aggregate_rows(db, table), table
    for level, unit in ALL_UNITS:
        assert await figures(other_db, level, unit, today) == first[(level, unit)], (level, unit)


async def test_a_retraction_before_its_intervention_wins_and_nothing_counts(db):
    iid = uuid5(NS, "early")
    place = dict(organiser_id=ORG, school_unit_code=UNITS[0], group_id="7A", student_id="s-1", kind="investigation",
                 subject_code=None)
    retraction = new_event(SupportInterventionRetractedV1(intervention_id=iid, revision=2, retracted_at=T0, **place),
                           source="/t")
    recorded = new_event(SupportInterventionRecordedV1(intervention_id=iid, revision=1, status="decided",
                                                       start_date=date(2026, 9, 1), recorded_at=T0, **place,
                                                       **decision("investigation", "decided", date(2026, 9, 1))),
                         source="/t")
    await feed(db, [[retraction], [recorded]])
    assert await aggregate_rows(db, "support_aggregates") == Counter()


# ------------------------------------------------------------- hand-made: before/after by date, exports

def _result(student: str, subject: str, round_: int, value: str, on: date) -> AssessmentPublishedV1:
    return AssessmentPublishedV1(
        assessment_id=uuid5(NS, f"hand-{student}-{subject}-{round_}"), revision=1, organiser_id=ORG,
        school_unit_code=UNITS[0], group_id="7A", student_id=student, teacher_id="t-1", gender="male", year=7,
        subject_code=subject, kind="assessment", scale="AF", value=value,
        unmet_criteria=("K1",) if value == "F" else (), school_year="2026/27", term="HT", round=round_,
        assessed_on=on, published_at=T0)


def _support(student: str, subject: str | None, kind: str, status: str, start: date) -> SupportInterventionRecordedV1:
    return SupportInterventionRecordedV1(
        intervention_id=uuid5(NS, f"hand-{student}-{subject}-{kind}"), revision=1, organiser_id=ORG,
        school_unit_code=UNITS[0], group_id="7A", student_id=student, subject_code=subject, kind=kind,
        status=status, start_date=start, recorded_at=T0, **decision(kind, status, start))


MAT, SVE = SUBJECTS
HAND_MADE = [
    # s-1: special support in maths from 10 Sep; round 1 dated before it (F), round 2 after (E)
    _support("s-1", MAT, "special_support", "decided", date(2026, 9, 10)),
    _result("s-1", MAT, 1, "F", date(2026, 9, 1)), _result("s-1", MAT, 2, "E", date(2026, 10, 1)),
    # s-2: extra adaptations in maths from 20 Aug: round 1 (1 Sep) is already after the start
    _support("s-2", MAT, "extra_adjustment", "in_progress", date(2026, 8, 20)),
    _result("s-2", MAT, 1, "F", date(2026, 9, 1)), _result("s-2", MAT, 2, "C", date(2026, 10, 1)),
    # s-3: only a proposed investigation: not started, not active -> below the pass level without support
    _support("s-3", MAT, "investigation", "proposed", date(2026, 9, 1)),
    _result("s-3", MAT, 1, "F", date(2026, 9, 1)),
    # s-4: support for all subjects: supported in maths, but no supported subject for before/after
    _support("s-4", None, "special_support", "decided", date(2026, 8, 1)),
    _result("s-4", MAT, 1, "F", date(2026, 9, 1)),
    # s-5: Swedish support from 10 Sep, a result on that very day counts as after
    _support("s-5", SVE, "extra_adjustment", "decided", date(2026, 9, 10)),
    _result("s-5", SVE, 1, "A", date(2026, 9, 10)),
]
BEFORE_AFTER = [  # (subject, round, phase, students, reaching the pass level)
    (MAT, 1, "before", 1, 0), (MAT, 1, "after", 1, 0), (MAT, 2, "after", 2, 2), (SVE, 1, "after", 1, 1)]


@pytest.fixture
async def hand_fed(settings):
    database = Database(settings.database_url)
    try:
        await feed(database, [directory_events(), [new_event(e, source="/t") for e in HAND_MADE]])
    finally:
        await database.dispose()


UNIT_Q = {"level": "school_unit", "unit_id": UNITS[0], "organiser_id": ORG}


async def test_results_before_and_after_support_are_split_by_the_start_date(client, hand_fed):
    for level, unit in (("school_unit", UNITS[0]), ("group", f"{UNITS[0]}/7A"), ("area", AREA),
                        ("organiser", ORG), ("nation", "SE")):
        params = {"level": level, "unit_id": unit} | ({} if level == "nation" else {"organiser_id": ORG})
        got = (await client.get("/v1/support/results-before-after", params=params)).json()["rows"]
        assert [(r["subject_code"], r["round"], r["phase"], r["students"], r["reaching_pass"]) for r in got] \
            == BEFORE_AFTER, level
    summary = (await client.get("/v1/support/summary", params=UNIT_Q)).json()
    assert summary["below_pass_without_support"]["students"] == 1
    assert summary["below_pass_without_support"]["list"] == [
        {"student_id": "s-3", "school_unit_code": UNITS[0], "group_id": "7A", "subjects": [MAT]}]
    assert summary["students_with_kind_active"] == {"extra_adjustment": 2, "investigation": 0,
                                                    "special_support": 2, "action_programme": 0}
    assert summary["students_assessed"] == 5
    assert [(r["subject_code"], r["round"], r["phase"]) for r in summary["results_before_after"]] \
        == [b[:3] for b in BEFORE_AFTER]


@pytest.mark.parametrize("path,params", [
    ("/v1/support/results-before-after", UNIT_Q),
    ("/v1/support/kinds", UNIT_Q),
    ("/v1/support/below-pass-without-support", {**UNIT_Q, "level": "organiser", "unit_id": ORG}),
    ("/v1/support/below-pass-without-support/students", UNIT_Q),
    ("/v1/support/open-investigations", {**UNIT_Q, "investigation_weeks": 1}),
    ("/v1/support/plan-coverage", {**UNIT_Q, "school_year": "2026/27", "term": "HT"}),
])
async def test_every_support_table_exports_as_csv_and_xlsx_with_the_json_numbers(client, hand_fed, path, params):
    body = (await client.get(path, params=params)).json()
    keys = [c["key"] for c in body["columns"]]
    kinds = {c["key"]: c["type"] for c in body["columns"]}
    assert body["rows"]
    csv_response = await client.get(path, params={**params, "format": "csv"})
    assert csv_response.status_code == 200 and csv_response.headers["content-type"] == "text/csv; charset=utf-8"
    table = list(csv.reader(io.StringIO(csv_response.content.decode("utf-8-sig")), delimiter=";"))
    xlsx_response = await client.get(path, params=params, headers={
        "Accept": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"})
    assert xlsx_response.status_code == 200
    sheet = openpyxl.load_workbook(io.BytesIO(xlsx_response.content)).active
    cells = [[c.value for c in row] for row in sheet.iter_rows()]
    assert len(table) == len(cells) == len(body["rows"]) + 1 and cells[0] == table[0]
    for json_row, csv_row, xlsx_row in zip(body["rows"], table[1:], cells[1:], strict=True):
        for index, key in enumerate(keys):
            value = json_row[key]
            if kinds[key] in ("integer", "share"):
                parsed = None if csv_row[index] == "" else float(csv_row[index].replace(",", "."))
                assert parsed == (None if value is None else float(value)), key
                assert xlsx_row[index] == value, key
            else:
                assert csv_row[index] == (value or ""), key


async def test_bad_support_table_requests_name_the_field_and_rule(client, hand_fed):
    listed = await client.get("/v1/support/below-pass-without-support/students",
                              params={**UNIT_Q, "level": "area", "unit_id": AREA})
    assert listed.status_code == 422 and listed.json()["errors"][0]["field"] == "level"
    assert listed.json()["errors"][0]["rule"] == "list_at_unit_level"
    no_org = await client.get("/v1/support/kinds", params={"level": "school_unit", "unit_id": UNITS[0]})
    assert no_org.status_code == 422 and no_org.json()["errors"][0]["rule"] == "required_below_nation"
    fmt = await client.get("/v1/support/kinds", params={**UNIT_Q, "format": "pdf"})
    assert fmt.status_code == 422 and fmt.json()["errors"][0]["field"] == "format"


async def test_open_investigations_are_counted_to_todays_date_in_sweden(client, hand_fed, monkeypatch):
    """At 00:30 in Sweden on 9 September (22:30 UTC on the 8th) the proposed investigation of 1 September has been
    open for more than one week: counted, in the summary and the table alike. Failed on the old code (round 28t):
    the routes counted to the UTC date, the 8th, where it was not yet."""
    import styrkedja_kit.days

    monkeypatch.setattr(styrkedja_kit.days, "now_utc", lambda: datetime(2026, 9, 8, 22, 30, tzinfo=UTC))
    params = {**UNIT_Q, "investigation_weeks": 1}
    summary = (await client.get("/v1/support/summary", params=params)).json()
    assert summary["open_investigations"] == {"weeks": 1, "count": 1}
    table = (await client.get("/v1/support/open-investigations", params=params)).json()
    assert [row["count"] for row in table["rows"]] == [1]
    # a minute before midnight in Sweden it was not yet a week
    monkeypatch.setattr(styrkedja_kit.days, "now_utc", lambda: datetime(2026, 9, 7, 21, 59, tzinfo=UTC))
    summary = (await client.get("/v1/support/summary", params=params)).json()
    assert summary["open_investigations"] == {"weeks": 1, "count": 0}

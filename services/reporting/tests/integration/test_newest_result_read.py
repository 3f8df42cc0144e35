"""Support's newest-result read (issue 16, apply15): a (student, subject) key descends the facts' student index to
that subject's results and keeps the newest by `newest_first` — since apply33 (migration 0036) the index holds them in
that order (`FACTS_NEWEST_INDEX`) and the key reads it backward to the first result it keeps, no sort; a student's key
(every subject) reads all of the student's. The readers by student and term only (the below-forecast pairings) keep
an index plan on the student prefix."""

from __future__ import annotations

import random
import uuid
from datetime import UTC, datetime

import pytest
from sqlalchemy import insert, text

from styrkedja_reporting.alerts.handlers import _PAIRINGS
from styrkedja_reporting.figures.linked import load_statement
from styrkedja_reporting.results.tables import ASSESSMENTS, FACTS_NEWEST_INDEX, assessment_facts
from styrkedja_reporting.support.linked import newest_unchanged_statement
from styrkedja_reporting.support.rules import newest_first

pytestmark = [pytest.mark.integration, pytest.mark.postgres_only]

SUBJECTS = ("GRGRMAT01", "GRGRENG01", "GRGRSVE01", "GRGRBIO01", "GRGRKEM01", "GRGRFYS01", "GRGRHIS01", "GRGRGEO01")
ORGANISER = "2999"


def _facts(rng: random.Random, students: int) -> list[dict]:
    rows = []
    for s in range(students):
        for subject in SUBJECTS:
            for school_year in ("2025/26", "2026/27"):
                for term in ("HT", "VT"):
                    for round_ in (1, 2):
                        for kind in ("assessment", "term_grade"):
                            if rng.random() < 0.4:
                                continue
                            rows.append({
                                "assessment_id": uuid.UUID(int=rng.getrandbits(128)), "revision": 1,
                                "retracted": rng.random() < 0.05, "organiser_id": ORGANISER,
                                "school_unit_code": "12345678", "group_id": "7A", "student_id": f"st-{s}",
                                "gender": "female", "year": 7, "subject_code": subject, "kind": kind, "scale": "AF",
                                "value": rng.choice("ABCDEF"), "school_year": school_year, "term": term,
                                "round": round_, "assessed_on": None, "received_at": None})
    return rows


async def _seeded(db, rng: random.Random, organisers: tuple[str, ...] = (ORGANISER,)) -> list:
    rows = _facts(rng, 120)
    # another organiser's records under the same ids (a record is its organiser's: `results.tables.fact_table`)
    rows += [{**row, "organiser_id": other, "value": rng.choice("ABCDEF"), "retracted": rng.random() < 0.05}
             for other in organisers[1:] for row in rows]
    async with db.sessions.begin() as session:
        await session.execute(insert(assessment_facts), rows)
        await session.execute(text(f"ANALYZE {assessment_facts.name}"))
    return [ASSESSMENTS.make(*(row[n] for n in ASSESSMENTS.fact_fields)) for row in rows]


@pytest.mark.parametrize("organisers", [(ORGANISER,), (ORGANISER, "3001")], ids=["one organiser", "two, one id"])
async def test_the_newest_result_per_key_is_read_through_the_subject(db, organisers) -> None:
    """Two organisers: every id is held by both, the changed ones are some of either's — the other's record under a
    changed id is not left out (the changed facts compared by id and organiser where the keys name several)."""
    rng = random.Random(15)
    facts = await _seeded(db, rng, organisers)
    every = {(o, f"st-{s}") for o in organisers for s in range(10)}
    subjects = {(o, f"st-{s}", subject) for o in organisers for s in range(5, 60)
                for subject in rng.sample(SUBJECTS, 3)}
    changed = [ASSESSMENTS.key_of(f) for f in rng.sample(facts, 200 * len(organisers))]
    sql, params = newest_unchanged_statement(every, subjects, changed)
    async with db.sessions() as session:
        got = {(r.organiser_id, r.student_id, r.subject_code): r.assessment_id
               for r in (await session.execute(text(sql), params)).all()}
        plan = "\n".join(r[0] for r in (await session.execute(text(f"EXPLAIN {sql}"), params)).all())
        # as a prepared statement runs it after a few executions (asyncpg prepares every statement)
        await session.execute(text("SET LOCAL plan_cache_mode = force_generic_plan"))
        generic = "\n".join(r[0] for r in (await session.execute(text(f"EXPLAIN {sql}"), params)).all())

    # the same pick in Python: not retracted, not changed, the newest by `newest_first`
    left_out = set(changed)
    wanted: dict = {}
    for f in facts:
        key = (f.organiser_id, f.student_id, f.subject_code)
        if f.retracted or ASSESSMENTS.key_of(f) in left_out:
            continue
        if (f.organiser_id, f.student_id) not in every and key not in subjects:
            continue
        if key not in wanted or newest_first(f) > newest_first(wanted[key]):
            wanted[key] = f
    assert got == {key: f.assessment_id for key, f in wanted.items()}
    assert len(got) > 150 * len(organisers) and any(k[1] == "st-3" for k in got)  # both kinds of key answered
    assert {k[0] for k in got} == set(organisers)

    # a (student, subject) key descends to the subject: the index's first two columns are its condition
    conds = [line for line in plan.splitlines() if "Index Cond" in line]
    assert FACTS_NEWEST_INDEX in plan
    assert any("student_id" in c and "subject_code" in c for c in conds), plan
    # ... and reads it backward, in `newest_first`'s order, to the first result it keeps: no sort per key (apply33;
    # before, every result of the subject was read and sorted per key); in the generic plan too
    for p in (plan, generic):
        subject_arm = p[p.index("Limit"):]
        assert f"Index Scan Backward using {FACTS_NEWEST_INDEX}" in subject_arm, p
        assert "Sort" not in subject_arm, p
    # the batch's changed ids are left out through one hash table, in the generic plan too: `<> ALL($n)` compared
    # each row read with every changed id (apply19: ~0.2 ms per key at 5,000 changed results)
    assert "hashed SubPlan" in generic and "<> ALL" not in generic, generic


async def test_the_subject_keys_read_the_student_index_whatever_the_organisers_statistics(db) -> None:
    """Statistics that guess an organiser's results few (a fresh database analysed near-empty, then the first
    batches): a subject's key still descends the student index to its subject and stops at the first result it keeps
    (apply38: with the organiser compared inside the look-up, the generic plan took the organiser index and sorted
    per key — every result of the organiser read for each key, 105 s for one deadline-week batch of 5,000)."""
    rng = random.Random(38)
    rows = _facts(rng, 720)
    facts = [ASSESSMENTS.make(*(row[n] for n in ASSESSMENTS.fact_fields)) for row in rows]
    subjects = {(ORGANISER, f"st-{s}", subject) for s in range(0, 720, 4) for subject in rng.sample(SUBJECTS, 3)}
    changed = [ASSESSMENTS.key_of(f) for f in rng.sample(facts, 2000)]
    sql, params = newest_unchanged_statement(set(), subjects, changed)
    alter = f"ALTER TABLE {assessment_facts.name} ALTER COLUMN organiser_id"
    try:
        async with db.sessions.begin() as session:
            await session.execute(insert(assessment_facts), rows)
            # the organiser's id unique, as a near-empty table's sample has it
            await session.execute(text(f"{alter} SET (n_distinct = -1)"))
            await session.execute(text(f"ANALYZE {assessment_facts.name}"))
        async with db.sessions() as session:
            got = {(r.organiser_id, r.student_id, r.subject_code): r.assessment_id
                   for r in (await session.execute(text(sql), params)).all()}
            await session.execute(text("SET LOCAL plan_cache_mode = force_generic_plan"))
            generic = "\n".join(r[0] for r in (await session.execute(text(f"EXPLAIN {sql}"), params)).all())
    finally:  # the column's statistics as the schema has them (the database is reused)
        async with db.sessions.begin() as session:
            await session.execute(text(f"{alter} RESET (n_distinct)"))
            await session.execute(text(f"ANALYZE {assessment_facts.name}"))
    left_out = set(changed)
    wanted: dict = {}
    for f in facts:
        key = (f.organiser_id, f.student_id, f.subject_code)
        if f.retracted or ASSESSMENTS.key_of(f) in left_out or key not in subjects:
            continue
        if key not in wanted or newest_first(f) > newest_first(wanted[key]):
            wanted[key] = f
    assert got == {key: f.assessment_id for key, f in wanted.items()} and len(got) > 400
    subject_arm = generic[generic.index("Limit"):]
    assert f"Index Scan Backward using {FACTS_NEWEST_INDEX}" in subject_arm, generic
    assert "organiser_id on assessment_facts" not in subject_arm and "Sort" not in subject_arm, generic


async def test_the_readers_by_student_and_term_keep_an_index_plan(db) -> None:
    """The below-forecast pairings look a student's term grades up by (student, school year, term): after the
    subject went into the index they read it on the student prefix (no sequential scan of the facts)."""
    await _seeded(db, random.Random(16))
    async with db.sessions() as session:
        await session.execute(text(
            "INSERT INTO forecast_facts (forecast_id, revision, withdrawn, organiser_id, school_unit_code, group_id, "
            "student_id, gender, year, subject_code, value, school_year, term, late, submitted_on) "
            "SELECT gen_random_uuid(), 1, false, :o, '12345678', '7A', 'st-' || s, 'female', 9, 'GRGRMAT01', "
            "'ACCEPTABLE', '2026/27', 'VT', false, :day FROM generate_series(0, 119) s"),
            {"o": ORGANISER, "day": datetime(2027, 3, 1, tzinfo=UTC).date()})
        await session.execute(text("ANALYZE forecast_facts"))
        plan = "\n".join(r[0] for r in (await session.execute(text(f"EXPLAIN {_PAIRINGS.text}"), {
            "organiser": [ORGANISER], "subject": ["GRGRMAT01"], "school_year": ["2026/27"], "term": ["VT"]})).all())
    assert FACTS_NEWEST_INDEX in plan, plan
    assert "Seq Scan on assessment_facts" not in plan, plan


@pytest.mark.parametrize("names", [("student_id", "school_year", "term"), ("student_id", "subject_code", "school_year",
                                                                             "term")], ids=["term keys", "pair keys"])
async def test_the_linked_figures_read_their_students_results_through_the_index(db, names) -> None:
    """Forecast against outcome (pair keys) and merit (a student's term grades in a term) read their keys' results
    one student at a time through the student index, whatever the planner guesses of the keys (apply37: joined
    plainly, the term keys met a sequential scan of every result, each key compared with each term grade)."""
    rng = random.Random(37)
    facts = await _seeded(db, rng)
    choices = {"subject_code": SUBJECTS, "school_year": ("2025/26", "2026/27"), "term": ("HT", "VT")}
    keys = sorted({(f"st-{s}", *(rng.choice(choices[n]) for n in names[1:])) for s in range(0, 120, 2)
                   for _ in range(2)})
    where = "AND f.kind = 'term_grade'" if "subject_code" not in names else ""
    sql, params = load_statement(ASSESSMENTS, "retracted", keys, names, where)
    async with db.sessions() as session:
        got = sorted(row[0] for row in (await session.execute(text(sql), params)).all())
        plans = ["\n".join(r[0] for r in (await session.execute(text(f"EXPLAIN {sql}"), params)).all())]
        # as a prepared statement runs it after a few executions (asyncpg prepares every statement)
        await session.execute(text("SET LOCAL plan_cache_mode = force_generic_plan"))
        plans.append("\n".join(r[0] for r in (await session.execute(text(f"EXPLAIN {sql}"), params)).all()))
    wanted = sorted(f.assessment_id for f in facts if not f.retracted and (where == "" or f.kind == "term_grade")
                    and tuple(getattr(f, n) for n in names) in set(keys))
    assert got == wanted and len(wanted) > 100
    for plan in plans:
        assert FACTS_NEWEST_INDEX in plan, plan
        assert "Seq Scan on assessment_facts" not in plan, plan

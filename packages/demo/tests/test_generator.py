"""The generator: deterministic, the right size and shape, the story present, no civic numbers."""

from __future__ import annotations

import json
from collections import Counter
from datetime import date, timedelta
from functools import cache

import pytest
from pydantic import TypeAdapter

from styrkedja_assessment.assessments.rules import check_result
from styrkedja_assessment.assessments.schemas import AssessmentIn
from styrkedja_contracts.identifiers import contains_personal_identity_number
from styrkedja_contracts.scales import Scale, reaches_pass
from styrkedja_demo.generator import Municipality, action_statuses, generate, lika_ratings
from styrkedja_demo.ss12000 import dump
from styrkedja_demo.story import KIND_YEARS, STORY, stage
from styrkedja_forecast.forecasts.schemas import ForecastIn


@cache
def full() -> Municipality:
    return generate(1)


@cache
def small() -> Municipality:
    return generate(3, 600)


def pass_share(rows: list[dict]) -> float:
    assert rows, "no rows to compute a share of"
    return sum(reaches_pass(r.get("scale", "THREE_LEVEL"), r["value"]) for r in rows) / len(rows)


def test_the_same_seed_gives_the_same_municipality_and_another_seed_another() -> None:
    again = generate(3, 600)
    assert dump(again) == dump(small())
    assert again.assessments == small().assessments and again.forecasts == small().forecasts
    assert again.lika == small().lika
    other = generate(4, 600)
    assert {s.id for s in other.students}.isdisjoint({s.id for s in small().students})
    assert other.assessments != small().assessments


def test_sizes_of_mittkoping() -> None:
    muni = full()
    assert abs(len(muni.students) - 6000) <= 150
    assert 3 <= len(muni.areas) <= 4
    assert 18 <= len(muni.units) <= 22
    assert Counter(u.kind for u in muni.units).keys() == set(KIND_YEARS)
    assert sum(u.special for u in muni.units) == 1
    codes = [u.code for u in muni.units]
    assert len(set(codes)) == len(codes) and all(c.isascii() and c.isdigit() and len(c) == 8 for c in codes)
    # groups per year at every unit, classes of a sensible size
    for unit in muni.units:
        years = {g.year for g in muni.groups if g.unit_id == unit.id}
        assert years == set(unit.years), unit.name
    sizes = Counter(s.group_id for s in muni.students)
    assert max(sizes.values()) <= 35 and min(sizes.values()) >= 1
    # about 12 students per teacher, as in Swedish compulsory schools
    assert 8 <= len(muni.students) / len(muni.teachers) <= 16


def test_quick_scale_is_about_the_size_asked() -> None:
    assert 550 <= len(small().students) <= 700
    assert len(small().units) == len(STORY.schools)


def test_gender_mix_is_realistic() -> None:
    genders = Counter(s.gender for s in full().students)
    total = sum(genders.values())
    assert 0.49 <= genders["male"] / total <= 0.54
    assert 0.46 <= genders["female"] / total <= 0.51
    assert genders["unknown"] / total < 0.01


def test_teaching_assignments_follow_the_timetable() -> None:
    muni = full()
    groups = {g.id: g for g in muni.groups}
    taught = {(a.group_id, a.subject_code) for a in muni.assignments}
    for student in muni.students:
        for subject in student.subjects:
            assert (student.group_id, subject) in taught, (groups[student.group_id].name, subject)
    # class teachers in the early years, subject teachers in 7–9
    subjects_of = Counter((a.teacher_id, stage(groups[a.group_id].year)) for a in muni.assignments)
    teams = {t.id: t.team for t in muni.teachers}
    assert all(teams[teacher] == team for teacher, team in subjects_of)
    # nothing graded in förskoleklass
    assert not any(groups[a.group_id].year == 0 for a in muni.assignments)


def test_results_pass_the_services_rules() -> None:
    muni = small()
    for body in muni.assessments:
        item = AssessmentIn.model_validate(body)
        check_result(item.kind.value, item.scale, item.value, tuple(item.unmet_criteria))
    TypeAdapter(list[ForecastIn]).validate_python(muni.forecasts)
    special = {u.code for u in muni.units if u.special}
    assert not any(a["value"] == "F" for a in muni.assessments if a["school_unit_code"] in special)
    assert {a["kind"] for a in muni.assessments} == {"assessment", "term_grade"}
    assert {a["year"] for a in muni.assessments if a["kind"] == "term_grade"} == set(STORY.graded_years)
    assert {a["school_year"] for a in muni.assessments} == {STORY.previous_school_year, STORY.current_school_year}


def _round(body: dict) -> tuple:
    return body["school_year"], body["term"], body["round"]


def test_the_story_is_in_the_data() -> None:
    muni = full()
    story = muni.story
    current, previous = (_round(vars(r)) for r in (story.rounds[-1], story.rounds[-2]))
    assessments = [a for a in muni.assessments if a["kind"] == "assessment"]

    dip = muni.unit_named(story.dip_school)
    assert dip.kind == "7-9"
    maths = [a for a in assessments if a["school_unit_code"] == dip.code and a["subject_code"] == story.dip_subject]
    before = pass_share([a for a in maths if _round(a) == previous])
    now = pass_share([a for a in maths if _round(a) == current])
    assert before - now > 0.2, (before, now)
    others = [a for a in assessments if a["school_unit_code"] != dip.code and a["subject_code"] == story.dip_subject]
    assert abs(pass_share([a for a in others if _round(a) == previous])
               - pass_share([a for a in others if _round(a) == current])) < 0.05

    gap = muni.unit_named(story.gap_school)
    swedish = [a for a in muni.assessments if a["school_unit_code"] == gap.code
               and a["subject_code"] == story.gap_subject]
    girls = pass_share([a for a in swedish if a["gender"] == "female"])
    boys = pass_share([a for a in swedish if a["gender"] == "male"])
    assert girls - boys > 0.15, (girls, boys)

    stale = muni.unit_named(story.stale_school)
    newest = max(date.fromisoformat(a["assessed_on"]) for a in muni.assessments
                 if a["school_unit_code"] == stale.code)
    assert story.rounds[-1].assessed_on - newest > timedelta(days=8 * 30)
    assert max(date.fromisoformat(a["assessed_on"]) for a in muni.assessments
               if a["school_unit_code"] != stale.code) == story.rounds[-1].assessed_on

    unit_name, team = story.silent_team
    silent = muni.unit_named(unit_name)
    groups = {g.id: g for g in muni.groups}
    window = story.forecast_terms[-1]
    in_window = [f for f in muni.forecasts if (f["school_year"], f["term"]) == window]
    assert not [f for f in in_window if f["school_unit_code"] == silent.code and stage(groups[f["group_id"]].year)
                == team]
    assert [f for f in muni.forecasts if f["school_unit_code"] == silent.code and stage(
        groups[f["group_id"]].year) == team], "the team reported in earlier windows"
    assert {f["school_unit_code"] for f in in_window} >= {u.code for u in muni.units
                                                         if not u.special and u.name != unit_name
                                                         and set(u.years) & set(story.forecast_years)}


def test_only_the_early_schools_forecast_the_coming_window() -> None:
    muni = full()
    early = [f for f in muni.forecasts if (f["school_year"], f["term"]) == STORY.early_window]
    assert early
    assert {f["school_unit_code"] for f in early} == {muni.unit_named(n).code for n in STORY.early_schools}


def test_the_lika_story_is_in_the_data() -> None:
    muni = full()
    story = muni.story
    indicators = [f"GR-X-{n:02d}" for n in range(30)]
    by_unit = Counter(p.unit_code for p in muni.lika)
    assert set(by_unit) == {u.code for u in muni.units}
    two = muni.unit_named(story.lika_two_raters).code
    assert by_unit[two] == 2 and {p.respondent_role for p in muni.lika if p.unit_code == two} == {
        "rektor", "teacher_team"}

    def achieved(name: str) -> float:
        plan = next(p for p in muni.lika if p.unit_code == muni.unit_named(name).code)
        ratings = lika_ratings(plan, indicators)
        return sum(r in ("ACHIEVED", "ALMOST_THERE") for r in ratings.values()) / len(ratings)

    assert achieved(story.lika_ahead) > 0.7 > 0.1 > achieved(story.lika_behind)
    drafts = {p.unit_code for p in muni.lika if not p.publish}
    assert drafts == {muni.unit_named(n).code for n in story.lika_drafts}
    assert len(drafts) < len(muni.units) / 2  # most are published
    statuses = Counter(s for p in muni.lika for s in action_statuses(p, [f"A{n}" for n in range(40)]).values())
    assert set(statuses) == {"in_progress", "done", "dropped"}


def test_ss12000_dump_shapes_and_references() -> None:
    muni = small()
    data = dump(muni)
    orgs = {o["id"]: o for o in data["organisations"]}
    [organiser] = [o for o in orgs.values() if o["organisationType"] == "Huvudman"]
    assert organiser["municipalityCode"] == muni.organiser_code
    units = [o for o in orgs.values() if o["organisationType"] == "Skolenhet"]
    assert len(units) == len(muni.units)
    for unit in units:
        area = orgs[unit["parentOrganisation"]["id"]]
        assert area["organisationType"] == "Verksamhetsområde"
        assert area["parentOrganisation"]["id"] == organiser["id"]
    persons = {p["id"] for p in data["persons"]}
    duties = {d["id"]: d for d in data["duties"]}
    syllabuses = {s["id"] for s in data["syllabuses"]}
    groups = {g["id"]: g for g in data["groups"]}
    assert sum(len(g["groupMemberships"]) for g in groups.values()) == len(muni.students)
    for group in groups.values():
        assert orgs[group["organisation"]["id"]]["organisationType"] == "Skolenhet"
        assert all(m["person"]["id"] in persons for m in group["groupMemberships"])
    for duty in duties.values():
        assert duty["person"]["id"] in persons and orgs[duty["dutyAt"]["id"]]["organisationType"] == "Skolenhet"
    assert {d["dutyRole"] for d in duties.values()} == {"Lärare", "Rektor"}
    for activity in data["activities"]:
        assert all(g["id"] in groups for g in activity["groups"])
        assert all(t["duty"]["id"] in duties for t in activity["teachers"])
        assert activity["syllabus"]["id"] in syllabuses
    # the ids of the results are the directory's
    assert {a["group_id"] for a in muni.assessments} <= set(groups)
    assert {a["student_id"] for a in muni.assessments} <= persons
    assert {a["school_unit_code"] for a in muni.assessments} <= {u["schoolUnitCode"] for u in units}


@pytest.mark.parametrize("make", [small, full])
def test_no_civic_numbers_anywhere(make) -> None:
    muni = make()
    text = json.dumps([dump(muni), muni.assessments, muni.forecasts], ensure_ascii=False)
    assert "civicNo" not in text and "birthDate" not in text
    assert not contains_personal_identity_number(text)
    for person in dump(muni)["persons"]:
        assert set(person) <= {"id", "givenName", "familyName", "sex", "meta", "enrolments"}


def test_scales_by_year() -> None:
    muni = small()
    for body in muni.assessments:
        expected = Scale.THREE_LEVEL if body["kind"] == "assessment" and body["year"] <= 5 else Scale.AF
        assert body["scale"] == expected.value


def test_the_story_is_told_with_this_seeds_codes() -> None:
    from styrkedja_demo.generator import story_lines

    muni = small()
    text = "\n".join(story_lines(muni))
    story = muni.story
    for name in (story.dip_school, story.gap_school, story.stale_school, story.silent_team[0], story.lika_ahead,
                 story.lika_behind, story.lika_two_raters, *story.lika_drafts):
        assert f"{name} ({muni.unit_named(name).code})" in text

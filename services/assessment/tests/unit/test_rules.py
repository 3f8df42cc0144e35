"""Result checks and revision decisions of published assessments (pure rules)."""

import pytest

from styrkedja_assessment.assessments.rules import Current, Decision, check_result, decide_publish, decide_retract
from styrkedja_contracts.scales import Scale
from styrkedja_kit.rules import RuleViolation


def violation(call, *args) -> tuple[str, str, int]:
    with pytest.raises(RuleViolation) as caught:
        call(*args)
    return caught.value.field, caught.value.rule, caught.value.status


@pytest.mark.parametrize(("kind", "scale", "value", "criteria"), [
    ("assessment", Scale.AF, "E", ()),  # E is the pass level: no criteria needed
    ("assessment", Scale.AF, "A", ()),
    ("term_grade", Scale.AF, "C", ()),
    ("written_report", Scale.THREE_LEVEL, "ACCEPTABLE", ()),
    ("assessment", Scale.THREE_LEVEL, "MORE_THAN_ACCEPTABLE", ()),
    ("term_grade", Scale.AF, "F", ("Eleven kan föra enkla resonemang",)),
    ("assessment", Scale.THREE_LEVEL, "NOT_REACHED", ("Taluppfattning",)),
])
def test_valid_results_pass(kind, scale, value, criteria):
    assert check_result(kind, scale, value, criteria) is None


@pytest.mark.parametrize(("kind", "scale", "value", "criteria", "expected"), [
    ("assessment", Scale.AF, "G", (), ("value", "value_on_scale", 422)),
    ("assessment", Scale.AF, "ACCEPTABLE", (), ("value", "value_on_scale", 422)),
    ("assessment", Scale.THREE_LEVEL, "C", (), ("value", "value_on_scale", 422)),
    ("term_grade", Scale.THREE_LEVEL, "ACCEPTABLE", (), ("scale", "term_grade_on_af_scale", 422)),
    ("assessment", Scale.AF, "F", (), ("unmet_criteria", "criteria_required_below_pass", 422)),
    ("term_grade", Scale.AF, "F", (), ("unmet_criteria", "criteria_required_below_pass", 422)),
    ("written_report", Scale.THREE_LEVEL, "NOT_REACHED", (),
     ("unmet_criteria", "criteria_required_below_pass", 422)),
])
def test_invalid_results_name_field_and_rule(kind, scale, value, criteria, expected):
    assert violation(check_result, kind, scale, value, criteria) == expected


CONTENT = {"value": "C", "unmet_criteria": []}
CHANGED = {"value": "F", "unmet_criteria": ["Taluppfattning"]}


def current(revision=1, retracted=False, content=CONTENT) -> Current:
    return Current(revision, retracted, dict(content))


def test_new_assessment_takes_revision_one_or_the_requested_one():
    assert decide_publish(None, None, CONTENT) == (Decision.APPLY, 1)
    assert decide_publish(None, 5, CONTENT) == (Decision.APPLY, 5)


def test_identical_resend_is_already_done():
    assert decide_publish(current(3), None, CONTENT) == (Decision.ALREADY_DONE, 3)
    assert decide_publish(current(3), 3, CONTENT) == (Decision.ALREADY_DONE, 3)


def test_changed_content_takes_the_next_or_the_requested_revision():
    assert decide_publish(current(3), None, CHANGED) == (Decision.APPLY, 4)
    assert decide_publish(current(3), 8, CHANGED) == (Decision.APPLY, 8)
    # the same content with an explicitly higher revision is a deliberate new revision
    assert decide_publish(current(3), 4, CONTENT) == (Decision.APPLY, 4)


@pytest.mark.parametrize("requested", [1, 2, 3])
def test_explicit_revision_not_above_the_stored_one_conflicts(requested):
    assert violation(decide_publish, current(3), requested, CHANGED) == ("revision", "revision_must_increase", 409)


def test_publish_after_retraction_is_the_next_revision():
    retracted = current(4, retracted=True)
    # a late publish (no revision, or an old one) must not resurrect it
    assert violation(decide_publish, retracted, None, CONTENT) == ("revision", "removed_needs_revision", 409)
    assert decide_publish(retracted, 6, CONTENT) == (Decision.APPLY, 6)
    assert violation(decide_publish, retracted, 4, CONTENT) == ("revision", "removed_needs_revision", 409)


def test_retract_unknown_is_not_found():
    assert violation(decide_retract, None, None) == ("assessment_id", "must_exist", 404)
    assert violation(decide_retract, None, 2)[2] == 404


def test_retract_takes_the_next_or_the_requested_revision():
    assert decide_retract(current(1), None) == (Decision.APPLY, 2)
    assert decide_retract(current(1), 7) == (Decision.APPLY, 7)
    for requested in (1, 0):
        assert violation(decide_retract, current(1), requested) == ("revision", "revision_must_increase", 409)


def test_retract_again_is_idempotent():
    retracted = current(2, retracted=True)
    assert decide_retract(retracted, None) == (Decision.ALREADY_DONE, 2)
    assert decide_retract(retracted, 2) == (Decision.ALREADY_DONE, 2)
    assert violation(decide_retract, retracted, 1) == ("revision", "revision_must_increase", 409)


@pytest.mark.parametrize(("day", "school_year"), [("2026-07-01", "2026/27"), ("2027-06-30", "2026/27"),
                                                  ("2026-11-02", "2026/27")])
def test_an_assessment_in_its_school_year_passes(day, school_year):
    from datetime import date

    from styrkedja_assessment.assessments.rules import check_assessed_on
    assert check_assessed_on(date.fromisoformat(day), school_year) is None


@pytest.mark.parametrize("day", ["2031-10-01", "2199-12-31", "2026-06-30", "2027-07-01"])
def test_an_assessment_outside_its_school_year_names_assessed_on_and_the_rule(day):
    """Failed on the old code (no such rule): an assessment dated years ahead kept its unit's freshness green."""
    from datetime import date

    from styrkedja_assessment.assessments.rules import check_assessed_on
    assert violation(check_assessed_on, date.fromisoformat(day), "2026/27") == ("assessed_on", "within_school_year",
                                                                                422)


def test_a_plan_published_after_its_school_year_is_refused_by_the_contracts_bounds():
    from datetime import date

    from styrkedja_assessment.plans.schemas import PlanIn
    from styrkedja_assessment.plans.service import check_plan
    plan = {"organiser_id": "2999", "school_unit_code": "29990011", "group_id": "7A", "subject_code": "GRGRMAT01",
            "school_year": "2026/27", "term": "HT", "title": "Bråk"}
    assert check_plan(PlanIn(**plan, published_on=date(2027, 6, 30))) == []
    assert check_plan(PlanIn(**plan, published_on=date(2025, 8, 1))) == []  # before: planned ahead
    assert [(v.field, v.rule) for v in check_plan(PlanIn(**plan, published_on=date(2027, 7, 1)))] == [
        ("published_on", "published_within_school_year")]


@pytest.mark.parametrize(("title", "rule"), [("Br\u200båk", "no_invisible_characters"), ("   ", "not_blank"),
                                             ("\u2060", "no_invisible_characters")])
def test_a_plan_title_is_a_name(title, rule):
    """Failed on the old code: a title of spaces or with a zero-width space was taken."""
    from pydantic import ValidationError

    from styrkedja_assessment.plans.schemas import PlanIn
    with pytest.raises(ValidationError) as caught:
        PlanIn(organiser_id="2999", school_unit_code="29990011", group_id="7A", subject_code="GRGRMAT01",
               school_year="2026/27", term="HT", title=title, published_on="2026-09-01")
    assert [(e["loc"], e["type"]) for e in caught.value.errors()] == [(("title",), rule)]

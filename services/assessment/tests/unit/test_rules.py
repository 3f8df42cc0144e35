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

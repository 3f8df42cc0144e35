"""A published assessment's item rules remembered per distinct values (`events.assessment._assessment_broken_remembered`,
decode36): the same broken rules as `assessment_broken` for valid and refused values in every order, values equal
across types kept apart (`Scale.AF` and "AF": a term grade's scale is told by identity), a value that cannot be a key
judged as it is, the memory bounded; the event's refusals as before."""

from __future__ import annotations

from datetime import date
from itertools import permutations

import pytest
from pydantic import ValidationError

from styrkedja_contracts import decode_event
from styrkedja_contracts.events import AssessmentPublishedV1
from styrkedja_contracts.events import assessment as rules
from styrkedja_contracts.examples import example_bytes
from styrkedja_contracts.scales import Scale

DAY = date(2026, 11, 13)
CASES = [
    ("assessment", Scale.AF, "C", (), 8, "GRGRMAT01", DAY, "2026/27"),
    ("assessment", Scale.AF, "F", (), 8, "GRGRMAT01", DAY, "2026/27"),  # below pass without a criterion
    ("assessment", Scale.AF, "F", ("Resonerar om lösningar",), 8, "GRGRMAT01", DAY, "2026/27"),
    ("assessment", Scale.AF, "F", ("  ",), 8, "GRGRMAT01", DAY, "2026/27"),  # a criterion that says nothing
    ("assessment", Scale.AF, "X", (), 8, "GRGRMAT01", DAY, "2026/27"),  # off the scale
    ("term_grade", Scale.THREE_LEVEL, "ACCEPTABLE", (), 8, "GRGRMAT01", DAY, "2026/27"),
    ("term_grade", Scale.AF, "C", (), 3, "GRGRMAT01", DAY, "2026/27"),  # a term grade of year 3
    ("term_grade", "AF", "C", (), 8, "GRGRMAT01", DAY, "2026/27"),  # equal to Scale.AF, not it
    ("term_grade", Scale.AF, "C", (), 8, "GRGRMAT01", DAY, "2026/27"),
    ("assessment", Scale.AF, "C", (), 8, "GRGRMAT01", date(2027, 7, 1), "2026/27"),  # outside its school year
]
EXPECTED = [tuple(rules.assessment_broken(*case)) for case in CASES]


def test_the_remembered_rules_are_the_rules_whatever_came_before() -> None:
    assert EXPECTED[0] == () and EXPECTED[1] and EXPECTED[7] != EXPECTED[8]
    for order in permutations(range(len(CASES)), 3):
        rules._assessment_broken_remembered.cache_clear()
        for i in (*order, *range(len(CASES)), *reversed(order)):
            assert rules._assessment_broken_remembered(*CASES[i]) == EXPECTED[i], CASES[i]


def test_the_events_refusals_are_as_before_and_a_list_is_judged_as_it_is() -> None:
    rules._assessment_broken_remembered.cache_clear()
    event = decode_event(example_bytes(AssessmentPublishedV1.event_type))
    body = event.data.model_dump()
    for _ in range(2):
        AssessmentPublishedV1.model_validate(body)
        with pytest.raises(ValidationError, match="criteria_required_below_pass"):
            AssessmentPublishedV1.model_validate({**body, "value": "F", "unmet_criteria": []})
    listed = AssessmentPublishedV1.model_construct(**{**body, "value": "F", "unmet_criteria": []})
    with pytest.raises(Exception, match="criteria_required_below_pass"):
        listed._check_rules()  # the list is no key: judged by `assessment_broken` itself


def test_the_memory_is_bounded() -> None:
    rules._assessment_broken_remembered.cache_clear()
    info = rules._assessment_broken_remembered.cache_info()
    for n in range(info.maxsize + 20):
        rules._assessment_broken_remembered("assessment", Scale.AF, "C", (f"k{n}",), 8, "GRGRMAT01", DAY, "2026/27")
    info = rules._assessment_broken_remembered.cache_info()
    assert info.currsize <= info.maxsize

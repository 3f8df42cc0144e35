"""The batch's result check is cached per kind, scale, value, whether criteria are named and whether the subject is
the anpassad grundskola's: it accepts and refuses exactly as `check_result` does, with the same rule."""

from __future__ import annotations

import itertools
from datetime import date
from functools import partial
from types import SimpleNamespace

from styrkedja_assessment.assessments.rules import check_result, special_school
from styrkedja_assessment.assessments.service import _check
from styrkedja_contracts.events.assessment import AssessmentKind
from styrkedja_contracts.scales import Scale, all_scale_values
from styrkedja_kit.rules import RuleViolation


def outcome(check, *args) -> tuple[str, str] | None:
    try:
        check(*args)
    except RuleViolation as error:
        return error.field, error.rule
    return None


def test_the_cached_check_is_check_result() -> None:
    values = [*all_scale_values(), "G", "", "e"]
    assert special_school("GRSAMAT01") and not special_school("GRGRMAT01")
    for kind, scale, value, criteria, subject in itertools.product(AssessmentKind, Scale, values,
                                                                   ([], ["Taluppfattning"]), ("GRGRMAT01", "GRSAMAT01")):
        for _ in range(2):  # the second time from the cache
            item = SimpleNamespace(kind=kind, scale=scale, value=value, unmet_criteria=criteria, school_year="2026/27",
                                   subject_code=subject, year=7,
                                   assessed_on=date(2026, 11, 2))  # in its school year: `check_assessed_on` holds
            expected = outcome(partial(check_result, special_school=special_school(subject)), kind.value, scale,
                               value, tuple(criteria))
            assert outcome(_check, item) == expected, (
                kind, scale, value, criteria, subject)

"""Students at risk: N subjects below pass (boundary N−1 / N), the current result per subject,
and a year-9 forecast 'not reached' in a core subject."""

from datetime import date

import pytest

from styrkedja_contracts.identifiers import Gender
from styrkedja_contracts.scales import Scale
from styrkedja_kit.rules import RuleViolation
from styrkedja_reporting.alerts.at_risk import AtRiskRule, at_risk
from styrkedja_reporting.figures.facts import Forecast, Result, ResultKind
from styrkedja_reporting.figures.periods import SchoolYear, Term, TermPeriod

SY = SchoolYear(2026)
VT = TermPeriod(SY, Term.VT)
UNITS = (("group", "29990011:9A"), ("school_unit", "29990011"))


def result(subject: str, value: str, *, student="s1", kind=ResultKind.assessment, on=date(2027, 2, 1), round_=3,
           term=Term.VT, rid=None) -> Result:
    return Result(rid or f"{student}-{subject}-{on}-{kind}", student, subject, 9, Gender.female, UNITS, SY, term,
                  None if kind is ResultKind.term_grade else round_, kind, Scale.AF, value, on)


def forecast(subject: str, value: str, *, student="s1", year=9, term=Term.VT) -> Forecast:
    return Forecast(f"f-{student}-{subject}", student, subject, year, Gender.male, UNITS, SY, term, value,
                    date(2027, 3, 26))


FAILS = [result(code, "F") for code in ("GRGRMAT01", "GRGRENG01", "GRGRBIO01", "GRGRFYS01")]


def test_exactly_n_subjects_below_pass_is_at_risk_and_n_minus_one_is_not():
    risk = at_risk("s1", VT, FAILS[:3], [])
    assert risk is not None and risk.below_pass_in_many
    assert risk.subjects_below_pass == ("GRGRBIO01", "GRGRENG01", "GRGRMAT01")
    assert at_risk("s1", VT, FAILS[:2] + [result("GRGRBIO01", "E")], []) is None


def test_n_is_configurable():
    assert at_risk("s1", VT, FAILS[:3], [], AtRiskRule(min_subjects=4)) is None
    assert at_risk("s1", VT, FAILS, [], AtRiskRule(min_subjects=4)) is not None
    assert at_risk("s1", VT, FAILS[:1], [], AtRiskRule(min_subjects=1)) is not None
    with pytest.raises(RuleViolation):
        AtRiskRule(min_subjects=0)


def test_the_current_result_per_subject_counts():
    # an F in round 2 replaced by an E in round 3 is no longer below pass …
    later_pass = [*FAILS[:2], result("GRGRBIO01", "F", on=date(2027, 1, 10), round_=2),
                  result("GRGRBIO01", "E", on=date(2027, 3, 1), round_=3)]
    assert at_risk("s1", VT, later_pass, []) is None
    # … and a term grade wins over a newer assessment
    grade_fails = [*FAILS[:2], result("GRGRBIO01", "F", kind=ResultKind.term_grade, on=date(2027, 1, 10)),
                   result("GRGRBIO01", "C", on=date(2027, 3, 1))]
    assert at_risk("s1", VT, grade_fails, []) is not None


def test_other_students_and_terms_are_ignored():
    others = [result(c, "F", student="s2") for c in ("GRGRMAT01", "GRGRENG01", "GRGRBIO01")]
    autumn = [result(c, "F", term=Term.HT) for c in ("GRGRMAT01", "GRGRENG01", "GRGRBIO01")]
    assert at_risk("s1", VT, others + autumn, []) is None


@pytest.mark.parametrize("subject", ["GRGRSVE01", "GRGRSVA01", "GRGRENG01", "GRGRMAT01"])
def test_a_core_forecast_not_reached_in_year_9(subject):
    risk = at_risk("s1", VT, [], [forecast(subject, "NOT_REACHED")])
    assert risk is not None
    assert (risk.core_forecasts_not_reached, risk.below_pass_in_many) == ((subject,), False)


@pytest.mark.parametrize("f", [
    forecast("GRGRMAT01", "NOT_REACHED", year=8),  # not year 9
    forecast("GRGRBIO01", "NOT_REACHED"),  # not a core subject
    forecast("GRGRMAT01", "ACCEPTABLE"),
    forecast("GRGRMAT01", "NOT_REACHED", student="s2"),
    forecast("GRGRMAT01", "NOT_REACHED", term=Term.HT),
])
def test_not_a_core_risk(f):
    assert at_risk("s1", VT, [], [f]) is None


def test_both_reasons_are_listed():
    risk = at_risk("s1", VT, FAILS[:3], [forecast("GRGRSVE01", "NOT_REACHED")])
    assert risk is not None
    assert risk.below_pass_in_many and risk.core_forecasts_not_reached == ("GRGRSVE01",)
    one_fail = at_risk("s1", VT, FAILS[:1], [forecast("GRGRSVE01", "NOT_REACHED")])
    assert one_fail is not None and one_fail.subjects_below_pass == ("GRGRMAT01",) and not one_fail.below_pass_in_many

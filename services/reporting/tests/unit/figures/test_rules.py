"""Unit tests of the figure rules on hand-made data (DESIGN.md §5, issue 9), edge cases included:
empty roster, a student with only a forecast, fewer than 16 subjects, a student who changes
group mid-term, values exactly at the thresholds."""

from datetime import date

import pytest

from styrkedja_contracts.identifiers import Gender
from styrkedja_contracts.scales import Scale
from styrkedja_kit.rules import RuleViolation
from styrkedja_reporting.figures.cells import ResultCell
from styrkedja_reporting.figures.coverage import RosterStatus, coverage, coverage_contribution
from styrkedja_reporting.figures.facts import Forecast, Result, ResultKind
from styrkedja_reporting.figures.forecast_outcome import (
    ForecastCell,
    ForecastTally,
    Outcome,
    Pairing,
    classify,
    forecast_against_outcome,
    forecast_outcome_contribution,
    outcome_of,
)
from styrkedja_reporting.figures.freshness import (
    Band,
    FreshnessBands,
    add_months,
    band,
    freshness,
    freshness_contribution,
    freshness_delta,
)
from styrkedja_reporting.figures.merit import (
    MeritCell,
    is_eligible,
    merit_contribution,
    merit_figures,
    merit_value,
    passes_all,
)
from styrkedja_reporting.figures.pass_share import (
    PassTally,
    cell_trend,
    gender_gap,
    pass_contribution,
    pass_share,
    term_history,
    trend,
)
from styrkedja_reporting.figures.periods import (
    Comparison,
    RoundPeriod,
    SchoolYear,
    Term,
    TermPeriod,
    compared_with,
    history,
)
from styrkedja_reporting.figures.state import Multiset, combined, merge, total
from styrkedja_reporting.figures.subjects import ELIGIBILITY_RULES, is_language_choice, is_modern_language

SY = SchoolYear.parse("2026/27")


def units_of(group: str, school: str = "12345678") -> tuple[tuple[str, str], ...]:
    return (("group", f"{school}:{group}"), ("school_unit", school), ("organiser", "2120000000"))


def result(student: str = "s1", subject: str = "GRGRMAT01", value: str = "E", *, gender: Gender = Gender.female,
           group: str = "9A", year: int = 9, school_year: SchoolYear = SY, term: Term = Term.VT,
           round: int | None = 3, kind: ResultKind = ResultKind.assessment, scale: Scale = Scale.AF,
           on: date = date(2027, 3, 1), rid: str | None = None) -> Result:
    return Result(rid or f"{student}-{subject}-{school_year}-{term}-{round}-{kind}", student, subject, year, gender,
                  units_of(group), school_year, term, round, kind, scale, value, on)


def grade(student: str, subject: str, value: str, **kw) -> Result:
    kw.setdefault("round", None)
    return result(student, subject, value, kind=ResultKind.term_grade, **kw)


def forecast(student: str = "s1", subject: str = "GRGRMAT01", value: str = "ACCEPTABLE", *,
             gender: Gender = Gender.female, group: str = "9A", year: int = 9, term: Term = Term.VT,
             on: date = date(2027, 3, 25)) -> Forecast:
    return Forecast(f"f-{student}-{subject}-{term}", student, subject, year, gender, units_of(group), SY, term, value, on)




SCHOOL = ("school_unit", "12345678")
GROUP_9A = ("group", "12345678:9A")
VT27 = TermPeriod(SY, Term.VT)


# --- periods -----------------------------------------------------------------------------------

def test_school_year_parses_and_steps_back_across_the_century():
    assert str(SY) == "2026/27" and str(SY.previous()) == "2025/26"
    assert str(SchoolYear.parse("2099/00")) == "2099/00"
    assert str(SchoolYear.parse("2000/01").previous()) == "1999/00"


@pytest.mark.parametrize("text", ["2026/28", "2026-27", "26/27", "2026/2027", "", "2026/27\n", "２０２６/２７"])
def test_a_malformed_school_year_is_a_rule_violation(text):
    with pytest.raises(RuleViolation) as caught:
        SchoolYear.parse(text)
    assert caught.value.field == "school_year" and caught.value.rule == "school_year_format"


def test_previous_periods_of_each_kind():
    ht26 = TermPeriod(SY, Term.HT)
    assert compared_with(VT27, Comparison.previous_term) == ht26
    assert compared_with(ht26, Comparison.previous_term) == TermPeriod(SY.previous(), Term.VT)
    assert compared_with(VT27, Comparison.same_term_last_year) == TermPeriod(SY.previous(), Term.VT)
    assert compared_with(ht26, Comparison.same_term_last_year) == TermPeriod(SY.previous(), Term.HT)
    assert compared_with(RoundPeriod(SY, 3), Comparison.previous_round) == RoundPeriod(SY, 2)
    assert compared_with(RoundPeriod(SY, 1), Comparison.previous_round) == RoundPeriod(SY.previous(), 4)


def test_a_round_is_compared_only_with_the_previous_round_and_a_term_never_with_a_round():
    with pytest.raises(RuleViolation):
        compared_with(RoundPeriod(SY, 2), Comparison.previous_term)
    with pytest.raises(RuleViolation):
        compared_with(VT27, Comparison.previous_round)
    with pytest.raises(RuleViolation):
        RoundPeriod(SY, 5)


def test_history_is_oldest_first_and_ends_with_the_period():
    periods = history(VT27, 4, Comparison.previous_term)
    assert [str(p) for p in periods] == ["HT 2025/26", "VT 2025/26", "HT 2026/27", "VT 2026/27"]
    assert periods == sorted(periods, key=lambda p: p.sort_key())
    assert [str(p) for p in history(VT27, 3, Comparison.same_term_last_year)] == [
        "VT 2024/25", "VT 2025/26", "VT 2026/27"]
    with pytest.raises(RuleViolation):
        history(VT27, 0, Comparison.previous_term)


# --- pass share, trend, history, gender gap --------------------------------------------------------

def test_a_result_counts_in_every_unit_for_its_term_and_its_round():
    cells = pass_contribution(result(value="F"))
    assert set(cells) == {ResultCell(u, "GRGRMAT01", 9, p) for u in units_of("9A") for p in (VT27, RoundPeriod(SY, 3))}
    assert all(t == PassTally(assessed_female=1) for t in cells.values())
    assert set(pass_contribution(grade("s1", "GRGRMAT01", "A"))) == {
        ResultCell(u, "GRGRMAT01", 9, VT27) for u in units_of("9A")}


def _ledger(*results):
    return total(pass_contribution(r) for r in results)


def test_trend_against_the_previous_term_and_the_same_term_last_year():
    ledger = _ledger(
        result("a", value="E", term=Term.VT), result("b", value="F", term=Term.VT),  # VT 26/27: 1/2
        result("a", value="E", term=Term.HT, round=1), result("b", value="E", term=Term.HT, round=1),  # HT: 2/2
        result("a", value="F", school_year=SY.previous(), term=Term.VT),  # VT 25/26: 0/1
    )
    cell = ResultCell(SCHOOL, "GRGRMAT01", 9, VT27)
    against_term = cell_trend(ledger.get, cell, Comparison.previous_term)
    assert (against_term.current.share, against_term.previous.share, against_term.change) == (0.5, 1.0, -0.5)
    assert cell_trend(ledger.get, cell, Comparison.same_term_last_year).change == 0.5
    round_cell = ResultCell(SCHOOL, "GRGRMAT01", 9, RoundPeriod(SY, 3))
    assert cell_trend(ledger.get, round_cell, Comparison.previous_round).previous.assessed == 0  # round 2 empty
    assert cell_trend(ledger.get, round_cell, Comparison.previous_round).change is None


def test_trend_without_results_in_either_period_is_none_never_a_division_by_zero():
    assert trend(None, None).change is None
    assert trend(PassTally(assessed_male=2, reaching_male=1), None).change is None


def test_term_history_lists_every_period_even_the_empty_ones():
    ledger = _ledger(result("a", value="E"), result("a", value="F", term=Term.HT, school_year=SY.previous()))
    series = term_history(ledger.get, ResultCell(SCHOOL, "GRGRMAT01", 9, VT27), 4)
    assert [(str(c.period), s.share) for c, s in series] == [
        ("HT 2025/26", 0.0), ("VT 2025/26", None), ("HT 2026/27", None), ("VT 2026/27", 1.0)]


def test_gender_gap_leaves_unknown_gender_out_of_the_gap_but_in_the_total():
    ledger = _ledger(
        result("g1", value="E"), result("g2", value="E"), result("g3", value="E"), result("g4", value="F"),
        result("b1", value="E", gender=Gender.male), result("b2", value="F", gender=Gender.male),
        result("u1", value="F", gender=Gender.unknown),
    )
    gap = gender_gap(ledger[ResultCell(SCHOOL, "GRGRMAT01", 9, VT27)])
    assert (gap.girls.share, gap.boys.share, gap.gap) == (0.75, 0.5, 0.25)
    assert (gap.total.reaching, gap.total.assessed) == (4, 7)


def test_gender_gap_needs_both_girls_and_boys():
    only_girls = gender_gap(PassTally(assessed_female=3, reaching_female=3, assessed_unknown=1))
    assert only_girls.gap is None and only_girls.total.assessed == 4
    assert gender_gap(None).gap is None


def test_gender_gap_is_computed_exactly_before_rounding():
    gap = gender_gap(PassTally(assessed_female=3, reaching_female=2, assessed_male=3, reaching_male=1))
    assert gap.gap == 0.3333 and pass_share(None).share is None


def test_three_level_results_count_towards_the_pass_share():
    tally = _ledger(result(value="NOT_REACHED", scale=Scale.THREE_LEVEL),
                    result("b", value="ACCEPTABLE", scale=Scale.THREE_LEVEL))[ResultCell(SCHOOL, "GRGRMAT01", 9, VT27)]
    assert (tally.reaching(), tally.assessed()) == (1, 2)


# --- freshness -------------------------------------------------------------------------------------

def test_add_months_clamps_to_the_end_of_the_month():
    assert add_months(date(2026, 8, 31), 6) == date(2027, 2, 28)
    assert add_months(date(2027, 10, 15), 4) == date(2028, 2, 15)


@pytest.mark.parametrize(("today", "expected"), [
    (date(2027, 1, 1), Band.green),
    (date(2027, 5, 14), Band.green),  # one day short of 4 months
    (date(2027, 5, 15), Band.yellow),  # exactly 4 months
    (date(2027, 9, 15), Band.yellow),  # exactly 8 months
    (date(2027, 9, 16), Band.red),  # one day over 8 months
])
def test_freshness_bands_exactly_at_the_thresholds(today, expected):
    assert band(date(2027, 1, 15), today) is expected


def test_freshness_thresholds_are_configuration():
    assert band(date(2027, 1, 15), date(2027, 3, 15), FreshnessBands(2, 3)) is Band.yellow
    assert band(date(2027, 1, 15), date(2027, 4, 16), FreshnessBands(2, 3)) is Band.red
    with pytest.raises(RuleViolation):
        FreshnessBands(9, 8)


def test_freshness_follows_the_newest_result_and_falls_back_when_it_is_retracted():
    old, new = result("a", on=date(2026, 9, 1)), result("b", on=date(2027, 3, 1))
    cell = ResultCell(SCHOOL, "GRGRMAT01", 9, VT27)
    both = total(freshness_contribution(r) for r in (old, new))
    assert freshness(both[cell], date(2027, 4, 1)) == freshness(Multiset.of(date(2027, 3, 1)), date(2027, 4, 1))
    assert freshness(both[cell], date(2027, 4, 1)).age_days == 31
    after_retraction = merge(both, freshness_delta(new, None))
    assert freshness(after_retraction[cell], date(2027, 4, 1)).band is Band.yellow  # 7 months
    assert freshness(after_retraction[cell], date(2027, 5, 2)).band is Band.red


def test_freshness_of_an_empty_cell_is_unknown_and_a_future_date_is_age_zero():
    assert freshness(None, date(2027, 1, 1)).band is Band.unknown
    assert freshness(Multiset(), date(2027, 1, 1)).newest is None
    future = freshness(Multiset.of(date(2027, 2, 1)), date(2027, 1, 1))
    assert (future.age_days, future.band) == (0, Band.green)


# --- coverage --------------------------------------------------------------------------------------

def test_coverage_counts_students_not_results():
    ledger = total(coverage_contribution(r) for r in (
        result("a"), result("a", round=4, rid="a-again"), result("b"), result("c", subject="GRGRSVE01")))
    math = ledger[ResultCell(SCHOOL, "GRGRMAT01", 9, VT27)]
    figure = coverage(math, 4)
    assert (figure.with_result, figure.roster_size, figure.share, figure.status) == (2, 4, 0.5, RosterStatus.known)


def test_coverage_with_an_unknown_or_empty_roster_never_divides_by_zero():
    students = Multiset.of("a", "b")
    assert coverage(students, None) == coverage(students, None)
    assert (coverage(students, None).share, coverage(students, None).status) == (None, RosterStatus.unknown)
    empty = coverage(None, 0)
    assert (empty.with_result, empty.share, empty.status, empty.exceeds_roster) == (0, None, RosterStatus.empty, False)
    assert coverage(students, 0).exceeds_roster


def test_a_student_who_changes_group_mid_term_counts_in_both_groups_and_once_at_the_school():
    ledger = total(coverage_contribution(r) for r in (
        result("mover", group="9A", round=3, on=date(2027, 2, 1)),
        result("mover", group="9B", round=4, on=date(2027, 5, 1)),
        result("stayer", group="9B", round=4)))
    at = {unit: coverage(ledger.get(ResultCell(unit, "GRGRMAT01", 9, VT27)), 2) for unit in
          (GROUP_9A, ("group", "12345678:9B"), SCHOOL)}
    assert [c.with_result for c in at.values()] == [1, 2, 2]
    assert coverage(ledger[ResultCell(SCHOOL, "GRGRMAT01", 9, VT27)], 1).exceeds_roster
    assert coverage(ledger[ResultCell(SCHOOL, "GRGRMAT01", 9, VT27)], 1).share == 1.0


# --- forecast against outcome ----------------------------------------------------------------------

def test_only_a_later_result_in_the_same_subject_and_term_is_an_outcome():
    f = forecast(on=date(2027, 3, 25))
    same_day = result(value="F", on=date(2027, 3, 25))
    earlier = result(value="F", on=date(2027, 3, 1), rid="earlier")
    other_subject = result(subject="GRGRSVE01", value="F", on=date(2027, 4, 1))
    other_term = result(value="F", term=Term.HT, on=date(2027, 4, 1))
    other_student = result("s2", value="F", on=date(2027, 4, 1))
    assert outcome_of(f, [same_day, earlier, other_subject, other_term, other_student]) is None
    assert classify(f, [same_day]) is Outcome.no_outcome


def test_the_term_grade_wins_over_a_newer_assessment():
    f = forecast(value="ACCEPTABLE", on=date(2027, 3, 25))
    term_grade = grade("s1", "GRGRMAT01", "F", on=date(2027, 6, 10))
    later_assessment = result(value="C", round=4, on=date(2027, 6, 12))
    assert outcome_of(f, [later_assessment, term_grade]) == term_grade
    assert classify(f, [later_assessment, term_grade]) is Outcome.said_reaches_did_not
    assert classify(f, [later_assessment]) is Outcome.held


def test_each_way_a_forecast_can_go():
    later = date(2027, 5, 1)
    assert classify(forecast(value="NOT_REACHED"), [result(value="F", on=later)]) is Outcome.held
    assert classify(forecast(value="NOT_REACHED"), [result(value="E", on=later)]) is Outcome.said_not_reached_did
    assert classify(forecast(value="MORE_THAN_ACCEPTABLE"), [result(value="F", on=later)]) is (
        Outcome.said_reaches_did_not)


def test_a_student_with_only_a_forecast_is_counted_as_without_outcome():
    cells = forecast_outcome_contribution(Pairing(forecast(), ()))
    assert cells[ForecastCell(SCHOOL, "GRGRMAT01", 9, Gender.female, VT27)] == ForecastTally(no_outcome=1)
    figure = forecast_against_outcome(cells[ForecastCell(SCHOOL, "GRGRMAT01", 9, Gender.female, VT27)])
    assert (figure.no_outcome, figure.share_held) == (1, None)
    assert forecast_outcome_contribution(Pairing(None, (result(),))) == {}  # a result alone is not in the figure


def test_share_of_forecasts_that_held():
    figure = forecast_against_outcome(ForecastTally(held=3, said_reaches_did_not=1, no_outcome=5))
    assert figure.share_held == 0.75


# --- merit value, all pass, eligibility -------------------------------------------------------------

FULL_SET = ["GRGRSVE01", "GRGRENG01", "GRGRMAT01", "GRGRBIL01", "GRGRBIO01", "GRGRFYS01", "GRGRGEO01", "GRGRHIS01",
            "GRGRHKK01", "GRGRIDR01", "GRGRKEM01", "GRGRMUS01", "GRGRREL01", "GRGRSAM01", "GRGRSLJ01", "GRGRTEK01"]


def test_merit_value_of_sixteen_subjects_plus_a_modern_language():
    grades = dict.fromkeys(FULL_SET, "A")
    assert merit_value(grades) == 320
    assert merit_value(grades | {"GRGRM2SPA": "A"}) == 340  # the maximum
    assert merit_value(grades | {"GRGRM2SPA": "F"}) == 320
    assert merit_value(grades | {"GRGRM1SPA": "A"}) == 320  # elevens val: an ordinary subject, no 17th


def test_merit_value_takes_the_sixteen_best_outside_the_language_choice():
    grades = dict.fromkeys(FULL_SET, "C") | {"GRGRMOD01": "A"}  # 17 subjects outside språkval
    assert merit_value(grades) == 20 + 15 * 15
    assert merit_value(grades | {"GRGRM2TYS": "E", "GRGRMSP01": "B"}) == 20 + 15 * 15 + 17.5  # best one only
    assert merit_value(grades | {"GRGRM1TYS": "A", "GRGRM2FRA": "E"}) == 20 + 20 + 14 * 15 + 10


def test_merit_value_with_fewer_than_sixteen_subjects_is_the_sum_of_those_there_are():
    assert merit_value({"GRGRSVE01": "B", "GRGRMAT01": "D", "GRGRENG01": "F"}) == 30
    assert merit_value({}) == 0


def test_pass_in_all_subjects():
    assert passes_all({"GRGRSVE01": "E", "GRGRMAT01": "A"})
    assert not passes_all({"GRGRSVE01": "E", "GRGRMAT01": "F"})
    assert not passes_all({})


def _passes(*subjects: str) -> dict[str, str]:
    return dict.fromkeys(subjects, "E")


def test_vocational_eligibility_needs_the_three_core_subjects_and_five_more():
    rule = ELIGIBILITY_RULES["vocational"]
    five_more = ["GRGRBIL01", "GRGRBIO01", "GRGRFYS01", "GRGRGEO01", "GRGRHIS01"]
    assert is_eligible(rule, _passes("GRGRSVE01", "GRGRENG01", "GRGRMAT01", *five_more))
    assert is_eligible(rule, _passes("GRGRSVA01", "GRGRENG01", "GRGRMAT01", *five_more))  # Swedish as a 2nd language
    assert not is_eligible(rule, _passes("GRGRSVE01", "GRGRENG01", "GRGRMAT01", *five_more[:4]))  # exactly one short
    assert not is_eligible(rule, _passes("GRGRSVE01", "GRGRENG01", *five_more) | {"GRGRMAT01": "F"})
    # Swedish and Swedish as a second language are one core subject, never one core + one other
    assert not is_eligible(rule, _passes("GRGRSVE01", "GRGRSVA01", "GRGRENG01", "GRGRMAT01", *five_more[:4]))


def test_preparatory_eligibility_needs_nine_more_with_the_programme_specific_ones():
    core = ("GRGRSVE01", "GRGRENG01", "GRGRMAT01")
    social = ("GRGRGEO01", "GRGRHIS01", "GRGRREL01", "GRGRSAM01")
    five_others = ("GRGRBIL01", "GRGRMUS01", "GRGRSLJ01", "GRGRHKK01", "GRGRIDR01")
    grades = _passes(*core, *social, *five_others)  # 12 subjects
    assert is_eligible(ELIGIBILITY_RULES["preparatory_ek_hu_sa"], grades)
    assert is_eligible(ELIGIBILITY_RULES["preparatory_es"], grades)
    assert not is_eligible(ELIGIBILITY_RULES["preparatory_na_te"], grades)  # no biology, physics, chemistry
    science = _passes(*core, "GRGRBIO01", "GRGRFYS01", "GRGRKEM01", *five_others, "GRGRTEK01")
    assert is_eligible(ELIGIBILITY_RULES["preparatory_na_te"], science)
    assert not is_eligible(ELIGIBILITY_RULES["preparatory_na_te"], science | {"GRGRKEM01": "F"})
    assert not is_eligible(ELIGIBILITY_RULES["preparatory_ek_hu_sa"], grades | {"GRGRREL01": "F"})


def test_merit_cell_of_a_year_nine_student_with_fewer_than_sixteen_subjects():
    grades = [grade("s1", s, "C") for s in FULL_SET[:8]]
    cells = merit_contribution(grades)
    tally = cells[MeritCell(SCHOOL, 9, Gender.female, VT27)]
    assert (tally.merit_students, tally.merit_half_points, tally.graded_students, tally.all_pass) == (1, 240, 1, 1)
    assert tally.eligible_vocational == 1 and tally.eligible_preparatory_es == 0
    figures = merit_figures(tally)
    assert figures.mean_merit_value == 120.0 and figures.share_eligible["vocational"] == 1.0


def test_merit_takes_the_newest_term_grade_per_subject_and_ignores_assessments():
    cells = merit_contribution([
        grade("s1", "GRGRMAT01", "F", on=date(2027, 6, 1), rid="old"),
        grade("s1", "GRGRMAT01", "B", on=date(2027, 6, 5), rid="new"),
        result("s1", "GRGRSVE01", "A"),  # an assessment, not a term grade
    ])
    tally = cells[MeritCell(SCHOOL, 9, Gender.female, VT27)]
    assert (tally.merit_half_points, tally.all_pass) == (35, 1)


def test_a_student_who_changes_group_mid_term_counts_once_in_the_group_graded_last():
    cells = merit_contribution([grade("s1", "GRGRMAT01", "A", group="9A", on=date(2027, 6, 1)),
                                grade("s1", "GRGRSVE01", "B", group="9B", on=date(2027, 6, 3))])
    assert MeritCell(GROUP_9A, 9, Gender.female, VT27) not in cells
    assert cells[MeritCell(("group", "12345678:9B"), 9, Gender.female, VT27)].merit_students == 1
    assert cells[MeritCell(SCHOOL, 9, Gender.female, VT27)].merit_half_points == 75


def test_merit_and_eligibility_only_for_year_nine_all_pass_for_years_six_to_nine():
    year_7 = merit_contribution([grade("s1", "GRGRMAT01", "F", year=7)])[MeritCell(SCHOOL, 7, Gender.female, VT27)]
    assert (year_7.graded_students, year_7.all_pass, year_7.merit_students, year_7.merit_half_points) == (1, 0, 0, 0)
    assert merit_contribution([grade("s1", "GRGRMAT01", "A", year=5)]) == {}
    assert merit_contribution([]) == {}
    with pytest.raises(ValueError):
        merit_contribution([grade("s1", "GRGRMAT01", "A"), grade("s2", "GRGRMAT01", "A")])


def test_merit_figures_of_an_empty_cell():
    figures = merit_figures(None)
    assert figures.mean_merit_value is None and figures.share_all_pass is None
    assert set(figures.share_eligible.values()) == {None}


def test_cells_combine_across_years_and_empty_cells_count_as_nothing():
    assert combined([PassTally(assessed_male=1), None, PassTally(assessed_male=2, reaching_male=2)]) == PassTally(
        assessed_male=3, reaching_male=2)
    assert combined([None, None]) is None
    assert combined([Multiset.of("a"), Multiset.of("a", "b")]) == Multiset({"a": 2, "b": 1})


def test_modern_languages_and_the_language_choice_by_code():
    assert is_modern_language("GRGRM1GER") and not is_modern_language("GRGRMAT01")
    assert is_language_choice("GRGRM2GER") and not is_language_choice("GRGRM1GER")

"""The apply path's forecast-against-outcome counters (`linked.forecast_counts`, straight from the stored facts)
equal the rules' path (`linked.forecast_state`: `Result`/`Forecast` objects, `classify` per pairing) for every
mix of forecasts and results: retracted, withdrawn, undated, results before/on/after the forecast's day, term
grades and assessments, ties of day and round, each scale and value, with and without an area."""

from datetime import date
from uuid import UUID

from hypothesis import given, settings
from hypothesis import strategies as st

from styrkedja_contracts.identifiers import Gender
from styrkedja_contracts.scales import Scale, scale_values
from styrkedja_reporting.figures.linked import _signed_counts, _signed_rows, forecast_counts, forecast_state
from styrkedja_reporting.figures.tables import counters_of
from styrkedja_reporting.results.rules import AssessmentFact, ForecastFact

scales_values = st.sampled_from([(scale.value, value) for scale in Scale for value in scale_values(scale)])
days = st.sampled_from([date(2026, 10, 1), date(2026, 10, 2), date(2026, 10, 3)])
students = st.sampled_from(["s-1", "s-2"])
subjects = st.sampled_from(["GRGRMAT01", "GRGRSVE01"])
terms = st.sampled_from(["HT", "VT"])
codes = st.sampled_from(["29990001", "29990002"])
#: the strategies of every draw, made once (made anew in each draw, hypothesis worked each out again)
genders = st.sampled_from([g.value for g in Gender])
kinds = st.sampled_from(["assessment", "written_report", "term_grade"])
rounds = st.sampled_from([1, 2, 3, 4])
days_or_none = st.one_of(days, st.none())
ids = st.integers(0, 2**128 - 1)
forecast_values = st.sampled_from(scale_values(Scale.THREE_LEVEL))


@st.composite
def results(draw, n: int) -> AssessmentFact:
    scale, value = draw(scales_values)
    return AssessmentFact(
        assessment_id=UUID(int=draw(ids)), revision=1, retracted=draw(st.booleans()),
        organiser_id="2999", school_unit_code=draw(codes), group_id="7A", student_id=draw(students),
        gender=draw(genders), year=9, subject_code=draw(subjects),
        kind=draw(kinds), scale=scale, value=value,
        school_year="2026/27", term=draw(terms), round=draw(rounds),
        assessed_on=draw(days_or_none))


@st.composite
def forecasts(draw, n: int) -> ForecastFact:
    return ForecastFact(
        forecast_id=UUID(int=n), revision=1, withdrawn=draw(st.booleans()), organiser_id="2999",
        school_unit_code=draw(codes), group_id="9B", student_id=draw(students),
        gender=draw(genders), year=9, subject_code=draw(subjects),
        value=draw(forecast_values), school_year="2026/27", term=draw(terms),
        late=False, submitted_on=draw(days_or_none))


@settings(max_examples=300)
@given(data=st.data(), placement=st.sampled_from([{}, {"29990001": "2999-north"}]))
def test_forecast_counts_equal_the_rules(data, placement: dict) -> None:
    stored_results = [data.draw(results(n)) for n in range(data.draw(st.integers(0, 8)))]
    stored_forecasts = [data.draw(forecasts(n)) for n in range(data.draw(st.integers(0, 4)))]
    counts = forecast_counts(stored_forecasts, stored_results, placement)
    state = forecast_state(stored_forecasts, stored_results, placement)
    assert {key: tuple(values) for key, values in counts.items()} == {k: counters_of(t) for k, t in state.items()}
    # and the deltas between two states the same way
    before = forecast_state(stored_forecasts[:1], stored_results[:2], placement)
    assert sorted(_signed_counts(counts, forecast_counts(stored_forecasts[:1], stored_results[:2], placement))) == \
        sorted(_signed_rows(state, before, 4))

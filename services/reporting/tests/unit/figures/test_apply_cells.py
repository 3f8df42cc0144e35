"""The apply path's direct cell computation (`figures.handlers._pass_cells` of a fact's
`_pass_signature`, no per-cell objects)
equals the rules' path — `result_cells(to_result(fact))` keyed by `cell_key`, counted by
`pass_tally` — for every kind of stored fact: each scale and value, gender, round or none,
retracted, undated, with and without an area."""

from datetime import date

from hypothesis import given
from hypothesis import strategies as st

from styrkedja_contracts.identifiers import Gender
from styrkedja_contracts.scales import Scale, scale_values
from styrkedja_reporting.figures.cells import result_cells
from styrkedja_reporting.figures.handlers import _pass_cells, _pass_signature, cell_key
from styrkedja_reporting.figures.linked import to_result
from styrkedja_reporting.figures.pass_share import pass_tally
from styrkedja_reporting.figures.tables import PASS_COUNTERS, counters
from styrkedja_reporting.results.rules import AssessmentFact

scales_values = st.sampled_from([(scale.value, value) for scale in Scale for value in scale_values(scale)])


@st.composite
def facts(draw) -> AssessmentFact:
    scale, value = draw(scales_values)
    return AssessmentFact(
        assessment_id="a1", revision=draw(st.integers(1, 3)), retracted=draw(st.booleans()), organiser_id="2999",
        school_unit_code=draw(st.sampled_from(["29990001", "29990002"])), group_id=draw(st.sampled_from(["7A", "9B"])),
        student_id="s-1", gender=draw(st.sampled_from([g.value for g in Gender])), year=draw(st.integers(1, 9)),
        subject_code="GRGRMAT01", kind=draw(st.sampled_from(["assessment", "written_report", "term_grade"])),
        scale=scale, value=value, school_year=draw(st.sampled_from(["2025/26", "2026/27"])),
        term=draw(st.sampled_from(["HT", "VT"])), round=draw(st.sampled_from([1, 2, 3, 4, None])),
        assessed_on=draw(st.sampled_from([date(2026, 10, 1), None])))


@given(fact=facts(), placement=st.sampled_from([{}, {"29990001": "2999-north"}]))
def test_direct_cells_equal_the_rules(fact: AssessmentFact, placement: dict) -> None:
    result = to_result(fact, placement)
    signature = _pass_signature(fact)
    if result is None:
        assert signature is None
        return
    assert signature is not None
    found = _pass_cells(signature, placement)
    cells, at, reaching = found
    assert cells == [cell_key(fact.organiser_id, cell) for cell in result_cells(result)]
    tally = [0] * len(PASS_COUNTERS)
    tally[at] += 1
    tally[at + 1] += reaching
    assert tuple(tally) == counters(pass_tally(result))


def test_nothing_for_no_fact() -> None:
    assert _pass_signature(None) is None

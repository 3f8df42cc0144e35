"""The action plan's start term as a request gives it (`self_assessments.service._start_term`): one spelling, in the
years every date of a request lies in, each broken rule said in words."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from styrkedja_kit.rules import RuleViolation
from styrkedja_lika.self_assessments.service import _start_term

NOW = datetime(2026, 9, 1, tzinfo=UTC)


@pytest.mark.parametrize(("text", "rule"), [
    ("HT 9998/99", "date_range"), ("VT 9998/99", "date_range"), ("HT 2200/01", "date_range"),
    ("HT 2199/00", "date_range"), ("VT 2199/00", "date_range"),
    ("HT 1899/00", "date_range"), ("HT 0000/01", "date_range"),
    ("HT 2026/28", "school_year_format"),
    ("HT  2026/27", "term_format"), ("HT 2026/27 ", "term_format"), ("HT\u00a02026/27", "term_format"),
    ("HT\n2026/27", "term_format"), ("HT 2026/27\n", "term_format"), ("HT2026/27", "term_format"),
    ("HT \u0662\u0660\u0662\u0666/27", "term_format"),
])
def test_a_start_term_out_of_the_years_or_spelt_otherwise_is_refused_in_words(text: str, rule: str) -> None:
    """Failed on the old code: `HT 9998/99` was taken (its plan's suggested terms then left the school years' range:
    a 500 at publish), `HT 2200/01` and `HT 2026/27 ` (or with a no-break space, a newline, no space) were taken, and a
    school year out of its range or of two years not in a row was refused with pydantic's own text (`1 validation
    error for SchoolTerm ... https://errors.pydantic.dev/...`) under `term_format`. And (round 24c) `HT`/`VT 2199/00`
    were taken, where every other school year a request names ends at 2198/99 (its days in 1900–2199)."""
    with pytest.raises(RuleViolation) as refused:
        _start_term(text, NOW)
    assert (refused.value.field, refused.value.rule) == ("start_term", rule)
    assert "pydantic" not in str(refused.value) and "SchoolTerm" not in str(refused.value)
    assert str(_start_term("VT 2198/99", NOW)) == "VT 2198/99"  # the last school year of the range
    assert str(_start_term(None, NOW)) == "HT 2026/27"

"""CSV text as a spreadsheet in any locale reads it: it splits a line at its own list separator (`;` in a
Swedish Excel, `,` in an English one, a tab), not the file's, and quoting does not stop it. `csv_text`
leaves no cell that reading could open starting with a formula, and leaves other text as it was."""

from __future__ import annotations

import csv
import io

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from styrkedja_kit.spreadsheet import CELL_BREAKS, FORMULA_STARTS, csv_text

HOSTILE = ['Skola;=HYPERLINK("https://evil.example","klicka")', "Skola,=1+cmd|' /C calc'!A0", "a\t@SUM(1)",
           "x;-2+3", "y,+A1", "z\t\t=1", "Ann;\r=1", '7A,"=1;@2\t+3', "Mat,@SUM(A1)", "rad\n=1", "=1", "-", '"=1']
READERS = [",", ";", "\t"]


def _cells(text: str, written_with: str, read_with: str) -> list[str]:
    out = io.StringIO()
    csv.writer(out, delimiter=written_with, lineterminator="\r\n").writerow(["före", text, "efter"])
    return [c for row in csv.reader(io.StringIO(out.getvalue(), newline=""), delimiter=read_with) for c in row]


@pytest.mark.parametrize("written_with", [";", ","])
@pytest.mark.parametrize("read_with", READERS)
@pytest.mark.parametrize("text", HOSTILE)
def test_no_cell_starts_a_formula_whatever_separator_the_reader_splits_at(text, written_with, read_with) -> None:
    cells = _cells(csv_text(text), written_with, read_with)
    assert not [c for c in cells if c.lstrip('"')[:1] in FORMULA_STARTS], cells


texts = st.text(st.characters(blacklist_categories=("Cs",)), max_size=16)


@settings(max_examples=500, deadline=None)
@given(texts)
def test_text_changes_only_by_an_apostrophe_before_a_formula_at_a_cell_start(text: str) -> None:
    safe = csv_text(text)
    assert safe.replace("'", "") == text.replace("'", "")
    starts = [i for i, ch in enumerate(text) if ch in FORMULA_STARTS
              and (i == 0 or text[:i].rstrip('"') == "" or text[:i].rstrip('"')[-1] in CELL_BREAKS)]
    assert len(safe) == len(text) + len(starts)
    for read_with in READERS:
        assert not [c for c in _cells(safe, ";", read_with) if c.lstrip('"')[:1] in FORMULA_STARTS]


@pytest.mark.parametrize("text", ["Åsens skola", "Björkö-skolan", "Matte 1, -svårt", "a - b", "7A", "", "x@y.se"])
def test_ordinary_text_is_left_as_it_is(text: str) -> None:
    assert csv_text(text) == text

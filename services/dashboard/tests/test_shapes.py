"""Pure: a field of a service's answer as the dashboard shows it (`shapes`), a table of any shape
(`figures.figure_table`), the comparison of two LIKA self-assessments, and the 422's words."""

from __future__ import annotations

import math

import pytest

from styrkedja_dashboard.clients import UpstreamError, record, records
from styrkedja_dashboard.figures import Value, figure_table
from styrkedja_dashboard.lika.routes import comparison_view
from styrkedja_dashboard.shapes import flat, named, number, size, text, texts
from styrkedja_dashboard.web.forms import invalid_fields


def test_a_field_of_another_type_reads_as_none_and_what_is_there_as_it_is():
    assert [number(v) for v in (1, 0.5, True, "1", None, [1], math.nan, math.inf, 10**30)] == [
        1, 0.5, None, None, None, None, None, None, None]
    assert [text(v) for v in ("a", 9, 0.5, True, None, ["a"], {"a": 1})] == ["a", "9", "0.5", None, None, None, None]
    assert texts(["9A", 7, None, ["x"], {"k": 1}]) == ["9A", "7"] and texts("9A") == [] and texts(None) == []
    assert size([1, 2]) == 2 and size(3) is None and size("abc") is None


def test_flat_is_stable_readable_text_for_any_json_value():
    assert flat(["a", "b"]) == "a; b"
    assert flat({"k": 1, "a": [1, 2]}) == flat({"a": [1, 2], "k": 1}) == "a: 1; 2; k: 1"
    assert flat(None) == "" and flat(True) == "ja" and flat(False) == "nej" and flat(0.5) == "0.5"
    assert flat(["=1+1"], leaf=lambda s: "'" + s) == "'=1+1"


def test_named_never_raises_on_an_unhashable_code():
    names = {"rektor": "rektor", "ict_coordinator": "IKT-samordnare"}
    assert named("ict_coordinator", names) == "IKT-samordnare" and named("okänd", names) == "okänd"
    assert named(["ict_coordinator"], names) == "IKT-samordnare" and named({"k": 1}, names) == "k: 1"
    assert named(None, names) == ""


def test_records_and_record_take_only_the_promised_shape():
    assert records("reporting", [{"a": 1}]) == [{"a": 1}] and record("lika", {}) == {}
    for wrong in ({"a": 1}, [1], [{"a": 1}, "x"], "text", 42, None):
        with pytest.raises(UpstreamError) as raised:
            records("reporting", wrong)
        assert raised.value.status == 502 and raised.value.service == "reporting" and raised.value.unreadable
    for wrong in ([], "text", 42, None):
        with pytest.raises(UpstreamError):
            record("lika", wrong)


def test_a_table_of_an_odd_shape_is_read_as_far_as_it_goes_or_refused():
    table = figure_table({"columns": [{"key": "unit_id", "header": ["x"], "type": 5}, {"header": "no key"}, "x"],
                          "rows": [{"unit_id": "U1"}, {}]})
    assert [(c.key, c.header, c.type) for c in table.columns] == [("unit_id", "unit_id", "text")]
    assert table.rows[0]["unit_id"] == Value("U1") and table.rows[1]["unit_id"] == Value(None)
    assert table.rows[0]["not a column"] == Value(None)  # never a KeyError
    assert figure_table({"columns": []}).rows == []
    for wrong in (42, "x", {"rows": {"a": 1}}, {"rows": [1]}, {"rows": [], "columns": {"a": 1}}, [1, 2]):
        with pytest.raises(UpstreamError):
            figure_table(wrong)


def test_the_comparison_of_two_self_assessments_with_keys_left_out_or_retyped():
    areas, points = comparison_view({"area_radar": {"axes": ["ledning", 5, ["x"]], "labels": ["L", "Fem"],
                                                    "first": [1.5, "2"], "second": None},
                                     "discussion_points": [{"title": "T", "area": "kompetens", "first": "s1"}, 3]},
                                    {"s1": "Steg 1"})
    assert areas == [{"name": "Ledning", "first": 1.5, "second": None}, {"name": "Fem", "first": None, "second": None},
                     {"name": "–", "first": None, "second": None}]
    assert points == [{"title": "T", "area": "Kompetens", "first": "Steg 1", "second": None}]
    assert comparison_view({}, {}) == ([], [])


def test_a_422_names_each_field_with_its_rule_never_the_value():
    errors = [{"type": "less_than_equal", "loc": ("query", "omgang"), "ctx": {"le": 4}, "input": "=evil"},
              {"type": "missing", "loc": ("query", "forsta")}, {"type": "something_new", "loc": ("query", "x")}]
    said = invalid_fields(errors)
    assert said == "omgang (ska vara högst 4), forsta (saknas), x (har ett ogiltigt värde)" and "evil" not in said

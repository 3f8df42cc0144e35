"""Pure parts of the new pages: reporting's figure tables (withheld kept, wherever the reason
sits), the chain's extra figures, the period choice, the export passthrough's allow-list."""

from __future__ import annotations

from datetime import date

import pytest
from fastapi import HTTPException
from starlette.requests import Request

from styrkedja_dashboard.chain.figures import cell_extras, unit_extras
from styrkedja_dashboard.exports.routes import upstream_query
from styrkedja_dashboard.figures import WITHHELD, Value, arrow, figure_table, value_of
from styrkedja_dashboard.period import choose, current_school_year
from styrkedja_dashboard.web.pages import templates

COLUMNS = [{"key": "unit_id", "header": "Enhet", "type": "text"},
           {"key": "subject_code", "header": "Ämne", "type": "text"},
           {"key": "year", "header": "Årskurs", "type": "integer"},
           {"key": "share", "header": "Andel", "type": "share"},
           {"key": "change", "header": "Förändring", "type": "share"}]


@pytest.mark.parametrize("row", [
    {"share": None, "withheld": {"share": WITHHELD}},
    {"share": {"value": None, "reason": WITHHELD}},
    {"share": None, "share_reason": WITHHELD},
    {"share": None, "reasons": {"share": WITHHELD}},
])
def test_a_withheld_value_keeps_its_reason_wherever_the_service_puts_it(row):
    v = value_of(row, "share")
    assert v.withheld and v.reason == WITHHELD and v.value is None


def test_exists_and_missing_are_not_withheld():
    assert not value_of({"share": {"value": 0.5, "reason": "EXISTS"}}, "share").withheld
    missing = value_of({"share": {"value": None, "reason": "MISSING"}}, "share")
    assert missing.missing and not missing.withheld


def test_withheld_renders_as_two_dots_with_the_reason_on_hover():
    t = figure_table({"columns": COLUMNS, "rows": [
        {"unit_id": "A", "subject_code": "GRGRMAT01", "year": 9, "share": None, "change": None,
         "withheld": {"share": WITHHELD, "change": WITHHELD}},
        {"unit_id": "B", "subject_code": "GRGRMAT01", "year": 9, "share": 0.734, "change": 0.05}]})
    html = templates.env.from_string('{% from "_macros.html" import figure_table %}{{ figure_table(t, "T", '
                                     'head="unit_id") }}').render(t=t, LEVEL_NAMES={})
    assert html.count('<abbr class="withheld" title="Visas inte: uppgiften bygger på för få elever') == 2
    assert "73,4\u00a0%" in html and "Matematik" in html
    assert ">0.734<" not in html


def test_cell_extras_arrow_gap_and_a_withheld_change():
    trend = figure_table({"columns": COLUMNS, "rows": [
        {"unit_id": "A", "subject_code": "GRGRMAT01", "year": 9, "share": 0.5, "change": -0.2},
        {"unit_id": "B", "subject_code": "GRGRMAT01", "year": 9, "share": None, "change": None,
         "withheld": {"share": WITHHELD, "change": WITHHELD}}]})
    gap = figure_table({"columns": [*COLUMNS[:3], {"key": "gap", "header": "K", "type": "share"}],
                        "rows": [{"unit_id": "A", "subject_code": "GRGRMAT01", "year": 9, "gap": 0.1}]})
    found = cell_extras(trend, gap)
    assert found["A", "GRGRMAT01"].arrow == ("↓", "minskning") and found["A", "GRGRMAT01"].gap.value == 0.1
    assert found["B", "GRGRMAT01"].change.withheld and found["B", "GRGRMAT01"].arrow == ("", "")
    assert arrow(0.005) == ("→", "oförändrat") and arrow(0.02)[0] == "↑"


def test_a_cell_of_several_years_shows_its_gap_withheld_as_its_change_is():
    """Reporting withholds a gap resting on a withheld cell (or, where counts are rounded, whose gender parts no
    shown count gives). A school unit's cell of several years showed its change `..` where one year's was withheld,
    but its gap as nothing at all. Failed on the old code: the gap read as missing."""
    rows = [{"unit_id": "A", "subject_code": "GRGRMAT01", "year": 7, "gap": 0.1},
            {"unit_id": "A", "subject_code": "GRGRMAT01", "year": 8, "gap": None, "withheld": {"gap": WITHHELD}},
            {"unit_id": "B", "subject_code": "GRGRMAT01", "year": 7, "gap": 0.1},
            {"unit_id": "B", "subject_code": "GRGRMAT01", "year": 8, "gap": 0.2}]
    gap = figure_table({"columns": [*COLUMNS[:3], {"key": "gap", "header": "K", "type": "share"}], "rows": rows})
    found = cell_extras(None, gap)
    assert found["A", "GRGRMAT01"].gap.withheld and found["A", "GRGRMAT01"].gap.reason == WITHHELD
    assert found["B", "GRGRMAT01"].gap == Value(None)  # every year shown: per year on the unit page, none here
    macros = templates.env.get_template("_macros.html").module
    assert 'K: <abbr class="withheld" title="Könsskillnad: Visas inte' in str(macros.extra_cell(found["A", "GRGRMAT01"]))


def test_unit_extras_worst_band_and_coverage_range():
    cols = [{"key": "unit_id", "header": "", "type": "text"}, {"key": "band", "header": "", "type": "text"},
            {"key": "newest", "header": "", "type": "date"}, {"key": "share", "header": "", "type": "share"}]
    fresh = figure_table({"columns": cols, "rows": [{"unit_id": "A", "band": "green", "newest": "2026-11-01"},
                                                    {"unit_id": "A", "band": "yellow", "newest": "2026-06-01"}]})
    cover = figure_table({"columns": cols, "rows": [{"unit_id": "A", "share": 0.8}, {"unit_id": "A", "share": 0.95},
                                                    {"unit_id": "B", "share": None, "withheld": {"share": WITHHELD}}]})
    found = unit_extras(fresh, cover)
    assert found["A"].band == "yellow" and found["A"].newest == "2026-06-01"
    assert (found["A"].coverage_low, found["A"].coverage_high) == (0.8, 0.95)
    assert found["B"].coverage_withheld


def test_the_period_is_the_choice_else_the_newest_in_the_results():
    cells = [{"school_year": "2025/26", "term": "VT"}, {"school_year": "2026/27", "term": "HT"},
             {"school_year": "2025/26", "term": "HT"}]
    assert (choose(None, None, None, cells).school_year, choose(None, None, None, cells).term) == ("2026/27", "HT")
    assert choose("2025/26", "VT", 2, cells).params() == {"school_year": "2025/26", "term": "VT", "round": 2}
    assert current_school_year(date(2027, 2, 1)) == ("2026/27", "VT")
    assert current_school_year(date(2026, 8, 20)) == ("2026/27", "HT")


def _request(query: str) -> Request:
    return Request({"type": "http", "method": "GET", "path": "/", "query_string": query.encode(), "headers": []})


def test_export_passthrough_only_named_tables_and_their_parameters():
    path, params = upstream_query("rapportering-enhet", _request(
        "organiser_id=2980&school_unit_code=12345678&school_year=2026/27&term=HT&token=x&format=json"), organisers={"2980"})
    assert path == "/v1/compliance/organisers/2980/school-units/12345678"
    assert params == [("school_year", "2026/27"), ("term", "HT")]  # no token, no format of the caller's
    with pytest.raises(HTTPException) as unknown:
        upstream_query("admin", _request(""), organisers={"2980"})
    assert unknown.value.status_code == 404
    with pytest.raises(HTTPException) as traversal:
        upstream_query("rapportering-enhet", _request("organiser_id=2980&school_unit_code=../admin"),
                       organisers={"2980"})
    assert traversal.value.status_code == 422
    with pytest.raises(HTTPException) as elsewhere:  # not the token's: refused before its form is judged
        upstream_query("rapportering", _request("organiser_id=../admin"), organisers={"2980"})
    assert elsewhere.value.status_code == 403


def test_a_compliance_list_leaves_out_unused_columns_and_says_the_status_in_swedish():
    from styrkedja_dashboard.compliance.routes import shown

    body = {"columns": [{"key": "teacher_id", "header": "Lärare"}, {"key": "group_id", "header": "Grupp"},
                        {"key": "missing", "header": "Saknas", "type": "integer"},
                        {"key": "status", "header": "Status"}],
            "rows": [{"teacher_id": "t-1", "group_id": None, "missing": 2, "status": "missing"},
                     {"teacher_id": "t-2", "group_id": None, "missing": 0, "status": "late"}]}
    table = shown(figure_table(body))
    assert [c.key for c in table.columns] == ["teacher_id", "missing", "status"]
    assert [r["status"].value for r in table.rows] == ["saknas", "sent"]
    assert shown(figure_table({"columns": body["columns"], "rows": []})).columns == figure_table(body).columns


@pytest.mark.parametrize("query", ["organiser_id=2980&school_unit_code=12345678%0A",
                                   "organiser_id=2980%0A&school_unit_code=12345678",
                                   "organiser_id=2980&school_unit_code=12345678&term=HT%0A"])
def test_a_value_ending_in_a_newline_is_refused_before_anything_is_sent(query):
    # `re.match` with `$` let a final newline through to the service's path and query
    with pytest.raises(HTTPException) as refused:
        upstream_query("rapportering-enhet", _request(query), organisers={"2980"})
    assert refused.value.status_code in (403, 422)  # an organiser id with a newline is none of the token's


def test_a_path_ending_in_a_newline_is_never_sent():
    from styrkedja_dashboard.clients import _unsafe_path

    assert _unsafe_path("/v1/compliance/organisers/2980/school-units/12345678") is None
    assert _unsafe_path("/v1/compliance/organisers/2980/school-units/12345678\n") is not None


def test_only_the_share_columns_of_a_download_are_percentages():
    """The alerts' xlsx wrote every float as a share: a change of -12.5 percentage points read -1250,0 %."""
    import io

    import openpyxl

    from styrkedja_dashboard.downloads import xlsx_response

    response = xlsx_response("larm", ["Andel", "Förändring (procentenheter)"], [[0.25, -12.5]], share_columns={0})
    sheet = openpyxl.load_workbook(io.BytesIO(bytes(response.body))).active
    assert (sheet["A2"].value, sheet["A2"].number_format) == (0.25, "0.0%")
    assert (sheet["B2"].value, sheet["B2"].number_format) == (-12.5, "General")
    every = openpyxl.load_workbook(io.BytesIO(bytes(xlsx_response("t", ["A"], [[0.5]]).body))).active
    assert every["A2"].number_format == "0.0%"  # the default: every float a share, as the chain's tables are

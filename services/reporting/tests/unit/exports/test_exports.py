"""Table exports: the same numbers in JSON, CSV and xlsx; format by `format=` or `Accept`;
problem+json for an unknown format; large tables stream in bounded memory."""

import csv
import glob
import io
import json
import os
import tempfile
import tracemalloc
from datetime import date

import httpx
import openpyxl
import pytest
from fastapi import FastAPI, Request
from hypothesis import given, settings
from hypothesis import strategies as st

from styrkedja_kit.problems import Problem, install_problem_handlers
from styrkedja_kit.rules import RuleViolation
from styrkedja_kit.spreadsheet import FORMULA_STARTS, csv_text
from styrkedja_reporting.exports import (
    Column,
    ColumnType,
    ExportFormat,
    Table,
    Withheld,
    choose_format,
    export_response,
)
from styrkedja_reporting.exports.render import XlsxSink
from styrkedja_reporting.exports.response import content_disposition, file_name, stream_table

COLUMNS = [
    Column("school_unit", "Skolenhet", ColumnType.text),
    Column("subject", "Ämne", ColumnType.text),
    Column("assessed", "Antal bedömda", ColumnType.integer),
    Column("share", "Andel som når godtagbar nivå", ColumnType.share),
    Column("merit", "Genomsnittligt meritvärde", ColumnType.number),
    Column("newest", "Senaste bedömning", ColumnType.date),
]
ROWS = [
    ("Åsens skola", "Matematik", 27, 0.7037, 221.5, date(2027, 3, 1)),
    ("Björkö skola", "Svenska", 8, Withheld(), Withheld(), date(2027, 2, 14)),
    ("Älvängen, \"nya\"; skolan", "Engelska", 0, None, None, None),
    ("Öns skola", "Idrott och hälsa", 112, 1 / 3, 17.5, date(2026, 12, 31)),
]


def table(rows=None, name="resultat Mittköping VT 2026/27") -> Table:
    return Table(name, COLUMNS, ROWS if rows is None else rows)


async def async_rows():
    for row in ROWS:
        yield row


app = FastAPI()
install_problem_handlers(app)


@app.get("/table")
async def get_table(request: Request, format: str | None = None):
    return export_response(request, table(), format, day=date(2027, 4, 1))


@app.get("/async-table")
async def get_async_table(request: Request, format: str | None = None):
    return export_response(request, Table("async", COLUMNS, async_rows()), format, day=date(2027, 4, 1))


async def get(path: str, **kw) -> httpx.Response:
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://test") as client:
        return await client.get(path, **kw)


# --- format negotiation --------------------------------------------------------------------------

@pytest.mark.parametrize(("param", "accept", "expected"), [
    (None, None, ExportFormat.json),
    (None, "*/*", ExportFormat.json),
    (None, "text/csv", ExportFormat.csv),
    (None, "text/*", ExportFormat.csv),
    (None, "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", ExportFormat.xlsx),
    (None, "text/csv;q=0.5, application/json;q=0.9", ExportFormat.json),
    (None, "application/xml, text/csv;q=0.1", ExportFormat.csv),
    ("CSV", "application/json", ExportFormat.csv),  # the parameter wins
    ("excel", None, ExportFormat.xlsx),
    ("xlsx", None, ExportFormat.xlsx),
])
def test_format_is_chosen_by_parameter_then_accept(param, accept, expected):
    assert choose_format(param, accept) is expected


def test_unknown_format_parameter_is_a_422_naming_the_field():
    with pytest.raises(RuleViolation) as caught:
        choose_format("pdf", None)
    assert (caught.value.field, caught.value.rule, caught.value.status) == ("format", "export_format", 422)


@pytest.mark.parametrize("accept", ["application/xml", "text/csv;q=0", "image/png, text/html"])
def test_an_accept_header_nothing_matches_is_a_406(accept):
    with pytest.raises(Problem) as caught:
        choose_format(None, accept)
    assert caught.value.status == 406


@pytest.mark.parametrize("accept", [
    "text/csv;q=NaN", "text/csv;q=nan, application/json;q=0.9", "text/csv;q=inf", "text/csv;q=-1",
    "text/csv;q=1.0001", "text/csv;q=1.1", "text/csv;q=2", "text/csv;q=0.0001", "text/csv;q=.5",
    "text/csv;q=0.5e0", "text/csv;q=", "text/csv;q=0x1", "text/csv;q=\u0661", "text/csv;q=0.5;q=1",
    "text/csv;q=+1", "text/csv;q=1_0",
])
def test_a_weight_that_is_not_an_rfc_9110_qvalue_is_a_400_naming_the_header_and_rule(accept):
    """Failed on the old code: `float()` read `q=NaN`, `q=inf` and `q=1.0001` as weights (NaN and inf outranking
    every well-formed one) and a malformed weight as 0 (a 406 that blamed the types, not the weight)."""
    with pytest.raises(Problem) as caught:
        choose_format(None, accept)
    assert caught.value.status == 400
    assert [(e["field"], e["rule"]) for e in caught.value.errors] == [("Accept", "qvalue")]


@pytest.mark.parametrize(("accept", "expected"), [
    ("text/csv;q=1.000, application/json;q=0.999", ExportFormat.csv),
    ("text/csv;Q=0.001, application/json;q=0", ExportFormat.csv),
    ("text/csv ; q=0.5 , application/json ; q=1.", ExportFormat.json),
    ("text/csv;q=0., application/json;q=0.000", None),
    ("text/csv;q=0.25;charset=utf-8", ExportFormat.csv),
])
def test_every_rfc_9110_qvalue_is_read(accept, expected):
    if expected is None:
        with pytest.raises(Problem) as caught:
            choose_format(None, accept)
        assert caught.value.status == 406
    else:
        assert choose_format(None, accept) is expected


async def test_a_bad_weight_is_problem_json_from_a_route():
    response = await get("/table", headers={"Accept": "text/csv;q=NaN"})
    assert response.status_code == 400 and response.headers["content-type"] == "application/problem+json"
    assert response.json()["errors"][0]["field"] == "Accept" and response.json()["errors"][0]["rule"] == "qvalue"


async def test_problem_json_for_unknown_format_and_unacceptable_accept():
    bad_param = await get("/table?format=pdf")
    assert bad_param.status_code == 422 and bad_param.headers["content-type"] == "application/problem+json"
    assert bad_param.json()["errors"][0]["field"] == "format"
    bad_accept = await get("/table", headers={"Accept": "application/xml"})
    assert bad_accept.status_code == 406 and bad_accept.json()["errors"][0]["field"] == "Accept"
    bad_dialect = await get("/table?format=csv&dialect=tsv")
    assert bad_dialect.status_code == 422 and bad_dialect.json()["errors"][0]["field"] == "dialect"


# --- the same numbers in every format -----------------------------------------------------------

def numbers_of_json(body: dict) -> list[list]:
    return [[row[c.key] for c in COLUMNS] for row in body["rows"]]


def parse_csv_field(column: Column, text: str, decimal: str):
    if text == "":
        return None
    if text == "..":
        return ".."
    if column.type is ColumnType.integer:
        return int(text)
    if column.type in (ColumnType.share, ColumnType.number):
        return float(text.replace(decimal, "."))
    return text


def expected_rows(withheld) -> list[list]:
    return [[withheld if isinstance(v, Withheld) else (v.isoformat() if isinstance(v, date) else v) for v in row]
            for row in ROWS]


@pytest.mark.parametrize("path", ["/table", "/async-table"])
async def test_json_holds_the_values_and_names_the_withheld_ones(path):
    response = await get(path)
    assert response.status_code == 200 and response.headers["content-type"] == "application/json"
    assert "content-disposition" not in response.headers
    body = response.json()
    assert [c["header"] for c in body["columns"]][1] == "Ämne"
    assert numbers_of_json(body) == expected_rows(None)
    assert body["rows"][1]["withheld"] == {"share": "OMITTED_DUE_TO_BASED_ON_FEW_PUPILS",
                                           "merit": "OMITTED_DUE_TO_BASED_ON_FEW_PUPILS"}
    assert "withheld" not in body["rows"][0]


@pytest.mark.parametrize(("dialect", "delimiter", "decimal"), [("excel-sv", ";", ","), ("rfc4180", ",", ".")])
@pytest.mark.parametrize("path", ["/table", "/async-table"])
async def test_csv_parses_back_to_the_same_numbers_as_json(path, dialect, delimiter, decimal):
    as_json = (await get(path)).json()
    response = await get(f"{path}?format=csv&dialect={dialect}")
    assert response.status_code == 200
    assert response.headers["content-type"] == "text/csv; charset=utf-8"
    assert response.content.startswith("\ufeff".encode())
    text = response.content.decode("utf-8-sig")
    assert "\r\n" in text
    rows = list(csv.reader(io.StringIO(text, newline=""), delimiter=delimiter))
    assert rows[0] == [c.header for c in COLUMNS]
    parsed = [[parse_csv_field(c, v, decimal) for c, v in zip(COLUMNS, row, strict=True)] for row in rows[1:]]
    from_json = [[".." if key in row.get("withheld", {}) else row[key] for key in (c.key for c in COLUMNS)]
                 for row in as_json["rows"]]
    assert parsed == from_json


async def test_csv_by_accept_header_has_a_file_name():
    response = await get("/table", headers={"Accept": "text/csv"})
    disposition = response.headers["content-disposition"]
    assert disposition.startswith('attachment; filename="resultat-Mittkoping-VT-2026-27-2027-04-01.csv"')
    assert "filename*=UTF-8''resultat-Mittk%C3%B6ping-VT-2026-27-2027-04-01.csv" in disposition
    assert response.headers["vary"] == "Accept"


@pytest.mark.parametrize("path", ["/table", "/async-table"])
async def test_xlsx_opens_with_openpyxl_and_holds_the_same_numbers(path, tmp_path, monkeypatch):
    # the export's temporary file in a folder of the test's own: another test process (pytest-xdist) writes its
    # exports to the shared one meanwhile
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    as_json = (await get(path)).json()
    before = set(glob.glob(os.path.join(tempfile.gettempdir(), "styrkedja-export-*")))
    response = await get(f"{path}?format=xlsx")
    assert set(glob.glob(os.path.join(tempfile.gettempdir(), "styrkedja-export-*"))) <= before  # removed when sent
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    assert response.headers["content-disposition"].endswith(".xlsx")
    book = openpyxl.load_workbook(io.BytesIO(response.content))
    sheet = book.active
    assert sheet.freeze_panes == "A2"
    cells = list(sheet.iter_rows())
    assert [c.value for c in cells[0]] == [c.header for c in COLUMNS]
    values = [[c.value for c in row] for row in cells[1:]]
    from_json = [[".." if key in row.get("withheld", {}) else row[key] for key in (c.key for c in COLUMNS)]
                 for row in as_json["rows"]]
    for got, want in zip(values, from_json, strict=True):
        assert got[:5] == want[:5]  # text as text, numbers as numbers (not strings)
        assert (got[5].date().isoformat() if got[5] is not None else None) == want[5]
    assert isinstance(values[0][2], int) and isinstance(values[0][3], float)
    assert cells[1][3].number_format == "0.0%"
    assert sheet.column_dimensions["D"].width >= len("Andel som når godtagbar nivå")


def test_a_row_that_does_not_fit_its_columns_is_refused():
    with pytest.raises(ValueError, match="is not a integer"):
        b"".join(stream_table(table([("a", "b", "27", 0.5, 1.0, None)]), ExportFormat.csv))
    with pytest.raises(ValueError, match="3 values for 6 columns"):
        b"".join(stream_table(table([("a", "b", 1)]), ExportFormat.json))


def test_file_names_are_safe_and_keep_swedish_letters():
    assert file_name("Åsens skola / VT 2026:27", ExportFormat.xlsx, date(2027, 1, 2)) == \
        "Åsens-skola-VT-2026-27-2027-01-02.xlsx"
    assert file_name("../..", ExportFormat.csv, date(2027, 1, 2)) == "export-2027-01-02.csv"
    assert '"' not in content_disposition('a"b.csv').split(";")[1].strip()[10:-1]


# --- large tables stream ---------------------------------------------------------------------------

#: rows of the large CSV: 5.5 MB streamed (over 5 MB, as asserted), twice that at the peak when joined in memory,
#: against a bound of 1 MB. tracemalloc makes every allocation five times dearer, so the tables are only as large
#: as the assertions need, and their rows wide (`WIDE`): the cost follows the rows, not the bytes (80,000 narrow
#: CSV rows took 3x the CPU of these; the bounds and assertions are unchanged)
ROW_COUNT = 32_000
#: the JSON rows: 5.5 MB streamed; the xlsx rows (narrow): 1.2 MB of zip (over 1 MB, as asserted), tens of MB as a
#: workbook held in memory, against a bound of 5 MB
JSON_ROWS, XLSX_ROWS = 22_000, 35_000
#: the subject of the wide rows: one text, so a row costs what a narrow one does, at 173 bytes of CSV
WIDE = "Matematik – taluppfattning, algebra, geometri, sannolikhet, statistik, samband och förändring, problemlösning"


class Rows:
    """Rows made on demand; counts how many have been pulled."""

    def __init__(self, count: int, subject: str = "Matematik") -> None:
        self.count, self.pulled, self.subject = count, 0, subject

    def __iter__(self):
        for i in range(self.count):
            self.pulled += 1
            yield (f"Skolenhet {i:06d}", self.subject, i % 500, (i % 97) / 97, 200 + (i % 80) / 2,
                   date(2027, 1, 1 + i % 28))


@pytest.mark.parametrize(("fmt", "row_count"), [(ExportFormat.csv, ROW_COUNT), (ExportFormat.json, JSON_ROWS)])
def test_a_large_table_streams_in_bounded_memory(fmt, row_count):
    """32k wide rows of CSV are 5.5 MB (more at the peak when joined in memory); streamed, the peak is ~0.3 MB."""
    rows = Rows(row_count, WIDE)
    def count(chunk: bytes) -> int:
        return chunk.count(b"\n") if fmt is ExportFormat.csv else chunk.count(b"Skolenhet ")

    chunks = stream_table(table(rows), fmt)
    first = next(chunks)
    assert rows.pulled < row_count // 20  # the first chunk left before most rows were made
    size, lines = len(first), count(first)
    tracemalloc.start()
    try:
        for chunk in chunks:
            size += len(chunk)
            lines += count(chunk)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert rows.pulled == row_count
    assert lines == row_count + (fmt is ExportFormat.csv) and size > 5_000_000  # the whole table went through …
    assert peak < 1_000_000  # … but never more than a chunk or so of it at a time


def test_a_large_xlsx_is_written_in_constant_memory():
    rows = Rows(XLSX_ROWS)
    tracemalloc.start()
    try:
        chunks = stream_table(table(rows), ExportFormat.xlsx)
        size = sum(len(c) for c in chunks)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert rows.pulled == XLSX_ROWS and size > 1_000_000
    assert peak < 5_000_000  # measured ~0.43 MB for 50k rows


# --- hostile values ---------------------------------------------------------------------------------

def test_text_that_looks_like_a_formula_is_never_a_formula():
    rows = [("=HYPERLINK(\"http://x\")", "+1", 1, 0.5, 1.0, None), ("-", "@SUM(A1)", 2, 0.5, 1.0, None)]
    text = b"".join(stream_table(table(rows), ExportFormat.csv)).decode("utf-8-sig")
    fields = [row[:2] for row in csv.reader(io.StringIO(text, newline=""), delimiter=";")][1:]
    assert fields == [["'=HYPERLINK(\"http://x\")", "'+1"], ["'-", "'@SUM(A1)"]]
    book = openpyxl.load_workbook(io.BytesIO(b"".join(stream_table(table(rows), ExportFormat.xlsx))))
    assert book.active["A2"].value == "=HYPERLINK(\"http://x\")" and book.active["A2"].data_type == "s"


@pytest.mark.parametrize("dialect", ["excel-sv", "rfc4180"])
def test_a_name_holding_another_locales_separator_never_splits_into_a_formula(dialect):
    # a `,` file opened by a Swedish Excel is split at `;`, a `;` file by an English one at `,`
    rows = [("Skola;=1+cmd|' /C calc'!A0", "Mat,@SUM(A1)", 1, 0.5, 1.0, None), ("7A\t-2+3", "x", 2, None, None, None)]
    text = b"".join(stream_table(table(rows), ExportFormat.csv, dialect)).decode("utf-8-sig")
    for separator in ",;\t":
        cells = [c for row in csv.reader(io.StringIO(text, newline=""), delimiter=separator) for c in row]
        assert not [c for c in cells if c[:1] in FORMULA_STARTS], (separator, text)


@pytest.mark.parametrize("bad", [float("nan"), float("inf"), True, "0.5"])
def test_a_share_must_be_a_finite_number(bad):
    with pytest.raises(ValueError):
        b"".join(stream_table(table([("a", "b", 1, bad, 1.0, None)]), ExportFormat.json))


def test_rows_beyond_a_sheet_go_on_to_the_next_sheet(tmp_path):
    path = str(tmp_path / "t.xlsx")
    sink = XlsxSink(table(), path, max_rows=3)  # header + 2 rows per sheet
    for i in range(5):
        sink.add((f"skola {i}", "Matematik", i, 0.5, 1.0, None))
    sink.close()
    book = openpyxl.load_workbook(path)
    assert book.sheetnames == ["Resultat", "Resultat (2)", "Resultat (3)"]
    assert [[r[0] for r in book[name].iter_rows(values_only=True)] for name in book.sheetnames] == [
        ["Skolenhet", "skola 0", "skola 1"], ["Skolenhet", "skola 2", "skola 3"], ["Skolenhet", "skola 4"]]
    assert all(book[name].freeze_panes == "A2" for name in book.sheetnames)


texts = st.text(st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"), max_size=20).filter(
    lambda t: csv_text(t) == t)  # text `csv_text` changes is tested on its own
hypothesis_rows = st.lists(st.tuples(
    texts, texts, st.integers(-10**12, 10**12) | st.none(),
    st.floats(0, 1, allow_nan=False) | st.none() | st.just(Withheld()),
    st.floats(-1e9, 1e9, allow_nan=False, allow_infinity=False) | st.none(),
    st.dates() | st.none()), max_size=20)


@settings(max_examples=100, deadline=None)
@given(hypothesis_rows, st.sampled_from([("excel-sv", ";", ","), ("rfc4180", ",", ".")]))
def test_any_table_parses_back_from_csv_to_what_json_says(rows, dialect):
    name, delimiter, decimal = dialect
    as_json = json.loads(b"".join(stream_table(table(rows), ExportFormat.json)))
    text = b"".join(stream_table(table(rows), ExportFormat.csv, name)).decode("utf-8-sig")
    parsed = list(csv.reader(io.StringIO(text, newline=""), delimiter=delimiter))[1:]
    from_json = [[".." if key in row.get("withheld", {}) else row[key] for key in (c.key for c in COLUMNS)]
                 for row in as_json["rows"]]
    def back(column: Column, field: str):
        if column.type is ColumnType.text:
            return field
        return parse_csv_field(column, field, decimal)
    assert [[back(c, f) for c, f in zip(COLUMNS, row, strict=True)] for row in parsed] == [
        [("" if v is None else v) if c.type is ColumnType.text else v for c, v in zip(COLUMNS, row, strict=True)]
        for row in from_json]

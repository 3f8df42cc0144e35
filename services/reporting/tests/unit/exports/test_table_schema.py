"""The JSON a table route answers is what its OpenAPI document says (`negotiate.TABLE_SCHEMA`): a client
generated from the document reads every column type, `null` for no value, and a withheld figure as `null` with
its reason code (DESIGN.md §4.5) — not an undocumented `{}`."""

import json
from datetime import date

import jsonschema

from styrkedja_reporting.exports import Column, ColumnType, ExportFormat, Table, Withheld
from styrkedja_reporting.exports.negotiate import MEDIA_TYPES, TABLE_RESPONSES, TABLE_SCHEMA
from styrkedja_reporting.exports.response import stream_table
from styrkedja_reporting.exports.table import Approximately

COLUMNS = [Column("unit_id", "Enhet"), Column("assessed", "Bedömda", ColumnType.integer),
           Column("share", "Andel", ColumnType.share), Column("merit", "Meritvärde", ColumnType.number),
           Column("newest", "Senaste", ColumnType.date)]
ROWS = [("29990011", 27, 0.85, 231.5, date(2026, 10, 1)),
        ("Skolan Åäö – العربية", Withheld(), Withheld(), Withheld(), None),
        ("29990012", 12, Approximately(), None, None)]


def rendered() -> dict:
    return json.loads(b"".join(stream_table(Table("t", COLUMNS, ROWS), ExportFormat.json)))


def test_the_rendered_json_of_every_kind_of_value_validates_against_the_documented_schema():
    body = rendered()
    jsonschema.Draft202012Validator.check_schema(TABLE_SCHEMA)
    jsonschema.Draft202012Validator(TABLE_SCHEMA).validate(body)
    assert body["rows"][1]["share"] is None
    assert body["rows"][1]["withheld"]["share"] == "OMITTED_DUE_TO_BASED_ON_FEW_PUPILS"


def test_the_schema_can_refuse_and_is_the_documented_json_answer():
    validator = jsonschema.Draft202012Validator(TABLE_SCHEMA)
    body = rendered()
    body["rows"][1]["withheld"]["share"] = "TOO_FEW"
    body["columns"][0]["type"] = "boolean"
    body["rows"][0]["share"] = [0.85]
    assert len(list(validator.iter_errors(body))) == 3
    assert TABLE_RESPONSES[200]["content"][MEDIA_TYPES[ExportFormat.json]]["schema"] is TABLE_SCHEMA

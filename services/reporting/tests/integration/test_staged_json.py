"""Rows sent as one JSON parameter (`staging.json_rows` read by `rows_of_json`, and `Staged` over arrays for tables of
text, integer and boolean columns) reach the server exactly: text with tabs, newlines, quotes, backslashes,
braces, commas, the word NULL, an empty string and Unicode outside the BMP, NULLs, integers at int32's ends and
booleans — the same values back, in the order sent. A table with a date column keeps the arrays."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import Boolean, Column, Date, Integer, MetaData, String, Table

from styrkedja_reporting.staging import Staged, json_rows, rows_of_json

pytestmark = [pytest.mark.integration, pytest.mark.postgres_only]

TEXTS = ["plain", "tab\there", "new\nline\r\n", 'quote " and \'single\'', "back\\slash \\\\ \\n \\u0041",
         "{braces}, commas", "NULL", "null", "", " spaced ", "åäö Ö ñ 漢字 😀 \u2028 \u00a0", "\x01\x1f\x7f"]
_ROWS = Table("json_round_trip", MetaData(), Column("t", String), Column("n", Integer), Column("b", Boolean),
              Column("u", String))


def _rows() -> list[tuple[Any, ...]]:
    ints = [0, 1, -1, 2**31 - 1, -(2**31), None]
    return [(text, ints[i % len(ints)], [True, False, None][i % 3], None if i % 2 else text[::-1])
            for i, text in enumerate(TEXTS)]


async def test_json_rows_round_trip_exactly_in_order(db):
    rows = _rows()
    conn_sql = rows_of_json("$1", list(_ROWS.columns))
    async with db.sessions() as session:
        conn = (await (await session.connection()).get_raw_connection()).driver_connection
        back = [tuple(r) for r in await conn.fetch(conn_sql, json_rows(rows))]
        assert back == rows
        assert await conn.fetch(conn_sql, json_rows([])) == []


async def test_staged_over_json_round_trips_and_takes_further_parameters(db):
    staged = Staged(_ROWS, ("t", "n", "b", "u"))
    assert staged.as_json
    statements = staged.statements("SELECT t, n, b, u, :extra AS extra FROM ({rows}) AS s", ("extra",))
    rows = _rows()
    async with db.sessions() as session:
        back = await staged.execute(session, rows, statements, {"extra": "x"})
    assert [tuple(r)[:4] for r in back] == rows
    assert {r[4] for r in back} == {"x"}


async def test_a_date_column_keeps_the_arrays():
    dated = Table("json_dated", MetaData(), Column("t", String), Column("d", Date))
    assert not Staged(dated, ("t", "d")).as_json

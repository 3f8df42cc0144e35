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


async def test_times_and_dates_round_trip_exactly_through_a_text_parameter(db):
    """`received_at`'s path (compliance's round reports): aware datetimes of any offset, with microseconds, and
    dates go as ISO text and come back the same instant and day; a naive datetime is refused in Python."""
    from datetime import UTC, date, datetime, timedelta, timezone
    from zoneinfo import ZoneInfo

    from sqlalchemy import DateTime, text

    timed = Table("json_timed", MetaData(), Column("t", String), Column("at", DateTime(timezone=True)),
                  Column("d", Date))
    stockholm = ZoneInfo("Europe/Stockholm")
    rows = [("utc", datetime(2026, 6, 30, 23, 59, 59, 999999, tzinfo=UTC), date(2026, 6, 30)),
            ("summer", datetime(2026, 3, 29, 3, 0, 0, 1, tzinfo=stockholm), date(1970, 1, 1)),
            ("winter", datetime(2026, 10, 25, 2, 30, tzinfo=stockholm), date(2100, 12, 31)),
            ("odd", datetime(2000, 1, 1, tzinfo=timezone(timedelta(hours=-9, minutes=-30))), None),
            ("none", None, None)]
    statement = text(f"SELECT * FROM ({rows_of_json('CAST(:rows AS text)', list(timed.columns))}) AS s")
    async with db.sessions() as session:
        # the session's zone is not UTC: an offset-less text would be read in it, an ISO text with offset is not
        await session.execute(text("SET LOCAL TIME ZONE 'America/Sao_Paulo'"))
        back = [tuple(r) for r in (await session.execute(statement, {"rows": json_rows(rows)})).all()]
    # as instants (`timestamp()`: Python never equates a time in a fold, 02:30 of the autumn change, across zones)
    assert [(t, a and a.timestamp(), d) for t, a, d in back] == [(t, a and a.timestamp(), d) for t, a, d in rows]
    assert [r[1].microsecond for r in back if r[1] is not None] == [999999, 1, 0, 0]
    with pytest.raises(TypeError, match="naive"):
        json_rows([("x", datetime(2026, 1, 1), None)])

"""Rows sent to PostgreSQL per batch, shared by every capability's tables: arrays (or one JSON text) spread in the
statement (few rows) or a binary COPY into a temporary table and one statement over it (many rows), plus the
small SQL helpers those statements are built with (quoting, "C"-collation sort keys; `= ANY(array)` and the
other set helpers are the kit's, `styrkedja_kit.sets`)."""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, date, datetime, timedelta
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    Date,
    DateTime,
    Integer,
    String,
    Table,
    Uuid,
    text,
)
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql.elements import TextClause

from styrkedja_kit.sets import copy_records


def pg_type(column: Column[Any]) -> str:
    if isinstance(column.type, Uuid):
        return "uuid"
    if isinstance(column.type, Boolean):
        return "boolean"
    if isinstance(column.type, DateTime):
        return "timestamptz"
    if isinstance(column.type, Date):
        return "date"
    if isinstance(column.type, BigInteger):
        return "bigint"
    if isinstance(column.type, Integer):
        return "integer"
    return "text"


def quoted(name: str) -> str:
    """A table or column name quoted for SQL (the statements built from the tables' names: the rebuild's too)."""
    return f'"{name}"'


def unnest_of(columns: Sequence[Column[Any]]) -> str:
    return "unnest(" + ", ".join(f"CAST(:{c.name} AS {pg_type(c)}[])" for c in columns) + ")"


def as_arrays(names: Sequence[str], rows: Iterable[tuple[Any, ...]]) -> dict[str, list[Any]]:
    columns: list[tuple[Any, ...]] = list(zip(*rows, strict=True)) or [() for _ in names]
    return {name: list(values) for name, values in zip(names, columns, strict=True)}


def json_rows(rows: Iterable[Sequence[Any]]) -> str:
    """Rows of str, int, bool or None as one JSON text (a list of lists), for `rows_of_json`: encoded in C by
    `json.dumps` in one call, where asyncpg's array encoder checks every element of every column array with an
    ABC `isinstance` (~20,000 per batch of 100 events: bench/results/apply8.json). Exact for any text without
    NUL (PostgreSQL's text holds none either): quotes, backslashes, tabs, newlines and Unicode round-trip.
    An aware datetime or a date goes as its ISO text (`_temporal`), which `rows_of_json` casts back exactly."""
    return json.dumps(rows if isinstance(rows, list) else list(rows), ensure_ascii=False, separators=(",", ":"),
                      default=_temporal)


def temporal_text(value: Any) -> str:
    """`json_rows`' text of an aware datetime or a date (`_temporal`), for a caller that makes it once per distinct
    value (a batch's thousands of rows share a few moments: json's `default` hook is a Python call per value)."""
    return _temporal(value)


#: the UTC offsets PostgreSQL reads in a time's text: a time zone displacement of less than 16 hours, in whole minutes
#: beyond that, "time zone displacement out of range" (RFC 3339 and the contracts take up to ±23:59)
_PG_OFFSET_LIMIT = timedelta(hours=16)


def timestamptz_text(value: datetime) -> str:
    """An aware datetime as text PostgreSQL reads as the same instant: its ISO form, offset kept — in UTC where the
    offset is one PostgreSQL does not read (`_PG_OFFSET_LIMIT`: `2026-10-21T04:00:00+16:00`, which an event produced
    straight to Kafka may carry, failed the cast, and with it the batch live and the rebuild's COPY). A naive
    datetime has no instant without the session's time zone, which asyncpg and a text cast read differently:
    refused."""
    text = value.isoformat()
    # the usual case, read off the text (per time of every staged row: no timedelta arithmetic): it ends in an offset
    # of whole minutes, `+HH:MM` or `-HH:MM`, of less than 16 hours (a naive time's text ends in its seconds)
    if text[-6] in "+-" and text[-3] == ":" and text[-5:-3] < "16":
        return text
    offset = value.utcoffset()
    if offset is None:
        raise TypeError("a naive datetime has no exact timestamptz: give it a time zone")
    if -_PG_OFFSET_LIMIT < offset < _PG_OFFSET_LIMIT and not offset.seconds % 60 and not offset.microseconds:
        return text
    return value.astimezone(UTC).isoformat()


def _temporal(value: Any) -> str:
    """An aware datetime's or a date's ISO text: microseconds kept, so a timestamptz or date cast of it is the same
    instant (or day) asyncpg's binary encoding would have sent (`timestamptz_text`)."""
    if isinstance(value, datetime):
        return timestamptz_text(value)
    if isinstance(value, date):
        return value.isoformat()
    raise TypeError(f"{type(value).__name__} has no JSON form for rows_of_json")


def rows_of_json(param: str, columns: Sequence[Column[Any]]) -> str:
    """`SELECT` of the rows of `json_rows` in the parameter `param` (`:name` or `$n`) as `columns`: the server
    parses the JSON once (jsonb) and casts each element to the column's type (text as is)."""
    parts = []
    for n, column in enumerate(columns):
        value = f"j.r->>{n}"
        kind = pg_type(column)
        parts.append(f"{value} AS {quoted(column.name)}" if kind == "text"
                     else f"CAST({value} AS {kind}) AS {quoted(column.name)}")
    return f"SELECT {', '.join(parts)} FROM jsonb_array_elements(CAST({param} AS jsonb)) AS j(r)"


def text_rows_of_json(param: str, names: Sequence[str]) -> str:
    """`rows_of_json` of keys whose columns are all text (`names`): a batch's lookup keys as one JSON parameter
    (`json_rows`) where an array per column costs asyncpg a type check per element."""
    return rows_of_json(param, [Column(name, String) for name in names])


#: Up to this many rows, a statement takes its rows as arrays spread by `unnest` in the statement itself
#: (one round trip); more go by binary COPY into the staged table first (`Staged.execute`).
SMALL_ROWS = 1000
_JSON_TYPES = ("text", "integer", "boolean")
_CREATES: dict[str, str] = {}  # every staged table's creation, made together at a transaction's first COPY


class Staged:
    """Rows for one statement: a few as arrays in the statement itself (one round trip) — as one JSON
    parameter where every column is text, integer or boolean (`json_rows`: asyncpg's array encoding costs
    an ABC type check per element, `json.dumps` none) —, many by binary COPY (asyncpg
    `copy_records_to_table`) into a temporary table first: COPY's record encoding costs no such check,
    but the COPY is a round trip of its own. Either
    way the rows go to the server in `stage`, on asyncpg's own connection (the statement over arrays too):
    its errors are asyncpg's, not SQLAlchemy's — the consumer retries and halves on any exception, so
    they take the same path as a failing statement. Either source yields the rows in the order they were
    given (the lock order the callers sort for).

    The temporary tables are created once per connection (`IF NOT EXISTS`, all of them in one round trip
    at a transaction's first COPY: a rolled-back creation is made again) and emptied at every commit
    (`ON COMMIT DELETE ROWS`); staged twice in one transaction, a table is emptied first."""

    def __init__(self, table: Table, names: Sequence[str]) -> None:
        self.name = f"staged_{table.name}"
        self.names = tuple(names)
        cols = ", ".join(f"{quoted(n)} {pg_type(table.c[n])}" for n in self.names)
        self._create = f"CREATE TEMP TABLE IF NOT EXISTS {self.name} ({cols}) ON COMMIT DELETE ROWS"
        _CREATES[self.name] = self._create
        names_sql = ", ".join(quoted(n) for n in self.names)
        self.select = f"SELECT {names_sql} FROM {self.name}"
        # the rows as one JSON parameter where every column's type has a JSON form (text, integer, boolean:
        # `json_rows`, cheaper to encode than an array per column); else an array per column
        self.as_json = all(pg_type(table.c[n]) in _JSON_TYPES for n in self.names)
        if self.as_json:
            self.unnested = rows_of_json("$1", [table.c[n] for n in self.names])
        else:
            self.unnested = ("SELECT * FROM unnest(" + ", ".join(
                f"CAST(${i} AS {pg_type(table.c[n])}[])" for i, n in enumerate(self.names, 1)) + f") AS s({names_sql})")
        self._sent = 1 if self.as_json else len(self.names)  # parameters the rows take in the statement over arrays
        # the statement over arrays `stage` runs, and its rows: per session (`execute` sets and takes them)
        self._over_arrays = f"styrkedja.staged_statement.{self.name}"
        self._params: dict[str, tuple[str, ...]] = {}  # per statement over arrays: its further parameters' names
        self._over_table: dict[str, str] = {}  # per statement over arrays: the same over the staged table ($n)

    def statements(self, template: str, params: Sequence[str] = ()) -> tuple[TextClause, str]:
        """`template` with its `{rows}` read from the staged table, and spread from arrays. `params`: the
        names of further bound parameters of `template` (`:name`, given to `execute` in `params`)."""
        over_arrays = template.replace("{rows}", self.unnested)
        over_table = template.replace("{rows}", self.select)
        for n, name in sorted(enumerate(params), key=lambda p: -len(p[1])):  # the longest names first: no prefix clash
            over_arrays = over_arrays.replace(f":{name}", f"${self._sent + n + 1}")
            over_table = over_table.replace(f":{name}", f"${n + 1}")
        self._params[over_arrays] = tuple(params)
        self._over_table[over_arrays] = over_table
        return text(template.replace("{rows}", self.select)), over_arrays

    async def execute(self, session: AsyncSession, rows: Sequence[tuple[Any, ...]],
                      statements: tuple[TextClause, str], params: Mapping[str, Any] | None = None) -> list[Any]:
        """Run one of `statements` (`self.statements`) over `rows`, returning its rows: over arrays when
        the rows are few, else over the staged table after a COPY. `params`: the statement's further
        parameters by name."""
        params = params or {}
        if len(rows) <= SMALL_ROWS:
            session.info[self._over_arrays] = [statements[1], *[params[n] for n in self._params[statements[1]]]]
            try:
                await self.stage(session, rows)
                return list(session.info[self._over_arrays][1:])
            finally:
                session.info.pop(self._over_arrays, None)
        await self.stage(session, rows)
        return await self._over_staged(session, statements, params)

    async def _over_staged(self, session: AsyncSession, statements: tuple[TextClause, str],
                           params: Mapping[str, Any]) -> list[Any]:
        """The statement over the staged table, on asyncpg's connection as `stage` (its rows as asyncpg's
        records: no SQLAlchemy row processing of thousands of returned rows)."""
        conn = (await (await session.connection()).get_raw_connection()).driver_connection
        assert conn is not None
        return list(await conn.fetch(self._over_table[statements[1]], *[params[n] for n in self._params[statements[1]]]))

    async def execute_all(self, session: AsyncSession, rows: Sequence[tuple[Any, ...]],
                          statements: Sequence[tuple[tuple[TextClause, str], Mapping[str, Any]]]) -> list[list[Any]]:
        """`execute` of several statements (each with its parameters) over the same rows: when they are
        many, staged by one COPY that every statement reads."""
        if len(rows) <= SMALL_ROWS:
            return [await self.execute(session, rows, statement, params) for statement, params in statements]
        await self.stage(session, rows)
        return [await self._over_staged(session, statement, params) for statement, params in statements]

    async def stage(self, session: AsyncSession, rows: Sequence[tuple[Any, ...]]) -> None:
        """Send the rows: with `execute`'s statement over arrays, that statement; else COPY them."""
        conn = (await (await session.connection()).get_raw_connection()).driver_connection
        assert conn is not None
        over_arrays = session.info.get(self._over_arrays)
        if over_arrays is not None:
            statement, *extra = over_arrays
            if self.as_json:
                sent: list[Any] = [json_rows(rows)]
            else:
                columns: list[tuple[Any, ...]] = list(zip(*rows, strict=True)) or [() for _ in self.names]
                sent = [list(c) for c in columns]
            over_arrays[:] = [statement, *await conn.fetch(statement, *sent, *extra)]
            return
        transaction = session.get_transaction()
        entry = session.info.get(_STAGED)
        if entry is None or entry[0] is not transaction:  # the set of names staged in this transaction
            session.info[_STAGED] = entry = (transaction, set())
            # every staged table at once (one round trip; a simple query may hold several statements)
            await conn.execute("; ".join(_CREATES.values()))
        staged: set[str] = entry[1]
        if self.name in staged:
            await conn.execute(f"DELETE FROM {self.name}")
        staged.add(self.name)
        await copy_records(session, self.name, self.names, rows)  # the kit's COPY


_STAGED = "styrkedja.staged"


class AreaTransfer:
    """School units moved between areas (or placed / unplaced) in a table of additive cells (`key` columns
    beginning with `level` and `unit_id`, integer `values`): each unit's school-unit cells are added to its
    new area's and taken from its old area's, and the area cells that reach zero in every value removed."""

    def __init__(self, table: Table, key: Sequence[str], values: Sequence[str]) -> None:
        keys = ", ".join(quoted(k) for k in key)
        rest = ", ".join(f"a.{quoted(k)}" for k in key if k not in ("level", "unit_id"))
        sums = ", ".join(f"sum(a.{quoted(v)} * m.sign)" for v in values)
        nonzero = " OR ".join(f"sum(a.{quoted(v)} * m.sign) <> 0" for v in values)
        sets = ", ".join(f"{quoted(v)} = {table.name}.{quoted(v)} + EXCLUDED.{quoted(v)}" for v in values)
        all_zero = " AND ".join(f"{quoted(v)} = 0" for v in values)
        self._move = text(
            f"INSERT INTO {table.name} ({keys}, {', '.join(quoted(v) for v in values)}) "
            f"SELECT 'area', m.area, {rest}, {sums} FROM {table.name} a "
            f"JOIN unnest(CAST(:codes AS text[]), CAST(:areas AS text[]), CAST(:signs AS integer[])) "
            f"AS m(code, area, sign) ON a.level = 'school_unit' AND a.unit_id = m.code "
            f"GROUP BY m.area, {rest} HAVING {nonzero} ORDER BY m.area, {rest} "
            f"ON CONFLICT ({keys}) DO UPDATE SET {sets}")
        self._delete_empty = text(f"DELETE FROM {table.name} WHERE level = 'area' "
                                  f"AND unit_id = ANY(CAST(:areas AS text[])) AND {all_zero}")

    async def execute(self, session: AsyncSession, moves: Sequence[tuple[str, str | None, str | None]]) -> None:
        """`moves`: (school unit code, old area or None, new area or None)."""
        rows = [(code, old, -1) for code, old, _ in moves if old is not None]
        rows += [(code, new, 1) for code, _, new in moves if new is not None]
        if not rows:
            return
        arrays = as_arrays(("codes", "areas", "signs"), rows)
        await session.execute(self._move, arrays)
        await session.execute(self._delete_empty, {"areas": sorted(set(arrays["areas"]))})


def c_order(exprs: Sequence[str], table: Table, names: Sequence[str]) -> str:
    """An ORDER BY list of `exprs` (the values of the columns `names` of `table`, in order), the text ones in
    the "C" collation: byte order, as Python sorts strings — no locale comparison per pair (the database's
    C.UTF-8 is the same order at many times the cost). A sort for a lock order needs any fixed order."""
    text_names = {n for n in names if pg_type(table.c[n]) == "text"}
    return ", ".join(f'{e} COLLATE "C"' if n in text_names else e for e, n in zip(exprs, names, strict=True))

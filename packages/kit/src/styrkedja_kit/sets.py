"""Set-based writes: many rows in one statement, `INSERT … SELECT FROM unnest(…)` with one array
parameter per column, so a batch of a thousand rows is one round trip and one prepared statement
whatever its size (an executemany is a round trip per row; a many-row VALUES list a new statement
per batch size and thousands of parameters).

`copy_rows`: plain inserts (no upsert) by COPY, binary, on the session's own connection and
transaction: less CPU per row on both sides than unnest (no arrays built and unpacked). A
constraint violation inside COPY comes back from the driver as asyncpg's error; it is raised here
as SQLAlchemy's `IntegrityError` (this is the one place), so callers that retry a concurrent
write on a unique violation see the same exception whichever way the rows went.

A JSON column's value may be given as `JsonText` (its JSON already encoded, e.g. once for a
current row and its revision row): it goes as it is, not encoded again."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from functools import cache
from operator import attrgetter, itemgetter
from typing import Any
from uuid import UUID

from asyncpg.exceptions import IntegrityConstraintViolationError
from pydantic_core import to_json
from sqlalchemy import JSON, ColumnElement, Select, Table, TextClause, any_, bindparam, func, select, text, tuple_
from sqlalchemy.dialects import postgresql
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

_DIALECT = postgresql.dialect()  # type: ignore[no-untyped-call]


class JsonText(str):
    """A JSON column's value already encoded as JSON text (by `json_text`): not encoded again."""

    __slots__ = ()


def json_text(value: Any) -> JsonText:
    """`value` as the JSON text a JSON column is given (pydantic-core's encoder, as for any other value)."""
    return JsonText(to_json(value).decode())


def _json_values(values: list[Any]) -> list[Any]:
    """A JSON column's values as their JSON text (the driver's codec takes text): `None` stays NULL,
    `JsonText` goes as it is, anything else is encoded by pydantic-core (fast)."""
    return [v if v is None or type(v) is JsonText else to_json(v).decode() for v in values]


def _is_json(table: Table, column: str) -> bool:
    return isinstance(table.c[column].type, JSON)


@cache
def _statement(table: Table, columns: tuple[str, ...], conflict: tuple[str, ...] | None,
               update: tuple[str, ...], touch: str | None, newer: str | None = None) -> TextClause:
    arrays = []
    for n, name in enumerate(columns):
        if _is_json(table, name):  # JSON goes as text and is cast: the driver's jsonb codec wants one value
            arrays.append(f"CAST(CAST(:c{n} AS text[]) AS {table.c[name].type.compile(dialect=_DIALECT)}[])")
        else:
            arrays.append(f"CAST(:c{n} AS {table.c[name].type.compile(dialect=_DIALECT)}[])")
    quoted = ", ".join(f'"{c}"' for c in columns)
    names = ", ".join(f"c{n}" for n in range(len(columns)))
    # in the arrays' order (WITH ORDINALITY … ORDER BY): a serial id (the outbox's) is taken in that order
    sql = (f'INSERT INTO "{table.name}" ({quoted}) SELECT {names} FROM unnest({", ".join(arrays)}) '
           f"WITH ORDINALITY AS u({names}, position) ORDER BY position")
    if conflict is not None:
        sets = [f'"{c}" = excluded."{c}"' for c in update]
        if touch:
            sets.append(f'"{touch}" = now()')
        if not sets:  # every given column is the key: a row already there stays as it is
            return text(sql + f' ON CONFLICT ({", ".join(conflict)}) DO NOTHING')
        sql += f' ON CONFLICT ({", ".join(conflict)}) DO UPDATE SET {", ".join(sets)}'
        if newer:
            sql += f' WHERE excluded."{newer}" > "{table.name}"."{newer}"'
    return text(sql)


async def insert_rows(session: AsyncSession, table: Table, rows: Sequence[Mapping[str, Any]], *,
                      conflict: Sequence[str] | None = None, touch: str | None = None, keep: bool = False,
                      newer: str | None = None) -> None:
    """Insert `rows` (all with the same keys) in one statement — one parameter per column however many rows (a
    many-row VALUES list takes one per value, and a statement holds at most 32,767: 4,870 directory changes were
    a 500) —; with `conflict`, an upsert that sets every other given column (and `touch` to now()): with `keep`,
    none (a row already there stays: ON CONFLICT DO NOTHING), with `newer`, only where the row's value of that
    column is greater than the one there (the newest revision kept, whatever order they come in)."""
    if not rows:
        return
    await session.execute(*insert_statement(table, rows, conflict=conflict, touch=touch, keep=keep, newer=newer))


def insert_statement(table: Table, rows: Sequence[Mapping[str, Any]], *, conflict: Sequence[str] | None = None,
                     touch: str | None = None, keep: bool = False,
                     newer: str | None = None) -> tuple[TextClause, dict[str, list[Any]]]:
    """`insert_rows`' statement and parameters (`rows` not empty), for a caller that sends it as part of a
    statement of its own (a data-modifying CTE: several writes in one round trip)."""
    if (keep or newer) and conflict is None:
        raise ValueError("keep and newer decide a conflict: name its columns")
    columns = tuple(rows[0])
    if any(row.keys() != rows[0].keys() for row in rows):
        raise ValueError(f"rows for {table.name} with different columns")
    params: dict[str, list[Any]] = {}
    for n, name in enumerate(columns):
        values = [row[name] for row in rows]
        if _is_json(table, name):
            values = _json_values(values)
        params[f"c{n}"] = values
    update = () if keep else tuple(c for c in columns if conflict is None or c not in conflict)
    return _statement(table, columns, tuple(conflict) if conflict is not None else None, update,
                      None if keep else touch, newer), params


def sorted_unique(values: Iterable[Any]) -> list[Any]:
    """The distinct values in order; UUIDs by their integer (the order `UUID.__lt__` gives, without a
    Python comparison per pair: thousands of ids per batch)."""
    unique = set(values)
    if unique and isinstance(next(iter(unique)), UUID):
        return sorted(unique, key=_UUID_INT)
    return sorted(unique)


_UUID_INT = attrgetter("int")


def any_of(column: Any, values: Iterable[Any]) -> ColumnElement[bool]:
    """`column = ANY(:array)`: one parameter however many values. An IN list (`column.in_(values)`) takes one per
    value, and a statement may hold at most 32,767 (asyncpg's InterfaceError, a 500): every list whose length
    grows with a request, a token's scope or a batch goes this way. Also one statement text (one prepared
    statement) whatever the length."""
    found: ColumnElement[bool] = column == any_(bindparam(None, sorted_unique(values), type_=ARRAY(column.type)))
    return found


async def copy_rows(session: AsyncSession, table: Table, rows: Sequence[Mapping[str, Any]]) -> None:
    """Insert `rows` (all with the same keys) by one binary COPY in the session's transaction, in
    the rows' order (a serial id follows it). JSON columns are given as Python values and go as
    their JSON text. A unique (or other integrity) violation raises SQLAlchemy's `IntegrityError`."""
    if not rows:
        return
    columns = tuple(rows[0])
    records = _records(table, columns, rows)
    await copy_records(session, table.name, columns, records, schema=table.schema)


async def copy_records(session: AsyncSession, table: str, columns: Sequence[str], records: Sequence[tuple[Any, ...]],
                       *, schema: str | None = None) -> None:
    """`copy_rows` for rows already as tuples in `columns`' order, into any table by name (a staging table made
    in the transaction too): one binary COPY on the session's connection and transaction, nothing per row in
    Python but the driver's encoding. A unique (or other integrity) violation raises SQLAlchemy's `IntegrityError`."""
    if not records:
        return
    connection = await session.connection()
    driver = (await connection.get_raw_connection()).driver_connection
    assert driver is not None
    if not driver.is_in_transaction():  # SQLAlchemy's adapter begins it at the first statement
        await connection.exec_driver_sql("SELECT 1")
    try:
        await driver.copy_records_to_table(table, records=records, columns=tuple(columns), schema_name=schema)
    except IntegrityConstraintViolationError as error:
        raise IntegrityError(f"COPY {table}", None, error) from error


def _records(table: Table, columns: tuple[str, ...], rows: Sequence[Mapping[str, Any]]) -> list[tuple[Any, ...]]:
    """Each row as a tuple in `columns`' order (one C call per row: `itemgetter`), JSON columns as their
    JSON text; a row with other columns than the first's is a `ValueError`."""
    width = len(columns)
    take = itemgetter(*columns)
    json_at = [n for n, name in enumerate(columns) if _is_json(table, name)]
    records: list[tuple[Any, ...]] = []
    try:
        for row in rows:
            if len(row) != width:
                raise KeyError(row.keys() - set(columns))
            record = take(row) if width > 1 else (take(row),)
            for n in json_at:  # the dialect's jsonb codec takes the JSON text
                value = record[n]
                if value is not None and type(value) is not JsonText:
                    record = (*record[:n], to_json(value).decode(), *record[n + 1:])
            records.append(record)
    except KeyError:
        raise ValueError(f"rows for {table.name} with different columns") from None
    return records


# -- a batch's rows in a statement: one array parameter per column, whatever the batch's size -------------------
# PostgreSQL (and asyncpg) take at most 32,767 bind parameters in one statement. A tuple IN list
# (`tuple_(a, b).in_(rows)`) and a multi-row VALUES take one per value per column, so a large but valid batch passed
# the bound: a 500 (round 27, `make bench --full`: 8 columns x 4,870 directory changes). With `any_of` (one column)
# and `insert_rows` (plain upserts), the helpers below send each column as one array: the statement has as many
# parameters for a thousand rows as for one. `tests/test_hostile_round27a.py` refuses an IN list or a multi-row
# VALUES on the write side.


def unnested(columns: Sequence[Any], rows: Iterable[Sequence[Any]]) -> Select[Any]:
    """`SELECT * FROM unnest(:array, ...)`: the rows (tuples in `columns`' order, kept in their order), one array
    parameter per column (of each column's type), as a SELECT of them in that order — for `(columns) IN (…)`
    (`rows_in`) or an upsert of many rows (`pg_insert(table).from_select(names, unnested(...))`, where a
    multi-row `.values([...])` takes a parameter per row per column). Its columns are named by position (`c0`, …):
    any columns, also two of one name (of two tables)."""
    arrays = list(zip(*rows, strict=True)) or [() for _ in columns]
    names = [f"c{n}" for n in range(len(columns))]
    spread = func.unnest(*[bindparam(None, list(values), type_=ARRAY(column.type))
                           for column, values in zip(columns, arrays, strict=True)]
                         ).table_valued(*names).render_derived()
    return select(*[spread.c[name] for name in names])


def rows_in(columns: Sequence[Any], rows: Iterable[tuple[Any, ...]]) -> ColumnElement[bool]:
    """`(columns) IN (SELECT * FROM unnest(:arrays...))`: a tuple IN list with one parameter per column."""
    found: ColumnElement[bool] = tuple_(*columns).in_(unnested(columns, sorted(set(rows))))
    return found

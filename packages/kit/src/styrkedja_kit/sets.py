"""Set-based writes: many rows in one statement, `INSERT … SELECT FROM unnest(…)` with one array
parameter per column, so a batch of a thousand rows is one round trip and one prepared statement
whatever its size (an executemany is a round trip per row; a many-row VALUES list a new statement
per batch size and thousands of parameters)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from functools import cache
from typing import Any

from pydantic_core import to_json
from sqlalchemy import JSON, Table, TextClause, text
from sqlalchemy.dialects import postgresql
from sqlalchemy.ext.asyncio import AsyncSession

_DIALECT = postgresql.dialect()  # type: ignore[no-untyped-call]


def _is_json(table: Table, column: str) -> bool:
    return isinstance(table.c[column].type, JSON)


@cache
def _statement(table: Table, columns: tuple[str, ...], conflict: tuple[str, ...] | None,
               update: tuple[str, ...], touch: str | None) -> TextClause:
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
        sql += f' ON CONFLICT ({", ".join(conflict)}) DO UPDATE SET {", ".join(sets)}'
    return text(sql)


async def insert_rows(session: AsyncSession, table: Table, rows: Sequence[Mapping[str, Any]], *,
                      conflict: Sequence[str] | None = None, touch: str | None = None) -> None:
    """Insert `rows` (all with the same keys) in one statement; with `conflict`, an upsert that
    sets every other given column (and `touch` to now())."""
    if not rows:
        return
    columns = tuple(rows[0])
    if any(row.keys() != rows[0].keys() for row in rows):
        raise ValueError(f"rows for {table.name} with different columns")
    params: dict[str, list[Any]] = {}
    for n, name in enumerate(columns):
        values = [row[name] for row in rows]
        if _is_json(table, name):
            values = [None if v is None else to_json(v).decode() for v in values]  # pydantic-core's JSON: fast
        params[f"c{n}"] = values
    update = tuple(c for c in columns if conflict is None or c not in conflict)
    await session.execute(_statement(table, columns, tuple(conflict) if conflict is not None else None,
                                     update, touch), params)

"""COPY rows as tuples (`sets._records`): one per row in the columns' order, whatever each row's own key
order; JSON columns as their JSON text (text encoded once, `JsonText`, goes as it is; NULL stays NULL);
a row with other columns than the first's is refused, never copied into the wrong columns."""

from __future__ import annotations

import uuid

import pytest
from sqlalchemy import JSON, Column, Integer, MetaData, Table, Uuid
from sqlalchemy.dialects.postgresql import JSONB

from styrkedja_kit.sets import _records, json_text

TABLE = Table("things", MetaData(), Column("id", Uuid, primary_key=True), Column("n", Integer),
              Column("content", JSONB), Column("extra", JSON))
COLUMNS = ("id", "n", "content", "extra")


def test_rows_become_tuples_in_the_columns_order() -> None:
    first, second = uuid.uuid4(), uuid.uuid4()
    encoded = json_text({"a": 1})
    rows = [{"id": first, "n": 1, "content": encoded, "extra": None},
            {"extra": [1, "två"], "content": {"b": [True, None]}, "n": 2, "id": second}]  # another key order
    assert _records(TABLE, COLUMNS, rows) == [(first, 1, '{"a":1}', None),
                                              (second, 2, '{"b":[true,null]}', '[1,"två"]')]
    assert type(_records(TABLE, COLUMNS, rows)[0][2]) is type(encoded)  # encoded once: not again


def test_one_column() -> None:
    assert _records(TABLE, ("n",), [{"n": 1}, {"n": 2}]) == [(1,), (2,)]
    assert _records(TABLE, ("content",), [{"content": {"x": 1}}]) == [('{"x":1}',)]


@pytest.mark.parametrize("other", [{"id": None, "n": 1, "content": None},  # one missing
                                   {"id": None, "n": 1, "content": None, "extra": None, "more": 1},  # one more
                                   {"id": None, "n": 1, "content": None, "other": None}])  # one in its place
def test_a_row_with_other_columns_is_refused(other) -> None:
    rows = [{"id": None, "n": 0, "content": None, "extra": None}, other]
    with pytest.raises(ValueError, match="different columns"):
        _records(TABLE, COLUMNS, rows)

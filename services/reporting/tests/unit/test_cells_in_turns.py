"""A results read builds, judges and encodes its cells a slice at a time (`results.read.CELLS_PER_TURN`), giving the
event loop a turn between slices: other requests and the consumer's heartbeat go on while a national read is built.
Measured (bench/README.md, scale28): in one go a student-level read of one organiser held the loop for ~1 s, of
every organiser for seconds at 64k events."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from types import SimpleNamespace

from styrkedja_reporting.results import read, routes

GROUP_BY = ["level", "unit_id", "subject_code", "school_year", "term", "round", "kind", "scale", "organiser_id"]


def _rows(students: int) -> list[SimpleNamespace]:
    """Two rows (values) per cell, a cell per student, in the cells' order as the query returns them."""
    return [SimpleNamespace(level="student", unit_id=f"s-{n:05d}", subject_code="GRGRMAT01", school_year="2026/27",
                            term="HT", round=1, kind="assessment", scale="AF", organiser_id="2999", value=value,
                            count=1) for n in range(students) for value in ("A", "F")]


async def _parts(rows: list, size: int, taken: list[int] | None = None) -> AsyncIterator[list]:
    """`rows` `size` at a time, as the read's stream gives them; each part's size appended to `taken` as it goes."""
    for start in range(0, len(rows), size):
        part = rows[start:start + size]
        if taken is not None:
            taken.append(len(part))
        yield part


def _scale(cell: dict) -> read.Scale:
    return read.Scale(cell.pop("scale"))


async def _turns_while(work) -> tuple[object, int]:  # noqa: ANN001
    """`work`'s result and how many times another task ran on the loop while it was awaited."""
    turns = 0
    done = False

    async def other() -> None:
        nonlocal turns
        while not done:
            turns += 1
            await asyncio.sleep(0)

    ticker = asyncio.ensure_future(other())
    await asyncio.sleep(0)
    counted = turns
    try:
        got = await work
    finally:
        done = True
        await ticker
    return got, turns - counted


async def test_cells_are_built_in_turns_of_the_loop(monkeypatch):
    rows = _rows(50)
    at_once = await read._cells(_parts(rows, len(rows)), GROUP_BY, _scale)
    # parts of 7 rows: a cell's two rows in two parts at times
    in_turns, turns = await _turns_while(read._cells(_parts(rows, 7), GROUP_BY, _scale))
    assert in_turns == at_once and len(in_turns) == 50
    assert in_turns[0].distribution == {"A": 1, "F": 1} and in_turns[0].reaching_pass == 1
    assert turns >= 14 - 1  # after each of 15 parts but the first (the last may come after the work)


async def test_a_read_past_its_bound_stops_taking_rows():
    # 50 cells of two rows, parts of 10 rows (5 cells): past 12 cells the read is cut where it passes — at the
    # part that made the 13th cell — and no further part is taken from the stream
    taken: list[int] = []
    bound = read._Read(max_cells=12)
    assert await read._cells(_parts(_rows(50), 10, taken), GROUP_BY, _scale, bound) == []
    assert bound.cut and len(taken) == 3
    # the query's limit reached (as many rows as it takes): cut, whatever the cells
    limited = read._Read(most_rows=20, max_cells=100)
    assert await read._cells(_parts(_rows(10), 10), GROUP_BY, _scale, limited) == [] and limited.cut
    # at the bound: whole
    whole = read._Read(most_rows=(12 + 1) * 2, max_cells=12)
    assert len(await read._cells(_parts(_rows(12), 10), GROUP_BY, _scale, whole)) == 12 and not whole.cut


async def test_only_the_cells_a_reader_keeps_count_against_the_bound():
    # a reader who may read every other cell: of 50 cells it keeps 25, each part's picked as it comes; a bound of
    # 25 answers them whole (50 made), one of 24 is passed at the part whose cells take it past
    async def every_other(cells: list[read.ResultCell]) -> list[read.ResultCell]:
        return [c for c in cells if int(c.unit_id[2:]) % 2 == 0]

    kept = read._Read(max_cells=25, keep=every_other)
    cells = await read._cells(_parts(_rows(50), 10), GROUP_BY, _scale, kept)
    assert [c.unit_id for c in cells] == [c.unit_id for c in await read._cells(_parts(_rows(50), 10), GROUP_BY,
                                                                                  _scale) if int(c.unit_id[2:]) % 2 == 0]
    assert len(cells) == 25 and not kept.cut
    passed = read._Read(max_cells=24, keep=every_other)
    assert await read._cells(_parts(_rows(50), 10), GROUP_BY, _scale, passed) == [] and passed.cut


async def test_in_turns_maps_each_item_in_order(monkeypatch):
    monkeypatch.setattr(read, "CELLS_PER_TURN", 3)
    items = list(range(10))
    got, turns = await _turns_while(read.in_turns(items, lambda x: x * 2))
    assert got == [x * 2 for x in range(10)]
    assert items[:9] == [None] * 9  # used up part by part (the last part goes with the list)
    assert turns >= 3  # slices 0-2, 3-5, 6-8, 9: a turn before each but the first
    assert await read.in_turns([], str) == []


async def test_json_in_turns_is_the_one_encoding(monkeypatch):
    cells = await read._cells(_parts(_rows(7), 14), GROUP_BY, _scale)
    monkeypatch.setattr(read, "CELLS_PER_TURN", 3)
    for some in (cells[:1], cells[:3], cells[:4], cells):
        expected = routes._CELLS.dump_json(some)
        body, turns = await _turns_while(_joined(routes.json_in_turns(some)))
        assert body == expected
        assert turns >= -(-len(some) // 3) - 2  # between the parts (the last may come after the work)
        assert some[:-3] == [None] * len(some[:-3])  # every part but the last freed once sent


async def _joined(chunks) -> bytes:  # noqa: ANN001
    return b"".join([chunk async for chunk in chunks])

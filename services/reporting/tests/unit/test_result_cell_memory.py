"""A results read's cells keep one shared set of their fields and share what repeats within the read
(`results.read.made_cell`, `_cells`): an organiser's student-level read (~22,000 cells) held 42 MiB of them before it
was encoded, ~1.8 kB a cell (bench/README.md, reads30 and mem31). What they answer must not change: each encodes as a
cell validated anew from its values does."""

from __future__ import annotations

import tracemalloc
from collections.abc import AsyncIterator
from types import SimpleNamespace

from pydantic import TypeAdapter

from styrkedja_reporting.results import read
from styrkedja_reporting.results.read import ResultCell

STUDENT_BY = ["level", "unit_id", "subject_code", "school_year", "term", "round", "kind", "scale", "organiser_id",
              "school_unit_code", "group_id"]
GROUP_BY = ["level", "unit_id", "subject_code", "school_year", "term", "round", "kind", "scale", "organiser_id"]
_CELLS = TypeAdapter(list[ResultCell])


def _student_rows(students: int) -> list[SimpleNamespace]:
    """A row per student (its one result), each text a new string as asyncpg decodes every row's text anew."""
    return [SimpleNamespace(level="student", unit_id=f"s{n:09d}x", subject_code=f"GRGR{'MATENG'[n % 2 * 3:][:3]}01",
                            school_year=f"{2025}/{26}", term="".join(["V", "T"]), round=1 + n % 3, kind="assessment",
                            scale="AF", organiser_id=f"{2000 + n % 3}", school_unit_code=f"{10000000 + n % 7}",
                            group_id=f"g-{n % 11}", value="ABCDEF"[n % 6], count=1) for n in range(students)]


def _group_rows() -> list[SimpleNamespace]:
    """Cells of several values each, the counts as PostgreSQL's sums give them."""
    return [SimpleNamespace(level="group", unit_id=f"1000000{g}/7{g}", subject_code="GRGRMAT01", school_year="2025/26",
                            term="HT", round=None, kind="term_grade", scale="AF", organiser_id="2999", value=value,
                            count=count) for g in range(5) for value, count in (("A", g), ("C", 3), ("F", 1 + g))]


async def _parts(rows: list, size: int = 7) -> AsyncIterator[list]:
    while rows:
        part, rows[:size] = rows[:size], []
        yield part


def _scale(cell: dict) -> read.Scale:
    return read._scale(cell.pop("scale"))


async def test_cells_encode_as_validated_ones():
    for rows, group_by in ((_student_rows(40), STUDENT_BY), (_group_rows(), GROUP_BY)):
        cells = await read._cells(_parts(rows), group_by, _scale)
        validated = [ResultCell(**cell.model_dump()) for cell in cells]
        assert cells == validated
        assert _CELLS.dump_json(cells) == _CELLS.dump_json(validated)
        # the disclosure's copies: as pydantic's own copy of the cell would be
        for cell in cells:
            update = {"distribution": None, "assessed": None, "reaching_pass": None, "share_reaching_pass": None,
                      "reason": read.Reason.OMITTED_DUE_TO_BASED_ON_FEW_PUPILS.value}
            assert read._withheld(cell) == ResultCell(**cell.model_copy(update=update).model_dump())
            assert _CELLS.dump_json([read._withheld(cell)]) == _CELLS.dump_json([cell.model_copy(update=update)])
    assert [c.distribution for c in validated] == [{"A": g, "C": 3, "F": 1 + g} for g in range(5)]


async def test_the_shared_fields_set_is_never_changed():
    cells = await read._cells(_parts(_student_rows(3)), STUDENT_BY, _scale)
    cells[0].approximately = "~100"
    copied = cells[1].model_copy(update={"reason": "MISSING"})
    copied.gender = "female"
    assert set(ResultCell.model_fields) == read._SHARED_FIELDS
    assert cells[2].model_fields_set == set(ResultCell.model_fields)


async def test_a_student_cell_holds_under_a_kilobyte():
    students = 6_000
    rows = _student_rows(students)
    tracemalloc.start()
    try:
        before, _ = tracemalloc.get_traced_memory()
        cells = await read._cells(_parts(rows, 2_000), STUDENT_BY, _scale)  # the rows are used up as they are read
        held, _ = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert len(cells) == students
    # validated, a cell held ~1,780 B (its own fields-set, a copy of its distribution, its own texts); now ~670 B
    assert (held - before) / students < 1_000

"""Cells an additive table's batch empties are removed by the row versions its upsert returned
(`AdditiveTable._delete_at`, a TID scan): exactly those cells go, the unit's other cells stay as they were, over
arrays (few rows) and over a COPY-staged table (many rows), also when one batch empties a cell and another
fills it again. By key, the delete was planned on the read index led by organiser and level and filtered every
student of the unit per emptied cell (bench/results/apply14.json)."""

from __future__ import annotations

import random
from collections import Counter

import pytest
from sqlalchemy import text

from styrkedja_reporting import staging
from styrkedja_reporting.support.tables import BELOW_PASS

pytestmark = [pytest.mark.integration, pytest.mark.postgres_only]

STUDENTS = [f"s{n:04d}" for n in range(300)]  # one area's students: many rows behind one (organiser, level, unit)


def _cell(student: str, subject: str) -> tuple[str, ...]:
    return ("area", "2999-north", "2999", subject, student)


async def _rows(db) -> dict[tuple, int]:  # noqa: ANN001
    async with db.sessions() as session:
        rows = (await session.execute(text(
            "SELECT level, unit_id, organiser_id, subject_code, student_id, count FROM support_below_pass"))).all()
    return {tuple(r[:-1]): int(r[-1]) for r in rows}


@pytest.mark.parametrize("many", [False, True], ids=["arrays", "copy"])
async def test_emptied_cells_go_and_the_units_other_cells_stay(db, monkeypatch, many: bool) -> None:
    monkeypatch.setattr(staging, "SMALL_ROWS", 0 if many else 10_000)
    rng = random.Random(14)
    expected: Counter = Counter()
    first = Counter({_cell(s, subject): rng.randint(1, 3) for s in STUDENTS for subject in ("GRGRMAT01", "GRGRENG01")})
    # the second batch takes some cells to zero, lowers others, and adds new ones
    second: Counter = Counter()
    for cell, n in first.items():
        roll = rng.random()
        second[cell] = -n if roll < 0.4 else (-1 if roll < 0.6 and n > 1 else 0)
    second.update({_cell(s, "GRGRSVE01"): 1 for s in STUDENTS[:50]})
    # the third fills some emptied cells again and empties some of the new ones
    emptied_in_second = [cell for cell, n in first.items() if second[cell] == -n]
    third = Counter(dict.fromkeys(emptied_in_second[:40], 2))
    third.update({_cell(s, "GRGRSVE01"): -1 for s in STUDENTS[:20]})
    for batch in (first, second, third):
        async with db.sessions.begin() as session:
            await BELOW_PASS.add(session, [(*cell, n) for cell, n in batch.items() if n])
        expected.update(batch)
        assert await _rows(db) == {cell: n for cell, n in expected.items() if n}
    assert len(emptied_in_second) > 40 and sum(1 for n in expected.values() if n == 0) > 20


async def test_the_emptied_cells_delete_reads_no_index(db) -> None:
    """The delete by place is a TID scan whatever the planner guesses of the keys: no index of the table is read."""
    async with db.sessions() as session:
        plan = "\n".join(r[0] for r in (await session.execute(
            text(f"EXPLAIN {BELOW_PASS._delete_at.text}"), {"at": [(0, 1), (0, 2)]})).all())
    assert "Tid Scan on support_below_pass" in plan and "Index" not in plan

"""The server-side expansion of a batch's signatures (`FactStore.add_signed`, `figures.tables.add_pass_and_dates`)
writes exactly the cells (and the pass cells' newest result days) the Python expansion gives (`rules.signature_cells`, `figures.handlers._pass_cells`): for
random batches of signed deltas — placed and unplaced school units, results without a round, cells emptied by a
later batch and removed — both over arrays (few rows) and over a COPY-staged table (many rows)."""

from __future__ import annotations

import random
from collections import Counter
from datetime import date

import pytest
from sqlalchemy import text

from styrkedja_kit.db import Database
from styrkedja_reporting import staging
from styrkedja_reporting.figures import tables as figure_tables
from styrkedja_reporting.figures.handlers import _pass_cells
from styrkedja_reporting.results import tables as result_tables
from styrkedja_reporting.results.rules import signature_cells

pytestmark = [pytest.mark.integration, pytest.mark.postgres_only]

PLACEMENT = {"29990001": "2999-north", "29990002": None}  # 29990003: not in the placement at all
GENDERS = ("female", "male", "unknown")


def _assessment_signature(rng: random.Random) -> tuple:
    scale, value = rng.choice([("AF", "A"), ("AF", "F"), ("THREE_LEVEL", "ACCEPTABLE")])
    return (rng.choice(list(PLACEMENT) + ["29990003"]), rng.choice(["7A", "9B"]), rng.choice(["2999", "2998"]),
            rng.choice(["GRGRMAT01", "GRGRENG01"]), "2026/27", rng.choice(["HT", "VT"]), rng.randint(1, 2),
            rng.choice(["assessment", "term_grade"]), scale, rng.choice([7, 9]), rng.choice(GENDERS), value)


def _pass_signature(rng: random.Random) -> tuple:
    code, group, organiser, subject, school_year, term, rnd, _, scale, year, gender, value = _assessment_signature(rng)
    return (organiser, code, group, subject, year, school_year, term, rng.choice([rnd, None]), gender, scale, value,
            rng.choice([date(2026, 9, 1), date(2026, 9, 2)]))


def _batches(rng: random.Random, make, size: int) -> list[Counter]:
    """A batch adding, then one taking some of it away again (emptied cells) and adding more."""
    first = Counter(make(rng) for _ in range(size))
    second: Counter = Counter({sig: -n for sig, n in first.items() if rng.random() < 0.5})
    second.update(make(rng) for _ in range(size // 3))
    return [first, second]


async def _rows(db: Database, table: str, columns: tuple[str, ...]) -> dict[tuple, tuple]:
    async with db.sessions() as session:
        rows = (await session.execute(text(f"SELECT {', '.join(columns)} FROM {table}"))).all()
    return {tuple(r[:-1]): (r[-1],) for r in rows}


@pytest.mark.parametrize("many", [False, True], ids=["arrays", "copy"])
async def test_aggregates_expanded_by_the_server_equal_signature_cells(db, monkeypatch, many: bool) -> None:
    monkeypatch.setattr(staging, "SMALL_ROWS", 0 if many else 10_000)
    rng = random.Random(16)
    store = result_tables.ASSESSMENTS
    expected: Counter = Counter()
    for signed in _batches(rng, _assessment_signature, 400):
        async with db.sessions.begin() as session:
            await store.add_signed(session, signed, PLACEMENT)
        for sig, n in signed.items():
            for cell in signature_cells(sig, PLACEMENT):
                if cell[0] in store.levels:  # the levels kept (no area: read from its school units')
                    expected[cell] += n
    found = await _rows(db, store.aggregates.name, (*store.dimensions, "count"))
    assert found == {cell: (n,) for cell, n in expected.items() if n}
    assert any(n == 0 for n in expected.values())  # some cells were emptied (and removed)


def _newest(dates: Counter, cell: tuple) -> tuple:
    """A cell's newest day with results in the multiset `dates` ((cell, day) → results) and its results."""
    days = [(day, n) for (*c, day), n in dates.items() if tuple(c) == cell and n]
    return max(days) if days else (None, 0)


@pytest.mark.parametrize("many", [False, True], ids=["arrays", "copy"])
async def test_pass_and_dates_expanded_by_the_server_equal_pass_cells(db, monkeypatch, many: bool) -> None:
    """The pass counters, and the newest result day with its results (`newest`, `newest_count`): raised by the
    batches' days, lowered where results are taken away; a cell whose newest day lost every result goes to
    `renew_newest` (here the expected multiset's newest: this test has no facts to look it up in; the lookup
    itself is held to the facts by test_figures) — and only such a cell."""
    monkeypatch.setattr(staging, "SMALL_ROWS", 0 if many else 10_000)
    rng = random.Random(17)
    width = len(figure_tables.PASS_VALUES)
    passes: dict[tuple, list[int]] = {}
    dates: Counter = Counter()
    renewed: list[tuple] = []

    async def renew_newest(session, cells) -> None:  # noqa: ANN001
        for cell in cells:
            before = newest_before[tuple(cell)]
            assert before[0] is not None and dates[(*cell, before[0])] == 0, (cell, before)  # its newest day emptied
            renewed.append(tuple(cell))
            day, n = _newest(dates, tuple(cell))
            keys = " AND ".join(f"{c} = :{c}" for c in figure_tables.CELL)
            await session.execute(text(f"UPDATE figure_pass SET newest = :day, newest_count = :n WHERE {keys}"),
                                  {**dict(zip(figure_tables.CELL, cell, strict=True)), "day": day, "n": n})

    monkeypatch.setattr(figure_tables, "renew_newest", renew_newest)
    for signed in _batches(rng, _pass_signature, 300):
        newest_before = {cell: _newest(dates, cell) for cell in passes}
        # a few distinct-student changes per cell beside them (the `students` column)
        distinct = Counter()
        rows = []
        for sig, n in signed.items():
            organiser, code, group, subject, year, school_year, term, rnd, gender, scale, value, day = sig
            rows.append((organiser, code, group, PLACEMENT.get(code), subject, year, school_year, term,
                         None if rnd is None else f"R{rnd}", gender, int(_pass_cells(sig, PLACEMENT)[2]), day, n))
            cells, at, reaching = _pass_cells(sig, PLACEMENT)
            for cell in cells:
                counters = passes.setdefault(cell, [0] * width)
                counters[at] += n
                counters[at + 1] += n * reaching
                dates[(*cell, day)] += n
                if rng.random() < 0.1:
                    distinct[cell] += 1
        for cell, n in distinct.items():
            passes.setdefault(cell, [0] * width)[-1] += n
        async with db.sessions.begin() as session:
            await figure_tables.add_pass_and_dates(session, rows, [(*cell, n) for cell, n in distinct.items()])
    found_pass = await _rows(db, "figure_pass", (*figure_tables.CELL, *figure_tables.PASS_VALUES[:-1],
                                                 "students"))
    # `_rows` keeps the last column apart: put the counters back together
    found = {key[:len(figure_tables.CELL)]: (*key[len(figure_tables.CELL):], *value) for key, value in found_pass.items()}
    assert found == {cell: tuple(values) for cell, values in passes.items() if any(values)}
    found_newest = await _rows(db, "figure_pass", (*figure_tables.CELL, "newest", "newest_count"))
    newest = {key[:len(figure_tables.CELL)]: (key[-1], *value) for key, value in found_newest.items()}
    assert newest == {cell: _newest(dates, cell) for cell, values in passes.items() if any(values)}
    assert any(n == 0 for n in dates.values())
    assert renewed  # some cells lost every result of their newest day


def _student_batches(rng: random.Random, stored: dict[tuple, int], size: int) -> dict[tuple, int]:
    """One batch of group-cell student deltas (`coverage_counts.apply_student_counts`' rows, summed per row):
    new results (a student also in another group, a new student), and some stored rows taken away in part or
    whole (emptied: a student leaving a group cell)."""
    batch: Counter = Counter()
    for _ in range(size):
        code = rng.choice(list(PLACEMENT) + ["29990003"])
        cell = ("group", f"{code}/{rng.choice(['7A', '7B', '9B'])}", rng.choice(["2999", "2998"]),
                rng.choice(["GRGRMAT01", "GRGRENG01"]), rng.choice([7, 9]), "2026/27", rng.choice(["HT", "R1"]))
        batch[(*cell, f"s-{rng.randrange(60)}")] += rng.randint(1, 2)
    for key, n in stored.items():
        if rng.random() < 0.3:
            batch[key] -= n if rng.random() < 0.7 else 1
    return {key: n for key, n in batch.items() if n}


@pytest.mark.parametrize("many", [False, True], ids=["arrays", "copy"])
async def test_distinct_students_summed_by_the_server_equal_distinct_deltas(db, monkeypatch, many: bool) -> None:
    """`apply_student_counts` (the groups before and after read and summed per signature by the server) moves
    the distinct counts exactly as `distinct_deltas` over the same multisets in Python, and removes the
    emptied rows."""
    from styrkedja_reporting.figures.coverage_counts import apply_student_counts, distinct_deltas

    monkeypatch.setattr(staging, "SMALL_ROWS", 0 if many else 10_000)
    rng = random.Random(18)
    stored: dict[tuple, int] = {}
    emptied_any = False
    for _ in range(4):
        batch = _student_batches(rng, stored, 500)
        after = {**stored}
        for key, n in batch.items():
            after[key] = after.get(key, 0) + n
        after = {key: n for key, n in after.items() if n}

        def groups(rows: dict[tuple, int], keys) -> dict[tuple, set[str]]:
            out: dict[tuple, set[str]] = {}
            for key in keys:
                if rows.get(key):
                    student_key = (key[2], key[7], key[3], key[4], key[5], key[6])
                    out.setdefault(student_key, set()).add(key[1])
            return out

        inserted = groups(after, [k for k in batch if k not in stored])
        emptied = groups(stored, [k for k in batch if k not in after])
        emptied_any = emptied_any or bool(emptied)
        expected = distinct_deltas(groups(after, after), inserted, emptied, PLACEMENT)
        async with db.sessions.begin() as session:
            await result_tables.lock_fact_writers(session, {key[2] for key in batch})  # every writer holds it
            got = await apply_student_counts(session, [(*key, n) for key, n in batch.items()], dict(PLACEMENT))
        assert +got == +expected and -got == -expected
        stored = after
        found = await _rows(db, "figure_students", (*figure_tables.CELL, "student_id", "count"))
        assert found == {key: (n,) for key, n in stored.items()}
    assert emptied_any

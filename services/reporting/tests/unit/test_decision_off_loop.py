"""A cold disclosure decision (`access.decision.decision_for`, `counts_decision`) is taken in the
decision thread, off the event loop — other requests go on while it runs — and once however many
requests ask for it at the same time: they all wait for the one computation."""

from __future__ import annotations

import asyncio
import threading
from typing import Any

import pytest

from styrkedja_kit.auth import Level
from styrkedja_reporting.access import complement, decision
from styrkedja_reporting.access.decision import ComponentRows, pass_slice
from styrkedja_reporting.access.disclosure import DisclosureRules

from .test_cold_decision import PLACED, SY, _pass_raw, answer_component_reads

RULES = DisclosureRules()
POLITICIAN = frozenset(Level)
MAT = ("assessment", SY, "MAT")
SMALL = (pass_slice("MAT", 7, (SY, "HT")), "school_unit", "22222222", "female")


@pytest.fixture
def reads(monkeypatch):
    """`components_read` answering a subject with a small girls' count at one unit, counting its calls;
    `release` lets the read (not the decision) finish."""
    class Reads:
        calls = 0
        release = asyncio.Event()

    async def read(session, components, without=frozenset()):
        Reads.calls += 1
        await Reads.release.wait()
        return {c: _pass_raw("MAT", (12, 13), (3, 14)) for c in components}, PLACED

    answer_component_reads(monkeypatch, read)
    return Reads


@pytest.fixture
def slow_solve(monkeypatch):
    """`protect_tree` that, before deciding, waits (at most 5 s) for the test to say the loop ran on;
    where it ran and whether the loop got there first are noted."""
    class Solve:
        go_on = threading.Event()
        threads: list[str] = []
        loop_ran_first: list[bool] = []

    real = complement.protect_tree

    def protect(*args: Any, **kwargs: Any) -> Any:
        Solve.threads.append(threading.current_thread().name)
        Solve.loop_ran_first.append(Solve.go_on.wait(timeout=5))
        return real(*args, **kwargs)

    monkeypatch.setattr(decision, "protect_tree", protect)
    return Solve


async def test_the_loop_answers_others_while_a_decision_is_taken(reads, slow_solve):
    reads.release.set()
    asking = asyncio.ensure_future(decision.decision_for(None, [MAT], POLITICIAN, RULES, version=("v1",)))  # type: ignore[arg-type]
    while not slow_solve.threads:  # the decision has started
        await asyncio.sleep(0.001)
    slow_solve.go_on.set()  # another request's work, done on the loop meanwhile
    got = await asking
    assert slow_solve.loop_ran_first == [True]
    assert slow_solve.threads[0] != threading.main_thread().name
    assert got.withheld(*SMALL)


async def test_concurrent_askers_wait_for_the_one_decision(reads, slow_solve):
    slow_solve.go_on.set()
    solved = decision.SOLVED[0]
    askers = [asyncio.ensure_future(decision.decision_for(None, [MAT], POLITICIAN, RULES, version=("v1",)))  # type: ignore[arg-type]
              for _ in range(5)]
    await asyncio.sleep(0)
    reads.release.set()
    got = await asyncio.gather(*askers)
    assert reads.calls == 1 and decision.SOLVED[0] - solved == 1 and len(slow_solve.threads) == 1
    assert all(g is got[0] for g in got) or all(g.withheld(*SMALL) for g in got)
    # a new version: decided (here: taken by its rows) again, never the old version's entry by its key
    await decision.decision_for(None, [MAT], POLITICIAN, RULES, version=("v2",))  # type: ignore[arg-type]
    assert reads.calls == 2


async def test_an_asker_that_goes_away_leaves_the_decision_to_the_others(reads, slow_solve):
    slow_solve.go_on.set()
    first = asyncio.ensure_future(decision.decision_for(None, [MAT], POLITICIAN, RULES, version=("v1",)))  # type: ignore[arg-type]
    await asyncio.sleep(0)
    second = asyncio.ensure_future(decision.decision_for(None, [MAT], POLITICIAN, RULES, version=("v1",)))  # type: ignore[arg-type]
    await asyncio.sleep(0)
    first.cancel()  # while its rows are read: the second reads them itself
    reads.release.set()
    got = await asyncio.wait_for(second, 10)  # not left waiting for a decision nobody takes
    assert got.withheld(*SMALL) and first.cancelled() and reads.calls == 2
    assert not decision._IN_FLIGHT


async def test_a_count_table_is_decided_once_and_off_the_loop(reads, slow_solve, monkeypatch):
    async def placements(session, codes):
        return PLACED

    monkeypatch.setattr(decision, "placements_of", placements)
    calls: list[int] = []

    async def rows_of(session):
        calls.append(1)
        await reads.release.wait()
        rows = ComponentRows()
        for level, unit, n in (("school_unit", "11111111", 25), ("school_unit", "22222222", 3),
                               ("organiser", "2999", 28), ("nation", "SE", 28)):
            rows.add(("support", "active"), level, "2999", unit, "*", n)
        return rows

    askers = [asyncio.ensure_future(decision.counts_decision(None, ("t",), rows_of, POLITICIAN, RULES, ("v1",)))  # type: ignore[arg-type]
              for _ in range(3)]
    await asyncio.sleep(0)
    reads.release.set()
    while not slow_solve.threads:
        await asyncio.sleep(0.001)
    slow_solve.go_on.set()
    got = await asyncio.gather(*askers)
    assert calls == [1] and len(slow_solve.threads) == 1 and slow_solve.loop_ran_first == [True]
    assert slow_solve.threads[0] != threading.main_thread().name
    assert all(g.withheld(("support", "active"), "school_unit", "22222222") for g in got)


async def test_the_union_of_a_reads_components_is_kept(reads, slow_solve, monkeypatch):
    """A trend's components merged once per version (the merge is as large as their cells), not on every read."""
    slow_solve.go_on.set()
    reads.release.set()
    monkeypatch.setattr(decision, "_UNIONS", type(decision._DECISIONS)(), raising=False)
    both = [MAT, ("assessment", SY, "SVE")]
    first = await decision.decision_for(None, both, POLITICIAN, RULES, version=("v1",))  # type: ignore[arg-type]
    again = await decision.decision_for(None, both, POLITICIAN, RULES, version=("v1",))  # type: ignore[arg-type]
    assert again is first and first.withheld(*SMALL)
